"""Network behaviour over loopback: duplicate resolution, reconnects, gossip, backpressure."""
from __future__ import annotations

import asyncio

from mbi.p2p import Kind, TxGossip
from mbi.p2p.kinds import DisconnectReason
from p2p_util import RawPeer, Recorder, fast_config, frame, keys, run, until


async def mesh(n: int, **cfg: object) -> list[Recorder]:
    ks = keys(n)
    vals = [k.raw_public_key for k in ks]
    nodes = [Recorder(k, vals, fast_config(**cfg)) for k in ks]
    ports = [await x.start() for x in nodes]
    # every node dials every other at once: each pair makes two connections
    for i, x in enumerate(nodes):
        for j, p in enumerate(ports):
            if i != j:
                x.net.connect("127.0.0.1", p)
    return nodes


def test_duplicate_connections_from_both_sides_resolve_the_same_way() -> None:
    async def main() -> None:
        for _ in range(3):
            nodes = await mesh(4)
            for x in nodes:
                assert await x.net.wait_for_peers([y.pk for y in nodes if y is not x], 5)

            def settled() -> bool:
                return all(x.net.stats()["connections"] == 3 and x.net.stats()["pending"] == 0 for x in nodes)
            assert await until(settled)
            await asyncio.sleep(0.3)  # dialers retrying would show up here
            assert settled()
            for x in nodes:
                for info in x.net.peers():
                    # kept: the connection the lower key initiated
                    assert info.outbound == (x.pk < info.key)
                # each peer came up once; a swap of connections is not a down/up
                assert sorted(x.ups) == sorted(y.pk for y in nodes if y is not x)
                assert x.downs == []
            # and messages flow on the kept connections
            for x in nodes:
                assert x.net.broadcast(Kind.VOTE, x.pk) == 3
            assert await until(lambda: all(len(x.messages) == 3 for x in nodes))
            for x in nodes:
                assert sorted(m[2] for m in x.messages) == sorted(y.pk for y in nodes if y is not x)
                assert all(m[0] == m[2] for m in x.messages)  # sender key is who signed in
            for x in nodes:
                await x.net.stop()
    run(main(), timeout=40)


def test_same_direction_duplicate_replaces_the_old_connection() -> None:
    """A peer that reconnects while its old socket is still open replaces it."""
    async def main() -> None:
        ks = keys(2)
        node = Recorder(ks[0], [k.raw_public_key for k in ks])
        port = await node.start()
        old = await RawPeer.open(port)
        await old.handshake(ks[1])
        assert await until(lambda: node.net.is_connected(ks[1].raw_public_key))
        new = await RawPeer.open(port)
        await new.handshake(ks[1])
        frames = await old.read_until_closed()
        assert frames[-1][0] == Kind.DISCONNECT and frames[-1][1][0] == DisconnectReason.DUPLICATE
        assert (await new.read_frame())[0] == Kind.AUTH
        assert node.net.send(ks[1].raw_public_key, Kind.VOTE, b"on new")
        assert await new.read_frame() == (Kind.VOTE, b"on new")
        assert node.ups == [ks[1].raw_public_key] and node.downs == []
        await node.net.stop()
    run(main())


def test_reconnect_after_peer_restarts() -> None:
    async def main() -> None:
        ks = keys(2)
        vals = [k.raw_public_key for k in ks]
        a, b = Recorder(ks[0], vals), Recorder(ks[1], vals)
        await a.start()
        pb = await b.start()
        a.net.connect("127.0.0.1", pb)
        assert await a.net.wait_for_peers([b.pk], 5)
        await b.net.stop()
        assert await until(lambda: a.downs == [b.pk])
        await asyncio.sleep(0.3)  # a keeps redialing a closed port meanwhile
        b2 = Recorder(ks[1], vals)
        await b2.net.start(port=pb)
        assert await a.net.wait_for_peers([b.pk], 5)
        assert a.ups == [b.pk, b.pk]
        assert a.net.send(b.pk, Kind.PROPOSAL, b"after restart")
        assert await until(lambda: b2.messages == [(a.pk, Kind.PROPOSAL, b"after restart")])
        for x in (a, b2):
            await x.net.stop()
    run(main())


