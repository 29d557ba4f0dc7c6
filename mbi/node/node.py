"""One node process: p2p, the consensus driver, transaction ingress, execution, storage and
HTTP on one uvloop loop. Native work (signature batches, ledger close, RocksDB writes)
runs on worker threads with the GIL released where the kernels allow.
"""
from __future__ import annotations

import asyncio
import logging
import os
import resource
import signal
import struct
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from core_ext.mempool import AddResult, Mempool
from mbi.consensus import Core, CoreConfig, Ed25519Signer, ValidatorSet, genesis_block_id
from mbi.crypto.keys import KeyPair
from mbi.ledger.genesis import Genesis
from mbi.node.chain import Chain, Executed
from mbi.node.config import NodeConfig
from mbi.node.driver import CONSENSUS_KINDS, BlockLimits, ConsensusDriver
from mbi.node.looplag import LoopLag
from mbi.node.metrics import NodeMetrics
from mbi.node.txs import Group, InvalidRates, TxCache, TxPool, admit_groups, verify_groups
from mbi.p2p.gossip import TxGossip
from mbi.p2p.kinds import Kind, Role
from mbi.p2p.network import Network
from mbi.store.db import Store

log = logging.getLogger("mbi.node")
_U64 = struct.Struct(">Q")


class Node:
    def __init__(self, cfg: NodeConfig, genesis: Genesis, key: KeyPair, data_dir: str, name: str = "node") -> None:
        self.cfg = cfg
        self.genesis = genesis
        self.key = key
        self.name = name
        self.data_dir = data_dir
        self.vs = ValidatorSet([v.raw_public_key for v in genesis.validators])
        self.is_validator = self.vs.index_of(key.raw_public_key) is not None and cfg.node.role == "validator"
        self.store = Store.open(data_dir, genesis.chain_id, create=True, tuning=cfg.store)
        self.chain = Chain(genesis, self.store, self.vs)
        p = cfg.pool
        self.pool = TxPool(Mempool(p.capacity, p.capacity_bytes, per_sender_limit=p.per_sender_limit,
                                   max_nonce_gap=p.max_nonce_gap, ttl=p.ttl, replace_bump=p.replace_bump),
                           self.chain.nonce_of)
        self.cache = TxCache(max(cfg.verify.cache_size, 1024))
        c = cfg.consensus
        self.genesis_id = genesis_block_id(genesis.chain_id, self.chain.genesis_hash)
        tree = self.chain.load_tree()  # the engine's block tree as stored before a restart
        if tree:
            log.info("restart: %d consensus blocks above height %d given back to the engine", len(tree),
                     self.chain.height, extra={"height": self.chain.height})
        self.core = Core(CoreConfig(chain_id=genesis.chain_id, round_timeout=c.round_timeout_base,
                                    timeout_backoff=c.round_timeout_backoff, max_round_timeout=c.round_timeout_max,
                                    sync_max_blocks=cfg.sync.batch_blocks,
                                    max_payload_bytes=cfg.block.max_block_bytes),
                         self.vs, Ed25519Signer(key.seed) if self.is_validator else None, self.genesis_id,
                         safety=self.chain.load_safety(), committed=self.chain.committed_tip(),
                         certified=list(tree.values()))
        self.net = Network(key, genesis.chain_id, cfg.p2p, role=Role.VALIDATOR if self.is_validator else Role.FULL_NODE,
                           validators=self.vs.keys, on_message=self._on_message, on_peer_up=self._on_peer_up,
                           on_peer_down=self._on_peer_down)
        self.gossip = TxGossip(self.net)
        threads = cfg.verify.threads or len(os.sched_getaffinity(0))
        self._verify_pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="verify")
        self._exec_pool = ThreadPoolExecutor(1, thread_name_prefix="execute")
        self.driver = ConsensusDriver(self.core, self.chain, self.pool, self.cache, self.net,
                                      BlockLimits(max_block_txs=cfg.block.max_block_txs,
                                                  max_block_bytes=cfg.block.max_block_bytes,
                                                  heartbeat=c.heartbeat_interval, time_budget=c.block_time_budget,
                                                  min_paced_txs=c.block_time_min_txs,
                                                  after_timeout=c.block_time_after_timeout,
                                                  unreachable_timeout=c.unreachable_leader_timeout,
                                                  min_interval=min(c.min_block_interval, c.heartbeat_interval)),
                                      self._verify_pool, self._exec_pool, on_executed=self._on_executed,
                                      vote_journal=os.path.join(data_dir, "votes.log") if c.vote_journal else None,
                                      recent_bytes=cfg.sync.recent_blocks_mb << 20)
        self.loop_lag = LoopLag()
        self.driver.loop_lag = self.loop_lag
        self.metrics = NodeMetrics(self)
        self.peer_heights: dict[bytes, int] = {}
        self.txs_committed = 0
        self._recent_latency: deque[float] = deque(maxlen=256)
        self.verified_sigs = 0
        self.started_at = time.time()
        self._early: list[tuple[bytes, int, bytes]] | None = []  # None once the driver has started
        self.invalid_rates = InvalidRates()
        self.bad_relays = 0  # gossiped transactions without a valid signature (their peers were reported)
        self.gossip_ignored = 0  # relayed transaction batches ignored while far behind
        self._ignoring_gossip = False
        self._ingress: list[Group] = []
        self._ingress_n = 0  # envelopes queued in _ingress
        self._ingress_scheduled = False
        self._ingress_busy = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.fatal: str | None = None
        self.api_runner = None
        self.api_port = 0
        self.p2p_port = 0

    # ------------------------------------------------------------------ run

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.p2p_port = await self.net.start(self.cfg.p2p.listen_host, self.cfg.p2p.listen_port)
        from mbi.node.http import start_http

        self.api_runner, self.api_port = await start_http(self, self.cfg.api.host, self.cfg.api.port)
        self.loop_lag.start(loop)
        self.driver.start(on_fatal=self._fatal)
        early, self._early = self._early, None  # consensus messages from peers faster than our start
        for peer, kind, payload in early or ():
            if not self.net.is_connected(peer):
                continue
            try:
                self.driver.on_message(peer, kind, payload)
            except Exception as e:  # noqa: BLE001 - as Network._deliver treats a handler error
                log.warning("early message kind %d from %s raised: %r", kind, peer.hex()[:16], e)
                self.net.report(peer, 10.0, "the node's handler raised on the peer's message")
        self._tasks.append(loop.create_task(self._status_loop()))
        self._tasks.append(loop.create_task(self._housekeeping()))
        log.info("node %s started: %s, chain %d, height %d, p2p %d, api %d", self.name,
                 "validator %d" % self.core.index if self.core.index is not None else "full node",
                 self.genesis.chain_id, self.chain.height, self.p2p_port, self.api_port,
                 extra={"height": self.chain.height})

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        await self.start()
        await self._stop.wait()
        await self.shutdown()

    def request_stop(self) -> None:
        self._stop.set()

    def _fatal(self, why: str) -> None:
        self.fatal = why
        self._stop.set()

    async def shutdown(self) -> None:
        """Stop accepting, finish the commit in progress, flush and close."""
        log.info("node %s stopping at height %d", self.name, self.chain.height, extra={"height": self.chain.height})
        for t in self._tasks:
            t.cancel()
        self.loop_lag.stop()
        if self.api_runner is not None:
            await self.api_runner.cleanup()
        await self.driver.stop()
        await self.net.stop()
        self._exec_pool.shutdown(wait=True)  # the block being written finishes
        self._verify_pool.shutdown(wait=True)
        self.chain.safety_file.close()
        self.store.close()
        log.info("node %s stopped at height %d", self.name, self.chain.height, extra={"height": self.chain.height})

    # ------------------------------------------------------------------ p2p in

    def _on_message(self, peer: bytes, kind: int, payload: bytes) -> None:
        if kind in CONSENSUS_KINDS:
            if self._early is not None:
                # The network is up before the driver (HTTP starts in between): hold the
                # first messages until the driver runs, a bounded few.
                if len(self._early) < 1024:
                    self._early.append((peer, kind, payload))
                return
            self.driver.on_message(peer, kind, payload)
        elif kind == Kind.TX_BATCH:
            if self._far_behind():
                self.gossip_ignored += 1
                return
            blobs, hashes = self.gossip.receive(peer, payload)
            if blobs:
                self.submit(blobs, peer, hashes)
        elif kind == Kind.STATUS:
            if len(payload) == 8:
                self.peer_heights[peer] = _U64.unpack(payload)[0]
            else:
                self.net.report(peer, 10.0, "STATUS payload is not 8 bytes")

    def _on_peer_up(self, peer: bytes) -> None:
        self.net.send(peer, Kind.STATUS, _U64.pack(self.chain.height))

    def _on_peer_down(self, peer: bytes) -> None:
        self.gossip.on_peer_down(peer)
        self.peer_heights.pop(peer, None)

    # ------------------------------------------------------------------ transactions in

    def submit(self, envelopes: list[bytes], origin: bytes | None = None, hashes: list[bytes] | None = None) -> None:
        """Queue envelopes for batched decode + verify + admission (gossip or local).
        ``hashes``: their gossip hashes (SHA-256 of each envelope) where already known."""
        if not envelopes:
            return
        for g in self._ingress:  # a handful of groups: one per origin with work queued
            if g[0] == origin and (hashes is None) == (g[2] is None):
                g[1].extend(envelopes)  # the same origin again: one group, one signature batch
                if hashes is not None:
                    g[2].extend(hashes)  # type: ignore[union-attr]
                break
        else:
            self._ingress.append((origin, list(envelopes), None if hashes is None else list(hashes)))
        self._ingress_n += len(envelopes)
        if not self._ingress_scheduled and not self._ingress_busy:
            self._ingress_scheduled = True
            asyncio.get_running_loop().call_later(self.cfg.verify.max_delay, self._drain_ingress)

    def _take_ingress(self, limit: int) -> list[Group]:
        """Up to ``limit`` queued envelopes, still grouped by origin, oldest first within
        each. Over the limit, every origin gets an equal share (what one leaves unused
        goes to the others), so a peer that floods cannot hold back the rest."""
        q = self._ingress
        if self._ingress_n <= limit:
            self._ingress = []
            self._ingress_n = 0
            return q
        sizes = [len(g[1]) for g in q]
        take = [0] * len(q)
        left = limit
        active = list(range(len(q)))
        while left > 0 and active:
            share = max(1, left // len(active))
            nxt = []
            for i in active:
                k = min(share, sizes[i] - take[i], left)
                take[i] += k
                left -= k
                if take[i] < sizes[i]:
                    nxt.append(i)
                if left == 0:
                    break
            active = nxt
        out: list[Group] = []
        keep: list[Group] = []
        for (origin, envs, hs), k in zip(q, take):
            if k == len(envs):
                out.append((origin, envs, hs))
                continue
            if k:
                out.append((origin, envs[:k], None if hs is None else hs[:k]))
                del envs[:k]
                if hs is not None:
                    del hs[:k]
            keep.append((origin, envs, hs))
        self._ingress = keep
        self._ingress_n -= limit - left
        return out

    def _drain_ingress(self) -> None:
        self._ingress_scheduled = False
        if self._ingress_busy or not self._ingress:
            return
        batch = self._take_ingress(max(1, self.cfg.verify.batch_size))
        self._ingress_busy = True
        task = asyncio.get_running_loop().create_task(self._admit(batch))
        task.add_done_callback(lambda t: t.exception() and log.error("ingress failed: %r", t.exception()))

    async def _admit(self, batch: list[Group]) -> list[AddResult]:
        """Decode and verify each origin's envelopes as its own signature batch (worker
        thread), then admit, relay and report bad relays (loop)."""
        loop = asyncio.get_running_loop()
        try:
            decoded = await loop.run_in_executor(self._verify_pool, verify_groups, self.cache, batch,
                                                 self.invalid_rates)
            a = admit_groups(self.pool, self.gossip, batch, decoded, time.time())
            self.verified_sigs += a.verified
            for d in decoded:
                if d.verified:
                    self.metrics.verify_batch.observe(d.verified)
            self.bad_relays += sum(a.bad_relays.values())
            if a.fresh:
                self.driver.on_transactions()
            return a.results
        finally:
            self._ingress_busy = False
            if self._ingress and not self._ingress_scheduled:
                self._ingress_scheduled = True
                loop.call_soon(self._drain_ingress)

    # ------------------------------------------------------------------ after execution

    def _on_executed(self, ex: Executed, seconds: float) -> None:
        self.txs_committed += len(ex.applied)
        self.metrics.execute_seconds.observe(seconds)
        self.metrics.block_txs.observe(len(ex.applied))
        lat = self.driver.commit_latencies
        while lat:
            x = lat.pop()
            self.metrics.commit_latency.observe(x)
            self._recent_latency.append(x)

    # ------------------------------------------------------------------ status and catch-up

    def chain_max_height(self) -> int:
        return max([self.chain.height, *self.peer_heights.values()])

    def catching_up(self) -> bool:
        return self.chain_max_height() > self.chain.height + 2

    def _far_behind(self) -> bool:
        """More than `sync.ignore_gossip_behind` heights below the highest height a peer
        reports (executed heights, from STATUS). Such a node ignores relayed transactions:
        those its peers hold reach it anyway, in the blocks it syncs and verifies there,
        while decoding, verifying and pooling them on arrival takes the loop and verify
        threads from the blocks it must execute to catch up (a restarted validator caught
        up in 24.8 s instead of 30.3 s, docs/bench-e2e.md). CometBFT's mempool likewise
        waits for block sync to end. Transactions its own API accepts are still admitted
        and relayed."""
        gap = self.cfg.sync.ignore_gossip_behind
        top = self.chain_max_height()  # our own height when no peer has reported
        behind = gap > 0 and top > self.chain.height + gap
        if behind != self._ignoring_gossip:
            self._ignoring_gossip = behind
            if behind:
                log.info("catching up: height %d of %d; ignoring relayed transactions until within %d",
                         self.chain.height, top, gap, extra={"height": self.chain.height})
            else:
                log.info("within %d heights of the peers again (height %d): taking relayed transactions",
                         gap, self.chain.height, extra={"height": self.chain.height})
        return behind

    async def _status_loop(self) -> None:
        behind_since: float | None = None
        while True:
            await asyncio.sleep(1.0)
            self.net.broadcast(Kind.STATUS, _U64.pack(self.chain.height))
            top = self.chain_max_height()
            if top > max(self.core.committed_height, self.chain.height) + 2:
                now = time.monotonic()
                behind_since = behind_since or now
                if now - behind_since >= 1.0 and self.peer_heights:
                    peer = max(self.peer_heights, key=self.peer_heights.__getitem__)
                    self.driver.request_sync(peer)
            else:
                behind_since = None

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            expired = self.pool.pool.expire(time.time())
            gone = self.pool.prune()
            if expired or gone:
                log.debug("pool: %d expired, %d forgotten", expired, gone)

    def cpu_seconds(self) -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def status(self) -> dict:
        now = time.time()
        d = self.driver.stats
        lat = sorted(self._recent_latency)
        return {
            "name": self.name,
            "height": self.chain.stored_height,  # what /getLedger serves (the ledger's moves first)
            "committed_height": self.core.committed_height,
            "round": self.core.round,
            "leader": self.vs.leader(self.core.round),
            "validator_index": self.core.index,
            "validators": len(self.vs.keys),
            "peers": [{"key": p.key.hex(), "host": p.host, "port": p.listen_port, "validator": p.validator,
                       "height": self.peer_heights.get(p.key)} for p in self.net.peers()],
            "last_commit_age": round(now - d.last_commit_time, 3) if d.last_commit_time else None,
            "chain_max_height": self.chain_max_height(),
            "catching_up": self.catching_up(),
            "mempool": len(self.pool),
            "txs_committed": self.txs_committed,
            "halted": d.halted or None,
            "uptime": round(now - self.started_at, 3),
            "cpu_seconds": round(self.cpu_seconds(), 3),
            "timeouts": d.timer_fired,
            "commit_latency_ms_p50": round(lat[len(lat) // 2] * 1e3, 2) if lat else None,
            "commit_latency_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3, 2) if lat else None,
        }
