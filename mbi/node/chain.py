"""The node's chain: execute committed consensus blocks in order and store them atomically.

Consensus height h is ledger seq h + 1 (the genesis ledger, seq 1, is consensus height 0).
Each executed block goes to RocksDB in one WriteBatch with the consensus block and the
QC that committed it, so after a crash the ledger, the block and its certificate agree by
construction. The stored block leaves out the payload transactions that its ledger
already holds (every applied one: `_BLOCK_REF`), so a block's transactions are written
once, not twice; `block_at` puts the payload back and checks it against the block id.
Safety data is written with sync before any vote or timeout leaves, and
before it every consensus block the engine holds above the executed height (the "block
tree", voted-for blocks included): once every validator has crashed, the block that a
high QC names survives only with its voters, and no leader can propose without it.
"""
from __future__ import annotations

import dataclasses
import os
import struct
from dataclasses import dataclass
from typing import Iterable, Iterator

from mbi.consensus import wire
from mbi.consensus.types import Block, QuorumCert, SafetyData, ValidatorSet, block_id
from mbi.ledger.chain import Ledger
from mbi.ledger.genesis import Genesis
from mbi.p2p.gossip import encode_tx_batch
from mbi.store.db import Store, StoreSnapshot
from mbi.store.safety import SLOT as SAFETY_SLOT
from mbi.store.safety import SafetyFile
from mbi.types.envelope import SignedTransaction
from mbi.types.mbi_types_pb2 import LedgerHeader

_BLOCK = b"consensus/block/"       # + height: the whole block (empty blocks, stores before the ref form)
_BLOCK_REF = b"consensus/block-ref/"  # + height: the block without the payload its ledger holds
_QC = b"consensus/qc/"
_TREE = b"consensus/tree/"          # + block id: a block of the engine above the executed height
META_TREE = b"consensus/tree-index"  # (height u64, id) per block under _TREE
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_U32X2 = struct.Struct(">II")


def block_key(height: int) -> bytes:
    return _BLOCK + _U64.pack(height)


def block_ref_key(height: int) -> bytes:
    return _BLOCK_REF + _U64.pack(height)


def encode_block_ref(block: Block, txs: list[SignedTransaction], applied: list[bool]) -> bytes | None:
    """The stored form of a committed block whose payload is ``txs`` (the ledger applied
    those marked in ``applied``, and holds their exact envelopes), or None when the
    payload is not the canonical batch of those envelopes (then the whole block is kept).

    Layout: block id (32) ‖ u32 payload count ‖ u32 k ‖ k × (u32 position ‖ u32 length ‖
    envelope) for the transactions the ledger refused ‖ the block encoded with an empty
    payload. The applied transactions fill the other positions, in the ledger's order.
    """
    if not txs or encode_tx_batch([t.envelope for t in txs]) != block.payload:
        return None
    inline = [_U32X2.pack(i, len(t.envelope)) + t.envelope for i, (t, ok) in enumerate(zip(txs, applied)) if not ok]
    shell = wire.encode_block(dataclasses.replace(block, payload=b"", id=b""))  # no id: kept out of wire's cache
    return b"".join([block.id, _U32X2.pack(len(txs), len(inline)), *inline, shell])


def read_block(reader: Store | StoreSnapshot, height: int, validators: ValidatorSet, chain_id: int) -> Block | None:
    """The committed consensus block at ``height`` from a store or a snapshot of one (None
    if not stored). Raises ChainError when what is stored does not give a valid block."""
    ref = reader.get_meta(block_ref_key(height))
    if ref is not None:
        return _block_from_ref(reader, height, ref, validators, chain_id)
    raw = reader.get_meta(block_key(height))
    if raw is None:
        return None
    try:
        return wire.decode_block(raw, validators, chain_id)
    except wire.WireError as e:
        raise ChainError(f"stored consensus block {height} does not decode: {e.reason}") from None


