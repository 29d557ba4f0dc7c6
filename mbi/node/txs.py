"""Transactions in: decode in batches, verify once, admit to the pool, remember for blocks.

Every envelope that reaches the node (gossip, HTTP, block payloads from other leaders)
goes through `decode_and_verify`, which runs on a worker thread: decode the envelopes
(`SignedTransaction.from_envelopes`, hashes in one native batch), then one native batch
verify (GIL released) for all not yet verified: `verify_single_signed` takes the usual
one-signature transactions, the ledger's `verify_signatures` the rest and any that fail. The resulting `SignedTransaction` objects, with their signature results,
are kept by envelope bytes in `TxCache`, so no transaction is verified twice on this node
and execution reuses the results.

Gossip ingress is verified per origin (`verify_groups`): one peer's bad signatures make
only its own batch take the verifier's slow path (a failed batch check, then splitting),
and the verifier's strategy, which adapts to the recent invalid rate, is run with that
origin's own rate (`InvalidRates`). `admit_groups` then admits, relays what the pool
took, and names each peer that relayed a transaction without one valid signature (an
honest node verifies before it relays, so that peer is faulty or hostile).
"""
from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Hashable, Sequence

import numpy as np

from core_ext import sigverify as _sv
from core_ext.mempool import AddResult, Mempool
from mbi.ledger.execute import verify_signatures
from mbi.types.envelope import SignedTransaction

if TYPE_CHECKING:
    from mbi.p2p.gossip import TxGossip

_U64 = struct.Struct("<Q")
# Score penalty (docs/p2p.md) per relayed transaction that no valid signature covers, or
# that does not decode; at most PENALTY_BAD_RELAY_MAX per batch.
PENALTY_BAD_RELAY = 20.0
PENALTY_BAD_RELAY_MAX = 100.0

# address -> pool sender id. Senders repeat, so each address is hashed once (bounded).
_SENDER_IDS: dict[str, int] = {}
_SENDER_IDS_MAX = 1 << 20


def _sender_id_of(address: str) -> int:
    return _U64.unpack_from(hashlib.sha256(address.encode()).digest())[0]


def sender_id(address: str) -> int:
    """The pool's uint64 for an address: 8 bytes of SHA-256 (a collision needs 2^64 work)."""
    s = _SENDER_IDS.get(address)
    if s is None:
        s = _sender_id_of(address)
        if len(_SENDER_IDS) >= _SENDER_IDS_MAX:
            _SENDER_IDS.clear()
        _SENDER_IDS[address] = s
    return s


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

    def put_many(self, stxs: Sequence[SignedTransaction]) -> None:
        items = self._items
        items.update([(t.envelope, t) for t in stxs])
        over = len(items) - self.capacity
        if over > 0:
            pop = items.popitem
            for _ in range(over):
                pop(last=False)

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


# address -> frozenset((address,)): the valid_signers of a transaction with one good signature
_SIGNER_SETS: dict[str, frozenset[str]] = {}


