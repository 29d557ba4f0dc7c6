"""MBI Core native kernels.

- ``core_ext.hashing``: SHA-256, one message or many (SHA-NI / AVX-512 / portable).
- ``core_ext.merkle``: RFC 6962 Merkle trees, proofs and an incremental tree.
- ``core_ext.sigverify``: ZIP-215 Ed25519 verification, single and batched.
- ``core_ext.mempool``: the bounded, fee-ordered transaction pool.

Every kernel picks its fastest code path at import from CPUID. Set
``MBI_FORCE_PORTABLE=1`` (or ``MBI_CPU_DISABLE=sha_ni,avx512f``) before import to force
the portable paths.

Threads: one worker pool serves every kernel (``core_ext._pool``). ``threads()`` is its
size (threads per call, the caller included): ``MBI_THREADS`` if set, else the CPUs this
process may run on; ``set_threads(n)`` changes it for the whole process.
"""
from __future__ import annotations

import importlib
import operator
from typing import Any

from core_ext import _cpu, _pool

__all__ = ["cpu_features", "set_threads", "threads", "__version__"]
__version__ = "0.1.0"

_KERNELS = ("hashing", "merkle", "sigverify", "mempool")


def threads() -> int:
    """Threads a kernel call may use (the caller included)."""
    return _pool.size()


def set_threads(n: int | None) -> None:
    """Use at most ``n`` threads per kernel call, process-wide; None restores the default
    (``MBI_THREADS``, else the CPUs this process may run on). Shrinking stops the surplus
    workers before it returns; growing starts them on the next call that can use them."""
    if n is None:
        _pool.set_size(0)
        return
    if isinstance(n, bool):
        raise TypeError("n must be an int >= 1 or None, not bool")
    try:
        v = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an int >= 1 or None, not {type(n).__name__}") from None
    if not 1 <= v <= _pool.MAX_THREADS:
        raise ValueError(f"n must be in [1, {_pool.MAX_THREADS}], got {v}")
    _pool.set_size(v)


def cpu_features() -> dict[str, Any]:
    """What this CPU offers and which path each kernel uses.

    Returns ``{"cpu": [...usable features...], "cpu_raw": [...reported...],
    "cores": n, "kernels": {name: backend}}``.
    """
    kernels: dict[str, str] = {}
    for name in _KERNELS:
        try:
            mod = importlib.import_module(f"core_ext.{name}")
        except ImportError as exc:  # a kernel not built in this tree
            kernels[name] = f"unavailable ({exc})"
            continue
        backend = getattr(mod, "backend", None)
        kernels[name] = backend() if callable(backend) else "portable"
    return {
        "cpu": _cpu.features(),
        "cpu_raw": _cpu.features_raw(),
        "cores": _cpu.cpu_count(),
        "threads": _pool.size(),
        "kernels": kernels,
    }
