"""A live one-validator node in this process (its own loop on a thread) for the API tests,
and a small JSON client over http.client (independent of aiohttp)."""
from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from typing import Any

from mbi.crypto.keys import KeyPair
from mbi.ledger.testing import make_tx
from mbi.node import config as C
from mbi.node.home import genesis_for
from mbi.types.envelope import SignedTransaction


def api_config(**over: Any) -> C.NodeConfig:
    base = {"api.host": "127.0.0.1", "api.port": 0, "p2p.listen_host": "127.0.0.1", "p2p.listen_port": 0,
            "consensus.heartbeat_interval": 0.1, "consensus.round_timeout_base": 0.5,
            "verify.threads": 1, "store.block_cache_mb": 8, "store.write_buffer_mb": 4}
    base.update(over)
    return C.with_overrides(C.NodeConfig(), base, "test")


class LiveNode:
    """Start with `with LiveNode(tmp) as n:`: `validators` nodes on one loop (a thread of
    this process) over loopback p2p; n.node / n.port are node 0 and its API port, n.faucet
    the genesis key. (Four, not one: a one-validator chain recurses in the driver's
    propose path as soon as a transaction is pending — reported to the node's owner.)"""

    def __init__(self, data_dir: str, validators: int = 4, **over: Any) -> None:
        self.data_dir = data_dir
        self.keys = [KeyPair.generate() for _ in range(validators)]
        self.key = self.keys[0]
        self.faucet = KeyPair.generate()
        self.genesis = genesis_for(self.keys, self.faucet)
        self._over = over
        self._configure()
        self.cfg = self.cfgs[0]
        self.loop = asyncio.new_event_loop()
        self.node: Any = None
        self.nodes: list[Any] = []
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _configure(self) -> None:
        """Fresh free ports and configs (again after a bind race with another process)."""
        from mbi.node.home import free_ports

        ports = free_ports(len(self.keys))
        self.cfgs = []
        for i in range(len(self.keys)):
            peers = ",".join(f"{self.keys[j].raw_public_key.hex()}@127.0.0.1:{ports[j]}"
                             for j in range(len(self.keys)) if j != i)
            o = dict(self._over)
            o["p2p.listen_port"] = ports[i]
            c = api_config(**o)
            from dataclasses import replace

            c = replace(c, p2p=replace(c.p2p, peers=tuple(p for p in peers.split(",") if p)))
            self.cfgs.append(c)
        self.cfg = self.cfgs[0]

    def _run(self) -> None:
        from mbi.node.node import Node

        asyncio.set_event_loop(self.loop)
        import os

        try:
            for i, (cfg, key) in enumerate(zip(self.cfgs, self.keys)):
                n = Node(cfg, self.genesis, key, os.path.join(self.data_dir, f"node{i}"), name=f"api{i}")
                self.loop.run_until_complete(n.start())
                self.nodes.append(n)
            self.node = self.nodes[0]
            self.port = self.node.api_port
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            self._error = e
            for n in self.nodes:
                self.loop.run_until_complete(n.shutdown())
            self.nodes = []
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        for n in self.nodes:
            self.loop.run_until_complete(n.shutdown())
        self.loop.close()

    def __enter__(self) -> "LiveNode":
        import errno

        for attempt in range(3):
            self._thread.start()
            self._ready.wait(60)
            e = self._error
            if e is None:
                return self
            # free_ports closes its sockets before the nodes bind: another test process
            # can take a port in between. Only that race is retried, with new ports.
            if not (isinstance(e, OSError) and e.errno == errno.EADDRINUSE) or attempt == 2:
                raise e
            self._thread.join(10)
            self._error = None
            self._configure()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._ready = threading.Event()
        raise AssertionError("unreachable")

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(60)

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run fn(*args) on the node's loop and return its result."""
        fut = asyncio.run_coroutine_threadsafe(_wrap(fn, *args), self.loop)
        return fut.result(30)

    # -- HTTP ----------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            raw = r.read()
        finally:
            c.close()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (status, body)
        return body

    def post(self, path: str, obj: Any) -> Any:
        status, body = self.request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})
        assert status == 200, (status, body)
        return body

    def submit(self, *stxs: SignedTransaction) -> Any:
        return self.post("/submitTransaction", {"items": [item(s) for s in stxs]})

    def wait_tx(self, h: str, timeout: float = 20.0) -> dict[str, Any]:
        end = time.time() + timeout
        while time.time() < end:
            got = self.get(f"/getTransactionHistory?hash={h}")
            if got["error_code"] == 0:
                return got["result"]["transactions"][0]
            time.sleep(0.05)
        raise AssertionError(f"transaction {h} not executed within {timeout} s")


async def _wrap(fn, *args):  # type: ignore[no-untyped-def]
    r = fn(*args)
    if asyncio.iscoroutine(r):
        r = await r
    return r


def item(s: SignedTransaction) -> dict[str, Any]:
    sigs = [{"public_key": pk, "sign_data": sd.hex()} for pk, _, _, sd in s.signatures]
    return {"transaction_blob": s.tx_bytes.hex(), "signatures": sigs}


__all__ = ["LiveNode", "api_config", "item", "make_tx"]
