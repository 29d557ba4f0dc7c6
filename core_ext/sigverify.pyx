# cython: language_level=3
"""ZIP-215 Ed25519 signature verification, single and batched (native C, GIL released).

The validity rule (see docs/signatures.md) is a consensus rule: S must be canonical
(S < l); A and R must decode to curve points, non-canonical y encodings and small- or
mixed-order points included; the signature is valid iff [8][S]B = [8]R + [8][k]A with
k = SHA-512(R || A || M) mod l over the bytes as received. ``verify_batch`` returns, for
every item, exactly what ``verify`` returns for it.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport malloc, free

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "mbi_ed25519.h" nogil:
    int MBI_ED25519_PORTABLE
    int MBI_ED25519_IFMA
    int mbi_ed25519_init()
    const char *mbi_ed25519_backend()
    int mbi_ed25519_set_backend(int which)
    int mbi_ed25519_backend_available(int which)
    int mbi_ed25519_verify(const uint8_t *pk, const uint8_t *msg, size_t msg_len,
                           const uint8_t *sig)
    int mbi_ed25519_verify_batch(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                                 const size_t *msg_lens, const uint8_t *sigs, uint8_t *out,
                                 int threads)
    int mbi_ed25519_verify_batch_ex(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                                    const size_t *msg_lens, const uint8_t *sigs, uint8_t *out,
                                    int threads, uint64_t *stats)
    void mbi_ed25519_verify_each(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                                 const size_t *msg_lens, const uint8_t *sigs, uint8_t *out)

    int mbi_ed25519_point_decode(const uint8_t *enc, uint8_t *out)
    void mbi_ed25519_point_decode_many(size_t n, const uint8_t *enc, uint8_t *out, uint8_t *ok)
    int mbi_ed25519_fe_test(int op, const uint64_t *a, const uint64_t *b, uint8_t *out)
    double mbi_ed25519_recent_invalid_rate()
    void mbi_ed25519_set_recent_invalid_rate(double rate)
    void mbi_ed25519_keycache_enable(int on)
    int mbi_ed25519_keycache_enabled()
    void mbi_ed25519_keycache_counters(uint64_t *hits, uint64_t *misses, int reset)

include "_pool_client.pxi"

if mbi_ed25519_init() != 0:
    raise ImportError("core_ext.sigverify: Ed25519 self-check failed at import")

__all__ = ["verify", "verify_batch", "backend", "available_backends"]

_BACKENDS = {"portable": MBI_ED25519_PORTABLE, "avx512ifma": MBI_ED25519_IFMA}
_EMPTY = b"\x00"


cdef bytes _as_bytes(object x, str what):
    """Any bytes-like object as bytes (copied unless it is already bytes)."""
    if PyBytes_CheckExact(x):
        return <bytes>x
    if isinstance(x, str):
        raise TypeError(f"{what} must be bytes-like, not str (encode it first)")
    try:
        return memoryview(x).tobytes()
    except TypeError:
        raise TypeError(f"{what} must be a bytes-like object, not {type(x).__name__}") from None


cdef bytes _fixed(object x, Py_ssize_t size, str what):
    cdef bytes b = _as_bytes(x, what)
    if PyBytes_GET_SIZE(b) != size:
        raise ValueError(f"{what} must be {size} bytes, got {PyBytes_GET_SIZE(b)}")
    return b


def backend() -> str:
    """The code path in use: ``"portable"`` or ``"avx512ifma"``."""
    return mbi_ed25519_backend().decode()


def available_backends() -> list:
    """Backends this build can run on this CPU."""
    return [name for name, v in _BACKENDS.items() if mbi_ed25519_backend_available(v)]


def _set_backend(str name) -> None:
    """Select a backend explicitly (tests). Not thread-safe against running verifications."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {sorted(_BACKENDS)}")
    if mbi_ed25519_set_backend(_BACKENDS[name]) != 0:
        raise ValueError(f"backend {name!r} is not available on this build/CPU")


def _recent_invalid_rate(rate=None) -> float:
    """The recent invalid fraction verify_batch adapts its strategy to (speed only; the
    verdicts never depend on it). With `rate`, set it first (tests, benchmarks)."""
    cdef double r
    if rate is not None:
        r = float(rate)
        if r != r:
            raise ValueError("rate must be a number in [0, 1] (out-of-range values are "
                             "clamped), not NaN")
        mbi_ed25519_set_recent_invalid_rate(r)
    return mbi_ed25519_recent_invalid_rate()


def _keycache(enabled=None, bint reset=False) -> tuple:
    """The decoded-public-key cache (speed only: a hit gives the point a fresh decode
    would). With `enabled`, turn it on or off first (off also empties it); with `reset`,
    zero the counters after reading them. Returns (enabled, hits, misses)."""
    cdef uint64_t hits = 0, misses = 0
    if enabled is not None:
        mbi_ed25519_keycache_enable(1 if enabled else 0)
    mbi_ed25519_keycache_counters(&hits, &misses, 1 if reset else 0)
    return bool(mbi_ed25519_keycache_enabled()), int(hits), int(misses)


