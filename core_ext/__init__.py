"""MBI Core native kernels.

- ``core_ext.hashing``: SHA-256, one message or many (SHA-NI / AVX-512 / portable).
- ``core_ext.merkle``: RFC 6962 Merkle trees, proofs and an incremental tree.
- ``core_ext.sigverify``: ZIP-215 Ed25519 verification, single and batched.
- ``core_ext.mempool``: the bounded, fee-ordered transaction pool.

Every kernel picks its fastest code path at import from CPUID. Set
``MBI_FORCE_PORTABLE=1`` (or ``MBI_CPU_DISABLE=sha_ni,avx512f``) before import to force
the portable paths.
"""
from __future__ import annotations

import importlib
from typing import Any

from core_ext import _cpu

__all__ = ["cpu_features", "__version__"]
__version__ = "0.1.0"

_KERNELS = ("hashing", "merkle", "sigverify", "mempool")


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
        "kernels": kernels,
    }
