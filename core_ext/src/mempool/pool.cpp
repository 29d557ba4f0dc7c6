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

// ---------------------------------------------------------------- hash index

uint32_t Pool::tx_tag(const uint8_t* h) const {
    unsigned __int128 m = static_cast<unsigned __int128>(load64(h) ^ seed0_) *
                          (load64(h + 8) ^ seed1_);
    return fold(m ^ load64(h + 16) ^ (static_cast<unsigned __int128>(load64(h + 24)) << 64));
}

uint32_t Pool::tx_find(const uint8_t* h) const {
    uint32_t tag = tx_tag(h);
    for (uint64_t i = tag & tx_mask_;; i = (i + 1) & tx_mask_) {
        const Slot& s = tx_index_[i];
        if (s.id == NIL) return NIL;
        if (s.tag == tag && std::memcmp(txs_[s.id].hash, h, 32) == 0) return s.id;
    }
}

// Double the hash table (at load 1/2, as the presized table would have been).
void Pool::tx_index_grow() {
    BigVec<Slot> old;
    old.swap(tx_index_);
    uint64_t size = old.size() * 2;
    tx_index_.assign(size, Slot{NIL, 0});
    tx_mask_ = size - 1;
    for (const Slot& s : old) {
        if (s.id == NIL) continue;
        uint64_t i = s.tag & tx_mask_;
        while (tx_index_[i].id != NIL) i = (i + 1) & tx_mask_;
        tx_index_[i] = s;
    }
}

uint32_t Pool::tx_index_insert(uint32_t id) {
    if (static_cast<uint64_t>(count_ + 1) * 2 > tx_mask_ + 1) tx_index_grow();
    uint32_t tag = tx_tag(txs_[id].hash);
    uint64_t i = tag & tx_mask_;
    while (tx_index_[i].id != NIL) i = (i + 1) & tx_mask_;
    tx_index_[i] = Slot{id, tag};
    return tag;
}

void Pool::tx_index_erase(const uint8_t* h) {
    uint32_t tag = tx_tag(h);
    uint64_t i = tag & tx_mask_;
    for (;; i = (i + 1) & tx_mask_) {
        const Slot& s = tx_index_[i];
        if (s.id == NIL) return;
        if (s.tag == tag && std::memcmp(txs_[s.id].hash, h, 32) == 0) break;
    }
    tx_index_erase_at(i);
}

// The slot of a pooled tx from the tag kept in its queue entry and its id: no hashing and
// no read of the tx record (a commit drops transactions by sender, not by hash).
void Pool::tx_index_erase_id(uint32_t tag, uint32_t id) {
    uint64_t i = tag & tx_mask_;
    while (tx_index_[i].id != id) i = (i + 1) & tx_mask_;
    tx_index_erase_at(i);
}

void Pool::tx_index_erase_at(uint64_t i) {
    // Backward-shift deletion keeps probe chains intact without tombstones.
    uint64_t j = i;
    for (;;) {
        j = (j + 1) & tx_mask_;
        if (tx_index_[j].id == NIL) break;
        uint64_t k = tx_index_[j].tag & tx_mask_;
        bool stays = (j > i) ? (k > i && k <= j) : (k > i || k <= j);
        if (stays) continue;
        tx_index_[i] = tx_index_[j];
        i = j;
    }
    tx_index_[i].id = NIL;
}

uint32_t Pool::sender_tag(uint64_t id) const {
    return fold(static_cast<unsigned __int128>(id ^ seed2_) * 0x9E3779B97F4A7C15ull);
}

uint32_t Pool::sender_find(uint64_t id) const {
    uint32_t tag = sender_tag(id);
    for (uint64_t i = tag & sender_mask_;; i = (i + 1) & sender_mask_) {
        const Slot& s = sender_index_[i];
        if (s.id == NIL) return NIL;
        if (s.tag == tag && senders_[s.id].id == id) return s.id;
    }
}

// Index slot only (no record access): a likely record to prefetch, never trusted.
uint32_t Pool::sender_peek(uint64_t id) const {
    uint32_t tag = sender_tag(id);
    for (uint64_t i = tag & sender_mask_;; i = (i + 1) & sender_mask_) {
        const Slot& s = sender_index_[i];
        if (s.id == NIL || s.tag == tag) return s.id;
    }
}

void Pool::sender_index_grow() {
    BigVec<Slot> old;
    old.swap(sender_index_);
    uint64_t size = old.size() * 2;
    sender_index_.assign(size, Slot{NIL, 0});
    sender_mask_ = size - 1;
    for (const Slot& s : old) {
        if (s.id == NIL) continue;
        uint64_t i = s.tag & sender_mask_;
        while (sender_index_[i].id != NIL) i = (i + 1) & sender_mask_;
        sender_index_[i] = s;
    }
}

uint32_t Pool::sender_create(uint64_t id) {
    if (static_cast<uint64_t>(nsenders_ + 1) * 2 > sender_index_.size()) sender_index_grow();
    uint32_t si;
    if (!free_sender_.empty()) {
        si = free_sender_.back();
        free_sender_.pop_back();
    } else {
        si = static_cast<uint32_t>(senders_.size());
        senders_.push_back(Sender{});
    }
    senders_[si] = Sender{id, 0, 0, NIL, 0, 0, NIL, F_LIVE};
    if (rdirty_bit_.size() < senders_.size()) rdirty_bit_.resize(senders_.size(), 0);
    uint32_t tag = sender_tag(id);
    uint64_t i = tag & sender_mask_;
    while (sender_index_[i].id != NIL) i = (i + 1) & sender_mask_;
    sender_index_[i] = Slot{si, tag};
    nsenders_++;
    return si;
}

