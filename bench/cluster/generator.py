"""The load generator process: `python -m bench.cluster.generator SPEC.json`.

It loads its pre-signed items (bench.cluster.load), opens keep-alive connections, prints
`ready`, reads the window's start time (time.monotonic(), shared by all processes on
this machine) from stdin, then POSTs /submitTransaction batches to its nodes until the
window ends: `concurrency` requests in flight per node, each a batch of up to `batch`
items. With a rate, item k of a node's lane is due at start + k / lane_rate, and a
worker sends once a tick's worth of items is due (`tick`, 10 ms by default) or the oldest
due one has waited a tick, so that requests are batches as a gateway would send them and
not one item each; an item's submit time is then its due time, so the wait for the batch
(and any lag of the generator itself) counts in its latency. Without a rate, every worker
sends its next batch as soon as the previous answer is in (open loop at the nodes' pace).

Client behaviour, as a real wallet would do it:
- an answer of 114 (pool or sender limit) is retried after 50 ms, keeping the item's
  first submit time, so backpressure shows as latency and not as loss;
- a connection error (the node is down) sends the same batch to the next node.

It writes one pickle: per item its hash, honest flag, account, nonce, first submit time,
the send and answer times of the attempt that got the final code, that code, the number
of attempts and the node that answered; plus its own CPU time over the window.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import pickle
import resource
import sys
import time
from collections import deque
from typing import Any

from .load import load_lanes, submit_body

RETRY_CODES = (114, 160)  # pool full / sender limit, insert queue refused: back off and resend
RETRY_DELAY = 0.05
NODE_DOWN_FOR = 0.5
TICK = 0.01  # with a rate: the longest an item due waits for its batch to fill


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.urls: list[str] = spec["urls"]
        lanes = {int(k): v for k, v in spec["lanes"].items()}
        by_node = load_lanes(spec["files"], lanes)
        self.hashes: list[bytes] = []
        self.items: list[bytes] = []
        self.honest: list[bool] = []
        self.account: list[int] = []
        self.nonce: list[int] = []
        self.queues: dict[int, deque[int]] = {}
        for node, rows in sorted(by_node.items()):
            q: deque[int] = deque()
            for h, item, honest, a, nonce in rows:
                q.append(len(self.items))
                self.hashes.append(h)
                self.items.append(item)
                self.honest.append(honest)
                self.account.append(a)
                self.nonce.append(nonce)
            self.queues[node] = q
        n = len(self.items)
        nan = math.nan
        self.first_send = [nan] * n
        self.send = [nan] * n
        self.resp = [nan] * n
        self.code = [-1] * n
        self.attempts = [0] * n
        self.node = [-1] * n
        self.retry: dict[int, deque[tuple[float, int]]] = {k: deque() for k in self.queues}
        self.taken = {k: 0 for k in self.queues}  # fresh items taken per lane
        total = sum(len(q) for q in self.queues.values()) or 1
        rate = float(spec.get("rate") or 0.0)
        self.lane_rate = {k: rate * len(q) / total for k, q in self.queues.items()} if rate > 0 else {}
        self.tick = float(spec.get("tick", TICK))
        # a batch waits for this many due items, or for the oldest due to wait a tick
        self.want = {k: max(1, min(spec["batch"], int(r * self.tick))) for k, r in self.lane_rate.items()}
        self.due_at = [nan] * n  # with a rate: when each item fell due (its submit time)
        self.down_until = [0.0] * len(self.urls)
        self.sent = self.accepted = self.rejected = self.requests = self.conn_errors = 0
        self.exhausted = False

    # ------------------------------------------------------------------ taking items
    def _take(self, lane: int, now: float, t0: float) -> list[int]:
        batch = self.spec["batch"]
        out: list[int] = []
        rq = self.retry[lane]
        while rq and rq[0][0] <= now and len(out) < batch:
            out.append(rq.popleft()[1])
        q = self.queues[lane]
        room = batch - len(out)
        if room > 0 and q:
            if self.lane_rate:
                rate, taken = self.lane_rate[lane], self.taken[lane]
                due = int((now - t0) * rate) + 1 - taken
                oldest = t0 + taken / rate
                if due < min(self.want[lane], len(q)) and now < oldest + self.tick and not out:
                    return out  # let the batch fill (the items' latency counts from oldest on)
                room = min(room, max(0, due))
                for j in range(min(room, len(q))):
                    self.due_at[q[j]] = t0 + (taken + j) / rate
            k = min(room, len(q))
            for _ in range(k):
                out.append(q.popleft())
            self.taken[lane] += k
        return out

    def _next_due(self, lane: int, now: float, t0: float) -> float:
        t = now + 0.05
        rq = self.retry[lane]
        if rq:
            t = min(t, rq[0][0])
        if self.lane_rate and self.queues[lane] and self.lane_rate[lane] > 0:
            rate, taken = self.lane_rate[lane], self.taken[lane]
            full = t0 + (taken + min(self.want[lane], len(self.queues[lane])) - 1) / rate
            t = min(t, full, t0 + taken / rate + self.tick)
        return max(t, now + 0.001)

    def submit_time(self, i: int, sent: float) -> float:
        """Where item i's latency counts from: when it fell due (with a rate), else when
        it was first sent."""
        d = self.due_at[i]
        return sent if math.isnan(d) else min(d, sent)

    # ------------------------------------------------------------------ sending
    async def _post(self, session: Any, node: int, ids: list[int]) -> list[Any] | None:
        body = submit_body([self.items[i] for i in ids])
        async with session.post(self.urls[node] + "/submitTransaction", data=body,
                                headers={"Content-Type": "application/json"}) as r:
            raw = await r.read()
        res = json.loads(raw)
        results = res.get("results") if isinstance(res, dict) else None
        if not isinstance(results, list) or len(results) != len(ids):
            raise ValueError(f"node{node} answered {raw[:200]!r}")
        return results

    async def _worker(self, session: Any, lane: int, t0: float, t_end: float) -> None:
        import aiohttp

        n_nodes = len(self.urls)
        while True:
            now = time.monotonic()
            if now >= t_end:
                return
            ids = self._take(lane, now, t0)
            if not ids:
                if not self.queues[lane] and not self.retry[lane]:
                    self.exhausted = True
                    return
                await asyncio.sleep(self._next_due(lane, now, t0) - now)
                continue
            fresh = sum(1 for i in ids if self.attempts[i] == 0)
            self.sent += fresh
            target = lane
            for hop in range(n_nodes):
                node = (lane + hop) % n_nodes
                if self.down_until[node] > now and hop < n_nodes - 1:
                    continue
                ts = time.monotonic()
                for i in ids:
                    if self.attempts[i] == 0:
                        self.first_send[i] = self.submit_time(i, ts)
                    self.attempts[i] += 1
                try:
                    self.requests += 1
                    results = await self._post(session, node, ids)
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
                    self.conn_errors += 1
                    self.down_until[node] = time.monotonic() + NODE_DOWN_FOR
                    continue
                tr = time.monotonic()
                target = node
                for i, res in zip(ids, results):
                    code = int(res.get("error_code", -2)) if isinstance(res, dict) else -2
                    if code in RETRY_CODES:
                        self.retry[lane].append((tr + RETRY_DELAY, i))
                        continue
                    self.code[i], self.send[i], self.resp[i], self.node[i] = code, ts, tr, target
                    if code == 0:
                        self.accepted += 1
                    else:
                        self.rejected += 1
                break
            else:  # every node refused the connection: try again shortly
                back = time.monotonic() + 0.2
                for i in ids:
                    self.retry[lane].append((back, i))
                await asyncio.sleep(0.05)

    async def _progress(self, t0: float, t_end: float) -> None:
        while time.monotonic() < t_end + 0.5:
            await asyncio.sleep(1.0)
            pending = sum(len(r) for r in self.retry.values())
            print(f"progress {time.monotonic() - t0:.1f} {self.sent} {self.accepted} {self.rejected} {pending}",
                  flush=True)

    async def run(self, t0: float) -> dict[str, Any]:
        import aiohttp

        duration = float(self.spec["duration"])
        t_end = t0 + duration
        conn = aiohttp.TCPConnector(limit=0, limit_per_host=self.spec["concurrency"] + 1, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60.0)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
            await asyncio.sleep(max(0.0, t0 - time.monotonic()))
            cpu0 = _cpu()
            prog = asyncio.get_running_loop().create_task(self._progress(t0, t_end))
            workers = [self._worker(session, lane, t0, t_end)
                       for lane in self.queues for _ in range(self.spec["concurrency"])]
            await asyncio.gather(*workers)
            t_done = time.monotonic()
            cpu1 = _cpu()
            prog.cancel()
        return {"hashes": self.hashes, "honest": self.honest, "account": self.account, "nonce": self.nonce,
                "first_send": self.first_send, "send": self.send, "resp": self.resp, "code": self.code,
                "attempts": self.attempts, "node": self.node, "t0": t0, "t_end": t_end, "t_done": t_done,
                "cpu_window_s": cpu1 - cpu0, "cpu_total_s": _cpu(), "requests": self.requests,
                "conn_errors": self.conn_errors, "exhausted": self.exhausted, "tick": self.tick,
                "retry_pending": sum(len(r) for r in self.retry.values()),
                "unsent": sum(len(q) for q in self.queues.values())}


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        spec = json.load(f)
    gen = Generator(spec)
    print(f"ready {len(gen.items)}", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 1
    t0 = float(line)
    try:
        import uvloop

        out = uvloop.run(gen.run(t0))
    except ImportError:  # pragma: no cover - uvloop is a node dependency
        out = asyncio.run(gen.run(t0))
    tmp = spec["out"] + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, spec["out"])
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
