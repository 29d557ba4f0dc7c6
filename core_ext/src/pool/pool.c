/* The shared worker pool. See mbi_pool.h.
 *
 * Everything is guarded by one mutex: a call takes it a handful of times (submit, one
 * claim per piece, finish), and pieces are at least tens of microseconds of work, so the
 * lock is never the bottleneck. Calls queue FIFO; an idle worker takes a piece of the
 * oldest call that still has unclaimed pieces and a free thread slot. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mbi_pool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct task {
    mbi_range_fn fn;
    void *ctx;
    size_t n, pieces;
    size_t next;       /* next piece to claim */
    size_t done;       /* pieces finished */
    int max_helpers;   /* workers allowed on this call at once (threads - 1) */
    int helpers;       /* workers on it now */
    int queued;
    pthread_cond_t done_cv;
    struct task *link;
} task;

enum { SLOT_EMPTY = 0, SLOT_RUNNING, SLOT_STOPPING };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t g_resize_mu = PTHREAD_MUTEX_INITIALIZER; /* one resize at a time */
static task *g_head, *g_tail;
static int g_size;        /* configured threads per call (caller included); 0: not yet read */
static int g_closed;      /* after mbi_pool_shutdown: no workers, calls run inline */
static int g_running;     /* slots in SLOT_RUNNING */
static int g_state[MBI_POOL_MAX];
static pthread_t g_tid[MBI_POOL_MAX];
static unsigned long long g_worker_pieces;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static size_t piece_begin(const task *t, size_t i) {
    size_t q = t->n / t->pieces, r = t->n % t->pieces;
    return i * q + (i < r ? i : r);
}

int mbi_pool_default_size(void) {
    const char *e = getenv("MBI_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v >= 1) return v > MBI_POOL_MAX ? MBI_POOL_MAX : (int)v;
        /* an unusable value falls back to the CPU count (core_ext checks it at import and
         * raises there, where an error can be reported) */
    }
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c >= 1) return c > MBI_POOL_MAX ? MBI_POOL_MAX : c;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MBI_POOL_MAX ? MBI_POOL_MAX : (int)n;
}

/* The child of fork() has only the forking thread: none of the parent's workers or
 * callers exist there. Forget them; the child starts its own workers on first use. */
static void atfork_prepare(void) { pthread_mutex_lock(&g_resize_mu); pthread_mutex_lock(&g_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mu); pthread_mutex_unlock(&g_resize_mu); }
static void atfork_child(void) {
    pthread_mutex_init(&g_mu, NULL);
    pthread_mutex_init(&g_resize_mu, NULL);
    pthread_cond_init(&g_work_cv, NULL);
    g_head = g_tail = NULL;
    memset(g_state, 0, sizeof g_state);
    g_running = 0;
}
static void register_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

static void unqueue(task *t) {
    task **p = &g_head, *prev = NULL;
    while (*p && *p != t) { prev = *p; p = &(*p)->link; }
    if (!*p) return;
    *p = t->link;
    if (g_tail == t) g_tail = prev;
    t->queued = 0;
}

/* Claims the next piece of t (caller holds g_mu). */
static size_t claim(task *t) {
    size_t i = t->next++;
    if (t->next == t->pieces && t->queued) unqueue(t);
    return i;
}

static void finish(task *t, size_t count) {
    t->done += count;
    if (t->done == t->pieces) pthread_cond_signal(&t->done_cv);
}

static task *find_work(void) {
    for (task *t = g_head; t; t = t->link)
        if (t->next < t->pieces && t->helpers < t->max_helpers) return t;
    return NULL;
}