void Pool::sender_drop(uint32_t si) {
    uint64_t id = senders_[si].id;
    uint32_t tag = sender_tag(id);
    uint64_t i = tag & sender_mask_;
    while (!(sender_index_[i].tag == tag && sender_index_[i].id == si)) i = (i + 1) & sender_mask_;
    uint64_t j = i;
    for (;;) {
        j = (j + 1) & sender_mask_;
        if (sender_index_[j].id == NIL) break;
        uint64_t k = sender_index_[j].tag & sender_mask_;
        bool stays = (j > i) ? (k > i && k <= j) : (k > i || k <= j);
        if (stays) continue;
        sender_index_[i] = sender_index_[j];
        i = j;
    }
    sender_index_[i].id = NIL;
    senders_[si].flags = 0;
    free_sender_.push_back(si);
    nsenders_--;
}

// ---------------------------------------------------------------- transactions

uint32_t Pool::tx_alloc() {
    if (!free_tx_.empty()) {
        uint32_t id = free_tx_.back();
        free_tx_.pop_back();
        return id;
    }
    txs_.push_back(Tx{});
    gen_.push_back(0);
    return static_cast<uint32_t>(txs_.size() - 1);
}

void Pool::arrival_push(uint32_t id) { ring_.push_back(ArrivalEntry{id, gen_[id]}); }

// Drop stale entries (freed or replaced transactions) and the consumed prefix.
void Pool::ring_compact() {
    size_t w = 0;
    for (size_t r = ring_head_; r < ring_.size(); r++) {
        const ArrivalEntry& e = ring_[r];
        if (gen_[e.txid] == e.gen) ring_[w++] = e;
    }
    ring_.resize(w);
    ring_head_ = 0;
}

// Queue blocks: size classes of 4 << cls entries, each with a free list; offsets (not
// pointers) into q_, so growing q_ invalidates nothing stored.
uint32_t Pool::q_alloc(uint32_t cls) {
    std::vector<uint32_t>& fl = qfree_[cls];
    if (!fl.empty()) {
        uint32_t off = fl.back();
        fl.pop_back();
        return off;
    }
    size_t off = q_.size();
    q_.resize(off + (size_t(4) << cls));
    return static_cast<uint32_t>(off);
}

void Pool::q_release(Sender& s) {
    if (s.count == 0 && s.q != NIL) {
        qfree_[s.qcls].push_back(s.q);
        s.q = NIL;
    }
}

// Make room for `need` entries, moving the queue to a larger block if it must (then
// returns true: the sender's entry in the ready array, which points into the block, is stale).
bool Pool::q_reserve(uint32_t si, uint32_t need) {
    Sender& s = senders_[si];
    if (s.q != NIL && need <= (uint64_t(4) << s.qcls)) return false;
    uint32_t cls = s.q == NIL ? 0 : s.qcls + 1;
    while ((uint64_t(4) << cls) < need) cls++;
    uint32_t off = q_alloc(cls);
    if (s.q != NIL) {
        std::memcpy(&q_[off], &q_[s.q], s.count * sizeof(QEnt));
        qfree_[s.qcls].push_back(s.q);
    }
    s.q = off;
    s.qcls = cls;
    return true;
}

// The entry after the last one (if the block has room) gets a nonce no successor can
// have, so select can tell where a sender's run ends from the block alone.
void Pool::q_seal(const Sender& s) {
    if (s.q != NIL && s.count < (uint64_t(4) << s.qcls)) q_[s.q + s.count] = QEnt{INT64_MIN, 0, 0};
}

uint32_t Pool::q_find(const Sender& s, int64_t nonce) const {
    if (s.count == 0) return 0;
    const QEnt* e = &q_[s.q];
    return static_cast<uint32_t>(
        std::lower_bound(e, e + s.count, nonce,
                         [](const QEnt& a, int64_t n) { return a.nonce < n; }) - e);
}

void Pool::release_tx(uint32_t id, uint32_t tag) {
    Tx& t = txs_[id];
    gen_[id]++;  // its arrival entry is now stale
    tx_index_erase_id(tag, id);
    count_--;
    bytes_ -= t.size;
    free_tx_.push_back(id);
}

void Pool::unlink_raw(uint32_t id) {
    Tx& t = txs_[id];
    Sender& s = senders_[t.sidx];
    QEnt* e = &q_[s.q];
    uint32_t pos = q_find(s, t.nonce);
    uint32_t tag = e[pos].tag;
    std::memmove(e + pos, e + pos + 1, (s.count - pos - 1) * sizeof(QEnt));
    s.count--;
    q_seal(s);
    // Dropping a transaction inside the ready run leaves a gap: the ones after it wait.
    if (t.nonce > s.exec && t.nonce <= s.ready_end) s.ready_end = t.nonce - 1;
    release_tx(id, tag);
    q_release(s);
}

void Pool::recompute_ready(Sender& s) {
    int64_t re = s.exec;
    if (s.count) {
        const QEnt* e = &q_[s.q];
        for (uint32_t j = 0; j < s.count && e[j].nonce == re + 1; j++) re++;
    }
    s.ready_end = re;
}

void Pool::mark_tail(uint32_t si) {
    Sender& s = senders_[si];
    if (!(s.flags & F_TDIRTY)) {
        s.flags |= F_TDIRTY;
        tdirty_.push_back(si);
    }
}

void Pool::mark(uint32_t si) {
    Sender& s = senders_[si];
    if (!(s.flags & F_RDIRTY)) {
        s.flags |= F_RDIRTY;
        rdirty_bit_[si] = 1;
        rdirty_.push_back(si);
    }
    if (!(s.flags & F_TDIRTY)) {
        s.flags |= F_TDIRTY;
        tdirty_.push_back(si);
    }
}

