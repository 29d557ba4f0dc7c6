"""core_ext.mempool: admission codes, ordering, gaps, eviction, expiry, flooding, errors."""
from __future__ import annotations

import hashlib
import threading

import numpy as np
import pytest

from core_ext.mempool import AddResult, Mempool
from tests.mempool_ref import RefMempool

A = AddResult


def H(tag) -> bytes:
    return hashlib.sha256(repr(tag).encode()).digest()


def batch(txs):
    """txs: (hash_tag or bytes, sender, nonce, price[, size]) -> add_batch arrays."""
    n = len(txs)
    h = np.zeros((n, 32), dtype=np.uint8)
    for i, t in enumerate(txs):
        raw = t[0] if isinstance(t[0], bytes) else H(t[0])
        h[i] = np.frombuffer(raw, dtype=np.uint8)
    return (h,
            np.array([t[1] for t in txs], dtype=np.uint64),
            np.array([t[2] for t in txs], dtype=np.int64),
            np.array([t[3] for t in txs], dtype=np.int64),
            np.array([t[4] if len(t) > 4 else 100 for t in txs], dtype=np.int64))


def add(pool, txs, now=0.0):
    return [A(c) for c in pool.add_batch(*batch(txs), now)]


def order(pool, max_txs=10**6, max_bytes=10**12):
    """Selected block as (sender, nonce) pairs."""
    out = []
    for row in pool.select(max_txs, max_bytes):
        s, n, *_ = pool.get(bytes(row))
        out.append((s, n))
    return out


def commit(pool, pairs):
    pool.on_commit(np.array([p[0] for p in pairs], dtype=np.uint64),
                   np.array([p[1] for p in pairs], dtype=np.int64))


def test_add_result_codes_are_stable():
    assert {r.name: int(r) for r in AddResult} == {
        "ACCEPTED": 0, "REPLACED": 1, "DUPLICATE": 2, "UNDERPRICED": 3,
        "NONCE_TOO_LOW": 4, "NONCE_TOO_HIGH": 5, "SENDER_FULL": 6, "POOL_FULL": 7}


def test_fee_order_across_senders_nonce_order_within():
    p = Mempool(100, 10**6)
    # sender 1 pays 5 then 50; sender 2 pays 10, 10; sender 3 pays 7.
    assert add(p, [("a1", 1, 1, 5), ("a2", 1, 2, 50), ("b1", 2, 1, 10), ("b2", 2, 2, 10),
                   ("c1", 3, 1, 7)]) == [A.ACCEPTED] * 5
    # sender 1's nonce 2 cannot precede its nonce 1 despite paying more
    assert order(p) == [(2, 1), (2, 2), (3, 1), (1, 1), (1, 2)]
    assert p.stats()["ready"] == 5


def test_ties_earlier_arrival_then_smaller_hash():
    p = Mempool(100, 10**6)
    lo, hi = sorted([H("x"), H("y")])
    add(p, [(hi, 1, 1, 10)], now=1.0)
    add(p, [(lo, 2, 1, 10)], now=2.0)
    assert order(p) == [(1, 1), (2, 1)]  # earlier arrival wins over smaller hash
    q = Mempool(100, 10**6)
    add(q, [(hi, 1, 1, 10), (lo, 2, 1, 10)], now=1.0)
    assert order(q) == [(2, 1), (1, 1)]  # same arrival: smaller hash first
    # the arrival clock never goes backwards: a later batch with an earlier `now`
    add(p, [("z", 3, 1, 10)], now=0.5)
    assert p.get(H("z"))[4] == 2.0
    assert order(p)[0] == (1, 1)


def test_gap_waits_until_filled():
    p = Mempool(100, 10**6)
    assert add(p, [("n1", 1, 1, 5), ("n3", 1, 3, 100), ("n4", 1, 4, 100)]) == [A.ACCEPTED] * 3
    assert order(p) == [(1, 1)]
    assert p.stats()["ready"] == 1
    add(p, [("n2", 1, 2, 1)])
    assert order(p) == [(1, 1), (1, 2), (1, 3), (1, 4)]


