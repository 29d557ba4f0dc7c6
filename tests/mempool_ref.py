"""Pure-Python reference transaction pool with exactly the semantics of core_ext.mempool.

It is the oracle of the model-based tests (tests/test_mempool_model.py) and the baseline
of the benchmarks (bench/). It is written for clarity first, with ordinary efficient
Python (dicts, heapq) where that does not cost clarity; docs/mempool.md states the rules.

Eviction here scans every sender's tail (O(senders) per eviction); selection keeps a
persistent lazily-cleaned heap of senders' next ready transactions, so it is O(k log n).
"""
from __future__ import annotations

import bisect
import heapq
import math
from collections import OrderedDict
from dataclasses import dataclass, field

ACCEPTED, REPLACED, DUPLICATE, UNDERPRICED = 0, 1, 2, 3
NONCE_TOO_LOW, NONCE_TOO_HIGH, SENDER_FULL, POOL_FULL = 4, 5, 6, 7


class RefTx:
    __slots__ = ("arrival", "hash", "nonce", "price", "sender", "size")

    def __init__(self, h: bytes, sender: int, nonce: int, price: int, size: int,
                 arrival: float) -> None:
        self.hash = h
        self.sender = sender
        self.nonce = nonce
        self.price = price
        self.size = size
        self.arrival = arrival


@dataclass
class RefSender:
    exec: int = 0
    ready_end: int = 0  # last nonce of the contiguous run exec+1.., == exec if none
    txs: dict[int, RefTx] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # pooled nonces, ascending
    hkey: tuple | None = None  # key last pushed on the ready heap

    def recompute_ready(self) -> None:
        re = self.exec
        while re + 1 in self.txs:
            re += 1
        self.ready_end = re


def _inv(h: bytes) -> bytes:
    return bytes(255 - b for b in h)


