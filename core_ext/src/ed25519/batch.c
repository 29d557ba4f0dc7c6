/* Batch verification by random linear combination.
 *
 * For items i with decoded -A_i, -R_i, k_i, S_i and independent uniform 128-bit z_i from
 * the OS CSPRNG, the batch holds iff
 *     [8]( [sum z_i S_i] B + sum [z_i] (-R_i) + sum [z_i k_i] (-A_i) ) = O.
 * Why this keeps batch == single under ZIP-215: [8] maps every term into the prime-order
 * subgroup, where reducing z_i k_i and sum z_i S_i mod l changes nothing, so the batch
 * sum equals sum z_i [8](S_i B - R_i - k_i A_i). If every item is valid each of those
 * terms is O and the batch passes, always (no torsion component can survive, which is
 * what breaks cofactorless batch verification). If some item is invalid its term is a
 * non-zero point of order l and the sum is O with probability <= 2^-128 over z.
 *
 * A failing set is split and its parts re-checked (with the same decoded points and
 * coefficients); a single item is decided by the single-signature check, so an invalid
 * item is only ever reported by the exact single rule. */
#include <stdlib.h>
#include <string.h>

#include "ed25519/ed25519_internal.h"

typedef struct {
    ed25519_item it;
    ge_precomp pA, pR;   /* -A, -R in mixed-addition form */
    uint64_t z[4];       /* 128-bit coefficient */
    uint64_t zk[4];      /* z k mod l */
    uint64_t zs[4];      /* z S mod l */
    size_t out;          /* index into the caller's result array */
} bitem;

typedef struct {
    bitem *items;
    int8_t (*naf)[2][257];  /* lazily computed wNAF of z (R) and z k (A) */
    uint8_t *has_naf;
    uint8_t *out;
    ed25519_batch_stats *stats;
} bctx;

/* tuning */
#define STRAUS_MAX 96      /* sets up to this size use Straus, larger use Pippenger */
#define SPLIT_CHUNK 64     /* a failing large set is split into parts of about this size */
#define NAF_W 5
#define NAF_TAB (1 << (NAF_W - 2))

static void sc_add_mod_l(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t x[8] = {0};
    mbi_u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (mbi_u128)a[i] + b[i];
        x[i] = (uint64_t)c;
        c >>= 64;
    }
    x[4] = (uint64_t)c;
    sc_reduce_wide(r, x);
}

/* ------------------------------------------------------------------ Straus */

static void ensure_naf(bctx *c, uint32_t id) {
    if (c->has_naf[id]) return;
    sc_wnaf(c->naf[id][0], c->items[id].z, NAF_W);
    sc_wnaf(c->naf[id][1], c->items[id].zk, NAF_W);
    c->has_naf[id] = 1;
}

static inline void add_digit_cached(ge_p1p1 *t, ge_p3 *r3, const ge_cached *tab, int d) {
    if (d > 0) ge_add_cached(t, r3, &tab[d >> 1]);
    else ge_sub_cached(t, r3, &tab[(-d) >> 1]);
}

/* Returns 1 if the combination over ids is [8]-torsion, 0 if not, -1 on no memory. */
static int straus_check(bctx *c, const uint32_t *ids, size_t m) {
    ge_cached *tab = (ge_cached *)malloc(m * 2 * NAF_TAB * sizeof(ge_cached));
    if (!tab) return -1;
    uint64_t b[4] = {0, 0, 0, 0};
    int top = -1;
    for (size_t j = 0; j < m; j++) {
        bitem *it = &c->items[ids[j]];
        ensure_naf(c, ids[j]);
        ge_odd_multiples_cached(tab + (2 * j) * NAF_TAB, NAF_TAB, &it->it.nR);
        ge_odd_multiples_cached(tab + (2 * j + 1) * NAF_TAB, NAF_TAB, &it->it.nA);
        sc_add_mod_l(b, b, it->zs);
        for (int i = 256; i > top; i--)
            if (c->naf[ids[j]][0][i] || c->naf[ids[j]][1][i]) { top = i; break; }
    }
    int8_t bn[257];
    sc_wnaf(bn, b, 8);
    for (int i = 256; i > top; i--)
        if (bn[i]) { top = i; break; }
    const ge_precomp *btab = ed25519_base_odd_table();

    ge_p3 r3;
    ge_p2 r;
    ge_p1p1 t;
    ge_identity(&r3);
    r.X = r3.X; r.Y = r3.Y; r.Z = r3.Z;
    for (int i = top; i >= 0; i--) {
        ge_dbl(&t, &r);
        for (size_t j = 0; j < m; j++) {
            const int8_t *nr = c->naf[ids[j]][0], *na = c->naf[ids[j]][1];
            if (nr[i]) {
                p1p1_to_p3(&r3, &t);
                add_digit_cached(&t, &r3, tab + (2 * j) * NAF_TAB, nr[i]);
            }
            if (na[i]) {
                p1p1_to_p3(&r3, &t);
                add_digit_cached(&t, &r3, tab + (2 * j + 1) * NAF_TAB, na[i]);
            }
        }
        if (bn[i]) {
            p1p1_to_p3(&r3, &t);
            if (bn[i] > 0) ge_add_precomp(&t, &r3, &btab[bn[i] >> 1]);
            else ge_sub_precomp(&t, &r3, &btab[(-bn[i]) >> 1]);
        }
        if (i > 0) p1p1_to_p2(&r, &t);
        else p1p1_to_p3(&r3, &t);
    }
    free(tab);
    return ge_is_small_order(&r3);
}

