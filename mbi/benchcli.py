"""`mbi bench e2e`: the whole-network benchmark (code in the checkout's bench/cluster/).

bench/ is not an installed package, so the command looks for it next to the mbi
package (a source checkout, e.g. an editable install) and says so in one line when it
is not there.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mbi import argtypes as A


def _repo_root() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    return root if (root / "bench" / "cluster" / "e2e.py").is_file() else None


def _cmd_e2e(args: argparse.Namespace) -> int:
    root = _repo_root()
    if root is None:
        print("mbi: bench e2e needs a source checkout of MBI Core (bench/cluster/ next to the mbi package); "
              f"none at {Path(__file__).resolve().parent.parent}", file=sys.stderr)
        return 1
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench.cluster.e2e import main

    return main(args)


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks of a whole network (needs a source checkout)")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("e2e", help="N validators on this machine under PAY_COIN load: committed TPS, "
                                    "submit→commit latency, loss, CPU")
    p.add_argument("--validators", type=A.positive_int, default=4, help="validators to start (default 4)")
    p.add_argument("--single-node", action="store_true", help="one validator (the per-node ceiling)")
    p.add_argument("--duration", type=A.positive_float, default=60.0, help="measured window in seconds (default 60)")
    p.add_argument("--rate", type=A.nonneg_float, default=0.0,
                   help="target submitted tx/s over all generators (default 0: open loop, as fast as answered)")
    p.add_argument("--accounts", type=A.positive_int, default=2000, help="funded sender accounts (default 2000)")
    p.add_argument("--json", metavar="PATH", help="write the JSON report here")
    p.add_argument("--results", metavar="DIR", help="write report.json, tps.png and latency.png here")
    p.add_argument("--kill-at", type=A.positive_float, metavar="SECONDS",
                   help="SIGKILL the last validator this far into the window")
    p.add_argument("--restart-after", type=A.positive_float, default=10.0, metavar="SECONDS",
                   help="restart the killed validator this long after the kill (default 10)")
    p.add_argument("--invalid-rate", type=A.fraction, default=0.0, metavar="P",
                   help="this fraction of submitted transactions carry a bad signature")
    p.add_argument("--batch", type=A.positive_int, default=200, help="items per /submitTransaction (default 200)")
    p.add_argument("--concurrency", type=A.positive_int, default=2,
                   help="requests in flight per node per generator (default 2)")
    p.add_argument("--generators", type=A.positive_int, default=1, help="generator processes (default 1)")
    p.add_argument("--signers", type=A.positive_int, default=2, help="processes signing before the window (default 2)")
    p.add_argument("--presign", type=A.positive_int, metavar="N",
                   help="honest transactions to sign for an open-loop run (default 15000 per second of window)")
    p.add_argument("--drain", type=A.positive_float, default=60.0,
                   help="after the window, wait at most this long for the pools to empty (default 60)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="node config override for every validator, e.g. verify.threads=1 (repeatable)")
    p.add_argument("--profile", type=A.positive_float, metavar="SECONDS",
                   help="py-spy record one validator for this long, 5 s into the window (raw format)")
    p.add_argument("--profile-node", type=int, default=0, help="which validator --profile records (default 0)")
    p.add_argument("--home", help="work folder (made fresh; kept). Default: a temporary folder, removed")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    p.add_argument("--seed", type=int, default=1, help="seed of the invalid-transaction choice")
    p.add_argument("--plain", action="store_true", help="plain text summary instead of a rich table")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(fn=_cmd_e2e)
