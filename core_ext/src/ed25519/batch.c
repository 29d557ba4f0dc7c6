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
 * coefficients, see resolve()); an item is only ever reported invalid by the exact
 * single-signature check. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "ed25519/batch.h"
#include "ed25519/keycache.h"

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
    int ifma;               /* AVX-512 IFMA backend selected */
} bctx;

/* Recent fraction of invalid items (fixed point, RATE_ONE = 1), shared by all calls. */
#define RATE_ONE ((double)(1u << 24))
static _Atomic uint64_t g_bad_rate = 0;

double ed25519_recent_invalid_rate(void) {
    return (double)atomic_load_explicit(&g_bad_rate, memory_order_relaxed) / RATE_ONE;
}

void ed25519_reset_invalid_rate(double r) {
    atomic_store_explicit(&g_bad_rate, (uint64_t)(r * RATE_ONE), memory_order_relaxed);
}

/* tuning */
#ifndef STRAUS_MAX
#define STRAUS_MAX 96      /* sets up to this size use Straus, larger use Pippenger */
#endif
#ifndef FANOUT
#define FANOUT 16          /* a failing set of >= 16*FANOUT items is split this many ways */
#endif
#ifndef IFMA_LANES_MAX
#define IFMA_LANES_MAX 8   /* with IFMA, sets up to this size are checked 8 lanes at a time */
#endif
#ifndef IFMA_STRAUS_MAX
#define IFMA_STRAUS_MAX 384 /* with IFMA, sets up to this size use the 8-lane Straus */
#endif
#ifndef IFMA_RESOLVE_LANES
#define IFMA_RESOLVE_LANES 64 /* with IFMA, a failing set this small gets exact lane checks */
#endif
#ifndef LEAF_SINGLES
#define LEAF_SINGLES 4     /* a failing set this small is decided item by item */
#endif
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

