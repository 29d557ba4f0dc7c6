"""Type stubs for core_ext.mempool (native C++ transaction pool; see docs/mempool.md)."""
from enum import IntEnum

import numpy as np
import numpy.typing as npt

class AddResult(IntEnum):
    ACCEPTED = 0
    REPLACED = 1
    DUPLICATE = 2
    UNDERPRICED = 3
    NONCE_TOO_LOW = 4
    NONCE_TOO_HIGH = 5
    SENDER_FULL = 6
    POOL_FULL = 7

def backend() -> str: ...

_Hash = bytes | bytearray | memoryview | npt.NDArray[np.uint8]

class Mempool:
    capacity: int
    capacity_bytes: int
    per_sender_limit: int
    max_nonce_gap: int
    ttl: float
    replace_bump: float
    def __init__(
        self,
        capacity: int,
        capacity_bytes: int,
        per_sender_limit: int = 64,
        max_nonce_gap: int = 1024,
        ttl: float = 600.0,
        replace_bump: float = 0.10,
        seed: int | None = None,
    ) -> None: ...
    def add_batch(
        self,
        hashes: npt.NDArray[np.uint8],
        senders: npt.NDArray[np.uint64],
        nonces: npt.NDArray[np.int64],
        gas_prices: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
        now: float,
    ) -> npt.NDArray[np.int8]: ...
    def set_nonces(self, senders: npt.NDArray[np.uint64], nonces: npt.NDArray[np.int64]) -> None: ...
    def on_commit(self, senders: npt.NDArray[np.uint64], nonces: npt.NDArray[np.int64]) -> None: ...
    def select(self, max_txs: int, max_bytes: int) -> npt.NDArray[np.uint8]: ...
    def remove(self, hashes: npt.NDArray[np.uint8]) -> int: ...
    def expire(self, now: float) -> int: ...
    def __len__(self) -> int: ...
    def __contains__(self, h: object, /) -> bool: ...
    def get(self, h: _Hash) -> tuple[int, int, int, int, float] | None: ...
    def pending(self, sender: int) -> npt.NDArray[np.uint8]: ...
    def pending_with_nonces(
        self, sender: int
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]: ...
    def executed_nonce(self, sender: int) -> int: ...
    @property
    def bytes(self) -> int: ...
    def stats(self) -> dict[str, int]: ...
    def _check(self) -> str: ...