def _block_from_ref(reader: Store | StoreSnapshot, height: int, ref: bytes, validators: ValidatorSet,
                    chain_id: int) -> Block:
    """`encode_block_ref`'s record back to the block: the refused transactions from the
    record, the applied ones from ledger ``height + 1``; the rebuilt payload must give the
    stored block id."""
    what = f"stored consensus block {height}"
    if len(ref) < 40:
        raise ChainError(f"{what} is {len(ref)} bytes, shorter than its reference header")
    bid = ref[:32]
    count, k = _U32X2.unpack_from(ref, 32)
    seq = height + 1
    hashes = reader.get_ledger_txs(seq)  # checked before the count sizes anything
    if k > count or len(hashes) != count - k:
        raise ChainError(f"{what} names {count} transactions, {k} refused; ledger {seq} holds {len(hashes)}")
    envs: list[bytes | None] = [None] * count
    pos = 40
    for _ in range(k):
        if pos + 8 > len(ref):
            raise ChainError(f"{what} is truncated in its refused transactions")
        i, n = _U32X2.unpack_from(ref, pos)
        pos += 8
        if i >= count or envs[i] is not None or pos + n > len(ref):
            raise ChainError(f"{what} has a malformed refused transaction at offset {pos - 8}")
        envs[i] = ref[pos:pos + n]
        pos += n
    try:
        shell = wire.decode_block(ref[pos:], validators, chain_id)
    except wire.WireError as e:
        raise ChainError(f"{what} does not decode: {e.reason}") from None
    it = iter(reader.get_tx_envelopes(hashes))
    for i in range(count):
        if envs[i] is None:
            rec = next(it)
            if rec is None or rec[0] != seq:
                raise ChainError(f"{what}: a transaction of ledger {seq} is missing from the store")
            envs[i] = rec[1]
    b = dataclasses.replace(shell, payload=encode_tx_batch(envs))  # type: ignore[arg-type]
    object.__setattr__(b, "id", block_id(chain_id, b))
    if b.id != bid or b.height != height:
        raise ChainError(f"{what} does not rebuild to its block id {bid.hex()[:16]} (got {b.id.hex()[:16]})")
    return b


def qc_key(height: int) -> bytes:
    return _QC + _U64.pack(height)


class ChainError(RuntimeError):
    """The store and the consensus data in it disagree (a corrupt or foreign database)."""


@dataclass(slots=True)
class Executed:
    height: int
    header: LedgerHeader
    applied: list[SignedTransaction]
    dropped: list[bytes]  # hashes of transactions the ledger refused (not stored)
    seconds: float


