"""Fuzz the Merkle proof verifiers (core_ext.merkle.verify_inclusion / verify_consistency)
with proofs made by the native tree and then tampered with, and with arbitrary indices,
sizes and proofs.

Oracle: the pure-Python RFC 9162 verifiers of tests/rfc6962_ref.py. A native True must be
a reference True, and a native False (or a ValueError for arguments no proof could
satisfy) a reference False; untampered proofs must verify."""
from __future__ import annotations

import sys

import _common  # noqa: F401  (sys.path)
import atheris
import numpy as np

with atheris.instrument_imports(include=["core_ext", "rfc6962_ref"]):
    import rfc6962_ref as ref
    from core_ext import merkle

U64 = 2**64


def tamper(fdp: atheris.FuzzedDataProvider, proof: list[bytes]) -> tuple[list[bytes], bool]:
    """(proof, changed): flip a bit, drop, duplicate or insert a hash, or leave it."""
    kind = fdp.ConsumeIntInRange(0, 4)
    p = list(proof)
    if kind == 1 and p:
        i = fdp.ConsumeIntInRange(0, len(p) - 1)
        b = bytearray(p[i])
        b[fdp.ConsumeIntInRange(0, 31)] ^= 1 << fdp.ConsumeIntInRange(0, 7)
        p[i] = bytes(b)
    elif kind == 2 and p:
        del p[fdp.ConsumeIntInRange(0, len(p) - 1)]
    elif kind == 3:
        p.insert(fdp.ConsumeIntInRange(0, len(p)), fdp.ConsumeBytes(32).ljust(32, b"\0"))
    elif kind == 4 and p:
        p.append(p[-1])
    return p, p != proof


def some_int(fdp: atheris.FuzzedDataProvider, n: int) -> int:
    k = fdp.ConsumeIntInRange(0, 5)
    if k == 0:
        return fdp.ConsumeIntInRange(-3, -1)
    if k == 1:
        return U64 - 1 + fdp.ConsumeIntInRange(-2, 3)
    return fdp.ConsumeIntInRange(0, n + 3)


def ref_consistency(m: int, n: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 for 0 < m < n; the documented contract of core_ext.merkle at the edges
    (m == n: empty proof, equal roots; m == 0: empty proof, r1 the empty-tree root)."""
    if not 0 <= m <= n < U64:
        return False
    if m == 0:
        return not proof and r1 == ref.EMPTY_ROOT and (n > 0 or r2 == ref.EMPTY_ROOT)
    if m == n:
        return not proof and r1 == r2
    return ref.verify_consistency(m, n, r1, r2, proof)


def native_or_false(fn, *args) -> bool:
    try:
        r = fn(*args)
    except ValueError:
        return False
    assert r is True or r is False, r
    return r


@atheris.instrument_func
def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    n = fdp.ConsumeIntInRange(0, 70)
    raw = fdp.ConsumeBytes(32 * n).ljust(32 * n, b"\x5a")
    entries = np.frombuffer(raw, dtype=np.uint8).reshape(n, 32)
    elist = [raw[32 * i:32 * i + 32] for i in range(n)]
    root = ref.mth(elist)
    assert merkle.merkle_root(entries) == root
    if fdp.ConsumeBool() and n > 0:
        idx = fdp.ConsumeIntInRange(0, n - 1)
        proof = merkle.inclusion_proof(entries, idx)
        assert merkle.verify_inclusion(elist[idx], idx, n, proof, root) is True
        proof, _ = tamper(fdp, proof)
        i2 = idx if fdp.ConsumeBool() else some_int(fdp, n)
        s2 = n if fdp.ConsumeBool() else some_int(fdp, n)
        entry = elist[idx] if fdp.ConsumeBool() else fdp.ConsumeBytes(32).ljust(32, b"\0")
        want = 0 <= i2 < s2 < U64 and ref.verify_inclusion(entry, i2, s2, proof, root)
        assert native_or_false(merkle.verify_inclusion, entry, i2, s2, proof, root) == want, (i2, s2)
    elif n > 1:
        m = fdp.ConsumeIntInRange(1, n - 1)
        proof = merkle.consistency_proof(entries, m)
        old_root = ref.mth(elist[:m])
        assert merkle.verify_consistency(m, n, old_root, root, proof) is True
        proof, _ = tamper(fdp, proof)
        m2 = m if fdp.ConsumeBool() else some_int(fdp, n)
        n2 = n if fdp.ConsumeBool() else some_int(fdp, n)
        r_old = old_root if fdp.ConsumeBool() else fdp.ConsumeBytes(32).ljust(32, b"\0")
        want = ref_consistency(m2, n2, r_old, root, proof)
        assert native_or_false(merkle.verify_consistency, m2, n2, r_old, root, proof) == want, (m2, n2)


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
