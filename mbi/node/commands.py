"""`mbi init`, `mbi start`, `mbi devnet` and `mbi status`.

Every operator error (a wrong flag value, a missing home, a bad config value, a corrupt
database, a port in use) is one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from mbi import argtypes as A


def _fail(msg: str, code: int = 1) -> int:
    print(f"mbi: {msg}", file=sys.stderr)
    return code


def _cmd_init(args: argparse.Namespace) -> int:
    from mbi.ledger.genesis import Genesis, GenesisError
    from mbi.node import config as C
    from mbi.node.home import HomeError, init_home, init_network

    try:
        base = C.NodeConfig()
        over: dict[str, Any] = {}
        if args.p2p_port is not None:
            over["p2p.listen_port"] = args.p2p_port
        if args.api_port is not None:
            over["api.port"] = args.api_port
        if over:
            base = C.with_overrides(base, over, "flags")
        if args.validators:
            if args.genesis:
                return _fail("--validators makes a new genesis; do not pass --genesis with it", 2)
            homes, faucet = init_network(args.home, args.validators, chain_id=args.chain_id, force=args.force,
                                         base=base)
            print(json.dumps({"homes": [h.path for h in homes], "faucet": faucet.address,
                              "faucet_key": os.path.join(args.home, "faucet.json")}, indent=2))
            return 0
        genesis = None
        if args.genesis:
            try:
                genesis = Genesis.load(args.genesis)
            except FileNotFoundError:
                return _fail(f"{args.genesis}: genesis file not found")
            except (GenesisError, OSError) as e:
                return _fail(f"{args.genesis}: {e}")
        h = init_home(args.home, genesis=genesis, config=base, force=args.force)
        print(json.dumps({"home": h.path, "address": h.key.address, "public_key": h.key.encoded_public_key,
                          "validator": any(v.raw_public_key == h.key.raw_public_key for v in h.genesis.validators)},
                         indent=2))
        return 0
    except (HomeError, C.ConfigError) as e:
        return _fail(str(e))
    except OSError as e:
        return _fail(f"cannot write {args.home}: {e.strerror or e}")


def _cmd_start(args: argparse.Namespace) -> int:
    import dataclasses

    from mbi.node import config as C
    from mbi.node import logs
    from mbi.node.chain import ChainError
    from mbi.node.home import HomeError, load_home
    from mbi.store.errors import StoreError

    try:
        home = load_home(args.home)
        over: dict[str, Any] = {}
        if args.p2p_port is not None:
            over["p2p.listen_port"] = args.p2p_port
        if args.api_port is not None:
            over["api.port"] = args.api_port
        if args.log_format is not None:
            over["log.format"] = args.log_format
        if args.log_level is not None:
            over["log.level"] = args.log_level
        cfg = C.with_overrides(home.config, over, "flags") if over else home.config
        home = dataclasses.replace(home, config=cfg)
    except (HomeError, C.ConfigError) as e:
        return _fail(str(e))
    logs.setup(cfg.log.format, cfg.log.level, os.path.basename(os.path.abspath(args.home)))
    from mbi.node.node import Node
    from mbi.p2p import run as run_loop

    try:
        node = Node(cfg, home.genesis, home.key, home.data_dir, name=os.path.basename(os.path.abspath(args.home)))
    except (StoreError, ChainError, ValueError) as e:
        return _fail(f"cannot open the node's data in {home.data_dir}: {e}")
    _tune_gc(cfg.node.gc_young_threshold)
    _tune_threads(cfg.verify.kernel_threads)
    try:
        run_loop(node.run_until_stopped())
    except OSError as e:
        return _fail(f"cannot start: {e.strerror or e}")
    if node.fatal:
        return _fail(f"stopped: {node.fatal}")
    return 0


def _tune_threads(kernel_threads: int) -> None:
    """The native kernels' threads per call, process-wide (core_ext.set_threads; 0 keeps
    the default). Nodes sharing one machine each get their share of its cores: a batch
    split over more threads than the node's share of the CPU does more work in all (two
    smaller multi-scalar multiplications instead of one) and gains no time."""
    if kernel_threads:
        import core_ext

        core_ext.set_threads(kernel_threads)


def _tune_gc(young_threshold: int) -> None:
    """The collector policy of a node process (a library embedding the node keeps its own).

    What the node loads at start (accounts, the block tree) lives as long as the process:
    frozen, no collection walks it again. Under load every transaction makes short-lived
    objects and the pool and caches keep thousands alive for seconds; with Python's young
    threshold (700 allocations) the collector ran every few transactions and, through its
    older generations, kept walking those, ~1/3 of a validator's time at 7,000 TPS
    (mbi_gc_seconds; docs/benchmarks.md). Almost nothing here forms reference cycles, so
    collecting less often costs little memory."""
    import gc

    gc.collect()
    gc.freeze()
    if young_threshold:
        _, t1, t2 = gc.get_threshold()
        gc.set_threshold(young_threshold, t1, t2)


def fetch_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - operator-given URL
        return json.loads(r.read())


def _cmd_status(args: argparse.Namespace) -> int:
    url = args.url
    if url is None:
        from mbi.node import config as C

        try:
            cfg = C.load(os.path.join(args.home, "config.toml"))
        except C.ConfigError as e:
            return _fail(str(e))
        host = cfg.api.host if cfg.api.host not in ("0.0.0.0", "") else "127.0.0.1"
        url = f"http://{host}:{cfg.api.port}"
    try:
        st = fetch_json(url.rstrip("/") + "/status")
    except (urllib.error.URLError, OSError, ValueError) as e:
        return _fail(f"{url}: node not reachable ({getattr(e, 'reason', e)})")
    print(json.dumps(st, indent=2))
    return 0


def _cmd_devnet(args: argparse.Namespace) -> int:
    from mbi.node.devnet import DevnetError, run_devnet

    try:
        return run_devnet(args.home, args.validators, load=args.load, accounts=args.accounts,
                          duration=args.duration, live=not args.plain)
    except DevnetError as e:
        return _fail(str(e))


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="write a node home: config.toml, node key (0600) and genesis.json")
    p.add_argument("--home", required=True, help="the home directory to create")
    p.add_argument("--genesis", help="import this genesis.json instead of making a new one")
    p.add_argument("--validators", type=A.positive_int, help="make N validator homes HOME/node0.. sharing a new genesis")
    p.add_argument("--chain-id", type=A.positive_int, default=1, help="chain id of a new genesis (default 1)")
    p.add_argument("--p2p-port", type=A.port)
    p.add_argument("--api-port", type=A.port)
    p.add_argument("--force", action="store_true", help="overwrite an existing home")
    p.set_defaults(fn=_cmd_init)

    p = sub.add_parser("start", help="run a node from its home until SIGINT/SIGTERM")
    p.add_argument("--home", required=True)
    p.add_argument("--p2p-port", type=A.port)
    p.add_argument("--api-port", type=A.port)
    p.add_argument("--log-format", choices=("text", "json"))
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.set_defaults(fn=_cmd_start)

    p = sub.add_parser("devnet", help="run N validators on loopback with live status; Ctrl-C stops them")
    p.add_argument("--validators", type=A.positive_int, default=4)
    p.add_argument("--home", required=True, help="folder for the devnet (made fresh each run)")
    p.add_argument("--load", type=float, default=0.0, metavar="RATE",
                   help="send this many signed PAY_COIN transactions per second")
    p.add_argument("--accounts", type=A.positive_int, default=200, help="accounts the load generator pays between")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.add_argument("--plain", action="store_true", help="print a status line per second instead of a live table")
    p.set_defaults(fn=_cmd_devnet)

    p = sub.add_parser("status", help="a node's height, round, peers and sync state")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--url", help="the node's HTTP address, e.g. http://127.0.0.1:18002")
    g.add_argument("--home", help="read the API address from this home's config.toml")
    p.set_defaults(fn=_cmd_status)
