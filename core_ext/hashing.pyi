"""SHA-256: one message, or many independent messages in one call (native, no OpenSSL)."""

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["sha256", "sha256_many", "backend"]

_Buffer: TypeAlias = bytes | bytearray | memoryview | npt.NDArray[np.uint8]

def sha256(data: _Buffer) -> bytes:
    """SHA-256 of a bytes-like object (any C-contiguous buffer, read as raw bytes)."""

def sha256_many(
    data: _Buffer,
    offsets: npt.NDArray[np.int64] | Sequence[int],
    *,
    out: npt.NDArray[np.uint8] | None = None,
    threads: int | None = None,
) -> npt.NDArray[np.uint8]:
    """SHA-256 of n messages, message i = data[offsets[i]:offsets[i+1]]; returns (n, 32) uint8."""

def backend() -> str:
    """The SHA-256 path in use, e.g. "avx512x16+sha_ni", "sha_ni", "portable"."""

def _backends() -> list[str]:
    """Every backend this CPU can run, best first."""

def _set_backend(name: str) -> None:
    """Force a backend in this module ("auto" restores the default); ValueError if unknown."""
