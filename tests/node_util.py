"""Helpers for the node drills: real `mbi start` processes, their HTTP API, ledger headers
and vote journals, read back and checked independently of the node's own code."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from mbi.node import config as C

REPO = Path(__file__).resolve().parent.parent


def drill_config(**sections: dict[str, Any]) -> C.NodeConfig:
    """Short timeouts so faults are noticed and healed within seconds, one verifier thread
    per node (4 nodes share 2 cores), and the vote journal on."""
    base = C.NodeConfig()
    over: dict[str, Any] = {
        "consensus.round_timeout_base": 0.5, "consensus.round_timeout_max": 2.0,
        "consensus.heartbeat_interval": 0.1, "consensus.vote_journal": True,
        "p2p.dial_backoff_base": 0.1, "p2p.dial_backoff_max": 1.0, "p2p.handshake_timeout": 3.0,
        "p2p.idle_timeout": 10.0, "p2p.ping_interval": 2.0, "p2p.read_timeout": 3.0,
        "verify.threads": 1, "pool.capacity": 20_000, "pool.capacity_bytes": 32 << 20,
        "sync.batch_blocks": 64,
    }
    for sec, kv in sections.items():
        for k, v in kv.items():
            over[f"{sec}.{k}"] = v
    return C.with_overrides(base, over, "drill")


class HttpNode:
    """Keep-alive JSON GETs to one node's API (None when it does not answer)."""

    def __init__(self, host: str, port: int, connect: Callable[[], http.client.HTTPConnection] | None = None) -> None:
        self.host, self.port = host, port
        self._connect = connect or (lambda: http.client.HTTPConnection(host, port, timeout=3.0))
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def get_raw(self, path: str) -> tuple[int, bytes] | None:
        with self._lock:
            for _ in range(2):  # one retry on a keep-alive connection the node closed
                try:
                    if self._conn is None:
                        self._conn = self._connect()
                    self._conn.request("GET", path)
                    r = self._conn.getresponse()
                    return r.status, r.read()
                except (OSError, http.client.HTTPException):
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
            return None

    def get(self, path: str) -> Any:
        r = self.get_raw(path)
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


@dataclass
class Member:
    index: int
    home: Path
    api: HttpNode
    proc: subprocess.Popen | None = None
    starts: int = 0
    headers: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> header, as served

    @property
    def log(self) -> Path:
        return self.home / "node.log"