def _decode_point(enc):
    """Test hook: the canonical encoding of the point `enc` decodes to (ZIP-215), or None."""
    cdef bytes e = _fixed(enc, 32, "enc")
    cdef uint8_t out[32]
    if mbi_ed25519_point_decode(<const uint8_t *>PyBytes_AS_STRING(e), out):
        return bytes(out[:32])
    return None


def _fe_test(int op, a, b):
    """Test hook for the field arithmetic mod 2^255-19 on raw radix-2^51 limbs.

    op 0: a*b, op 1: a^2 (a, b: 5 limbs); op 2: a*b, op 3: a^2 in the eight IFMA lanes
    (a, b: 8 lists of 5 limbs). Returns the canonical results as ints (a list for 2/3),
    or None if the op is not available here."""
    cdef int lanes = 8 if op in (2, 3) else 1
    cdef uint64_t av[40]
    cdef uint64_t bv[40]
    cdef uint8_t out[256]
    fa = [x for row in a for x in row] if lanes == 8 else list(a)
    fb = [x for row in b for x in row] if lanes == 8 else list(b)
    if len(fa) != 5 * lanes or len(fb) != 5 * lanes:
        raise ValueError(f"expected {lanes} x 5 limbs")
    for i in range(5 * lanes):
        av[i] = fa[i]
        bv[i] = fb[i]
    if mbi_ed25519_fe_test(op, av, bv, out) != 0:
        return None
    res = [int.from_bytes(bytes(out[32 * l:32 * l + 32]), "little") for l in range(lanes)]
    return res if lanes == 8 else res[0]


def _decode_points(encs):
    """Test hook: _decode_point for many encodings through the current backend's batch
    decoder (eight lanes at a time with IFMA)."""
    cdef bytes flat = b"".join(_fixed(e, 32, "enc") for e in encs)
    cdef Py_ssize_t n = len(flat) // 32
    out = bytearray(32 * n)
    ok = bytearray(n)
    cdef uint8_t[::1] ov = out
    cdef uint8_t[::1] kv = ok
    if n:
        mbi_ed25519_point_decode_many(<size_t>n, <const uint8_t *>PyBytes_AS_STRING(flat), &ov[0], &kv[0])
    return [bytes(out[32 * i:32 * i + 32]) if ok[i] else None for i in range(n)]


def verify(public_key, message, signature) -> bool:
    """Verify one Ed25519 signature under the ZIP-215 rules.

    ``public_key`` is 32 bytes, ``signature`` 64 bytes (R || S), ``message`` any
    bytes-like. Returns True or False; a key or signature that does not decode is simply
    invalid. Wrong lengths raise ValueError, non-bytes-like arguments TypeError.
    """
    cdef bytes pk = _fixed(public_key, 32, "public_key")
    cdef bytes sig = _fixed(signature, 64, "signature")
    cdef bytes msg = _as_bytes(message, "message")
    cdef const uint8_t *pp = <const uint8_t *>PyBytes_AS_STRING(pk)
    cdef const uint8_t *sp = <const uint8_t *>PyBytes_AS_STRING(sig)
    cdef const uint8_t *mp = <const uint8_t *>PyBytes_AS_STRING(msg)
    cdef size_t ml = <size_t>PyBytes_GET_SIZE(msg)
    cdef int r
    with nogil:
        r = mbi_ed25519_verify(pp, mp, ml, sp)
    return r == 1


cdef object _rows(object x, Py_ssize_t n, Py_ssize_t width, str what):
    """(n, width) uint8 C-contiguous array from an array, a sequence of n bytes-like of
    `width` bytes, or one flat bytes-like of n*width bytes."""
    cdef Py_ssize_t i
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8:
            raise TypeError(f"{what} array must have dtype uint8, got {x.dtype}")
        if x.ndim != 2 or x.shape[0] != n or x.shape[1] != width:
            raise ValueError(f"{what} array must have shape ({n}, {width}), got {x.shape}")
        # a private copy: the GIL is released while we read it, and a caller's array
        # changing underneath must not mix two states of one signature
        return np.array(x, dtype=np.uint8, order="C", copy=True)
    if isinstance(x, (bytes, bytearray, memoryview)):
        b = _as_bytes(x, what)
        if len(b) != n * width:
            raise ValueError(f"{what} as one buffer must be {n}*{width} = {n * width} bytes, "
                             f"got {len(b)}")
        return np.frombuffer(b, dtype=np.uint8).reshape(n, width)
    if isinstance(x, str):
        raise TypeError(f"{what} must be an array or a sequence of bytes, not str")
    try:
        items = list(x)
    except TypeError:
        raise TypeError(f"{what} must be a (n, {width}) uint8 array or a sequence of "
                        f"{width}-byte values, not {type(x).__name__}") from None
    if len(items) != n:
        raise ValueError(f"{what} has {len(items)} items but messages has {n}")
    parts = []
    for i in range(n):
        b = _as_bytes(items[i], f"{what}[{i}]")
        if len(b) != width:
            raise ValueError(f"{what}[{i}] must be {width} bytes, got {len(b)}")
        parts.append(b)
    return np.frombuffer(b"".join(parts), dtype=np.uint8).reshape(n, width)


