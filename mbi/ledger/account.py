"""Account state and its canonical encoding (the state-tree leaf preimage).

Canonical encoding, version 1 (all integers big-endian, two's complement):

    u8  version = 1
    u8  len(address) ‖ address (ASCII)
    i64 nonce ‖ i64 balance ‖ i64 master_weight ‖ i64 tx_threshold
    u16 n ‖ n × (u8 len ‖ signer address ‖ i64 weight)      sorted by address
    u16 m ‖ m × (u8 operation type ‖ i64 threshold)          sorted by type
    32  assets_hash    (zeros when the account holds no assets)
    32  metadata_hash  (zeros when it has no metadata)

assets_hash   = SHA-256 of the concatenated entry digests, assets sorted by (issuer, code)
                as UTF-8 bytes; entry digest = SHA-256(u16 len ‖ issuer ‖ u16 len ‖ code ‖ i64 amount)
metadata_hash = SHA-256 of the concatenated entry digests, entries sorted by key (UTF-8
                bytes); entry digest = SHA-256(u16 len ‖ key ‖ u32 len ‖ value ‖ i64 version)

Hashing digests rather than the entries themselves lets one change be folded in by
re-hashing 32 bytes per entry (set_asset / set_meta keep the sorted digest list), so an
account with many or large entries cannot make every later change to it expensive.

Dict fields (signers, type_thresholds, assets, metadata) are copy-on-write: an account
object reachable from committed state is never mutated; execution clones it and replaces
a dict before changing it. That makes clones and undo snapshots O(1).
"""
from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left

_sha256 = hashlib.sha256
ZERO32 = b"\0" * 32
VERSION = 1

_FIXED = struct.Struct(">qqqq")
_I64 = struct.Struct(">q")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
# Suffix of an account with no signers, no type thresholds, no assets and no metadata:
# the common case, packed once.
_EMPTY_TAIL = b"\0\0" + b"\0\0" + ZERO32 + ZERO32