def test_remove_and_expire_in_the_middle_leave_later_ones_waiting():
    p = Mempool(100, 10**6, ttl=10.0)
    add(p, [("n1", 1, 1, 5), ("n2", 1, 2, 5)], now=0.0)
    add(p, [("n3", 1, 3, 5), ("n4", 1, 4, 5)], now=5.0)
    assert p.remove(np.frombuffer(H("n2"), dtype=np.uint8).reshape(1, 32)) == 1
    assert order(p) == [(1, 1)]  # 3 and 4 stay but wait for nonce 2
    assert len(p) == 3
    add(p, [("n2b", 1, 2, 5)], now=6.0)
    assert order(p) == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert p.expire(10.0) == 0  # exactly ttl old is not older than ttl
    assert p.expire(10.5) == 1  # n1 expires: nothing is ready any more
    assert order(p) == []
    assert p.stats()["ready"] == 0 and len(p) == 3


def test_replacement_needs_the_bump_exactly():
    p = Mempool(100, 10**6)
    add(p, [("a", 1, 1, 100), ("z", 2, 1, 0)])
    assert add(p, [("a109", 1, 1, 109)]) == [A.UNDERPRICED]
    assert add(p, [("a110", 1, 1, 110)]) == [A.REPLACED]
    assert H("a") not in p and H("a110") in p
    assert add(p, [("a110", 1, 1, 500)]) == [A.DUPLICATE]
    assert add(p, [("z0", 2, 1, 0)]) == [A.UNDERPRICED]  # must be strictly higher
    assert add(p, [("z1", 2, 1, 1)]) == [A.REPLACED]
    assert len(p) == 2 and p.stats()["replaced"] == 2
    # bump 0.5 with odd prices: 3 * 1.5 = 4.5 -> 4 is not enough, 5 is
    q = Mempool(100, 10**6, replace_bump=0.5)
    add(q, [("b", 1, 1, 3)])
    assert add(q, [("b4", 1, 1, 4), ("b5", 1, 1, 5)]) == [A.UNDERPRICED, A.REPLACED]


def test_nonce_bounds_sender_limit_duplicate():
    p = Mempool(1000, 10**6, per_sender_limit=3, max_nonce_gap=5)
    p.set_nonces(np.array([1], dtype=np.uint64), np.array([10], dtype=np.int64))
    assert add(p, [("lo", 1, 10, 5), ("ok", 1, 11, 5), ("hi", 1, 16, 5), ("edge", 1, 15, 5),
                   ("ok2", 1, 12, 5), ("full", 1, 13, 5), ("ok", 2, 1, 5)]) == [
        A.NONCE_TOO_LOW, A.ACCEPTED, A.NONCE_TOO_HIGH, A.ACCEPTED, A.ACCEPTED,
        A.SENDER_FULL, A.DUPLICATE]
    # a replacement is not a new entry: allowed at the limit
    assert add(p, [("ok2r", 1, 12, 50)]) == [A.REPLACED]
    assert p.executed_nonce(1) == 10 and p.executed_nonce(99) == 0


def test_on_commit_and_set_nonces():
    p = Mempool(100, 10**6)
    add(p, [(("t", i), 1, i, 5) for i in range(1, 6)] + [("u", 2, 1, 9)])
    commit(p, [(1, 3)])
    assert order(p) == [(2, 1), (1, 4), (1, 5)]
    commit(p, [(1, 2)])  # on_commit never lowers an executed nonce
    assert p.executed_nonce(1) == 3
    p.set_nonces(np.array([1], dtype=np.uint64), np.array([1], dtype=np.int64))
    assert p.executed_nonce(1) == 1
    assert order(p) == [(2, 1)]  # 2 and 3 are gone, so 4 and 5 wait
    commit(p, [(2, 1), (3, 7)])  # a sender without transactions is remembered
    assert p.executed_nonce(3) == 7
    assert add(p, [("v", 3, 7, 5), ("w", 3, 8, 5)]) == [A.NONCE_TOO_LOW, A.ACCEPTED]
    assert p.stats()["committed"] == 4  # 1..3 of sender 1, then 1 of sender 2


def test_select_limits_stop_at_first_limit_and_do_not_mutate():
    p = Mempool(100, 10**6)
    add(p, [("a", 1, 1, 30, 100), ("b", 2, 1, 20, 500), ("c", 3, 1, 10, 50)])
    assert order(p, max_txs=2) == [(1, 1), (2, 1)]
    # b does not fit in 550 bytes: stop there, do not skip ahead to the smaller c
    assert order(p, max_bytes=550) == [(1, 1)]
    assert order(p, max_bytes=600) == [(1, 1), (2, 1)]
    assert order(p, max_txs=0) == []
    before = p.stats()
    assert order(p) == order(p)
    assert p.stats() == before


