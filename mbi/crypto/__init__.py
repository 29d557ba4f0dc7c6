"""Keys, addresses and signatures in Zetrix's encodings.

Signing uses libsodium (pysodium). Verification is in ``mbi.crypto.sig`` (also re-exported here as ``verify``/``verify_batch``) over the
native ZIP-215 kernel (imported lazily, so key handling works without it).
"""
from __future__ import annotations

from typing import Any

from mbi.crypto.base58 import b58decode, b58encode
from mbi.crypto.keys import (
    ERR_INVALID_ADDRESS,
    ERR_INVALID_PRIKEY,
    ERR_INVALID_PUBKEY,
    KeyFormatError,
    KeyPair,
    address_from_public_key,
    address_from_raw_public_key,
    decode_address,
    decode_private_key,
    decode_public_key,
    encode_private_key,
    encode_public_key,
    is_address,
)

__all__ = [
    "ERR_INVALID_ADDRESS", "ERR_INVALID_PRIKEY", "ERR_INVALID_PUBKEY", "KeyFormatError",
    "KeyPair", "address_from_public_key", "address_from_raw_public_key", "b58decode",
    "b58encode", "decode_address", "decode_private_key", "decode_public_key",
    "encode_private_key", "encode_public_key", "is_address",
]


def __getattr__(name: str) -> Any:
    if name in ("verify", "verify_batch"):
        import importlib
        return getattr(importlib.import_module("mbi.crypto.sig"), name)
    raise AttributeError(f"module 'mbi.crypto' has no attribute {name!r}")