class RefMempool:
    def __init__(self, capacity: int, capacity_bytes: int, per_sender_limit: int = 64,
                 max_nonce_gap: int = 1024, ttl: float = 600.0,
                 replace_bump: float = 0.10) -> None:
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self.per_sender_limit = per_sender_limit
        self.max_nonce_gap = max_nonce_gap
        self.ttl = ttl
        self.bump_bps = round(replace_bump * 10000)
        self.senders: dict[int, RefSender] = {}
        self.by_hash: dict[bytes, RefTx] = {}
        self.arrivals: OrderedDict[bytes, RefTx] = OrderedDict()
        self.bytes = 0
        self.last_arrival = -1.0e308
        self._heap: list[tuple] = []  # (-price, arrival, hash, sender), lazily cleaned

    # ------------------------------------------------------------------ internals
    def __len__(self) -> int:
        return len(self.by_hash)

    def _touch(self, sid: int) -> None:
        """After sender `sid` changed: drop an empty record with exec 0, refresh heap."""
        st = self.senders.get(sid)
        if st is None:
            return
        if not st.txs:
            st.hkey = None
            if st.exec == 0:
                del self.senders[sid]
            return
        head = st.txs[st.order[0]]
        if head.nonce == st.exec + 1:
            key = (-head.price, head.arrival, head.hash, sid)
            if key != st.hkey:
                st.hkey = key
                heapq.heappush(self._heap, key)
        else:
            st.hkey = None
        if len(self._heap) > 2 * len(self.senders) + 1024:
            self._heap = [s.hkey for s in self.senders.values() if s.hkey is not None]
            heapq.heapify(self._heap)

    def _unlink(self, tx: RefTx) -> None:
        st = self.senders[tx.sender]
        del st.txs[tx.nonce]
        st.order.remove(tx.nonce)
        if st.exec < tx.nonce <= st.ready_end:
            st.ready_end = tx.nonce - 1  # a gap: later nonces wait until it is filled
        del self.by_hash[tx.hash]
        del self.arrivals[tx.hash]
        self.bytes -= tx.size

    def _find_victims(self, sid: int, nonce: int, price: int, t_ready: bool,
                      need_count: int, need_bytes: int) -> list[RefTx] | int:
        taken: dict[int, int] = {}
        count, nbytes = len(self.by_hash), self.bytes
        victims: list[RefTx] = []
        while count + need_count > self.capacity or nbytes + need_bytes > self.capacity_bytes:
            best = None
            for s_id, st in self.senders.items():
                left = len(st.order) - taken.get(s_id, 0)
                if left <= 0:
                    continue
                tx = st.txs[st.order[left - 1]]
                ready = tx.nonce <= st.ready_end
                key = (ready, tx.price, -tx.arrival, _inv(tx.hash))
                if best is None or key < best[0]:
                    best = (key, s_id, tx, ready)
            if best is None:
                return POOL_FULL
            _, s_id, tx, ready = best
            if s_id == sid and tx.nonce <= nonce:
                return POOL_FULL
            if ready and not t_ready:
                return POOL_FULL
            if ready == t_ready and tx.price >= price:
                return UNDERPRICED
            victims.append(tx)
            taken[s_id] = taken.get(s_id, 0) + 1
            count -= 1
            nbytes -= tx.size
        return victims

    def _add_one(self, h: bytes, sid: int, nonce: int, price: int, size: int,
                 arrival: float) -> int:
        if h in self.by_hash:
            return DUPLICATE
        st = self.senders.get(sid)
        exec_ = st.exec if st is not None else 0
        if nonce <= exec_:
            return NONCE_TOO_LOW
        if nonce - exec_ > self.max_nonce_gap:
            return NONCE_TOO_HIGH
        old = st.txs.get(nonce) if st is not None else None
        if old is None and st is not None and len(st.txs) >= self.per_sender_limit:
            return SENDER_FULL
        bumped = old is not None and price > old.price and \
            price * 10000 >= old.price * (10000 + self.bump_bps)
        if old is not None and not bumped:
            return UNDERPRICED
        if size > self.capacity_bytes:
            return POOL_FULL
        ready_end = st.ready_end if st is not None else exec_
        t_ready = nonce <= ready_end + 1
        need_count = 1 if old is None else 0
        need_bytes = size - (old.size if old is not None else 0)
        if (len(self.by_hash) + need_count > self.capacity
                or self.bytes + need_bytes > self.capacity_bytes):
            victims = self._find_victims(sid, nonce, price, t_ready, need_count, need_bytes)
            if isinstance(victims, int):
                return victims
            for v in victims:
                self._unlink(v)
                self._touch(v.sender)
        tx = RefTx(h, sid, nonce, price, size, arrival)
        if old is not None:
            st = self.senders[sid]
            self._unlink(old)
            st.txs[nonce] = tx
            bisect.insort(st.order, nonce)
            st.recompute_ready()
            self.by_hash[h] = tx
            self.arrivals[h] = tx
            self.bytes += size
            self._touch(sid)
            return REPLACED
        st = self.senders.get(sid)
        if st is None:
            st = self.senders[sid] = RefSender()
        st.txs[nonce] = tx
        bisect.insort(st.order, nonce)
        if nonce == st.ready_end + 1:
            st.recompute_ready()
        self.by_hash[h] = tx
        self.arrivals[h] = tx
        self.bytes += size
        self._touch(sid)
        return ACCEPTED

    # ------------------------------------------------------------------ API
    def add_batch(self, hashes, senders, nonces, gas_prices, sizes, now: float) -> list[int]:
        if not math.isfinite(now):
            raise ValueError("now must be finite")
        if len(hashes) == 0:
            return []  # an empty batch is a no-op (it does not advance the arrival clock)
        arrival = max(now, self.last_arrival)
        self.last_arrival = arrival
        out = []
        for h, s, n, p, z in zip(hashes, senders, nonces, gas_prices, sizes):
            out.append(self._add_one(bytes(h), int(s), int(n), int(p), int(z), arrival))
        return out

    def _set(self, senders, nonces, monotonic: bool) -> None:
        for s, n in zip(senders, nonces):
            sid, n = int(s), int(n)
            st = self.senders.get(sid)
            if st is None:
                if n != 0:
                    self.senders[sid] = RefSender(exec=n, ready_end=n)
                continue
            st.exec = max(st.exec, n) if monotonic else n
            while st.order and st.order[0] <= st.exec:
                self._unlink(st.txs[st.order[0]])
            st.recompute_ready()
            self._touch(sid)

    def set_nonces(self, senders, nonces) -> None:
        self._set(senders, nonces, False)

    def on_commit(self, senders, nonces) -> None:
        self._set(senders, nonces, True)

    def _valid(self, entry: tuple) -> bool:
        st = self.senders.get(entry[3])
        return st is not None and st.hkey == entry

    def select(self, max_txs: int, max_bytes: int) -> list[bytes]:
        heap = self._heap
        out: list[bytes] = []
        used = 0
        taken: list[tuple] = []  # valid entries popped; pushed back at the end
        seen: set[int] = set()
        chain: list[tuple] = []  # later nonces of senders already started
        while len(out) < max_txs:
            while heap and (not self._valid(heap[0]) or heap[0][3] in seen):
                heapq.heappop(heap)  # stale or duplicate: safe to drop for good
            if heap and (not chain or heap[0] < chain[0]):
                src = heap
            elif chain:
                src = chain
            else:
                break
            _, _, h, sid = src[0]
            tx = self.by_hash[h]
            if tx.size > max_bytes - used:
                break
            entry = heapq.heappop(src)
            if src is heap:
                taken.append(entry)
                seen.add(sid)
            out.append(h)
            used += tx.size
            st = self.senders[sid]
            nxt = tx.nonce + 1
            if nxt <= st.ready_end:
                n = st.txs[nxt]
                heapq.heappush(chain, (-n.price, n.arrival, n.hash, sid))
        for entry in taken:
            heapq.heappush(heap, entry)
        return out

    def remove(self, hashes) -> int:
        got = 0
        for h in hashes:
            tx = self.by_hash.get(bytes(h))
            if tx is None:
                continue
            self._unlink(tx)
            self._touch(tx.sender)
            got += 1
        return got

    def expire(self, now: float) -> int:
        got = 0
        while self.arrivals:
            tx = next(iter(self.arrivals.values()))
            if not now - tx.arrival > self.ttl:
                break
            self._unlink(tx)
            self._touch(tx.sender)
            got += 1
        return got

    def __contains__(self, h) -> bool:
        return bytes(h) in self.by_hash

    def pending(self, sender: int) -> list[bytes]:
        st = self.senders.get(sender)
        return [] if st is None else [st.txs[n].hash for n in st.order]

    def executed_nonce(self, sender: int) -> int:
        st = self.senders.get(sender)
        return 0 if st is None else st.exec

    def stats(self) -> dict:
        return {
            "count": len(self.by_hash),
            "bytes": self.bytes,
            "senders": sum(1 for st in self.senders.values() if st.txs),
            "known_senders": len(self.senders),
            "ready": sum(st.ready_end - st.exec for st in self.senders.values() if st.txs),
        }