/* sum = the combination over ids (before [8]). Returns 0, or -1 on no memory. */
static int straus_sum(bctx *c, const uint32_t *ids, size_t m, ge_p3 *sum) {
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
    if (top < 0) ge_identity(&r3);
    *sum = r3;
    return 0;
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

static int pippenger_sum(bctx *c, const uint32_t *ids, size_t m, ge_p3 *sum) {
    size_t npts = 2 * m + 1;
    int w = pippenger_window(npts);
    int nwin = 253 / w + 1;
    size_t nb = (size_t)1 << (w - 1);
    int16_t *dig = (int16_t *)malloc(npts * (size_t)nwin * sizeof(int16_t));
    const ge_precomp **pts = (const ge_precomp **)malloc(npts * sizeof(*pts));
    ge_p3 *bucket = (ge_p3 *)malloc(nb * sizeof(ge_p3));
    uint8_t *used = (uint8_t *)malloc(nb);
    uint32_t *stamp = (uint32_t *)malloc(nb * sizeof(uint32_t));
    uint32_t *defer = (uint32_t *)malloc(npts * sizeof(uint32_t));
    uint32_t gid = 0;
    if (!dig || !pts || !bucket || !used || !stamp || !defer) {
        free(dig); free(pts); free(bucket); free(used); free(stamp); free(defer);
        return -1;
    }
    memset(stamp, 0xff, nb * sizeof(uint32_t));
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
        if (c->ifma) {
            /* eight bucket additions per step; an entry whose bucket is already in the
             * current group waits for the scalar pass below */
            uint32_t gb[8];
            const ge_precomp *gp[8];
            unsigned gneg = 0;
            int gn = 0;
            size_t ndef = 0;
            for (size_t k = 0; k < nb; k++) ge_identity(&bucket[k]);
            for (size_t j = 0; j < npts; j++) {
                int d = dig[j * (size_t)nwin + win];
                if (!d) continue;
                uint32_t bi = (uint32_t)(d > 0 ? d : -d) - 1;
                if (stamp[bi] == gid) { defer[ndef++] = (uint32_t)j; continue; }
                stamp[bi] = gid;
                used[bi] = 1;
                gb[gn] = bi;
                gp[gn] = pts[j];
                if (d < 0) gneg |= 1u << gn;
                if (++gn == 8) {
                    ed25519_ifma_bucket_add8(bucket, gb, gp, gneg);
                    gn = 0; gneg = 0; gid++;
                }
            }
            gid++;
            for (int k = 0; k < gn; k++) {
                if (gneg & (1u << k)) ge_sub_precomp(&t, &bucket[gb[k]], gp[k]);
                else ge_add_precomp(&t, &bucket[gb[k]], gp[k]);
                p1p1_to_p3(&bucket[gb[k]], &t);
            }
            for (size_t q = 0; q < ndef; q++) {
                size_t j = defer[q];
                int d = dig[j * (size_t)nwin + win];
                size_t bi = (size_t)(d > 0 ? d : -d) - 1;
                if (d > 0) ge_add_precomp(&t, &bucket[bi], pts[j]);
                else ge_sub_precomp(&t, &bucket[bi], pts[j]);
                p1p1_to_p3(&bucket[bi], &t);
            }
        } else
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
        if (c->ifma) {
            ge_p3 ws;
            if (ed25519_ifma_bucket_sum(&ws, bucket, used, nb)) ge_add_p3(&acc, &acc, &ws);
            continue;
        }
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
    free(dig); free(pts); free(bucket); free(used); free(stamp); free(defer);
    *sum = acc;
    return 0;
}

/* ------------------------------------------------------------------ locate */

/* Straus in eight lanes (IFMA): lane l of slot s holds point 8 s + l. */
static int ifma_straus_sum(bctx *c, const uint32_t *ids, size_t m, ge_p3 *sum) {
    const ge_p3 **pts = (const ge_p3 **)malloc(2 * m * sizeof(*pts));
    const uint64_t **sc = (const uint64_t **)malloc(2 * m * sizeof(*sc));
    if (!pts || !sc) { free(pts); free(sc); return -1; }
    uint64_t b[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < m; j++) {
        bitem *it = &c->items[ids[j]];
        pts[j] = &it->it.nA;  sc[j] = it->zk;      /* scalars < 2^253 */
        pts[m + j] = &it->it.nR; sc[m + j] = it->z; /* scalars < 2^128 */
        sc_add_mod_l(b, b, it->zs);
    }
    int r = ed25519_ifma_msm(sum, m, m, pts, sc, b);
    free(pts); free(sc);
    return r;
}

static int set_sum(bctx *c, const uint32_t *ids, size_t m, ge_p3 *sum) {
    c->stats->msm_checks++;
    if (c->ifma && m <= IFMA_STRAUS_MAX) return ifma_straus_sum(c, ids, m, sum);
    /* with IFMA, Pippenger's bucket additions run eight at a time and beat Straus */
    if (!c->ifma && m <= STRAUS_MAX) return straus_sum(c, ids, m, sum);
    return pippenger_sum(c, ids, m, sum);
}

/* Exact single-signature checks of ids[0..m), eight lanes at a time (IFMA). */
static void lane_checks(bctx *c, const uint32_t *ids, size_t m) {
    for (size_t j = 0; j < m; j += 8) {
        const ed25519_item *its[8];
        uint8_t res[8];
        for (size_t l = 0; l < 8; l++) its[l] = &c->items[ids[j + l < m ? j + l : m - 1]].it;
        ed25519_ifma_check8(its, res);
        for (size_t l = 0; l < 8 && j + l < m; l++) c->out[c->items[ids[j + l]].out] = res[l];
    }
}

static inline size_t part_len(size_t m, size_t parts, size_t p) {
    return m / parts + (p < m % parts ? 1 : 0);
}

/* Decide every item of ids[0..m), whose combination is `sum`. The set holds iff [8]sum
 * is the identity. A failing set is split into parts; the sums of all parts but the
 * last are computed, the last one is `sum` minus the others (group arithmetic is exact,
 * so this is the same point its own multi-scalar multiplication would give), so each
 * split costs multi-scalar work for only (parts-1)/parts of the items. An item found
 * invalid is confirmed by the single-signature equation, so a reported failure is
 * always exactly the single verdict. */
static int resolve(bctx *c, const uint32_t *ids, size_t m, const ge_p3 *sum) {
    if (ge_is_small_order(sum)) {
        for (size_t j = 0; j < m; j++) c->out[c->items[ids[j]].out] = 1;
        return 0;
    }
    if (m > 1) c->stats->msm_failures++;
    if (c->ifma && m <= IFMA_RESOLVE_LANES) {
        /* Eight exact single checks at a time cost less than further splitting once a
         * small set has failed, and the same whatever the number of invalid items. */
        c->stats->single_checks += m;
        lane_checks(c, ids, m);
        return 0;
    }
    if (m <= LEAF_SINGLES) {
        for (size_t j = 0; j < m; j++) {
            bitem *it = &c->items[ids[j]];
            c->stats->single_checks++;
            c->out[it->out] = (uint8_t)ed25519_check_one(&it->it.nA, &it->it.nR, it->it.k, it->it.s);
        }
        return 0;
    }
    size_t parts = m >= 16 * FANOUT ? FANOUT : (c->ifma ? 4 : 2);
    if (parts > m) parts = m;
    ge_p3 rest = *sum, ps;
    size_t pos = 0;
    for (size_t p = 0; p + 1 < parts; p++) {
        size_t len = part_len(m, parts, p);
        if (set_sum(c, ids + pos, len, &ps) < 0) return -1;
        ge_cached cs;
        ge_p1p1 t;
        ge_p3_to_cached(&cs, &ps);
        ge_sub_cached(&t, &rest, &cs);
        p1p1_to_p3(&rest, &t);
        if (resolve(c, ids + pos, len, &ps) < 0) return -1;
        pos += len;
    }
    return resolve(c, ids + pos, m - pos, &rest);
}

/* ------------------------------------------------------------------ CSPRNG */

/* The 128-bit coefficients z_i come from the OS CSPRNG. */
static int os_random(uint8_t *buf, size_t n) {
#if defined(__linux__)
    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        buf += r; n -= (size_t)r;
    }
    if (n == 0) return 0;
#endif
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (n > 0) {
        ssize_t r = read(fd, buf, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            close(fd);
            return -1;
        }
        buf += r; n -= (size_t)r;
    }
    close(fd);
    return 0;
}

