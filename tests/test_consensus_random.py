"""Four Cores on a seeded, lossy, reordering delivery loop (independent of mbi.sim).

Each step delivers a random queued message (or drops it with probability p), and now and
then fires the timers. The invariants: no two cores commit different blocks at a height,
each core's commits are one chain, and after the faults stop (no loss, timers firing)
every core commits again within a bounded number of timer rounds.
"""
from __future__ import annotations

import random

import pytest

from consensus_fixtures import CHAIN, Cluster, Net
from mbi.consensus import wire
from mbi.consensus.events import MessageReceived
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
        data = getattr(a, "data", None)
        if isinstance(data, bytes) and type(a).__name__ in ("Send", "Broadcast"):
            m = wire.decode_message(data, NET.vs, CHAIN)
            if isinstance(m, Vote):
                assert seen.setdefault((m.voter, m.round), m.block_id) == m.block_id


@pytest.mark.parametrize("seed", range(12))
def test_lossy_reordering_network_is_safe_and_recovers(seed):
    rng = random.Random(seed)
    c = Cluster.of(NET)
    _lossy_run(c, rng, 1500, p_drop=0.1 + 0.3 * rng.random(), p_dup=0.1)
    _check_safety(c)
    heights = [core.committed_height for core in c.cores]
    # heal: no loss; everyone must commit beyond the best height seen so far
    goal = max(heights) + 2
    _lossy_run(c, rng, 0, 0, 0)
    ok = c.run_until(lambda: all(core.committed_height >= goal for core in c.cores), rounds=40)
    _check_safety(c)
    assert ok, (seed, heights, [core.committed_height for core in c.cores], [core.round for core in c.cores])