/* ------------------------------------------------------------------ Pippenger */

/* Signed radix-2^w digits of s < 2^253: nwin digits in [-2^(w-1), 2^(w-1)]. */
static void sc_signed_digits(int16_t *d, const uint64_t s[4], int w, int nwin) {
    int carry = 0;
    const int full = 1 << w, half = 1 << (w - 1);
    for (int i = 0; i < nwin; i++) {
        int pos = i * w, limb = pos >> 6, off = pos & 63;
        uint64_t v = 0;
        if (limb < 4) {
            v = s[limb] >> off;
            if (off + w > 64 && limb + 1 < 4) v |= s[limb + 1] << (64 - off);
        }
        int raw = (int)(v & (uint64_t)(full - 1)) + carry;
        if (raw > half) { d[i] = (int16_t)(raw - full); carry = 1; }
        else { d[i] = (int16_t)raw; carry = 0; }
    }
}

static int pippenger_window(size_t npts) {
    /* additions ~ nwin * (1.5 n + 2^w): R scalars are 128-bit, so count points as 1.5 */
    int best = 4;
    double best_cost = 1e300;
    for (int w = 4; w <= 14; w++) {
        double nwin = 253 / w + 1;
        double cost = nwin * (0.75 * (double)npts + (double)(1 << w)) * 1.0;
        if (cost < best_cost) { best_cost = cost; best = w; }
    }
    return best;
}

static int pippenger_check(bctx *c, const uint32_t *ids, size_t m) {
    size_t npts = 2 * m + 1;
    int w = pippenger_window(npts);
    int nwin = 253 / w + 1;
    size_t nb = (size_t)1 << (w - 1);
    int16_t *dig = (int16_t *)malloc(npts * (size_t)nwin * sizeof(int16_t));
    const ge_precomp **pts = (const ge_precomp **)malloc(npts * sizeof(*pts));
    ge_p3 *bucket = (ge_p3 *)malloc(nb * sizeof(ge_p3));
    uint8_t *used = (uint8_t *)malloc(nb);
    if (!dig || !pts || !bucket || !used) {
        free(dig); free(pts); free(bucket); free(used);
        return -1;
    }
    uint64_t b[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < m; j++) {
        bitem *it = &c->items[ids[j]];
        pts[2 * j] = &it->pR;
        sc_signed_digits(dig + (2 * j) * (size_t)nwin, it->z, w, nwin);
        pts[2 * j + 1] = &it->pA;
        sc_signed_digits(dig + (2 * j + 1) * (size_t)nwin, it->zk, w, nwin);
        sc_add_mod_l(b, b, it->zs);
    }
    pts[2 * m] = &ed25519_base_odd_table()[0];
    sc_signed_digits(dig + (2 * m) * (size_t)nwin, b, w, nwin);

    ge_p3 acc;
    ge_identity(&acc);
    ge_p1p1 t;
    for (int win = nwin - 1; win >= 0; win--) {
        if (win != nwin - 1) {
            ge_p2 r2;
            r2.X = acc.X; r2.Y = acc.Y; r2.Z = acc.Z;
            for (int k = 0; k < w; k++) {
                ge_dbl(&t, &r2);
                if (k + 1 < w) p1p1_to_p2(&r2, &t);
            }
            p1p1_to_p3(&acc, &t);
        }
        memset(used, 0, nb);
        for (size_t j = 0; j < npts; j++) {
            int d = dig[j * (size_t)nwin + win];
            if (!d) continue;
            size_t bi = (size_t)(d > 0 ? d : -d) - 1;
            if (!used[bi]) {
                ge_p3 id;
                ge_identity(&id);
                if (d > 0) ge_add_precomp(&t, &id, pts[j]);
                else ge_sub_precomp(&t, &id, pts[j]);
                used[bi] = 1;
            } else if (d > 0) {
                ge_add_precomp(&t, &bucket[bi], pts[j]);
            } else {
                ge_sub_precomp(&t, &bucket[bi], pts[j]);
            }
            p1p1_to_p3(&bucket[bi], &t);
        }
        /* sum_k k * bucket[k-1] by running sums, top bucket first */
        ge_p3 running, sum;
        int have_run = 0, have_sum = 0;
        for (size_t k = nb; k-- > 0;) {
            if (used[k]) {
                if (have_run) ge_add_p3(&running, &running, &bucket[k]);
                else { running = bucket[k]; have_run = 1; }
            }
            if (have_run) {
                if (have_sum) ge_add_p3(&sum, &sum, &running);
                else { sum = running; have_sum = 1; }
            }
        }
        if (have_sum) ge_add_p3(&acc, &acc, &sum);
    }
    free(dig); free(pts); free(bucket); free(used);
    return ge_is_small_order(&acc);
}

