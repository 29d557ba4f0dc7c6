"""Frame codec: incremental parsing at every split, limits, zero-length frames; handshake
and TX_BATCH payload codecs; token bucket and scores."""
from __future__ import annotations

import hashlib
import os
import struct

import pytest
from hypothesis import given, strategies as st

from mbi.p2p import FrameDecoder, FrameError, FrameTooLarge, Hello, Role, encode_frame, handshake_digest
from mbi.p2p.gossip import BatchError, decode_tx_batch, encode_tx_batch
from mbi.p2p.handshake import DOMAIN, HELLO_LEN, HandshakeError
from mbi.p2p.ratelimit import TokenBucket
from mbi.p2p.scoring import PeerScores

FRAMES = [(16, b"hello"), (3, b""), (21, bytes(range(256)) * 3), (17, b"\x00"), (255, b"z" * 40)]


def stream(frames: list[tuple[int, bytes]]) -> bytes:
    # Written out independently of encode_frame: length (payload only), kind, payload.
    return b"".join(struct.pack(">I", len(p)) + bytes([k]) + p for k, p in frames)


def test_encode_frame_layout() -> None:
    assert encode_frame(17, b"abc") == b"\x00\x00\x00\x03\x11abc"
    assert encode_frame(3) == b"\x00\x00\x00\x00\x03"
    with pytest.raises(ValueError):
        encode_frame(256, b"")


def test_whole_stream_in_one_feed() -> None:
    d = FrameDecoder(1000)
    assert d.feed(stream(FRAMES)) == FRAMES
    assert d.buffered == 0 and not d.partial


def test_split_at_every_byte_boundary() -> None:
    data = stream(FRAMES)
    for cut in range(len(data) + 1):
        d = FrameDecoder(1000)
        got = d.feed(data[:cut]) + d.feed(data[cut:])
        assert got == FRAMES, cut
        assert d.buffered == 0


def test_one_byte_at_a_time() -> None:
    data = stream(FRAMES)
    d = FrameDecoder(1000)
    got = []
    for i in range(len(data)):
        got += d.feed(data[i:i + 1])
        assert d.buffered <= 5 + 1000
    assert got == FRAMES


@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=300)), max_size=8),
       st.lists(st.integers(0, 4000), max_size=6))
