// Implementation of mbi_mempool::Pool; see core_ext/include/mbi_mempool.h and docs/mempool.md.
#include "mbi_mempool.h"

#include <algorithm>

namespace mbi_mempool {

namespace {

constexpr uint32_t ARITY = 4;

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
    // Reserving does not touch the pages: resident memory follows the live count.
    txs_.reserve(static_cast<size_t>(cap_));
    uint64_t tsize = next_pow2(static_cast<uint64_t>(cap_) * 2);
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

void Pool::tx_index_insert(uint32_t id) {
    uint32_t tag = tx_tag(txs_[id].hash);
    uint64_t i = tag & tx_mask_;
    while (tx_index_[i].id != NIL) i = (i + 1) & tx_mask_;
    tx_index_[i] = Slot{id, tag};
}

void Pool::tx_index_erase(const uint8_t* h) {
    uint32_t tag = tx_tag(h);
    uint64_t i = tag & tx_mask_;
    for (;; i = (i + 1) & tx_mask_) {
        const Slot& s = tx_index_[i];
        if (s.id == NIL) return;
        if (s.tag == tag && std::memcmp(txs_[s.id].hash, h, 32) == 0) break;
    }
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

void Pool::sender_index_grow() {
    std::vector<Slot> old;
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
    senders_[si] = Sender{id, 0, 0, NIL, NIL, 0, NIL, NIL};
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
    return static_cast<uint32_t>(txs_.size() - 1);
}

void Pool::arrival_append(uint32_t id) {
    Tx& t = txs_[id];
    t.aprev = a_tail_;
    t.anext = NIL;
    if (a_tail_ != NIL)
        txs_[a_tail_].anext = id;
    else
        a_head_ = id;
    a_tail_ = id;
}

void Pool::arrival_unlink(uint32_t id) {
    Tx& t = txs_[id];
    if (t.aprev != NIL)
        txs_[t.aprev].anext = t.anext;
    else
        a_head_ = t.anext;
    if (t.anext != NIL)
        txs_[t.anext].aprev = t.aprev;
    else
        a_tail_ = t.aprev;
}

void Pool::unlink_raw(uint32_t id) {
    Tx& t = txs_[id];
    Sender& s = senders_[t.sidx];
    if (t.nprev != NIL)
        txs_[t.nprev].nnext = t.nnext;
    else
        s.head = t.nnext;
    if (t.nnext != NIL)
        txs_[t.nnext].nprev = t.nprev;
    else
        s.tail = t.nprev;
    s.count--;
    // Dropping a transaction inside the ready run leaves a gap: the ones after it wait.
    if (t.nonce > s.exec && t.nonce <= s.ready_end) s.ready_end = t.nonce - 1;
    arrival_unlink(id);
    tx_index_erase(t.hash);
    count_--;
    bytes_ -= t.size;
    free_tx_.push_back(id);
}

void Pool::recompute_ready(Sender& s) {
    int64_t re = s.exec;
    for (uint32_t q = s.head; q != NIL && txs_[q].nonce == re + 1; q = txs_[q].nnext) re++;
    s.ready_end = re;
}

void Pool::refresh(uint32_t si) {
    Sender& s = senders_[si];
    if (s.count == 0) {
        heap_set<true>(si, nullptr);
        heap_set<false>(si, nullptr);
        // A record with executed nonce 0 says nothing the default does not: free it.
        if (s.exec == 0) sender_drop(si);
        return;
    }
    if (txs_[s.head].nonce == s.exec + 1) {
        Node r = make_node(s.head, si, true);
        heap_set<true>(si, &r);
    } else {
        heap_set<true>(si, nullptr);
    }
    Node t = make_node(s.tail, si, txs_[s.tail].nonce <= s.ready_end);
    heap_set<false>(si, &t);
}

bool Pool::set_nonce(uint32_t si, int64_t nonce, bool monotonic) {
    Sender& s = senders_[si];
    s.exec = (monotonic && s.exec > nonce) ? s.exec : nonce;
    while (s.head != NIL && txs_[s.head].nonce <= s.exec) {
        unlink_raw(s.head);
        n_committed_++;
    }
    recompute_ready(s);
    refresh(si);
    return true;
}

// ---------------------------------------------------------------- heaps

Node Pool::make_node(uint32_t txid, uint32_t si, bool ready) const {
    const Tx& t = txs_[txid];
    return Node{t.price, t.arrival, load_be64(t.hash), si, txid, ready ? 1u : 0u, NIL};
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

template <bool READY>
void Pool::heap_place(uint32_t pos, const Node& n) {
    std::vector<Node>& h = READY ? ready_ : tails_;
    h[pos] = n;
    if (READY)
        senders_[n.sidx].rpos = pos;
    else
        senders_[n.sidx].tpos = pos;
}

template <bool READY>
void Pool::sift_up(uint32_t pos) {
    std::vector<Node>& h = READY ? ready_ : tails_;
    Node n = h[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / ARITY;
        bool before = READY ? ready_before(n, h[parent]) : tail_before(n, h[parent]);
        if (!before) break;
        heap_place<READY>(pos, h[parent]);
        pos = parent;
    }
    heap_place<READY>(pos, n);
}

template <bool READY>
void Pool::sift_down(uint32_t pos) {
    std::vector<Node>& h = READY ? ready_ : tails_;
    uint32_t size = static_cast<uint32_t>(h.size());
    Node n = h[pos];
    for (;;) {
        uint32_t c = pos * ARITY + 1;
        if (c >= size) break;
        uint32_t end = std::min(c + ARITY, size);
        uint32_t best = c;
        for (uint32_t j = c + 1; j < end; j++) {
            bool b = READY ? ready_before(h[j], h[best]) : tail_before(h[j], h[best]);
            if (b) best = j;
        }
        bool b = READY ? ready_before(h[best], n) : tail_before(h[best], n);
        if (!b) break;
        heap_place<READY>(pos, h[best]);
        pos = best;
    }
    heap_place<READY>(pos, n);
}

template <bool READY>
void Pool::heap_set(uint32_t si, const Node* node) {
    std::vector<Node>& h = READY ? ready_ : tails_;
    uint32_t& posref = READY ? senders_[si].rpos : senders_[si].tpos;
    uint32_t pos = posref;
    if (node == nullptr) {
        if (pos == NIL) return;
        posref = NIL;
        Node last = h.back();
        h.pop_back();
        if (pos < h.size()) {
            heap_place<READY>(pos, last);
            sift_up<READY>(pos);
            uint32_t p2 = READY ? senders_[last.sidx].rpos : senders_[last.sidx].tpos;
            sift_down<READY>(p2);
        }
        return;
    }
    if (pos == NIL) {
        h.push_back(*node);
        heap_place<READY>(static_cast<uint32_t>(h.size() - 1), *node);
        sift_up<READY>(static_cast<uint32_t>(h.size() - 1));
        return;
    }
    if (same_node(h[pos], *node)) return;
    h[pos] = *node;
    sift_up<READY>(pos);
    sift_down<READY>(READY ? senders_[si].rpos : senders_[si].tpos);
}

// ---------------------------------------------------------------- admission

// Which transactions would have to go so the new one fits, in eviction order, without
// touching the pool: a best-first walk over the tails heap (a heap's top k come out of
// an auxiliary heap seeded with its root), where removing a sender's tail exposes the
// transaction before it. All or nothing: on failure *fail says why and nothing moved.
bool Pool::find_victims(uint32_t si, int64_t nonce, int64_t price, bool t_ready,
                        int64_t need_count, int64_t need_bytes, int8_t* fail) {
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
        if (vt.nprev != NIL) {
            const Sender& s = senders_[v.sidx];
            Node n = make_node(vt.nprev, v.sidx, txs_[vt.nprev].nonce <= s.ready_end);
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
        for (uint32_t id = s.tail; id != NIL && txs_[id].nonce >= nonce; id = txs_[id].nprev) {
            if (txs_[id].nonce == nonce) {
                old = id;
                break;
            }
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
    bool t_ready = nonce <= ready_end + 1;
    int64_t need_count = old == NIL ? 1 : 0;
    int64_t need_bytes = static_cast<int64_t>(size) - (old == NIL ? 0 : txs_[old].size);
    if (count_ + need_count > cap_ || bytes_ + need_bytes > cap_bytes_) {
        int8_t fail = POOL_FULL;
        if (!find_victims(si, nonce, price, t_ready, need_count, need_bytes, &fail)) return fail;
        for (uint32_t v : victims_) {
            uint32_t vs = txs_[v].sidx;
            unlink_raw(v);
            n_evicted_++;
            refresh(vs);
        }
        if (old == NIL) si = sender_find(sid);  // its record may have emptied and gone
    }
    if (old != NIL) {
        Tx& t = txs_[old];
        tx_index_erase(t.hash);
        std::memcpy(t.hash, hash, 32);
        t.price = price;
        bytes_ += static_cast<int64_t>(size) - t.size;
        t.size = size;
        t.arrival = arrival;
        arrival_unlink(old);
        arrival_append(old);
        tx_index_insert(old);
        refresh(t.sidx);
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
    Sender& s = senders_[si];
    // Insert in nonce order; scanning from the tail makes the usual append O(1).
    uint32_t p = s.tail;
    while (p != NIL && txs_[p].nonce > nonce) p = txs_[p].nprev;
    t.nprev = p;
    if (p == NIL) {
        t.nnext = s.head;
        s.head = id;
    } else {
        t.nnext = txs_[p].nnext;
        txs_[p].nnext = id;
    }
    if (t.nnext != NIL)
        txs_[t.nnext].nprev = id;
    else
        s.tail = id;
    s.count++;
    arrival_append(id);
    tx_index_insert(id);
    count_++;
    bytes_ += size;
    if (nonce == s.ready_end + 1) {
        int64_t re = nonce;
        for (uint32_t q = t.nnext; q != NIL && txs_[q].nonce == re + 1; q = txs_[q].nnext) re++;
        s.ready_end = re;
    }
    refresh(si);
    n_accepted_++;
    return ACCEPTED;
}

void Pool::add_batch(const uint8_t* hashes, const uint64_t* senders, const int64_t* nonces,
                     const int64_t* prices, const int64_t* sizes, int64_t n, double now,
                     int8_t* out) {
    // Arrival times never go backwards, so the arrival list stays sorted for expiry.
    double arrival = now > last_arrival_ ? now : last_arrival_;
    last_arrival_ = arrival;
    for (int64_t i = 0; i < n; i++) {
        int8_t r = add_one(hashes + 32 * i, senders[i], nonces[i], prices[i],
                           static_cast<uint32_t>(sizes[i]), arrival);
        if (r != ACCEPTED && r != REPLACED) n_rejected_++;
        out[i] = r;
    }
}

void Pool::set_nonces(const uint64_t* senders, const int64_t* nonces, int64_t n,
                      bool monotonic) {
    for (int64_t i = 0; i < n; i++) {
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

// Best-first walk over the ready heap (top k of a heap via an auxiliary heap seeded with
// its root) merged with each visited sender's following nonces. Reads only.
int64_t Pool::select(int64_t max_txs, int64_t max_bytes, uint8_t* out) const {
    if (max_txs <= 0 || ready_.empty()) return 0;
    std::vector<Node>& aux = scratch_;
    aux.clear();
    auto later = [this](const Node& a, const Node& b) { return ready_before(b, a); };
    Node r = ready_[0];
    r.aux = 0;
    aux.push_back(r);
    int64_t k = 0, used = 0;
    while (k < max_txs && !aux.empty()) {
        Node v = aux.front();
        const Tx& t = txs_[v.txid];
        if (static_cast<int64_t>(t.size) > max_bytes - used) break;  // first limit reached
        std::pop_heap(aux.begin(), aux.end(), later);
        aux.pop_back();
        std::memcpy(out + 32 * k, t.hash, 32);
        k++;
        used += t.size;
        if (v.aux != NIL) {
            uint32_t first = v.aux * ARITY + 1;
            uint32_t end = std::min<uint32_t>(first + ARITY, static_cast<uint32_t>(ready_.size()));
            for (uint32_t c = first; c < end; c++) {
                Node n = ready_[c];
                n.aux = c;
                aux.push_back(n);
                std::push_heap(aux.begin(), aux.end(), later);
            }
        }
        if (t.nnext != NIL && txs_[t.nnext].nonce <= senders_[v.sidx].ready_end) {
            aux.push_back(make_node(t.nnext, v.sidx, true));
            std::push_heap(aux.begin(), aux.end(), later);
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
        refresh(si);
        removed++;
    }
    n_removed_ += removed;
    return removed;
}

int64_t Pool::expire(double now) {
    int64_t dropped = 0;
    while (a_head_ != NIL && now - txs_[a_head_].arrival > ttl_) {
        uint32_t id = a_head_;
        uint32_t si = txs_[id].sidx;
        unlink_raw(id);
        refresh(si);
        dropped++;
    }
    n_expired_ += dropped;
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
    int64_t k = 0;
    for (uint32_t q = senders_[si].head; q != NIL; q = txs_[q].nnext, k++) {
        std::memcpy(out + 32 * k, txs_[q].hash, 32);
        if (nonces_out) nonces_out[k] = txs_[q].nonce;
    }
    return k;
}

int64_t Pool::executed_nonce(uint64_t sender) const {
    uint32_t si = sender_find(sender);
    return si == NIL ? 0 : senders_[si].exec;
}

Stats Pool::stats() const {
    Stats st{};
    st.count = count_;
    st.bytes = bytes_;
    st.senders = static_cast<int64_t>(tails_.size());
    st.known_senders = nsenders_;
    for (const Node& n : tails_) st.ready += senders_[n.sidx].ready_end - senders_[n.sidx].exec;
    st.accepted = n_accepted_;
    st.replaced = n_replaced_;
    st.rejected = n_rejected_;
    st.evicted = n_evicted_;
    st.expired = n_expired_;
    st.removed = n_removed_;
    st.committed = n_committed_;
    st.memory_bytes = static_cast<int64_t>(
        txs_.capacity() * sizeof(Tx) + free_tx_.capacity() * sizeof(uint32_t) +
        tx_index_.capacity() * sizeof(Slot) + senders_.capacity() * sizeof(Sender) +
        free_sender_.capacity() * sizeof(uint32_t) + sender_index_.capacity() * sizeof(Slot) +
        (ready_.capacity() + tails_.capacity() + scratch_.capacity()) * sizeof(Node) +
        victims_.capacity() * sizeof(uint32_t));
    return st;
}

const char* Pool::check() const {
    int64_t n = 0, b = 0, nsend = 0;
    std::vector<char> live(txs_.size(), 0);
    for (uint32_t si = 0; si < senders_.size(); si++) {
        const Sender& s = senders_[si];
        if (sender_find(s.id) != si) continue;  // a free record
        nsend++;
        if (s.count == 0 && s.exec == 0) return "empty sender record with exec 0 kept";
        uint32_t cnt = 0, prev = NIL;
        int64_t last = s.exec;
        for (uint32_t q = s.head; q != NIL; prev = q, q = txs_[q].nnext) {
            const Tx& t = txs_[q];
            if (t.nprev != prev) return "sender list back link broken";
            if (t.nonce <= last) return "sender list not strictly ascending above exec";
            if (t.sidx != si) return "tx sidx mismatch";
            if (tx_find(t.hash) != q) return "tx missing from hash index";
            last = t.nonce;
            live[q] = 1;
            cnt++;
            b += t.size;
        }
        if (prev != s.tail) return "sender tail wrong";
        if (cnt != s.count) return "sender count wrong";
        n += cnt;
        int64_t re = s.exec;
        for (uint32_t q = s.head; q != NIL && txs_[q].nonce == re + 1; q = txs_[q].nnext) re++;
        if (re != s.ready_end) return "ready_end wrong";
        bool want_ready = s.count > 0 && re > s.exec;
        if (want_ready != (s.rpos != NIL)) return "ready heap membership wrong";
        if ((s.count > 0) != (s.tpos != NIL)) return "tails heap membership wrong";
        if (s.rpos != NIL && (ready_[s.rpos].sidx != si || ready_[s.rpos].txid != s.head))
            return "ready heap entry wrong";
        if (s.tpos != NIL && (tails_[s.tpos].sidx != si || tails_[s.tpos].txid != s.tail ||
                              tails_[s.tpos].ready != (txs_[s.tail].nonce <= re ? 1u : 0u)))
            return "tails heap entry wrong";
    }
    for (uint32_t i = 0; i < ready_.size(); i++)
        if (senders_[ready_[i].sidx].rpos != i) return "ready heap holds a stray node";
    for (uint32_t i = 0; i < tails_.size(); i++)
        if (senders_[tails_[i].sidx].tpos != i) return "tails heap holds a stray node";
    for (const Node& nd : ready_) {
        Node w = make_node(nd.txid, nd.sidx, true);
        if (!same_node(nd, w)) return "ready heap key stale";
    }
    for (const Node& nd : tails_) {
        Node w = make_node(nd.txid, nd.sidx, nd.ready);
        if (!same_node(nd, w)) return "tails heap key stale";
    }
    if (nsend != nsenders_) return "sender record count wrong";
    if (n != count_) return "count wrong";
    if (b != bytes_) return "bytes wrong";
    if (count_ > cap_ || bytes_ > cap_bytes_) return "bounds exceeded";
    for (uint32_t i = 1; i < ready_.size(); i++)
        if (ready_before(ready_[i], ready_[(i - 1) / ARITY])) return "ready heap order broken";
    for (uint32_t i = 1; i < tails_.size(); i++)
        if (tail_before(tails_[i], tails_[(i - 1) / ARITY])) return "tails heap order broken";
    int64_t an = 0;
    uint32_t prev = NIL;
    for (uint32_t q = a_head_; q != NIL; prev = q, q = txs_[q].anext) {
        if (!live[q]) return "arrival list holds a dead tx";
        if (txs_[q].aprev != prev) return "arrival list back link broken";
        if (prev != NIL && txs_[prev].arrival > txs_[q].arrival) return "arrival list unsorted";
        an++;
    }
    if (prev != a_tail_) return "arrival tail wrong";
    if (an != count_) return "arrival list length wrong";
    int64_t idx = 0;
    for (const Slot& s : tx_index_)
        if (s.id != NIL) idx++;
    if (idx != count_) return "hash index size wrong";
    return "";
}

}  // namespace mbi_mempool