/* ------------------------------------------------------------------ locate */

static int set_check(bctx *c, const uint32_t *ids, size_t m) {
    c->stats->msm_checks++;
    int r = m <= STRAUS_MAX ? straus_check(c, ids, m) : pippenger_check(c, ids, m);
    if (r == 0) c->stats->msm_failures++;
    return r;
}

/* Decide every item of ids[0..m). `failed` says the set is already known to fail. */
static int locate(bctx *c, const uint32_t *ids, size_t m, int failed) {
    if (m == 1) {
        bitem *it = &c->items[ids[0]];
        c->stats->single_checks++;
        c->out[it->out] = (uint8_t)ed25519_check_one(&it->it.nA, &it->it.nR, it->it.k, it->it.s);
        return 0;
    }
    if (!failed) {
        int r = set_check(c, ids, m);
        if (r < 0) return -1;
        if (r == 1) {
            for (size_t j = 0; j < m; j++) c->out[c->items[ids[j]].out] = 1;
            return 0;
        }
    }
    /* Split a failing set. Large sets go straight to ~SPLIT_CHUNK-sized parts: one
     * round of small checks costs about as much as one halving level but localises
     * many bad items at once (an attacker's 1% must not make us slower than singles). */
    size_t parts = m > 2 * SPLIT_CHUNK ? (m + SPLIT_CHUNK - 1) / SPLIT_CHUNK : 2;
    size_t pos = 0;
    for (size_t p = 0; p < parts; p++) {
        size_t len = m / parts + (p < m % parts ? 1 : 0);
        if (locate(c, ids + pos, len, 0) < 0) return -1;
        pos += len;
    }
    return 0;
}

/* ------------------------------------------------------------------ entry */

static void singles(size_t begin, size_t end, const uint8_t *pks, const uint8_t *const *msgs,
                    const size_t *lens, const uint8_t *sigs, uint8_t *out,
                    ed25519_batch_stats *st) {
    for (size_t i = begin; i < end; i++) {
        ed25519_item it;
        st->single_checks++;
        out[i] = (uint8_t)(ed25519_prepare(&it, pks + 32 * i, msgs[i], lens[i], sigs + 64 * i) &&
                           ed25519_check_one(&it.nA, &it.nR, it.k, it.s));
    }
}

int ed25519_batch_range(size_t begin, size_t end, const uint8_t *pks,
                        const uint8_t *const *msgs, const size_t *lens, const uint8_t *sigs,
                        uint8_t *out, ed25519_batch_stats *st) {
    size_t n = end - begin;
    if (n < 2) {
        singles(begin, end, pks, msgs, lens, sigs, out, st);
        return 0;
    }
    bctx c;
    memset(&c, 0, sizeof c);
    c.items = (bitem *)malloc(n * sizeof(bitem));
    uint32_t *ids = (uint32_t *)malloc(n * sizeof(uint32_t));
    uint8_t *rnd = (uint8_t *)malloc(16 * n);
    c.naf = malloc(n * sizeof(*c.naf));
    c.has_naf = (uint8_t *)calloc(n, 1);
    c.out = out;
    c.stats = st;
    int rc = 0;
    if (!c.items || !ids || !rnd || !c.naf || !c.has_naf) { rc = -1; goto done; }
    if (ed25519_os_random(rnd, 16 * n) != 0) {
        /* no CSPRNG: one-by-one verification is slower but needs no randomness */
        singles(begin, end, pks, msgs, lens, sigs, out, st);
        goto done;
    }
    size_t m = 0;
    for (size_t i = begin; i < end; i++) {
        bitem *it = &c.items[m];
        if (!ed25519_prepare(&it->it, pks + 32 * i, msgs[i], lens[i], sigs + 64 * i)) {
            out[i] = 0;  /* S >= l or A/R not decodable: invalid by the format rules alone */
            continue;
        }
        it->out = i;
        it->z[0] = it->z[1] = it->z[2] = it->z[3] = 0;
        for (int j = 7; j >= 0; j--) {
            it->z[0] = (it->z[0] << 8) | rnd[16 * m + j];
            it->z[1] = (it->z[1] << 8) | rnd[16 * m + 8 + j];
        }
        if (!(it->z[0] | it->z[1])) it->z[0] = 1; /* z = 0 would drop the item */
        sc_mul(it->zk, it->z, it->it.k);
        sc_mul(it->zs, it->z, it->it.s);
        ge_affine_to_precomp(&it->pA, &it->it.nA);
        ge_affine_to_precomp(&it->pR, &it->it.nR);
        ids[m] = (uint32_t)m;
        m++;
    }
    if (m > 0 && locate(&c, ids, m, 0) < 0) rc = -1;
done:
    free(c.items); free(ids); free(rnd); free(c.naf); free(c.has_naf);
    return rc;
}
