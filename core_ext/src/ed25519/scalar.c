/* Ed25519 scalars mod l (see group.h): parsing, Barrett reduction, products, wNAF, the
 * challenge hash, and the decoding of one signature into the form the checks use. */
#include "ed25519/group.h"

#include <string.h>

#include "ed25519/sha512.h"
#include "ed25519/keycache.h"

const uint64_t ED25519_L[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};
/* floor(2^512 / l), for Barrett reduction */
static const uint64_t SC_MU[5] = {0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL,
                                  0xffffffffffffffffULL, 0x000000000000000fULL};

/* ------------------------------------------------------------------ scalars */

void sc_from_bytes(uint64_t r[4], const uint8_t s[32]) {
    for (int i = 0; i < 4; i++) {
        uint64_t x = 0;
        for (int j = 7; j >= 0; j--) x = (x << 8) | s[8 * i + j];
        r[i] = x;
    }
}

/* s < l ? (the ZIP-215 / RFC 8032 canonical-S rule) */
int sc_is_canonical(const uint64_t s[4]) {
    for (int i = 3; i >= 0; i--) {
        if (s[i] < ED25519_L[i]) return 1;
        if (s[i] > ED25519_L[i]) return 0;
    }
    return 0; /* s == l */
}

/* r = x mod l for x < 2^512 (8 limbs), Barrett reduction (HAC 14.42, b = 2^64, k = 4). */
void sc_reduce_wide(uint64_t r[4], const uint64_t x[8]) {
    uint64_t q2[10] = {0};
    for (int i = 0; i < 5; i++) {        /* q2 = (x >> 192) * mu */
        mbi_u128 carry = 0;
        for (int j = 0; j < 5; j++) {
            mbi_u128 t = (mbi_u128)x[3 + i] * SC_MU[j] + q2[i + j] + carry;
            q2[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        q2[i + 5] = (uint64_t)carry;
    }
    const uint64_t *q3 = q2 + 5;         /* q3 = q2 >> 320 */
    uint64_t r2[5] = {0};                /* r2 = q3 * l mod 2^320 */
    for (int i = 0; i < 5; i++) {
        mbi_u128 carry = 0;
        for (int j = 0; j < 4 && i + j < 5; j++) {
            mbi_u128 t = (mbi_u128)q3[i] * ED25519_L[j] + r2[i + j] + carry;
            r2[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        if (i + 4 < 5) r2[i + 4] += (uint64_t)carry;
    }
    uint64_t rr[5];                      /* rr = x mod 2^320 - r2 (mod 2^320) */
    uint64_t borrow = 0;
    for (int i = 0; i < 5; i++) {
        mbi_u128 t = (mbi_u128)x[i] - r2[i] - borrow;
        rr[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
    for (;;) {                           /* at most two subtractions of l */
        int ge = rr[4] != 0;
        if (!ge) {
            ge = 1;
            for (int i = 3; i >= 0; i--) {
                if (rr[i] > ED25519_L[i]) break;
                if (rr[i] < ED25519_L[i]) { ge = 0; break; }
            }
        }
        if (!ge) break;
        borrow = 0;
        for (int i = 0; i < 5; i++) {
            uint64_t li = i < 4 ? ED25519_L[i] : 0;
            mbi_u128 t = (mbi_u128)rr[i] - li - borrow;
            rr[i] = (uint64_t)t;
            borrow = (uint64_t)(t >> 64) & 1;
        }
    }
    for (int i = 0; i < 4; i++) r[i] = rr[i];
}

/* k = SHA-512(R || A || M) mod l */
void sc_hram(uint64_t k[4], const uint8_t R[32], const uint8_t A[32], const uint8_t *m, size_t mlen) {
    mbi_sha512_ctx c;
    uint8_t h[64];
    uint64_t w[8];
    mbi_sha512_init(&c);
    mbi_sha512_update(&c, R, 32);
    mbi_sha512_update(&c, A, 32);
    mbi_sha512_update(&c, m, mlen);
    mbi_sha512_final(&c, h);
    for (int i = 0; i < 8; i++) {
        uint64_t x = 0;
        for (int j = 7; j >= 0; j--) x = (x << 8) | h[8 * i + j];
        w[i] = x;
    }
    sc_reduce_wide(k, w);
}

/* r = a * b mod l, a and b < 2^256 */
void sc_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t p[8] = {0};
    for (int i = 0; i < 4; i++) {
        mbi_u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            mbi_u128 t = (mbi_u128)a[i] * b[j] + p[i + j] + carry;
            p[i + j] = (uint64_t)t;
            carry = t >> 64;
        }
        p[i + 4] = (uint64_t)carry;
    }
    sc_reduce_wide(r, p);
}

/* Width-w NAF of a scalar < 2^256: digits odd in (-2^(w-1), 2^(w-1)) or 0, at most one
 * non-zero in any w consecutive positions. naf has 257 entries. */
void sc_wnaf(int8_t naf[257], const uint64_t s[4], int w) {
    uint64_t k[5] = {s[0], s[1], s[2], s[3], 0};
    const int64_t half = (int64_t)1 << (w - 1), full = (int64_t)1 << w;
    memset(naf, 0, 257);
    for (int i = 0; i < 257; i++) {
        if (!(k[0] | k[1] | k[2] | k[3] | k[4])) break;
        if (k[0] & 1) {
            int64_t d = (int64_t)(k[0] & (uint64_t)(full - 1));
            if (d >= half) d -= full;
            naf[i] = (int8_t)d;
            if (d > 0) {             /* k -= d */
                uint64_t b = (uint64_t)d;
                for (int j = 0; j < 5 && b; j++) { uint64_t o = k[j]; k[j] = o - b; b = o < b; }
            } else {                 /* k += -d */
                uint64_t c = (uint64_t)(-d);
                for (int j = 0; j < 5 && c; j++) { k[j] += c; c = k[j] < c; }
            }
        }
        for (int j = 0; j < 4; j++) k[j] = (k[j] >> 1) | (k[j + 1] << 63);
        k[4] >>= 1;
    }
}

/* ------------------------------------------------------------------ items */

/* Decode and hash one item. Returns 1 if it passed the format checks (S < l, A and R
 * decode); then nA, nR, k, s are filled. */
int ed25519_prepare(ed25519_item *it, const uint8_t pk[32], const uint8_t *msg, size_t mlen,
                    const uint8_t sig[64]) {
    ge_p3 p;
    sc_from_bytes(it->s, sig + 32);
    if (!sc_is_canonical(it->s)) return 0;
    if (ge_decode_key(&p, pk) != 0) return 0;
    ge_neg(&it->nA, &p);
    if (ge_decode_zip215(&p, sig) != 0) return 0;
    ge_neg(&it->nR, &p);
    sc_hram(it->k, sig, pk, msg, mlen);
    return 1;
}