def _prepare_batch(public_keys, messages, signatures):
    if isinstance(messages, (str, bytes, bytearray, memoryview)):
        raise TypeError("messages must be a sequence of bytes-like objects, one per signature")
    try:
        msgs = [_as_bytes(m, f"messages[{i}]") for i, m in enumerate(messages)]
    except TypeError as exc:
        if "messages[" in str(exc):
            raise
        raise TypeError(f"messages must be a sequence of bytes-like objects, not "
                        f"{type(messages).__name__}") from None
    n = len(msgs)
    pks = _rows(public_keys, n, 32, "public_keys")
    sigs = _rows(signatures, n, 64, "signatures")
    return msgs, pks, sigs


cdef int _threads_arg(object threads) except -1:
    if threads is None:
        return 0  # the shared pool's size at call time (core_ext.set_threads)
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be None or an int >= 1, not {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return min(<int>min(threads, 256), 256)


def verify_batch(public_keys, messages, signatures, threads=None):
    """Verify n signatures; item i of the result is exactly ``verify`` of item i.

    ``public_keys``: (n, 32) uint8 array, n 32-byte values, or one buffer of 32*n bytes.
    ``signatures``: (n, 64) uint8 array, n 64-byte values, or one buffer of 64*n bytes.
    ``messages``: a sequence of n bytes-like objects of any lengths.
    ``threads``: at most this many threads (None: the shared pool size,
    ``core_ext.threads()``). Returns a bool array of length n.
    Uses random-linear-combination batch verification (coefficients from the OS CSPRNG)
    and locates invalid items by bisection.
    """
    cdef int nthreads = _threads_arg(threads)
    msgs, pks, sigs = _prepare_batch(public_keys, messages, signatures)
    cdef Py_ssize_t n = len(msgs)
    out = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return out
    _run(msgs, pks, sigs, out, nthreads, False)
    return out


def _verify_batch_stats(public_keys, messages, signatures, threads=None):
    """verify_batch plus {"msm_checks", "msm_failures", "single_checks"} (tests, tuning)."""
    cdef int nthreads = _threads_arg(threads)
    msgs, pks, sigs = _prepare_batch(public_keys, messages, signatures)
    out = np.zeros(len(msgs), dtype=np.bool_)
    stats = [0, 0, 0]
    if len(msgs):
        stats = _run(msgs, pks, sigs, out, nthreads, False)
    return out, dict(zip(("msm_checks", "msm_failures", "single_checks"), stats))


def _verify_each(public_keys, messages, signatures):
    """One-by-one verification of every item in C (tests: the reference for batches)."""
    msgs, pks, sigs = _prepare_batch(public_keys, messages, signatures)
    out = np.zeros(len(msgs), dtype=np.bool_)
    if len(msgs):
        _run(msgs, pks, sigs, out, 1, True)
    return out


cdef _run(list msgs, cnp.ndarray pks, cnp.ndarray sigs, cnp.ndarray out, int nthreads, bint each):
    cdef Py_ssize_t n = len(msgs), i
    cdef const uint8_t **mp = <const uint8_t **>malloc(n * sizeof(uint8_t *))
    cdef size_t *ml = <size_t *>malloc(n * sizeof(size_t))
    cdef bytes b
    cdef int rc = 0
    cdef uint64_t st[3]
    cdef const uint8_t *pkp = <const uint8_t *>cnp.PyArray_DATA(pks)
    cdef const uint8_t *sgp = <const uint8_t *>cnp.PyArray_DATA(sigs)
    cdef uint8_t *op = <uint8_t *>cnp.PyArray_DATA(out)
    if mp == NULL or ml == NULL:
        free(mp); free(ml)
        raise MemoryError()
    try:
        for i in range(n):
            b = <bytes>msgs[i]
            mp[i] = <const uint8_t *>PyBytes_AS_STRING(b)
            ml[i] = <size_t>PyBytes_GET_SIZE(b)
        # msgs (a list we own) keeps every buffer alive while the GIL is released.
        with nogil:
            if each:
                mbi_ed25519_verify_each(<size_t>n, pkp, mp, ml, sgp, op)
            else:
                rc = mbi_ed25519_verify_batch_ex(<size_t>n, pkp, mp, ml, sgp, op, nthreads, st)
    finally:
        free(mp)
        free(ml)
    if rc != 0:
        raise MemoryError("verify_batch: out of memory")
    if each:
        return [0, 0, n]
    return [st[0], st[1], st[2]]