class Cluster:
    """N validator processes from homes made by `init_network` (or given)."""

    def __init__(self, homes: Sequence[Path], apis: Sequence[HttpNode], prefix: Sequence[str] = ()) -> None:
        self.members = [Member(i, Path(h), a) for i, (h, a) in enumerate(zip(homes, apis))]
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", NS] per member: see spawn_prefix
        self.spawn_prefix: Callable[[int], list[str]] = lambda i: list(self.prefix)

    @classmethod
    def make(cls, root: Path, n: int = 4, cfg: C.NodeConfig | None = None) -> "Cluster":
        from mbi.node.home import init_network

        homes, _ = init_network(str(root), n, base=cfg or drill_config())
        return cls([Path(h.path) for h in homes], [HttpNode("127.0.0.1", h.config.api.port) for h in homes])

    def __len__(self) -> int:
        return len(self.members)

    # ---- processes ----------------------------------------------------------------------
    def start(self, i: int) -> None:
        m = self.members[i]
        assert m.proc is None or m.proc.poll() is not None, f"node{i} is still running"
        m.starts += 1
        with open(m.log, "ab") as log:
            log.write(f"==== drill: start #{m.starts} at {time.time():.3f}\n".encode())
            log.flush()
            m.proc = subprocess.Popen(self.spawn_prefix(i) + [sys.executable, "-m", "mbi", "start", "--home",
                                                               str(m.home)],
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      cwd=str(REPO), start_new_session=True)

    def start_all(self) -> None:
        for i in range(len(self)):
            self.start(i)

    def signal(self, i: int, sig: int) -> None:
        p = self.members[i].proc
        assert p is not None and p.poll() is None, f"node{i} is not running"
        p.send_signal(sig)

    def kill(self, i: int) -> None:
        """SIGKILL and reap: no shutdown path runs."""
        p = self.members[i].proc
        assert p is not None
        p.kill()
        p.wait(10)

    def alive(self, i: int) -> bool:
        p = self.members[i].proc
        return p is not None and p.poll() is None

    def close(self) -> None:
        for m in self.members:
            p = m.proc
            if p is not None and p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                    p.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            m.api.close()

    def stop_all(self, timeout: float = 20.0) -> list[int | None]:
        """SIGTERM every running node and wait: the clean shutdown path."""
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGTERM)
        codes = []
        for m in self.members:
            if m.proc is None:
                codes.append(None)
                continue
            try:
                codes.append(m.proc.wait(timeout))
            except subprocess.TimeoutExpired:
                codes.append(None)
        return codes

    def rss_kib(self, i: int) -> int:
        p = self.members[i].proc
        assert p is not None
        for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    # ---- API --------------------------------------------------------------------------------
    def status(self, i: int) -> dict[str, Any] | None:
        st = self.members[i].api.get("/status")
        return st if isinstance(st, dict) and "height" in st else None

    def height(self, i: int) -> int | None:
        st = self.status(i)
        return st["height"] if st else None

    def heights(self, which: Sequence[int] | None = None) -> list[int | None]:
        return [self.height(i) for i in (range(len(self)) if which is None else which)]

    def metrics(self, i: int) -> dict[str, float]:
        r = self.members[i].api.get_raw("/metrics")
        out: dict[str, float] = {}
        if r is None or r[0] != 200:
            return out
        for line in r[1].decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def header(self, i: int, seq: int) -> dict[str, Any] | None:
        """The ledger header node i serves for `seq` (cached: a stored header never changes)."""
        m = self.members[i]
        if seq in m.headers:
            return m.headers[seq]
        d = m.api.get(f"/getLedger?seq={seq}")
        if not isinstance(d, dict) or d.get("error_code") != 0:
            return None
        h = d["result"]["header"]
        assert h["seq"] == seq, (i, seq, h)
        m.headers[seq] = h
        return h

    def forget_headers(self, i: int) -> None:
        """After a crash the node's store is read afresh."""
        self.members[i].headers.clear()

    def check_agreement(self, nodes: Sequence[int], upto: dict[int, int] | None = None) -> int:
        """Every node in `nodes` serves the same header (hash included) for every ledger seq it
        has, up to its height (or `upto[i]`), and each header links to the one before.
        Returns the highest seq compared."""
        tops = {i: (upto or {}).get(i) or (self.height(i) or 0) + 1 for i in nodes}
        top = max(tops.values())
        ref: dict[int, dict[str, Any]] = {}
        for i in nodes:
            for seq in range(1, tops[i] + 1):
                h = self.header(i, seq)
                assert h is not None, f"node{i} does not serve ledger {seq} (height {tops[i] - 1})"
                if seq in ref:
                    assert h == ref[seq], f"node{i} ledger {seq} differs:\n{h}\nvs\n{ref[seq]}"
                else:
                    ref[seq] = h
        for seq in range(2, top + 1):
            assert ref[seq]["previous_hash"] == ref[seq - 1]["hash"], f"ledger {seq} does not link to {seq - 1}"
            assert ref[seq]["seq"] == seq
        return top

    # ---- waiting ------------------------------------------------------------------------
    def wait(self, what: str, cond: Callable[[], bool], timeout: float, step: float = 0.25) -> None:
        end = time.monotonic() + timeout
        while True:
            if cond():
                return
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; heights "
                                     f"{self.heights()}\n{self.log_tails()}")
            time.sleep(step)

    def wait_heights(self, nodes: Sequence[int], at_least: int, timeout: float) -> None:
        self.wait(f"nodes {list(nodes)} at height >= {at_least}",
                  lambda: all((h or 0) >= at_least for h in self.heights(nodes)), timeout)

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for m in self.members:
            try:
                tail = m.log.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                tail = ["(no log)"]
            out.append(f"--- node{m.index} ({'up' if self.alive(m.index) else 'down'}) log tail:\n" + "\n".join(tail))
        return "\n".join(out)

    def assert_no_tracebacks(self) -> None:
        for m in self.members:
            text = m.log.read_text(errors="replace") if m.log.exists() else ""
            assert "Traceback" not in text, f"node{m.index} logged a traceback:\n{text[-4000:]}"
            assert "HALTED" not in text, f"node{m.index} halted:\n{text[-4000:]}"

    # ---- votes ----------------------------------------------------------------------------
    def journal(self, i: int) -> list["JournalVote"]:
        return read_journal(self.members[i].home / "data" / "votes.log")


# ---- the vote journal, checked from the receivers' side ---------------------------------------

_DOMAIN = b"MBI-CONSENSUS-V1\x00"


def vote_digest_spec(chain_id: int, round_: int, block_id: bytes, commit_id: bytes) -> bytes:
    """The vote preimage of docs/consensus.md §6, written out here from the document:
    D ‖ chain_id u64 ‖ 0x02 ‖ round u64 ‖ block_id ‖ len(commit_id) u8 ‖ commit_id."""
    pre = (_DOMAIN + struct.pack(">Q", chain_id) + b"\x02" + struct.pack(">Q", round_) + block_id
           + bytes([len(commit_id)]) + commit_id)
    return hashlib.sha256(pre).digest()


@dataclass(frozen=True)
class JournalVote:
    voter: int
    round: int
    block_id: bytes
    commit_id: bytes
    signature: bytes
    peer: bytes


