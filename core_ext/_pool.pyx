# cython: language_level=3
"""The process-wide worker pool shared by core_ext.hashing, .merkle and .sigverify.

Native threads, started on the first call that can use them and kept for the life of
the process (joined at exit). A forked child starts its own on first use. The size
(threads per call, the caller included) comes from ``MBI_THREADS``, else the CPUs this
process may run on (``os.sched_getaffinity``), and ``core_ext.set_threads`` changes it.
"""
from cpython.pycapsule cimport PyCapsule_New

import atexit
import os

cdef extern from "mbi_pool.h" nogil:
    ctypedef struct mbi_pool_api:
        pass
    int MBI_POOL_MAX
    const mbi_pool_api *mbi_pool_get_api()
    int mbi_pool_size()
    int mbi_pool_set_size(int n)
    int mbi_pool_default_size()
    int mbi_pool_workers()
    unsigned long long mbi_pool_worker_pieces()
    void mbi_pool_shutdown()

MAX_THREADS = MBI_POOL_MAX


def _check_env():
    v = os.environ.get("MBI_THREADS")
    if v is None or v == "":
        return
    # the C side reads the same variable; it must be plain decimal digits
    if not (v.isascii() and v.isdigit() and int(v) >= 1):
        raise ValueError(f"MBI_THREADS must be a whole number >= 1 (values above "
                         f"{MBI_POOL_MAX} are capped), got {v!r}")


_check_env()

_API = PyCapsule_New(<void *>mbi_pool_get_api(), b"core_ext._pool.API", NULL)


def size() -> int:
    """Threads a call may use, the caller included."""
    return mbi_pool_size()


def default_size() -> int:
    """The size from MBI_THREADS or the affinity mask (what ``set_size(None)`` restores)."""
    return mbi_pool_default_size()


def set_size(int n) -> None:
    """n >= 1: use n threads per call (capped at MAX_THREADS); n == 0: the default.
    Surplus workers are stopped and joined before this returns."""
    with nogil:
        mbi_pool_set_size(n)


def workers() -> int:
    """Worker threads running now (the pool starts them on the first parallel call)."""
    return mbi_pool_workers()


def _worker_pieces() -> int:
    """Pieces of work run by pool workers since start-up (tests, tuning)."""
    return mbi_pool_worker_pieces()


def _shutdown() -> None:
    """Stop and join every worker; later calls run on the calling thread (exit hook)."""
    with nogil:
        mbi_pool_shutdown()


atexit.register(_shutdown)