// A record with executed nonce 0 and nothing pooled says nothing the default does not:
// free it once neither ordered structure refers to it any more.
void Pool::maybe_drop(uint32_t si) {
    const Sender& s = senders_[si];
    if ((s.flags & F_LIVE) && s.count == 0 && s.exec == 0 && s.tpos == NIL &&
        !(s.flags & (F_RDIRTY | F_TDIRTY)))
        sender_drop(si);
}

void Pool::set_nonce(uint32_t si, int64_t nonce, bool monotonic) {
    Sender& s = senders_[si];
    int64_t old_exec = s.exec, old_re = s.ready_end;
    s.exec = (monotonic && s.exec > nonce) ? s.exec : nonce;
    if (s.count) {
        // The entries to drop are a prefix of the queue block: count them there, start
        // fetching their hash-table slots (from the tags kept in the block) and records,
        // drop them, then close the gap in the block.
        QEnt* e = &q_[s.q];
        uint32_t k = 0;
        while (k < s.count && e[k].nonce <= s.exec) k++;
        for (uint32_t j = 2; j < k; j++) {  // (the first two were prefetched by set_nonces)
            __builtin_prefetch(&tx_index_[e[j].tag & tx_mask_]);
            __builtin_prefetch(&txs_[e[j].txid]);
        }
        for (uint32_t j = 0; j < k; j++) release_tx(e[j].txid, e[j].tag);
        if (k) {
            std::memmove(e, e + k, (s.count - k) * sizeof(QEnt));
            s.count -= k;
            q_seal(s);
            n_committed_ += k;
            q_release(s);
        }
    }
    // A commit inside the ready run leaves the rest of the run as it was; otherwise
    // (beyond the run, or a lowered nonce) walk the list again.
    if (s.exec >= old_exec && s.exec <= old_re)
        s.ready_end = old_re;
    else
        recompute_ready(s);
    mark(si);
}

// ---------------------------------------------------------------- ordering

Node Pool::make_node(uint32_t txid, uint32_t si, bool ready) const {
    const Tx& t = txs_[txid];
    return Node{t.price, t.arrival, load_be64(t.hash), si, txid, ready ? 1u : 0u, NIL};
}

// A sender's entry in the ready array: its first transaction, where its queue block
// starts (aux) and ends (`ready`), so select follows the run in the block without reading
// the sender record. The run is the block's prefix of consecutive nonces, so appending to
// a queue leaves this entry as it was: only a new head or a moved block changes it.
Node Pool::ready_node(uint32_t si) const {
    const Sender& s = senders_[si];
    Node n = make_node(q_[s.q].txid, si, true);
    n.aux = s.q;
    n.ready = static_cast<uint32_t>(s.q + (uint64_t(4) << s.qcls));
    return n;
}

bool Pool::hash_less(const Node& a, const Node& b) const {
    if (a.hpre != b.hpre) return a.hpre < b.hpre;
    return std::memcmp(txs_[a.txid].hash, txs_[b.txid].hash, 32) < 0;
}

// Block order: higher gas_price, then earlier arrival, then smaller hash.
bool Pool::ready_before(const Node& a, const Node& b) const {
    if (a.price != b.price) return a.price > b.price;
    if (a.arrival != b.arrival) return a.arrival < b.arrival;
    return hash_less(a, b);
}

// Eviction order: tails outside the ready run first, then lower gas_price, then later
// arrival, then larger hash (the exact reverse of block order among equals).
bool Pool::tail_before(const Node& a, const Node& b) const {
    if (a.ready != b.ready) return a.ready < b.ready;
    if (a.price != b.price) return a.price < b.price;
    if (a.arrival != b.arrival) return a.arrival > b.arrival;
    return hash_less(b, a);
}

// Batch update of the sorted ready array: drop the changed senders' entries, sort their
// new ones, merge. O(n + d log d) for d changed senders; runs once per select.
void Pool::flush_ready() {
    if (rdirty_.empty()) return;
    fresh_.clear();
    const size_t nd = rdirty_.size();
    for (size_t j = 0; j < nd; j++) {
        // Pipeline: sender record 12 ahead, its queue block 8 ahead, the head tx 4 ahead.
        if (j + 12 < nd) __builtin_prefetch(&senders_[rdirty_[j + 12]]);
        if (j + 8 < nd && senders_[rdirty_[j + 8]].q != NIL)
            __builtin_prefetch(&q_[senders_[rdirty_[j + 8]].q]);
        if (j + 4 < nd && senders_[rdirty_[j + 4]].q != NIL)
            __builtin_prefetch(&txs_[q_[senders_[rdirty_[j + 4]].q].txid]);
        uint32_t si = rdirty_[j];
        Sender& s = senders_[si];
        if (s.count > 0 && q_[s.q].nonce == s.exec + 1) fresh_.push_back(ready_node(si));
    }
    sort_block_order(fresh_);
    // One pass over the array: drop the changed senders' old entries while merging the
    // fresh ones in (a sender is never in both, and the order is total: no ties).
    const size_t nr = ready_.size(), nf = fresh_.size();
    merged_.resize(nr + nf);
    size_t w = 0, r = 0, f = 0;
    Node* out = merged_.data();
    const Node* in = ready_.data();
    const Node* fr = fresh_.data();
    const uint8_t* dirty = rdirty_bit_.data();
    while (r < nr) {
        if (r + 16 < nr) __builtin_prefetch(&dirty[in[r + 16].sidx]);
        const Node& a = in[r];
        if (dirty[a.sidx]) {
            r++;
        } else if (f < nf && ready_before(fr[f], a)) {
            out[w++] = fr[f++];
        } else {
            out[w++] = a;
            r++;
        }
    }
    while (f < nf) out[w++] = fr[f++];
    merged_.resize(w);
    ready_.swap(merged_);
    for (uint32_t si : rdirty_) {
        senders_[si].flags &= ~F_RDIRTY;
        rdirty_bit_[si] = 0;
        maybe_drop(si);
    }
    rdirty_.clear();
}

