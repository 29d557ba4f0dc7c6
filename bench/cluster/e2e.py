"""`mbi bench e2e`: start the network, fund, pre-sign, load it for --duration, account.

Order of a run (only step 6 is measured):
 1. homes from init_network and N `mbi start` processes;
 2. K accounts; every payment of the run signed in --signers processes into files;
 3. the accounts funded from the faucet and waited for on every validator;
 4. the references: libsodium's single-verify rate and the ledger's PAY_COIN execution
    rate, each on one core, in this process (bench/cluster/reference.py);
 5. generator processes load their files and say ready;
 6. the window: generators submit; pollers record ledger seqs (~50 ms) and /metrics +
    /proc CPU (1 s); --kill-at SIGKILLs the last validator and restarts it later;
 7. drain: wait until the pools are empty or commits stop, then stop the validators;
 8. scan every store read-only, account, report (table, --json, --results plots).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import analysis, report
from .reference import execute_rate, verify_rate
from .load import Accounts, lanes_for
from .monitor import LedgerPoller, MetricsPoller, Sample, proc_cpu_seconds
from .network import BenchError, Network

REPO = Path(__file__).resolve().parents[2]


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or "." not in k:
            raise BenchError(f"--set wants section.key=value, got {it!r}")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


class Progress:
    """One line per second: what the generators sent and what the nodes committed."""

    def __init__(self, net: Network, t0_ref: list[float], gens: dict[int, list[str]], quiet: bool) -> None:
        self.net, self.t0_ref, self.gens, self.quiet = net, t0_ref, gens, quiet
        self.prev: Sample | None = None

    def __call__(self, s: Sample) -> None:
        prev, self.prev = self.prev, s
        if self.quiet or not self.t0_ref:
            return
        t = s.t - self.t0_ref[0]
        sent = acc = 0
        for parts in self.gens.values():
            if len(parts) >= 4:
                sent += int(parts[2])
                acc += int(parts[3])
        rates = []
        for i, m in enumerate(s.nodes):
            pm = prev.nodes[i] if prev is not None and i < len(prev.nodes) else None
            if m is None:
                rates.append("down")
            elif pm is not None and prev is not None and s.t > prev.t:
                d = m.get("mbi_transactions_committed", 0) - pm.get("mbi_transactions_committed", 0)
                rates.append(f"{max(d, 0) / (s.t - prev.t):,.0f}")
            else:
                rates.append("-")
        heights = [str(int(m["mbi_height"])) if m and "mbi_height" in m else "-" for m in s.nodes]
        pools = [str(int(m["mbi_mempool_size"])) if m and "mbi_mempool_size" in m else "-" for m in s.nodes]
        print(f"[{t:6.1f}s] sent {sent:,} accepted {acc:,} | committed tx/s per node {' '.join(rates)} | "
              f"height {' '.join(heights)} | pool {' '.join(pools)}", flush=True)


def _spawn_generator(spec_path: Path, log: Any) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.Popen([sys.executable, "-m", "bench.cluster.generator", str(spec_path)], cwd=str(REPO),
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                            bufsize=1)


def _check_args(a: argparse.Namespace) -> int:
    n = 1 if a.single_node else a.validators
    if n < 1:
        raise BenchError("--validators must be at least 1")
    if a.duration <= 0:
        raise BenchError("--duration must be positive")
    if a.rate < 0:
        raise BenchError("--rate must be >= 0 (0: open loop)")
    if a.accounts < 1:
        raise BenchError("--accounts must be at least 1")
    if not 0 <= a.invalid_rate < 1:
        raise BenchError("--invalid-rate must be in [0, 1)")
    if a.kill_at is not None:
        if n < 4:
            raise BenchError("--kill-at needs at least 4 validators (the other 3 of 4 keep a quorum)")
        if not 0 < a.kill_at < a.duration:
            raise BenchError("--kill-at must be inside the window (0 < SECONDS < --duration)")
    return n


def run(a: argparse.Namespace) -> dict[str, Any]:
    n = _check_args(a)
    overrides = parse_sets(a.set or [])
    root = Path(a.home) if a.home else Path(tempfile.mkdtemp(prefix="mbi-bench-"))
    if a.home:
        if root.exists() and any(root.iterdir()):
            if not (root / "bench.json").exists():
                raise BenchError(f"{root} is not empty and holds no bench.json; refusing to replace it")
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
    (root / "bench.json").write_text(json.dumps({"argv": sys.argv}))
    say = (lambda *x: None) if a.quiet else (lambda *x: print("e2e:", *x, flush=True))
    net = Network(root / "net", n, overrides)
    gens: list[subprocess.Popen] = []
    poller = metrics = None
    glog = None
    try:
        net.start_all()
        say(f"{n} validator(s) starting in {root / 'net'}")
        honest_total = (a.rate * a.duration / (1 + a.invalid_rate) * 1.05 + a.batch * n) if a.rate else \
            (a.presign or 15000 * a.duration)
        per_account = max(1, math.ceil(honest_total / a.accounts))
        accts = Accounts(a.accounts)
        files, items, sign_wall, sign_cpu = accts.presign(net.chain_id, per_account, a.invalid_rate, a.signers,
                                                          root / "signed", seed=a.seed)
        say(f"pre-signed {items:,} transactions ({per_account} per account, {a.accounts} accounts) in "
            f"{sign_wall:.1f} s, {a.signers} process(es)")
        net.wait_ready()
        funding = accts.fund(net)
        say(f"funded {a.accounts} accounts in {funding['seconds']} s")
        ref0 = verify_rate()
        ref_exec = execute_rate()

        # Generators: load their files, then wait for the start time.
        glog = open(root / "generators.log", "a")  # noqa: SIM115 - closed in the finally below
        urls = [v.url for v in net.validators]
        specs = []
        for g in range(a.generators):
            spec = {"urls": urls, "files": files, "duration": a.duration, "batch": a.batch,
                    "concurrency": a.concurrency, "rate": a.rate / a.generators if a.rate else 0.0,
                    "lanes": {str(k): v for k, v in lanes_for(a.accounts, n, a.generators, g).items()},
                    "out": str(root / f"gen-{g}.pkl")}
            p = root / f"gen-{g}.json"
            p.write_text(json.dumps(spec))
            specs.append(spec)
            gens.append(_spawn_generator(p, glog))
        for g in gens:
            line = g.stdout.readline() if g.stdout else ""
            if not line.startswith("ready"):
                raise BenchError(f"a generator did not start (see {root / 'generators.log'})")
        gen_status: dict[int, list[str]] = {}
        t0_ref: list[float] = []

        def cpu_of() -> dict[str, float]:
            out = {v.name: net.cpu_seconds(v.index) for v in net.validators}
            for k, g in enumerate(gens):
                c = proc_cpu_seconds(g.pid)
                if c is not None:
                    out[f"gen{k}"] = c
            return out

        addrs = [(v.home.config.api.host, v.home.config.api.port) for v in net.validators]
        poller = LedgerPoller(addrs, period=0.05)
        metrics = MetricsPoller(addrs, cpu_of, on_sample=Progress(net, t0_ref, gen_status, a.quiet))
        poller.start()
        metrics.start()

        def reader(k: int, g: subprocess.Popen) -> None:
            assert g.stdout is not None
            for line in g.stdout:
                parts = line.split()
                if parts and parts[0] == "progress":
                    gen_status[k] = parts
        readers = [threading.Thread(target=reader, args=(k, g), daemon=True) for k, g in enumerate(gens)]
        for r in readers:
            r.start()

        t0 = time.monotonic() + 0.3
        for g in gens:
            assert g.stdin is not None
            g.stdin.write(f"{t0!r}\n")
            g.stdin.flush()
        t0_ref.append(t0)
        load_at_start = _loadavg()
        time.sleep(max(0.0, t0 - time.monotonic()))
        cpu_t0 = {v.name: net.cpu_seconds(v.index) for v in net.validators}
        faults: list[tuple[float, str]] = []
        victim = n - 1
        t_kill = t_restart = None
        plan = []
        if a.kill_at is not None:
            plan = [(t0 + a.kill_at, "kill"), (t0 + a.kill_at + a.restart_after, "restart")]
        profile_proc = None
        if a.profile:
            plan.append((t0 + min(5.0, a.duration / 4), "profile"))
        plan.sort()
        t1 = t0 + a.duration
        cpu_t1: dict[str, float] | None = None
        while plan or time.monotonic() < t1:
            now = time.monotonic()
            if cpu_t1 is None and now >= t1:
                cpu_t1 = {v.name: net.cpu_seconds(v.index) for v in net.validators}
            if plan and now >= plan[0][0]:
                _, what = plan.pop(0)
                if what == "kill":
                    net.kill(victim)
                    t_kill = time.monotonic()
                    faults.append((t_kill - t0, f"SIGKILL node{victim}"))
                    say(f"SIGKILLed node{victim} at {t_kill - t0:.1f} s")
                elif what == "restart":
                    net.start(victim)
                    t_restart = time.monotonic()
                    faults.append((t_restart - t0, f"restart node{victim}"))
                    say(f"restarted node{victim} at {t_restart - t0:.1f} s")
                else:
                    profile_proc = _start_profile(net, a, root)
                continue
            nxt = min([t1] + [p[0] for p in plan])
            time.sleep(max(0.005, min(0.1, nxt - now)) if nxt > now else 0.005)
        if cpu_t1 is None:
            cpu_t1 = {v.name: net.cpu_seconds(v.index) for v in net.validators}
        for g in gens:
            try:
                g.wait(timeout=a.duration + 120)
            except subprocess.TimeoutExpired:
                g.kill()
                raise BenchError("a generator did not finish within the window + 120 s") from None
        outs = []
        for k, g in enumerate(gens):
            if g.returncode != 0:
                raise BenchError(f"generator {k} exited with {g.returncode} (see {root / 'generators.log'})")
            import pickle

            with open(specs[k]["out"], "rb") as f:
                outs.append(pickle.load(f))
        merged = analysis.merge_generators(outs)
        drain_s = _drain(metrics, n, a.drain, say)
        if profile_proc is not None:
            profile_proc.wait(timeout=120)
        ref1 = verify_rate()
        poller.stop()
        metrics.stop()
        unclean = net.stop_all()
        scans = [analysis.scan_store(v.index, v.data_dir, net.chain_id) for v in net.validators]
        acc = analysis.account(merged, scans, poller, t0, t1)
        tel = analysis.telemetry_tps(metrics.samples, t0, t1)
        dur = t1 - t0
        vcpu = [(cpu_t1[v.name] - cpu_t0[v.name]) for v in net.validators]
        gen_cpu = sum(o["cpu_window_s"] for o in outs)
        ref_rate = (ref0["cpu_per_s"] + ref1["cpu_per_s"]) / 2
        rep: dict[str, Any] = {
            **{k: v for k, v in acc.items()},
            "telemetry": tel,
            "cpu": {"validators_cores": [round(c / dur, 3) for c in vcpu],
                    "validators_cpu_s": [round(c, 2) for c in vcpu],
                    "validators_us_per_tx": round(sum(vcpu) / acc["committed_in_window"] * 1e6, 1)
                    if acc["committed_in_window"] else None,
                    "generator_cores": gen_cpu / dur, "generator_cpu_s": round(gen_cpu, 2),
                    "generator_us_per_submitted_tx": round(gen_cpu / acc["submitted"] * 1e6, 1)
                    if acc["submitted"] else None,
                    "machine_cores": len(os.sched_getaffinity(0)),
                    "loadavg_at_start": load_at_start, "loadavg_at_end": _loadavg()},
            "reference": {"libsodium_verify_per_s": round(ref_rate), "before": round(ref0["cpu_per_s"]),
                          "after": round(ref1["cpu_per_s"]), "wall_per_s_before": round(ref0["wall_per_s"]),
                          "tps_over_verify_rate": round(acc["tps"] / ref_rate, 4) if ref_rate else None,
                          "what": "pysodium crypto_sign_verify_detached, 200-byte message, one thread, per CPU "
                                  "second, measured before and after the window",
                          "execute_per_s": round(ref_exec["cpu_per_s"]),
                          "execute_wall_per_s": round(ref_exec["wall_per_s"]),
                          "tps_over_execute_rate": round(acc["tps"] / ref_exec["cpu_per_s"], 4),
                          "execute_what": "Ledger.close of 1,000 pre-verified PAY_COIN txs from distinct senders, "
                                          "in memory, one thread, per CPU second, median of 3 blocks, before the "
                                          "window (bench/cluster/reference.py)"},
            "config": {"validators": n, "single_node": bool(a.single_node), "duration": a.duration,
                       "rate": a.rate, "accounts": a.accounts, "batch": a.batch, "concurrency": a.concurrency,
                       "generators": a.generators, "invalid_rate": a.invalid_rate, "kill_at": a.kill_at,
                       "restart_after": a.restart_after if a.kill_at is not None else None,
                       "node_overrides": overrides, "kernel_threads": net.cfg.verify.kernel_threads,
                       "presigned": items, "per_account": per_account,
                       "signing": {"wall_s": round(sign_wall, 2), "cpu_s": round(sign_cpu, 2)},
                       "funding": funding, "poll_period_ms": 50, "polls": poller.polls,
                       "drain_s": round(drain_s, 1), "home": str(root), "git": _git_rev()},
            "generator": {"requests": sum(o["requests"] for o in outs),
                          "connection_errors": sum(o["conn_errors"] for o in outs),
                          "exhausted": any(o["exhausted"] for o in outs),
                          "retry_pending_at_end": sum(o["retry_pending"] for o in outs),
                          "unsent_at_end": sum(o["unsent"] for o in outs)},
            "unclean_exits": unclean,
            "_faults": faults,
        }
        rep["_timeline"] = analysis.timeline(acc["_commit_times"], merged, poller, scans, t0,
                                             max(t1, max(acc["_commit_times"], default=t1)) + 1)
        if t_kill is not None:
            rep["kill"] = _kill_figures(acc["_commit_times"], poller, victim, t0, t_kill, t_restart, t1)
        if rep["generator"]["exhausted"]:
            say("WARNING: the generator ran out of pre-signed transactions before the window ended; "
                "pass a larger --presign")
        return rep
    finally:
        for g in gens:
            if g.poll() is None:
                g.kill()
        if poller is not None and poller.is_alive():
            poller.stop()
        if metrics is not None and metrics.is_alive():
            metrics.stop()
        net.stop_all()
        if glog is not None:
            glog.close()
        if not a.home and not a.keep:
            shutil.rmtree(root, ignore_errors=True)


def _git_rev() -> str | None:
    """The checkout's commit (+ "-dirty" when the tree has changes): a figure names its code."""
    try:
        r = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=str(REPO), capture_output=True,
                           text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None


