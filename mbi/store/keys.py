"""The on-disk schema of the MBI store: column families, keys and the store's own framings.

This is the only module that knows how keys are laid out. Every key starts with one
prefix byte naming its family; integers are fixed-width big-endian, so RocksDB's
bytewise order is numeric order (header 9 sorts before header 10). Variable-length
strings that are followed by more key material are length-prefixed with one byte, so a
prefix scan over one address can never run into another address that merely starts
with the same characters.

Values written by the ledger (headers, envelopes, account encodings, metadata values)
are opaque bytes here; the store frames them only with the few integers it must keep
alongside (creation index, version, the transaction's result fields).

See ``docs/storage.md`` for the table of families.
"""
from __future__ import annotations

import struct
from typing import Final

# Bump when any key layout or framing below changes; an older/newer DB refuses to open.
FORMAT_VERSION: Final = 2  # 2: accounts moved from mbi_state to their own family
# Stored under META_MAGIC; a RocksDB without it is not ours.
MAGIC: Final = b"MBI-CORE-STORE\x00v1"

# Column families. Separate families let each be tuned for its access pattern (bloom
# filters for the hash-keyed ones, big write buffers for the bulky ones) and let a
# non-MBI RocksDB be recognised by its family list alone.
CF_META: Final = "mbi_meta"  # magic, format, chain id, tip, counters, user metadata
CF_BLOCKS: Final = "mbi_blocks"  # headers, per-ledger tx lists, header-hash index
CF_TXS: Final = "mbi_txs"  # transaction records by hash
CF_STATE: Final = "mbi_state"  # account index, assets, metadata
# Accounts by address: only ever read by key (never scanned), like tx records, so both
# families can use a hash memtable (db._cf_options), which the scanned ones cannot.
CF_ACCOUNTS: Final = "mbi_accounts"
COLUMN_FAMILIES: Final = (CF_META, CF_BLOCKS, CF_TXS, CF_STATE, CF_ACCOUNTS)
POINT_READ_FAMILIES: Final = (CF_TXS, CF_ACCOUNTS)

# --- prefix bytes -----------------------------------------------------------------
# CF_META
P_META_INTERNAL: Final = b"m"
P_META_USER: Final = b"u"
# CF_BLOCKS
P_HEADER: Final = b"H"  # + seq u64      -> serialized header
P_LEDGER_TXS: Final = b"L"  # + seq u64  -> concatenated 32-byte tx hashes, in order
P_BLOCK_HASH: Final = b"B"  # + hash32   -> seq u64
# CF_TXS
P_TX: Final = b"T"  # + hash32 -> TX_HEAD + error_desc + envelope
# CF_ACCOUNTS
P_ACCOUNT: Final = b"A"  # + address         -> index u64 + encoded account
# CF_STATE
P_ACCOUNT_INDEX: Final = b"I"  # + index u64 -> address
P_ASSET: Final = b"S"  # + len8 address + len8 issuer + code -> amount i64
P_METADATA: Final = b"M"  # + len8 address + key            -> version i64 + value

META_MAGIC: Final = P_META_INTERNAL + b"magic"
META_FORMAT: Final = P_META_INTERNAL + b"format_version"
META_CHAIN_ID: Final = P_META_INTERNAL + b"chain_id"
META_TIP: Final = P_META_INTERNAL + b"tip"  # seq u64 + header hash (32)
META_ACCOUNT_COUNT: Final = P_META_INTERNAL + b"account_count"  # u64

HASH_LEN: Final = 32
U64_MAX: Final = (1 << 64) - 1
I64_MIN: Final = -(1 << 63)
I64_MAX: Final = (1 << 63) - 1

_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
# tx record head: framing version, ledger seq, index, error code, actual fee,
# close time, byte length of error_desc. Then error_desc (UTF-8), then the envelope.
TX_HEAD: Final = struct.Struct(">BQIiqqH")
TX_FRAMING: Final = 1
TIP: Final = struct.Struct(">Q32s")

pack_u64 = _U64.pack
unpack_u64 = _U64.unpack
pack_i64 = _I64.pack
unpack_i64 = _I64.unpack


def u64(n: int, what: str = "value") -> bytes:
    """Big-endian 8 bytes of an unsigned integer; byte order equals numeric order."""
    if type(n) is not int:  # bool and floats are a caller bug, not a number here
        raise TypeError(f"{what} must be an int, got {type(n).__name__}")
    if not 0 <= n <= U64_MAX:
        raise ValueError(f"{what} must be in [0, 2**64), got {n}")
    return _U64.pack(n)


