"""The consensus driver: carries out the engine's actions in order on the node's loop.

- `PersistSafety` is written with fsync before the next action (the vote or timeout it
  covers) is carried out.
- Messages go out through p2p with the frame kind of their ConsensusMessage field.
- Payload requests are answered from the pool, at once when a certified block with
  transactions is waiting to commit or the pool has transactions, else when the first
  transaction arrives or the heartbeat passes (no stream of empty blocks when idle);
  never sooner than `min_block_interval` after this node saw the parent block (a light
  load makes a few blocks of many transactions, not dozens of blocks of a few).
- A proposal holds at most what this node measured fits in `block_time_budget` of the
  round timeout (`mbi.node.pacing`, docs/consensus.md §3.7): round durations, payload
  checks and executions are timed here and fed to the pacer.
- Before the safety data, every block the engine holds above the executed height (the
  ones it voted for included) is stored; on restart the node gives them back to the
  engine (`Core(certified=...)`, docs/consensus.md §4.3), so a leader whose high QC names
  a block that only its voters kept can still get it and propose on it.
- Payload checks and block execution run on worker threads; their results come back to
  the engine as events.
- With a vote journal (`[consensus] vote_journal`), every vote received from a peer is
  appended as one line `voter round block_id commit_id signature peer` (hex), so a drill
  can check from the receivers' side that no validator signed two votes in one round.

`now` for the engine is wall-clock seconds (block timestamps are wall-clock µs); timers
are armed on the loop relative to it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from mbi.consensus import wire
from mbi.consensus.core import Core
from mbi.consensus.events import (
    Action, BlockExecuted, Broadcast, Commit, Event, Halted, MessageReceived, PayloadReady, PayloadVerified,
    PersistSafety, ReportMisbehaviour, RequestPayload, Send, ServeSync, SetTimer, TimerFired, VerifyPayload,
)
from mbi.consensus.sync import block_wire_bound, plan_sync_range
from mbi.consensus.types import Block, QuorumCert, SyncRequest, Vote
from mbi.node.chain import Chain, ChainError, Executed
from mbi.node.looplag import LoopLag
from mbi.node.metrics import GC_TIMES
from mbi.node.pacing import BlockPacer, after_timeout
from mbi.node.recent import RecentBlocks, committed_pairs
from mbi.node.txs import TxCache, TxPool, decode_and_verify
from mbi.p2p.gossip import BatchError, decode_tx_batch, encode_tx_batch
from mbi.p2p.kinds import Kind
from mbi.types.envelope import SignedTransaction

log = logging.getLogger("mbi.node")

# First byte of a ConsensusMessage: the tag of its oneof field (field << 3 | 2).
KIND_OF_TAG = {0x0A: Kind.PROPOSAL, 0x12: Kind.VOTE, 0x1A: Kind.TIMEOUT, 0x22: Kind.SYNC_REQUEST,
               0x2A: Kind.SYNC_RESPONSE}
CONSENSUS_KINDS = frozenset(KIND_OF_TAG.values())
PENALTY = {"malformed": 20.0, "bad_signature": 20.0, "equivocation": 100.0, "wrong_leader": 20.0,
           "invalid_proposal": 10.0, "invalid_payload": 20.0, "state_root_mismatch": 0.0, "bad_sync": 20.0}


@dataclass(slots=True)
class BlockLimits:
    max_block_txs: int = 10_000
    max_block_bytes: int = 8 << 20
    heartbeat: float = 0.3  # [consensus] heartbeat_interval
    # Pacing (docs/consensus.md §3.7); the same defaults as [consensus] block_time_budget
    # and block_time_min_txs.
    time_budget: float = 0.5  # fraction of the base round timeout a block's pipeline may take; 0: off
    min_paced_txs: int = 500  # the pacer never caps a proposal below this
    after_timeout: float = 1.0  # the cap's factor for a round that follows a timed-out one
    # [consensus] unreachable_leader_timeout: the longest timer of a round that cannot
    # certify a block because its leader or the next one has no connection to us; 0: off
    unreachable_timeout: float = 0.2
    min_interval: float = 0.0  # [consensus] min_block_interval, at most heartbeat_interval


@dataclass(slots=True)
class DriverStats:
    proposals: int = 0
    votes_sent: int = 0
    short_rounds: int = 0  # round timers shortened: the round's leader or the next was unreachable
    timeouts_sent: int = 0
    timer_fired: int = 0
    commits: int = 0
    executed: int = 0
    misbehaviour: dict[str, int] = field(default_factory=dict)
    verify_batches: int = 0
    verified_sigs: int = 0
    last_commit_time: float = 0.0
    execute_seconds: float = 0.0
    halted: str = ""
    block_cap: int = 0  # the transaction cap of our last proposal (pacing)
    sync_proofs: int = 0  # sync responses served as a prefix proved by headers (§3.6)
    sync_blocks_memory: int = 0  # committed blocks served by sync from RecentBlocks or _pending
    sync_blocks_store: int = 0   # ... read back from the store (rebuilt from the ledger's records)


# Committed blocks whose payloads are checked ahead of their execution (_decode_ahead).
DECODE_AHEAD = 2


class ConsensusDriver:
    def __init__(self, core: Core, chain: Chain, pool: TxPool, cache: TxCache, net, limits: BlockLimits,
                 verify_pool: ThreadPoolExecutor, exec_pool: ThreadPoolExecutor,
                 on_executed: Callable[[Executed, float], None] | None = None,
                 vote_journal: str | None = None, recent_bytes: int = 128 << 20) -> None:
        self.core = core
        self.chain = chain
        self.pool = pool
        self.cache = cache
        self.net = net
        self.limits = limits
        self.vs = core.vs
        self._verify_pool = verify_pool
        self._exec_pool = exec_pool
        self.on_executed = on_executed
        self.stats = DriverStats()
        self.pacer = BlockPacer(limits.time_budget * core.cfg.round_timeout, limits.min_paced_txs)
        self._round_entered = 0                     # the round of the last SetTimer
        self._block_seen: dict[bytes, float] = {}   # block id -> monotonic time we proposed or got it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        # the payload request waiting, its timer, and whether it waits for transactions (idle)
        self._payload_wait: tuple[RequestPayload, asyncio.TimerHandle, bool] | None = None
        self._not_before: tuple[int, float] = (0, 0.0)  # (round, monotonic time) its proposal waits for
        self._block_txs: dict[bytes, list[SignedTransaction]] = {}  # block id -> decoded payload
        self._block_hashes: dict[bytes, frozenset[bytes]] = {}  # block id -> its transaction hashes
        self._pending: dict[int, tuple[Block, QuorumCert]] = {}  # committed, not yet executed
        self.recent_blocks = RecentBlocks(recent_bytes)  # executed, kept to answer sync requests
        self._exec_queue: asyncio.Queue[tuple[Block, QuorumCert]] = asyncio.Queue()
        # committed blocks whose payload is being decoded and verified ahead of execution
        self._decoding: dict[bytes, asyncio.Future[tuple[list[SignedTransaction] | None, str]]] = {}
        self._exec_task: asyncio.Task[None] | None = None
        self.proposed_at: dict[bytes, float] = {}  # our proposals: block id -> loop time
        self.commit_latencies: list[float] = []    # proposal -> commit at this leader (seconds)
        self._stopping = False
        self.loop_lag: LoopLag | None = None  # the node's; quoted when a round times out
        self._on_fatal: Callable[[str], None] | None = None
        # Line-buffered: each vote reaches the kernel at once, so a SIGKILL loses none.
        self._journal = open(vote_journal, "a", buffering=1, encoding="ascii") if vote_journal else None

    # ------------------------------------------------------------------ lifecycle

    def start(self, on_fatal: Callable[[str], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_fatal = on_fatal
        self._exec_task = self._loop.create_task(self._execute_loop())
        self._exec_task.add_done_callback(self._exec_done)
        self._run(self.core.start(time.time()))
        if self.chain.height:  # the engine checks state roots against ours (§5): say where we are
            self.feed(BlockExecuted(self.chain.height, self.chain.state_root()))

    def _exec_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # The ledger or the store failed on a committed block: this node cannot go on
            # without diverging from the chain. Stop loudly rather than run on half-written.
            log.critical("execution stopped at height %d: %r; the node shuts down", self.chain.height, exc,
                         exc_info=exc, extra={"height": self.chain.height})
            if self._on_fatal is not None:
                self._on_fatal(f"execution failed: {exc!r}")

    async def stop(self) -> None:
        """Stop feeding the engine; finish the block being executed (not the queue)."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        if self._payload_wait is not None:
            self._payload_wait[1].cancel()
        if self._exec_task is not None:
            self._exec_task.cancel()
            try:
                await self._exec_task
            except asyncio.CancelledError:
                pass
            except Exception:  # noqa: BLE001 - it failed earlier: _exec_done logged it and made it fatal
                pass  # the rest of the shutdown (p2p, pools, the store's close) must still run
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    @property
    def executed_height(self) -> int:
        return self.chain.height

    # ------------------------------------------------------------------ events in

    def feed(self, event: Event) -> None:
        if self._stopping:
            return
        self._run(self.core.handle(event, time.time()))

    def on_message(self, peer_key: bytes, kind: int, payload: bytes) -> None:
        if self._journal is not None and kind == Kind.VOTE:
            self._journal_vote(peer_key, payload)
        self.feed(MessageReceived(peer_key, payload))

    def _journal_vote(self, peer_key: bytes, payload: bytes) -> None:
        try:
            m = wire.decode_message(payload, self.vs, self.core.chain_id)
        except wire.WireError:
            return  # the engine reports it
        if isinstance(m, Vote) and self._journal is not None:
            self._journal.write(f"{m.voter} {m.round} {m.block_id.hex()} {m.commit_id.hex() or '-'} "
                                f"{m.signature.hex()} {peer_key.hex()}\n")

    def on_transactions(self) -> None:
        """New transactions reached the pool: a leader waiting for them proposes now."""
        if self._payload_wait is not None and self._payload_wait[2] and self._has_new_transactions():
            req, handle, _ = self._payload_wait
            handle.cancel()
            self._payload_wait = None
            self._on_request_payload(req)

    # ------------------------------------------------------------------ actions out

    def _run(self, actions: list[Action]) -> None:
        for a in actions:
            t = type(a)
            if t is PersistSafety:
                # fsync, before anything after it; with it the uncommitted blocks a restart
                # needs. Committed ones are left out: a quorum stored each before voting, so
                # a restart fetches any it lacks by sync. (A validator catching up receives
                # hundreds of committed blocks; writing each whole to the tree, on the loop
                # with the GIL held, only for its execution to delete it, took 94 of its
                # loop's 1,274 samples in a py-spy of one catch-up: docs/bench-e2e.md.)
                top = self.core.committed_height
                self.chain.save_safety(a.data, [b for b in self.core.blocks.values()
                                                if b.height > top and not self.chain.in_tree(b.id)])
            elif t is Send:
                key = self.vs.keys[a.validator] if a.validator is not None else a.to_peer
                kind = KIND_OF_TAG.get(a.data[0])
                if kind is Kind.VOTE:
                    self.stats.votes_sent += 1
                if kind is not None and isinstance(key, bytes):
                    self.net.send(key, kind, a.data)
            elif t is Broadcast:
                kind = KIND_OF_TAG[a.data[0]]
                if kind is Kind.PROPOSAL:
                    self.stats.proposals += 1
                elif kind is Kind.TIMEOUT:
                    self.stats.timeouts_sent += 1
                self.net.broadcast(kind, a.data)
            elif t is SetTimer:
                self._set_timer(a)
            elif t is RequestPayload:
                self._on_request_payload(a)
            elif t is VerifyPayload:
                self._verify_payload(a.block)
            elif t is Commit:
                self._on_commit(a)
            elif t is ServeSync:
                try:
                    self._serve_sync(a)
                except ChainError as e:  # the actions after it (votes among them) must still run
                    log.error("sync: cannot serve heights from %d: %s", a.from_height, e,
                              extra={"height": a.from_height})
            elif t is ReportMisbehaviour:
                self._on_misbehaviour(a)
            elif t is Halted:
                self.stats.halted = f"height {a.height}: ours {a.ours.hex()} vs certified {a.certified.hex()}"
                log.critical("consensus: HALTED: our state root for height %d is %s but a quorum certified %s; "
                             "this node stops voting until an operator looks", a.height, a.ours.hex(),
                             a.certified.hex(), extra={"height": a.height})

    def _set_timer(self, a: SetTimer) -> None:
        assert self._loop is not None
        if self._timer is not None:
            self._timer.cancel()
        entered = a.round > self._round_entered  # not a re-armed timer (timeout retransmission)
        self._note_round(a.round)
        delay = max(0.0, a.deadline - time.time())
        short = self.limits.unreachable_timeout
        if short and entered and delay > short and self._leaders_unreachable(a.round):
            delay = short
            self.stats.short_rounds += 1
        self._timer = self._loop.call_later(delay, self._fire, a.round)

    def _leaders_unreachable(self, round: int) -> bool:
        """Is the leader of `round` (who proposes) or of `round + 1` (to whom its votes go,
        and who alone can form its QC) another validator with no connection to us? Then
        no block of this round can reach us certified before that validator reconnects,
        and waiting out the full timeout only delays the TC (with one of four validators
        down, two rounds in four wait so). Timers decide liveness only: the safety rules
        do not depend on when a round times out."""
        me = self.core.index
        keys = self.vs.keys
        for v in (self.vs.leader(round), self.vs.leader(round + 1)):
            if v != me and not self.net.is_connected(keys[v]):
                return True
        return False

    def _note_round(self, round: int) -> None:
        """A SetTimer for a new round. When it was entered by the QC on the previous
        round's block, time that block: from when we proposed or received it to its QC
        (a leader's wait for transactions before proposing is not the block's cost). A
        round that timed out (e.g. the next leader is down) says nothing about its block."""
        prev, self._round_entered = self._round_entered, max(self._round_entered, round)
        if round != prev + 1:
            return  # the same round re-armed (timeout retransmission), or a jump (sync)
        qc = self.core.high_qc
        seen = self._block_seen.pop(qc.block_id, None)
        if qc.round != prev or seen is None:
            return
        self._not_before = (round, seen + self.limits.min_interval)
        txs = self._block_txs.get(qc.block_id)
        if txs is not None:
            self.pacer.observe_round(len(txs), time.monotonic() - seen)

    def _saw_block(self, block_id: bytes, at: float | None = None) -> None:
        self._block_seen.setdefault(block_id, time.monotonic() if at is None else at)
        if len(self._block_seen) > 256:
            for k in list(self._block_seen)[:128]:
                del self._block_seen[k]

    def _fire(self, round: int) -> None:
        self._timer = None
        self.stats.timer_fired += 1
        c = self.core
        lag = self.loop_lag
        stalled = (lag.longest_since(self._loop.time() - c.cfg.round_timeout) if lag is not None and self._loop
                   else 0.0)
        gc_s = GC_TIMES.seconds_since(time.perf_counter() - c.cfg.round_timeout)
        log.info("round %d timed out (high QC round %d, committed %d, waiting for a parent: %s, payloads being "
                 "checked: %d, proposal seen: %s; in the last %.1f s: longest loop stall %.3f s, garbage "
                 "collector %.3f s)", round, c.high_qc.round, c.committed_height, c._waiting is not None,
                 len(c._awaiting), round in c._proposals, c.cfg.round_timeout, stalled, gc_s, extra={"round": round})
        self.feed(TimerFired(round))

    def _on_misbehaviour(self, a: ReportMisbehaviour) -> None:
        m = self.stats.misbehaviour
        m[a.kind] = m.get(a.kind, 0) + 1
        log.warning("consensus: %s from %s: %s", a.kind,
                    a.peer.hex()[:16] if isinstance(a.peer, bytes) else a.peer, a.detail,
                    extra={"round": self.core.round})
        if isinstance(a.peer, bytes) and PENALTY.get(a.kind):
            self.net.report(a.peer, PENALTY[a.kind], f"consensus {a.kind}: {a.detail}")

    # ------------------------------------------------------------------ proposing

    def _on_request_payload(self, req: RequestPayload) -> None:
        assert self._loop is not None
        if self._payload_wait is not None:
            self._payload_wait[1].cancel()
            self._payload_wait = None
        if req.uncommitted_payload or self._has_new_transactions():
            r, at = self._not_before
            wait = at - time.monotonic() if r == req.round else 0.0
            # Next loop turn at the soonest, not now: with one validator the proposal's QC
            # forms at once and asks for the next payload from inside this call (unbounded
            # recursion).
            handle = (self._loop.call_later(wait, self._heartbeat, req) if wait > 0
                      else self._loop.call_soon(self._heartbeat, req))
            self._payload_wait = (req, handle, False)  # type: ignore[assignment]
            return
        # the node caps min_interval at the heartbeat, so the heartbeat needs no check of it
        handle = self._loop.call_later(self.limits.heartbeat, self._heartbeat, req)
        self._payload_wait = (req, handle, True)

    def _heartbeat(self, req: RequestPayload) -> None:
        self._payload_wait = None
        self._propose(req)

    def _remember(self, block_id: bytes, txs: list[SignedTransaction]) -> None:
        self._block_txs[block_id] = txs
        self._block_hashes[block_id] = frozenset(t.hash for t in txs)

    def _forget(self, block_id: bytes) -> None:
        self._block_txs.pop(block_id, None)
        self._block_hashes.pop(block_id, None)

    def _in_flight(self, parent_id: bytes) -> set[bytes]:
        """Hashes of the transactions in uncommitted blocks from `parent_id` back to the root,
        and in committed blocks not executed yet. Set unions of each block's hashes, made
        once per block: a leader asks this for every proposal, with thousands in flight."""
        out: set[bytes] = set()
        hashes = self._block_hashes
        b = self.core.blocks.get(parent_id)
        root = self.core.root.id
        while b is not None and b.id != root:
            out.update(hashes.get(b.id, ()))
            b = self.core.blocks.get(b.parent_id)
        for blk, _ in self._pending.values():
            out.update(hashes.get(blk.id, ()))
        return out

    def _has_new_transactions(self) -> bool:
        """The pool holds more transactions than the blocks in flight: some are in none of
        them. (In-flight transactions stay in the pool until their block executes; counting
        them as new made a leader propose empty blocks back to back while a block executed.)
        An upper bound on those in the pool, so a transaction that only a peer's block
        holds can make this say no: the heartbeat then proposes."""
        n = len(self.pool)
        if not n:
            return False
        flying = sum(len(h) for h in self._block_hashes.values())
        return n > flying

    def _propose(self, req: RequestPayload) -> None:
        if req.round != self.core.round:
            return
        t0 = time.monotonic()  # building the block (select, encode) is part of its cost
        cap = self.pacer.cap(self.limits.max_block_txs)
        # The round before timed out when the high QC is older than it (docs/consensus.md §3.7)
        cap = after_timeout(cap, self.limits.after_timeout, self.limits.max_block_txs,
                            self.core.high_qc.round < req.round - 1)
        self.stats.block_cap = cap
        txs = self.pool.select(cap, self.limits.max_block_bytes, self._in_flight(req.parent_id))
        payload = encode_tx_batch([t.envelope for t in txs]) if txs else b""
        actions = self.core.handle(PayloadReady(req.round, payload), time.time())
        for a in actions:
            if isinstance(a, Broadcast) and KIND_OF_TAG.get(a.data[0]) is Kind.PROPOSAL:
                # the block the core just built: remember its transactions for the next leader
                b = self.core._proposals.get(req.round)
                if b is not None:
                    self._remember(b.block.id, txs)
                    self._saw_block(b.block.id, t0)
                    self.proposed_at[b.block.id] = time.monotonic()
        self._run(actions)

    # ------------------------------------------------------------------ verifying payloads

    def _decode_payload(self, block: Block) -> tuple[list[SignedTransaction] | None, str]:
        if not block.payload:
            return [], ""
        try:
            envs = decode_tx_batch(block.payload, self.limits.max_block_txs)
        except BatchError as e:
            return None, str(e)
        d = decode_and_verify(self.cache, envs)
        bad = next((i for i, t in enumerate(d.txs) if t is None), None)
        if bad is not None:
            return None, f"transaction {bad}: {d.errors[bad]}"
        txs = [t for t in d.txs if t is not None]
        if len({t.hash for t in txs}) != len(txs):
            return None, "a transaction appears twice"
        self.stats.verify_batches += 1
        self.stats.verified_sigs += d.verified
        return txs, ""

    def _timed_check(self, block: Block) -> tuple[list[SignedTransaction] | None, str, float]:
        t0 = time.perf_counter()
        txs, why = self._decode_payload(block)
        return txs, why, time.perf_counter() - t0

    def _verify_payload(self, block: Block) -> None:
        assert self._loop is not None
        if len(block.payload) > self.limits.max_block_bytes:
            self.feed(PayloadVerified(block.id, False))
            return
        self._saw_block(block.id)
        fut = self._loop.run_in_executor(self._verify_pool, self._timed_check, block)

        def done(f: asyncio.Future) -> None:
            if self._stopping:
                return
            exc = f.exception()
            if exc is not None:
                log.error("payload check of block %s failed: %r", block.id.hex()[:16], exc)
                self.feed(PayloadVerified(block.id, False))
                return
            txs, why, seconds = f.result()
            if txs is not None:
                self.pacer.observe_check(len(txs), seconds)
            if txs is None:
                log.warning("invalid payload in block of round %d: %s", block.round, why, extra={"round": block.round})
                self.feed(PayloadVerified(block.id, False))
                return
            self._remember(block.id, txs)
            self.feed(PayloadVerified(block.id, True))

        fut.add_done_callback(done)

    # ------------------------------------------------------------------ commit, execute, sync

    def _on_commit(self, c: Commit) -> None:
        now = time.monotonic()
        self.stats.commits += len(c.blocks)
        self.stats.last_commit_time = time.time()
        for b in c.blocks:
            self._pending[b.height] = (b, c.commit_qc)
            self._exec_queue.put_nowait((b, c.commit_qc))
            t0 = self.proposed_at.pop(b.id, None)
            if t0 is not None:
                self.commit_latencies.append(now - t0)
        keep = {b.id for b, _ in self._pending.values()}
        for bid in [k for k in self._block_txs if k not in self.core.blocks and k not in keep]:
            self._forget(bid)  # blocks of abandoned branches
        if len(self.commit_latencies) > 10_000:
            del self.commit_latencies[:5_000]
        if len(self.proposed_at) > 1000:
            for k in list(self.proposed_at)[:500]:
                del self.proposed_at[k]

    async def _execute_loop(self) -> None:
        assert self._loop is not None
        while True:
            block, qc = await self._exec_queue.get()
            ahead = self._decoding.pop(block.id, None)
            if block.height <= self.chain.height:
                self._pending.pop(block.height, None)
                if ahead is not None:
                    ahead.cancel()
                continue
            self._decode_ahead(block.height)
            # Kept in _block_txs until the pool has dropped them: a leader proposing meanwhile
            # must still see them in flight (_in_flight), or it proposes them a second time.
            txs = self._block_txs.get(block.id)
            if txs is not None and ahead is not None:
                ahead.cancel()  # checked meanwhile by the proposal path: the result is not needed
            if txs is None:
                if ahead is None:
                    ahead = self._loop.run_in_executor(self._verify_pool, self._decode_payload, block)
                txs, why = await ahead
                if txs is None:  # a quorum certified it, so it is executed as far as it decodes
                    log.error("committed block %d has an undecodable payload (%s); executing it empty",
                              block.height, why, extra={"height": block.height})
                    txs = []
                self._remember(block.id, txs)
            ex = await self._loop.run_in_executor(self._exec_pool, self.chain.execute, block, qc, txs)
            self._pending.pop(block.height, None)
            self.recent_blocks.add(block, qc)
            self.pool.on_commit(ex.applied, ex.dropped)
            self._forget(block.id)
            self.cache.discard([t.envelope for t in txs])
            self.stats.executed += 1
            self.stats.execute_seconds += ex.seconds
            self.pacer.observe_execute(len(txs), ex.seconds)
            self.feed(BlockExecuted(ex.height, bytes(ex.header.hash)))
            if self.on_executed is not None:
                self.on_executed(ex, ex.seconds)

    def _decode_ahead(self, height: int) -> None:
        """Start decoding and verifying the payloads of the next DECODE_AHEAD committed
        blocks that this node never checked (synced ones: a restarted or lagging
        validator), on the verify threads, while the execute thread runs the block at
        `height`. Signature checks release the GIL, so catching up uses both the verify
        threads and the execute thread instead of one at a time. Blocks this node already
        checked (every block it voted on) need none of it."""
        assert self._loop is not None
        for h in range(height + 1, height + 1 + DECODE_AHEAD):
            e = self._pending.get(h)
            if e is None:
                return
            b = e[0]
            if b.id in self._block_txs or b.id in self._decoding:
                continue
            self._decoding[b.id] = self._loop.run_in_executor(self._verify_pool, self._decode_payload, b)

    def _serve_sync(self, a: ServeSync) -> None:
        """Committed blocks (mbi.node.recent.committed_pairs: from memory while this node
        holds them, else from the store), as plan_sync_range chooses them: up to a block
        whose own QC commits it, or a prefix and the headers that prove it committed (docs/consensus.md §3.6); all in one frame
        (max_frame_bytes), the certified blocks and high QC included when they fit."""
        if not isinstance(a.peer, bytes):
            return
        vs = self.core.vs
        qc_bound = 128 + vs.bitmap_len + 66 * vs.n  # the commit QC and the high QC, at their largest
        budget = self.net.config.max_frame_bytes - 2 * qc_bound - 64
        from_store: set[int] = set()
        pairs = committed_pairs(self.recent_blocks, self._pending, self.chain, a.from_height, from_store)
        plan = plan_sync_range(pairs, a.max_blocks, budget, self.core.limits.max_proof_headers)
        blocks, proof = plan.blocks, plan.proof
        n_store = sum(b.height in from_store for b in blocks)
        self.stats.sync_blocks_store += n_store
        self.stats.sync_blocks_memory += len(blocks) - n_store
        certified = list(a.certified)
        # Certified blocks extend our committed tip: only a range that reaches it may carry
        # them (the peer asks again from its new height and gets them then).
        if (not plan.complete or len(certified) > self.core.limits.max_sync_certified
                or plan.size + sum(map(block_wire_bound, certified)) > budget):
            certified = []
        if not blocks and a.from_height <= self.core.committed_height:
            # A group whose first block and proof exceed a frame or max_proof_headers, or one
            # whose committing block this node does not hold yet (its tip is a proved prefix).
            log.warning("sync: the blocks from height %d cannot be proved committed within one frame; not served",
                        a.from_height, extra={"height": a.from_height})
        if proof:
            self.stats.sync_proofs += 1
        data = wire.encode_sync_response(blocks, plan.qc, certified, a.high_qc, proof)
        self.net.send(a.peer, Kind.SYNC_RESPONSE, data)

    def request_sync(self, peer_key: bytes) -> None:
        """Ask a peer for what we lack (used when status reports show we are behind)."""
        req = SyncRequest(self.core.committed_height + 1, self.core.cfg.sync_max_blocks)
        self.net.send(peer_key, Kind.SYNC_REQUEST, wire.encode_message(req))