def _loadavg() -> list[float]:
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def _drain(metrics: MetricsPoller, n: int, limit: float, say: Any) -> float:
    """After the window: until every pool is empty, commits stop for 8 s, or `limit` s."""
    t_start = time.monotonic()
    last_total, last_change = -1.0, t_start
    while time.monotonic() - t_start < limit:
        time.sleep(0.5)
        if not metrics.samples:
            continue
        s = metrics.samples[-1]
        live = [m for m in s.nodes if m is not None]
        total = max((m.get("mbi_transactions_committed", 0) for m in live), default=0)
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        if live and all(m.get("mbi_mempool_size", 1) == 0 for m in live) and len(live) == n:
            break
        if time.monotonic() - last_change > 8.0:
            say("drain: no commits for 8 s; stopping")
            break
    return time.monotonic() - t_start


def _kill_figures(commit_t: list[float], poller: LedgerPoller, victim: int, t0: float, t_kill: float,
                  t_restart: float | None, t1: float) -> dict[str, Any]:
    def rate(a: float, b: float) -> float | None:
        if b <= a:
            return None
        return round(sum(1 for t in commit_t if a <= t < b) / (b - a), 1)

    before = rate(t0 + 1.0, t_kill)  # skip the first second (the pipeline filling)
    down_end = min(t_restart, t1) if t_restart is not None else t1  # a restart after the window: its end
    down = rate(t_kill, down_end)
    out: dict[str, Any] = {"victim": f"node{victim}", "killed_at_s": round(t_kill - t0, 2),
                           "restarted_at_s": round(t_restart - t0, 2) if t_restart else None,
                           "tps_before": before, "tps_while_down": down,
                           "down_ratio": round(down / before, 3) if before and down is not None else None,
                           "catch_up_s": None}
    if t_restart is not None:
        tr = poller.tracks[victim]
        others = [poller.tracks[i] for i in range(len(poller.tracks)) if i != victim]
        for t, s in zip(tr.times, tr.seqs):
            if t < t_restart:
                continue
            peers = [o.seq_at(t) for o in others]
            peers = [p for p in peers if p is not None]
            if peers and s >= min(peers):
                out["catch_up_s"] = round(t - t_restart, 2)
                out["caught_up_at_seq"] = s
                break
        # The API's first answer ends the span with no answer that the restart falls in;
        # the track itself only records changes of seq (the restarted node reopens at the
        # seq it had when it was killed), so its first entry is the first synced ledger.
        up = next((e for s, e in tr.down if s <= t_restart <= e), None)
        if up is None and tr.times and tr.times[-1] >= t_restart:
            up = t_restart  # answered at once (no poll saw it down after the restart)
        out["first_answer_after_restart_s"] = round(up - t_restart, 2) if up is not None else None
        first = next((t for t in tr.times if t >= t_restart), None)
        out["first_new_ledger_after_restart_s"] = round(first - t_restart, 2) if first else None
    return out


