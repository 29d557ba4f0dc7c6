"""Catch-up, the pure part: check a range of committed blocks against the validator set,
and choose what a response to a sync request carries.

A peer sends committed blocks in height order and the QC that commits the last of them.
The blocks are chained by their parent ids, the first to a block we already hold, and the
QC's signers (a quorum of the validator set) signed that it commits the last block. That
is enough: every ancestor of a committed block is committed (docs/consensus.md §3.5).

One QC can commit many blocks at once (after timeouts, a block and its uncommitted
ancestors), more than one response can carry. Then the response carries a prefix of them
in full and the headers of the rest (`proof`): the headers chain by parent id from the
prefix to the block the QC commits, and each header's id is recomputed from its fields,
so the prefix is proved committed without the payloads it does not carry (§3.6).
Client proofs (mbi.api.verify) are checked with verify_committed_range too.
"""
from __future__ import annotations

from itertools import chain
from typing import Iterable, NamedTuple, Sequence

from mbi.consensus.certs import CertChecker
from mbi.consensus.types import Block, BlockHeader, QuorumCert, header_of

# Upper bounds of encoded sizes (protobuf tags, varints of up to 10 bytes, 32-byte ids), so
# that a response planned within a budget encodes within it.
HEADER_BYTES = 192  # 166 at most: nine fields, three of them 32-byte ids


def qc_wire_bound(qc: QuorumCert) -> int:
    """At least the encoded size of `qc`: fixed fields, bitmap and 64-byte signatures."""
    return 128 + len(qc.signers) + 66 * len(qc.signatures)


def block_wire_bound(b: Block) -> int:
    """At least the encoded size of `b` inside a sync response."""
    return 192 + len(b.payload) + len(b.exec_root) + qc_wire_bound(b.qc)


class SyncError(ValueError):
    """A range of blocks that does not prove itself committed; the reason says why."""


def verify_committed_range(checker: CertChecker, anchor_id: bytes, anchor_height: int,
                           blocks: Sequence[Block], commit_qc: QuorumCert,
                           proof: Sequence[BlockHeader] = ()) -> None:
    """Raise SyncError unless `blocks` extend (anchor_id, anchor_height), `proof` (headers)
    extends the last of them, and `commit_qc` (checked in one verify_batch call) commits the
    last block or, with a proof, the last header."""
    if not blocks:
        raise SyncError("no blocks")
    prev_id, prev_h = anchor_id, anchor_height
    links: Iterable[tuple[str, Block | BlockHeader]] = chain((("block", b) for b in blocks),
                                                             (("proof header", h) for h in proof))
    for what, b in links:
        if b.height != prev_h + 1:
            raise SyncError(f"{what} at height {b.height} follows height {prev_h}")
        if b.parent_id != prev_id:
            raise SyncError(f"{what} at height {b.height} does not extend the block before it")
        prev_id, prev_h = b.id, b.height
    if commit_qc.commit_id != prev_id:
        raise SyncError(f"the commit QC does not commit the block at height {prev_h}")
    if not checker.check([commit_qc]):
        raise SyncError("the commit QC's signatures are not a valid quorum")


class SyncPlan(NamedTuple):
    """What one sync response carries (plan_sync_range)."""
    blocks: list[Block]  # full committed blocks, in height order
    qc: QuorumCert | None  # the QC that commits the last block, or the last proof header
    proof: list[BlockHeader]  # headers from the block after `blocks` to the committed one
    complete: bool  # the blocks reach the end of the pairs given: the sender's committed tip
    size: int  # block_wire_bound of the blocks plus HEADER_BYTES per proof header


def _nothing(complete: bool = False) -> SyncPlan:
    return SyncPlan([], None, [], complete, 0)


def plan_sync_range(pairs: Iterable[tuple[Block, QuorumCert]], max_blocks: int, budget: int,
                    max_proof: int) -> SyncPlan:
    """What a sync response carries, from `pairs`: the committed blocks from the requested
    height on, in height order, each with the QC that committed it (lazily: they are read
    as needed, and none past the commit point that ends the answer).

    The full blocks are at most `max_blocks` and, counted by block_wire_bound and with
    HEADER_BYTES per proof header, at most `budget` bytes. They end at the last block whose
    own QC commits it when one is among them (no proof); otherwise the proof holds the
    headers from the block after them to the first that its QC commits. No blocks when not
    even one fits, or no commit point lies within `max_proof` headers.

    `complete` is true when the answer leaves nothing of `pairs` unserved (every pair was
    read and served, or there were none): only such an answer may carry the sender's
    certified blocks, which extend its committed tip."""
    it = iter(pairs)
    blocks: list[Block] = []
    sizes: list[int] = []
    size = 0
    end, qc = 0, None
    spill: list[tuple[Block, QuorumCert]] = []  # the first pair that did not fit in full
    for b, q in it:
        s = block_wire_bound(b)
        if len(blocks) >= max_blocks or size + s > budget:
            spill.append((b, q))
            break
        blocks.append(b)
        sizes.append(s)
        size += s
        if q.commit_id == b.id:
            end, qc = len(blocks), q
    if end:
        return SyncPlan(blocks[:end], qc, [], end == len(blocks) and not spill, sum(sizes[:end]))
    if not blocks:
        return _nothing(complete=not spill)
    proof: list[BlockHeader] = []
    for b, q in chain(spill, it):
        proof.append(header_of(b))
        if q.commit_id == b.id:
            qc = q
            break
        if len(proof) >= max_proof:
            return _nothing()
    else:
        return _nothing()  # the sender does not hold the block that commits them yet
    # Headers take room too: give up full blocks at the end until it all fits.
    while blocks and size + HEADER_BYTES * len(proof) > budget:
        b = blocks.pop()
        size -= sizes.pop()
        proof.insert(0, header_of(b))
    if not blocks or len(proof) > max_proof:
        return _nothing()
    return SyncPlan(blocks, qc, proof, False, size + HEADER_BYTES * len(proof))


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
