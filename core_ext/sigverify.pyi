"""ZIP-215 Ed25519 signature verification, single and batched (native C)."""
from collections.abc import Sequence
from typing import Union

import numpy as np
import numpy.typing as npt

_BytesLike = Union[bytes, bytearray, memoryview]
_Rows = Union[npt.NDArray[np.uint8], Sequence[_BytesLike], _BytesLike]

__all__ = ["verify", "verify_batch", "backend", "available_backends"]

def backend() -> str:
    """The code path in use: "portable" or "avx512ifma"."""

def available_backends() -> list[str]: ...
def verify(public_key: _BytesLike, message: _BytesLike, signature: _BytesLike) -> bool:
    """True iff `signature` (64 bytes, R || S) on `message` is valid for `public_key`
    (32 bytes) under ZIP-215. ValueError on wrong lengths, TypeError on non-bytes."""

def verify_batch(
    public_keys: _Rows,
    messages: Sequence[_BytesLike],
    signatures: _Rows,
    threads: int | None = None,
) -> npt.NDArray[np.bool_]:
    """Item i of the result is exactly verify(public_keys[i], messages[i], signatures[i])."""

def _set_backend(name: str) -> None: ...
def _decode_point(enc: _BytesLike) -> bytes | None: ...
def _verify_each(public_keys: _Rows, messages: Sequence[_BytesLike],
                 signatures: _Rows) -> npt.NDArray[np.bool_]: ...
def _verify_batch_stats(public_keys: _Rows, messages: Sequence[_BytesLike], signatures: _Rows,
                        threads: int | None = None) -> tuple[npt.NDArray[np.bool_], dict[str, int]]: ...
def _recent_invalid_rate(rate: float | None = None) -> float: ...
def _keycache(enabled: bool | None = None, reset: bool = False) -> tuple[bool, int, int]: ...
def _decode_points(encs: Sequence[_BytesLike]) -> list[bytes | None]: ...
def _fe_test(op: int, a: Sequence[int] | Sequence[Sequence[int]], b: Sequence[int] | Sequence[Sequence[int]]) -> int | list[int] | None: ...