def test_mesh_heals_after_a_member_restarts() -> None:
    """All nodes dial each other; one restarts (same key and port) and dials everyone
    again while they redial it: every pair ends with exactly one connection."""
    async def main() -> None:
        nodes = await mesh(3)
        for x in nodes:
            assert await x.net.wait_for_peers([y.pk for y in nodes if y is not x], 5)
        victim = nodes[2]
        port = victim.net.listen_port
        await victim.net.stop()
        assert await until(lambda: all(victim.pk not in x.net.peer_keys() for x in nodes[:2]))
        again = Recorder(victim.key, [x.pk for x in nodes], fast_config())
        await again.net.start(port=port)
        for x in nodes[:2]:
            again.net.connect("127.0.0.1", x.net.listen_port)
        live = [nodes[0], nodes[1], again]

        def healed() -> bool:
            return all(len(x.net.peer_keys()) == 2 and x.net.stats()["connections"] == 2
                       and x.net.stats()["pending"] == 0 for x in live)
        assert await until(healed, 10)
        await asyncio.sleep(0.3)
        assert healed()
        for x in live:
            assert x.net.broadcast(Kind.VOTE, b"after heal") == 2
        assert await until(lambda: all(sum(m[2] == b"after heal" for m in x.messages) == 2 for x in live))
        for x in live:
            await x.net.stop()
    run(main(), timeout=30)


def test_dial_backoff_is_exponential_with_jitter() -> None:
    async def main() -> None:
        ks = keys(1)
        net = Recorder(ks[0], [ks[0].raw_public_key], fast_config(dial_backoff_base=0.05, dial_backoff_max=0.4)).net
        await net.start()
        # a port nothing listens on: bind one, note it, close it
        srv = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)
        dead = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        tries: list[float] = []
        loop = asyncio.get_running_loop()
        orig = loop.create_connection

        async def counting(*a: object, **kw: object) -> object:
            tries.append(loop.time())
            return await orig(*a, **kw)  # type: ignore[arg-type]
        loop.create_connection = counting  # type: ignore[method-assign]
        net.connect("127.0.0.1", dead)
        await asyncio.sleep(2.0)
        loop.create_connection = orig  # type: ignore[method-assign]
        gaps = [b - a for a, b in zip(tries, tries[1:])]
        assert len(tries) >= 5
        # delay_k = min(0.4, 0.05 * 2**k) scaled by a jitter in [0.5, 1]
        for k, g in enumerate(gaps):
            cap = min(0.4, 0.05 * 2 ** k)
            assert 0.5 * cap - 0.01 <= g <= cap + 0.3, (k, g)
        assert len(tries) < 14  # without back-off it would be hundreds
        await net.stop()
    run(main())