def _hash32(h: bytes, what: str) -> bytes:
    if not isinstance(h, bytes):
        raise TypeError(f"{what} must be bytes, got {type(h).__name__}")
    if len(h) != HASH_LEN:
        raise ValueError(f"{what} must be {HASH_LEN} bytes, got {len(h)}")
    return h


def addr_bytes(address: str, what: str = "address") -> bytes:
    """An address as key material: ASCII, 1..255 bytes (it is length-prefixed with one byte)."""
    if not isinstance(address, str):
        raise TypeError(f"{what} must be a str, got {type(address).__name__}")
    try:
        b = address.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be ASCII, got {address!r}") from None
    if not 1 <= len(b) <= 255:
        raise ValueError(f"{what} must be 1..255 bytes, got {len(b)}")
    return b


# --- CF_BLOCKS ----------------------------------------------------------------------
def header_key(seq: int) -> bytes:
    return P_HEADER + u64(seq, "seq")


def ledger_txs_key(seq: int) -> bytes:
    return P_LEDGER_TXS + u64(seq, "seq")


def block_hash_key(header_hash: bytes) -> bytes:
    return P_BLOCK_HASH + _hash32(header_hash, "header hash")


def seq_from_block_key(key: bytes) -> int:
    """The seq of a P_HEADER / P_LEDGER_TXS key."""
    if len(key) != 9 or key[:1] not in (P_HEADER, P_LEDGER_TXS):
        raise ValueError(f"not a per-seq block key: {key!r}")
    return unpack_u64(key[1:])[0]


# --- CF_TXS ---------------------------------------------------------------------------
def tx_key(tx_hash: bytes) -> bytes:
    return P_TX + _hash32(tx_hash, "tx hash")


# --- CF_STATE -------------------------------------------------------------------------
def account_key(address: str) -> bytes:
    return P_ACCOUNT + addr_bytes(address)


def account_index_key(index: int) -> bytes:
    return P_ACCOUNT_INDEX + u64(index, "account index")


def asset_prefix(address: str) -> bytes:
    a = addr_bytes(address)
    return P_ASSET + bytes((len(a),)) + a


def asset_key(address: str, issuer: str, code: str) -> bytes:
    i = addr_bytes(issuer, "issuer")
    if not isinstance(code, str):
        raise TypeError(f"asset code must be a str, got {type(code).__name__}")
    c = code.encode("utf-8")
    if not 1 <= len(c) <= 255:
        raise ValueError(f"asset code must be 1..255 bytes, got {len(c)}")
    return asset_prefix(address) + bytes((len(i),)) + i + c


def parse_asset_key(key: bytes) -> tuple[str, str, str]:
    """(address, issuer, code) of a P_ASSET key."""
    if key[:1] != P_ASSET:
        raise ValueError(f"not an asset key: {key!r}")
    n = key[1]
    addr = key[2:2 + n]
    m = key[2 + n]
    issuer = key[3 + n:3 + n + m]
    code = key[3 + n + m:]
    if len(addr) != n or len(issuer) != m or not code:
        raise ValueError(f"truncated asset key: {key!r}")
    return addr.decode("ascii"), issuer.decode("ascii"), code.decode("utf-8")


def metadata_prefix(address: str) -> bytes:
    a = addr_bytes(address)
    return P_METADATA + bytes((len(a),)) + a


def metadata_key(address: str, key: bytes) -> bytes:
    if not isinstance(key, bytes):
        raise TypeError(f"metadata key must be bytes, got {type(key).__name__}")
    if not key:
        raise ValueError("metadata key must not be empty")
    return metadata_prefix(address) + key


def parse_metadata_key(key: bytes) -> tuple[str, bytes]:
    """(address, metadata key) of a P_METADATA key."""
    if key[:1] != P_METADATA:
        raise ValueError(f"not a metadata key: {key!r}")
    n = key[1]
    addr = key[2:2 + n]
    if len(addr) != n or len(key) <= 2 + n:
        raise ValueError(f"truncated metadata key: {key!r}")
    return addr.decode("ascii"), key[2 + n:]


# --- CF_META --------------------------------------------------------------------------
def user_meta_key(key: bytes) -> bytes:
    """Caller-chosen chain metadata lives under its own prefix: it can never overwrite
    the store's magic, format, chain id or tip."""
    if not isinstance(key, bytes):
        raise TypeError(f"meta key must be bytes, got {type(key).__name__}")
    if not key:
        raise ValueError("meta key must not be empty")
    return P_META_USER + key


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    b = bytearray(prefix)
    while b and b[-1] == 0xFF:
        b.pop()
    if not b:
        return None
    b[-1] += 1
    return bytes(b)