def _start_profile(net: Network, a: argparse.Namespace, root: Path) -> subprocess.Popen | None:
    v = net.validators[a.profile_node]
    if v.proc is None:
        return None
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(exe):
        print("e2e: --profile needs py-spy (pip install py-spy); skipped", file=sys.stderr)
        return None
    out_dir = Path(a.results) if a.results else root
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"profile-{v.name}.txt"
    with open(out_dir / "py-spy.log", "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen([exe, "record", "-p", str(v.proc.pid), "-d", str(int(a.profile)), "-f", "raw",
                                 "-o", str(path), "--nonblocking"], stdout=log, stderr=subprocess.STDOUT)


def main(a: argparse.Namespace) -> int:
    try:
        rep = run(a)
    except BenchError as e:
        print(f"mbi: bench e2e: {e}", file=sys.stderr)
        return 1
    report.print_summary(rep, plain=a.plain)
    if a.json:
        report.write_json(rep, a.json)
    if a.results:
        Path(a.results).mkdir(parents=True, exist_ok=True)
        report.write_json(rep, os.path.join(a.results, "report.json"))
        for p in report.plot(rep, a.results):
            print(f"e2e: wrote {p}")
    bad = rep["lost"] or rep["duplicated"] or rep["invalid_committed"] or rep["diverged_ledgers"]
    return 2 if bad else 0
