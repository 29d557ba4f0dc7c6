/* Batch verification. */
#include <stdlib.h>
#include "ed25519/ed25519_internal.h"

int ed25519_batch_range(size_t begin, size_t end, const uint8_t *pks,
                        const uint8_t *const *msgs, const size_t *lens, const uint8_t *sigs,
                        uint8_t *out) {
    for (size_t i = begin; i < end; i++) {
        ed25519_item it;
        out[i] = (uint8_t)(ed25519_prepare(&it, pks + 32 * i, msgs[i], lens[i], sigs + 64 * i) &&
                           ed25519_check_one(&it.nA, &it.nR, it.k, it.s));
    }
    return 0;
}