def test_eviction_takes_cheapest_tail_and_never_opens_a_gap():
    p = Mempool(4, 10**6)
    add(p, [("a1", 1, 1, 1), ("a2", 1, 2, 50), ("b1", 2, 1, 10), ("b2", 2, 2, 5)])
    # cheapest overall is a1, but only tails are evictable: b2 (5) goes
    assert add(p, [("c1", 3, 1, 6)]) == [A.ACCEPTED]
    assert H("b2") not in p and H("a1") in p
    # not better than the cheapest tail (c1 at 6, b1 at 10 is now a tail): underpriced
    assert add(p, [("d1", 4, 1, 6)]) == [A.UNDERPRICED]
    assert add(p, [("d1", 4, 1, 7)]) == [A.ACCEPTED]
    assert H("c1") not in p
    assert p.stats()["evicted"] == 2
    assert p._check() == ""


def test_waiting_transactions_are_evicted_first_and_never_displace_ready_ones():
    p = Mempool(3, 10**6)
    add(p, [("r1", 1, 1, 5), ("g3", 2, 3, 1000), ("r2", 3, 1, 6)])
    # a gapped (waiting) transaction, however well paid, is evicted before any ready one
    assert add(p, [("r3", 4, 1, 1)]) == [A.ACCEPTED]
    assert H("g3") not in p
    # and a waiting newcomer cannot push out a ready one
    assert add(p, [("g5", 5, 5, 10**9)]) == [A.POOL_FULL]
    assert len(p) == 3


def test_eviction_is_all_or_nothing_and_respects_bytes():
    p = Mempool(100, 1000)
    add(p, [("a", 1, 1, 1, 300), ("b", 2, 1, 2, 300), ("c", 3, 1, 9, 300)])
    # needs 500 bytes: a and b (300 + 300) are cheaper than 5, so both go
    assert add(p, [("big", 4, 1, 5, 500)]) == [A.ACCEPTED]
    assert H("a") not in p and H("b") not in p and p.bytes == 800
    # needs 700: big (5) and c (9) would both have to go but c pays more than 8
    assert add(p, [("huge", 5, 1, 8, 900)]) == [A.UNDERPRICED]
    assert len(p) == 2 and p.bytes == 800 and H("big") in p  # nothing was evicted
    assert add(p, [("never", 6, 1, 10**9, 1001)]) == [A.POOL_FULL]  # > capacity_bytes
    # a sender's own lower nonce is never evicted for its higher one
    q = Mempool(2, 10**6)
    add(q, [("x1", 1, 1, 1), ("y1", 2, 1, 50)])
    assert add(q, [("x2", 1, 2, 100)]) == [A.POOL_FULL]


def test_replacement_under_byte_pressure():
    p = Mempool(10, 1000)
    add(p, [("a", 1, 1, 10, 400), ("b", 2, 1, 1, 500)])
    # the bigger replacement needs 200 more bytes: b (1) is evicted
    assert add(p, [("a2", 1, 1, 20, 600)]) == [A.REPLACED]
    assert H("b") not in p and p.bytes == 600


def test_pending_contains_get_stats():
    p = Mempool(100, 10**6)
    add(p, [("s3", 7, 3, 5), ("s1", 7, 1, 5)], now=3.0)
    hs, nonces = p.pending_with_nonces(7)
    assert [bytes(r) for r in hs] == [H("s1"), H("s3")] and nonces.tolist() == [1, 3]
    assert p.pending(8).shape == (0, 32)
    assert H("s1") in p and H("nope") not in p
    assert bytearray(H("s1")) in p and np.frombuffer(H("s1"), dtype=np.uint8) in p
    assert p.get(H("s3")) == (7, 3, 5, 100, 3.0) and p.get(H("nope")) is None
    st = p.stats()
    assert (st["count"], st["bytes"], st["senders"], st["ready"]) == (2, 200, 1, 1)
    assert st["memory_bytes"] > 0


