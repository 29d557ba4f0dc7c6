"""Transaction gossip: TX_BATCH frames of opaque transaction blobs, duplicate suppression.

TX_BATCH payload (big-endian): count u32, then count × (length u32, blob). A transaction
is identified by SHA-256 of its blob (the whole envelope, hashed in one native batch per
frame). ``seen`` remembers recent hashes (bounded, `HashGenerations`) so a transaction is
handed to the node once; each peer has a bounded ``known`` set of hashes it sent us or we
sent it, so a transaction is never sent back to a peer that has it. Callers that relay
pass the blob hashes that `receive` returned, so the two sides use the same identity.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Callable, Iterable, Sequence

import numpy as np

from core_ext.hashing import sha256_many
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
    if not isinstance(payload, bytes):
        payload = bytes(payload)
    n = len(payload)
    if n < 4:
        raise BatchError("TX_BATCH shorter than its count")
    count = _U32.unpack_from(payload, 0)[0]
    if count > max_txs:
        raise BatchError(f"TX_BATCH of {count} transactions exceeds {max_txs}")
    if count * 4 > n - 4:
        raise BatchError(f"TX_BATCH count {count} does not fit {n} bytes")
    out: list[bytes] = []
    append = out.append
    unpack = _U32.unpack_from
    pos = 4
    for _ in range(count):
        if pos + 4 > n:
            raise BatchError("TX_BATCH truncated in a length")
        ln = unpack(payload, pos)[0]
        pos += 4
        end = pos + ln
        if ln == 0 or end > n:
            raise BatchError("TX_BATCH transaction empty or truncated")
        append(payload[pos:end])  # a bytes slice: one copy, no memoryview in between
        pos = end
    if pos != n:
        raise BatchError(f"TX_BATCH has {n - pos} trailing bytes")
    return out


class HashGenerations:
    """A bounded set of hashes kept as two generations of plain sets.

    New hashes go into the current generation; when it holds ``capacity // 2`` it becomes
    the old one and the previous old generation is forgotten whole. A hash found only in
    the old generation is copied into the current one when added again, so what is still
    being seen stays remembered (approximately least-recently-used). It always remembers
    at least the ``capacity // 2`` most recently added hashes and holds at most
    ``capacity`` plus one call's worth. Batch methods are set operations in C: no Python
    work per hash as with an ordered dict.
    """

    __slots__ = ("capacity", "_half", "_cur", "_old")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._half = max(1, capacity // 2)
        self._cur: set[bytes] = set()
        self._old: set[bytes] = set()

    def _rotate(self) -> None:
        if len(self._cur) >= self._half:
            self._old = self._cur
            self._cur = set()

    def add(self, h: bytes) -> bool:
        """Insert; False when it was already there (it is remembered afresh)."""
        cur = self._cur
        if h in cur:
            return False
        new = h not in self._old
        cur.add(h)
        self._rotate()
        return new

    def update(self, hs: Iterable[bytes]) -> None:
        self._cur.update(hs)
        self._rotate()

    def missing(self, hs: Iterable[bytes]) -> set[bytes]:
        """The hashes of ``hs`` that are not in the set."""
        return set(hs).difference(self._cur, self._old)

    def __contains__(self, h: object) -> bool:
        return h in self._cur or h in self._old

    def __len__(self) -> int:
        return len(self._cur) + len(self._old - self._cur) if self._old else len(self._cur)


def sha256_each(blobs: Sequence[bytes]) -> list[bytes]:
    """SHA-256 of every blob, in one native batch (core_ext.hashing.sha256_many)."""
    n = len(blobs)
    if n == 0:
        return []
    if n == 1:
        return [hashlib.sha256(blobs[0]).digest()]
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, blobs), dtype=np.int64, count=n), out=off[1:])
    out = sha256_many(b"".join(blobs), off, threads=1).tobytes()
    return [out[i:i + 32] for i in range(0, 32 * n, 32)]


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
        self.seen = HashGenerations(seen_capacity or cfg.gossip_seen_capacity)
        self.known_capacity = known_capacity or cfg.gossip_known_capacity
        self.batch_max_txs = batch_max_txs or cfg.gossip_batch_max_txs
        if hash_fn is None:
            self._hash_many: Callable[[Sequence[bytes]], list[bytes]] = sha256_each
        else:
            self._hash_many = lambda blobs: [hash_fn(b) for b in blobs]
        self._known: dict[bytes, HashGenerations] = {}
        self.received = 0  # transactions received
        self.duplicates = 0  # of those, already seen
        self.sent = 0  # transactions sent (summed over peers)
        self.malformed = 0

    def known(self, peer_key: bytes) -> HashGenerations:
        k = self._known.get(peer_key)
        if k is None:
            k = self._known[peer_key] = HashGenerations(self.known_capacity)
        return k

    def on_peer_down(self, peer_key: bytes) -> None:
        self._known.pop(peer_key, None)

    def on_batch(self, peer_key: bytes, payload: bytes) -> list[bytes]:
        """A TX_BATCH from ``peer_key``: the blobs not seen before (now marked seen). A
        malformed batch lowers the peer's score and yields nothing."""
        return self.receive(peer_key, payload)[0]

    def receive(self, peer_key: bytes, payload: bytes) -> tuple[list[bytes], list[bytes]]:
        """`on_batch`, also returning the new blobs' hashes (for `broadcast`)."""
        try:
            blobs = decode_tx_batch(payload, self.batch_max_txs)
        except BatchError as e:
            self.malformed += 1
            self.net.report(peer_key, PENALTY_BAD_BATCH, str(e))
            return [], []
        hs = self._hash_many(blobs)
        self.known(peer_key).update(hs)
        seen = self.seen
        fresh = seen.missing(hs)
        self.received += len(blobs)
        if not fresh:
            self.duplicates += len(blobs)
            seen.update(hs)
            return [], []
        new: list[bytes] = []
        new_h: list[bytes] = []
        if len(fresh) == len(hs):
            new, new_h = blobs, hs  # the usual case: all new, no repeats inside the frame
        else:
            for b, d in zip(blobs, hs):
                if d in fresh:
                    fresh.discard(d)  # a repeat inside the frame counts once
                    new.append(b)
                    new_h.append(d)
        seen.update(hs)
        self.duplicates += len(blobs) - len(new)
        return new, new_h

    def submit(self, blobs: Iterable[bytes]) -> list[bytes]:
        """Local transactions: mark seen, send the new ones to every peer; returns them."""
        blobs = list(blobs)
        hs = self._hash_many(blobs)
        fresh = self.seen.missing(hs)
        new: list[bytes] = []
        new_h: list[bytes] = []
        for b, d in zip(blobs, hs):
            if d in fresh:
                fresh.discard(d)
                new.append(b)
                new_h.append(d)
        if new:
            self.broadcast(new, new_h)
        return new

    def broadcast(self, blobs: Sequence[bytes], hashes: Sequence[bytes] | None = None, *,
                  to_validators: bool = True) -> int:
        """Send transactions to each peer that does not know them; returns frames queued.

        ``hashes`` are the blobs' gossip hashes (SHA-256 of each blob, as `receive`
        returns them); computed here when not given. ``to_validators=False`` sends only
        to full-node peers (a relay of what a validator sent us: see `relay`)."""
        if not blobs:
            return 0
        hs = list(hashes) if hashes is not None else self._hash_many(blobs)
        self.seen.update(hs)
        frames = 0
        shared: list[bytes] | None = None  # encoded once for peers that know none of them
        validators = self.net.validators
        for key in self.net.peer_keys():
            if not to_validators and key in validators:
                continue
            known = self.known(key)
            lacking = known.missing(hs)
            if not lacking:
                continue
            known.update(lacking)
            if len(lacking) == len(hs):
                if shared is None:
                    shared = self._encode(blobs)
                payloads = shared
                count = len(blobs)
            else:
                sub = [b for b, d in zip(blobs, hs) if d in lacking]
                payloads = self._encode(sub)
                count = len(sub)
            for p in payloads:
                if self.net.send(key, Kind.TX_BATCH, p):
                    frames += 1
            self.sent += count
        return frames

    def relay(self, blobs: Sequence[bytes], hashes: Sequence[bytes], origins: Sequence[bytes | None]) -> int:
        """Pass on transactions the pool took, each from its origin peer (None: a local
        client); returns frames queued.

        The validator that takes a transaction from a client or a full node sends it to
        every validator itself, so a validator relaying what another validator sent it
        only multiplies each transaction by the mesh (in a 4-validator net each one
        received every transaction from all three others). Those go to full-node peers
        only, unless `gossip_validator_relay` is on. Nothing is lost when a link is down:
        a proposal carries every transaction it orders."""
        validators = self.net.validators
        if self.net.config.gossip_validator_relay or not any(o is not None and o in validators for o in origins):
            return self.broadcast(blobs, hashes)
        wide_b: list[bytes] = []
        wide_h: list[bytes] = []
        narrow_b: list[bytes] = []
        narrow_h: list[bytes] = []
        for b, h, o in zip(blobs, hashes, origins):
            if o is not None and o in validators:
                narrow_b.append(b)
                narrow_h.append(h)
            else:
                wide_b.append(b)
                wide_h.append(h)
        return self.broadcast(wide_b, wide_h) + self.broadcast(narrow_b, narrow_h, to_validators=False)

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


__all__ = ["BatchError", "HashGenerations", "TxGossip", "decode_tx_batch", "encode_tx_batch",
           "sha256_each"]
