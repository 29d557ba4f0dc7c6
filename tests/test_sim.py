"""The simulator end to end: the CI seed sweep, determinism, fault injection, `mbi sim`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from mbi.cli import main
from mbi.sim import build_scenario, run_seed

sys.path.insert(0, os.path.dirname(__file__))
import sim_sweep  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ci_sweep_of_1000_mixed_fault_seeds_keeps_every_invariant() -> None:
    results, faults = sim_sweep.sweep(0, 1000)
    assert len(results) == 1000
    bad = [(r.seed, v.kind, v.detail) for r in results for v in r.violations if v.kind not in sim_sweep.KNOWN]
    assert bad == []
    # Every fault kind was actually injected, in quantity.
    for k in ("dropped", "duplicated", "partitions", "partitioned_messages", "crashes", "amnesia",
              "equivocations", "lost_to_crash"):
        assert faults[k] > 100, (k, faults[k])
    assert faults["twins"] >= 300
    # Progress: the healed stretch of every run commits (liveness is checked per run above).
    assert sum(r.committed_min for r in results) > 3000
    # About half the seeds ask for 1-3 blocks per sync request, so catching up often takes
    # a prefix of a commit group and its proof headers (docs/consensus.md §3.6).
    assert sum(r.stats["sync_proofs_served"] for r in results) > 50


def test_a_seed_replays_bit_for_bit_and_seeds_differ() -> None:
    kw = dict(twins=1, partitions=True, crashes=True, drop=0.05)
    a = run_seed(build_scenario(17, 4, **kw))
    b = run_seed(build_scenario(17, 4, **kw))
    c = run_seed(build_scenario(18, 4, **kw))
    assert a.digest == b.digest and a.events == b.events and a.heights == b.heights and a.faults == b.faults
    assert a.digest != c.digest


def test_replay_is_identical_across_processes_and_hash_seeds() -> None:
    cmd = [sys.executable, "-m", "mbi.cli", "sim", "--validators", "4", "--seeds", "5:7", "--equivocate",
           "--partitions", "--crashes", "--drop", "0.03", "--digests"]
    outs = []
    for hs in ("0", "4242"):
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": hs},
                           timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append([ln for ln in p.stdout.splitlines() if ln.startswith("seed ")])
    assert len(outs[0]) == 2 and outs[0] == outs[1]


@pytest.mark.parametrize("flags,key", [
    (dict(drop=0.1), "dropped"),
    (dict(drop=0.1), "duplicated"),
    (dict(partitions=True), "partitions"),
    (dict(partitions=True), "partitioned_messages"),
    (dict(twins=1), "twins"),
    (dict(crashes=True), "crashes"),
    (dict(amnesia=True), "amnesia"),
    (dict(equivocate=True), "equivocations"),
])
def test_each_fault_kind_is_injected(flags: dict, key: str) -> None:
    total = Counter()
    for s in range(6):
        total.update(run_seed(build_scenario(s, 4, **flags)).faults)
    assert total[key] > 0
    # ... and only what was asked for
    if not flags.get("twins"):
        assert total["twins"] == 0
    if not flags.get("amnesia"):
        assert total["amnesia"] == 0
    if not flags.get("equivocate"):
        assert total["equivocations"] == 0


def test_fault_free_runs_commit_with_no_reports() -> None:
    for s in range(5):
        r = run_seed(build_scenario(s, 4))
        assert r.violations == [] and r.reports == {} and r.committed_min >= 3
        assert r.faults["dropped"] == r.faults["crashes"] == r.faults["partitioned_messages"] == 0


def test_votes_a_leader_sends_itself_reach_the_double_vote_ledger() -> None:
    from mbi.sim import Simulation
    sim = Simulation(build_scenario(2, 4))
    sim.run()
    seen = sim.ledger._seen
    # In round r the next leader, validator (r + 1) % 4, collects its own vote internally.
    self_votes = [(v, r) for (v, r) in seen if v == (r + 1) % 4]
    assert len(self_votes) >= 3
    assert all((v, r) in seen for v in range(4) for r in range(1, 4))


def test_crashed_validators_catch_up_through_sync() -> None:
    served = blocks = 0
    for s in range(8):
        r = run_seed(build_scenario(s, 4, crashes=True, partitions=True))
        served += r.stats["syncs_served"]
        blocks += r.stats["sync_blocks_served"]
        assert r.stats["persists"] > 0
    assert served > 0 and blocks > 0


def test_twins_are_byzantine_and_split_by_round_partitions() -> None:
    sc = build_scenario(3, 7, twins=2)
    assert sorted(sc.roles.values()) == ["twin", "twin"] and sc.instances() == 9
    assert sc.round_groups
    for i, v in enumerate(sc.twins()):
        split = [r for r, g in sc.round_groups.items() if g[v] != g[7 + i]]
        assert len(split) >= len(sc.round_groups) // 2   # the copies sit apart in most cut rounds


def test_byzantine_budget_is_at_most_f() -> None:
    for s in range(20):
        assert len(build_scenario(s, 4, twins=1, amnesia=True, equivocate=True).roles) == 1
        assert len(build_scenario(s, 7, twins=1, amnesia=True, equivocate=True).roles) == 2
    with pytest.raises(ValueError, match="exceed f"):
        build_scenario(0, 4, twins=2)


def test_cli_json_and_exit_code(tmp_path, capsys) -> None:
    path = tmp_path / "out.json"
    rc = main(["sim", "--validators", "4", "--seeds", "0:6", "--twins", "1", "--drop", "0.05", "--partitions",
               "--crashes", "--json", str(path)])
    out = capsys.readouterr().out
    assert rc == 0 and "committed_min" in out and "violations" in out
    data = json.loads(path.read_text())
    assert {"runs", "violations", "committed_min", "committed_total", "faults"} <= set(data)
    assert data["runs"] == 6 and data["violations"] == []
    assert data["committed_min"] >= 3 and data["committed_total"] >= 6 * data["committed_min"]
    for k in ("dropped", "partitions", "twins", "crashes", "amnesia"):
        assert k in data["faults"]
    assert data["faults"]["twins"] == 6 and data["faults"]["crashes"] > 0


def test_cli_violation_exits_nonzero_with_seed_and_replay_command(capsys) -> None:
    rc = main(["sim", "--validators", "4", "--seeds", "0:3", "--equivocate", "--partitions", "--mutant", "extends"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "VIOLATION seed 0 conflicting_commit" in err
    assert "replay: mbi sim --validators 4 --seeds 0:1 --partitions --equivocate --mutant extends" in err


def test_cli_rejects_bad_arguments(capsys) -> None:
    assert main(["sim", "--validators", "4", "--twins", "2", "--seeds", "0:1"]) == 2
    assert "exceed f" in capsys.readouterr().err
    for bad in (["--seeds", "5:5"], ["--seeds", "x"], ["--drop", "1.5"]):
        with pytest.raises(SystemExit) as e:
            main(["sim", *bad])
        assert e.value.code == 2


def test_crash_recovery_keeps_liveness_when_every_copy_of_a_certified_block_crashed() -> None:
    """Every validator crashed while a certified block was uncommitted; the restarted cores
    take back the block tree their driver stored before each PersistSafety."""
    for n, seed in ((4, 4), (1, 0), (2, 0)):
        r = run_seed(build_scenario(seed, n, crashes=True))
        assert r.violations == [] and r.faults["crashes"] > 0, (n, seed, r.violations)


def test_restarting_without_the_stored_tree_loses_liveness_and_is_diagnosed() -> None:
    """The same run with a driver that forgets the tree: the diagnosis names the cause."""
    from mbi.sim import Simulation
    from mbi.sim.node import SimNode

    class TreelessNode(SimNode):
        __slots__ = ()

        def start(self, now, safety):
            self.tree = {}
            super().start(now, safety)

    sim = Simulation(build_scenario(0, 1, crashes=True))
    sim.nodes[0].__class__ = TreelessNode
    kinds = [v.kind for v in sim.run().violations]
    assert kinds == ["liveness_lost_block"]


def test_a_byzantine_leader_cannot_halt_honest_validators_with_a_made_up_state_root() -> None:
    r = run_seed(build_scenario(0, 4, equivocate=True, equivocation=("bad_root",)))
    assert [v.kind for v in r.violations] == []


def test_cli_equivocation_modes_are_chosen_and_replayed(capsys) -> None:
    rc = main(["sim", "--validators", "4", "--seeds", "0:1", "--equivocation", "fork", "--partitions",
               "--mutant", "extends"])
    err = capsys.readouterr().err
    assert rc == 1 and "VIOLATION seed 0 conflicting_commit" in err
    assert "replay: mbi sim --validators 4 --seeds 0:1 --partitions --equivocation fork --mutant extends" in err
    with pytest.raises(SystemExit):
        main(["sim", "--equivocation", "nonsense"])


def test_a_core_that_skips_persisting_is_caught() -> None:
    from mbi.consensus import Core
    from mbi.sim import Simulation

    class ForgetfulCore(Core):
        def _persist(self) -> None:   # votes and timeouts leave with nothing made durable
            pass

    sim = Simulation(build_scenario(1, 4))
    sim.core_class = ForgetfulCore
    kinds = {v.kind for v in sim.run().violations}
    assert "unpersisted_vote" in kinds
    assert "unpersisted_vote" not in {v.kind for v in run_seed(build_scenario(1, 4)).violations}