def test_bad_arguments_raise_clear_errors():
    p = Mempool(100, 10**6)
    h, s, n, g, z = batch([("a", 1, 1, 5)])
    with pytest.raises(ValueError, match="hashes must have shape"):
        p.add_batch(np.zeros((1, 31), dtype=np.uint8), s, n, g, z, 0.0)
    with pytest.raises(ValueError, match="senders must have dtype uint64"):
        p.add_batch(h, s.astype(np.int64), n, g, z, 0.0)
    with pytest.raises(ValueError, match="nonces must be a numpy.ndarray"):
        p.add_batch(h, s, [1], g, z, 0.0)
    with pytest.raises(ValueError, match="same length"):
        p.add_batch(h, s, np.array([1, 2], dtype=np.int64), g, z, 0.0)
    with pytest.raises(ValueError, match="gas_prices must be >= 0"):
        p.add_batch(h, s, n, -g, z, 0.0)
    with pytest.raises(ValueError, match="sizes must be in"):
        p.add_batch(h, s, n, g, z * 0, 0.0)
    with pytest.raises(ValueError, match="now must be"):
        p.add_batch(h, s, n, g, z, float("nan"))
    with pytest.raises(ValueError, match="nonces must be >= 0"):
        p.set_nonces(s, -n)
    with pytest.raises(ValueError, match="max_txs and max_bytes"):
        p.select(-1, 10)
    with pytest.raises(ValueError, match="32 bytes"):
        _ = b"short" in p
    with pytest.raises(TypeError, match="bytes-like"):
        _ = 12 in p
    with pytest.raises(ValueError, match="capacity must be"):
        Mempool(0, 100)
    with pytest.raises(ValueError, match="replace_bump"):
        Mempool(10, 100, replace_bump=-0.1)
    assert len(p) == 0  # nothing half-applied
    # non-contiguous input is accepted
    big = np.zeros((2, 64), dtype=np.uint8)
    big[:, :32] = np.frombuffer(H("q"), dtype=np.uint8)
    big[1, 0] ^= 1
    two = np.array([1, 2], dtype=np.int64)
    assert p.add_batch(big[:, :32], np.array([1, 2], dtype=np.uint64), np.array([1, 1], dtype=np.int64),
                       two, two * 50, 0.0).tolist() == [0, 0]


def test_flood_from_one_sender_cannot_push_out_honest_ready():
    p = Mempool(1000, 10**9)
    honest = [(("h", i), 1, i, 100) for i in range(1, 41)]
    assert add(p, honest) == [A.ACCEPTED] * 40
    n = 1_000_000
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    senders = np.full(n, 666, dtype=np.uint64)
    nonces = np.arange(1, n + 1, dtype=np.int64)
    prices = rng.integers(1, 1000, n).astype(np.int64)
    sizes = np.full(n, 200, dtype=np.int64)
    codes = p.add_batch(hashes, senders, nonces, prices, sizes, 1.0)
    counts = np.bincount(codes, minlength=8)
    assert counts[A.ACCEPTED] == 64 and counts[A.SENDER_FULL] == 1024 - 64
    assert counts[A.NONCE_TOO_HIGH] == n - 1024
    block = order(p, max_txs=10**6)
    assert [x for x in block if x[0] == 1] == [(1, i) for i in range(1, 41)]
    assert p._check() == ""


def test_gapped_spam_from_many_senders_cannot_push_out_honest_ready():
    p = Mempool(500, 10**9)
    honest = [(("h", s, i), s, i, 100) for s in range(1, 11) for i in range(1, 11)]
    assert add(p, honest) == [A.ACCEPTED] * 100
    # 200k senders each send a well-paid transaction with a nonce gap: they fill the free
    # room, then can only displace each other, never a ready transaction.
    m = 200_000
    rng = np.random.default_rng(6)
    codes = p.add_batch(rng.integers(0, 256, (m, 32), dtype=np.uint8),
                        np.arange(1000, 1000 + m, dtype=np.uint64),
                        rng.integers(2, 1000, m).astype(np.int64),
                        np.full(m, 10**6, dtype=np.int64), np.full(m, 100, dtype=np.int64), 1.0)
    assert np.count_nonzero(codes == A.ACCEPTED) == 400
    assert len(p) == 500
    honest_hashes = [H(t[0]) for t in honest]
    assert all(h in p for h in honest_hashes)
    assert sorted(order(p)) == sorted((t[1], t[2]) for t in honest)
    # cheap *ready* spam from many senders evicts the waiting spam but not honest payers
    k = 50_000
    codes = p.add_batch(rng.integers(0, 256, (k, 32), dtype=np.uint8),
                        np.arange(10**7, 10**7 + k, dtype=np.uint64), np.ones(k, dtype=np.int64),
                        rng.integers(1, 100, k).astype(np.int64), np.full(k, 100, dtype=np.int64),
                        2.0)
    assert all(h in p for h in honest_hashes)
    assert p.stats()["ready"] == 500 and len(p) == 500
    assert p._check() == ""


