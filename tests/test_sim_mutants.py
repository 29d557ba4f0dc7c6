"""The checks can fail: with one safety rule switched off, the simulator finds a violation.

Each mutant (mbi/sim/mutants.py) runs under Byzantine scenarios (twins or an equivocating
leader, Twins-style round partitions) until a safety invariant breaks; it must break within
a few hundred seeds. Liveness failures do not count here: only a safety violation proves
the rule was load-bearing.
"""
from __future__ import annotations

import pytest

from mbi.consensus import SafetyRules
from mbi.sim import Simulation, build_scenario, run_seed

SAFETY = {"conflicting_commit", "not_a_chain", "double_vote"}
BUDGET = 300


def first_safety_violation(mutant: str, n: int, flags: dict) -> tuple[int, str] | None:
    for seed in range(BUDGET):
        r = run_seed(build_scenario(seed, n, mutant=mutant, **flags))
        hit = [v for v in r.violations if v.kind in SAFETY]
        if hit:
            return seed, hit[0].kind
    return None


@pytest.mark.parametrize("mutant,n,flags,kinds", [
    # §4.1 (a) off: a validator restarted right after voting votes again in the same round
    # for the other twin's block.
    ("voted_round", 4, dict(twins=1, partitions=True, crashes=True, drop=0.02), {"double_vote"}),
    # §4.1 (b) off: after a timeout, the equivocating leader's fork with an older QC than
    # the TC's gets a quorum and commits beside a block the cut-off leader committed.
    ("extends", 4, dict(equivocate=True, partitions=True), {"conflicting_commit", "not_a_chain"}),
    # §3.5 one-chain commit: the leader that alone saw a QC commits its block; the others
    # time out past it and commit a sibling.
    ("commit_one", 4, dict(twins=1, partitions=True, crashes=True, drop=0.02), {"conflicting_commit", "not_a_chain"}),
    ("commit_one", 4, dict(equivocate=True, partitions=True), {"conflicting_commit", "not_a_chain"}),
])
def test_mutant_is_caught_within_a_few_hundred_seeds(mutant: str, n: int, flags: dict, kinds: set) -> None:
    found = first_safety_violation(mutant, n, flags)
    assert found is not None, f"{mutant}: no safety violation in {BUDGET} seeds"
    assert found[1] in kinds, found


def test_the_unmutated_engine_passes_the_same_scenarios() -> None:
    for flags in (dict(twins=1, partitions=True, crashes=True, drop=0.02), dict(equivocate=True, partitions=True)):
        for seed in range(60):
            r = run_seed(build_scenario(seed, 4, **flags))
            assert not [v for v in r.violations if v.kind in SAFETY], (seed, r.violations)


class _CountingRules(SafetyRules):
    __slots__ = ()
    decisive = 0

    def timeout_qc_ok(self, qc_round: int) -> bool:
        ok = super().timeout_qc_ok(qc_round)
        if not ok:
            type(self).decisive += 1
        return ok


def test_timeout_qc_check_is_never_decisive_for_the_core() -> None:
    """§4.2 (a) cannot be caught by a simulation: the core always times out with its own
    high QC, which is never below the QC round it voted on (both rise together and are
    persisted together), so `timeout_qc_ok` never returns False and switching it off
    ("timeout_qc" mutant) changes nothing. This pins that claim: it fails the day the core
    asks the check something it would refuse."""
    _CountingRules.decisive = 0
    for seed in range(80):
        sim = Simulation(build_scenario(seed, 4, twins=1, partitions=True, crashes=True, drop=0.05))
        sim.rules = _CountingRules
        sim.run()
    assert _CountingRules.decisive == 0