class Account:
    __slots__ = ("address", "index", "nonce", "balance", "master_weight", "tx_threshold",
                 "signers", "type_thresholds", "assets", "metadata", "_ahash", "_mhash", "_prefix")

    def __init__(self, address: str, index: int, nonce: int = 0, balance: int = 0,
                 master_weight: int = 1, tx_threshold: int = 1,
                 signers: dict[str, int] | None = None,
                 type_thresholds: dict[int, int] | None = None,
                 assets: dict[tuple[str, str], int] | None = None,
                 metadata: dict[str, tuple[str, int]] | None = None) -> None:
        self.address = address
        self.index = index
        self.nonce = nonce
        self.balance = balance
        self.master_weight = master_weight
        self.tx_threshold = tx_threshold
        self.signers = signers if signers is not None else _EMPTY_SIGNERS
        self.type_thresholds = type_thresholds if type_thresholds is not None else _EMPTY_TT
        self.assets = assets if assets is not None else _EMPTY_ASSETS
        self.metadata = metadata if metadata is not None else _EMPTY_MD
        self._ahash: tuple[object, bytes] | None = None
        self._mhash: tuple[object, bytes] | None = None
        ab = address.encode("ascii")
        if len(ab) > 255:
            raise ValueError(f"address too long for the account encoding: {len(ab)} bytes")
        self._prefix = bytes((VERSION, len(ab))) + ab  # constant part of encode()

    def clone(self) -> "Account":
        a = Account.__new__(Account)
        a.address = self.address
        a.index = self.index
        a.nonce = self.nonce
        a.balance = self.balance
        a.master_weight = self.master_weight
        a.tx_threshold = self.tx_threshold
        a.signers = self.signers
        a.type_thresholds = self.type_thresholds
        a.assets = self.assets
        a.metadata = self.metadata
        a._ahash = self._ahash
        a._mhash = self._mhash
        a._prefix = self._prefix
        return a

    def snapshot(self) -> tuple:
        return (self.nonce, self.balance, self.master_weight, self.tx_threshold, self.signers,
                self.type_thresholds, self.assets, self.metadata)

    def restore(self, snap: tuple) -> None:
        (self.nonce, self.balance, self.master_weight, self.tx_threshold, self.signers,
         self.type_thresholds, self.assets, self.metadata) = snap

    # -- side tables -----------------------------------------------------------------
    # _ahash/_mhash cache (table dict, sorted keys, entry digests, hash) for the dict object
    # they were computed from; clones share the cache, and every update builds new lists.
    def assets_hash(self) -> bytes:
        assets = self.assets
        if not assets:
            return ZERO32
        c = self._ahash
        if c is not None and c[0] is assets:
            return c[3]
        keys, digs = _asset_table(assets)
        c = self._ahash = (assets, keys, digs, _sha256(b"".join(digs)).digest())
        return c[3]

    def metadata_hash(self) -> bytes:
        md = self.metadata
        if not md:
            return ZERO32
        c = self._mhash
        if c is not None and c[0] is md:
            return c[3]
        keys, digs = _meta_table(md)
        c = self._mhash = (md, keys, digs, _sha256(b"".join(digs)).digest())
        return c[3]

    def set_asset(self, key: tuple[str, str], amount: int) -> None:
        """Set a holding (0 removes it): copy-on-write, digest folded in incrementally."""
        old = self.assets
        new = dict(old)
        if amount:
            new[key] = amount
        else:
            new.pop(key, None)
        self.assets = new
        c = self._ahash
        if c is not None and c[0] is old and new:
            kb = (key[0].encode(), key[1].encode())
            keys, digs = list(c[1]), list(c[2])
            _fold(keys, digs, kb, _asset_entry(kb[0], kb[1], amount) if amount else None)
            self._ahash = (new, keys, digs, _sha256(b"".join(digs)).digest())

    def set_meta(self, key: str, entry: tuple[str, int] | None) -> None:
        """Set (value, version) for a key, or delete it with None; as set_asset."""
        old = self.metadata
        new = dict(old)
        if entry is not None:
            new[key] = entry
        else:
            new.pop(key, None)
        self.metadata = new
        c = self._mhash
        if c is not None and c[0] is old and new:
            kb = key.encode()
            keys, digs = list(c[1]), list(c[2])
            _fold(keys, digs, kb, _meta_entry(kb, entry[0], entry[1]) if entry is not None else None)
            self._mhash = (new, keys, digs, _sha256(b"".join(digs)).digest())

    def encode(self) -> bytes:
        head = self._prefix + _FIXED.pack(self.nonce, self.balance, self.master_weight, self.tx_threshold)
        if not self.signers and not self.type_thresholds and not self.assets and not self.metadata:
            return head + _EMPTY_TAIL
        parts = [head, _U16.pack(len(self.signers))]
        for a in sorted(self.signers):
            ab = a.encode("ascii")
            parts.append(bytes((len(ab),)) + ab + _I64.pack(self.signers[a]))
        parts.append(_U16.pack(len(self.type_thresholds)))
        for t in sorted(self.type_thresholds):
            parts.append(bytes((t,)) + _I64.pack(self.type_thresholds[t]))
        parts.append(self.assets_hash())
        parts.append(self.metadata_hash())
        return b"".join(parts)

    def leaf(self) -> bytes:
        """SHA-256 of the canonical encoding: this account's entry in the state tree."""
        return _sha256(self.encode()).digest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Account):
            return NotImplemented
        return (self.index == other.index and self.encode() == other.encode()
                and self.assets == other.assets and self.metadata == other.metadata)

    def __repr__(self) -> str:
        return (f"Account({self.address!r}, index={self.index}, nonce={self.nonce}, "
                f"balance={self.balance})")


def encode_many(accts: list[Account]) -> list[bytes]:
    """[a.encode() for a in accts], with the common account (no signers, thresholds,
    assets or metadata) encoded inline: the state update encodes every account a block
    touches, and the method call was a good part of it."""
    pack = _FIXED.pack
    tail = _EMPTY_TAIL
    return [a._prefix + pack(a.nonce, a.balance, a.master_weight, a.tx_threshold) + tail
            if not (a.signers or a.type_thresholds or a.assets or a.metadata) else a.encode()
            for a in accts]


