# Shared by core_ext.hashing and core_ext.merkle (included, not imported: each module has
# its own copy of the SHA-256 kernel and therefore its own backend selection).


def backend():
    """The SHA-256 path this module uses, e.g. ``"avx512x16+sha_ni"``.

    ``"<multi>+<single>"``: batches go through the multi-buffer kernel (``avx512x16``:
    AVX-512, 16 lanes; ``avx2x8``: AVX2, 8 lanes), single messages and the remainder of a
    batch through the single-stream one (``sha_ni``, ``arm_sha2`` or ``portable``). A
    name without ``+`` is a single-stream kernel used for everything.
    """
    return (<const char *>mbi_sha256_impl_get().name).decode()


def _backends():
    """Every backend this CPU can run here, best first (the first is the default)."""
    cdef const mbi_sha256_impl *lst[16]
    cdef int n = mbi_sha256_impls(lst, 16)
    return [(<const char *>lst[i].name).decode() for i in range(n)]


def _set_backend(str name):
    """Force a backend for this module (testing/benchmarks); ``"auto"`` restores the default.

    Not thread-safe with respect to calls running concurrently in other threads.
    """
    if mbi_sha256_set_backend(name.encode()) != 0:
        raise ValueError(f"unknown or unavailable SHA-256 backend {name!r}; "
                         f"available here: {_backends()}")


include "_pool_client.pxi"


cdef int _threads(object threads) except -1:
    if threads is None:
        return 0  # the shared pool's size at call time (core_ext.set_threads)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an int or None, not {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return min(<int>min(threads, 256), 256)


# Pick the backend now, while the import holds the GIL (the choice is also made safely on
# first use from any thread; this just keeps that cost out of the first call).
mbi_sha256_impl_get()
