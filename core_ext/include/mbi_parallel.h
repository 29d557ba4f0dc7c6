/* A minimal parallel-for over pthreads, used by kernels that split a batch across
 * cores. Called with the GIL released; runs `fn(ctx, begin, end)` on contiguous chunks
 * of [0, n). The calling thread takes the first chunk itself, so threads == 1 costs no
 * thread creation at all.
 *
 * Header-only and static so each extension module carries its own copy. */
#ifndef MBI_PARALLEL_H
#define MBI_PARALLEL_H
#include <pthread.h>
#include <stddef.h>

typedef void (*mbi_range_fn)(void *ctx, size_t begin, size_t end);

typedef struct {
    mbi_range_fn fn;
    void *ctx;
    size_t begin, end;
} mbi_range_job;

static void *mbi__range_thread(void *arg) {
    mbi_range_job *j = (mbi_range_job *)arg;
    j->fn(j->ctx, j->begin, j->end);
    return NULL;
}

/* Returns 0, or -1 if a thread could not be started (its chunk then runs on the caller,
 * so the work is always done). `min_chunk` keeps tiny batches on one thread. */
static int mbi_parallel_for(size_t n, int threads, size_t min_chunk, mbi_range_fn fn, void *ctx) {
    if (n == 0) return 0;
    if (threads < 1) threads = 1;
    if (min_chunk < 1) min_chunk = 1;
    size_t max_threads = (n + min_chunk - 1) / min_chunk;
    if ((size_t)threads > max_threads) threads = (int)max_threads;
    if (threads > 256) threads = 256;
    if (threads == 1) { fn(ctx, 0, n); return 0; }

    mbi_range_job jobs[256];
    pthread_t tids[256];
    int started[256];
    size_t chunk = n / (size_t)threads, rem = n % (size_t)threads, pos = 0;
    for (int t = 0; t < threads; t++) {
        size_t len = chunk + ((size_t)t < rem ? 1 : 0);
        jobs[t].fn = fn; jobs[t].ctx = ctx; jobs[t].begin = pos; jobs[t].end = pos + len;
        pos += len;
    }
    int rc = 0;
    for (int t = 1; t < threads; t++) {
        started[t] = pthread_create(&tids[t], NULL, mbi__range_thread, &jobs[t]) == 0;
        if (!started[t]) rc = -1;
    }
    /* jobs[0] is [0, chunk + (rem > 0)); spelled out so the compiler sees it set. */
    fn(ctx, 0, chunk + (rem > 0 ? 1 : 0));
    for (int t = 1; t < threads; t++) {
        if (started[t]) pthread_join(tids[t], NULL);
        else fn(ctx, jobs[t].begin, jobs[t].end);
    }
    return rc;
}
#endif