def test_random_splits(frames: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = stream(frames)
    points = sorted({min(c, len(data)) for c in cuts})
    d = FrameDecoder(300)
    got = []
    prev = 0
    for p in points + [len(data)]:
        got += d.feed(data[prev:p])
        prev = p
    assert got == frames


def test_zero_length_payloads() -> None:
    d = FrameDecoder(0)
    assert d.feed(b"\x00\x00\x00\x00\x03" * 3) == [(3, b"")] * 3


def test_oversized_length_refused_before_its_payload() -> None:
    d = FrameDecoder(1024)
    with pytest.raises(FrameTooLarge) as e:
        d.feed(struct.pack(">IB", 1025, 16))
    assert e.value.length == 1025 and e.value.limit == 1024
    # limit itself is fine
    assert FrameDecoder(1024).feed(struct.pack(">IB", 1024, 16) + b"x" * 1024) == [(16, b"x" * 1024)]


def test_oversized_length_split_inside_header() -> None:
    d = FrameDecoder(10)
    hdr = struct.pack(">IB", 0xFFFFFFFF, 16)
    assert d.feed(hdr[:3]) == []
    with pytest.raises(FrameError):
        d.feed(hdr[3:])


def test_oversized_after_good_frames() -> None:
    d = FrameDecoder(10)
    with pytest.raises(FrameTooLarge) as e:
        d.feed(stream([(16, b"ok"), (17, b"")]) + struct.pack(">IB", 11, 16))
    assert e.value.frames == [(16, b"ok"), (17, b"")]  # the good frames before it are kept


def test_buffer_never_exceeds_one_max_frame() -> None:
    d = FrameDecoder(100)
    # a frame of exactly the limit, fed with a following partial frame
    data = stream([(16, b"a" * 100)]) + struct.pack(">IB", 100, 16) + b"b" * 99
    assert d.feed(data) == [(16, b"a" * 100)]
    assert d.buffered == 5 + 99
    assert d.feed(b"b") == [(16, b"b" * 100)]
    assert d.buffered == 0


def test_hello_roundtrip_and_layout() -> None:
    key, nonce = bytes(range(32)), bytes(range(32, 64))
    h = Hello(1, 7, key, nonce, 18001, Role.FULL_NODE)
    raw = h.encode()
    assert len(raw) == HELLO_LEN == 77
    assert raw == b"\x00\x01" + (7).to_bytes(8, "big") + key + nonce + (18001).to_bytes(2, "big") + b"\x02"
    assert Hello.decode(raw) == h


@pytest.mark.parametrize("raw", [b"", b"\x00" * 76, b"\x00" * 78,
                                 b"\x00\x01" + b"\x00" * 74 + b"\x03"])
def test_hello_malformed(raw: bytes) -> None:
    with pytest.raises(HandshakeError):
        Hello.decode(raw)


def test_handshake_digest_is_symmetric_and_binds_both() -> None:
    ka, kb = b"\x01" * 32, b"\x02" * 32
    ha, hb = os.urandom(HELLO_LEN), os.urandom(HELLO_LEN)
    want = hashlib.sha256(DOMAIN + ha + hb).digest()  # ka < kb: a's HELLO first
    assert handshake_digest(ha, ka, hb, kb) == want
    assert handshake_digest(hb, kb, ha, ka) == want
    assert handshake_digest(ha, ka, os.urandom(HELLO_LEN), kb) != want
    assert DOMAIN == b"MBI-P2P-HANDSHAKE-V1\x00"


def test_tx_batch_roundtrip_and_layout() -> None:
    blobs = [b"a", b"bc", b"\x00" * 5]
    raw = encode_tx_batch(blobs)
    assert raw == b"\x00\x00\x00\x03" + b"\x00\x00\x00\x01a" + b"\x00\x00\x00\x02bc" + b"\x00\x00\x00\x05" + b"\x00" * 5
    assert decode_tx_batch(raw, 10) == blobs
    assert decode_tx_batch(encode_tx_batch([]), 10) == []


@pytest.mark.parametrize("raw", [
    b"", b"\x00\x00\x00", b"\x00\x00\x00\x01", b"\x00\x00\x00\x01\x00\x00\x00\x05ab",
    b"\x00\x00\x00\x01\x00\x00\x00\x00",  # empty transaction
    b"\x00\x00\x00\x01\x00\x00\x00\x01ab",  # trailing byte
    b"\xff\xff\xff\xff" + b"\x00" * 16,  # count far beyond the bytes
    b"\x00\x00\x00\x0b" + b"\x00\x00\x00\x01a" * 11,  # over max_txs
])
def test_tx_batch_malformed(raw: bytes) -> None:
    with pytest.raises(BatchError):
        decode_tx_batch(raw, 10)


def test_token_bucket() -> None:
    b = TokenBucket(rate=10, burst=20, now=0.0)
    assert b.take(20, 0.0)
    assert not b.take(1, 0.0)
    assert b.take(5, 0.5)  # 0.5 s refills 5
    assert not b.take(1, 0.5)
    assert b.take(20, 100.0)  # capped at the burst
    assert not b.take(1, 100.0)


def test_scores_ban_and_recover() -> None:
    s = PeerScores(ban_threshold=-100, ban_seconds=10, recovery_per_s=1.0)
    assert not s.penalize("h", 60, 0.0)
    assert s.score("h", 0.0) == -60
    assert s.score("h", 30.0) == -30  # recovers toward 0
    assert not s.penalize("h", 60, 30.0)  # -90
    assert s.penalize("h", 20, 30.0)  # -110: banned
    assert s.banned("h", 35.0)
    assert not s.banned("h", 40.0)  # the ban lasted 10 s
    assert s.score("h", 40.0) == 0.0
    with pytest.raises(ValueError):
        PeerScores(ban_threshold=0, ban_seconds=1, recovery_per_s=1)
