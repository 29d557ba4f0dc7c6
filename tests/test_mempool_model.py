"""Model-based test: core_ext.mempool.Mempool against the pure-Python reference pool.

Random interleavings of add/select/commit/set_nonces/expire/remove over a handful of
senders, with small bounds so that eviction, gaps, replacement and ties all happen often.
Every observable result must agree exactly, and the invariants hold after every step.
"""
from __future__ import annotations

import collections
import hashlib
import random

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core_ext.mempool import Mempool
from tests.mempool_ref import RefMempool

SENDERS = [0, 1, 2, 7, 2**64 - 1, 12345678901234]
PRICES = [0, 1, 2, 3, 9, 10, 11, 12, 100]


def _arrays(txs):
    n = len(txs)
    h = np.zeros((n, 32), dtype=np.uint8)
    for i, t in enumerate(txs):
        h[i] = np.frombuffer(t[0], dtype=np.uint8)
    return (h, np.array([t[1] for t in txs], dtype=np.uint64),
            np.array([t[2] for t in txs], dtype=np.int64),
            np.array([t[3] for t in txs], dtype=np.int64),
            np.array([t[4] for t in txs], dtype=np.int64))


tx_spec = st.tuples(
    st.integers(0, 9),               # hash kind: fresh, fresh with shared prefix, reuse old
    st.sampled_from(SENDERS),
    st.integers(-1, 10),             # nonce offset from the executed nonce
    st.sampled_from(PRICES),
    st.integers(1, 400),             # size
)


class PoolMachine(RuleBasedStateMachine):
    @initialize(capacity=st.integers(1, 24), capacity_bytes=st.integers(200, 4000),
                per_sender=st.integers(1, 6), gap=st.integers(1, 8),
                ttl=st.sampled_from([0.0, 5.0, 20.0]), bump=st.sampled_from([0.0, 0.1, 0.5]))
    def setup(self, capacity, capacity_bytes, per_sender, gap, ttl, bump):
        kw = {"per_sender_limit": per_sender, "max_nonce_gap": gap, "ttl": ttl,
              "replace_bump": bump}
        self.pool = Mempool(capacity, capacity_bytes, **kw)
        self.ref = RefMempool(capacity, capacity_bytes, **kw)
        self.now = 100.0
        self.counter = 0
        self.seen: list[bytes] = []

    def _hash(self, kind: int) -> bytes:
        if kind >= 8 and self.seen:
            return self.seen[(kind * 7919 + self.counter) % len(self.seen)]
        self.counter += 1
        d = hashlib.sha256(self.counter.to_bytes(8, "little")).digest()
        if kind >= 6:  # same first 8 bytes: exercises the full-hash tie-break
            d = b"\x42" * 8 + d[8:]
        self.seen.append(d)
        return d

    @rule(specs=st.lists(tx_spec, min_size=0, max_size=12))
    def add(self, specs):
        txs = []
        for kind, s, off, price, size in specs:
            txs.append((self._hash(kind), s, self.ref.executed_nonce(s) + off, price, size))
        got = self.pool.add_batch(*_arrays(txs), self.now)
        want = self.ref.add_batch(*_arrays(txs), self.now)
        assert got.dtype == np.int8
        assert got.tolist() == want

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.0, -2.0]))
    def tick(self, dt):
        self.now += dt  # may go backwards: arrivals are clamped to stay monotonic

    def _check_block(self, block: list[bytes]):
        assert len(set(block)) == len(block), "a hash selected twice"
        last: dict[int, int] = {}
        for h in block:
            tx = self.ref.by_hash[h]
            expect = last.get(tx.sender, self.ref.executed_nonce(tx.sender)) + 1
            assert tx.nonce == expect, "selected nonces not contiguous from executed+1"
            last[tx.sender] = tx.nonce

    @rule(max_txs=st.integers(0, 30), max_bytes=st.integers(0, 5000))
    def select(self, max_txs, max_bytes):
        got = [bytes(r) for r in self.pool.select(max_txs, max_bytes)]
        want = self.ref.select(max_txs, max_bytes)
        assert got == want
        self._check_block(got)
        assert len(got) <= max_txs
        assert sum(self.ref.by_hash[h].size for h in got) <= max_bytes
        # selecting again gives the same block: select did not mutate
        assert [bytes(r) for r in self.pool.select(max_txs, max_bytes)] == got

    @rule(max_txs=st.integers(1, 30), skip=st.sampled_from(SENDERS))
    def commit_block(self, max_txs, skip):
        """Select a block and commit it, except for one sender whose nonce is bumped +1."""
        block = self.ref.select(max_txs, 10**9)
        assert [bytes(r) for r in self.pool.select(max_txs, 10**9)] == block
        last: dict[int, int] = {}
        for h in block:
            tx = self.ref.by_hash[h]
            last[tx.sender] = tx.nonce
        last[skip] = self.ref.executed_nonce(skip) + 1
        s = np.array(list(last), dtype=np.uint64)
        n = np.array(list(last.values()), dtype=np.int64)
        self.pool.on_commit(s, n)
        self.ref.on_commit(s, n)

    @rule(pairs=st.lists(st.tuples(st.sampled_from(SENDERS), st.integers(0, 14)), max_size=4),
          monotonic=st.booleans())
    def set_nonces(self, pairs, monotonic):
        s = np.array([p[0] for p in pairs], dtype=np.uint64)
        n = np.array([p[1] for p in pairs], dtype=np.int64)
        if monotonic:
            self.pool.on_commit(s, n)
            self.ref.on_commit(s, n)
        else:
            self.pool.set_nonces(s, n)
            self.ref.set_nonces(s, n)

    @rule()
    def expire(self):
        assert self.pool.expire(self.now) == self.ref.expire(self.now)

    @rule(picks=st.lists(st.integers(0, 10**6), max_size=5), fresh=st.booleans())
    def remove(self, picks, fresh):
        hs = [self.seen[p % len(self.seen)] for p in picks] if self.seen else []
        if fresh:
            hs.append(hashlib.sha256(b"never added").digest())
        h = np.array([np.frombuffer(x, dtype=np.uint8) for x in hs],
                     dtype=np.uint8).reshape(-1, 32)
        assert self.pool.remove(h) == self.ref.remove(hs)

    @invariant()
    def agree(self):
        if not hasattr(self, "pool"):
            return
        assert self.pool._check() == ""
        assert len(self.pool) == len(self.ref)
        assert self.pool.bytes == self.ref.bytes
        assert len(self.pool) <= self.pool.capacity
        assert self.pool.bytes <= self.pool.capacity_bytes
        stats = self.pool.stats()
        for k, v in self.ref.stats().items():
            assert stats[k] == v, k
        for s in SENDERS:
            hs, nonces = self.pool.pending_with_nonces(s)
            assert [bytes(r) for r in hs] == self.ref.pending(s)
            assert self.pool.executed_nonce(s) == self.ref.executed_nonce(s)
            assert all(n > self.ref.executed_nonce(s) for n in nonces)
        for h in self.seen[-8:]:
            assert (h in self.pool) == (h in self.ref)