// Sort nodes in block order: a stable LSD radix sort of 16-byte (price key, index) pairs
// (byte passes where every key agrees are skipped: real prices use few bytes), then each
// run of equal prices sorted by the full order, then one gather. Much cheaper than a
// comparison sort of the 40-byte nodes when a select has many senders to merge.
void Pool::sort_block_order(BigVec<Node>& v) {
    const size_t n = v.size();
    if (n < 256) {
        std::sort(v.begin(), v.end(),
                  [this](const Node& a, const Node& b) { return ready_before(a, b); });
        return;
    }
    keys_.resize(n);
    keys_tmp_.resize(n);
    for (size_t j = 0; j < n; j++)  // descending price == ascending key
        keys_[j] = SortKey{~(static_cast<uint64_t>(v[j].price) ^ (uint64_t(1) << 63)),
                           static_cast<uint32_t>(j)};
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t j = 0; j < n; j++) count[((keys_[j].k >> shift) & 0xFF) + 1]++;
        bool trivial = false;
        for (int b = 1; b <= 256; b++)
            if (count[b] == n) trivial = true;
        if (trivial) continue;
        for (int b = 1; b <= 256; b++) count[b] += count[b - 1];
        for (size_t j = 0; j < n; j++) keys_tmp_[count[(keys_[j].k >> shift) & 0xFF]++] = keys_[j];
        keys_.swap(keys_tmp_);
    }
    auto full = [this, &v](const SortKey& a, const SortKey& b) {
        return ready_before(v[a.idx], v[b.idx]);
    };
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        while (hi < n && keys_[hi].k == keys_[lo].k) hi++;
        if (hi - lo > 1) std::sort(keys_.begin() + lo, keys_.begin() + hi, full);
        lo = hi;
    }
    merged_.resize(n);
    for (size_t j = 0; j < n; j++) merged_[j] = v[keys_[j].idx];
    v.swap(merged_);
}

void Pool::tails_place(uint32_t pos, const Node& n) {
    tails_[pos] = n;
    senders_[n.sidx].tpos = pos;
}

void Pool::sift_up(uint32_t pos) {
    Node n = tails_[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / ARITY;
        if (!tail_before(n, tails_[parent])) break;
        tails_place(pos, tails_[parent]);
        pos = parent;
    }
    tails_place(pos, n);
}

void Pool::sift_down(uint32_t pos) {
    uint32_t size = static_cast<uint32_t>(tails_.size());
    Node n = tails_[pos];
    for (;;) {
        uint32_t c = pos * ARITY + 1;
        if (c >= size) break;
        uint32_t end = std::min(c + ARITY, size);
        uint32_t best = c;
        for (uint32_t j = c + 1; j < end; j++)
            if (tail_before(tails_[j], tails_[best])) best = j;
        if (!tail_before(tails_[best], n)) break;
        tails_place(pos, tails_[best]);
        pos = best;
    }
    tails_place(pos, n);
}

void Pool::tails_set(uint32_t si, const Node* node) {
    uint32_t pos = senders_[si].tpos;
    if (node == nullptr) {
        if (pos == NIL) return;
        senders_[si].tpos = NIL;
        Node last = tails_.back();
        tails_.pop_back();
        if (pos < tails_.size()) {
            tails_place(pos, last);
            sift_up(pos);
            sift_down(senders_[last.sidx].tpos);
        }
        return;
    }
    if (pos == NIL) {
        tails_.push_back(*node);
        sift_up(static_cast<uint32_t>(tails_.size() - 1));
        return;
    }
    if (same_node(tails_[pos], *node)) return;
    tails_[pos] = *node;
    sift_up(pos);
    sift_down(senders_[si].tpos);
}

// Bring the tails heap up to date: one sift per changed sender, or a linear-time
// rebuild when many changed (e.g. the first eviction after a large batch).
void Pool::flush_tails() {
    if (tdirty_.empty()) return;
    if (tdirty_.size() * 4 > tails_.size()) {
        tails_.clear();
        for (uint32_t si = 0; si < senders_.size(); si++) {
            Sender& s = senders_[si];
            s.tpos = NIL;
            if (!(s.flags & F_LIVE) || s.count == 0) continue;
            const QEnt& t = q_[s.q + s.count - 1];
            tails_.push_back(make_node(t.txid, si, t.nonce <= s.ready_end));
        }
        // Floyd's heap construction for the 4-ary heap (std::make_heap is binary).
        for (uint32_t i = 0; i < tails_.size(); i++) senders_[tails_[i].sidx].tpos = i;
        if (tails_.size() > 1)
            for (int64_t i = (static_cast<int64_t>(tails_.size()) - 2) / ARITY; i >= 0; i--)
                sift_down(static_cast<uint32_t>(i));
    } else {
        for (uint32_t si : tdirty_) {
            Sender& s = senders_[si];
            if (s.count == 0) {
                tails_set(si, nullptr);
            } else {
                const QEnt& t = q_[s.q + s.count - 1];
                Node n = make_node(t.txid, si, t.nonce <= s.ready_end);
                tails_set(si, &n);
            }
        }
    }
    for (uint32_t si : tdirty_) {
        senders_[si].flags &= ~F_TDIRTY;
        maybe_drop(si);
    }
    tdirty_.clear();
}

