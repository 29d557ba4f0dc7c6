// Implementation of mbi_mempool::Pool; see core_ext/include/mbi_mempool.h and docs/mempool.md.
// System headers first, with their default visibility.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

// Only core_ext/mempool.pyx calls this class, from the same shared object: hidden
// visibility lets the compiler inline members and call them directly (no PLT).
#pragma GCC visibility push(hidden)
#include "mbi_mempool.h"

#include <algorithm>

namespace mbi_mempool {

namespace {

constexpr uint32_t ARITY = 4;
constexpr uint64_t PRESIZE = uint64_t(1) << 20;  // entries the tables are sized for up front
constexpr size_t FLUSH_MIN = 4096;  // add_batch merges changed senders past this many
constexpr size_t PF_FAR = 32, PF_NEAR = 12;  // select's prefetch distances
// add_batch's prefetch distances: index slots, sender record, queue block, arena slot
constexpr int64_t AB_FAR = 24, AB_MID = 12, AB_NEAR = 6;
constexpr size_t AB_FREE = 8;

inline uint64_t load64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

inline uint64_t load_be64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

inline uint32_t fold(unsigned __int128 m) {
    uint64_t x = static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
    return static_cast<uint32_t>(x ^ (x >> 32));
}

inline uint64_t next_pow2(uint64_t x) {
    uint64_t p = 16;
    while (p < x) p <<= 1;
    return p;
}

inline bool same_node(const Node& a, const Node& b) {
    return a.txid == b.txid && a.price == b.price && a.arrival == b.arrival &&
           a.hpre == b.hpre && a.ready == b.ready;
}

}  // namespace

Pool::Pool(int64_t capacity, int64_t capacity_bytes, int64_t per_sender_limit,
           int64_t max_nonce_gap, double ttl, int64_t bump_bps, uint64_t seed)
    : cap_(capacity),
      cap_bytes_(capacity_bytes),
      per_sender_(per_sender_limit),
      max_gap_(max_nonce_gap),
      bump_bps_(bump_bps),
      ttl_(ttl) {
    // splitmix64 expands the seed into independent keys for the two hash tables.
    uint64_t z = seed;
    auto next = [&z]() {
        z += 0x9E3779B97F4A7C15ull;
        uint64_t x = z;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        return x ^ (x >> 31);
    };
    seed0_ = next() | 1;
    seed1_ = next() | 1;
    seed2_ = next() | 1;
    // Sized up front for up to PRESIZE entries (reserving the arena does not touch its
    // pages; the hash table is written once); a larger pool grows as it fills, so that
    // capacity=2**30 does not claim ~100 GiB before its first transaction.
    uint64_t pre = std::min<uint64_t>(static_cast<uint64_t>(cap_), PRESIZE);
    txs_.reserve(static_cast<size_t>(pre));
    gen_.reserve(static_cast<size_t>(pre));
    uint64_t tsize = next_pow2(pre * 2);
    tx_index_.assign(tsize, Slot{NIL, 0});
    tx_mask_ = tsize - 1;
    sender_index_.assign(16, Slot{NIL, 0});
    sender_mask_ = 15;
}

// The members, by concern (each part says what it holds):
#include "pool_index.inc"
#include "pool_order.inc"
#include "pool_admit.inc"
#include "pool_query.inc"

}  // namespace mbi_mempool

#pragma GCC visibility pop
