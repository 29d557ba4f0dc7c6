"""Hostile peers over real loopback sockets: every attack closes that peer and lowers its
score, while the node stays up, stays responsive, keeps its memory bounded and a
well-behaved peer keeps exchanging messages."""
from __future__ import annotations

import asyncio
import random
import struct

from mbi.crypto.keys import KeyPair
from mbi.p2p import DisconnectReason, Kind, Role
from mbi.p2p.connection import decode_disconnect
from p2p_util import RawPeer, Recorder, fast_config, frame, keys, run, until

R = DisconnectReason
HOST = "127.0.0.1"


class Arena:
    """Node N, and a good peer G that dialled N before the attacks start."""

    def __init__(self, n: Recorder, g: Recorder, keys: list[KeyPair]) -> None:
        self.n, self.g, self.keys = n, g, keys
        self.port = 0
        self._seq = 0

    @classmethod
    async def make(cls, **cfg: object) -> "Arena":
        ks = keys(6)
        vals = [k.raw_public_key for k in ks]
        n = Recorder(ks[0], vals, fast_config(**cfg))
        g = Recorder(ks[1], vals, fast_config())
        a = cls(n, g, ks)
        a.port = await n.start()
        await g.start()
        g.net.connect(HOST, a.port)
        assert await n.net.wait_for_peers([g.pk], 5)
        return a

    async def alive(self) -> float:
        """A round trip between G and N; returns its latency."""
        loop = asyncio.get_running_loop()
        self._seq += 1
        tag = b"ping-%d" % self._seq
        t0 = loop.time()
        assert self.g.net.send(self.n.pk, Kind.STATUS, tag)
        assert await until(lambda: (self.g.pk, Kind.STATUS, tag) in self.n.messages, 3)
        assert self.n.net.send(self.g.pk, Kind.STATUS, tag)
        assert await until(lambda: (self.n.pk, Kind.STATUS, tag) in self.g.messages, 3)
        return loop.time() - t0

    def only_good_messages(self) -> bool:
        return all(m[0] == self.g.pk or m[0] in self.allowed for m in self.n.messages)

    allowed: set[bytes] = set()

    async def stop(self) -> None:
        await self.n.net.stop()
        await self.g.net.stop()


async def closed_reason(raw: RawPeer, timeout: float = 3.0) -> int | None:
    frames = await raw.read_until_closed(timeout)
    if frames and frames[-1][0] == Kind.DISCONNECT:
        return decode_disconnect(frames[-1][1])[0]
    return None


def now() -> float:
    return asyncio.get_running_loop().time()


def test_each_attack_closes_the_peer_and_lowers_its_score() -> None:
    async def main() -> None:
        # a huge ban threshold keeps 127.0.0.1 unbanned so every attack reaches the parser
        a = await Arena.make(ban_threshold=-1e9, max_frame_bytes=64 << 10, burst_bytes=(128 << 10) + 0.0,
                             rate_bytes_per_s=64.0 * 1024, burst_frames=200.0, rate_frames_per_s=100.0,
                             read_timeout=0.4)
        net = a.n.net
        rng = random.Random(1)
        host_score = 0.0

        async def attack(data: bytes, want: set[DisconnectReason], handshake_key: KeyPair | None = None,
                         then_wait: float = 0.0) -> None:
            nonlocal host_score
            raw = await RawPeer.open(a.port)
            if handshake_key is not None:
                await raw.handshake(handshake_key)
                assert await until(lambda: net.is_connected(handshake_key.raw_public_key))
            raw.send(data)
            if then_wait:
                await asyncio.sleep(then_wait)
            reason = await closed_reason(raw)
            assert reason in want, (reason, want)
            raw.close()
            if handshake_key is None:
                s = net.scores.score(HOST, now())
                assert s < host_score  # the address took the blame
                host_score = s
            else:
                assert net.scores.score(handshake_key.raw_public_key, now()) < 0
            assert await a.alive() < 1.0

        # before any handshake
        await attack(bytes(rng.getrandbits(8) for _ in range(4096)), {R.PROTOCOL, R.FRAME_TOO_LARGE})
        await attack(b"\xff\xff\xff\xff\x10", {R.FRAME_TOO_LARGE})
        await attack(frame(Kind.VOTE, b"not yet"), {R.PROTOCOL})
        # after a valid handshake: malformed frames of every sort
        k = a.keys[2]
        await attack(frame(99, b"unknown kind"), {R.PROTOCOL}, k)
        await attack(frame(Kind.HELLO, bytes(77)), {R.PROTOCOL}, k)
        await attack(frame(Kind.AUTH, bytes(64)), {R.PROTOCOL}, k)
        await attack(struct.pack(">IB", (64 << 10) + 1, Kind.VOTE), {R.FRAME_TOO_LARGE}, k)
        await attack(bytes(rng.getrandbits(8) for _ in range(2048)), {R.PROTOCOL, R.FRAME_TOO_LARGE}, k)
        await attack(frame(Kind.PING) * 300, {R.FLOOD}, k)  # 300 frames > burst 200
        await attack((frame(Kind.TX_BATCH, bytes(60_000))) * 3, {R.FLOOD}, k)  # 180 KB > byte burst
        # half a frame, then silence: closed once the frame stays unfinished too long
        await attack(struct.pack(">IB", 1000, Kind.VOTE) + bytes(10), {R.IDLE_TIMEOUT}, k)
        # nothing from the attackers reached the node's handler except what k sent as
        # well-formed frames in the byte-flood attack before the limit hit
        assert all(m[0] in (a.g.pk, k.raw_public_key) for m in a.n.messages)
        assert all(kind in (Kind.STATUS, Kind.TX_BATCH) for _, kind, _ in a.n.messages)
        assert await until(lambda: net.stats()["connections"] == 1)
        assert net.buffered_bytes() < 1024
        await a.stop()
    run(main(), timeout=60)