def test_concurrent_threads_are_serialised():
    p = Mempool(200_000, 10**12)
    errors = []

    def worker(base):
        try:
            rng = np.random.default_rng(base)
            for j in range(20):
                m = 2000
                codes = p.add_batch(rng.integers(0, 256, (m, 32), dtype=np.uint8),
                                    np.arange(base + j * m, base + (j + 1) * m, dtype=np.uint64),
                                    np.ones(m, dtype=np.int64),
                                    rng.integers(1, 10**6, m).astype(np.int64),
                                    np.full(m, 100, dtype=np.int64), 1.0)
                assert (codes == 0).all()
                p.select(1000, 10**9)
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k * 10**6,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(p) == 160_000 and p._check() == ""


@pytest.mark.slow
@pytest.mark.parametrize("n,senders,capacity", [(60_000, 6_000, 100_000), (4_000, 300, 2_500)])
def test_large_random_pool_agrees_with_reference(n, senders, capacity):
    """Bigger pools than the model test (the second one evicts 1,500 times)."""
    rng = np.random.default_rng(11)
    p, r = Mempool(capacity, 10**9), RefMempool(capacity, 10**9)
    sid = rng.integers(0, senders, n).astype(np.uint64)
    nonces = np.zeros(n, dtype=np.int64)
    nxt: dict[int, int] = {}
    for i, s in enumerate(sid.tolist()):  # mostly in order, some gaps
        nxt[s] = nxt.get(s, 0) + (2 if rng.random() < 0.03 else 1)
        nonces[i] = nxt[s]
    args = (rng.integers(0, 256, (n, 32), dtype=np.uint8), sid, nonces,
            rng.integers(1, 50, n).astype(np.int64), rng.integers(100, 400, n).astype(np.int64))
    for lo in range(0, n, 1_000):
        part = [a[lo:lo + 1_000] for a in args]
        assert p.add_batch(*part, float(lo)).tolist() == r.add_batch(*part, float(lo))
    while len(r):
        got = [bytes(x) for x in p.select(3000, 600_000)]
        assert got == r.select(3000, 600_000)
        if not got:
            break
        last: dict[int, int] = {}
        for h in got:
            last[r.by_hash[h].sender] = r.by_hash[h].nonce
        s_arr = np.array(list(last), dtype=np.uint64)
        n_arr = np.array(list(last.values()), dtype=np.int64)
        p.on_commit(s_arr, n_arr)
        r.on_commit(s_arr, n_arr)
        assert len(p) == len(r)
    assert p._check() == ""


def test_extreme_values():
    p = Mempool(10, 10**6)
    big = 2**63 - 1
    p.set_nonces(np.array([2**64 - 1], dtype=np.uint64), np.array([big - 2], dtype=np.int64))
    assert p.executed_nonce(2**64 - 1) == big - 2
    assert add(p, [("m1", 2**64 - 1, big - 1, big), ("m2", 2**64 - 1, big, 0),
                   ("m2r", 2**64 - 1, big, 1), ("m3", 2**64 - 1, big - 2, 5)]) == [
        A.ACCEPTED, A.ACCEPTED, A.REPLACED, A.NONCE_TOO_LOW]
    assert order(p) == [(2**64 - 1, big - 1), (2**64 - 1, big)]
    commit(p, [(2**64 - 1, big)])
    assert len(p) == 0 and p._check() == ""
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match="sender must be"):
            p.pending(bad)
    with pytest.raises(TypeError, match="sender must be an int"):
        p.executed_nonce("alice")
    assert p.select(10**18, 2**63 - 1).shape == (0, 32)


def test_same_calls_same_blocks_whatever_the_internal_seed():
    """Nodes' pools differ only in their hash-table seeds: results must not."""
    rng = np.random.default_rng(21)
    pools = [Mempool(1000, 200_000, seed=s) for s in (1, 2, 2**63 + 5)]
    for step in range(30):
        m = 400
        args = (rng.integers(0, 256, (m, 32), dtype=np.uint8),
                rng.integers(0, 300, m).astype(np.uint64), rng.integers(1, 12, m).astype(np.int64),
                rng.integers(1, 20, m).astype(np.int64), rng.integers(50, 500, m).astype(np.int64))
        codes = [p.add_batch(*args, float(step)).tolist() for p in pools]
        blocks = [p.select(500, 100_000) for p in pools]
        assert codes[0] == codes[1] == codes[2]
        assert all(np.array_equal(blocks[0], b) for b in blocks[1:])
        senders = rng.integers(0, 300, 50).astype(np.uint64)
        nonces = rng.integers(0, 6, 50).astype(np.int64)
        for p in pools:
            p.on_commit(senders, nonces)
            p.expire(float(step) - 10)
    assert len({len(p) for p in pools}) == 1 and len(pools[0]) > 0
    assert pools[0].stats()["evicted"] > 0


