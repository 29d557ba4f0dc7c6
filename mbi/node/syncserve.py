"""Answering SYNC_REQUESTs (docs/consensus.md §3.6) on a thread of their own.

An answer reads up to `sync.batch_blocks` committed blocks from the store, rebuilds
their payloads from the ledger's transaction records and encodes them, up to one frame
(16 MiB). In a kill run that took 1.4–1.7 s of Python per answer, and the three healthy
validators each answered the restarted one; on the event loop it stopped their consensus
for that long (docs/bench-e2e.md). So the loop only takes a snapshot of what the answer
may hold (the stored height, the committed blocks still waiting for execution, the
certified chain the engine passed), and the serving thread plans, reads and encodes; the
loop sends the frame when it is ready. One thread: answers queue, so a burst of requests
does not take more than one core's share from execution and verification.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterator

from mbi.consensus import wire
from mbi.consensus.core import Core
from mbi.consensus.events import ServeSync
from mbi.consensus.sync import block_wire_bound, plan_sync_range
from mbi.consensus.types import Block, QuorumCert
from mbi.node.chain import Chain, ChainError
from mbi.p2p.kinds import Kind

if TYPE_CHECKING:
    from mbi.node.driver import DriverStats

log = logging.getLogger("mbi.node")


class SyncServer:
    """Plans and encodes sync answers on its thread; sends them from the event loop."""

    def __init__(self, core: Core, chain: Chain, net, stats: "DriverStats",  # noqa: ANN001
                 pending: dict[int, tuple[Block, QuorumCert]]) -> None:
        self.core = core
        self.chain = chain
        self.net = net
        self.stats = stats
        self._pending = pending  # the driver's committed blocks not yet executed (read on the loop only)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sync_serve")
        self._closed = False

    def serve(self, a: ServeSync, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: take the snapshot, start the answer on the serving thread."""
        if not isinstance(a.peer, bytes) or self._closed:
            return
        # Blocks leave _pending only after their execution stored them, so the stored
        # height and this copy together hold every block committed now, none skipped.
        top, pending = self.chain.stored_height, dict(self._pending)
        fut = loop.run_in_executor(self._pool, self._answer, a, top, pending)
        fut.add_done_callback(lambda f: self._send(a, f))

    def close(self) -> None:
        """Finish the answer being encoded (it reads the store), drop the queued ones."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ on the serving thread

    def _pairs(self, from_height: int, top: int,
               pending: dict[int, tuple[Block, QuorumCert]]) -> Iterator[tuple[Block, QuorumCert]]:
        """Committed blocks from `from_height` with their commit QCs: the stored ones up to
        `top`, then those the snapshot holds (read lazily, as the planner asks)."""
        h = max(from_height, 1)
        while h <= top:
            yield self.chain.block_at(h), self.chain.qc_at(h)
            h += 1
        while h in pending:
            yield pending[h]
            h += 1

    def _answer(self, a: ServeSync, top: int, pending: dict[int, tuple[Block, QuorumCert]]) -> tuple[bytes, bool, int]:
        """The encoded answer (plan_sync_range: up to a block whose own QC commits it, or a
        prefix and the headers that prove it committed), whether it carries a proof, and
        how many committed blocks it holds; all in one frame (max_frame_bytes), the
        certified blocks and high QC included when they fit."""
        vs = self.core.vs
        qc_bound = 128 + vs.bitmap_len + 66 * vs.n  # the commit QC and the high QC, at their largest
        budget = self.net.config.max_frame_bytes - 2 * qc_bound - 64
        limits = self.core.limits
        plan = plan_sync_range(self._pairs(a.from_height, top, pending), a.max_blocks, budget,
                               limits.max_proof_headers)
        certified = list(a.certified)
        # Certified blocks extend the committed tip: only a range that reaches it may carry
        # them (the peer asks again from its new height and gets them then).
        if (not plan.complete or len(certified) > limits.max_sync_certified
                or plan.size + sum(map(block_wire_bound, certified)) > budget):
            certified = []
        data = wire.encode_sync_response(plan.blocks, plan.qc, certified, a.high_qc, plan.proof)
        return data, bool(plan.proof), len(plan.blocks)

    # ------------------------------------------------------------------ back on the loop

    def _send(self, a: ServeSync, f: "Future[tuple[bytes, bool, int]]") -> None:
        if self._closed or f.cancelled():
            return
        exc = f.exception()
        if exc is not None:
            if isinstance(exc, ChainError):
                log.error("sync: cannot serve heights from %d: %s", a.from_height, exc,
                          extra={"height": a.from_height})
            else:
                log.error("sync: answering heights from %d failed: %r", a.from_height, exc,
                          extra={"height": a.from_height})
            return
        data, proof, blocks = f.result()
        if not blocks and a.from_height <= self.core.committed_height:
            # A group whose first block and proof exceed a frame or max_proof_headers, or one
            # whose committing block this node does not hold yet (its tip is a proved prefix).
            log.warning("sync: the blocks from height %d cannot be proved committed within one frame; not served",
                        a.from_height, extra={"height": a.from_height})
        if proof:
            self.stats.sync_proofs += 1
        self.net.send(a.peer, Kind.SYNC_RESPONSE, data)