// ---------------------------------------------------------------- admission

// Which transactions would have to go so the new one fits, in eviction order, without
// touching the pool: a best-first walk over the tails heap (a heap's top k come out of
// an auxiliary heap seeded with its root), where removing a sender's tail exposes the
// transaction before it. All or nothing: on failure *fail says why and nothing moved.
bool Pool::find_victims(uint32_t si, int64_t nonce, int64_t price, bool t_ready,
                        int64_t need_count, int64_t need_bytes, int8_t* fail) {
    flush_tails();
    victims_.clear();
    std::vector<Node>& aux = scratch_;
    aux.clear();
    auto later = [this](const Node& a, const Node& b) { return tail_before(b, a); };
    if (!tails_.empty()) {
        Node r = tails_[0];
        r.aux = 0;
        aux.push_back(r);
    }
    int64_t c = count_, b = bytes_;
    while (c + need_count > cap_ || b + need_bytes > cap_bytes_) {
        if (aux.empty()) {
            *fail = POOL_FULL;
            return false;
        }
        Node v = aux.front();
        std::pop_heap(aux.begin(), aux.end(), later);
        aux.pop_back();
        const Tx& vt = txs_[v.txid];
        if (v.sidx == si && vt.nonce <= nonce) {  // would open a gap below the new one
            *fail = POOL_FULL;
            return false;
        }
        if (v.ready && !t_ready) {  // a waiting transaction never displaces a ready one
            *fail = POOL_FULL;
            return false;
        }
        if (static_cast<bool>(v.ready) == t_ready && v.price >= price) {
            *fail = UNDERPRICED;
            return false;
        }
        victims_.push_back(v.txid);
        c--;
        b -= vt.size;
        if (v.aux != NIL) {
            uint32_t first = v.aux * ARITY + 1;
            uint32_t end = std::min<uint32_t>(first + ARITY, static_cast<uint32_t>(tails_.size()));
            for (uint32_t k = first; k < end; k++) {
                Node n = tails_[k];
                n.aux = k;
                aux.push_back(n);
                std::push_heap(aux.begin(), aux.end(), later);
            }
        }
        const Sender& s = senders_[v.sidx];
        uint32_t pos = q_find(s, vt.nonce);  // v's place in its queue: expose the one before
        if (pos > 0) {
            const QEnt& pe = q_[s.q + pos - 1];
            Node n = make_node(pe.txid, v.sidx, pe.nonce <= s.ready_end);
            aux.push_back(n);
            std::push_heap(aux.begin(), aux.end(), later);
        }
    }
    return true;
}

int8_t Pool::add_one(const uint8_t* hash, uint64_t sid, int64_t nonce, int64_t price,
                     uint32_t size, double arrival) {
    if (tx_find(hash) != NIL) return DUPLICATE;
    uint32_t si = sender_find(sid);
    int64_t exec = si != NIL ? senders_[si].exec : 0;
    if (nonce <= exec) return NONCE_TOO_LOW;
    if (nonce - exec > max_gap_) return NONCE_TOO_HIGH;
    int64_t ready_end = exec;
    uint32_t old = NIL;
    if (si != NIL) {
        const Sender& s = senders_[si];
        ready_end = s.ready_end;
        if (s.count && q_[s.q + s.count - 1].nonce >= nonce) {  // not a plain append
            uint32_t pos = q_find(s, nonce);
            if (q_[s.q + pos].nonce == nonce) old = q_[s.q + pos].txid;
        }
        if (old == NIL && s.count >= per_sender_) return SENDER_FULL;
    }
    if (old != NIL) {
        int64_t op = txs_[old].price;
        // Exact integer test of price >= op * (1 + bump): the same on every node.
        __int128 lhs = static_cast<__int128>(price) * 10000;
        __int128 rhs = static_cast<__int128>(op) * (10000 + bump_bps_);
        if (!(price > op && lhs >= rhs)) return UNDERPRICED;
    }
    if (static_cast<int64_t>(size) > cap_bytes_) return POOL_FULL;
    bool t_ready = nonce - 1 <= ready_end;  // (nonce > exec >= 0: no overflow)
    int64_t need_count = old == NIL ? 1 : 0;
    int64_t need_bytes = static_cast<int64_t>(size) - (old == NIL ? 0 : txs_[old].size);
    if (count_ + need_count > cap_ || bytes_ + need_bytes > cap_bytes_) {
        int8_t fail = POOL_FULL;
        if (!find_victims(si, nonce, price, t_ready, need_count, need_bytes, &fail)) return fail;
        for (uint32_t v : victims_) {
            uint32_t vs = txs_[v].sidx;
            unlink_raw(v);
            n_evicted_++;
            mark(vs);
        }
        if (old == NIL) si = sender_find(sid);  // flush_tails may have freed its empty record
    }
    if (old != NIL) {
        Tx& t = txs_[old];
        tx_index_erase(t.hash);
        std::memcpy(t.hash, hash, 32);
        t.price = price;
        bytes_ += static_cast<int64_t>(size) - t.size;
        t.size = size;
        t.arrival = arrival;
        gen_[old]++;
        arrival_push(old);
        uint32_t tag = tx_index_insert(old);
        const Sender& os = senders_[t.sidx];
        q_[os.q + q_find(os, nonce)].tag = tag;
        mark(t.sidx);
        n_replaced_++;
        return REPLACED;
    }
    if (si == NIL) si = sender_create(sid);
    uint32_t id = tx_alloc();
    Tx& t = txs_[id];
    std::memcpy(t.hash, hash, 32);
    t.nonce = nonce;
    t.price = price;
    t.arrival = arrival;
    t.size = size;
    t.sidx = si;
    // Insert in nonce order (the usual case appends); eviction above may have shortened
    // this sender's queue, so its place is looked up now.
    bool moved = q_reserve(si, senders_[si].count + 1);
    Sender& s = senders_[si];
    QEnt* e = &q_[s.q];
    uint32_t pos = (s.count == 0 || e[s.count - 1].nonce < nonce) ? s.count : q_find(s, nonce);
    std::memmove(e + pos + 1, e + pos, (s.count - pos) * sizeof(QEnt));
    e[pos] = QEnt{nonce, id, 0};  // tag set below
    s.count++;
    q_seal(s);
    arrival_push(id);
    e[pos].tag = tx_index_insert(id);
    count_++;
    bytes_ += size;
    if (nonce - 1 == s.ready_end) {
        int64_t re = nonce;
        for (uint32_t j = pos + 1; j < s.count && e[j].nonce == re + 1; j++) re++;
        s.ready_end = re;
    }
    if (moved || pos == 0)
        mark(si);
    else
        mark_tail(si);  // same head, same block: its ready-array entry still holds
    n_accepted_++;
    return ACCEPTED;
}

