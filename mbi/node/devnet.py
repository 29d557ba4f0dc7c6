"""`mbi devnet`: N validator processes on loopback, fresh keys, one genesis, live status.

Each validator is a real `mbi start` process with its own home under DIR/nodeI and its
log in DIR/nodeI/node.log. DIR/devnet.json names every node (name, url, p2p, pid, home)
and the faucet (the genesis account's address and private key). A node that dies stays
down and is shown as down; the devnet never restarts it, so an operator or a test can
restart it with `mbi start --home DIR/nodeI`. Ctrl-C (or --duration) stops them all.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mbi.node.home import HomeError, init_network

if TYPE_CHECKING:
    from mbi.node.config import NodeConfig


class DevnetError(RuntimeError):
    pass


@dataclass
class NodeView:
    name: str
    url: str
    p2p: str
    home: str
    proc: subprocess.Popen | None = None
    last: dict[str, Any] | None = None
    up: bool = False
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (time, height, txs)

    def rates(self) -> tuple[float, float]:
        s = self.samples
        if len(s) < 2 or s[-1][0] - s[0][0] <= 0:
            return 0.0, 0.0
        dt = s[-1][0] - s[0][0]
        return (s[-1][1] - s[0][1]) / dt, (s[-1][2] - s[0][2]) / dt


def _prepare(root: str) -> None:
    if os.path.exists(root):
        if not os.path.isdir(root):
            raise DevnetError(f"{root} exists and is not a directory")
        entries = os.listdir(root)
        if entries and "devnet.json" not in entries:
            raise DevnetError(f"{root} is not empty and holds no devnet.json; refusing to replace it")
        for e in entries:  # a previous devnet: start afresh
            p = os.path.join(root, e)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(root, exist_ok=True)


def _spawn(home: str) -> subprocess.Popen:
    log = open(os.path.join(home, "node.log"), "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "mbi", "start", "--home", home], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()


async def _poll(session, v: NodeView) -> None:
    import aiohttp

    try:
        async with session.get(v.url + "/status", timeout=aiohttp.ClientTimeout(total=1.0)) as r:
            st = await r.json()
        v.last, v.up = st, True
        v.samples.append((time.monotonic(), st["height"], st["txs_committed"]))
        del v.samples[:-6]
    except Exception:  # noqa: BLE001 - down or starting: shown as such
        v.up = False


def _table(views: list[NodeView], load: float, sent: int):
    from rich.table import Table

    t = Table(title=f"MBI devnet: {len(views)} validators" + (f", load {load:g} tx/s (sent {sent})" if load else ""))
    for col in ("node", "state", "height", "round", "blocks/s", "TPS", "mempool", "commit p50 ms", "peers"):
        t.add_column(col, justify="right" if col not in ("node", "state") else "left")
    for v in views:
        st = v.last or {}
        bps, tps = v.rates()
        # Reachable means up, also when an operator restarted it by hand after it died.
        state = "[green]up" if v.up else ("[red]down" if v.proc is None or v.proc.poll() is not None or v.last
                                          else "[yellow]starting")
        if v.up and st.get("halted"):
            state = "[red]HALTED"
        elif v.up and st.get("catching_up"):
            state = "[yellow]catching up"
        t.add_row(v.name, state, str(st.get("height", "-")), str(st.get("round", "-")), f"{bps:.1f}", f"{tps:.0f}",
                  str(st.get("mempool", "-")), str(st.get("commit_latency_ms_p50") or "-"),
                  str(len(st.get("peers", []))) if st else "-")
    return t


def _line(views: list[NodeView]) -> str:
    parts = []
    for v in views:
        st = v.last or {}
        bps, tps = v.rates()
        parts.append(f"{v.name}:{'up' if v.up else 'down'} h={st.get('height', '-')} {bps:.1f}b/s {tps:.0f}tps "
                     f"pool={st.get('mempool', '-')} peers={len(st.get('peers', []))}")
    return "devnet " + " | ".join(parts)


async def _main(views: list[NodeView], homes, faucet, load: float, accounts: int, duration: float,
                live: bool) -> None:
    import aiohttp

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gen = None
    funded = asyncio.Event()
    gen_task = None
    if load > 0:
        from mbi.node.loadgen import LoadGen

        peers = [("127.0.0.1", h.config.p2p.listen_port, h.key.raw_public_key) for h in homes]
        gen = LoadGen(homes[0].genesis, faucet, peers, load, accounts)
    t_end = time.monotonic() + duration if duration > 0 else None
    console = None
    live_ctx = None
    if live:
        from rich.console import Console
        from rich.live import Live

        console = Console()
        live_ctx = Live(_table(views, load, 0), console=console, refresh_per_second=4, transient=False)
        live_ctx.__enter__()
    try:
        async with aiohttp.ClientSession() as session:
            started_gen = False
            fund_height = None
            last_line = 0.0
            while not stop.is_set():
                await asyncio.gather(*(_poll(session, v) for v in views))
                heights = [v.last["height"] for v in views if v.up and v.last]
                if gen is not None and not started_gen and len(heights) == len(views):
                    started_gen = True
                    await gen.start()
                    gen_task = asyncio.get_running_loop().create_task(gen.run(funded, stop))
                    fund_height = max(heights)
                if gen is not None and fund_height is not None and not funded.is_set() and heights \
                        and min(heights) >= fund_height + 4:
                    funded.set()
                if live_ctx is not None:
                    live_ctx.update(_table(views, load, gen.sent if gen else 0))
                elif time.monotonic() - last_line >= 1.0:
                    last_line = time.monotonic()
                    print(_line(views), flush=True)
                if t_end is not None and time.monotonic() >= t_end:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
    finally:
        stop.set()
        if gen_task is not None:
            await asyncio.gather(gen_task, return_exceptions=True)
        if gen is not None:
            await gen.stop()
        if live_ctx is not None:
            live_ctx.__exit__(None, None, None)


def _stop_all(views: list[NodeView], grace: float = 20.0) -> None:
    procs = [v.proc for v in views if v.proc is not None and v.proc.poll() is None]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def shared_host_config(n: int) -> NodeConfig:
    """The config of each of `n` nodes on this one machine (devnet, the e2e benchmark):
    a smaller store budget each (docs/operator-guide.md), and the kernel threads of one
    node's share of the cores (at least one)."""
    from mbi.node.config import NodeConfig, VerifyConfig
    from mbi.store.db import StoreTuning

    cores = len(os.sched_getaffinity(0))
    return NodeConfig(store=StoreTuning(block_cache_mb=32, write_buffer_mb=32, memtable_total_mb=128,
                                        background_jobs=1),
                      verify=VerifyConfig(kernel_threads=max(1, cores // max(1, n))))


def run_devnet(root: str, n: int, *, load: float = 0.0, accounts: int = 200, duration: float = 0.0,
               live: bool = True) -> int:
    _prepare(root)
    base = shared_host_config(n)
    try:
        homes, faucet = init_network(root, n, base=base)
    except HomeError as e:
        raise DevnetError(str(e)) from None
    views = [NodeView(f"node{i}", f"http://127.0.0.1:{h.config.api.port}", f"127.0.0.1:{h.config.p2p.listen_port}",
                      h.path) for i, h in enumerate(homes)]
    try:
        for v in views:
            v.proc = _spawn(v.home)
        info = {"nodes": [{"name": v.name, "url": v.url, "p2p": v.p2p, "pid": v.proc.pid if v.proc else None,
                           "home": os.path.abspath(v.home)} for v in views],
                "faucet": {"address": faucet.address, "private_key": faucet.encoded_private_key},
                "genesis": os.path.abspath(os.path.join(homes[0].path, homes[0].config.node.genesis_file))}
        tmp = os.path.join(root, "devnet.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the faucet key
        with os.fdopen(fd, "w") as f:
            json.dump(info, f, indent=2)
        os.replace(tmp, os.path.join(root, "devnet.json"))
        if not live:
            print(f"devnet: {n} validators in {root}; devnet.json written; Ctrl-C stops them", flush=True)
        from mbi.p2p import run as run_loop

        run_loop(_main(views, homes, faucet, load, accounts, duration, live))
    finally:
        _stop_all(views)
    down = [v.name for v in views if v.proc is not None and v.proc.returncode not in (0, -signal.SIGTERM)]
    print(f"devnet: stopped ({', '.join(down) + ' had exited with an error' if down else 'all nodes exited cleanly'})",
          flush=True)
    return 0
