"""`mbi sim`: run one simulation per seed, print a summary, exit non-zero on a violation.

Every violation is printed with its seed and the exact command that replays it; a replay
is bit-for-bit identical (the same event-trace digest, printed with --digests).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import Counter
from typing import Iterable

from mbi.sim.mutants import MUTANTS
from mbi.sim.scenario import EQUIVOCATION_MODES, build_scenario
from mbi.sim.simulation import RunResult, Simulation

FAULT_KEYS = ("dropped", "duplicated", "partitions", "partitioned_messages", "twins", "crashes", "amnesia",
              "equivocations", "lost_to_crash")


def parse_seeds(text: str) -> range:
    """"FROM:TO" (TO excluded, like a Python range) or one seed "S"."""
    try:
        if ":" in text:
            a, b = text.split(":", 1)
            lo, hi = int(a), int(b)
        else:
            lo = int(text)
            hi = lo + 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are FROM:TO or one integer, not {text!r}") from None
    if lo < 0 or hi <= lo:
        raise argparse.ArgumentTypeError(f"seed range {text!r} is empty or negative")
    return range(lo, hi)


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a probability: {text!r}") from None
    if not 0.0 <= p < 1.0:
        raise argparse.ArgumentTypeError(f"a drop probability is in [0, 1), got {p}")
    return p


def _modes(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in EQUIVOCATION_MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(f"equivocation modes are {','.join(EQUIVOCATION_MODES)}, not {text!r}")
    return modes


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("sim", help="run the deterministic consensus simulator over a range of seeds",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--validators", type=int, default=4, metavar="N", help="validators (default 4)")
    p.add_argument("--seeds", type=parse_seeds, default=range(0, 100), metavar="FROM:TO",
                   help="seeds FROM (included) to TO (excluded), or one seed (default 0:100)")
    p.add_argument("--twins", type=int, default=0, metavar="K", help="twinned validators (Byzantine, <= f)")
    p.add_argument("--drop", type=_probability, default=0.0, metavar="P",
                   help="drop each message with probability P during the fault phase")
    p.add_argument("--partitions", action="store_true", help="time partitions and Twins round partitions")
    p.add_argument("--crashes", action="store_true", help="honest validators crash and restart")
    p.add_argument("--amnesia", action="store_true",
                   help="a validator restarts without its safety data (counts as Byzantine)")
    p.add_argument("--equivocate", action="store_true",
                   help="an equivocating leader (Byzantine) sends two proposals per round")
    p.add_argument("--equivocation", type=_modes, default=None, metavar="MODES",
                   help="what the equivocating leader's second proposal is, comma-separated from "
                        f"{','.join(EQUIVOCATION_MODES)} (implies --equivocate; default payload,fork,bad_payload)")
    p.add_argument("--mutant", choices=sorted(MUTANTS), default=None,
                   help="run a deliberately broken engine (the mutation tests)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    p.add_argument("--digests", action="store_true", help="print each run's event-trace digest")
    p.set_defaults(fn=run_cli)


def replay_command(args: argparse.Namespace, seed: int) -> str:
    parts = ["mbi", "sim", "--validators", str(args.validators), "--seeds", f"{seed}:{seed + 1}"]
    if args.twins:
        parts += ["--twins", str(args.twins)]
    if args.drop:
        parts += ["--drop", repr(args.drop)]
    for flag in ("partitions", "crashes", "amnesia", "equivocate"):
        if getattr(args, flag):
            parts.append(f"--{flag}")
    if args.equivocation:
        parts += ["--equivocation", ",".join(args.equivocation)]
    if args.mutant:
        parts += ["--mutant", args.mutant]
    return " ".join(shlex.quote(p) for p in parts)


def run_seeds(args: argparse.Namespace, seeds: Iterable[int]) -> list[RunResult]:
    return [Simulation(build_scenario(s, args.validators, twins=args.twins, drop=args.drop,
                                      partitions=args.partitions, crashes=args.crashes, amnesia=args.amnesia,
                                      equivocate=args.equivocate or bool(args.equivocation), mutant=args.mutant,
                                      equivocation=args.equivocation)).run()
            for s in seeds]


def summarize(results: list[RunResult]) -> dict[str, object]:
    faults: Counter[str] = Counter()
    reports: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    for r in results:
        faults.update(r.faults)
        reports.update(r.reports)
        stats.update(r.stats)
    return {
        "runs": len(results),
        "violations": [v.as_dict() for r in results for v in r.violations],
        "committed_min": min((r.committed_min for r in results), default=0),
        "committed_total": sum(r.committed_min for r in results),
        "faults": {k: faults.get(k, 0) for k in FAULT_KEYS},
        "reports": dict(sorted(reports.items())),
        "stats": dict(sorted(stats.items())),
        "events": sum(r.events for r in results),
        "per_run": [{"seed": r.seed, "digest": r.digest, "committed_min": r.committed_min, "events": r.events,
                     "virtual_time": round(r.virtual_time, 6), "max_round": r.max_round} for r in results],
    }


def run_cli(args: argparse.Namespace) -> int:
    f = (args.validators - 1) // 3
    if not 1 <= args.validators <= 1024:
        print("mbi sim: --validators is 1 to 1024", file=sys.stderr)
        return 2
    if args.twins > f:
        print(f"mbi sim: {args.twins} twins exceed f = {f} for {args.validators} validators", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results = run_seeds(args, args.seeds)
    wall = time.perf_counter() - t0
    out = summarize(results)
    kinds = Counter(v["kind"] for v in out["violations"])  # type: ignore[index]
    rows = [("runs", str(out["runs"])), ("seeds", f"{args.seeds.start}:{args.seeds.stop}"),
            ("committed_min", str(out["committed_min"])), ("committed_total", str(out["committed_total"])),
            ("events", str(out["events"])), ("wall seconds", f"{wall:.2f}")]
    rows += [(f"fault {k}", str(v)) for k, v in out["faults"].items()]  # type: ignore[union-attr]
    rows += [(f"violations {k}", str(v)) for k, v in sorted(kinds.items())] or [("violations", "0")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.digests:
        for r in results:
            print(f"seed {r.seed} digest {r.digest}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
            fh.write("\n")
    bad = [r for r in results if r.violations]
    for r in bad:
        for v in r.violations:
            print(f"VIOLATION seed {v.seed} {v.kind}: {v.detail}", file=sys.stderr)
        print(f"  replay: {replay_command(args, r.seed)}", file=sys.stderr)
    return 1 if bad else 0
