/* The portable single-signature check, and whether the IFMA backend can run (see
 * backend.h). */
#include "ed25519/backend.h"

#include "mbi_cpu.h"

#define A_WNAF_W 5
#define A_TABLE_N (1 << (A_WNAF_W - 2)) /* 1P, 3P, ..., 15P */

/* Shared by verify and by the batch engine when it checks items one by one: wNAF
 * double-scalar multiplication, width 5 for k nA, width 8 (the base table) for s B. */
int ed25519_check_one(const ge_p3 *nA, const ge_p3 *nR, const uint64_t k[4], const uint64_t s[4]) {
    int8_t kn[257], sn[257];
    ge_cached atab[A_TABLE_N];
    const ge_precomp *bt = ed25519_base_odd_table();
    sc_wnaf(kn, k, A_WNAF_W);
    sc_wnaf(sn, s, B_WNAF_W);
    ge_odd_multiples_cached(atab, A_TABLE_N, nA);

    int top = 256;
    while (top >= 0 && !kn[top] && !sn[top]) top--;
    ge_p2 r;
    ge_p3 r3;
    ge_p1p1 t;
    ge_identity(&r3);
    p3_to_p2(&r, &r3);
    for (int i = top; i >= 0; i--) {
        ge_dbl(&t, &r);
        if (kn[i] || sn[i]) {
            p1p1_to_p3(&r3, &t);
            if (kn[i] > 0) { ge_add_cached(&t, &r3, &atab[kn[i] >> 1]); p1p1_to_p3(&r3, &t); }
            else if (kn[i] < 0) { ge_sub_cached(&t, &r3, &atab[(-kn[i]) >> 1]); p1p1_to_p3(&r3, &t); }
            if (sn[i] > 0) { ge_add_precomp(&t, &r3, &bt[sn[i] >> 1]); }
            else if (sn[i] < 0) { ge_sub_precomp(&t, &r3, &bt[(-sn[i]) >> 1]); }
            else { p3_to_p2(&r, &r3); continue; }
        }
        p1p1_to_p2(&r, &t);
    }
    /* r is projective (no T). (XZ : YZ : Z^2 : XY) is the same point in extended
     * coordinates, which costs 4 multiplications instead of an inversion. */
    ge_p3 acc;
    ge_cached cr;
    fe_mul(&acc.T, &r.X, &r.Y);
    fe_mul(&acc.X, &r.X, &r.Z);
    fe_mul(&acc.Y, &r.Y, &r.Z);
    fe_sq(&acc.Z, &r.Z);
    ge_p3_to_cached(&cr, nR);
    ge_add_cached(&t, &acc, &cr);
    p1p1_to_p3(&acc, &t);
    return ge_is_small_order(&acc);
}

/* The IFMA functions exist only if ed25519_ifma.c was compiled with the IFMA flags
 * (x86-64 builds); weak references resolve to NULL otherwise. */
int ed25519_ifma_available(void) {
    if (!ed25519_ifma_fe_test || !ed25519_ifma_check_one || !ed25519_ifma_bucket_sum ||
        !ed25519_ifma_check8 || !ed25519_ifma_decode8 || !ed25519_ifma_init) return 0;
    return MBI_CPU_HAS(MBI_CPU_AVX512_BASE | MBI_CPU_AVX512IFMA);
}
