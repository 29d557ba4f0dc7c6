"""core_ext.mempool: argument types and ranges, re-entry from finalizers, memory at the
largest capacity (the defects of issue 12)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from core_ext.mempool import AddResult, Mempool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
I64_MAX = 2**63 - 1


def _one(sender: int = 1, nonce: int = 1, tag: int = 0):
    h = np.zeros((1, 32), dtype=np.uint8)
    h[0, :8] = np.frombuffer(tag.to_bytes(8, "little"), dtype=np.uint8)
    h[0, 31] = 1
    return (h, np.array([sender], dtype=np.uint64), np.array([nonce], dtype=np.int64),
            np.array([5], dtype=np.int64), np.array([100], dtype=np.int64))


# ---------------------------------------------------------------- integer arguments

@pytest.mark.parametrize("kw", [
    {"capacity": 10.5}, {"capacity": True}, {"capacity": "10"}, {"capacity_bytes": 1000.0},
    {"capacity_bytes": np.float64(1000)}, {"per_sender_limit": 2.5}, {"per_sender_limit": False},
    {"max_nonce_gap": 3.0}, {"max_nonce_gap": np.bool_(True)}, {"seed": 1.5}, {"seed": True},
])
def test_constructor_takes_ints_only(kw):
    args = {"capacity": 10, "capacity_bytes": 1000} | kw
    with pytest.raises(TypeError, match=f"{next(iter(kw))} must be an int"):
        Mempool(**args)


@pytest.mark.parametrize("kw,match", [
    ({"capacity": 2**63}, r"capacity must be in 1\.\.1073741824, got 9223372036854775808"),
    ({"capacity": 2**30 + 1}, r"capacity must be in 1\.\.1073741824"),
    ({"capacity_bytes": 2**63}, r"capacity_bytes must be in 1\.\.9223372036854775807"),
    ({"capacity_bytes": 0}, r"capacity_bytes must be in 1\.\."),
    ({"per_sender_limit": 2**64}, r"per_sender_limit must be in 1\.\."),
    ({"max_nonce_gap": -(2**64)}, r"max_nonce_gap must be in 1\.\."),
    ({"seed": -1}, r"seed must be None or in 0\.\.18446744073709551615, got -1"),
    ({"seed": 2**64}, r"seed must be None or in 0\.\.18446744073709551615"),
])
def test_constructor_out_of_range_is_value_error(kw, match):
    with pytest.raises(ValueError, match=match):
        Mempool(**({"capacity": 10, "capacity_bytes": 1000} | kw))


def test_numpy_integers_are_ints():
    p = Mempool(np.int64(10), np.uint32(10_000), per_sender_limit=np.int8(4),
                max_nonce_gap=np.uint64(8), seed=np.uint64(2**64 - 1))
    assert (p.capacity, p.capacity_bytes, p.per_sender_limit, p.max_nonce_gap) == (10, 10_000, 4, 8)
    assert Mempool(10, 1000, seed=2**64 - 1).add_batch(*_one(), 0.0).tolist() == [AddResult.ACCEPTED]
    assert p.add_batch(*_one(), 0.0).tolist() == [AddResult.ACCEPTED]
    assert p.select(np.int64(5), np.uint16(1000)).shape == (1, 32)


@pytest.mark.parametrize("args", [(1.5, 10), (10, 10.0), (True, 10), (10, False), ("1", 10)])
def test_select_takes_ints_only(args):
    p = Mempool(10, 1000)
    p.add_batch(*_one(), 0.0)
    with pytest.raises(TypeError, match="max_txs and max_bytes must be ints"):
        p.select(*args)


@pytest.mark.parametrize("args", [(2**63, 0), (0, 2**63), (-1, 0), (0, -(2**70))])
def test_select_out_of_range_is_value_error(args):
    p = Mempool(10, 1000)
    with pytest.raises(ValueError, match=r"max_txs and max_bytes must be in 0\.\.9223372036854775807"):
        p.select(*args)
    assert p.select(I64_MAX, I64_MAX).shape == (0, 32)


# ---------------------------------------------------------------- negative nonces

def test_negative_nonces_are_below_every_executed_nonce_and_not_executed_nonces():
    """A transaction's nonce is checked against its sender's executed nonce, which is never
    negative, so -1 is NONCE_TOO_LOW, as the reference model says (a per-transaction code:
    one bad transaction from the network does not void the batch). An executed nonce comes
    from the ledger; a negative one is a caller bug in set_nonces and on_commit alike."""
    p = Mempool(10, 1000)
    h, s, n, g, z = _one(nonce=-1)
    assert p.add_batch(h, s, n, g, z, 0.0).tolist() == [AddResult.NONCE_TOO_LOW]
    n[0] = -(2**63)
    assert p.add_batch(h, s, n, g, z, 0.0).tolist() == [AddResult.NONCE_TOO_LOW]
    for call in (p.set_nonces, p.on_commit):
        with pytest.raises(ValueError, match="nonces must be >= 0"):
            call(np.array([1, 2], dtype=np.uint64), np.array([3, -1], dtype=np.int64))
    assert p.executed_nonce(1) == 0 and len(p) == 0 and p._check() == ""


# ---------------------------------------------------------------- re-entry

_REENTRY = r"""
import gc, sys
import numpy as np
from core_ext.mempool import Mempool

