"""Zetrix keys and addresses (Ed25519 with SHA-256 checksums).

| item        | bytes                                            | text                 |
|-------------|--------------------------------------------------|----------------------|
| private key | DA 37 9F 01 ‖ seed(32) ‖ 00 ‖ checksum(4)        | base58, ``privB…``   |
| public key  | B0 01 ‖ raw public key(32) ‖ checksum(4)         | lowercase hex ``b001…`` |
| address     | F0 26 01 ‖ SHA-256(raw pub)[12:] ‖ checksum(4)   | base58, ``ZTX3…``    |

checksum = SHA-256(SHA-256(everything before it))[:4]. Bad input raises ``KeyFormatError``
(a ValueError) carrying the Zetrix error code: 90 public key, 91 private key, 94 address.
Signing goes through libsodium (pysodium); verification for consensus is core_ext.sigverify.
"""
from __future__ import annotations

import hashlib
import os

import pysodium

from mbi.crypto.base58 import b58decode, b58encode

ERR_INVALID_PUBKEY = 90
ERR_INVALID_PRIKEY = 91
ERR_INVALID_ADDRESS = 94

PRIVATE_PREFIX = b"\xda\x37\x9f\x01"
PUBLIC_PREFIX = b"\xb0\x01"
ADDRESS_PREFIX = b"\xf0\x26\x01"
ADDRESS_LEN = 27  # prefix 3 + hash 20 + checksum 4
PUBLIC_LEN = 38  # prefix 2 + key 32 + checksum 4
PRIVATE_LEN = 41  # prefix 4 + seed 32 + 0x00 + checksum 4
# Longest base58 text of an address / private key: n bytes without leading zeros take at
# most ceil(8n / log2(58)) characters (37 and 56). Longer text is refused before decoding,
# because base58 decoding is quadratic in the length (a 1 MiB "address" took minutes).
MAX_ADDRESS_TEXT = 37
MAX_PRIVATE_TEXT = 56

_sha256 = hashlib.sha256