void Pool::add_batch(const uint8_t* hashes, const uint64_t* senders, const int64_t* nonces,
                     const int64_t* prices, const int64_t* sizes, int64_t n, double now,
                     int8_t* out) {
    // Arrival times never go backwards, so the arrival ring stays sorted for expiry.
    double arrival = now > last_arrival_ ? now : last_arrival_;
    last_arrival_ = arrival;
    for (int64_t i = 0; i < n; i++) {
        // Software pipeline: the hash-table slots of transaction i+AB_FAR, then the sender
        // record of i+AB_MID and its queue block (first and last line) for i+AB_NEAR,
        // arrive in cache ahead of use.
        if (i + AB_FAR < n) {
            __builtin_prefetch(&tx_index_[tx_tag(hashes + 32 * (i + AB_FAR)) & tx_mask_]);
            __builtin_prefetch(&sender_index_[sender_tag(senders[i + AB_FAR]) & sender_mask_]);
        }
        if (i + AB_MID < n) {
            uint32_t sj = sender_peek(senders[i + AB_MID]);
            if (sj != NIL) __builtin_prefetch(&senders_[sj]);
        }
        if (i + AB_NEAR < n) {
            uint32_t sj = sender_peek(senders[i + AB_NEAR]);
            if (sj != NIL && senders_[sj].q != NIL) {
                const Sender& sp = senders_[sj];
                __builtin_prefetch(&q_[sp.q]);
                if (sp.count > 4) __builtin_prefetch(&q_[sp.q + sp.count - 1]);
            }
        }
        // Reused slots come off the free list in random order: fetch the one a few
        // admissions ahead will take (a guess; rejections shift it, harmlessly).
        if (free_tx_.size() > AB_FREE) {
            uint32_t nx = free_tx_[free_tx_.size() - AB_FREE - 1];
            __builtin_prefetch(&txs_[nx], 1);
            __builtin_prefetch(&gen_[nx], 1);  // read for its arrival entry
        }
        int8_t r = add_one(hashes + 32 * i, senders[i], nonces[i], prices[i],
                           static_cast<uint32_t>(sizes[i]), arrival);
        if (r != ACCEPTED && r != REPLACED) n_rejected_++;
        out[i] = r;
    }
    if (ring_.size() - ring_head_ > static_cast<size_t>(2 * count_ + 1024)) ring_compact();
    // Keep the block order nearly current: once the senders changed since the last merge
    // reach 1/8 of the ready array, merge them now, so that the next select (the first
    // after a fill, say) merges at most that many. Geometric: each merge's pass over the
    // array is paid for by the 1/8 of it that changed.
    if (rdirty_.size() >= FLUSH_MIN && rdirty_.size() * 8 > ready_.size()) flush_ready();
}

void Pool::set_nonces(const uint64_t* senders, const int64_t* nonces, int64_t n,
                      bool monotonic) {
    for (int64_t i = 0; i < n; i++) {
        // Software pipeline as in add_batch: index slot, record, queue block, then the
        // first two queued transactions and their hash-table slots (from the tags in the
        // block) arrive ahead of use.
        if (i + 24 < n) __builtin_prefetch(&sender_index_[sender_tag(senders[i + 24]) & sender_mask_]);
        if (i + 16 < n) {
            uint32_t sj = sender_peek(senders[i + 16]);
            if (sj != NIL) __builtin_prefetch(&senders_[sj]);
        }
        if (i + 8 < n) {
            uint32_t sj = sender_peek(senders[i + 8]);
            if (sj != NIL && senders_[sj].q != NIL) __builtin_prefetch(&q_[senders_[sj].q]);
        }
        if (i + 4 < n) {
            uint32_t sj = sender_peek(senders[i + 4]);
            if (sj != NIL && senders_[sj].q != NIL) {
                const Sender& sp = senders_[sj];
                const QEnt* e = &q_[sp.q];
                for (uint32_t j = 0; j < 2 && j < sp.count; j++) {
                    __builtin_prefetch(&txs_[e[j].txid]);
                    __builtin_prefetch(&tx_index_[e[j].tag & tx_mask_]);
                }
            }
        }
        uint32_t si = sender_find(senders[i]);
        if (si == NIL) {
            if (nonces[i] == 0) continue;  // the default; nothing to remember
            si = sender_create(senders[i]);
            senders_[si].exec = nonces[i];
            senders_[si].ready_end = nonces[i];
            continue;
        }
        set_nonce(si, nonces[i], monotonic);
    }
}

