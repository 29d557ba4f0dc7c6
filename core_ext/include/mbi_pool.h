/* The process-wide worker pool shared by every core_ext kernel (core_ext/src/pool/pool.c).
 *
 * One set of native threads, created lazily on the first parallel call, sized from
 * MBI_THREADS, else the CPUs this process may run on (sched_getaffinity); resized by
 * mbi_pool_set_size. The pool lives in the core_ext._pool extension module; the kernel
 * modules reach it through the function table below, handed over in a PyCapsule at
 * import (mbi_parallel.h), so every module uses the same threads.
 *
 * A parallel call splits [0, n) into `pieces` contiguous ranges of near-equal length;
 * the calling thread and up to threads - 1 workers claim them one at a time. The caller
 * always works on its own call, so a call completes even when every worker is busy
 * elsewhere (or asleep on a loaded machine): the caller then runs the pieces itself. */
#ifndef MBI_POOL_H
#define MBI_POOL_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mbi_range_fn)(void *ctx, size_t begin, size_t end);

#define MBI_POOL_MAX 256
#define MBI_POOL_ABI 1

typedef struct {
    int abi; /* MBI_POOL_ABI */
    /* Runs fn over `pieces` ranges of [0, n) with at most `threads` threads (the caller
     * included; threads < 1: the pool size). Returns 0. */
    int (*run)(size_t n, size_t pieces, int threads, mbi_range_fn fn, void *ctx);
    /* Threads a call may use (caller included): the configured pool size. */
    int (*size)(void);
} mbi_pool_api;

/* Implemented by pool.c (the core_ext._pool module only). */
const mbi_pool_api *mbi_pool_get_api(void);
int mbi_pool_size(void);
/* n >= 1 sets the size (capped at MBI_POOL_MAX); n <= 0 restores the default. Shrinking
 * stops and joins the surplus workers before returning; growing takes effect lazily. */
int mbi_pool_set_size(int n);
/* Size from MBI_THREADS or the affinity mask, ignoring mbi_pool_set_size. */
int mbi_pool_default_size(void);
/* Worker threads now running (not counting callers). */
int mbi_pool_workers(void);
/* Pieces run by workers (not by callers) since start-up; tests and tuning. */
unsigned long long mbi_pool_worker_pieces(void);
/* Stops and joins every worker; later calls run on the calling thread only. */
void mbi_pool_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
