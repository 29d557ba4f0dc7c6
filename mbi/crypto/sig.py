"""Signature verification for the node: one rule set (ZIP-215) through core_ext.sigverify.

pysodium/libsodium is used only for signing. Verification that decides validity goes
through the native kernel so that every node accepts exactly the same signatures.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from core_ext import sigverify as _sv


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(public_key) != 32 or len(signature) != 64:
        return False
    return bool(_sv.verify(bytes(public_key), bytes(message), bytes(signature)))


def verify_batch(public_keys: Sequence[bytes], messages: Sequence[bytes],
                 signatures: Sequence[bytes], threads: int | None = None) -> np.ndarray:
    """Verify n (key, message, signature) triples; returns a bool array of length n.

    Items with a key that is not 32 bytes or a signature that is not 64 bytes are
    reported False without reaching the kernel.
    """
    n = len(public_keys)
    if len(messages) != n or len(signatures) != n:
        raise ValueError(f"verify_batch: {n} keys, {len(messages)} messages, {len(signatures)} signatures")
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    good = [i for i in range(n) if len(public_keys[i]) == 32 and len(signatures[i]) == 64]
    if len(good) == n:
        # The kernel takes the keys and signatures as single contiguous buffers.
        return np.asarray(_sv.verify_batch(b"".join(public_keys), list(messages), b"".join(signatures),
                                           threads=threads), dtype=bool)
    if good:
        res = _sv.verify_batch(b"".join(public_keys[i] for i in good), [messages[i] for i in good],
                               b"".join(signatures[i] for i in good), threads=threads)
        out[np.asarray(good)] = np.asarray(res, dtype=bool)
    return out