// ---------------------------------------------------------------- queries

// Walk the sorted ready array, merged with each visited sender's following nonces
// (a small heap of at most one entry per sender already started).
int64_t Pool::select(int64_t max_txs, int64_t max_bytes, uint8_t* out) {
    flush_ready();
    if (max_txs <= 0 || ready_.empty()) return 0;
    std::vector<Node>& aux = scratch_;
    aux.clear();
    auto later = [this](const Node& a, const Node& b) { return ready_before(b, a); };
    size_t i = 0, pf_done = SIZE_MAX;
    int64_t k = 0, used = 0;
    while (k < max_txs) {
        // Two-stage prefetch down the sorted array: the head transaction and its queue
        // block PF_FAR ahead, then (once that block is in cache) the transaction after the
        // head PF_NEAR ahead, for the senders whose run goes on.
        if (i != pf_done && i + PF_FAR < ready_.size()) {
            pf_done = i;  // once per array position, not again while chain steps run
            const Node& far = ready_[i + PF_FAR];
            __builtin_prefetch(&txs_[far.txid]);
            __builtin_prefetch(&q_[far.aux]);
            const Node& near = ready_[i + PF_NEAR];
            if (near.aux + 1 < near.ready) __builtin_prefetch(&txs_[q_[near.aux + 1].txid]);
        }
        bool from_array;
        if (i < ready_.size())
            from_array = aux.empty() || ready_before(ready_[i], aux.front());
        else if (!aux.empty())
            from_array = false;
        else
            break;
        const Node v = from_array ? ready_[i] : aux.front();
        const Tx& t = txs_[v.txid];
        if (static_cast<int64_t>(t.size) > max_bytes - used) break;  // first limit reached
        if (from_array) {
            i++;
        } else {
            std::pop_heap(aux.begin(), aux.end(), later);
            aux.pop_back();
        }
        std::memcpy(out + 32 * k, t.hash, 32);
        k++;
        used += t.size;
        // The sender's run goes on while its block holds the next nonce (the run starts
        // at the executed nonce + 1, so consecutive nonces are exactly the ready ones).
        uint32_t off = v.aux + 1;
        int64_t cur = q_[v.aux].nonce;
        if (off < v.ready && cur != INT64_MAX && q_[off].nonce == cur + 1) {
            Node chain = make_node(q_[off].txid, v.sidx, true);
            chain.ready = v.ready;
            chain.aux = off;
            aux.push_back(chain);
            std::push_heap(aux.begin(), aux.end(), later);
            if (off + 1 < v.ready)  // likely needed when this one is taken
                __builtin_prefetch(&txs_[q_[off + 1].txid]);
        }
    }
    return k;
}

int64_t Pool::remove(const uint8_t* hashes, int64_t n) {
    int64_t removed = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t id = tx_find(hashes + 32 * i);
        if (id == NIL) continue;
        uint32_t si = txs_[id].sidx;
        unlink_raw(id);
        mark(si);
        removed++;
    }
    n_removed_ += removed;
    return removed;
}

int64_t Pool::expire(double now) {
    int64_t dropped = 0;
    while (ring_head_ < ring_.size()) {
        const ArrivalEntry e = ring_[ring_head_];
        if (gen_[e.txid] != e.gen) {  // freed or replaced since
            ring_head_++;
            continue;
        }
        const Tx& t = txs_[e.txid];
        if (!(now - t.arrival > ttl_)) break;
        ring_head_++;
        uint32_t si = t.sidx;
        unlink_raw(e.txid);
        mark(si);
        dropped++;
    }
    n_expired_ += dropped;
    // Periodic housekeeping: lets records of senders that emptied out be freed.
    flush_tails();
    if (ring_head_ > 1024 && ring_head_ * 2 > ring_.size()) ring_compact();
    return dropped;
}

bool Pool::contains(const uint8_t* hash) const { return tx_find(hash) != NIL; }

bool Pool::get(const uint8_t* hash, uint64_t* sender, int64_t* nonce, int64_t* price,
               int64_t* size, double* arrival) const {
    uint32_t id = tx_find(hash);
    if (id == NIL) return false;
    const Tx& t = txs_[id];
    *sender = senders_[t.sidx].id;
    *nonce = t.nonce;
    *price = t.price;
    *size = t.size;
    *arrival = t.arrival;
    return true;
}

int64_t Pool::pending_count(uint64_t sender) const {
    uint32_t si = sender_find(sender);
    return si == NIL ? 0 : senders_[si].count;
}

int64_t Pool::pending(uint64_t sender, uint8_t* out, int64_t* nonces_out) const {
    uint32_t si = sender_find(sender);
    if (si == NIL) return 0;
    const Sender& s = senders_[si];
    for (uint32_t k = 0; k < s.count; k++) {
        const QEnt& e = q_[s.q + k];
        std::memcpy(out + 32 * k, txs_[e.txid].hash, 32);
        if (nonces_out) nonces_out[k] = e.nonce;
    }
    return s.count;
}

int64_t Pool::executed_nonce(uint64_t sender) const {
    uint32_t si = sender_find(sender);
    return si == NIL ? 0 : senders_[si].exec;
}

