"""Catch-up, the pure part: check a range of committed blocks against the validator set.

A peer sends committed blocks in height order and the QC that commits the last of them.
The blocks are chained by their parent ids, the first to a block we already hold, and the
QC's signers (a quorum of the validator set) signed that it commits the last block. That
is enough: every ancestor of a committed block is committed (docs/consensus.md §3.5).
The node uses this same function on restart to check what it reads back from its store.
"""
from __future__ import annotations

from typing import Sequence

from mbi.consensus.certs import CertChecker
from mbi.consensus.types import Block, QuorumCert


class SyncError(ValueError):
    """A range of blocks that does not prove itself committed; the reason says why."""


def verify_committed_range(checker: CertChecker, anchor_id: bytes, anchor_height: int,
                           blocks: Sequence[Block], commit_qc: QuorumCert) -> None:
    """Raise SyncError unless `blocks` extend (anchor_id, anchor_height) and `commit_qc`
    (checked in one verify_batch call) commits the last of them."""
    if not blocks:
        raise SyncError("no blocks")
    prev_id, prev_h = anchor_id, anchor_height
    for b in blocks:
        if b.height != prev_h + 1:
            raise SyncError(f"block at height {b.height} follows height {prev_h}")
        if b.parent_id != prev_id:
            raise SyncError(f"block at height {b.height} does not extend the block before it")
        prev_id, prev_h = b.id, b.height
    if commit_qc.commit_id != prev_id:
        raise SyncError(f"the commit QC does not commit the block at height {prev_h}")
    if not checker.check([commit_qc]):
        raise SyncError("the commit QC's signatures are not a valid quorum")


def verify_certified_chain(checker: CertChecker, parent: Block, blocks: Sequence[Block]) -> None:
    """Raise SyncError unless `blocks` extend `parent` one by one, each certifying the one
    before it with a valid QC (all checked in one verify_batch call)."""
    prev = parent
    for b in blocks:
        if b.parent_id != prev.id or b.height != prev.height + 1:
            raise SyncError(f"certified block at height {b.height} does not extend the block before it")
        if b.qc.block_id != prev.id:
            raise SyncError(f"certified block at height {b.height} carries a QC of another block than its parent")
        if b.qc.round != prev.round:
            raise SyncError(f"certified block at height {b.height} certifies round {b.qc.round}, "
                            f"its parent is of round {prev.round}")
        if b.round <= prev.round:
            raise SyncError(f"certified block at height {b.height} has round {b.round} after {prev.round}")
        prev = b
    if blocks and not checker.check([b.qc for b in blocks]):
        raise SyncError("a certified block's QC is not a valid quorum")