def test_half_frame_buffer_is_bounded_by_one_frame() -> None:
    async def main() -> None:
        a = await Arena.make(max_frame_bytes=64 << 10, burst_bytes=float(1 << 20), read_timeout=1.0)
        raw = await RawPeer.open(a.port)
        await raw.handshake(a.keys[2])
        assert await until(lambda: a.n.net.is_connected(a.keys[2].raw_public_key))
        raw.send(struct.pack(">IB", 64 << 10, Kind.VOTE) + bytes((64 << 10) - 1))  # one byte short
        conn = a.n.net._peers[a.keys[2].raw_public_key]
        assert await until(lambda: conn.decoder.buffered == 5 + (64 << 10) - 1)
        assert a.n.net.buffered_bytes() <= 5 + (64 << 10)
        assert await a.alive() < 1.0
        assert await closed_reason(raw) == R.IDLE_TIMEOUT
        assert a.n.net.buffered_bytes() < 1024
        await a.stop()
    run(main())


def test_500_connections_at_once() -> None:
    async def main() -> None:
        a = await Arena.make(max_pending=600, max_pending_per_host=600, max_peers=32, handshake_timeout=1.0,
                             ban_threshold=-1e9, accept_burst_per_host=1000.0)
        net = a.n.net
        rng = random.Random(2)
        extra = [KeyPair.from_seed(rng.randbytes(32)) for _ in range(50)]
        opened = await asyncio.gather(*(RawPeer.open(a.port) for _ in range(500)))
        handshakes = []
        for i, raw in enumerate(opened):
            m = i % 4
            if m == 0:
                raw.send(rng.randbytes(rng.randrange(1, 3000)))
            elif m == 1:
                raw.send(frame(Kind.HELLO, bytes(77))[:20])  # half a HELLO, then silence
            elif m == 2 and i // 4 < len(extra):
                handshakes.append(raw.handshake(extra[i // 4], role=Role.FULL_NODE))
            # the rest say nothing at all
        await asyncio.gather(*handshakes)
        peak_conns = net.stats()["connections"]
        # the node answers its good peer while 500 sockets hammer it
        assert await a.alive() < 1.0
        assert await until(lambda: len(net.peers()) == 1 + 32)  # max_peers full-node slots filled
        assert net.closes["TOO_MANY_PEERS"] == len(extra) - 32
        # garbage is dropped at once, silence at the handshake timeout
        assert await until(lambda: net.stats()["pending"] == 0, 5)
        assert net.stats()["connections"] == 1 + 32
        assert peak_conns <= 501
        assert net.buffered_bytes() < 64 << 10
        for raw in opened:
            raw.close()
        assert await until(lambda: net.stats()["connections"] == 1, 5)
        assert await a.alive() < 1.0
        assert all(m[0] == a.g.pk for m in a.n.messages)
        await a.stop()
    run(main(), timeout=60)


def test_500_connections_over_the_pending_limits_are_refused_at_accept() -> None:
    async def main() -> None:
        a = await Arena.make(handshake_timeout=1.0)  # defaults: 128 pending, 16 per host
        net = a.n.net
        opened = await asyncio.gather(*(RawPeer.open(a.port) for _ in range(500)))
        # cut at accept: over 16 handshakes from one address, or over its accept burst
        assert await until(lambda: net.closes["TOO_MANY_PEERS"] + net.closes["FLOOD"] >= 500 - 16)
        assert net.stats()["pending"] <= 16
        assert await a.alive() < 1.0
        for raw in opened:
            raw.close()
        assert await until(lambda: net.stats()["connections"] == 1, 5)
        await a.stop()
    run(main(), timeout=30)


def test_reconnect_churn_from_one_address_is_rate_limited() -> None:
    async def main() -> None:
        a = await Arena.make(accept_rate_per_host=5.0, accept_burst_per_host=20.0)
        net = a.n.net
        served = 0
        for _ in range(60):  # open-and-close as fast as possible
            raw = await RawPeer.open(a.port)
            try:
                kind, _ = await raw.read_frame(0.5)
                served += kind == Kind.HELLO
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
                pass
            raw.close()
        # the burst of 20, less G's own connection, got a HELLO (plus what refilled at
        # 5/s meanwhile); the rest were cut at accept
        assert 19 <= served < 40, served
        assert net.closes["FLOOD"] >= 60 - served
        assert await a.alive() < 1.0
        await a.stop()
    run(main())


def test_host_ban_refuses_new_connections_until_it_expires() -> None:
    async def main() -> None:
        a = await Arena.make(ban_seconds=0.6, score_recovery_per_s=0.0)
        net = a.n.net
        for _ in range(2):  # two bad signatures: -100, the ban threshold
            raw = await RawPeer.open(a.port)
            await raw.handshake(a.keys[2], corrupt_sig=True)
            assert await closed_reason(raw) == R.BAD_SIGNATURE
        assert net.scores.banned(HOST, now())
        t_ban = now()
        raw = await RawPeer.open(a.port)
        assert await raw.read_until_closed() == []  # aborted at accept, nothing read or sent
        assert net.closes["BANNED"] >= 1
        # established peers and our own dials are not affected
        assert await a.alive() < 1.0
        h = Recorder(a.keys[3], [k.raw_public_key for k in a.keys])
        hp = await h.start()
        net.connect(HOST, hp)
        assert await net.wait_for_peers([h.pk], 3)
        await asyncio.sleep(max(0.0, 0.7 - (now() - t_ban)))
        ok = await RawPeer.open(a.port)
        await ok.handshake(a.keys[4])
        assert await until(lambda: net.is_connected(a.keys[4].raw_public_key))
        await h.net.stop()
        await a.stop()
    run(main())


def test_key_ban_after_repeated_malformed_frames() -> None:
    async def main() -> None:
        a = await Arena.make()
        net = a.n.net
        bad = a.keys[2]
        for _ in range(3):  # 3 x 40 >= 100
            raw = await RawPeer.open(a.port)
            await raw.handshake(bad)
            raw.send(frame(200, b"?"))
            assert await closed_reason(raw) == R.PROTOCOL
        assert net.scores.banned(bad.raw_public_key, now())
        assert not net.scores.banned(HOST, now())  # authenticated offences blame the key
        raw = await RawPeer.open(a.port)
        await raw.handshake(bad)
        assert await closed_reason(raw) == R.BANNED
        other = await RawPeer.open(a.port)  # another key from the same host is welcome
        await other.handshake(a.keys[3])
        assert await until(lambda: net.is_connected(a.keys[3].raw_public_key))
        assert await a.alive() < 1.0
        await a.stop()
    run(main())


def test_report_bans_and_disconnects() -> None:
    async def main() -> None:
        a = await Arena.make()
        assert not a.n.net.report(a.g.pk, 60, "invalid vote signature")
        assert a.n.net.is_connected(a.g.pk)
        assert a.n.net.report(a.g.pk, 60, "invalid vote signature")
        assert await until(lambda: not a.n.net.is_connected(a.g.pk))
        assert a.n.net.closes["MISBEHAVIOUR"] == 1
        assert await until(lambda: a.g.net.closes.get("BANNED", 0) + a.n.net.closes.get("BANNED", 0) >= 1, 3)
        await a.stop()
    run(main())


def test_handler_exceptions_are_caught_per_peer() -> None:
    async def main() -> None:
        a = await Arena.make()
        got: list[bytes] = []

        def handler(peer: bytes, kind: int, payload: bytes) -> None:
            if payload.startswith(b"boom"):
                raise RuntimeError("handler bug on a bad payload")
            got.append(payload)
            a.n.messages.append((peer, kind, payload))
        a.n.net.on_message = handler
        raw = await RawPeer.open(a.port)
        await raw.handshake(a.keys[2])
        raw.send(frame(Kind.VOTE, b"boom1") + frame(Kind.VOTE, b"fine") + frame(Kind.VOTE, b"boom2"))
        assert await until(lambda: a.n.net.handler_errors == 2)
        assert got == [b"fine"]
        assert a.n.net.is_connected(a.keys[2].raw_public_key)  # a small penalty, no disconnect
        assert a.n.net.scores.score(a.keys[2].raw_public_key, now()) < 0
        assert await a.alive() < 1.0
        await a.stop()
    run(main())