Stats Pool::stats() const {
    Stats st{};
    st.count = count_;
    st.bytes = bytes_;
    for (const Sender& s : senders_) {
        if (!(s.flags & F_LIVE)) continue;
        if (s.count > 0) {
            st.senders++;
            st.ready += s.ready_end - s.exec;
        }
        if (s.count > 0 || s.exec != 0) st.known_senders++;  // not those about to be freed
    }
    st.accepted = n_accepted_;
    st.replaced = n_replaced_;
    st.rejected = n_rejected_;
    st.evicted = n_evicted_;
    st.expired = n_expired_;
    st.removed = n_removed_;
    st.committed = n_committed_;
    size_t qfree_bytes = 0;
    for (const auto& fl : qfree_) qfree_bytes += fl.capacity() * sizeof(uint32_t);
    st.memory_bytes = static_cast<int64_t>(
        txs_.capacity() * sizeof(Tx) + (free_tx_.capacity() + gen_.capacity()) * sizeof(uint32_t) +
        q_.capacity() * sizeof(QEnt) + qfree_bytes +
        tx_index_.capacity() * sizeof(Slot) + senders_.capacity() * sizeof(Sender) +
        free_sender_.capacity() * sizeof(uint32_t) + sender_index_.capacity() * sizeof(Slot) +
        rdirty_bit_.capacity() + (rdirty_.capacity() + tdirty_.capacity()) * sizeof(uint32_t) +
        (ready_.capacity() + tails_.capacity() + scratch_.capacity() + fresh_.capacity() +
         merged_.capacity()) * sizeof(Node) +
        (keys_.capacity() + keys_tmp_.capacity()) * sizeof(SortKey) +
        ring_.capacity() * sizeof(ArrivalEntry) + victims_.capacity() * sizeof(uint32_t));
    return st;
}

const char* Pool::check() {
    // Dirty flags must cover every change: after flushing, everything must be exact.
    flush_ready();
    flush_tails();
    int64_t n = 0, b = 0, nsend = 0, nready = 0;
    for (uint32_t si = 0; si < senders_.size(); si++) {
        const Sender& s = senders_[si];
        if (!(s.flags & F_LIVE)) continue;
        if (sender_find(s.id) != si) return "live sender record not indexed";
        nsend++;
        if (s.count == 0 && s.exec == 0) return "empty sender record with exec 0 kept";
        if ((s.count == 0) != (s.q == NIL)) return "queue block held by an empty queue";
        if (s.q != NIL && (s.qcls >= 32 || s.count > (uint64_t(4) << s.qcls) ||
                           s.q + (uint64_t(4) << s.qcls) > q_.size()))
            return "queue block out of bounds";
        int64_t last = s.exec;
        for (uint32_t k = 0; k < s.count; k++) {
            const QEnt& e = q_[s.q + k];
            const Tx& t = txs_[e.txid];
            if (e.nonce <= last) return "sender queue not strictly ascending above exec";
            if (t.nonce != e.nonce) return "queue entry nonce differs from its tx";
            if (e.tag != tx_tag(t.hash)) return "queue entry tag differs from its hash's";
            if (t.sidx != si) return "tx sidx mismatch";
            if (tx_find(t.hash) != e.txid) return "tx missing from hash index";
            last = e.nonce;
            b += t.size;
        }
        n += s.count;
        int64_t re = s.exec;
        for (uint32_t k = 0; k < s.count && q_[s.q + k].nonce == re + 1; k++) re++;
        if (re != s.ready_end) return "ready_end wrong";
        if (s.count > 0 && re > s.exec) nready++;
        if ((s.count > 0) != (s.tpos != NIL)) return "tails heap membership wrong";
        if (s.tpos != NIL) {
            const QEnt& te = q_[s.q + s.count - 1];
            if (tails_[s.tpos].sidx != si || tails_[s.tpos].txid != te.txid ||
                tails_[s.tpos].ready != (te.nonce <= re ? 1u : 0u))
                return "tails heap entry wrong";
        }
    }
    if (nsend != nsenders_) return "sender record count wrong";
    if (n != count_) return "count wrong";
    if (b != bytes_) return "bytes wrong";
    if (count_ > cap_ || bytes_ > cap_bytes_) return "bounds exceeded";
    if (static_cast<int64_t>(ready_.size()) != nready) return "ready array size wrong";
    for (size_t i = 0; i < ready_.size(); i++) {
        const Node& nd = ready_[i];
        const Sender& s = senders_[nd.sidx];
        if (!(s.flags & F_LIVE) || s.count == 0 || q_[s.q].txid != nd.txid)
            return "ready array entry is not a head";
        if (!same_node(nd, ready_node(nd.sidx)) || nd.aux != s.q) return "ready array key stale";
        if (i > 0 && !ready_before(ready_[i - 1], nd)) return "ready array not sorted";
    }
    for (uint32_t i = 0; i < tails_.size(); i++) {
        if (senders_[tails_[i].sidx].tpos != i) return "tails heap holds a stray node";
        const Node& nd = tails_[i];
        if (!same_node(nd, make_node(nd.txid, nd.sidx, nd.ready))) return "tails heap key stale";
        if (i > 0 && tail_before(tails_[i], tails_[(i - 1) / ARITY])) return "tails heap order broken";
    }
    int64_t an = 0;
    double last_arr = -1.0e308;
    for (size_t r = ring_head_; r < ring_.size(); r++) {
        const ArrivalEntry& e = ring_[r];
        if (gen_[e.txid] != e.gen) continue;
        if (txs_[e.txid].arrival < last_arr) return "arrival ring unsorted";
        last_arr = txs_[e.txid].arrival;
        an++;
    }
    if (an != count_) return "arrival ring does not hold every tx once";
    int64_t idx = 0;
    for (const Slot& s : tx_index_)
        if (s.id != NIL) idx++;
    if (idx != count_) return "hash index size wrong";
    return "";
}

}  // namespace mbi_mempool

#pragma GCC visibility pop
