"""Transactions in: decode in batches, verify once, admit to the pool, remember for blocks.

Every envelope that reaches the node (gossip now, HTTP later, block payloads from other
leaders) goes through `TxIngress.decode_and_verify`, which runs on a worker thread: decode
each envelope, then one `verify_signatures` call (the native batch verifier, GIL released)
for all not yet verified. The resulting `SignedTransaction` objects, with their signature
results, are kept by envelope bytes in `TxCache`, so no transaction is verified twice on
this node and execution reuses the results.
"""
from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from core_ext.mempool import AddResult, Mempool
from mbi.ledger.execute import verify_signatures
from mbi.types.envelope import EnvelopeError, SignedTransaction

_U64 = struct.Struct("<Q")


def sender_id(address: str) -> int:
    """The pool's uint64 for an address: 8 bytes of SHA-256 (a collision needs 2^64 work)."""
    return _U64.unpack_from(hashlib.sha256(address.encode()).digest())[0]


class TxCache:
    """Decoded, signature-checked transactions by envelope bytes, bounded (oldest go first)."""

    __slots__ = ("_items", "capacity", "hits", "misses")

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[bytes, SignedTransaction] = OrderedDict()
        self.capacity = capacity
        self.hits = 0
        self.misses = 0

    def get(self, envelope: bytes) -> SignedTransaction | None:
        return self._items.get(envelope)

    def put(self, stx: SignedTransaction) -> None:
        self._items[stx.envelope] = stx
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def discard(self, envelopes: Sequence[bytes]) -> None:
        pop = self._items.pop
        for e in envelopes:
            pop(e, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class Decoded:
    txs: list[SignedTransaction | None]  # None where the envelope did not decode
    errors: list[str | None]
    verified: int  # signatures checked by this call (cache misses)


def decode_and_verify(cache: TxCache, envelopes: Sequence[bytes]) -> Decoded:
    """Decode envelopes and batch-verify the new ones. Thread-safe enough for one worker:
    the cache is only written here and read on the loop between batches."""
    txs: list[SignedTransaction | None] = []
    errors: list[str | None] = []
    fresh: list[SignedTransaction] = []
    get = cache.get
    for env in envelopes:
        stx = get(env)
        if stx is not None:
            cache.hits += 1
            txs.append(stx)
            errors.append(None)
            continue
        try:
            stx = SignedTransaction.from_envelope(env)
        except (EnvelopeError, TypeError) as e:
            txs.append(None)
            errors.append(str(e))
            continue
        cache.misses += 1
        fresh.append(stx)
        txs.append(stx)
        errors.append(None)
    if fresh:
        verify_signatures(fresh)  # one native batch, GIL released inside
        for stx in fresh:
            cache.put(stx)
    return Decoded(txs, errors, len(fresh))


class TxPool:
    """The node's view of the native pool: sender interning, nonce seeding, envelopes.

    `nonce_of(address)` reads the executed nonce from the ledger; it is called for every
    sender the pool has not been told about before its first transaction is admitted, as
    `Mempool.set_nonces` requires.
    """

    def __init__(self, pool: Mempool, nonce_of: Callable[[str], int]) -> None:
        self.pool = pool
        self._nonce_of = nonce_of
        self._seeded: set[int] = set()
        self.by_hash: dict[bytes, SignedTransaction] = {}
        self.results: dict[str, int] = {r.name: 0 for r in AddResult}
        self.rejected_signature = 0

    def admit(self, txs: Sequence[SignedTransaction], now: float) -> list[AddResult]:
        """Add verified transactions in one add_batch call; returns one result per item."""
        if not txs:
            return []
        senders = np.fromiter((sender_id(t.tx.source_address) for t in txs), dtype=np.uint64, count=len(txs))
        new = [(int(s), t.tx.source_address) for s, t in zip(senders.tolist(), txs) if s not in self._seeded]
        if new:
            uniq = dict(new)
            ids = np.fromiter(uniq.keys(), dtype=np.uint64, count=len(uniq))
            nonces = np.fromiter((self._nonce_of(a) for a in uniq.values()), dtype=np.int64, count=len(uniq))
            self.pool.set_nonces(ids, nonces)
            self._seeded.update(uniq.keys())
        hashes = np.frombuffer(b"".join(t.hash for t in txs), dtype=np.uint8).reshape(len(txs), 32)
        nonces = np.fromiter((t.tx.nonce for t in txs), dtype=np.int64, count=len(txs))
        prices = np.fromiter((t.tx.gas_price for t in txs), dtype=np.int64, count=len(txs))
        sizes = np.fromiter((len(t.envelope) for t in txs), dtype=np.int64, count=len(txs))
        res = self.pool.add_batch(hashes, senders, nonces, prices, sizes, now)
        out = [AddResult(int(r)) for r in res.tolist()]
        for t, r in zip(txs, out):
            self.results[r.name] += 1
            if r is AddResult.ACCEPTED or r is AddResult.REPLACED:
                self.by_hash[t.hash] = t
        return out

    def select(self, max_txs: int, max_bytes: int, exclude: set[bytes]) -> list[SignedTransaction]:
        """The next block's transactions, leaving out those already in uncommitted blocks."""
        got = self.pool.select(max_txs + len(exclude), max_bytes)
        out: list[SignedTransaction] = []
        by_hash = self.by_hash
        for row in got:
            h = row.tobytes()
            if h in exclude:
                continue
            t = by_hash.get(h)
            if t is not None:
                out.append(t)
                if len(out) >= max_txs:
                    break
        return out

    def on_commit(self, applied: Sequence[SignedTransaction], dropped: Sequence[bytes]) -> None:
        """After a block executed: raise nonces, drop what it used and what it refused."""
        last: dict[int, int] = {}
        for t in applied:
            s = sender_id(t.tx.source_address)
            if t.tx.nonce > last.get(s, -1):
                last[s] = t.tx.nonce
            self.by_hash.pop(t.hash, None)
        if last:
            self.pool.on_commit(np.fromiter(last.keys(), dtype=np.uint64, count=len(last)),
                                np.fromiter(last.values(), dtype=np.int64, count=len(last)))
            self._seeded.update(last.keys())
        if dropped:
            self.pool.remove(np.frombuffer(b"".join(dropped), dtype=np.uint8).reshape(len(dropped), 32))
            for h in dropped:
                self.by_hash.pop(h, None)

    def prune(self) -> int:
        """Forget envelopes the pool no longer holds (evicted or expired)."""
        gone = [h for h in self.by_hash if h not in self.pool]
        for h in gone:
            del self.by_hash[h]
        return len(gone)

    def __len__(self) -> int:
        return len(self.pool)