_EMPTY_SIGNERS: dict[str, int] = {}
_EMPTY_TT: dict[int, int] = {}
_EMPTY_ASSETS: dict[tuple[str, str], int] = {}
_EMPTY_MD: dict[str, tuple[str, int]] = {}


def _asset_entry(ib: bytes, cb: bytes, amount: int) -> bytes:
    return _sha256(_U16.pack(len(ib)) + ib + _U16.pack(len(cb)) + cb + _I64.pack(amount)).digest()


def _meta_entry(kb: bytes, value: str, version: int) -> bytes:
    vb = value.encode()
    return _sha256(_U16.pack(len(kb)) + kb + _U32.pack(len(vb)) + vb + _I64.pack(version)).digest()


def _fold(keys: list, digs: list[bytes], key: object, dig: bytes | None) -> None:
    """Insert, replace (dig) or remove (None) `key` in the parallel sorted lists."""
    i = bisect_left(keys, key)
    present = i < len(keys) and keys[i] == key
    if dig is None:
        if present:
            del keys[i]
            del digs[i]
    elif present:
        digs[i] = dig
    else:
        keys.insert(i, key)
        digs.insert(i, dig)


def _asset_table(assets: dict[tuple[str, str], int]) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """(keys as UTF-8 byte pairs, sorted; their entry digests): what assets_hash hashes."""
    keys = sorted((i.encode(), c.encode()) for i, c in assets)
    return keys, [_asset_entry(ib, cb, assets[(ib.decode(), cb.decode())]) for ib, cb in keys]


def _meta_table(md: dict[str, tuple[str, int]]) -> tuple[list[bytes], list[bytes]]:
    """(keys as UTF-8 bytes, sorted; their entry digests): what metadata_hash hashes."""
    keys = sorted(k.encode() for k in md)
    return keys, [_meta_entry(kb, *md[kb.decode()]) for kb in keys]


def assets_digest(assets: dict[tuple[str, str], int]) -> bytes:
    """assets_hash computed from scratch (the definition; Account caches and folds)."""
    if not assets:
        return ZERO32
    return _sha256(b"".join(_asset_table(assets)[1])).digest()


def metadata_digest(md: dict[str, tuple[str, int]]) -> bytes:
    """metadata_hash computed from scratch."""
    if not md:
        return ZERO32
    return _sha256(b"".join(_meta_table(md)[1])).digest()


class AccountDecodeError(ValueError):
    pass


def decode_account(data: bytes, index: int) -> Account:
    """Rebuild an Account (without its assets/metadata tables) from its canonical bytes.

    Returns the account plus nothing else; the caller attaches assets and metadata and
    should check ``encode()`` round-trips, which also checks the side-table hashes.
    """
    try:
        if data[0] != VERSION:
            raise AccountDecodeError(f"account encoding version {data[0]}, expected {VERSION}")
        alen = data[1]
        address = data[2:2 + alen].decode("ascii")
        p = 2 + alen
        nonce, balance, mw, txt = _FIXED.unpack_from(data, p)
        p += 32
        (ns,) = _U16.unpack_from(data, p)
        p += 2
        signers: dict[str, int] = {}
        for _ in range(ns):
            ln = data[p]
            a = data[p + 1:p + 1 + ln].decode("ascii")
            p += 1 + ln
            (signers[a],) = _I64.unpack_from(data, p)
            p += 8
        (nt,) = _U16.unpack_from(data, p)
        p += 2
        tts: dict[int, int] = {}
        for _ in range(nt):
            t = data[p]
            (tts[t],) = _I64.unpack_from(data, p + 1)
            p += 9
        p += 64
        if p != len(data):
            raise AccountDecodeError(f"account encoding has {len(data) - p} trailing bytes")
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise AccountDecodeError(f"truncated or malformed account encoding: {exc}") from None
    return Account(address, index, nonce, balance, mw, txt, signers or None, tts or None)
