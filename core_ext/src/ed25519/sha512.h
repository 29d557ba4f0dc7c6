/* SHA-512 (FIPS 180-4), portable C. Used only to compute k = H(R || A || M) inside
 * Ed25519 verification, so only the one-shot and the three-part form are exposed. */
#ifndef MBI_SHA512_H
#define MBI_SHA512_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t h[8];
    uint64_t total;      /* bytes absorbed so far (messages < 2^61 bytes) */
    size_t fill;         /* bytes waiting in buf */
    uint8_t buf[128];
} mbi_sha512_ctx;

/* FIPS 180-4 round constants, defined in sha512.c. */
extern const uint64_t mbi_sha512_K[80];

void mbi_sha512_init(mbi_sha512_ctx *c);
void mbi_sha512_update(mbi_sha512_ctx *c, const uint8_t *p, size_t n);
void mbi_sha512_final(mbi_sha512_ctx *c, uint8_t out[64]);
void mbi_sha512(const uint8_t *p, size_t n, uint8_t out[64]);
#endif
