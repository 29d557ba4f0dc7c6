"""The load generator's pacing with a target rate (bench/cluster/generator.py), on a
simulated clock: requests are batches of a tick's worth of due items, no item is sent
before it is due, none waits for its batch more than a tick, the lane keeps its rate,
and an item's submit time is when it fell due."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import generator as G


def _gen(monkeypatch, rate: float, items: int, batch: int = 200, tick: float = 0.01) -> G.Generator:
    rows = [(i.to_bytes(32, "big"), b"item", True, i % 7, i // 7) for i in range(items)]
    monkeypatch.setattr(G, "load_lanes", lambda files, lanes: {0: rows})
    return G.Generator({"urls": ["http://127.0.0.1:1"], "lanes": {"0": [0]}, "files": [], "batch": batch,
                        "rate": rate, "tick": tick})


def _drive(g: G.Generator, t0: float, until: float) -> list[tuple[float, list[int]]]:
    """One worker: take what _take gives, else sleep until _next_due (sending is instant)."""
    now, sent = t0, []
    while now < until:
        ids = g._take(0, now, t0)
        if ids:
            sent.append((now, ids))
            continue
        if not g.queues[0]:
            break
        now = g._next_due(0, now, t0)
    return sent


@pytest.mark.parametrize("rate,tick,want", [(5000.0, 0.01, 50), (1000.0, 0.01, 10), (50.0, 0.01, 1),
                                            (100_000.0, 0.01, 200)])
def test_rate_mode_sends_tick_sized_batches_of_due_items(monkeypatch, rate, tick, want):
    g = _gen(monkeypatch, rate, items=int(rate * 2) + 10, tick=tick)
    assert g.want[0] == want
    t0 = 1000.0
    sent = _drive(g, t0, t0 + 1.0)
    taken = [i for _, ids in sent for i in ids]
    assert taken == list(range(len(taken)))  # in order, none twice
    for now, ids in sent:
        for i in ids:
            due = t0 + i / rate
            assert g.due_at[i] == pytest.approx(due)
            assert due <= now + 1e-9                # never early
            assert now - due <= tick + 1e-3 + 1 / rate  # never waits much more than a tick
        assert len(ids) >= want or now - g.due_at[ids[0]] >= tick - 1e-9
    # the lane's rate holds: about rate × 1 s items went out in the first second
    assert abs(len(taken) - rate) <= want + 1
    # requests are batches: about rate / want of them, not one per item
    assert len(sent) <= math.ceil(rate / want) + 2


def test_submit_time_is_the_due_time_with_a_rate_and_the_send_time_without(monkeypatch):
    g = _gen(monkeypatch, 1000.0, items=50)
    t0 = 50.0
    ids = g._take(0, t0 + 0.0095, t0)
    assert ids == list(range(10))
    # the first submit time _worker records: the due time, however late the send
    assert g.submit_time(0, t0 + 0.0095) == pytest.approx(t0)
    assert g.submit_time(9, t0 + 0.0095) == pytest.approx(t0 + 0.009)
    open_loop = _gen(monkeypatch, 0.0, items=50)
    assert open_loop._take(0, 7.0, 0.0) == list(range(50))
    assert open_loop.submit_time(3, 7.25) == 7.25
