"""mbi.p2p throughput and latency on loopback, with baselines measured in the same run.

Two ``Network`` nodes in one process, one loop: node A sends N messages of a given size
to node B (B's handler counts them); the time is from the first send to the last
delivery. Then a ping-pong (B echoes, A sends the next after the echo) for round-trip
latency. Each configuration runs ``--rounds`` times, interleaved, and the median is shown:

- ``p2p/uvloop``: mbi.p2p (Protocol API, coalesced writes) on uvloop, as the node runs;
- ``p2p/asyncio``: the same code on the stock asyncio loop;
- ``streams/uvloop``: a plain asyncio Streams peer pair with the same framing
  (``readexactly`` per header and payload, one ``write`` per frame, ``drain`` every
  256 frames), the design's reference point for "Streams is slower".

The p2p senders yield to the loop after each burst (at most 4 MiB) and wait on
``Network.wait_writable`` while the transport has paused them, as a bulk sender must.

Usage: .venv/bin/python bench/ratio_p2p.py [--n 200000] [--size 200] [--rounds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import struct
import sys
import time

import uvloop

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mbi.crypto.keys import KeyPair  # noqa: E402
from mbi.p2p import Kind, Network, P2PConfig  # noqa: E402

CHAIN = 1


async def p2p_pair() -> tuple[Network, Network, list[int]]:
    ka, kb = KeyPair.from_seed(b"\x01" * 32), KeyPair.from_seed(b"\x02" * 32)
    vals = [ka.raw_public_key, kb.raw_public_key]
    cfg = P2PConfig(listen_host="127.0.0.1", listen_port=0, idle_timeout=60.0)
    count = [0]
    a = Network(ka, CHAIN, cfg, validators=vals)
    b = Network(kb, CHAIN, cfg, validators=vals)
    await a.start()
    _, pb = await b.start()
    a.connect("127.0.0.1", pb)
    assert await a.wait_for_peers([kb.raw_public_key], 5)
    assert await b.wait_for_peers([ka.raw_public_key], 5)
    return a, b, count


async def p2p_throughput(n: int, size: int) -> float:
    a, b, _ = await p2p_pair()
    done = asyncio.get_running_loop().create_future()
    got = [0]

    def on_msg(peer: bytes, kind: int, payload: bytes) -> None:
        got[0] += 1
        if got[0] == n:
            done.set_result(time.perf_counter())
    b.on_message = on_msg
    payload = os.urandom(size)
    bk = b.public_key
    t0 = time.perf_counter()
    sent = 0
    # the node sends from callbacks in bursts; yield between bursts so the queue drains.
    # A burst stays within 4 MiB, well inside the per-peer send queue bound.
    burst = max(1, min(1000, (4 << 20) // (size + 5)))
    while sent < n:
        k = min(burst, n - sent)
        for _ in range(k):
            if not a.send(bk, Kind.VOTE, payload):
                raise RuntimeError("send refused: the peer was disconnected")
        sent += k
        await asyncio.sleep(0)
        if not await a.wait_writable(bk, 30):  # honour backpressure as a bulk sender must
            raise RuntimeError("peer stayed unwritable")
    t1 = await asyncio.wait_for(done, 120)  # fail, never hang, if messages go missing
    await a.stop()
    await b.stop()
    return n / (t1 - t0)


async def p2p_rtt(n: int, size: int) -> list[float]:
    a, b, _ = await p2p_pair()
    ak, bk = a.public_key, b.public_key
    loop = asyncio.get_running_loop()
    waiter: list[asyncio.Future[None]] = [loop.create_future()]
    b.on_message = lambda p, k, pl: b.send(ak, Kind.VOTE, pl)

    def on_a(p: bytes, k: int, pl: bytes) -> None:
        waiter[0].set_result(None)
    a.on_message = on_a
    payload = os.urandom(size)
    out = []
    for _ in range(n):
        waiter[0] = loop.create_future()
        t0 = time.perf_counter()
        a.send(bk, Kind.VOTE, payload)
        await asyncio.wait_for(waiter[0], 10)
        out.append(time.perf_counter() - t0)
    await a.stop()
    await b.stop()
    return out


async def streams_throughput(n: int, size: int) -> float:
    done = asyncio.get_running_loop().create_future()

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got = 0
        while got < n:
            hdr = await r.readexactly(5)
            ln = struct.unpack(">IB", hdr)[0]
            await r.readexactly(ln)
            got += 1
        done.set_result(time.perf_counter())
        w.close()
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    payload = os.urandom(size)
    hdr = struct.pack(">IB", size, int(Kind.VOTE))
    t0 = time.perf_counter()
    for i in range(n):
        w.write(hdr + payload)
        if i % 256 == 255:
            await w.drain()
    await w.drain()
    t1 = await asyncio.wait_for(done, 120)
    w.close()
    srv.close()
    await srv.wait_closed()
    return n / (t1 - t0)


def run(factory, coro):  # type: ignore[no-untyped-def]
    with asyncio.Runner(loop_factory=factory) as r:
        return r.run(coro)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--big", type=int, default=65536, help="payload size of the bulk run")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rtt", type=int, default=5000, help="ping-pongs per latency run")
    args = ap.parse_args()
    res: dict[str, list[float]] = {}
    bulk_n = max(1000, args.n * args.size // args.big)
    for _ in range(args.rounds):
        res.setdefault("p2p/uvloop", []).append(run(uvloop.new_event_loop, p2p_throughput(args.n, args.size)))
        res.setdefault("p2p/asyncio", []).append(run(asyncio.new_event_loop, p2p_throughput(args.n, args.size)))
        res.setdefault("streams/uvloop", []).append(run(uvloop.new_event_loop, streams_throughput(args.n, args.size)))
        res.setdefault("bulk p2p/uvloop", []).append(run(uvloop.new_event_loop, p2p_throughput(bulk_n, args.big)))
    print(f"one-way messages/s, {args.n} messages of {args.size} B (median of {args.rounds}, interleaved)")
    base = statistics.median(res["p2p/uvloop"])
    for name in ("p2p/uvloop", "p2p/asyncio", "streams/uvloop"):
        m = statistics.median(res[name])
        print(f"  {name:16s} {m:12,.0f} msg/s  {m * args.size / 1e6:8.1f} MB/s  p2p/uvloop ÷ this: {base / m:5.2f}")
    m = statistics.median(res["bulk p2p/uvloop"])
    print(f"  bulk {bulk_n} x {args.big} B on p2p/uvloop: {m:,.0f} msg/s = {m * args.big / 1e6:,.0f} MB/s")
    rtts = sorted(run(uvloop.new_event_loop, p2p_rtt(args.rtt, args.size)))
    q = statistics.quantiles(rtts, n=100)
    print(f"round trip on p2p/uvloop ({args.rtt} ping-pongs of {args.size} B): "
          f"p50 {q[49] * 1e6:.0f} us, p99 {q[98] * 1e6:.0f} us")


if __name__ == "__main__":
    main()