def verify_single_signed(txs: Sequence[SignedTransaction]) -> list[SignedTransaction]:
    """Verify, in one native batch, the unchecked transactions that carry exactly one
    well-formed signature (what clients send), and return the rest unchanged for
    `verify_signatures`: those with other signature counts or malformed keys, and those
    whose signature failed here (the ledger's function then decides them again and
    writes its own `sig_error`, so every verdict and field is what it would write).

    For a transaction whose one signature verifies this sets exactly what
    `verify_signatures` sets: ``valid_signers = {its address}``, ``sig_ok = True``.
    It avoids that function's per-item Python (index bookkeeping, per-transaction sets).
    """
    keys: list[bytes] = []
    msgs: list[bytes] = []
    sigs: list[bytes] = []
    one: list[SignedTransaction] = []
    rest: list[SignedTransaction] = []
    for t in txs:
        if t.sig_ok is not None:
            continue
        s = t.signatures
        if len(s) == 1:
            _pk, raw, _addr, sd = s[0]
            if raw is not None and len(raw) == 32 and len(sd) == 64:
                keys.append(raw)
                msgs.append(t.tx_bytes)
                sigs.append(sd)
                one.append(t)
                continue
        rest.append(t)
    if one:
        # Lengths are checked above (raw keys are 32 bytes by construction), so the kernel
        # gets the joined buffers directly; results are written only after it returns.
        ok = _sv.verify_batch(b"".join(keys), msgs, b"".join(sigs)).tolist()
        sets = _SIGNER_SETS
        for t, v in zip(one, ok):
            if v:
                addr = t.signatures[0][2]
                fs = sets.get(addr)  # type: ignore[arg-type]
                if fs is None:
                    if len(sets) >= _SENDER_IDS_MAX:
                        sets.clear()
                    fs = sets[addr] = frozenset((addr,))  # type: ignore[index,arg-type]
                t.valid_signers = fs
                t.sig_ok = True
            else:
                rest.append(t)
    return rest


class InvalidRates:
    """The batch verifier's recent invalid rate, remembered per origin (speed only).

    `core_ext.sigverify` keeps one moving average of the invalid fraction and starts a
    batch from small parts (or exact single checks) when failures are expected. Left
    global, one origin's bad signatures would slow every honest batch too; here each
    origin's batch runs with that origin's own average. Verdicts never depend on it, so
    races with other threads verifying at the same moment only blur the figure.
    """

    __slots__ = ("_rates", "max_origins")

    def __init__(self, max_origins: int = 4096) -> None:
        self._rates: dict[Hashable, float] = {}
        self.max_origins = max_origins

    def verify(self, origin: Hashable, txs: Sequence[SignedTransaction]) -> None:
        """`verify_signatures(txs)` with ``origin``'s rate in place, then remember it."""
        _sv._recent_invalid_rate(self._rates.get(origin, 0.0))
        rest = verify_single_signed(txs)
        r = _sv._recent_invalid_rate()  # before the re-check of the bad ones moves it
        if rest:
            verify_signatures(rest)
        if origin not in self._rates and len(self._rates) >= self.max_origins:
            self._rates.clear()
        self._rates[origin] = r

    def rate(self, origin: Hashable) -> float:
        return self._rates.get(origin, 0.0)


def decode_and_verify(cache: TxCache, envelopes: Sequence[bytes], rates: InvalidRates | None = None,
                      origin: Hashable = None) -> Decoded:
    """Decode envelopes and batch-verify the new ones. Thread-safe enough for one worker:
    the cache is only written here and read on the loop between batches. With ``rates``,
    the batch is verified with ``origin``'s recent invalid rate (`InvalidRates`)."""
    txs: list[SignedTransaction | None] = []
    errors: list[str | None] = []
    get = cache.get
    hit = [get(env) for env in envelopes]
    miss = [env for env, stx in zip(envelopes, hit) if stx is None]
    decoded = iter(SignedTransaction.from_envelopes(miss) if miss else ())  # hashes in one native batch
    fresh: list[SignedTransaction] = []
    for stx in hit:
        if stx is None:
            d = next(decoded)
            if isinstance(d, Exception):
                txs.append(None)
                errors.append(str(d))
                continue
            stx = d
            fresh.append(stx)
        txs.append(stx)
        errors.append(None)
    cache.hits += len(hit) - len(miss)
    cache.misses += len(fresh)
    if fresh:
        if rates is not None:
            rates.verify(origin, fresh)  # one native batch, GIL released inside
        else:
            rest = verify_single_signed(fresh)
            if rest:
                verify_signatures(rest)
        cache.put_many(fresh)
    return Decoded(txs, errors, len(fresh))


# One ingress group: (origin peer key, or None for local; envelopes; their gossip hashes
# (SHA-256 of each envelope) where known, else None).
Group = tuple["bytes | None", list[bytes], "list[bytes] | None"]


