"""The last committed blocks a node executed, kept in memory to answer sync requests.

A validator that restarts asks its peers for every block committed while it was down,
and a peer answers on its event loop. Read back from the store, each block's payload is
rebuilt from the ledger's transaction records (mbi.node.chain.read_block): for 18 blocks
of 3,500 PAY_COIN transactions, 350 ms alone and 1.4-1.7 s on a loaded validator,
against 9 ms when the blocks are still in memory (bench/ratio_sync_serve.py). The node
held each of these Block objects until it executed it anyway; this keeps the latest
for longer, within a byte budget, so the common case (a restart after a short outage)
never touches the store.

`committed_pairs` is what a sync answer reads: memory first, then the store.

The heights held are always one contiguous range: a block that does not follow the last
one (a jump, which only a caller bug would cause) starts the range afresh.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterator, Mapping

from mbi.consensus.types import Block, QuorumCert

if TYPE_CHECKING:
    from mbi.node.chain import Chain

# Counted per block beside its payload: the header and the objects around it, and per
# signature of its QC and of its commit QC (a bytes object each). An empty block with both
# QCs holds about 1.2 KB with 4 validators and 2.8 KB with 16; these count 1.8 and 3.8 KB
# (bench/recent_block_memory.py).
BLOCK_OVERHEAD = 1024
SIGNATURE_OVERHEAD = 128


class RecentBlocks:
    """Committed (block, commit QC) pairs by height, the newest up to `max_bytes` (payloads,
    headers and signatures, as `size_of` counts them). Used on the event loop only (no
    lock)."""

    __slots__ = ("max_bytes", "nbytes", "_pairs", "_first")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._pairs: deque[tuple[Block, QuorumCert]] = deque()
        self._first = 0  # the height of _pairs[0]

    def __len__(self) -> int:
        return len(self._pairs)

    @staticmethod
    def size_of(block: Block, qc: QuorumCert) -> int:
        """The bytes a pair is counted as."""
        sigs = len(block.qc.signatures) + len(qc.signatures)
        return len(block.payload) + BLOCK_OVERHEAD + SIGNATURE_OVERHEAD * sigs

    def add(self, block: Block, qc: QuorumCert) -> None:
        """Keep the block just executed (its height the last one's plus one), dropping the
        oldest while more than max_bytes are held. A block larger than max_bytes on its
        own is not kept, and neither is anything before it."""
        if self._pairs and block.height != self._first + len(self._pairs):
            self.clear()
        size = self.size_of(block, qc)
        if size > self.max_bytes:
            self.clear()
            return
        if not self._pairs:
            self._first = block.height
        self._pairs.append((block, qc))
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            old, old_qc = self._pairs.popleft()
            self.nbytes -= self.size_of(old, old_qc)
            self._first += 1

    def get(self, height: int) -> tuple[Block, QuorumCert] | None:
        i = height - self._first
        if 0 <= i < len(self._pairs):
            return self._pairs[i]
        return None

    @property
    def heights(self) -> range:
        """The heights held (an empty range when none)."""
        return range(self._first, self._first + len(self._pairs))

    def clear(self) -> None:
        self._pairs.clear()
        self.nbytes = 0
        self._first = 0


def committed_pairs(recent: RecentBlocks, pending: Mapping[int, tuple[Block, QuorumCert]], chain: "Chain",
                    from_height: int, from_store: set[int] | None = None) -> Iterator[tuple[Block, QuorumCert]]:
    """The committed blocks from `from_height` with their commit QCs, in height order, for
    a sync answer (lazily: the planner reads only what it needs): from memory while the
    node holds them (executed ones in `recent`, those waiting for execution in the
    driver's `pending`), else from the store, up to its height when this starts. The
    driver moves a block from `pending` to `recent` on its loop, after the execution
    stored it, and calls this on the same loop, so no height is skipped; an executed
    block `recent` no longer holds is in the store. Heights read from the store are added
    to `from_store`."""
    h = max(from_height, 1)
    stored = chain.stored_height
    while True:
        e = recent.get(h) or pending.get(h)
        if e is None:
            if h > stored:
                return
            e = (chain.block_at(h), chain.qc_at(h))
            if from_store is not None:
                from_store.add(h)
        yield e
        h += 1
