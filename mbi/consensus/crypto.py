"""Signing (libsodium) and batched ZIP-215 verification (core_ext.sigverify) for consensus.

The engine needs only `Signer.public_key` and `Signer.sign(digest)`: an embedding
application may bring its own signer (an HSM, a remote signer) with the same two members.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import pysodium

from core_ext import sigverify as _sv
from mbi.consensus.types import KEY_LEN, SIG_LEN


class Signer(Protocol):
    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class Ed25519Signer:
    """An Ed25519 key held in memory; signs through libsodium."""

    __slots__ = ("_pk", "_sk")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._pk, self._sk = pysodium.crypto_sign_seed_keypair(bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self._pk

    def sign(self, message: bytes) -> bytes:
        return pysodium.crypto_sign_detached(message, self._sk)


def verify_many(keys: Sequence[bytes], messages: Sequence[bytes], signatures: Sequence[bytes]) -> np.ndarray:
    """Item i is True iff signatures[i] is a valid ZIP-215 signature of messages[i] by keys[i].

    One `verify_batch` call for the lot (§6): each item is still decided on its own.
    Items of the wrong length are False without reaching the kernel.
    """
    n = len(keys)
    out = np.zeros(n, dtype=bool)
    good = [i for i in range(n) if len(keys[i]) == KEY_LEN and len(signatures[i]) == SIG_LEN]
    if not good:
        return out
    if len(good) == 1:
        i = good[0]
        out[i] = bool(_sv.verify(keys[i], messages[i], signatures[i]))
        return out
    res = _sv.verify_batch(b"".join(keys[i] for i in good), [messages[i] for i in good],
                           b"".join(signatures[i] for i in good), threads=1)
    out[np.asarray(good)] = np.asarray(res, dtype=bool)
    return out