@pytest.mark.parametrize("lo,hi", [(1, 3), (0, 2**62), (5, 6)])
def test_big_merges_with_price_and_prefix_ties_match_reference(lo, hi):
    """Thousands of senders change between selects (the radix-sorted batch merge), with
    many equal prices, arrivals and 8-byte hash prefixes (the full tie-break)."""
    rng = np.random.default_rng(lo)
    n = 20_000
    args = (rng.integers(0, 256, (n, 32), dtype=np.uint8),
            rng.integers(0, 5000, n).astype(np.uint64), np.ones(n, dtype=np.int64),
            rng.integers(lo, hi, n).astype(np.int64), np.full(n, 100, dtype=np.int64))
    args[0][:, :8] = rng.integers(0, 2, (n, 1), dtype=np.uint8)
    p, r = Mempool(n, 1 << 60), RefMempool(n, 1 << 60)
    for k in range(0, n, 2000):
        part = [a[k:k + 2000] for a in args]
        assert p.add_batch(*part, float(k % 3)).tolist() == r.add_batch(*part, float(k % 3))
        if k % 6000 == 0:
            assert [bytes(x) for x in p.select(3000, 1 << 60)] == r.select(3000, 1 << 60)
    assert [bytes(x) for x in p.select(6000, 1 << 60)] == r.select(6000, 1 << 60)
    assert p._check() == ""


def test_set_nonces_uses_the_checked_values_while_another_thread_rewrites_them():
    """Arguments are checked, then used without the GIL: a caller's array rewritten by
    another thread in between must give either ValueError or exactly the checked values
    (a negative executed nonce slipping past the check breaks the pool's invariants).

    numpy copies without the GIL and does not promise that each element is copied in one
    piece, so the private copy may hold a torn mix of 7 and -1 (seen under ASan). What
    must hold: the pool took a value that passed the check (>= 0), made of those bytes."""
    import time

    def possible(v: int) -> bool:  # each byte from 7 or from -1, and not negative
        got_b = v.to_bytes(8, "little", signed=True)
        return v >= 0 and all(b in (x, y) for b, x, y in
                              zip(got_b, (7).to_bytes(8, "little"), b"\xff" * 8))

    n = 4096
    pool = Mempool(capacity=1000, capacity_bytes=10**6)
    senders = np.arange(1, n + 1, dtype=np.uint64)
    nonces = np.full(n, 7, dtype=np.int64)
    stop = False

    def flip() -> None:
        while not stop:
            nonces[n // 2] = -1
            nonces[n // 2] = 7

    t = threading.Thread(target=flip)
    t.start()
    bad = []
    try:
        end = time.monotonic() + 2.0
        while time.monotonic() < end and not bad:
            try:
                pool.set_nonces(senders, nonces)
            except ValueError:
                continue
            got = pool.executed_nonce(int(senders[n // 2]))
            if not possible(got):
                bad.append(got)
    finally:
        stop = True
        t.join()
    assert bad == []
    assert pool._check() == ""


def test_len_and_bytes_never_see_a_batch_half_applied():
    """len() and .bytes take the pool's lock like every other method: a reader thread sees
    the pool before or after another thread's add_batch, never in the middle of it."""
    m, rounds, size = 20_000, 8, 100
    p = Mempool(m * rounds, 10**12)
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append((len(p), p.bytes))

    t = threading.Thread(target=reader)
    t.start()
    try:
        rng = np.random.default_rng(5)
        for j in range(rounds):
            codes = p.add_batch(rng.integers(0, 256, (m, 32), dtype=np.uint8),
                                np.arange(j * m, (j + 1) * m, dtype=np.uint64),
                                np.ones(m, dtype=np.int64), np.ones(m, dtype=np.int64),
                                np.full(m, size, dtype=np.int64), 1.0)
            assert (codes == 0).all()
    finally:
        done.set()
        t.join()
    assert seen
    # (two calls: the count and the bytes may straddle a batch, each is whole)
    torn = [(n, b) for n, b in seen if n % m or b % (m * size)]
    assert torn == []
