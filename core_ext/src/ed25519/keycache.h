/* Decoded public keys, remembered by their 32-byte encoding (keycache.c).
 *
 * An account signs many transactions with one key, and decoding a point costs a square
 * root (about a third of a portable batch verification). The cache holds what
 * ge_decode_zip215 returned for an encoding, so a hit gives exactly the point a fresh
 * decode would: no verdict can depend on whether it hit. Only successful decodes are
 * kept. Shared by all threads; an entry another thread is using counts as a miss.
 * Not a public API. */
#ifndef MBI_ED25519_KEYCACHE_H
#define MBI_ED25519_KEYCACHE_H
#include "ed25519/group.h"

/* ge_decode_zip215 of a public key, through the cache: 0 and *h, or -1 (no point). */
int ge_decode_key(ge_p3 *h, const uint8_t enc[32]);

/* Test and benchmark hooks: turn the cache on or off (on at start; off also empties
 * it), and read its counters since the last reset. */
void ed25519_keycache_enable(int on);
int ed25519_keycache_enabled(void);
void ed25519_keycache_counters(uint64_t *hits, uint64_t *misses, int reset);
#endif
