/* ZIP-215 Ed25519 signature verification (see docs/signatures.md).
 *
 * Validity rule, identical for the single and the batch path:
 *   - S (signature bytes 32..63) must be canonical, S < l;
 *   - A (public key) and R (signature bytes 0..31) must decode to curve points; the y
 *     coordinate may be non-canonical (>= p) and x = 0 with the sign bit set is accepted;
 *     small-order and mixed-order points are accepted;
 *   - valid iff [8]([S]B - R - [k]A) is the identity, k = SHA-512(R || A || M) mod l over
 *     the bytes as received.
 * All functions are thread-safe after mbi_ed25519_init() and need no GIL. */
#ifndef MBI_ED25519_H
#define MBI_ED25519_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MBI_ED25519_PORTABLE = 0, MBI_ED25519_IFMA = 1 };

/* Builds the base-point tables and picks the backend from CPUID. Idempotent; call once
 * before any other function (the Cython module does it at import). Returns 0, or -1 if
 * the built-in self-check failed (then nothing may be trusted). */
int mbi_ed25519_init(void);

/* Backend in use ("portable" or "avx512ifma"); the set function selects one explicitly
 * (for tests) and returns -1 if this build or CPU cannot run it. */
const char *mbi_ed25519_backend(void);
int mbi_ed25519_set_backend(int which);
int mbi_ed25519_backend_available(int which);

/* 1 if valid, 0 if not (malformed inputs are simply invalid). */
int mbi_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t msg_len,
                       const uint8_t sig[64]);

/* out[i] = mbi_ed25519_verify(item i) for every i, using batch verification with random
 * coefficients from the OS CSPRNG (or one-by-one verification where that is cheaper or
 * the CSPRNG is unavailable), split over `threads` threads. Returns 0, or -1 if memory
 * ran out (out is then not filled). */
int mbi_ed25519_verify_batch(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                             const size_t *msg_lens, const uint8_t *sigs, uint8_t *out,
                             int threads);

/* As mbi_ed25519_verify_batch; if stats is not NULL it receives {batch checks run,
 * batch checks failed, items decided by the single equation} (tests, tuning). */
int mbi_ed25519_verify_batch_ex(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                                const size_t *msg_lens, const uint8_t *sigs, uint8_t *out,
                                int threads, uint64_t stats[3]);

/* Single-threaded verification of items [0, n) that always uses the one-by-one path;
 * exposed so tests can compare the two paths directly. */
void mbi_ed25519_verify_each(size_t n, const uint8_t *pks, const uint8_t *const *msgs,
                             const size_t *msg_lens, const uint8_t *sigs, uint8_t *out);

/* The recent fraction of invalid items that batch verification adapts its strategy to
 * (speed only: verdicts never depend on it), and a setter for tests and benchmarks. */
double mbi_ed25519_recent_invalid_rate(void);
void mbi_ed25519_set_recent_invalid_rate(double rate);

/* The decoded-public-key cache (speed only: a hit returns the point a fresh decode would).
 * On at start; turning it off also empties it. Counters: key lookups that hit and that
 * decoded, since the last reset. */
void mbi_ed25519_keycache_enable(int on);
int mbi_ed25519_keycache_enabled(void);
void mbi_ed25519_keycache_counters(uint64_t *hits, uint64_t *misses, int reset);

/* Test hook for the field arithmetic: op 0/1 = scalar a*b / a^2 (a, b: 5 limbs each),
 * op 2/3 = the same for 8 elements in the IFMA lanes (a, b: 8x5 limbs, out 8x32 bytes).
 * Writes canonical encodings; returns -1 if the op is unavailable. */
int mbi_ed25519_fe_test(int op, const uint64_t *a, const uint64_t *b, uint8_t *out);

/* Test hook: ZIP-215-decode `enc`; on success write the canonical encoding of the point
 * to `out` and return 1, else return 0. */
int mbi_ed25519_point_decode(const uint8_t enc[32], uint8_t out[32]);

/* Test hook: the same for n encodings with the current backend's batch decoder (eight
 * lanes at a time with IFMA); ok[i] = 1 and out[32 i..] filled on success. */
void mbi_ed25519_point_decode_many(size_t n, const uint8_t *enc, uint8_t *out, uint8_t *ok);

#ifdef __cplusplus
}
#endif
#endif