class KeyFormatError(ValueError):
    """A key or address failed its prefix, length or checksum check."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _checksum(body: bytes) -> bytes:
    return _sha256(_sha256(body).digest()).digest()[:4]


def _with_checksum(body: bytes) -> bytes:
    return body + _checksum(body)


def address_from_raw_public_key(raw: bytes) -> str:
    body = ADDRESS_PREFIX + _sha256(raw).digest()[12:]
    return b58encode(body + _checksum(body))


def decode_public_key(encoded: str) -> bytes:
    """``b001…`` hex → the 32-byte raw Ed25519 public key (error 90 on any defect)."""
    if not isinstance(encoded, str):
        raise KeyFormatError(ERR_INVALID_PUBKEY, f"public key must be a hex string, got {type(encoded).__name__}")
    if len(encoded) != 2 * PUBLIC_LEN:
        raise KeyFormatError(ERR_INVALID_PUBKEY,
                             f"public key must be {2 * PUBLIC_LEN} hex characters, got {len(encoded)}")
    try:
        data = bytes.fromhex(encoded)
    except ValueError:
        raise KeyFormatError(ERR_INVALID_PUBKEY, "public key is not hex") from None
    if data[:2] != PUBLIC_PREFIX:
        raise KeyFormatError(ERR_INVALID_PUBKEY, f"public key prefix must be b001, got {data[:2].hex()}")
    if _checksum(data[:34]) != data[34:]:
        raise KeyFormatError(ERR_INVALID_PUBKEY, "public key checksum mismatch")
    return data[2:34]


def encode_public_key(raw: bytes) -> str:
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
        raise KeyFormatError(ERR_INVALID_PUBKEY, "raw Ed25519 public key must be 32 bytes")
    return _with_checksum(PUBLIC_PREFIX + bytes(raw)).hex()


def _decode_b58(text: str, code: int, what: str, max_text: int, length: int, prefix: bytes) -> bytes:
    """Base58 text -> bytes with the right length and prefix (checksum left to the caller)."""
    if not isinstance(text, str):
        raise KeyFormatError(code, f"{what} must be a string, got {type(text).__name__}")
    if len(text) > max_text:
        raise KeyFormatError(code, f"{what} text must be at most {max_text} characters, got {len(text)}")
    try:
        data = b58decode(text)
    except ValueError as exc:
        raise KeyFormatError(code, f"{what} is not base58: {exc}") from None
    if len(data) != length:
        raise KeyFormatError(code, f"{what} must decode to {length} bytes, got {len(data)}")
    n = len(prefix)
    if data[:n] != prefix:
        raise KeyFormatError(code, f"{what} prefix must be {prefix.hex()}, got {data[:n].hex()}")
    return data


def decode_private_key(encoded: str) -> bytes:
    """``privB…`` base58 → the 32-byte Ed25519 seed (error 91 on any defect)."""
    data = _decode_b58(encoded, ERR_INVALID_PRIKEY, "private key", MAX_PRIVATE_TEXT, PRIVATE_LEN, PRIVATE_PREFIX)
    if data[36] != 0:
        raise KeyFormatError(ERR_INVALID_PRIKEY, "private key compression byte must be 00")
    if _checksum(data[:37]) != data[37:]:
        raise KeyFormatError(ERR_INVALID_PRIKEY, "private key checksum mismatch")
    return data[4:36]


def encode_private_key(seed: bytes) -> str:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise KeyFormatError(ERR_INVALID_PRIKEY, "Ed25519 seed must be 32 bytes")
    return b58encode(_with_checksum(PRIVATE_PREFIX + bytes(seed) + b"\0"))


def decode_address(address: str) -> bytes:
    """``ZTX3…`` → the 20-byte account id (error 94 on any defect)."""
    data = _decode_b58(address, ERR_INVALID_ADDRESS, "address", MAX_ADDRESS_TEXT, ADDRESS_LEN, ADDRESS_PREFIX)
    if _checksum(data[:23]) != data[23:]:
        raise KeyFormatError(ERR_INVALID_ADDRESS, "address checksum mismatch")
    # Base58 has one canonical text per byte string; anything else (e.g. extra leading
    # '1's would change the length) is caught above, so `address` is canonical here.
    return data[3:23]


_valid_addresses: dict[str, bool] = {}


def is_address(s: object) -> bool:
    """True when ``s`` is a well-formed Zetrix address (prefix, length, checksum)."""
    if not isinstance(s, str) or len(s) > MAX_ADDRESS_TEXT:
        return False  # overlong text is not memoised: the memo's size stays bounded in bytes
    hit = _valid_addresses.get(s)
    if hit is not None:
        return hit
    try:
        decode_address(s)
        ok = True
    except KeyFormatError:
        ok = False
    if len(_valid_addresses) > 1_000_000:  # bounded memo: addresses repeat across blocks
        _valid_addresses.clear()
    _valid_addresses[s] = ok
    return ok


def address_from_public_key(key: str | bytes) -> str:
    """The address of an encoded (``b001…``) or raw 32-byte public key."""
    if isinstance(key, str):
        raw = decode_public_key(key)
    elif isinstance(key, (bytes, bytearray)) and len(key) == 32:
        raw = bytes(key)
    else:
        raise KeyFormatError(ERR_INVALID_PUBKEY, "expected a b001… public key string or 32 raw bytes")
    return address_from_raw_public_key(raw)


class KeyPair:
    """An Ed25519 key pair in Zetrix's encodings."""

    __slots__ = ("_seed", "_pk", "_sk", "_address")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
            raise KeyFormatError(ERR_INVALID_PRIKEY, "Ed25519 seed must be 32 bytes")
        self._seed = bytes(seed)
        self._pk, self._sk = pysodium.crypto_sign_seed_keypair(self._seed)
        self._address: str | None = None

    @classmethod
    def generate(cls) -> "KeyPair":
        return cls(os.urandom(32))

    @classmethod
    def from_seed(cls, seed32: bytes) -> "KeyPair":
        return cls(seed32)

    @classmethod
    def from_private_key(cls, encoded: str) -> "KeyPair":
        return cls(decode_private_key(encoded))

    @property
    def seed(self) -> bytes:
        return self._seed

    @property
    def raw_public_key(self) -> bytes:
        return self._pk

    @property
    def encoded_public_key(self) -> str:
        return encode_public_key(self._pk)

    @property
    def encoded_private_key(self) -> str:
        return encode_private_key(self._seed)

    @property
    def address(self) -> str:
        if self._address is None:
            self._address = address_from_raw_public_key(self._pk)
        return self._address

    def sign(self, data: bytes) -> bytes:
        """A detached 64-byte Ed25519 signature over ``data`` (libsodium)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"sign expects bytes, got {type(data).__name__}")
        return pysodium.crypto_sign_detached(bytes(data), self._sk)

    def __repr__(self) -> str:
        return f"KeyPair(address={self.address!r})"