def verify_groups(cache: TxCache, groups: Sequence[Group], rates: InvalidRates | None = None) -> list[Decoded]:
    """`decode_and_verify` for each origin's envelopes on its own (worker thread)."""
    return [decode_and_verify(cache, envs, rates, origin) for origin, envs, _ in groups]


@dataclass(slots=True)
class Admitted:
    fresh: list[SignedTransaction]  # what the pool took (and was relayed)
    results: list[AddResult] = field(default_factory=list)  # per decoded, well-signed transaction
    bad_relays: dict[bytes, int] = field(default_factory=dict)  # peer -> transactions it should not have sent
    verified: int = 0


def admit_groups(pool: "TxPool", gossip: "TxGossip | None", groups: Sequence[Group], decoded: Sequence[Decoded],
                 now: float) -> Admitted:
    """On the loop, after `verify_groups`: admit every well-signed transaction in one
    `add_batch`, relay what the pool took (with its gossip hash where known) and report
    each peer that relayed a transaction no valid signature covers or that does not
    decode (`PENALTY_BAD_RELAY` each, at most `PENALTY_BAD_RELAY_MAX` per batch)."""
    ok: list[SignedTransaction] = []
    ok_h: list[bytes | None] = []
    ok_o: list[bytes | None] = []  # origin peer of each (None: a local client)
    bad: dict[bytes, int] = {}
    verified = 0
    for (origin, _envs, hashes), d in zip(groups, decoded):
        verified += d.verified
        txs = d.txs
        n = len(txs)
        hs = hashes if hashes is not None else [None] * n
        # the usual group: every transaction decoded and well signed, taken whole
        if len(hs) == n and len([t for t in txs if t is not None and t.valid_signers]) == n:
            ok += txs  # type: ignore[arg-type]
            ok_h += hs
            ok_o += [origin] * n
            continue
        n_bad = 0
        for t, h in zip(txs, hs):
            if t is not None and t.valid_signers:
                ok.append(t)
                ok_h.append(h)
                ok_o.append(origin)
            else:
                n_bad += 1
        if n_bad and origin is not None:
            bad[origin] = n_bad
    if gossip is not None:
        for peer, n in bad.items():
            gossip.net.report(peer, min(PENALTY_BAD_RELAY * n, PENALTY_BAD_RELAY_MAX),
                              f"relayed {n} transaction(s) without a valid signature")
    results = pool.admit(ok, now)
    fresh: list[SignedTransaction] = []
    fresh_h: list[bytes | None] = []
    fresh_o: list[bytes | None] = []
    if results.count(AddResult.ACCEPTED) == len(ok):  # the pool took them all
        fresh, fresh_h, fresh_o = ok, ok_h, ok_o
    else:
        for t, h, o, r in zip(ok, ok_h, ok_o, results):
            if r is AddResult.ACCEPTED or r is AddResult.REPLACED:
                fresh.append(t)
                fresh_h.append(h)
                fresh_o.append(o)
    if fresh and gossip is not None:
        envs = [t.envelope for t in fresh]
        if None in fresh_h:
            from mbi.p2p.gossip import sha256_each

            fresh_h = sha256_each(envs)
        gossip.relay(envs, fresh_h, fresh_o)  # type: ignore[arg-type]
    return Admitted(fresh, results, bad, verified)


def ingest_batch(cache: TxCache, pool: "TxPool", gossip: "TxGossip | None", groups: Sequence[Group], now: float,
                 rates: InvalidRates | None = None) -> Admitted:
    """`verify_groups` then `admit_groups` in one call (what Node._admit does across a
    worker thread and the loop; benchmarks and tests)."""
    return admit_groups(pool, gossip, groups, verify_groups(cache, groups, rates), now)


_RESULTS = {int(r): r for r in AddResult}
_ACCEPTED, _REPLACED = int(AddResult.ACCEPTED), int(AddResult.REPLACED)


