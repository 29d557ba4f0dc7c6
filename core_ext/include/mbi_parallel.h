/* Parallel-for for the kernels, run on the shared worker pool (mbi_pool.h).
 *
 * Each extension module links its own copy of core_ext/src/pool/client.c, which holds
 * the pool's function table; the module's Cython code binds it at import from the
 * core_ext._pool capsule (core_ext/_pool_client.pxi). Unbound (a kernel used outside
 * core_ext), every call runs on the calling thread. No call starts threads itself.
 *
 * Called with the GIL released; runs `fn(ctx, begin, end)` on contiguous ranges covering
 * [0, n) exactly once. Range boundaries depend only on n and the piece count, never on
 * which thread runs a range, so results are the same with any number of threads. */
#ifndef MBI_PARALLEL_H
#define MBI_PARALLEL_H
#include <stddef.h>

#include "mbi_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

void mbi_parallel_bind(const mbi_pool_api *api);

/* Threads a call asking for `requested` gets: requested < 1 means the pool size; never
 * more than the pool size; 1 when no pool is bound. */
int mbi_threads(int requested);

/* Splits [0, n) into min(n / min_piece, threads * per_thread) pieces (at least 1) run by
 * up to `threads` threads, the caller included. More pieces than threads let a caller
 * whose helper is late (a loaded machine) take over the rest itself. Returns 0. */
int mbi_parallel_run(size_t n, int threads, size_t min_piece, int per_thread, mbi_range_fn fn,
                     void *ctx);

/* One piece per thread, each at least min_chunk long. */
static inline int mbi_parallel_for(size_t n, int threads, size_t min_chunk, mbi_range_fn fn,
                                   void *ctx) {
    return mbi_parallel_run(n, threads, min_chunk, 1, fn, ctx);
}

#ifdef __cplusplus
}
#endif
#endif
