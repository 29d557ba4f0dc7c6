# Binds this module's kernels to the shared worker pool of core_ext._pool (included by
# every threaded kernel module; see core_ext/include/mbi_parallel.h).
from cpython.pycapsule cimport PyCapsule_GetPointer

cdef extern from "mbi_parallel.h" nogil:
    ctypedef struct mbi_pool_api:
        pass
    void mbi_parallel_bind(const mbi_pool_api *api)
    int mbi_threads(int requested)

from core_ext import _pool as _pool_module

mbi_parallel_bind(<const mbi_pool_api *>PyCapsule_GetPointer(_pool_module._API, b"core_ext._pool.API"))
