"""Separate hosts: the drill with every validator in its own network namespace.

The test makes 5 namespaces: one per validator (its veth `eth0` at 10.250.0.(i+1)/24,
which exists only there) and one holding a bridge that joins the other ends. Traffic
between validators crosses real network stacks; partitions are made by taking bridge
ports down. Each node's API listens on 127.0.0.1 inside its own namespace, and the test
reaches it with sockets opened from a thread that entered that namespace (setns), so no
address is ever added to the root namespace and nothing is sent anywhere else.

It needs root (CI runs as root); without root it fails and says so.
"""
from __future__ import annotations

import ctypes
import http.client
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from mbi.crypto.keys import KeyPair
from mbi.node.home import genesis_for, init_home
from node_util import Cluster, HttpNode, check_cluster_votes, drill_config

N = 4
P2P_PORT, API_PORT = 26656, 8000
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*args: str) -> None:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if r.returncode:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")


def ns_connect(ns: str, port: int) -> http.client.HTTPConnection:
    """An HTTP connection to 127.0.0.1:port inside namespace `ns` (the socket is made and
    connected by a thread that entered the namespace; a socket keeps its namespace)."""
    box: dict[str, object] = {}

    def enter_and_connect() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {ns} failed")
            finally:
                os.close(fd)
            box["sock"] = socket.create_connection(("127.0.0.1", port), timeout=3.0)
        except OSError as e:
            box["error"] = e

    t = threading.Thread(target=enter_and_connect)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3.0)
    conn.sock = box["sock"]  # type: ignore[assignment]
    return conn


class Hosts:
    """The namespaces, veths and bridge of one test run."""

    def __init__(self, n: int) -> None:
        tag = f"mbit{os.getpid() % 100000}"
        self.nodes = [f"{tag}n{i}" for i in range(n)]
        self.switch = f"{tag}sw"
        self.made: list[str] = []

    def addr(self, i: int) -> str:
        return f"10.250.0.{i + 1}"

    def create(self) -> None:
        for ns in [self.switch, *self.nodes]:
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        for i, ns in enumerate(self.nodes):
            sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p{i}", "netns", self.switch)
            sh("ip", "-n", self.switch, "link", "set", f"p{i}", "master", "br0")
            sh("ip", "-n", self.switch, "link", "set", f"p{i}", "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")

    def link(self, i: int, up: bool) -> None:
        sh("ip", "-n", self.switch, "link", "set", f"p{i}", "up" if up else "down")

    def destroy(self) -> None:
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.made.clear()


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("test_node_netns needs root to create network namespaces (ip netns); CI runs as root. "
                    "Run the suite as root: this test must not pass silently.")
    if shutil.which("ip") is None:
        pytest.fail("test_node_netns needs the `ip` command (iproute2)")


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    require_root()
    h = Hosts(N)
    try:
        h.create()
        yield h
    finally:
        h.destroy()


def make_cluster(root: Path, hosts: Hosts) -> Cluster:
    keys = [KeyPair.generate() for _ in range(N)]
    faucet = KeyPair.generate()
    genesis = genesis_for(keys, faucet)
    base = drill_config()
    homes = []
    for i in range(N):
        peers = tuple(f"{keys[j].raw_public_key.hex()}@{hosts.addr(j)}:{P2P_PORT}" for j in range(N) if j != i)
        cfg = replace(base, p2p=replace(base.p2p, listen_host=hosts.addr(i), listen_port=P2P_PORT, peers=peers),
                      api=replace(base.api, host="127.0.0.1", port=API_PORT))
        homes.append(Path(init_home(str(root / f"node{i}"), genesis=genesis, key=keys[i], config=cfg).path))
    apis = [HttpNode("127.0.0.1", API_PORT, connect=lambda ns=ns: ns_connect(ns, API_PORT)) for ns in hosts.nodes]
    c = Cluster(homes, apis)
    c.spawn_prefix = lambda i: ["ip", "netns", "exec", hosts.nodes[i]]
    return c


def grow(c: Cluster, nodes: list[int], by: int, timeout: float) -> None:
    start = c.heights(nodes)
    assert all(h is not None for h in start), start
    c.wait(f"nodes {nodes} to commit {by} more from {start}",
           lambda: all((h or 0) >= s + by for h, s in zip(c.heights(nodes), start)), timeout)


def test_validators_in_separate_network_namespaces(tmp_path: Path, hosts: Hosts) -> None:
    c = make_cluster(tmp_path / "net", hosts)
    try:
        c.start_all()
        c.wait_heights(range(N), 5, 60)
        st = c.status(0)
        assert {p["host"] for p in st["peers"]} <= {hosts.addr(j) for j in range(1, N)}, st["peers"]
        assert len(st["peers"]) == N - 1

        # One host cut off: the other three commit; it does not. Back on the network, it catches up.
        hosts.link(3, up=False)
        time.sleep(1.0)
        cut = c.height(3) or 0
        grow(c, [0, 1, 2], 8, 40)
        assert (c.height(3) or 0) <= cut + 1, "an isolated validator kept committing"
        hosts.link(3, up=True)
        c.wait_heights([3], max(h or 0 for h in c.heights([0, 1, 2])), 60)

        # Two hosts cut off: no quorum anywhere, so no commits; nothing unsafe. Heal: resume.
        hosts.link(2, up=False)
        hosts.link(3, up=False)
        time.sleep(2.0)
        before = c.heights()
        time.sleep(4.0)
        assert c.heights() == before, f"committed without a quorum: {before} -> {c.heights()}"
        c.check_agreement(range(N))
        hosts.link(2, up=True)
        hosts.link(3, up=True)
        grow(c, list(range(N)), 5, 60)

        # SIGKILL one on its host and restart it there: it catches up and votes again.
        c.kill(1)
        grow(c, [0, 2, 3], 5, 40)
        round_at_restart = max(c.status(i)["round"] for i in (0, 2, 3))
        c.start(1)
        c.forget_headers(1)
        c.wait("node1 back", lambda: c.status(1) is not None, 60)
        c.wait_heights([1], max(h or 0 for h in c.heights([0, 2, 3])), 60)
        c.wait("node1's new votes at its peers",
               lambda: sum(1 for i in (0, 2, 3) for v in c.journal(i)
                           if v.voter == 1 and v.round > round_at_restart) >= 3, 40)

        c.check_agreement(range(N))
        per_voter = check_cluster_votes(c)
        assert set(per_voter) == set(range(N)), per_voter
        c.assert_no_tracebacks()
    finally:
        c.close()
