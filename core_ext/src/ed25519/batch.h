/* Ed25519 batch verification engine (batch.c): random linear combinations over the
 * backends of backend.h. The caller (ed25519.c) chooses the backend. Not a public API. */
#ifndef MBI_ED25519_BATCH_H
#define MBI_ED25519_BATCH_H
#include "ed25519/backend.h"

typedef struct {
    uint64_t msm_checks;     /* random-linear-combination checks run */
    uint64_t msm_failures;   /* ... of which failed (the set held an invalid item) */
    uint64_t single_checks;  /* items decided by the single-signature equation */
} ed25519_batch_stats;

double ed25519_recent_invalid_rate(void);
void ed25519_reset_invalid_rate(double r);

/* Batch-verify items [begin, end) into out[begin..end), on the IFMA kernels if `ifma`
 * (the caller checked ed25519_ifma_available), else portable. Returns -1 only if memory
 * ran out. */
int ed25519_batch_range(size_t begin, size_t end, const uint8_t *pks,
                        const uint8_t *const *msgs, const size_t *lens, const uint8_t *sigs,
                        uint8_t *out, int ifma, ed25519_batch_stats *stats);
#endif
