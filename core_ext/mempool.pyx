# cython: language_level=3
# distutils: language = c++
"""Bounded transaction pool ordered by gas_price across senders and by nonce within each.

The data structures live in C++ (core_ext/src/mempool/pool.cpp); this module validates
arguments, converts numpy arrays and serialises calls. Semantics: docs/mempool.md.
"""
from enum import IntEnum
import math
import os

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int8_t, int64_t, uint8_t, uint64_t
from libcpp cimport bool as cbool

cdef extern from "pythread.h":
    unsigned long PyThread_get_thread_ident()

cnp.import_array()

cdef extern from "<mutex>" namespace "std" nogil:
    cdef cppclass mutex:
        void lock()
        cbool try_lock()
        void unlock()

cdef extern from "mbi_mempool.h" namespace "mbi_mempool" nogil:
    cdef struct Stats:
        int64_t count, bytes, senders, known_senders, ready
        int64_t accepted, replaced, rejected, evicted, expired, removed, committed
        int64_t memory_bytes

    cdef cppclass Pool:
        Pool(int64_t capacity, int64_t capacity_bytes, int64_t per_sender_limit,
             int64_t max_nonce_gap, double ttl, int64_t bump_bps, uint64_t seed) except +
        void add_batch(const uint8_t* hashes, const uint64_t* senders, const int64_t* nonces,
                       const int64_t* prices, const int64_t* sizes, int64_t n, double now,
                       int8_t* out) except +
        void set_nonces(const uint64_t* senders, const int64_t* nonces, int64_t n,
                        cbool monotonic) except +
        int64_t select(int64_t max_txs, int64_t max_bytes, uint8_t* out) except +
        int64_t remove(const uint8_t* hashes, int64_t n)
        int64_t expire(double now)
        cbool contains(const uint8_t* hash)
        cbool get(const uint8_t* hash, uint64_t* sender, int64_t* nonce, int64_t* price,
                  int64_t* size, double* arrival)
        int64_t pending_count(uint64_t sender)
        int64_t pending(uint64_t sender, uint8_t* out, int64_t* nonces_out)
        int64_t executed_nonce(uint64_t sender)
        int64_t size()
        int64_t bytes()
        Stats stats()
        const char* check()
        mutex mtx


class AddResult(IntEnum):
    """Outcome of admitting one transaction (the int8 codes ``add_batch`` returns)."""

    ACCEPTED = 0
    REPLACED = 1
    DUPLICATE = 2
    UNDERPRICED = 3
    NONCE_TOO_LOW = 4
    NONCE_TOO_HIGH = 5
    SENDER_FULL = 6
    POOL_FULL = 7


# Batches at least this long run with the GIL released (below it, the switch costs more).
cdef Py_ssize_t NOGIL_MIN = 256

cdef int64_t MAX_CAPACITY = 1 << 30
cdef int64_t MAX_TX_SIZE = 0xFFFFFFFF
I64_MAX = 0x7FFFFFFFFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF


def backend() -> str:
    return "native C++ (4-ary indexed heaps, open-addressing hash index)"


cdef _require(arr, str name, object dtype, int ndim):
    """A private C-contiguous copy of ``arr`` (an ndarray of ``dtype``), or ValueError.

    A copy, not a view: arguments are checked, then read without the GIL, and a caller's
    array rewritten by another thread in between must not bypass the checks."""
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray of dtype {np.dtype(dtype).name}, "
                         f"got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype).name}, got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return np.array(arr, order="C", copy=True)


cdef _hashes_arg(hashes, str name="hashes"):
    h = _require(hashes, name, np.uint8, 2)
    if h.shape[1] != 32:
        raise ValueError(f"{name} must have shape (n, 32), got {h.shape}")
    return h


cdef bytes _hash_bytes(object h):
    """A bytes-like 32-byte hash (bytes, bytearray, memoryview, uint8 ndarray) as bytes."""
    if not isinstance(h, bytes):
        try:
            h = bytes(memoryview(h).cast("B"))
        except TypeError:
            raise TypeError(f"hash must be bytes-like (32 bytes), got {type(h).__name__}") from None
    if len(<bytes>h) != 32:
        raise ValueError(f"hash must be 32 bytes, got {len(<bytes>h)}")
    return <bytes>h


