"""One line per `mbi bench e2e --json` report, then the medians of each configuration.

    .venv/bin/python bench/cluster/summarize.py DIR [DIR ...]

A report's configuration is its file name without the trailing round number
(`rate-2.json` is round 2 of `rate`), as bench/cluster/target_set.sh names them. Medians
are over the rounds of one configuration; lost, duplicated, invalid_committed and diverged are
summed, since one non-zero run is a failure whatever the others say; so is the count of
runs whose generator ran out of pre-signed transactions (RAN OUT: their TPS is a lower
bound).
"""
from __future__ import annotations

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def row(r: dict[str, Any]) -> dict[str, float | None]:
    lat = r["latency_ms"]
    kill = r.get("kill") or {}
    return {
        "tps": r["tps"], "p50": lat["p50"], "p90": lat["p90"], "p99": lat["p99"],
        "us_per_tx": r["cpu"]["validators_us_per_tx"],
        "libsodium": r["reference"]["libsodium_verify_per_s"],
        "stall_s": statistics.median(r["telemetry"]["loop_stall_seconds"]) if r["telemetry"]["loop_stall_seconds"] else None,
        "timeouts": statistics.median(r["telemetry"]["timeouts"]) if r["telemetry"]["timeouts"] else None,
        "down_ratio": kill.get("down_ratio"), "catch_up_s": kill.get("catch_up_s"),
        "lost": r["lost"], "duplicated": r["duplicated"], "invalid_committed": r["invalid_committed"],
        "diverged": r["diverged_ledgers"],
        "ran_out": 1.0 if r.get("generator", {}).get("exhausted") else 0.0,
    }


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def line(name: str, x: dict[str, float | None]) -> str:
    s = (f"{name:12} tps {fmt(x['tps']):>7}  p50 {fmt(x['p50']):>6} ms  p90 {fmt(x['p90']):>6}  p99 {fmt(x['p99']):>6}  "
         f"us/tx {fmt(x['us_per_tx'], '.1f'):>6}  libsodium {fmt(x['libsodium']):>6}/s  "
         f"stall s {fmt(x['stall_s'], '.2f')}  timeouts {fmt(x['timeouts'], '.1f')}")
    if x["down_ratio"] is not None or x["catch_up_s"] is not None:
        s += f"  while down {fmt(x['down_ratio'], '.2f')}  catch-up {fmt(x['catch_up_s'], '.1f')} s"
    s += f"  lost {x['lost']:.0f} dup {x['duplicated']:.0f} invalid {x['invalid_committed']:.0f} diverged {x['diverged']:.0f}"
    # a generator that ran out of pre-signed transactions: the TPS is a lower bound
    return s + (f"  RAN OUT x{x['ran_out']:.0f}" if x["ran_out"] else "")


def main(dirs: list[str]) -> int:
    groups: dict[str, list[dict[str, float | None]]] = defaultdict(list)
    files = sorted(p for d in dirs for p in Path(d).glob("*.json"))
    if not files:
        print("summarize: no .json reports in " + ", ".join(dirs), file=sys.stderr)
        return 1
    for p in files:
        x = row(json.loads(p.read_text()))
        groups[re.sub(r"[-_]?\d+$", "", p.stem)].append(x)
        print(line(p.stem, x))
    print("\nmedians (runs):")
    for name, xs in groups.items():
        med: dict[str, float | None] = {}
        for k in xs[0]:
            vals = [x[k] for x in xs if x[k] is not None]
            if k in ("lost", "duplicated", "invalid_committed", "diverged", "ran_out"):
                med[k] = sum(vals)
            else:
                med[k] = statistics.median(vals) if vals else None
        print(line(f"{name} ({len(xs)})", med))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
