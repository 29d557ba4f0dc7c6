# cython: language_level=3
"""SHA-256: one message, or many independent messages in one call.

Native paths: SHA-NI (x86), the ARMv8 crypto extension, AVX-512 16-lane and AVX2 8-lane
multi-buffer kernels, and portable C, chosen at import from CPUID (``backend()``).
No OpenSSL. Calls release the GIL; large batches use several threads.
"""
from cpython.buffer cimport PyObject_CheckBuffer, PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport uint8_t, int64_t

import numpy as np

include "_intargs.pxi"
include "_sha256_common.pxi"

__all__ = ["sha256", "sha256_many", "backend"]

# Messages at least this long are hashed with the GIL released.
cdef enum:
    NOGIL_BYTES = 2048


cdef int _get_bytes(object obj, Py_buffer *view, str what) except -1:
    if isinstance(obj, str):
        raise TypeError(f"{what} must be a bytes-like object, not str (encode it first)")
    if not PyObject_CheckBuffer(obj):
        raise TypeError(f"{what} must be a bytes-like object (bytes, bytearray, memoryview, "
                        f"numpy array), not {type(obj).__name__}")
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except (BufferError, ValueError) as exc:
        raise ValueError(f"{what} must be a C-contiguous buffer ({exc})") from None
    return 0


def sha256(data):
    """SHA-256 of a bytes-like object (any C-contiguous buffer, read as raw bytes)."""
    cdef Py_buffer view
    _get_bytes(data, &view, "data")
    out = PyBytes_FromStringAndSize(NULL, 32)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const uint8_t *p = <const uint8_t *>view.buf
    cdef size_t n = <size_t>view.len
    try:
        if n >= NOGIL_BYTES:
            with nogil:
                mbi_sha256(NULL, p, n, o)
        else:
            mbi_sha256(NULL, p, n, o)
    finally:
        PyBuffer_Release(&view)
    return out


cdef object _as_offsets(object offsets):
    if isinstance(offsets, np.ndarray):
        arr = offsets
        if arr.dtype != np.dtype(np.int64):
            raise TypeError(f"offsets must have dtype int64 (native byte order), got {arr.dtype}")
    elif isinstance(offsets, (list, tuple)):
        arr = _int64_seq(offsets, "offsets")
    else:
        raise TypeError(f"offsets must be an int64 numpy array (or a list of ints), "
                        f"not {type(offsets).__name__}")
    if arr.ndim != 1:
        raise ValueError(f"offsets must be 1-D (n + 1 boundaries), got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError("offsets must hold n + 1 >= 1 boundaries, got an empty array")
    if not arr.flags.c_contiguous:
        raise ValueError("offsets must be C-contiguous (use np.ascontiguousarray)")
    # A private copy of a caller's array: offsets are checked, then used without the GIL,
    # and another thread rewriting them in between must not turn into an out-of-bounds read.
    return arr.copy() if arr is offsets else arr


def sha256_many(data, offsets, *, out=None, threads=None):
    """SHA-256 of n messages; message i is ``data[offsets[i]:offsets[i+1]]``.

    ``data``: a bytes-like object. ``offsets``: int64 array of n + 1 non-decreasing
    positions within ``data``. ``out``: optional writable C-contiguous (n, 32) uint8 array
    to fill. ``threads``: at most this many threads (default: the shared pool size,
    ``core_ext.threads()``).
    Returns the (n, 32) uint8 array of digests.
    """
    cdef Py_buffer view
    arr = _as_offsets(offsets)
    cdef const int64_t[::1] off = arr
    cdef Py_ssize_t n = off.shape[0] - 1
    cdef int nthreads = _threads(threads)
    if out is None:
        res = np.empty((n, 32), dtype=np.uint8)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, not {type(out).__name__}")
        if out.dtype != np.uint8:
            raise TypeError(f"out must have dtype uint8, got {out.dtype}")
        if out.shape != (n, 32):
            raise ValueError(f"out must have shape ({n}, 32), got {out.shape}")
        if not out.flags.c_contiguous:
            raise ValueError("out must be C-contiguous")
        if not out.flags.writeable:
            raise ValueError("out must be writable (got a read-only array)")
        res = out
    cdef uint8_t[:, ::1] o = res
    _get_bytes(data, &view, "data")
    cdef Py_ssize_t i, bad = -1
    cdef int64_t dlen = view.len
    try:
        with nogil:
            if off[0] < 0 or off[0] > dlen:
                bad = 0
            else:
                for i in range(n):
                    if off[i + 1] < off[i] or off[i + 1] > dlen:
                        bad = i + 1
                        break
        if bad >= 0:
            raise ValueError(
                f"offsets[{bad}] = {arr[bad]} is out of order or out of range: offsets must be "
                f"non-decreasing and within [0, len(data) = {dlen}]")
        if n > 0:
            with nogil:
                mbi_sha256_many(NULL, <const uint8_t *>view.buf, &off[0], <size_t>n, &o[0, 0],
                                nthreads)
    finally:
        PyBuffer_Release(&view)
    return res