def read_journal(path: Path) -> list[JournalVote]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 6:
            continue  # a line cut by SIGKILL of the receiver mid-write
        v, r, b, c, s, p = parts
        out.append(JournalVote(int(v), int(r), bytes.fromhex(b), b"" if c == "-" else bytes.fromhex(c),
                               bytes.fromhex(s), bytes.fromhex(p)))
    return out


def validator_keys(home: Path) -> tuple[int, list[bytes]]:
    """(chain id, raw validator keys in genesis order) from a home's genesis.json."""
    from mbi.ledger.genesis import Genesis

    g = Genesis.load(str(home / "genesis.json"))
    return g.chain_id, [v.raw_public_key for v in g.validators]


def check_votes(votes: Sequence[JournalVote], chain_id: int, keys: Sequence[bytes]) -> dict[int, int]:
    """Verify every received vote's signature with libsodium (PyNaCl) over the §6 digest and
    fail if any validator signed two different votes for one round. Returns, per voter,
    how many distinct signed votes were seen."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    vks = [VerifyKey(k) for k in keys]
    signed: dict[tuple[int, int], tuple[bytes, bytes]] = {}
    per_voter: dict[int, int] = {}
    for v in votes:
        assert 0 <= v.voter < len(keys)
        assert v.peer == keys[v.voter], "a vote was relayed by another peer than its voter"
        digest = vote_digest_spec(chain_id, v.round, v.block_id, v.commit_id)
        try:
            vks[v.voter].verify(digest, v.signature)
        except BadSignatureError:
            raise AssertionError(f"journal holds a vote with a bad signature: {v}") from None
        what = (v.block_id, v.commit_id)
        prev = signed.setdefault((v.voter, v.round), what)
        assert prev == what, (f"validator {v.voter} signed two different votes in round {v.round}: "
                              f"block {prev[0].hex()} commit {prev[1].hex()} and block {what[0].hex()} "
                              f"commit {what[1].hex()}")
        if prev is what:
            per_voter[v.voter] = per_voter.get(v.voter, 0) + 1
    return per_voter


def check_cluster_votes(c: Cluster) -> dict[int, int]:
    chain_id, keys = validator_keys(c.members[0].home)
    votes = [v for i in range(len(c)) for v in c.journal(i)]
    return check_votes(votes, chain_id, keys)


class Load:
    """The devnet's load generator (signed PAY_COIN, p2p gossip) on a thread of the test:
    it funds its accounts from the faucet, waits until that committed, then pays."""

    def __init__(self, root: Path, cluster: Cluster, rate: float, accounts: int = 100) -> None:
        self.root, self.cluster, self.rate, self.accounts = root, cluster, rate, accounts
        self.gen: Any = None
        self.error: BaseException | None = None
        self.funded = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: Any = None
        self._stop: Any = None

    def start(self) -> "Load":
        self._thread = threading.Thread(target=self._main, name="load", daemon=True)
        self._thread.start()
        return self

    def _main(self) -> None:
        from mbi.p2p import run

        try:
            run(self._run())
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    async def _run(self) -> None:
        import asyncio

        from mbi.crypto.keys import KeyPair
        from mbi.ledger.genesis import Genesis
        from mbi.node.home import load_home
        from mbi.node.loadgen import LoadGen

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        homes = [load_home(str(m.home)) for m in self.cluster.members]
        faucet = KeyPair.from_private_key(json.loads((self.root / "faucet.json").read_text())["private_key"])
        peers = [("127.0.0.1", h.config.p2p.listen_port, h.key.raw_public_key) for h in homes]
        genesis: Genesis = homes[0].genesis
        self.gen = LoadGen(genesis, faucet, peers, self.rate, self.accounts)
        await self.gen.start()
        loop = asyncio.get_running_loop()
        base = max(h or 0 for h in await loop.run_in_executor(None, self.cluster.heights))
        funded = asyncio.Event()
        task = loop.create_task(self.gen.run(funded, self._stop))
        while not self._stop.is_set():
            hs = [h for h in await loop.run_in_executor(None, self.cluster.heights) if h is not None]
            if hs and min(hs) >= base + 4 and not funded.is_set():
                funded.set()
                self.funded.set()
            try:
                await asyncio.wait_for(self._stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        await task
        await self.gen.stop()

    def stop(self) -> int:
        """Stop it and return how many transactions it sent."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)
        if self.error is not None:
            raise AssertionError(f"load generator failed: {self.error!r}")
        return self.gen.sent if self.gen is not None else 0


def with_cfg(cfg: C.NodeConfig, **sections: dict[str, Any]) -> C.NodeConfig:
    over = {f"{s}.{k}": v for s, kv in sections.items() for k, v in kv.items()}
    return C.with_overrides(cfg, over, "drill")


__all__ = ["Cluster", "HttpNode", "JournalVote", "Load", "Member", "REPO", "check_cluster_votes", "check_votes",
           "drill_config", "read_journal", "replace", "validator_keys", "vote_digest_spec", "with_cfg"]