p = Mempool(1000, 10**9)
n = 200
h = np.zeros((n, 32), dtype=np.uint8)
h[:, 0] = np.arange(n) % 256
h[:, 1] = np.arange(n) // 256
p.add_batch(h, np.arange(n, dtype=np.uint64) % 7, np.arange(n, dtype=np.int64) // 7 + 1,
            np.full(n, 5, dtype=np.int64), np.full(n, 100, dtype=np.int64), 0.0)
seen = []

class Finalized:
    # A reference cycle: only the garbage collector frees it, at whatever allocation
    # happens to trigger a collection -- possibly inside one of the pool's own methods.
    def __init__(self):
        self.me = self

    def __del__(self):
        seen.append((len(p), p.select(3, 10**9).shape[0], p.pending_with_nonces(3)[1].size))

gc.set_threshold(1, 1, 1)
for i in range(300):
    Finalized()
    a = p.select(50, 10**9)
    Finalized()
    b, nonces = p.pending_with_nonces(i % 7)
    assert a.shape == (50, 32) and len(b) == len(nonces) > 0
gc.set_threshold(700, 10, 10)
gc.collect()
assert seen and all(s == (200, 3, len(p.pending(3))) for s in seen), seen[:3]
print("ok", len(seen))
"""


def test_finalizer_calling_the_pool_during_select_does_not_deadlock():
    """select() and pending_with_nonces() allocate their results without holding the
    pool's lock, so a collection triggered there may run finalizers that use the pool."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        res = subprocess.run([sys.executable, "-c", textwrap.dedent(_REENTRY)], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the pool deadlocked on its own lock (a finalizer ran under it)")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok ")


# ---------------------------------------------------------------- memory

def test_largest_capacity_does_not_reserve_its_maximum_up_front():
    """capacity=2**30 used to reserve an 80 GiB arena and write a 16 GiB hash table; the
    structures now grow with the entries actually pooled."""
    p = Mempool(2**30, 2**62)
    assert p.stats()["memory_bytes"] < 128 << 20
    n = 1_100_000  # past the 2**20 entries sized for up front, so the tables grow
    rng = np.random.default_rng(3)
    h = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    s = (np.arange(n, dtype=np.uint64) % 100_000) + 1
    no = (np.arange(n, dtype=np.int64) // 100_000) + 1
    codes = p.add_batch(h, s, no, rng.integers(1, 10**6, n).astype(np.int64),
                        np.full(n, 100, dtype=np.int64), 0.0)
    assert (codes == AddResult.ACCEPTED).all() and len(p) == n
    assert all(bytes(h[i]) in p for i in range(0, n, 9973))
    assert p._check() == ""
    blk = p.select(1000, 2**62)
    assert len(blk) == 1000
    p.on_commit(np.arange(1, 100_001, dtype=np.uint64), np.full(100_000, 11, dtype=np.int64))
    assert len(p) == 0 and p._check() == ""