static void *worker(void *arg) {
    int slot = (int)(size_t)arg;
    pthread_mutex_lock(&g_mu);
    for (;;) {
        task *t = NULL;
        while (g_state[slot] == SLOT_RUNNING && !g_closed && !(t = find_work()))
            pthread_cond_wait(&g_work_cv, &g_mu);
        if (!t) break;
        t->helpers++;
        size_t ran = 0;
        while (t->next < t->pieces) {
            size_t i = claim(t);
            pthread_mutex_unlock(&g_mu);
            t->fn(t->ctx, piece_begin(t, i), piece_begin(t, i + 1));
            pthread_mutex_lock(&g_mu);
            ran++;
            g_worker_pieces++;
        }
        t->helpers--;
        finish(t, ran); /* t may be gone once g_mu is released */
    }
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

/* Starts workers up to size - 1 (caller holds g_mu). Workers start with every signal
 * blocked: signals are for the interpreter's threads. */
static void grow_locked(void) {
    int want = g_size - 1;
    if (g_closed || g_running >= want) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int s = 0; s < want && g_running < want; s++) {
        if (g_state[s] != SLOT_EMPTY) continue;
        if (pthread_create(&g_tid[s], NULL, worker, (void *)(size_t)s) != 0) break;
        g_state[s] = SLOT_RUNNING;
        g_running++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void init_locked(void) {
    if (g_size == 0) g_size = mbi_pool_default_size();
}

static int pool_run(size_t n, size_t pieces, int threads, mbi_range_fn fn, void *ctx) {
    if (n == 0) return 0;
    if (pieces > n) pieces = n;
    if (pieces <= 1 || threads == 1) { fn(ctx, 0, n); return 0; }
    pthread_once(&g_atfork_once, register_atfork);

    task t;
    memset(&t, 0, sizeof t);
    t.fn = fn; t.ctx = ctx; t.n = n; t.pieces = pieces;
    pthread_mutex_lock(&g_mu);
    init_locked();
    int eff = threads < 1 || threads > g_size ? g_size : threads;
    if (eff <= 1 || g_closed) {
        pthread_mutex_unlock(&g_mu);
        fn(ctx, 0, n);
        return 0;
    }
    grow_locked();
    t.max_helpers = eff - 1;
    pthread_cond_init(&t.done_cv, NULL);
    t.queued = 1;
    if (g_tail) g_tail->link = &t; else g_head = &t;
    g_tail = &t;
    size_t wake = pieces - 1 < (size_t)t.max_helpers ? pieces - 1 : (size_t)t.max_helpers;
    for (size_t w = 0; w < wake; w++) pthread_cond_signal(&g_work_cv);

    size_t ran = 0;
    while (t.next < t.pieces) {
        size_t i = claim(&t);
        pthread_mutex_unlock(&g_mu);
        fn(ctx, piece_begin(&t, i), piece_begin(&t, i + 1));
        pthread_mutex_lock(&g_mu);
        ran++;
    }
    finish(&t, ran);
    while (t.done < t.pieces) pthread_cond_wait(&t.done_cv, &g_mu);
    if (t.queued) unqueue(&t);
    pthread_mutex_unlock(&g_mu);
    pthread_cond_destroy(&t.done_cv);
    return 0;
}

/* Stops the workers in slots >= keep and joins them. */
static void stop_from(int keep) {
    pthread_t tids[MBI_POOL_MAX];
    int slots[MBI_POOL_MAX], k = 0;
    pthread_mutex_lock(&g_mu);
    for (int s = keep < 0 ? 0 : keep; s < MBI_POOL_MAX; s++) {
        if (g_state[s] != SLOT_RUNNING) continue;
        g_state[s] = SLOT_STOPPING;
        tids[k] = g_tid[s];
        slots[k++] = s;
    }
    pthread_cond_broadcast(&g_work_cv);
    pthread_mutex_unlock(&g_mu);
    for (int j = 0; j < k; j++) pthread_join(tids[j], NULL);
    pthread_mutex_lock(&g_mu);
    for (int j = 0; j < k; j++) { g_state[slots[j]] = SLOT_EMPTY; g_running--; }
    pthread_mutex_unlock(&g_mu);
}

int mbi_pool_set_size(int n) {
    pthread_once(&g_atfork_once, register_atfork);
    pthread_mutex_lock(&g_resize_mu);
    pthread_mutex_lock(&g_mu);
    g_size = n >= 1 ? (n > MBI_POOL_MAX ? MBI_POOL_MAX : n) : mbi_pool_default_size();
    int keep = g_size - 1;
    pthread_mutex_unlock(&g_mu);
    stop_from(keep);
    pthread_mutex_unlock(&g_resize_mu);
    return 0;
}

int mbi_pool_size(void) {
    pthread_mutex_lock(&g_mu);
    init_locked();
    int s = g_size;
    pthread_mutex_unlock(&g_mu);
    return s;
}

int mbi_pool_workers(void) {
    pthread_mutex_lock(&g_mu);
    int r = g_running;
    pthread_mutex_unlock(&g_mu);
    return r;
}

unsigned long long mbi_pool_worker_pieces(void) {
    pthread_mutex_lock(&g_mu);
    unsigned long long r = g_worker_pieces;
    pthread_mutex_unlock(&g_mu);
    return r;
}

void mbi_pool_shutdown(void) {
    pthread_mutex_lock(&g_resize_mu);
    pthread_mutex_lock(&g_mu);
    g_closed = 1;
    pthread_mutex_unlock(&g_mu);
    stop_from(0);
    pthread_mutex_unlock(&g_resize_mu);
}

static const mbi_pool_api API = {MBI_POOL_ABI, pool_run, mbi_pool_size};

const mbi_pool_api *mbi_pool_get_api(void) { return &API; }
