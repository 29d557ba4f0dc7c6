/* The decoded-key cache of keycache.h: a direct-mapped table of KC_SIZE entries.
 *
 * Each entry has its own try-lock: a thread that finds it taken decodes the key itself
 * (a reader) or leaves the entry as it is (a writer), so no thread ever waits on
 * another. Colliding keys evict each other; an attacker who makes a victim's key miss
 * only costs the victim the decode it would pay without the cache. */
#include <stdatomic.h>
#include <string.h>

#include "ed25519/keycache.h"

#ifndef KC_BITS
#define KC_BITS 14   /* 16,384 entries, 3.2 MiB of zeroed memory touched as used */
#endif
#define KC_SIZE (1u << KC_BITS)

typedef struct {
    atomic_uint lock;   /* 0 free, 1 held */
    uint32_t full;      /* enc and pt hold a decoded key */
    uint8_t enc[32];
    ge_p3 pt;
} kc_entry;

static kc_entry g_kc[KC_SIZE];
static atomic_int g_on = 1;
static _Atomic uint64_t g_hits = 0, g_misses = 0;

static inline uint32_t kc_index(const uint8_t enc[32]) {
    uint64_t a, b;
    memcpy(&a, enc, 8);
    memcpy(&b, enc + 8, 8);
    /* Keys are hashes of secrets, so their bytes are uniform; mixing two words keeps
     * keys that share a prefix apart. */
    uint64_t h = a * 0x9e3779b97f4a7c15ULL ^ b * 0xc2b2ae3d27d4eb4fULL;
    return (uint32_t)(h >> (64 - KC_BITS));
}

static inline int kc_trylock(kc_entry *e) {
    unsigned expect = 0;
    return atomic_compare_exchange_strong_explicit(&e->lock, &expect, 1u, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void kc_unlock(kc_entry *e) {
    atomic_store_explicit(&e->lock, 0u, memory_order_release);
}

int ge_decode_key(ge_p3 *h, const uint8_t enc[32]) {
    if (!atomic_load_explicit(&g_on, memory_order_relaxed)) return ge_decode_zip215(h, enc);
    kc_entry *e = &g_kc[kc_index(enc)];
    if (kc_trylock(e)) {
        int hit = e->full && memcmp(e->enc, enc, 32) == 0;
        if (hit) *h = e->pt;
        kc_unlock(e);
        if (hit) {
            atomic_fetch_add_explicit(&g_hits, 1, memory_order_relaxed);
            return 0;
        }
    }
    atomic_fetch_add_explicit(&g_misses, 1, memory_order_relaxed);
    if (ge_decode_zip215(h, enc) != 0) return -1;
    if (atomic_load_explicit(&g_on, memory_order_relaxed) && kc_trylock(e)) {
        memcpy(e->enc, enc, 32);
        e->pt = *h;
        e->full = 1;
        kc_unlock(e);
    }
    return 0;
}

void ed25519_keycache_enable(int on) {
    atomic_store_explicit(&g_on, on ? 1 : 0, memory_order_relaxed);
    if (on) return;
    for (size_t i = 0; i < KC_SIZE; i++) {
        kc_entry *e = &g_kc[i];
        /* an entry in use is being read or filled by a thread that saw the cache on;
         * wait for it rather than leave a key behind */
        while (!kc_trylock(e)) { }
        e->full = 0;
        kc_unlock(e);
    }
}

int ed25519_keycache_enabled(void) { return atomic_load_explicit(&g_on, memory_order_relaxed); }

void ed25519_keycache_counters(uint64_t *hits, uint64_t *misses, int reset) {
    if (reset) {
        *hits = atomic_exchange_explicit(&g_hits, 0, memory_order_relaxed);
        *misses = atomic_exchange_explicit(&g_misses, 0, memory_order_relaxed);
    } else {
        *hits = atomic_load_explicit(&g_hits, memory_order_relaxed);
        *misses = atomic_load_explicit(&g_misses, memory_order_relaxed);
    }
}
