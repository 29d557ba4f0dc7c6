"""Connection fuzzing without sockets: arbitrary bytes, in arbitrary chunks, against a
connection before and after its handshake. No exception escapes, nothing reaches the
node before authentication, and afterwards exactly the frames a spec-level reference
parser accepts (up to the first bad one) are delivered, in order."""
from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

import uvloop
from hypothesis import given, settings, strategies as st

from mbi.p2p import Hello, Kind, Network, Role, handshake_digest
from mbi.p2p.connection import HANDSHAKE_MAX_PAYLOAD, Connection, State
from mbi.p2p.kinds import PROTOCOL_VERSION
from p2p_util import CHAIN, fast_config, frame, keys

MAX = 2048
KS = keys(2)
VALS = [k.raw_public_key for k in KS]
LOOP = uvloop.new_event_loop()


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closing = True

    abort = close

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.0.0.9", 4444) if name == "peername" else default

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def frames_of(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while len(data) - pos >= 5:
        n, k = struct.unpack_from(">IB", data, pos)
        out.append((k, data[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return out


async def make(open_: bool) -> tuple[Connection, FakeTransport, list[tuple[bytes, int, bytes]], Network]:
    got: list[tuple[bytes, int, bytes]] = []
    net = Network(KS[0], CHAIN, fast_config(max_frame_bytes=MAX, burst_bytes=float(1 << 30),
                                            burst_frames=1e9, rate_frames_per_s=1e9, ban_threshold=-1e12),
                  validators=VALS, on_message=lambda p, k, pl: got.append((p, k, pl)))
    c = Connection(net, outbound=False)
    t = FakeTransport()
    c.connection_made(t)  # type: ignore[arg-type]
    if open_:
        [(kind, theirs)] = frames_of(bytes(t.out))
        assert kind == Kind.HELLO
        mine = Hello(PROTOCOL_VERSION, CHAIN, VALS[1], os.urandom(32), 0, Role.VALIDATOR).encode()
        sig = KS[1].sign(handshake_digest(mine, VALS[1], theirs, VALS[0]))
        c.data_received(frame(Kind.HELLO, mine) + frame(Kind.AUTH, sig))
        assert c.state is State.OPEN
        t.out.clear()
    return c, t, got, net


def feed(c: Connection, data: bytes, cuts: list[int]) -> None:
    prev = 0
    for p in sorted({min(x, len(data)) for x in cuts}) + [len(data)]:
        c.data_received(data[prev:p])
        prev = p


def reference(data: bytes) -> tuple[list[tuple[int, bytes]], bool, int]:
    """Spec-level: (node frames delivered, closed?, PINGs answered) for an open connection."""
    out: list[tuple[int, bytes]] = []
    pos, pings = 0, 0
    while len(data) - pos >= 5:
        n, k = struct.unpack_from(">IB", data, pos)
        if n > MAX:
            return out, True, pings
        if len(data) - pos - 5 < n:
            break
        payload = data[pos + 5:pos + 5 + n]
        pos += 5 + n
        if k in (Kind.PING, Kind.PONG):
            pings += k == Kind.PING
        elif k >= 16 and k in Kind._value2member_map_:
            out.append((k, payload))
        else:  # HELLO/AUTH again, DISCONNECT, unknown kinds: the connection ends
            return out, True, pings
    return out, False, pings


@settings(max_examples=150)
@given(st.binary(max_size=4000), st.lists(st.integers(0, 4000), max_size=8))
def test_garbage_before_handshake(data: bytes, cuts: list[int]) -> None:
    async def main() -> None:
        c, t, got, _ = await make(False)
        feed(c, data, cuts)
        assert got == []
        assert c.state in (State.HANDSHAKE, State.CLOSED)
        assert c.decoder.buffered <= 5 + HANDSHAKE_MAX_PAYLOAD
        if c.state is State.CLOSED:
            assert t.closing
    LOOP.run_until_complete(main())


kinds = st.sampled_from([16, 17, 18, 19, 20, 21, 22, 23, 24, 3, 4]) | st.integers(0, 255)
frame_st = st.tuples(kinds, st.binary(max_size=300)).map(lambda kp: frame(kp[0], kp[1]))
junk = st.binary(min_size=1, max_size=50)


@settings(max_examples=200)
@given(st.lists(frame_st | junk, max_size=12), st.lists(st.integers(0, 5000), max_size=8))
def test_frames_after_handshake_match_the_reference(parts: list[bytes], cuts: list[int]) -> None:
    async def main() -> None:
        c, t, got, _ = await make(True)
        data = b"".join(parts)
        feed(c, data, cuts)
        want, closed, pings = reference(data)
        assert [(k, p) for _, k, p in got] == want
        assert all(peer == VALS[1] for peer, _, _ in got)
        assert (c.state is State.CLOSED) == closed
        assert c.decoder.buffered <= 5 + MAX
        await asyncio.sleep(0)  # let coalesced writes flush
        if not closed:
            pongs = [k for k, _ in frames_of(bytes(t.out)) if k == Kind.PONG]
            assert len(pongs) == pings
    LOOP.run_until_complete(main())