def test_tx_gossip_dedupe_and_known_sets() -> None:
    async def main() -> None:
        nodes = await mesh(3)
        for x in nodes:
            assert await x.net.wait_for_peers([y.pk for y in nodes if y is not x], 5)
        gossips = {}
        new_by_node: dict[bytes, list[bytes]] = {x.pk: [] for x in nodes}
        batches_in: dict[bytes, int] = {x.pk: 0 for x in nodes}
        for x in nodes:
            g = gossips[x.pk] = TxGossip(x.net)

            def on_message(peer: bytes, kind: int, payload: bytes, x=x, g=g) -> None:
                if kind == Kind.TX_BATCH:
                    batches_in[x.pk] += 1
                    new = g.on_batch(peer, payload)
                    new_by_node[x.pk].extend(new)
                    g.broadcast(new)  # relay what "verified"
            x.net.on_message = on_message
        a, b, c = nodes
        txs = [b"tx-%04d" % i + bytes(50) for i in range(500)]
        assert gossips[a.pk].submit(txs) == txs
        assert await until(lambda: len(new_by_node[b.pk]) == 500 and len(new_by_node[c.pk]) == 500)
        await asyncio.sleep(0.2)
        assert sorted(new_by_node[b.pk]) == sorted(txs) and sorted(new_by_node[c.pk]) == sorted(txs)
        # nothing came back to the origin: both peers know a has them
        assert batches_in[a.pk] == 0 and new_by_node[a.pk] == []
        # resubmitting is suppressed before any frame is built
        sent_before = a.net.frames_out_by_kind[Kind.TX_BATCH]
        assert gossips[a.pk].submit(txs[:10]) == []
        assert a.net.frames_out_by_kind[Kind.TX_BATCH] == sent_before
        # b and c each got every tx once as new; any second copy was counted as duplicate
        for x in (b, c):
            g = gossips[x.pk]
            assert g.received - g.duplicates == 500
        # a batch bigger than gossip_batch_max_txs is split into several frames
        g_small = TxGossip(a.net, batch_max_txs=100)
        more = [b"more-%04d" % i for i in range(250)]
        assert g_small.broadcast(more) == 2 * 3  # 3 frames (100/100/50) to each of 2 peers
        for x in nodes:
            await x.net.stop()
    run(main(), timeout=30)


def test_malformed_tx_batch_lowers_score_only() -> None:
    async def main() -> None:
        ks = keys(2)
        node = Recorder(ks[0], [k.raw_public_key for k in ks])
        g = TxGossip(node.net)
        got: list[bytes] = []
        node.net.on_message = lambda p, k, pl: got.extend(g.on_batch(p, pl)) if k == Kind.TX_BATCH else None
        port = await node.start()
        raw = await RawPeer.open(port)
        await raw.handshake(ks[1])
        raw.send(frame(Kind.TX_BATCH, b"\x00\x00\x00\x05junk"))
        raw.send(frame(Kind.TX_BATCH, b"\x00\x00\x00\x01\x00\x00\x00\x02ok"))
        assert await until(lambda: got == [b"ok"])
        assert g.malformed == 1
        assert node.net.scores.score(ks[1].raw_public_key, asyncio.get_running_loop().time()) < 0
        assert node.net.is_connected(ks[1].raw_public_key)
        await node.net.stop()
    run(main())


def test_backpressure_drops_gossip_then_disconnects_slow_peer() -> None:
    async def main() -> None:
        ks = keys(2)
        cfg = fast_config(send_queue_max_bytes=1 << 20, send_queue_max_frames=1000,
                          write_buffer_high=256 << 10, write_buffer_low=64 << 10, idle_timeout=30.0,
                          ping_interval=10.0)
        node = Recorder(ks[0], [k.raw_public_key for k in ks], cfg)
        port = await node.start()
        raw = await RawPeer.open(port)  # handshakes, then never reads again
        await raw.handshake(ks[1])
        pk = ks[1].raw_public_key
        assert await until(lambda: node.net.is_connected(pk))
        blob = bytes(64 << 10)
        peak = 0
        for _ in range(2000):
            node.net.send(pk, Kind.TX_BATCH, blob)
            peak = max(peak, node.net.buffered_bytes())
            if node.net.dropped:
                break
            await asyncio.sleep(0)
        assert node.net.dropped >= 1
        # paused by the transport: a bulk sender waiting for room times out
        assert node.net.queued_bytes(pk) > cfg.write_buffer_high
        assert await node.net.wait_writable(pk, 0.2) is False
        [info] = node.net.peers()
        assert info.dropped >= 1 and info.queued_bytes <= cfg.send_queue_max_bytes
        # memory stays bounded: our queue + the transport's buffer above its high mark
        assert peak <= cfg.send_queue_max_bytes + cfg.write_buffer_high + 2 * (len(blob) + 5)
        # a frame that must not be dropped closes the slow peer instead
        while node.net.send(pk, Kind.VOTE, blob):
            pass
        assert await until(lambda: not node.net.is_connected(pk))
        assert node.net.closes["SLOW_PEER"] == 1
        assert node.downs == [pk]
        await node.net.stop()
    run(main())


