"""Transaction gossip: TX_BATCH frames of opaque transaction blobs, duplicate suppression.

TX_BATCH payload (big-endian): count u32, then count × (length u32, blob). A transaction
is identified by SHA-256 of its blob. ``seen`` remembers recent hashes (bounded LRU) so a
transaction is handed to the node once; each peer has a bounded ``known`` set of hashes
it sent us or we sent it, so a transaction is never sent back to a peer that has it.
"""
from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from typing import Callable, Iterable, Sequence

from mbi.p2p.kinds import Kind
from mbi.p2p.network import Network

_U32 = struct.Struct(">I")
PENALTY_BAD_BATCH = 40.0


class BatchError(ValueError):
    """A TX_BATCH payload that does not parse."""


def encode_tx_batch(blobs: Sequence[bytes]) -> bytes:
    parts = [_U32.pack(len(blobs))]
    for b in blobs:
        parts.append(_U32.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


def decode_tx_batch(payload: bytes, max_txs: int) -> list[bytes]:
    n = len(payload)
    if n < 4:
        raise BatchError("TX_BATCH shorter than its count")
    count = _U32.unpack_from(payload, 0)[0]
    if count > max_txs:
        raise BatchError(f"TX_BATCH of {count} transactions exceeds {max_txs}")
    if count * 4 > n - 4:
        raise BatchError(f"TX_BATCH count {count} does not fit {n} bytes")
    out: list[bytes] = []
    pos = 4
    mv = memoryview(payload)
    for _ in range(count):
        if pos + 4 > n:
            raise BatchError("TX_BATCH truncated in a length")
        ln = _U32.unpack_from(payload, pos)[0]
        pos += 4
        if ln == 0 or pos + ln > n:
            raise BatchError("TX_BATCH transaction empty or truncated")
        out.append(bytes(mv[pos:pos + ln]))
        pos += ln
    if pos != n:
        raise BatchError(f"TX_BATCH has {n - pos} trailing bytes")
    return out


class HashLRU:
    """A bounded set of hashes; the least recently used is forgotten first."""

    __slots__ = ("capacity", "_d")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._d: OrderedDict[bytes, None] = OrderedDict()

    def add(self, h: bytes) -> bool:
        """Insert; False when it was already there (it becomes the most recent)."""
        d = self._d
        if h in d:
            d.move_to_end(h)
            return False
        d[h] = None
        if len(d) > self.capacity:
            d.popitem(last=False)
        return True

    def __contains__(self, h: object) -> bool:
        return h in self._d

    def __len__(self) -> int:
        return len(self._d)


class TxGossip:
    """Batches transactions to peers and filters the ones we have already seen.

    The node calls ``on_batch`` for every TX_BATCH it receives (it returns the blobs new
    to us, for verification), then ``broadcast`` with those that verified; ``submit``
    is for transactions from local clients. ``on_peer_down`` forgets a peer's set.
    """

    def __init__(self, network: Network, *, seen_capacity: int | None = None,
                 known_capacity: int | None = None, batch_max_txs: int | None = None,
                 hash_fn: Callable[[bytes], bytes] | None = None) -> None:
        cfg = network.config
        self.net = network
        self.seen = HashLRU(seen_capacity or cfg.gossip_seen_capacity)
        self.known_capacity = known_capacity or cfg.gossip_known_capacity
        self.batch_max_txs = batch_max_txs or cfg.gossip_batch_max_txs
        self._hash = hash_fn or (lambda b: hashlib.sha256(b).digest())
        self._known: dict[bytes, HashLRU] = {}
        self.received = 0  # transactions received
        self.duplicates = 0  # of those, already seen
        self.sent = 0  # transactions sent (summed over peers)
        self.malformed = 0

    def known(self, peer_key: bytes) -> HashLRU:
        k = self._known.get(peer_key)
        if k is None:
            k = self._known[peer_key] = HashLRU(self.known_capacity)
        return k

    def on_peer_down(self, peer_key: bytes) -> None:
        self._known.pop(peer_key, None)

    def on_batch(self, peer_key: bytes, payload: bytes) -> list[bytes]:
        """A TX_BATCH from ``peer_key``: the blobs not seen before (now marked seen). A
        malformed batch lowers the peer's score and yields nothing."""
        try:
            blobs = decode_tx_batch(payload, self.batch_max_txs)
        except BatchError as e:
            self.malformed += 1
            self.net.report(peer_key, PENALTY_BAD_BATCH, str(e))
            return []
        known = self.known(peer_key)
        seen = self.seen
        h = self._hash
        new = []
        for b in blobs:
            d = h(b)
            known.add(d)
            if seen.add(d):
                new.append(b)
        self.received += len(blobs)
        self.duplicates += len(blobs) - len(new)
        return new

    def submit(self, blobs: Iterable[bytes]) -> list[bytes]:
        """Local transactions: mark seen, send the new ones to every peer; returns them."""
        h = self._hash
        new = [b for b in blobs if self.seen.add(h(b))]
        if new:
            self.broadcast(new)
        return new

    def broadcast(self, blobs: Sequence[bytes], hashes: Sequence[bytes] | None = None) -> int:
        """Send transactions to each peer that does not know them; returns frames queued."""
        if not blobs:
            return 0
        hs = list(hashes) if hashes is not None else [self._hash(b) for b in blobs]
        for d in hs:
            self.seen.add(d)
        frames = 0
        shared: list[bytes] | None = None  # encoded once for peers that know none of them
        for key in self.net.peer_keys():
            known = self.known(key)
            fresh = [i for i, d in enumerate(hs) if d not in known]
            if not fresh:
                continue
            for i in fresh:
                known.add(hs[i])
            if len(fresh) == len(blobs):
                if shared is None:
                    shared = self._encode(blobs)
                payloads = shared
            else:
                payloads = self._encode([blobs[i] for i in fresh])
            for p in payloads:
                if self.net.send(key, Kind.TX_BATCH, p):
                    frames += 1
            self.sent += len(fresh)
        return frames

    def _encode(self, blobs: Sequence[bytes]) -> list[bytes]:
        """Split into TX_BATCH payloads within batch_max_txs and max_frame_bytes."""
        limit = self.net.config.max_frame_bytes
        out: list[bytes] = []
        chunk: list[bytes] = []
        size = 4
        for b in blobs:
            need = 4 + len(b)
            if 4 + need > limit:
                continue  # a blob larger than any frame cannot be gossiped
            if chunk and (len(chunk) >= self.batch_max_txs or size + need > limit):
                out.append(encode_tx_batch(chunk))
                chunk, size = [], 4
            chunk.append(b)
            size += need
        if chunk:
            out.append(encode_tx_batch(chunk))
        return out


__all__ = ["BatchError", "HashLRU", "TxGossip", "decode_tx_batch", "encode_tx_batch"]
