"""RFC 6962 Merkle trees over 32-byte entries (native, no OpenSSL)."""

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "merkle_root", "inclusion_proof", "verify_inclusion", "consistency_proof",
    "verify_consistency", "leaf_hash", "node_hash", "leaf_hashes", "MerkleTree", "EMPTY_ROOT", "backend",
]

_Buffer: TypeAlias = bytes | bytearray | memoryview | npt.NDArray[np.uint8]

EMPTY_ROOT: bytes
"""SHA-256(b""): the root of the empty tree."""

def leaf_hash(entry: _Buffer) -> bytes:
    """SHA-256(0x00 || entry) for a 32-byte entry."""

def node_hash(left: _Buffer, right: _Buffer) -> bytes:
    """SHA-256(0x01 || left || right)."""

def leaf_hashes(entries: npt.NDArray[np.uint8], *, threads: int | None = None) -> npt.NDArray[np.uint8]:
    """Leaf hashes of an (n, 32) uint8 array, as an (n, 32) uint8 array."""

def merkle_root(entries: npt.NDArray[np.uint8], *, threads: int | None = None) -> bytes:
    """RFC 6962 Merkle Tree Hash of an (n, 32) uint8 array (n may be 0)."""

def inclusion_proof(entries: npt.NDArray[np.uint8], index: int) -> list[bytes]:
    """RFC 6962 audit path for entry `index`, leaf level first."""

def verify_inclusion(entry: _Buffer, index: int, size: int, proof: Sequence[_Buffer], root: _Buffer) -> bool:
    """False if the proof does not verify; ValueError/TypeError for impossible arguments."""

def consistency_proof(entries: npt.NDArray[np.uint8], old_size: int) -> list[bytes]:
    """RFC 6962 consistency proof from the first `old_size` entries to all of them."""

def verify_consistency(
    old_size: int, new_size: int, old_root: _Buffer, new_root: _Buffer, proof: Sequence[_Buffer]
) -> bool:
    """False if the proof does not verify; ValueError/TypeError for impossible arguments."""

class MerkleTree:
    """Incremental RFC 6962 tree: append / batched update, O(log n) hashes per change."""

    def __init__(self, entries: npt.NDArray[np.uint8] | None = None, *, threads: int | None = None) -> None: ...
    @property
    def size(self) -> int: ...
    def __len__(self) -> int: ...
    def append(self, entries: npt.NDArray[np.uint8]) -> None: ...
    def update(self, indices: npt.NDArray[np.integer] | Sequence[int], entries: npt.NDArray[np.uint8]) -> None: ...
    def root(self) -> bytes: ...
    def inclusion_proof(self, index: int) -> list[bytes]: ...
    def consistency_proof(self, old_size: int) -> list[bytes]: ...

def backend() -> str:
    """The SHA-256 path this module uses, e.g. "avx512x16+sha_ni"."""

def _backends() -> list[str]: ...
def _set_backend(name: str) -> None: ...