def test_bulk_sender_that_waits_for_room_is_never_cut_off() -> None:
    """Sending far more than the queue bound succeeds when the sender honours
    wait_writable; the same sender without it overflows and is cut off (SLOW_PEER)."""
    async def main() -> None:
        ks = keys(2)
        vals = [k.raw_public_key for k in ks]
        cfg = fast_config(send_queue_max_bytes=2 << 20, write_buffer_high=512 << 10, write_buffer_low=128 << 10)
        a, b = Recorder(ks[0], vals, cfg), Recorder(ks[1], vals, cfg)
        await a.start()
        pb = await b.start()
        a.net.connect("127.0.0.1", pb)
        assert await a.net.wait_for_peers([b.pk], 5)
        blob = bytes(64 << 10)
        for i in range(480):  # 30 MiB, 15 times the queue bound
            assert a.net.send(b.pk, Kind.SYNC_RESPONSE, blob), i
            if i % 8 == 7:
                await asyncio.sleep(0)
                assert await a.net.wait_writable(b.pk, 5)
        assert await until(lambda: len(b.messages) == 480, 10)
        assert a.net.closes.get("SLOW_PEER", 0) == 0 and a.net.dropped == 0
        # without waiting: the queue overflows and the peer is disconnected
        ok = all(a.net.send(b.pk, Kind.SYNC_RESPONSE, blob) for _ in range(480))
        assert not ok and a.net.closes["SLOW_PEER"] == 1
        assert await a.net.wait_writable(b.pk, 0.1) is False  # gone
        for x in (a, b):
            await x.net.stop()
    run(main())


def test_writes_are_coalesced_per_loop_iteration() -> None:
    async def main() -> None:
        ks = keys(2)
        node = Recorder(ks[0], [k.raw_public_key for k in ks])
        port = await node.start()
        raw = await RawPeer.open(port)
        await raw.handshake(ks[1])
        pk = ks[1].raw_public_key
        assert await until(lambda: node.net.is_connected(pk))
        conn = node.net._peers[pk]
        writes: list[int] = []
        t = conn.transport
        assert t is not None
        orig = t.write

        def counting(data: bytes) -> None:
            writes.append(len(data))
            orig(data)
        conn.transport = type("T", (), {"write": staticmethod(counting), "is_closing": t.is_closing,
                                        "get_write_buffer_size": t.get_write_buffer_size})()
        for i in range(100):
            node.net.send(pk, Kind.VOTE, b"%03d" % i)
        await asyncio.sleep(0.05)
        assert writes == [100 * (5 + 3)]  # one write for the iteration's 100 frames
        conn.transport = t
        assert (await raw.read_frame())[0] == Kind.AUTH
        for i in range(100):
            assert await raw.read_frame() == (Kind.VOTE, b"%03d" % i)
        await node.net.stop()
    run(main())


def test_send_rejects_control_kinds_and_oversized_payloads() -> None:
    import pytest
    ks = keys(1)
    net = Recorder(ks[0], [ks[0].raw_public_key], fast_config(max_frame_bytes=4096, burst_bytes=8192.0)).net
    for bad in (Kind.HELLO, Kind.AUTH, Kind.PING, 99):
        with pytest.raises(ValueError):
            net.send(b"\x00" * 32, bad, b"")
    with pytest.raises(ValueError):
        net.broadcast(Kind.VOTE, bytes(4097))
    assert net.send(b"\x00" * 32, Kind.VOTE, bytes(4096)) is False  # not connected
