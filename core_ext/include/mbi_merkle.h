/* RFC 6962 Merkle trees over 32-byte entries: leaf = SHA-256(0x00 || entry),
 * node = SHA-256(0x01 || left || right).
 *
 * Trees are computed bottom-up, level by level: level 0 holds the leaf hashes; node j of
 * level l+1 is H(0x01 || level_l[2j] || level_l[2j+1]), or level_l[2j] carried up unchanged
 * when it has no right sibling. Node j of level l is then exactly RFC 6962's MTH over
 * entries [j * 2^l, min((j + 1) * 2^l, n)), and the single node of the top level is the
 * root. Hashes are always batched: a level (or the dirty nodes of a level) is packed into
 * pre-padded blocks and sent through mbi_sha256_padded_many, never one call per node.
 *
 * `im` is the SHA-256 backend (NULL = current). Nothing here touches Python. */
#ifndef MBI_MERKLE_H
#define MBI_MERKLE_H
#include <stddef.h>
#include <stdint.h>

#include "mbi_sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MBI_MERKLE_MAX_LEVELS 64

/* out[i] = leaf hash of entries[i]; out may alias entries. */
void mbi_merkle_leaves(const mbi_sha256_impl *im, const uint8_t *entries, size_t n, uint8_t *out,
                       int threads);
/* One level up: n_in nodes -> (n_in + 1) / 2 parents. out may equal in when threads == 1. */
void mbi_merkle_level(const mbi_sha256_impl *im, const uint8_t *in, size_t n_in, uint8_t *out,
                      int threads);
/* Parents idx[0..k) (any order, no duplicates) of a level of n_in nodes, written to
 * out_level[idx[q]]. */
void mbi_merkle_nodes_at(const mbi_sha256_impl *im, const uint8_t *in, size_t n_in,
                         const uint64_t *idx, size_t k, uint8_t *out_level, int threads);
/* RFC 6962 root of n entries (n == 0: SHA-256 of the empty string). 0, or -1 when out of
 * memory. Identical for every thread count. */
int mbi_merkle_root(const mbi_sha256_impl *im, const uint8_t *entries, size_t n, int threads,
                    uint8_t out[32]);

/* Proof sizes for well-formed arguments (index < size; 0 < m <= n). */
size_t mbi_merkle_inclusion_len(uint64_t index, uint64_t size);
size_t mbi_merkle_consistency_len(uint64_t m, uint64_t n);

/* ---- incremental tree: every level stored, changes rehash only their paths ---- */
typedef struct {
    uint64_t n;                            /* leaves */
    int nlev;                              /* levels stored: 0 if n == 0, else 1 + ceil(log2 n) */
    uint8_t *lv[MBI_MERKLE_MAX_LEVELS];    /* lv[l]: ceil(n / 2^l) nodes of 32 bytes */
    uint64_t cap[MBI_MERKLE_MAX_LEVELS];   /* capacity of lv[l], in nodes */
} mbi_mtree;

void mbi_mtree_init(mbi_mtree *t);
void mbi_mtree_free(mbi_mtree *t);
/* Append m entries. 0, or -1 when out of memory (the tree is then unchanged). */
int mbi_mtree_append(mbi_mtree *t, const mbi_sha256_impl *im, const uint8_t *entries, size_t m,
                     int threads);
/* Set entries idx[q] = entries[q] (idx all < n; a repeated index takes its last entry).
 * 0, or -1 when out of memory (the tree is then unchanged). */
int mbi_mtree_update(mbi_mtree *t, const mbi_sha256_impl *im, const uint64_t *idx,
                     const uint8_t *entries, size_t k, int threads);
void mbi_mtree_root(const mbi_mtree *t, uint8_t out[32]);
/* RFC 6962 audit path for leaf `index` < n, leaf level first; returns its length. */
size_t mbi_mtree_inclusion(const mbi_mtree *t, uint64_t index, uint8_t *out);
/* RFC 6962 consistency proof from the first m leaves (0 < m <= n) to the whole tree, as
 * if the tree had only been appended to; returns its length. */
size_t mbi_mtree_consistency(const mbi_mtree *t, uint64_t m, uint8_t *out);
/* MTH over leaves [s, e) when that range is a node of the tree (as every range an RFC
 * 6962 proof uses is); NULL otherwise. */
const uint8_t *mbi_mtree_node(const mbi_mtree *t, uint64_t s, uint64_t e);

#ifdef __cplusplus
}
#endif
#endif
