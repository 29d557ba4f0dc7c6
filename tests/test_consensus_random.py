"""Four Cores on a seeded, lossy, reordering delivery loop (independent of mbi.sim).

Each step delivers a random queued message (or drops it with probability p), and now and
then fires the timers. The invariants: no two cores commit different blocks at a height,
each core's commits are one chain, and after the faults stop (no loss, timers firing)
every core commits again within a bounded number of timer rounds.
"""
from __future__ import annotations

import random

import pytest

from consensus_fixtures import CHAIN, Cluster, Net, serve_range
from mbi.consensus import wire
from mbi.consensus.events import (
    Broadcast, Commit, MessageReceived, PayloadReady, PayloadVerified, RequestPayload, Send, ServeSync, SetTimer,
    TimerFired, VerifyPayload,
)
from mbi.consensus.types import Vote

NET = Net(4)


def _lossy_run(c: Cluster, rng: random.Random, steps: int, p_drop: float, p_dup: float) -> None:
    for _ in range(steps):
        if not c.queue or rng.random() < 0.02:
            live = [i for i in range(4) if i in c.timers]
            c.now = max(c.now, min(c.timers[i].deadline for i in live))
            for i in live:
                if c.timers[i].deadline <= c.now:
                    c.fire(i)
            continue
        k = rng.randrange(min(len(c.queue), 8))  # reorder within a window
        src, dst, ev = c.queue[k]
        del c.queue[k]
        if isinstance(ev, MessageReceived) and src != dst:
            if rng.random() < p_drop:
                continue
            if rng.random() < p_dup:
                c.queue.append((src, dst, ev))
        c.now += rng.random() * 0.01
        c.carry(dst, c.cores[dst].handle(ev, c.now))


def _check_safety(c: Cluster) -> None:
    by_height: dict[int, bytes] = {}
    for i in range(4):
        prev = NET.gid
        for h, (b, _) in enumerate(c.commits.get(i, []), start=1):
            assert b.height == h and b.parent_id == prev, (i, h)
            prev = b.id
            assert by_height.setdefault(h, b.id) == b.id, f"two blocks committed at height {h}"
    # no validator signed two different votes in one round
    seen: dict[tuple[int, int], bytes] = {}
    for i, a in c.log:
        if isinstance(a, (Send, Broadcast)):
            m = wire.decode_message(a.data, NET.vs, CHAIN)
            if isinstance(m, Vote):
                assert seen.setdefault((m.voter, m.round), m.block_id) == m.block_id


@pytest.mark.parametrize("seed", range(12))
def test_lossy_reordering_network_is_safe_and_recovers(seed):
    rng = random.Random(seed)
    # odd seeds: 1 KB payloads and sync answers of at most two blocks (or one and ten proof
    # headers), so catching up after losses often gets a prefix of a commit group and its
    # proof (docs/consensus.md §3.6)
    c = Cluster.of(NET, sync_budget=3500, payload_of=lambda r: b"%06d" % r + b"." * 1000) if seed % 2 else Cluster.of(NET)
    _lossy_run(c, rng, 1500, p_drop=0.1 + 0.3 * rng.random(), p_dup=0.1)
    _check_safety(c)
    heights = [core.committed_height for core in c.cores]
    # heal: no loss; everyone must commit beyond the best height seen so far
    goal = max(heights) + 2
    _lossy_run(c, rng, 0, 0, 0)
    ok = c.run_until(lambda: all(core.committed_height >= goal for core in c.cores), rounds=40)
    _check_safety(c)
    assert ok, (seed, heights, [core.committed_height for core in c.cores], [core.round for core in c.cores])


# ------------------------------------------------------------------ twins (Bano et al.): one key, two nodes

