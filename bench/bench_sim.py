"""Simulator throughput and the engine's commit latency in message delays.

1. Throughput: the CI sweep's mix of faults (tests/sim_sweep.py) over --seeds seeds:
   events per second and seconds per 1,000 seeds, in CPU time of this process
   (time.process_time, meaningful on a shared machine) and wall-clock time.
2. Latency, fault-free: every message takes exactly one delay d (a constant-delay
   network, payloads ready and checked at once), so commit time minus the proposal's
   broadcast time, divided by d, is the latency in message delays. Jolteon's two-chain
   rule predicts 5 for a replica: proposal B_k (1), votes (2), proposal B_k+1 carrying
   QC(B_k) (3), votes (4), proposal B_k+2 carrying QC(B_k+1), which commits B_k (5);
   the leader of B_k+2 forms QC(B_k+1) itself and commits after 4.

    .venv/bin/python bench/bench_sim.py [--seeds 300] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import sim_sweep  # noqa: E402

from mbi.sim import DelayModel, Scenario, Simulation  # noqa: E402


def throughput(seeds: int) -> tuple[float, float, int]:
    items = sim_sweep.plan(0, seeds)
    c0, w0 = time.process_time(), time.perf_counter()
    events = sum(sim_sweep.run_one(x).events for x in items)
    return time.process_time() - c0, time.perf_counter() - w0, events


def latency(n: int, d: float = 0.010, heights: int = 40) -> Counter:
    sc = Scenario(seed=0, n=n, delays=DelayModel("constant", d, tail_p=0.0), payload_delay=(0.0, 0.0),
                  verify_delay=(0.0, 0.0), exec_delay=(0.0, 0.0), liveness_k=heights, round_timeout=1.0,
                  max_round_timeout=1.0)
    sim = Simulation(sc, record_latency=True)
    r = sim.run()
    assert not r.violations, r.violations
    return Counter(round(x / d, 3) for x in sim.latencies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=300, help="seeds per throughput run (default 300)")
    ap.add_argument("--repeat", type=int, default=3, help="throughput runs; the median is reported")
    args = ap.parse_args()
    runs = [throughput(args.seeds) for _ in range(args.repeat)]
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    events = runs[0][2]
    print(f"simulator, CI fault mix, {args.seeds} seeds x {args.repeat} (median):")
    print(f"  events                 {events}")
    print(f"  events / CPU second    {events / cpu:,.0f}")
    print(f"  CPU s per 1,000 seeds  {cpu * 1000 / args.seeds:.1f}")
    print(f"  wall s per 1,000 seeds {wall * 1000 / args.seeds:.1f}")
    print("commit latency, fault-free, constant one-way delay d (in units of d):")
    for n in (4, 7, 21):
        lat = latency(n)
        total = sum(lat.values())
        dist = ", ".join(f"{k:g}d: {v}" for k, v in sorted(lat.items()))
        med = statistics.median(k for k, v in lat.items() for _ in range(v))
        print(f"  n={n:<3} commits {total:<5} median {med:g}d  ({dist})")


if __name__ == "__main__":
    main()