def _pool_fields(txs: Sequence[SignedTransaction]) -> tuple[list[str], list[int], list[int]]:
    """(source addresses, nonces, gas prices): from the decoder's scans when every
    transaction has one (the common PAY_COIN), else through the properties, which read
    the decoded message where there is no scan."""
    pays = [t.pay for t in txs]
    try:
        return [p[0] for p in pays], [p[1] for p in pays], [p[3] for p in pays]  # type: ignore[index]
    except TypeError:  # one without a scan (None[0])
        return ([t.source_address for t in txs], [t.nonce for t in txs], [t.gas_price for t in txs])


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
        n = len(txs)
        sid = _SENDER_IDS.get
        addrs, nonce_list, price_list = _pool_fields(txs)
        ids = [sid(a) for a in addrs]
        if None in ids:
            ids = [sender_id(a) if s is None else s for a, s in zip(addrs, ids)]
        seeded = self._seeded
        unseeded = set(ids).difference(seeded)
        new = {s: a for s, a in zip(ids, addrs) if s in unseeded} if unseeded else None
        if new:
            nids = np.fromiter(new.keys(), dtype=np.uint64, count=len(new))
            nonces = np.fromiter(map(self._nonce_of, new.values()), dtype=np.int64, count=len(new))
            self.pool.set_nonces(nids, nonces)
            seeded.update(new.keys())
        senders = np.array(ids, dtype=np.uint64)
        hash_list = [t.hash for t in txs]
        hashes = np.frombuffer(b"".join(hash_list), dtype=np.uint8).reshape(n, 32)
        nonces = np.array(nonce_list, dtype=np.int64)
        prices = np.array(price_list, dtype=np.int64)
        sizes = np.array([len(t.envelope) for t in txs], dtype=np.int64)
        res = self.pool.add_batch(hashes, senders, nonces, prices, sizes, now)
        counts = self.results
        tally = np.bincount(res, minlength=len(_RESULTS)).tolist()  # codes are 0..7
        for code, k in enumerate(tally):
            if k:
                counts[_RESULTS[code].name] += k
        by_hash = self.by_hash
        if tally[_ACCEPTED] == n:  # the usual batch: every one taken
            by_hash.update(zip(hash_list, txs))
            return [AddResult.ACCEPTED] * n
        codes = res.tolist()
        for h, t, code in zip(hash_list, txs, codes):
            if code == _ACCEPTED or code == _REPLACED:
                by_hash[h] = t
        return [_RESULTS[c] for c in codes]

    def select(self, max_txs: int, max_bytes: int, exclude: set[bytes]) -> list[SignedTransaction]:
        """The next block's transactions, leaving out those already in uncommitted blocks."""
        got = self.pool.select(max_txs + len(exclude), max_bytes)
        out: list[SignedTransaction] = []
        by_hash = self.by_hash
        buf = got.tobytes()  # one copy, then 32-byte slices: no numpy row object per hash
        for i in range(0, len(buf), 32):
            h = buf[i:i + 32]
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
        if applied:
            pop = self.by_hash.pop
            for t in applied:
                pop(t.hash, None)
            sid = _SENDER_IDS.get
            addrs, nonce_list, _ = _pool_fields(applied)
            ids = [sid(a) for a in addrs]
            if None in ids:
                ids = [sender_id(a) if v is None else v for a, v in zip(addrs, ids)]
            senders = np.array(ids, dtype=np.uint64)
            nonces = np.array(nonce_list, dtype=np.int64)
            # each sender's highest nonce: sort by (sender, nonce), keep the last of each run
            order = np.lexsort((nonces, senders))
            s_sorted = senders[order]
            last = np.ones(len(order), dtype=bool)
            last[:-1] = s_sorted[1:] != s_sorted[:-1]
            top_s = s_sorted[last]
            self.pool.on_commit(top_s, nonces[order][last])
            self._seeded.update(top_s.tolist())
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
