"""The validators under test: homes from `init_network`, `mbi start` processes, faults.

Each validator is `python -m mbi start --home DIR/nodeI` in a session of its own, its
output in DIR/nodeI/node.log. Nothing here parses logs: health and progress come from the
HTTP API (`HttpClient`) and CPU from /proc/PID/stat.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mbi.node import config as C
from mbi.node.home import Home, init_network

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark that cannot run (the message is one line for the operator)."""


class HttpClient:
    """Keep-alive JSON requests to one node; None when it does not answer."""

    def __init__(self, host: str, port: int, timeout: float = 3.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes] | None:
        for _ in range(2):  # one retry on a keep-alive connection the node closed
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self._conn.request(method, path, body=body, headers=headers)
                r = self._conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.close()
        return None

    def get_json(self, path: str) -> Any:
        r = self.request("GET", path)
        if r is None:
            return None
        try:
            return json.loads(r[1])
        except ValueError:
            return None

    def get_text(self, path: str) -> str | None:
        r = self.request("GET", path)
        return None if r is None or r[0] != 200 else r[1].decode("utf-8", "replace")

    def post_json(self, path: str, body: bytes) -> Any:
        r = self.request("POST", path, body)
        if r is None:
            return None
        try:
            return json.loads(r[1])
        except ValueError:
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process in clock ticks (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its ')' are fixed.
    rest = raw[raw.rindex(b")") + 2:].split()
    return int(rest[11]) + int(rest[12])  # fields 14 and 15: utime, stime


@dataclass
class Validator:
    index: int
    home: Home
    api: HttpClient
    proc: subprocess.Popen | None = None
    starts: int = 0
    cpu_before_restarts: float = 0.0  # CPU seconds of processes that were killed
    events: list[tuple[float, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def url(self) -> str:
        return f"http://{self.home.config.api.host}:{self.home.config.api.port}"

    @property
    def data_dir(self) -> str:
        return self.home.data_dir

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def node_config(n: int, overrides: dict[str, Any]) -> C.NodeConfig:
    """Devnet's config for n nodes on this machine (a small store budget, each node's share
    of the cores as kernel threads), then overrides."""
    from mbi.node.devnet import shared_host_config

    base = shared_host_config(n)
    return C.with_overrides(base, overrides, "bench --set") if overrides else base


class Network:
    """N validators on this machine, started and stopped as processes."""

    def __init__(self, root: Path, n: int, overrides: dict[str, Any]) -> None:
        self.root = root
        self.cfg = node_config(n, overrides)
        homes, self.faucet = init_network(str(root), n, base=self.cfg)
        self.validators = [Validator(i, h, HttpClient(h.config.api.host, h.config.api.port))
                           for i, h in enumerate(homes)]
        self.genesis = homes[0].genesis
        self.chain_id = self.genesis.chain_id

    def __len__(self) -> int:
        return len(self.validators)

    def start(self, i: int) -> None:
        v = self.validators[i]
        if v.alive():
            raise BenchError(f"{v.name} is already running")
        v.starts += 1
        log_path = os.path.join(v.home.path, "node.log")
        repo = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(log_path, "ab") as log:
            v.proc = subprocess.Popen([sys.executable, "-m", "mbi", "start", "--home", v.home.path], stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=repo, env=env,
                                      start_new_session=True)

    def start_all(self) -> None:
        for i in range(len(self)):
            self.start(i)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every validator answers /status and has committed a block past genesis."""
        end = time.monotonic() + timeout
        pending = set(range(len(self)))
        while pending and time.monotonic() < end:
            for i in list(pending):
                v = self.validators[i]
                if v.proc is not None and v.proc.poll() is not None:
                    raise BenchError(f"{v.name} exited with code {v.proc.returncode} while starting; "
                                     f"see {v.home.path}/node.log")
                st = v.api.get_json("/status")
                if isinstance(st, dict) and st.get("height", 0) >= 1:
                    pending.discard(i)
            time.sleep(0.2)
        if pending:
            raise BenchError(f"validators {sorted(pending)} did not commit a block within {timeout:.0f} s")

    def kill(self, i: int) -> None:
        """SIGKILL (no shutdown path runs) and reap; its CPU so far is kept."""
        v = self.validators[i]
        if v.proc is None or v.proc.poll() is not None:
            return
        t = cpu_ticks(v.proc.pid)
        if t is not None:
            v.cpu_before_restarts += t / CLK_TCK
        v.proc.kill()
        v.proc.wait(10)
        v.api.close()

    def cpu_seconds(self, i: int) -> float:
        """CPU of this validator over all its processes in this run (killed ones included)."""
        v = self.validators[i]
        t = cpu_ticks(v.proc.pid) if v.alive() and v.proc is not None else None
        return v.cpu_before_restarts + (t / CLK_TCK if t is not None else 0.0)

    def stop_all(self, grace: float = 30.0) -> list[str]:
        """SIGTERM (flush and close), SIGKILL after `grace`; names of unclean exits."""
        procs = [(v, v.proc) for v in self.validators if v.proc is not None and v.proc.poll() is None]
        for _, p in procs:
            p.send_signal(signal.SIGTERM)
        end = time.monotonic() + grace
        bad = []
        for v, p in procs:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                bad.append(f"{v.name} (killed after {grace:.0f} s)")
                continue
            if p.returncode not in (0, -signal.SIGTERM):
                bad.append(f"{v.name} (exit {p.returncode})")
        for v in self.validators:
            v.api.close()
        return bad