class Chain:
    """Ledger + store for one node. Not thread-safe: one executor thread calls `execute`."""

    def __init__(self, genesis: Genesis, store: Store, validators: ValidatorSet) -> None:
        self.genesis = genesis
        self.store = store
        self.validators = validators
        self.safety_file = SafetyFile(os.path.join(store.path, "safety.bin"))
        if store.last_seq() == 0:
            ledger, commit = Ledger.create(genesis)
            store.commit_block(commit)
            self.ledger = ledger
        else:
            self.ledger = Ledger.from_store(genesis, store)
        self.genesis_hash = bytes(self._header(1).hash)
        self._tree: dict[bytes, int] = self._read_tree_index()  # block id -> height, on disk

    def _header(self, seq: int) -> LedgerHeader:
        raw = self.store.get_header(seq)
        if raw is None:
            raise ChainError(f"the store has no header for ledger {seq}")
        return LedgerHeader.FromString(raw)

    @property
    def height(self) -> int:
        """The last executed consensus height."""
        return self.ledger.seq - 1

    def state_root(self) -> bytes:
        return bytes(self.ledger.head.hash)

    def nonce_of(self, address: str) -> int:
        acc = self.ledger.state.get_account(address)
        return int(acc.nonce) if acc is not None else 0

    # ------------------------------------------------------------------ consensus data

    def load_safety(self) -> SafetyData | None:
        raw = self.safety_file.load()
        if raw is None:
            self._check_no_safety_record()
            return None
        try:
            return wire.decode_safety(raw, self.validators, self.genesis.chain_id)
        except wire.WireError as e:
            raise ChainError(f"stored safety data does not decode: {e.reason}") from None

    def _check_no_safety_record(self) -> None:
        """No valid slot: a new file, or a crash tore the very first record (slot 1; that
        vote never left). Slot 0 is written only from the second record on, while slot 1
        still holds the first, so a non-zero slot 0 with no valid slot is a damaged file:
        starting without the record could sign a second vote in a round already voted."""
        with open(self.safety_file.path, "rb") as f:
            slot0 = f.read(SAFETY_SLOT)
        if slot0.strip(b"\x00"):
            raise ChainError(f"{self.safety_file.path}: the consensus safety record is damaged (no valid slot); "
                             "refusing to start a validator that may have forgotten its votes")

    def save_safety(self, data: bytes, blocks: Iterable[Block] = ()) -> None:
        """The tree blocks not stored yet, then the safety data, before the vote or
        timeout leaves. The blocks go to RocksDB unsynced (a synced write would hold the
        GIL through the fsync): a process crash loses none of them, and the next block's
        synced commit flushes them; only a power cut right after can lose them, which costs
        liveness (peers may still serve them), never safety. Executed blocks leave the tree."""
        items: dict[bytes, bytes | None] = {}
        for b in blocks:
            if b.id not in self._tree and b.height > self.height:
                items[_TREE + b.id] = wire.encode_block(b)
                self._tree[b.id] = b.height
        done = self.height
        for bid in [k for k, h in self._tree.items() if h <= done]:
            items[_TREE + bid] = None
            del self._tree[bid]
        if items:
            items[META_TREE] = b"".join(_U64.pack(h) + k for k, h in self._tree.items())
            self.store.write_meta(items, sync=False)
        self.safety_file.save(data)  # fdatasync'ed (GIL released) before the vote leaves

    def in_tree(self, block_id: bytes) -> bool:
        return block_id in self._tree

    def _read_tree_index(self) -> dict[bytes, int]:
        raw = self.store.get_meta(META_TREE) or b""
        if len(raw) % 40:
            raise ChainError(f"the stored block tree index has {len(raw)} bytes, not a multiple of 40")
        return {raw[i + 8:i + 40]: _U64.unpack_from(raw, i)[0] for i in range(0, len(raw), 40)}

    def load_tree(self) -> dict[bytes, Block]:
        """The stored tree blocks above the executed height, by id."""
        out: dict[bytes, Block] = {}
        for bid, h in self._tree.items():
            if h <= self.height:
                continue
            raw = self.store.get_meta(_TREE + bid)
            if raw is None:
                raise ChainError(f"the block tree index names block {bid.hex()[:16]}, which is not stored")
            try:
                b = wire.decode_block(raw, self.validators, self.genesis.chain_id)
            except wire.WireError as e:
                raise ChainError(f"stored tree block {bid.hex()[:16]} does not decode: {e.reason}") from None
            if b.id != bid:
                raise ChainError(f"stored tree block {bid.hex()[:16]} has the id {b.id.hex()[:16]}")
            out[bid] = b
        return out

    def committed_tip(self) -> tuple[Block, QuorumCert] | None:
        """The last executed consensus block and the QC that committed it (None at genesis)."""
        h = self.height
        if h == 0:
            return None
        return self.block_at(h), self.qc_at(h)

    def block_at(self, height: int) -> Block:
        b = read_block(self.store, height, self.validators, self.genesis.chain_id)
        if b is None:
            raise ChainError(f"the store has no consensus block for height {height}")
        return b

    def qc_at(self, height: int) -> QuorumCert:
        raw = self.store.get_meta(qc_key(height))
        if raw is None:
            raise ChainError(f"the store has no commit certificate for height {height}")
        try:
            return wire.decode_qc(raw, self.validators, self.genesis.chain_id)
        except wire.WireError as e:
            raise ChainError(f"stored commit certificate {height} does not decode: {e.reason}") from None

    @property
    def stored_height(self) -> int:
        """The last consensus height whose block is in the store. `height` (the ledger's)
        moves first: Ledger.close updates it on the execution thread before the block's
        WriteBatch lands, so a reader on another thread may see one more than is stored."""
        return self.store.last_seq() - 1

    def iter_blocks(self, start: int, end: int) -> Iterator[Block]:
        for h in range(start, end + 1):
            yield self.block_at(h)

    # ------------------------------------------------------------------ execution

    def execute(self, block: Block, commit_qc: QuorumCert, txs: list[SignedTransaction]) -> Executed:
        """Close the ledger for `block` and write it with its consensus data in one batch."""
        import time

        t0 = time.perf_counter()
        if block.height != self.height + 1:
            raise ChainError(f"block {block.height} executed after height {self.height}")
        closed = self.ledger.close(txs, block.timestamp_us)
        ref = encode_block_ref(block, txs, [r.applied for r in closed.receipts])
        meta = {block_ref_key(block.height) if ref is not None else block_key(block.height):
                ref if ref is not None else wire.encode_block(block),
                qc_key(block.height): wire.encode_qc(commit_qc)}
        self.store.commit_block(closed.commit, meta=meta)
        applied = [t for t, r in zip(txs, closed.receipts) if r.applied]
        dropped = [t.hash for t, r in zip(txs, closed.receipts) if not r.applied]
        return Executed(block.height, closed.header, applied, dropped, time.perf_counter() - t0)
