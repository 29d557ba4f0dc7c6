/* The kernel side of the shared pool. See mbi_parallel.h. */
#include "mbi_parallel.h"

/* Written once at module import (with the GIL held), before any kernel call. */
static const mbi_pool_api *g_api;

void mbi_parallel_bind(const mbi_pool_api *api) {
    if (api && api->abi == MBI_POOL_ABI) g_api = api;
}

int mbi_threads(int requested) {
    int size = g_api ? g_api->size() : 1;
    return requested < 1 || requested > size ? size : requested;
}

int mbi_parallel_run(size_t n, int threads, size_t min_piece, int per_thread, mbi_range_fn fn,
                     void *ctx) {
    if (n == 0) return 0;
    int t = mbi_threads(threads);
    if (min_piece < 1) min_piece = 1;
    if (per_thread < 1) per_thread = 1;
    size_t pieces = n / min_piece;
    size_t cap = (size_t)t * (size_t)per_thread;
    if (pieces > cap) pieces = cap;
    if (t <= 1 || pieces <= 1 || !g_api) { fn(ctx, 0, n); return 0; }
    return g_api->run(n, pieces, t, fn, ctx);
}