class _TwinsNet:
    """n validators plus a second node holding validator 0's key; partitions are random
    two-way splits redrawn every 300 steps; in the last 30 % the honest nodes are together
    and the twins cut off from them. Sync is served like a node driver would."""

    def __init__(self, seed: int, n: int = 4) -> None:
        self.rng = random.Random(seed)
        self.net = Net(n)
        self.keys = list(range(n)) + [0]
        self.cores = [self.net.core(k) for k in self.keys]
        self.queue: list = []
        self.timers: dict[int, object] = {}
        self.commits: dict[int, list] = {x: [] for x in range(len(self.keys))}
        self.cqcs: dict[int, list] = {x: [] for x in range(len(self.keys))}
        self.now = 100.0
        for x, core in enumerate(self.cores):
            self.carry(x, core.start(self.now))

    def _to_key(self, x: int, key: int, data: bytes) -> None:
        for y, k in enumerate(self.keys):
            if k == key and y != x:
                self.queue.append((x, y, MessageReceived(self.keys[x], data)))

    def carry(self, x: int, actions) -> None:
        for a in actions:
            if isinstance(a, Send):
                self._to_key(x, a.validator if a.validator is not None else a.to_peer, a.data)
            elif isinstance(a, Broadcast):
                self.queue += [(x, y, MessageReceived(self.keys[x], a.data)) for y in range(len(self.keys)) if y != x]
            elif isinstance(a, RequestPayload):
                self.queue.append((x, x, PayloadReady(a.round, b"node %d round %d" % (x, a.round))))
            elif isinstance(a, VerifyPayload):
                self.queue.append((x, x, PayloadVerified(a.block.id, True)))
            elif isinstance(a, SetTimer):
                self.timers[x] = a
            elif isinstance(a, Commit):
                self.commits[x].extend(a.blocks)
                self.cqcs[x].append((a.blocks[-1].height, a.commit_qc))
            elif isinstance(a, ServeSync):
                # a budget that sometimes holds only part of a commit group (a prefix and its proof)
                budget = self.rng.choice([1 << 30, 1300, 1900])
                store = {b.height: b for b in self.commits[x]}
                plan = serve_range(store, self.cqcs[x], a, budget)
                self._to_key(x, a.peer, wire.encode_sync_response(plan.blocks, plan.qc,
                                                                  a.certified if plan.complete else (),
                                                                  a.high_qc, plan.proof))

    def run(self, steps: int) -> None:
        nodes = range(len(self.keys))
        side = {x: True for x in nodes}
        for step in range(steps):
            if step % 300 == 0:
                side = {x: self.rng.random() < 0.5 for x in nodes}
                if step >= 0.7 * steps:
                    side = {x: x < self.net.n for x in nodes}
                    side[0] = False  # both twins away from the honest three
            if not self.queue or self.rng.random() < 0.02:
                self.now = max(self.now, min(t.deadline for t in self.timers.values()))
                for x in nodes:
                    if self.timers[x].deadline <= self.now:
                        self.carry(x, self.cores[x].handle(TimerFired(self.timers[x].round), self.now))
                continue
            src, dst, ev = self.queue.pop(self.rng.randrange(min(len(self.queue), 10)))
            if src != dst and side[src] != side[dst]:
                continue
            self.now += self.rng.random() * 0.01
            self.carry(dst, self.cores[dst].handle(ev, self.now))


@pytest.mark.parametrize("seed", range(6))
def test_twins_never_make_honest_nodes_fork_and_honest_nodes_progress(seed):
    t = _TwinsNet(seed)
    t.run(2000)
    by_height: dict[int, bytes] = {}
    for x in (1, 2, 3):  # the honest nodes
        prev = t.net.gid
        for h, b in enumerate(t.commits[x], start=1):
            assert b.height == h and b.parent_id == prev
            prev = b.id
            assert by_height.setdefault(h, b.id) == b.id, f"seed {seed}: honest nodes committed two blocks at {h}"
    heights = [t.cores[x].committed_height for x in (1, 2, 3)]
    assert min(heights) >= 5, heights  # the last 30 % is healed for the honest three