/* ------------------------------------------------------------------ entry */

static void singles(size_t begin, size_t end, const uint8_t *pks, const uint8_t *const *msgs,
                    const size_t *lens, const uint8_t *sigs, uint8_t *out, int ifma,
                    ed25519_batch_stats *st) {
    for (size_t i = begin; i < end; i++) {
        ed25519_item it;
        st->single_checks++;
        out[i] = (uint8_t)(ed25519_prepare(&it, pks + 32 * i, msgs[i], lens[i], sigs + 64 * i) &&
                           (ifma ? ed25519_ifma_check_one(&it.nA, &it.nR, it.k, it.s)
                                : ed25519_check_one(&it.nA, &it.nR, it.k, it.s)));
    }
}

int ed25519_batch_range(size_t begin, size_t end, const uint8_t *pks,
                        const uint8_t *const *msgs, const size_t *lens, const uint8_t *sigs,
                        uint8_t *out, int ifma, ed25519_batch_stats *st) {
    size_t n = end - begin;
    if (n < 2) {
        singles(begin, end, pks, msgs, lens, sigs, out, ifma, st);
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
    c.ifma = ifma;
    int rc = 0;
    if (!c.items || !ids || !rnd || !c.naf || !c.has_naf) { rc = -1; goto done; }
    if (os_random(rnd, 16 * n) != 0) {
        /* no CSPRNG: one-by-one verification is slower but needs no randomness */
        singles(begin, end, pks, msgs, lens, sigs, out, ifma, st);
        goto done;
    }
    size_t m = 0;
    for (size_t g = begin; g < end; g += 8) {
        /* decode A and R of up to eight items (eight lanes at a time with IFMA) */
        size_t gn = end - g < 8 ? end - g : 8;
        ge_p3 A[8], R[8];
        int okA[8], okR[8];
        uint64_t kk[8][4];
        if (c.ifma) {
            const uint8_t *ea[8], *er[8];
            for (size_t l = 0; l < 8; l++) {
                size_t i = g + (l < gn ? l : gn - 1);
                ea[l] = pks + 32 * i;
                er[l] = sigs + 64 * i;
            }
            ed25519_ifma_decode8(A, okA, ea);
            ed25519_ifma_decode8(R, okR, er);
            const uint8_t *em[8];
            size_t el[8];
            for (size_t l = 0; l < 8; l++) {
                size_t i = g + (l < gn ? l : gn - 1);
                em[l] = msgs[i];
                el[l] = lens[i];
            }
            ed25519_ifma_hram8(kk, er, ea, em, el);
        } else {
            for (size_t l = 0; l < gn; l++) {
                okA[l] = ge_decode_key(&A[l], pks + 32 * (g + l)) == 0;
                okR[l] = okA[l] && ge_decode_zip215(&R[l], sigs + 64 * (g + l)) == 0;
            }
        }
        for (size_t l = 0; l < gn; l++) {
            size_t i = g + l;
            bitem *it = &c.items[m];
            const uint8_t *sig = sigs + 64 * i;
            sc_from_bytes(it->it.s, sig + 32);
            if (!okA[l] || !okR[l] || !sc_is_canonical(it->it.s)) {
                out[i] = 0;  /* S >= l or A/R not decodable: invalid by the format rules alone */
                continue;
            }
            ge_neg(&it->it.nA, &A[l]);
            ge_neg(&it->it.nR, &R[l]);
            if (c.ifma) memcpy(it->it.k, kk[l], sizeof it->it.k);
            else sc_hram(it->it.k, sig, pks + 32 * i, msgs[i], lens[i]);
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
    }
    /* Expected invalid items in this set, from the recent invalid rate. When a set is
     * likely to fail, checking it whole first is wasted work: start from parts small
     * enough to pass, or from exact single checks. Only the speed depends on this
     * history; every verdict is the same either way. */
    double rate = (double)atomic_load_explicit(&g_bad_rate, memory_order_relaxed) / RATE_ONE;
    size_t part = m;
    if (rate * (double)m >= 0.5) {
        double p = 0.35 / rate;
        part = p < 1.0 ? 1 : (p >= (double)m ? m : (size_t)p);
    }
    if (m == 0) {
        /* nothing passed the format checks */
    } else if (c.ifma && part <= IFMA_LANES_MAX) {
        /* Eight exact single checks at a time beat a small multi-scalar multiplication
         * (whose doublings are shared by too few points to pay off). */
        c.stats->single_checks += m;
        lane_checks(&c, ids, m);
    } else {
        size_t nparts = (m + part - 1) / part;
        size_t pos = 0;
        for (size_t p = 0; p < nparts && rc == 0; p++) {
            size_t len = part_len(m, nparts, p);
            if (len == 1 || (part < m && len <= LEAF_SINGLES)) {
                for (size_t j = 0; j < len; j++) {
                    bitem *it = &c.items[ids[pos + j]];
                    c.stats->single_checks++;
                    out[it->out] = (uint8_t)ed25519_check_one(&it->it.nA, &it->it.nR, it->it.k, it->it.s);
                }
            } else {
                ge_p3 sum;
                if (set_sum(&c, ids + pos, len, &sum) < 0 || resolve(&c, ids + pos, len, &sum) < 0) rc = -1;
            }
            pos += len;
        }
    }
    if (rc == 0) {
        size_t bad = 0;
        for (size_t i = begin; i < end; i++) bad += !out[i];
        uint64_t old = atomic_load_explicit(&g_bad_rate, memory_order_relaxed);
        uint64_t frac = (uint64_t)((double)bad / (double)n * RATE_ONE);
        /* moving average over the last few batches (races between threads only blur it) */
        atomic_store_explicit(&g_bad_rate, old - old / 4 + frac / 4, memory_order_relaxed);
    }
done:
    free(c.items); free(ids); free(rnd); free(c.naf); free(c.has_naf);
    return rc;
}