cdef inline bint _is_int(object v):
    # Only ints and numpy integer scalars: a float or a bool is not silently truncated.
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


cdef object _int_arg(object v, str name, object lo, object hi):
    """``v`` as a Python int in lo..hi: TypeError if it is not an int, ValueError if out
    of range (never an OverflowError from the C conversion)."""
    if not _is_int(v):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    v = int(v)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {v}")
    return v


cdef uint64_t _sender_arg(object sender) except? 0:
    if not isinstance(sender, (int, np.integer)) or isinstance(sender, bool):
        raise TypeError(f"sender must be an int, got {type(sender).__name__}")
    if not 0 <= sender < 2**64:
        raise ValueError(f"sender must be in 0..2**64-1, got {sender}")
    return <uint64_t>sender


cdef class Mempool:
    """Bounded pool of signature-verified transactions; see docs/mempool.md.

    Every method holds an internal mutex for its whole duration, so concurrent calls
    from several Python threads are serialised (never interleaved); long batch calls
    release the GIL while they run.
    """

    cdef Pool* pool
    cdef readonly int64_t capacity
    cdef readonly int64_t capacity_bytes
    cdef readonly int64_t per_sender_limit
    cdef readonly int64_t max_nonce_gap
    cdef readonly double ttl
    cdef readonly double replace_bump

    cdef unsigned long owner  # thread holding mtx (valid while `held`); GIL-protected
    cdef cbool held

    def __cinit__(self, capacity, capacity_bytes, per_sender_limit=64, max_nonce_gap=1024,
                  double ttl=600.0, double replace_bump=0.10, seed=None):
        capacity = _int_arg(capacity, "capacity", 1, MAX_CAPACITY)
        capacity_bytes = _int_arg(capacity_bytes, "capacity_bytes", 1, I64_MAX)
        per_sender_limit = _int_arg(per_sender_limit, "per_sender_limit", 1, I64_MAX)
        max_nonce_gap = _int_arg(max_nonce_gap, "max_nonce_gap", 1, I64_MAX)
        if seed is not None:
            if not _is_int(seed):
                raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
            if not 0 <= seed <= U64_MAX:
                raise ValueError(f"seed must be None or in 0..{U64_MAX}, got {seed}")
        if not (math.isfinite(ttl) and ttl >= 0):
            raise ValueError(f"ttl must be a finite number >= 0, got {ttl}")
        if not (math.isfinite(replace_bump) and 0 <= replace_bump <= 100):
            raise ValueError(f"replace_bump must be in [0, 100], got {replace_bump}")
        # The bump is applied as an exact integer ratio in basis points (deterministic).
        cdef int64_t bps = <int64_t>round(replace_bump * 10000)
        # The seed keys the internal hash tables only; it never affects any result.
        cdef uint64_t s = int.from_bytes(os.urandom(8), "little") if seed is None else <uint64_t>seed
        self.pool = new Pool(capacity, capacity_bytes, per_sender_limit, max_nonce_gap, ttl,
                             bps, s)
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self.per_sender_limit = per_sender_limit
        self.max_nonce_gap = max_nonce_gap
        self.ttl = ttl
        self.replace_bump = replace_bump

    def __dealloc__(self):
        if self.pool is not NULL:
            del self.pool
            self.pool = NULL

    cdef inline int _lock(self) except -1:
        # Fast path with the GIL held; otherwise wait without it so the holder can finish.
        # No Python code runs while the lock is held (results are allocated before it is
        # taken), but should some ever do so and call back into this pool (a finalizer run
        # by the garbage collector, say), waiting would deadlock: raise instead. owner and
        # held are only read and written with the GIL held.
        cdef unsigned long me = PyThread_get_thread_ident()
        if not self.pool.mtx.try_lock():
            if self.held and self.owner == me:
                raise RuntimeError("Mempool re-entered by the thread that holds its lock "
                                   "(e.g. from a finalizer); the pool is unchanged")
            with nogil:
                self.pool.mtx.lock()
        self.owner = me
        self.held = True
        return 0

    cdef inline void _unlock(self):
        self.held = False
        self.pool.mtx.unlock()

    def add_batch(self, hashes, senders, nonces, gas_prices, sizes, double now):
        """Admit transactions in order; returns an int8 array of ``AddResult`` codes."""
        h = _hashes_arg(hashes)
        s = _require(senders, "senders", np.uint64, 1)
        no = _require(nonces, "nonces", np.int64, 1)
        gp = _require(gas_prices, "gas_prices", np.int64, 1)
        sz = _require(sizes, "sizes", np.int64, 1)
        cdef Py_ssize_t n = h.shape[0]
        if not (s.shape[0] == no.shape[0] == gp.shape[0] == sz.shape[0] == n):
            raise ValueError("hashes, senders, nonces, gas_prices and sizes must have the same "
                             f"length, got {n}, {s.shape[0]}, {no.shape[0]}, {gp.shape[0]}, "
                             f"{sz.shape[0]}")
        if not math.isfinite(now):
            raise ValueError(f"now must be a finite time in seconds, got {now}")
        if n:
            if gp.min() < 0:
                raise ValueError(f"gas_prices must be >= 0 (index {int(np.argmin(gp))})")
            bad = (sz < 1) | (sz > MAX_TX_SIZE)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"sizes must be in 1..{MAX_TX_SIZE} bytes, got {int(sz[i])} "
                                 f"at index {i}")
        out = np.empty(n, dtype=np.int8)
        cdef const uint8_t[:, ::1] hv = h
        cdef const uint64_t[::1] sv = s
        cdef const int64_t[::1] nv = no
        cdef const int64_t[::1] gv = gp
        cdef const int64_t[::1] zv = sz
        cdef int8_t[::1] ov = out
        if n == 0:
            return out
        self._lock()
        try:
            if n >= NOGIL_MIN:
                with nogil:
                    self.pool.add_batch(&hv[0, 0], &sv[0], &nv[0], &gv[0], &zv[0], n, now, &ov[0])
            else:
                self.pool.add_batch(&hv[0, 0], &sv[0], &nv[0], &gv[0], &zv[0], n, now, &ov[0])
        finally:
            self._unlock()
        return out

    cdef _nonces(self, senders, nonces, cbool monotonic):
        s = _require(senders, "senders", np.uint64, 1)
        no = _require(nonces, "nonces", np.int64, 1)
        cdef Py_ssize_t n = s.shape[0]
        if no.shape[0] != n:
            raise ValueError(f"senders and nonces must have the same length, got {n} and "
                             f"{no.shape[0]}")
        if n == 0:
            return
        if no.min() < 0:
            raise ValueError(f"nonces must be >= 0 (index {int(np.argmin(no))})")
        cdef const uint64_t[::1] sv = s
        cdef const int64_t[::1] nv = no
        self._lock()
        try:
            if n >= NOGIL_MIN:
                with nogil:
                    self.pool.set_nonces(&sv[0], &nv[0], n, monotonic)
            else:
                self.pool.set_nonces(&sv[0], &nv[0], n, monotonic)
        finally:
            self._unlock()

    def set_nonces(self, senders, nonces):
        """Set executed nonces exactly (startup, resync); drops what they make stale."""
        self._nonces(senders, nonces, False)

    def on_commit(self, senders, nonces):
        """After a block: raise executed nonces (never lowers one); drops what is stale."""
        self._nonces(senders, nonces, True)

    def select(self, max_txs, max_bytes):
        """The next block's transaction hashes in order, shape (k, 32); does not mutate."""
        if not (_is_int(max_txs) and _is_int(max_bytes)):
            raise TypeError(f"max_txs and max_bytes must be ints, got {type(max_txs).__name__}, "
                            f"{type(max_bytes).__name__}")
        if not (0 <= max_txs <= I64_MAX and 0 <= max_bytes <= I64_MAX):
            raise ValueError(f"max_txs and max_bytes must be in 0..{I64_MAX}, got {max_txs}, "
                             f"{max_bytes}")
        cdef int64_t mt = max_txs, mb = max_bytes, k, got = 0
        cdef uint8_t[:, ::1] ov
        while True:
            # The result array is allocated without the lock (an allocation can run a
            # collection, and a finalizer may call this pool); if the pool grew meanwhile,
            # allocate again.
            k = min(mt, self._size())
            out = np.empty((k, 32), dtype=np.uint8)
            if k == 0:
                return out
            ov = out
            self._lock()
            if min(mt, self.pool.size()) <= k:
                try:
                    with nogil:
                        got = self.pool.select(k, mb, &ov[0, 0])
                finally:
                    self._unlock()
                break
            self._unlock()
        return out[:got] if got != k else out

    cdef int64_t _size(self) except -1:
        cdef int64_t r
        self._lock()
        r = self.pool.size()
        self._unlock()
        return r

    def remove(self, hashes) -> int:
        """Drop the listed transactions that are present; returns how many were."""
        h = _hashes_arg(hashes)
        cdef const uint8_t[:, ::1] hv = h
        cdef Py_ssize_t n = h.shape[0]
        cdef int64_t got
        if n == 0:
            return 0
        self._lock()
        try:
            with nogil:
                got = self.pool.remove(&hv[0, 0], n)
        finally:
            self._unlock()
        return got

    def expire(self, double now) -> int:
        """Drop transactions that arrived more than ``ttl`` seconds before ``now``."""
        if not math.isfinite(now):
            raise ValueError(f"now must be a finite time in seconds, got {now}")
        cdef int64_t got
        self._lock()
        try:
            with nogil:
                got = self.pool.expire(now)
        finally:
            self._unlock()
        return got

    def __len__(self):
        return self._size()  # locked: a batch may be running without the GIL elsewhere

    def __contains__(self, h):
        cdef bytes b = _hash_bytes(h)
        cdef const uint8_t* p = <const uint8_t*><char*>b
        cdef cbool r
        self._lock()
        r = self.pool.contains(p)
        self._unlock()
        return r

    def get(self, h):
        """``(sender, nonce, gas_price, size, arrival)`` of a pooled transaction, or None."""
        cdef bytes b = _hash_bytes(h)
        cdef uint64_t sender
        cdef int64_t nonce, price, size
        cdef double arrival
        cdef cbool found
        self._lock()
        found = self.pool.get(<const uint8_t*><char*>b, &sender, &nonce, &price, &size, &arrival)
        self._unlock()
        if not found:
            return None
        return (sender, nonce, price, size, arrival)

    def pending(self, sender):
        """Every pooled transaction of ``sender`` in nonce order, as hashes (k, 32)."""
        return self.pending_with_nonces(sender)[0]

    def pending_with_nonces(self, sender):
        """``(hashes (k, 32) uint8, nonces (k,) int64)`` of ``sender`` in nonce order."""
        cdef uint64_t sid = _sender_arg(sender)
        cdef int64_t k, got
        cdef uint8_t[:, ::1] ov
        cdef int64_t[::1] nv
        while True:
            # Allocated without the lock, as in select; again if the sender's queue grew.
            self._lock()
            k = self.pool.pending_count(sid)
            self._unlock()
            out = np.empty((max(k, 1), 32), dtype=np.uint8)
            nonces = np.empty(max(k, 1), dtype=np.int64)
            ov = out
            nv = nonces
            self._lock()
            if self.pool.pending_count(sid) <= k:
                got = self.pool.pending(sid, &ov[0, 0], &nv[0])
                self._unlock()
                break
            self._unlock()
        return out[:got], nonces[:got]

    def executed_nonce(self, sender) -> int:
        """The executed nonce the pool holds for ``sender`` (0 if never told)."""
        cdef uint64_t sid = _sender_arg(sender)
        cdef int64_t r
        self._lock()
        r = self.pool.executed_nonce(sid)
        self._unlock()
        return r

    @property
    def bytes(self) -> int:
        cdef int64_t r
        self._lock()
        r = self.pool.bytes()
        self._unlock()
        return r

    def stats(self) -> dict:
        """Counts, bytes, lifetime counters and the bytes the structures hold allocated."""
        cdef Stats st
        self._lock()
        st = self.pool.stats()
        self._unlock()
        return {
            "count": st.count, "bytes": st.bytes, "senders": st.senders,
            "known_senders": st.known_senders, "ready": st.ready,
            "accepted": st.accepted, "replaced": st.replaced, "rejected": st.rejected,
            "evicted": st.evicted, "expired": st.expired, "removed": st.removed,
            "committed": st.committed, "memory_bytes": st.memory_bytes,
            "capacity": self.capacity, "capacity_bytes": self.capacity_bytes,
        }

    def _check(self) -> str:
        """Internal consistency check (tests): '' when every invariant holds."""
        cdef const char* r
        self._lock()
        r = self.pool.check()
        self._unlock()
        return r.decode()
