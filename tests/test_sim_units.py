"""The simulator's parts on their own: scheduler, network, invariant checks."""
from __future__ import annotations

import random
import statistics

from mbi.consensus.types import genesis_qc, make_block
from mbi.sim.invariants import VoteLedger, check_chains, check_liveness
from mbi.sim.network import DelayModel, Network, Partition, random_groups
from mbi.sim.scheduler import Scheduler

GID = b"\x07" * 32


def test_scheduler_orders_by_time_then_by_insertion() -> None:
    s = Scheduler()
    s.at(2.0, 1, ("late",))
    s.at(1.0, 1, ("a",))
    s.at(1.0, 1, ("b",))
    s.at(0.5, 2, ("first",))
    got = []
    while (ev := s.pop()) is not None:
        got.append((ev[0], ev[2][0]))
    assert got == [(0.5, "first"), (1.0, "a"), (1.0, "b"), (2.0, "late")]
    assert s.now == 2.0 and s.processed == 4


def test_scheduler_never_goes_back_in_time() -> None:
    s = Scheduler()
    s.at(5.0, 0)
    s.pop()
    s.at(1.0, 0, ("past",))   # clamped to now
    s.after(-3.0, 0, ("neg",))
    assert s.pop() == (5.0, 0, ("past",))
    assert s.pop() == (5.0, 0, ("neg",))


def test_delays_are_random_and_positive_per_family() -> None:
    rng = random.Random(1)
    for fam in ("lognormal", "uniform", "exponential"):
        d = DelayModel(family=fam, scale=0.01, tail_p=0.0)
        xs = [d.sample(rng, 0) for _ in range(2000)]
        assert min(xs) >= 0.0
        assert len(set(xs)) > 1900           # not a constant
        assert 0.004 < statistics.median(xs) < 0.02


def test_partition_cuts_only_across_groups_and_heals() -> None:
    net = Network(random.Random(0), 4, DelayModel(tail_p=0.0), partitions=[Partition(1.0, 2.0, (0, 0, 1, 1))],
                  fault_end=3.0)
    assert net.route(0, 2, 1.5, None) == []          # across, during
    assert len(net.route(0, 1, 1.5, None)) == 1      # same side
    assert len(net.route(0, 2, 2.5, None)) == 1      # after the window
    assert net.stats.partitioned == 1


def test_round_partitions_apply_to_the_messages_round_until_the_heal() -> None:
    net = Network(random.Random(0), 3, DelayModel(tail_p=0.0), round_groups={5: (0, 1, 1)}, fault_end=10.0)
    assert net.route(0, 1, 1.0, 5) == []
    assert len(net.route(1, 2, 1.0, 5)) == 1
    assert len(net.route(0, 1, 1.0, 6)) == 1
    assert len(net.route(0, 1, 10.0, 5)) == 1        # healed


def test_drops_and_duplicates_follow_their_probabilities_and_stop_at_the_heal() -> None:
    net = Network(random.Random(3), 2, DelayModel(tail_p=0.0), drop_p=0.2, dup_p=0.1, fault_end=1.0)
    copies = [len(net.route(0, 1, 0.5, None)) for _ in range(10000)]
    assert 1700 < net.stats.dropped < 2300
    assert 600 < net.stats.duplicated < 1000
    assert copies.count(2) == net.stats.duplicated
    before = (net.stats.dropped, net.stats.duplicated)
    assert all(len(net.route(0, 1, 1.0, None)) == 1 for _ in range(1000))
    assert (net.stats.dropped, net.stats.duplicated) == before


def test_random_groups_split_and_keep_twins_apart() -> None:
    rng = random.Random(9)
    for _ in range(500):
        g = random_groups(rng, 6, apart=[(1, 5), (0, 4)], max_groups=3)
        assert len(set(g)) >= 2 and g[1] != g[5] and g[0] != g[4]


def _chain(tag: bytes, n: int, parent: bytes = GID, start: int = 1) -> list:
    out, qc = [], genesis_qc(GID)
    for h in range(start, start + n):
        b = make_block(1, height=h, round=h, timestamp_us=h, author=0, parent_id=parent, qc=qc,
                       payload=tag + bytes([h]), exec_height=0, exec_root=b"")
        out.append(b)
        parent = b.id
    return out


def test_chains_that_are_prefixes_of_one_chain_pass() -> None:
    c = _chain(b"a", 5)
    assert check_chains(1, GID, {0: c, 1: c[:3], 2: []}) == []


def test_conflicting_commit_at_one_height_is_found() -> None:
    a, b = _chain(b"a", 3), _chain(b"b", 3)
    v = check_chains(7, GID, {0: a, 1: a[:1] + b[1:]})
    kinds = {x.kind for x in v}
    assert "conflicting_commit" in kinds or "not_a_chain" in kinds
    v = check_chains(7, GID, {0: a, 1: b})
    assert [x.kind for x in v] == ["conflicting_commit"] and v[0].seed == 7 and "height 1" in v[0].detail


def test_gaps_and_broken_links_are_not_a_chain() -> None:
    a = _chain(b"a", 4)
    assert [x.kind for x in check_chains(1, GID, {0: [a[0], a[2]]})] == ["not_a_chain"]
    assert [x.kind for x in check_chains(1, GID, {0: _chain(b"x", 2, parent=b"\x01" * 32)})] == ["not_a_chain"]


def test_vote_ledger_flags_honest_double_votes_only() -> None:
    led = VoteLedger([0, 1])
    led.record(0, 3, b"A" * 32, b"")
    led.record(0, 3, b"A" * 32, b"")       # the same vote again (retransmit/duplicate)
    led.record(1, 3, b"A" * 32, b"")
    led.record(1, 4, b"B" * 32, b"")
    led.record(2, 3, b"A" * 32, b"")
    led.record(2, 3, b"B" * 32, b"")       # a Byzantine validator: not our business
    assert led.violations(5) == []
    led.record(1, 3, b"C" * 32, b"")
    v = led.violations(5)
    assert [(x.kind, x.seed) for x in v] == [("double_vote", 5)] and "round 3" in v[0].detail


def test_liveness_needs_every_honest_validator_k_past_the_heal() -> None:
    assert check_liveness(1, 10, 3, {0: 13, 1: 20}, 5.0) == []
    v = check_liveness(1, 10, 3, {0: 13, 1: 12}, 5.0)
    assert [x.kind for x in v] == ["liveness"] and "{1: 12}" in v[0].detail