PoolMachine.TestCase.settings = settings(PoolMachine.TestCase.settings,
                                         stateful_step_count=120)
TestPoolModel = PoolMachine.TestCase


def _random_walk(seed: int, steps: int) -> dict:
    """A dense seeded random interleaving, native vs reference, checked at every step.

    Complements the hypothesis machine: many long walks cheaply (hypothesis spends most
    of its time generating data), which finds ordering/tie-break divergences quickly.
    """
    r = random.Random(seed)
    cap, cap_bytes = r.randint(1, 24), r.randint(200, 4000)
    kw = {"per_sender_limit": r.randint(1, 6), "max_nonce_gap": r.randint(1, 8),
          "ttl": r.choice([0.0, 5.0, 20.0]), "replace_bump": r.choice([0.0, 0.1, 0.5])}
    pool, ref = Mempool(cap, cap_bytes, **kw), RefMempool(cap, cap_bytes, **kw)
    now, counter, seen = 100.0, 0, []
    codes: collections.Counter = collections.Counter()
    for _ in range(steps):
        op = r.random()
        if op < 0.45:
            txs = []
            for _ in range(r.randint(0, 12)):
                kind = r.randint(0, 9)
                if kind >= 8 and seen:
                    h = r.choice(seen)
                else:
                    counter += 1
                    h = hashlib.sha256(counter.to_bytes(8, "little") + seed.to_bytes(4, "little")).digest()
                    if kind >= 6:
                        h = b"\x42" * 8 + h[8:]
                    seen.append(h)
                s = r.choice(SENDERS)
                txs.append((h, s, ref.executed_nonce(s) + r.randint(-1, 10), r.choice(PRICES),
                            r.randint(1, 400)))
            want = ref.add_batch(*_arrays(txs), now)
            assert pool.add_batch(*_arrays(txs), now).tolist() == want
            codes.update(want)
        elif op < 0.6:
            now += r.choice([0.0, 0.5, 1.0, 3.0, 7.0, -2.0])
        elif op < 0.75:
            mt, mb = r.randint(0, 30), r.randint(0, 5000)
            assert [bytes(x) for x in pool.select(mt, mb)] == ref.select(mt, mb)
        elif op < 0.85:
            last: dict[int, int] = {}
            for h in ref.select(r.randint(1, 30), 10**9):
                tx = ref.by_hash[h]
                last[tx.sender] = tx.nonce
            s_arr = np.array(list(last), dtype=np.uint64)
            n_arr = np.array(list(last.values()), dtype=np.int64)
            pool.on_commit(s_arr, n_arr)
            ref.on_commit(s_arr, n_arr)
        elif op < 0.9:
            pairs = [(r.choice(SENDERS), r.randint(0, 14)) for _ in range(r.randint(0, 4))]
            s_arr = np.array([p[0] for p in pairs], dtype=np.uint64)
            n_arr = np.array([p[1] for p in pairs], dtype=np.int64)
            if r.random() < 0.5:
                pool.on_commit(s_arr, n_arr)
                ref.on_commit(s_arr, n_arr)
            else:
                pool.set_nonces(s_arr, n_arr)
                ref.set_nonces(s_arr, n_arr)
        elif op < 0.95:
            assert pool.expire(now) == ref.expire(now)
        elif seen:
            hs = [r.choice(seen) for _ in range(r.randint(0, 5))]
            h = np.array([np.frombuffer(x, dtype=np.uint8) for x in hs],
                         dtype=np.uint8).reshape(-1, 32)
            assert pool.remove(h) == ref.remove(hs)
        assert pool._check() == ""
        assert len(pool) == len(ref) and pool.bytes == ref.bytes
        for k, v in ref.stats().items():
            assert pool.stats()[k] == v, k
    return {"codes": codes, "evicted": pool.stats()["evicted"]}


@pytest.mark.parametrize("block", range(4))
def test_random_walks_agree(block):
    total: collections.Counter = collections.Counter()
    evicted = 0
    for seed in range(block * 40, block * 40 + 40):
        got = _random_walk(seed, 250)
        total.update(got["codes"])
        evicted += got["evicted"]
    # the walks must actually reach every admission outcome and eviction
    assert set(total) == set(range(8)), total
    assert evicted > 0
