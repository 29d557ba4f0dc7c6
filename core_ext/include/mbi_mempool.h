// Bounded transaction pool ordered by gas_price across senders and by nonce within each.
// C++17; used only by core_ext/mempool.pyx. Semantics: docs/mempool.md.
//
// Layout (all indices are uint32 into flat arrays, no per-transaction heap objects):
//   txs_      arena of Tx records (free list); ring_ lists them in arrival order (expiry);
//   q_        each sender's queue: (nonce, tx, index tag) in nonce order, one contiguous
//             block per sender (size classes 4, 8, 16, ... entries, with free lists), so
//             walking a sender's queue reads one or two cache lines instead of chasing
//             links, and a commit finds index slots from the tags without the records;
//   tx_index_ open-addressing table hash -> Tx slot (linear probing, backward-shift delete,
//             keyed with a per-pool random seed so crafted hashes cannot pile up);
//   senders_  sender records (executed nonce, queue block, end of the ready run), found
//             through a second open-addressing table keyed by the caller's uint64 id;
//   ready_    each sender's ready head, sorted in block order, pointing into its queue
//             block (select follows the run there); updated in batches: senders whose
//             head changed are merged in at once, by add_batch past 1/8 or by select;
//   tails_    indexed 4-ary min-heap of each sender's last transaction (eviction order),
//             also brought up to date lazily, when an eviction needs it.
// Not thread-safe by itself: the Cython wrapper serialises every call with `mtx`.
#ifndef MBI_MEMPOOL_H
#define MBI_MEMPOOL_H

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace mbi_mempool {

// Allocator for the big randomly-accessed arrays: 2 MiB-aligned blocks marked for
// transparent huge pages, so that a random access costs one cache miss rather than a
// cache miss plus a page-table walk (with 4 KiB pages a 1M-entry pool's arena spans
// ~20k pages, far more than the TLB holds). Small arrays use the ordinary heap.
template <class T>
struct HugeAlloc {
    using value_type = T;
    static constexpr size_t HUGE = size_t(1) << 21;
    HugeAlloc() = default;
    template <class U>
    HugeAlloc(const HugeAlloc<U>&) {}
    T* allocate(size_t n) {
        size_t bytes = n * sizeof(T);
        if (bytes < HUGE) return static_cast<T*>(::operator new(bytes));
        size_t rounded = (bytes + HUGE - 1) & ~(HUGE - 1);
        void* p = std::aligned_alloc(HUGE, rounded);
        if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        madvise(p, rounded, MADV_HUGEPAGE);  // advisory: ignored where THP is off
#endif
        return static_cast<T*>(p);
    }
    void deallocate(T* p, size_t n) {
        if (n * sizeof(T) < HUGE)
            ::operator delete(p);
        else
            std::free(p);
    }
    template <class U>
    bool operator==(const HugeAlloc<U>&) const { return true; }
    template <class U>
    bool operator!=(const HugeAlloc<U>&) const { return false; }
};

template <class T>
using BigVec = std::vector<T, HugeAlloc<T>>;

// AddResult codes (int8). Keep in sync with core_ext/mempool.pyx and docs/mempool.md.
enum : int8_t {
    ACCEPTED = 0,
    REPLACED = 1,
    DUPLICATE = 2,
    UNDERPRICED = 3,
    NONCE_TOO_LOW = 4,
    NONCE_TOO_HIGH = 5,
    SENDER_FULL = 6,
    POOL_FULL = 7,
};

static const uint32_t NIL = 0xFFFFFFFFu;

struct Tx {
    uint8_t hash[32];
    int64_t nonce;
    int64_t price;
    double arrival;
    uint32_t size;
    uint32_t sidx;  // index into senders_
};

// One entry of a sender's queue (the queue block is sorted by nonce).
struct QEnt {
    int64_t nonce;
    uint32_t txid;
    uint32_t tag;  // the tx's hash-index tag: commits find its slot without the record
};

enum : uint32_t { F_LIVE = 1, F_RDIRTY = 2, F_TDIRTY = 4 };

struct Sender {
    uint64_t id;
    int64_t exec;       // executed nonce
    int64_t ready_end;  // last nonce of the contiguous run exec+1.. (== exec if none)
    uint32_t q;         // offset of the queue block in q_ (NIL when count == 0)
    uint32_t qcls;      // the block holds 4 << qcls entries
    uint32_t count;     // entries in the queue
    uint32_t tpos;      // position in tails_ (NIL if absent)
    uint32_t flags;     // F_*: live record; ready_/tails_ entry must be recomputed
};

// Sort key inline, so ordering touches only the array holding the nodes.
struct Node {
    int64_t price;
    double arrival;
    uint64_t hpre;  // first 8 hash bytes, big-endian: orders like the bytes
    uint32_t sidx;
    uint32_t txid;
    uint32_t ready;  // tails_: tail is in the ready run; ready_/select: end of the queue block
    uint32_t aux;    // ready_ and select: offset in q_ of this entry; find_victims: heap
                     // position it came from, NIL for a chain step
};

struct SortKey {
    uint64_t k;
    uint32_t idx;
};

struct ArrivalEntry {
    uint32_t txid;
    uint32_t gen;
};

struct Slot {
    uint32_t id;
    uint32_t tag;
};

struct Stats {
    int64_t count, bytes, senders, known_senders, ready;
    int64_t accepted, replaced, rejected, evicted, expired, removed, committed;
    int64_t memory_bytes;
};

class Pool {
public:
    Pool(int64_t capacity, int64_t capacity_bytes, int64_t per_sender_limit,
         int64_t max_nonce_gap, double ttl, int64_t bump_bps, uint64_t seed);

    // Admit n transactions in order; out[i] receives the AddResult code.
    void add_batch(const uint8_t* hashes, const uint64_t* senders, const int64_t* nonces,
                   const int64_t* prices, const int64_t* sizes, int64_t n, double now,
                   int8_t* out);
    // Set executed nonces (monotonic: never lower one, as after a committed block).
    void set_nonces(const uint64_t* senders, const int64_t* nonces, int64_t n, bool monotonic);
    // Write up to max_txs hashes (32 bytes each) in block order; returns how many.
    // Not const: brings the ready array up to date first (no observable change).
    int64_t select(int64_t max_txs, int64_t max_bytes, uint8_t* out);
    int64_t remove(const uint8_t* hashes, int64_t n);
    int64_t expire(double now);
    bool contains(const uint8_t* hash) const;
    // Fields of one pooled transaction; false if absent.
    bool get(const uint8_t* hash, uint64_t* sender, int64_t* nonce, int64_t* price,
             int64_t* size, double* arrival) const;
    int64_t pending_count(uint64_t sender) const;
    int64_t pending(uint64_t sender, uint8_t* out, int64_t* nonces_out) const;
    int64_t executed_nonce(uint64_t sender) const;
    int64_t size() const { return count_; }
    int64_t bytes() const { return bytes_; }
    Stats stats() const;
    // Structural self-check for tests; returns an empty string when consistent.
    const char* check();

    std::mutex mtx;

private:
    // configuration
    int64_t cap_, cap_bytes_, per_sender_, max_gap_, bump_bps_;
    double ttl_;
    uint64_t seed0_, seed1_, seed2_;

    // state
    BigVec<Tx> txs_;
    // Per arena slot, bumped when its tx is freed or replaced: stale arrival entries
    // mismatch. Apart from the records, so arrival bookkeeping does not wait for them.
    BigVec<uint32_t> gen_;
    std::vector<uint32_t> free_tx_;
    BigVec<QEnt> q_;
    std::vector<uint32_t> qfree_[32];  // free queue blocks per size class
    BigVec<Slot> tx_index_;
    uint64_t tx_mask_;
    BigVec<Sender> senders_;
    std::vector<uint32_t> free_sender_;
    BigVec<Slot> sender_index_;
    uint64_t sender_mask_;
    int64_t nsenders_ = 0;  // live sender records
    // Senders' next ready transactions, sorted in block order; senders changed since the
    // last select are flagged F_RDIRTY and merged in as one batch by flush_ready().
    BigVec<Node> ready_;
    std::vector<uint32_t> rdirty_;
    std::vector<uint8_t> rdirty_bit_;  // per sender index: compact copy of F_RDIRTY
    // Indexed 4-ary min-heap of senders' tails in eviction order, flushed before use.
    BigVec<Node> tails_;
    std::vector<uint32_t> tdirty_;
    // Arrival order for expiry (arrivals never decrease): lazily skipped when stale.
    std::vector<ArrivalEntry> ring_;
    size_t ring_head_ = 0;
    int64_t count_ = 0, bytes_ = 0;
    double last_arrival_ = -1.0e308;
    // counters
    int64_t n_accepted_ = 0, n_replaced_ = 0, n_rejected_ = 0, n_evicted_ = 0;
    int64_t n_expired_ = 0, n_removed_ = 0, n_committed_ = 0;
    // scratch
    std::vector<uint32_t> victims_;
    std::vector<Node> scratch_;
    BigVec<Node> fresh_, merged_;
    BigVec<SortKey> keys_, keys_tmp_;

    int8_t add_one(const uint8_t* hash, uint64_t sid, int64_t nonce, int64_t price,
                   uint32_t size, double arrival);
    // hash index
    uint32_t tx_tag(const uint8_t* h) const;
    uint32_t tx_find(const uint8_t* h) const;
    void tx_index_grow();
    uint32_t tx_index_insert(uint32_t id);  // returns the tag
    void tx_index_erase(const uint8_t* h);
    void tx_index_erase_id(uint32_t tag, uint32_t id);
    void tx_index_erase_at(uint64_t slot);
    // sender index
    uint32_t sender_tag(uint64_t id) const;
    uint32_t sender_find(uint64_t id) const;
    uint32_t sender_peek(uint64_t id) const;
    uint32_t sender_create(uint64_t id);
    void sender_drop(uint32_t si);
    void sender_index_grow();
    // transactions
    uint32_t tx_alloc();
    void unlink_raw(uint32_t id);  // out of queue/index/counters; caller marks sender
    void release_tx(uint32_t id, uint32_t tag);  // out of index/counters/arena, not queue
    uint32_t q_alloc(uint32_t cls);
    void q_release(Sender& s);     // frees the block of an emptied queue
    bool q_reserve(uint32_t si, uint32_t need);
    void q_seal(const Sender& s);
    uint32_t q_find(const Sender& s, int64_t nonce) const;  // first entry >= nonce
    void arrival_push(uint32_t id);
    void ring_compact();
    void recompute_ready(Sender& s);
    void mark(uint32_t si);  // sender changed: its ready_/tails_ entries are stale
    void mark_tail(uint32_t si);  // only its tails_ entry is stale
    void maybe_drop(uint32_t si);
    void set_nonce(uint32_t si, int64_t nonce, bool monotonic);
    // ordering
    Node make_node(uint32_t txid, uint32_t si, bool ready) const;
    Node ready_node(uint32_t si) const;
    bool hash_less(const Node& a, const Node& b) const;
    bool ready_before(const Node& a, const Node& b) const;
    bool tail_before(const Node& a, const Node& b) const;
    void flush_ready();
    void sort_block_order(BigVec<Node>& v);
    void flush_tails();
    void tails_set(uint32_t si, const Node* node);  // insert/update/erase (node==nullptr)
    void tails_place(uint32_t pos, const Node& n);
    void sift_up(uint32_t pos);
    void sift_down(uint32_t pos);
    bool find_victims(uint32_t si, int64_t nonce, int64_t price, bool t_ready,
                      int64_t need_count, int64_t need_bytes, int8_t* fail);
};

}  // namespace mbi_mempool

#endif
