"""`mbi bench e2e`: a tiny real run (4 validators, 8 s, low rate, 2% bad signatures) whose
accounting must come out exact, and the harness's parts on inputs written out by hand."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cluster import analysis
from bench.cluster.load import lanes_for
from bench.cluster.monitor import LedgerPoller, parse_metrics
from bench.cluster.network import CLK_TCK, cpu_ticks


def _mbi(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mbi", *args], check=False, cwd=str(REPO), capture_output=True, text=True,
                          timeout=timeout)


def test_tiny_e2e_run_accounts_for_every_transaction(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    res = tmp_path / "results"
    r = _mbi("bench", "e2e", "--validators", "4", "--duration", "8", "--rate", "150", "--accounts", "60",
             "--invalid-rate", "0.02", "--json", str(out), "--results", str(res), "--plain", "--quiet",
             timeout=150)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rep = json.loads(out.read_text())
    for k in ("tps", "latency_ms", "submitted", "accepted", "committed", "lost", "duplicated", "blocks_per_s",
              "cpu", "config", "reference"):
        assert k in rep, k
    assert set(rep["latency_ms"]) >= {"p50", "p90", "p99"}
    # 150/s for 8 s, about 2% of it invalid twins on top of the honest ones.
    assert 1000 <= rep["submitted"] <= 1300, rep["submitted"]
    assert rep["submitted_invalid"] > 0
    honest = rep["submitted"] - rep["submitted_invalid"]
    assert rep["accepted"] == honest  # every honest payment is valid and the pools have room
    assert rep["committed"] == rep["accepted"]
    assert rep["lost"] == 0 and rep["duplicated"] == 0 and rep["stranded"] == 0
    assert rep["invalid_committed"] == 0 and rep["diverged_ledgers"] == 0
    # Each twin is refused: for its signature (93), or, when its honest sibling has already
    # committed by the time it is checked, for its nonce (99), which the ancestor chain checks
    # first (docs/ledger.md). Either way none commits (invalid_committed above).
    codes = rep["answer_codes"]
    assert codes.get("93", 0) > 0
    assert codes.get("93", 0) + codes.get("99", 0) == rep["submitted_invalid"], codes
    assert rep["tps"] > 0 and rep["blocks_per_s"] > 0
    assert rep["latency_ms"]["p50"] is not None and 0 < rep["latency_ms"]["p50"] <= rep["latency_ms"]["p99"]
    assert len(rep["cpu"]["validators_cores"]) == 4 and all(c > 0 for c in rep["cpu"]["validators_cores"])
    assert rep["reference"]["libsodium_verify_per_s"] > 1000 and rep["reference"]["execute_per_s"] > 1000
    assert rep["config"]["validators"] == 4 and rep["config"]["rate"] == 150
    # each validator's share of the cores (mbi.node.devnet.shared_host_config)
    assert rep["config"]["kernel_threads"] == max(1, len(os.sched_getaffinity(0)) // 4)
    assert (res / "tps.png").stat().st_size > 1000 and (res / "latency.png").stat().st_size > 1000
    assert json.loads((res / "report.json").read_text())["committed"] == rep["committed"]


def test_bad_flags_are_one_line_errors() -> None:
    r = _mbi("bench", "e2e", "--validators", "2", "--kill-at", "3", "--duration", "5")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "--kill-at needs at least 4 validators" in r.stderr
    r = _mbi("bench", "e2e", "--invalid-rate", "1.5")
    assert r.returncode == 2 and "must be in [0, 1)" in r.stderr


def test_outside_a_checkout_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from mbi import benchcli
    from mbi.cli import build_parser

    monkeypatch.setattr(benchcli, "_repo_root", lambda: None)
    args = build_parser().parse_args(["bench", "e2e", "--duration", "1"])
    assert args.fn(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a source checkout" in err


def test_parse_metrics_reads_counters_and_gauges() -> None:
    text = ("# HELP mbi_transactions_committed_total transactions\n"
            "# TYPE mbi_transactions_committed_total counter\n"
            "mbi_transactions_committed_total 1234.0\n"
            "mbi_blocks_committed_total 56.0\n"
            "mbi_mempool_size 7.0\n"
            "mbi_height 55.0\n"
            "mbi_block_transactions_bucket{le=\"10.0\"} 3.0\n")
    assert parse_metrics(text) == {"mbi_transactions_committed": 1234.0, "mbi_blocks_committed": 56.0,
                                   "mbi_mempool_size": 7.0, "mbi_height": 55.0}


def test_cpu_ticks_match_os_times() -> None:
    x = 0
    for i in range(3_000_000):  # burn some CPU so both clocks move
        x += i
    t = cpu_ticks(os.getpid())
    ot = os.times()
    assert t is not None
    assert abs(t / CLK_TCK - (ot.user + ot.system)) < 0.05
    assert cpu_ticks(2**22 + 12345) is None  # no such process


def test_lanes_keep_each_account_on_one_node_and_one_generator() -> None:
    seen: dict[int, tuple[int, int]] = {}
    for g in range(2):
        for node, accts in lanes_for(10, 4, 2, g).items():
            for a in accts:
                assert a not in seen
                seen[a] = (node, g)
    assert sorted(seen) == list(range(10))
    assert seen[0] == (0, 0) and seen[5] == (1, 1) and seen[6] == (2, 1) and seen[9] == (1, 0)


def _scan(node: int, ledgers: dict[int, list[bytes]]) -> analysis.Scan:
    seq_of: dict[bytes, int] = {}
    dup = 0
    for q in sorted(ledgers):
        for h in ledgers[q]:
            if h in seq_of:
                dup += 1
            else:
                seq_of[h] = q
    return analysis.Scan(node, max(ledgers), seq_of, dup, {q: len(v) for q, v in ledgers.items()},
                         {q: bytes([q]) * 32 for q in ledgers})


def test_accounting_classifies_lost_stranded_and_duplicated() -> None:
    H = [bytes([i]) * 32 for i in range(8)]
    # account 0: nonces 1, 2, 3 accepted; 1 and 2 committed, 3 never: lost.
    # account 1: nonce 1 refused (code 114 to the end), nonce 2 accepted, not committed: stranded.
    # account 2: nonce 1 committed, and its invalid twin refused with 93.
    # account 3: nonce 1 committed in ledgers 3 and 4 on node 0: duplicated.
    g = {"hashes": [H[0], H[1], H[2], H[3], H[4], H[5], H[6], H[7]],
         "honest": [True, True, True, True, True, True, False, True],
         "account": [0, 0, 0, 1, 1, 2, 2, 3],
         "nonce": [1, 2, 3, 1, 2, 1, 1, 1],
         "first_send": [10.0, 10.1, 10.2, 10.0, 10.1, 10.3, 10.3, 10.4],
         "send": [10.0, 10.1, 10.2, 10.0, 10.1, 10.3, 10.3, 10.4],
         "resp": [10.05] * 8,
         "code": [0, 0, 0, 114, 0, 0, 93, 0],
         "attempts": [1, 1, 1, 3, 1, 1, 1, 1],
         "node": [0] * 8}
    node0 = _scan(0, {1: [], 2: [H[0], H[1]], 3: [H[5], H[7]], 4: [H[7]]})
    node1 = _scan(1, {1: [], 2: [H[0], H[1]], 3: [H[5], H[7]]})
    poller = LedgerPoller([])
    poller.tracks = []
    from bench.cluster.monitor import SeqTrack

    for times, seqs in (([9.0, 10.5, 11.0, 11.2], [1, 2, 3, 4]), ([9.0, 10.6, 10.9], [1, 2, 3])):
        tr = SeqTrack()
        for t, s in zip(times, seqs):
            tr.add(t, s)
        poller.tracks.append(tr)
    acc = analysis.account(g, [node0, node1], poller, 10.0, 12.0)
    assert acc["submitted"] == 8 and acc["submitted_invalid"] == 1
    assert acc["accepted"] == 6  # all honest but the 114 one
    assert acc["committed"] == 4  # H0, H1, H5, H7
    assert acc["lost"] == 1 and acc["_lost_hashes"] == [H[2].hex()]
    assert acc["stranded"] == 1
    assert acc["duplicated"] == 1  # H7 twice on node 0
    assert acc["invalid_committed"] == 0 and acc["diverged_ledgers"] == 0
    # Commit times: seq 2 first seen at 10.5 (node 0), seq 3 at 10.9 (node 1).
    # Latencies: H0 0.5, H1 0.4, H5 0.6, H7 0.5 s.
    assert acc["latency_ms"]["p50"] == 500.0
    assert math.isclose(acc["latency_ms"]["max"], 600.0)
    assert acc["tps"] == 2.0  # 4 commits in the 2 s window
    assert acc["answer_codes"] == {"0": 6, "93": 1, "114": 1}


def test_profile_split_charges_the_deepest_matching_frame(tmp_path: Path) -> None:
    from bench.cluster.profile_split import split

    raw = tmp_path / "p.txt"
    raw.write_text(
        "Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83);"
        "Chain.execute (mbi/node/chain.py:213);Store.commit_block (mbi/store/db.py:718) 5\n"
        "Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83);"
        "Chain.execute (mbi/node/chain.py:213);Ledger.close (mbi/ledger/chain.py:110) 3\n"
        "_run_module_as_main (<frozen runpy>:198);ApiIngress._admit (mbi/api/ingress.py:180);"
        "validate (mbi/ledger/validity.py:64) 2\n"
        "_run_module_as_main (<frozen runpy>:198);Runner.run (asyncio/runners.py:118) 7\n"
        "Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81) 4\n")
    r = split(str(raw))
    assert r["samples"] == 21 and r["busy_samples"] == 10
    areas = {k: v["samples"] for k, v in r["areas"].items()}
    assert areas == {"idle": 11, "store": 5, "execute": 3, "http ingest (validate)": 2}
    assert r["areas"]["store"]["share_of_busy"] == 0.5
    assert r["threads"]["event loop"]["samples"] == 9


def test_kill_figures_rate_while_down_is_within_the_window() -> None:
    from bench.cluster.e2e import _kill_figures
    from bench.cluster.monitor import SeqTrack

    class Poller:
        tracks = [SeqTrack() for _ in range(4)]

    t0, t_kill, t1 = 100.0, 115.0, 125.0
    commits = [t0 + i / 100 for i in range(2500)]  # 100 tx/s through the window, nothing after it
    for i, tr in enumerate(Poller.tracks):
        for k in range(26):
            if i != 3 or t0 + k < t_kill:
                tr.add(t0 + k, k)
    # restarted only after the window (--restart-after longer than what is left of it)
    k = _kill_figures(commits, Poller(), 3, t0, t_kill, 220.0, t1)  # type: ignore[arg-type]
    assert k["tps_before"] == 100.0 and k["tps_while_down"] == 100.0 and k["down_ratio"] == 1.0
    assert k["catch_up_s"] is None
    # restarted inside the window: down until the restart
    k = _kill_figures(commits, Poller(), 3, t0, t_kill, 120.0, t1)  # type: ignore[arg-type]
    assert k["tps_while_down"] == 100.0 and k["restarted_at_s"] == 20.0


def test_kill_figures_split_the_restart_into_api_up_first_ledger_and_catch_up() -> None:
    from bench.cluster.e2e import _kill_figures
    from bench.cluster.monitor import SeqTrack

    class Poller:
        tracks = [SeqTrack() for _ in range(4)]

    t0, t_kill, t_restart, t1 = 100.0, 110.0, 120.0, 160.0
    commits = [t0 + i / 100 for i in range(6000)]
    for tr in Poller.tracks[:3]:  # the others: one ledger a second
        for k in range(61):
            tr.add(t0 + k, k)
    victim = Poller.tracks[3]
    for k in range(11):
        victim.add(t0 + k, k)
    victim.down.append((110.2, 123.5))  # the API answers 3.5 s after the restart, still at seq 10
    victim.add(123.5, 10)  # same seq: not recorded as a change
    victim.add(126.0, 20)  # the first synced ledgers
    victim.add(131.0, 31)  # caught up: the others are at 31 then
    k = _kill_figures(commits, Poller(), 3, t0, t_kill, t_restart, t1)  # type: ignore[arg-type]
    assert k["first_answer_after_restart_s"] == 3.5
    assert k["first_new_ledger_after_restart_s"] == 6.0
    assert k["catch_up_s"] == 11.0 and k["caught_up_at_seq"] == 31


def _report(tps: float, p99: float, lost: int = 0, exhausted: bool = False, kill: dict | None = None) -> dict:
    return {"tps": tps, "latency_ms": {"p50": p99 / 4, "p90": p99 / 2, "p99": p99},
            "cpu": {"validators_us_per_tx": 100.0}, "reference": {"libsodium_verify_per_s": 20000},
            "telemetry": {"loop_stall_seconds": [0.5, 1.5], "timeouts": [0, 2]}, "kill": kill,
            "lost": lost, "duplicated": 0, "invalid_committed": 0, "diverged_ledgers": 0,
            "generator": {"exhausted": exhausted}}


def test_summarize_takes_medians_per_configuration_and_sums_failures(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    from bench.cluster import summarize

    for name, rep in {"rate-1": _report(9000, 3000), "rate-2": _report(10000, 2000, lost=2),
                      "rate-3": _report(11000, 2500, exhausted=True),
                      "kill-1": _report(8000, 4000, kill={"down_ratio": 0.9, "catch_up_s": 12.5})}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(rep))
    assert summarize.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    med = {ln.split()[0]: ln for ln in out.split("medians (runs):")[1].strip().splitlines()}
    rate = med["rate"]
    assert "(3)" in rate and "tps  10,000" in rate and "p99  2,500" in rate
    assert "lost 2 " in rate and "RAN OUT x1" in rate  # summed over the rounds, not a median
    assert "while down" not in rate
    kill = med["kill"]
    assert "while down 0.90" in kill and "catch-up 12.5 s" in kill and "lost 0 " in kill and "RAN OUT" not in kill
    assert summarize.main([str(tmp_path / "empty")]) == 1
