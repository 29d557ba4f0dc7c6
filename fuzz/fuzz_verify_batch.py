"""Fuzz core_ext.sigverify.verify_batch with batches mixing real signatures, tampered
ones, special points (small order, non-canonical encodings) and raw bytes, on 1-2
threads.

Oracle: ed25519-zebra (an independent ZIP-215 implementation) for every item, and
verify_batch item i == verify(item i)."""
from __future__ import annotations

import sys

import _common  # noqa: F401  (sys.path)
import atheris
import ed25519_zebra
import pysodium

with atheris.instrument_imports(include=["core_ext"]):
    from core_ext import sigverify as sv

L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19
# Encodings that stress the decoder: the identity, a point of order 2, order 4 with a
# non-canonical y (y + p), y = p - 1, and the all-ones string.
SPECIAL = [
    (1).to_bytes(32, "little"),
    (P - 1).to_bytes(32, "little"),
    (P + 1).to_bytes(32, "little"),
    (0).to_bytes(32, "little"),
    (1 | 1 << 255).to_bytes(32, "little"),
    b"\xff" * 32,
    (P - 1 | 1 << 255).to_bytes(32, "little"),
]
KEYS = [pysodium.crypto_sign_seed_keypair(bytes([i + 1]) * 32) for i in range(4)]


def item(fdp: atheris.FuzzedDataProvider) -> tuple[bytes, bytes, bytes]:
    kind = fdp.ConsumeIntInRange(0, 5)
    msg = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
    pk, sk = KEYS[fdp.ConsumeIntInRange(0, len(KEYS) - 1)]
    sig = pysodium.crypto_sign_detached(msg, sk)
    if kind == 1:  # flip one bit anywhere in pk, R or S
        which = fdp.ConsumeIntInRange(0, 95)
        bit = 1 << fdp.ConsumeIntInRange(0, 7)
        blob = bytearray(pk + sig)
        blob[which] ^= bit
        pk, sig = bytes(blob[:32]), bytes(blob[32:])
    elif kind == 2:  # S + l: the same point equation, non-canonical S (must be rejected)
        s = int.from_bytes(sig[32:], "little") + L
        if s < 2**256:
            sig = sig[:32] + s.to_bytes(32, "little")
    elif kind == 3:  # special point as A or R
        sp = SPECIAL[fdp.ConsumeIntInRange(0, len(SPECIAL) - 1)]
        if fdp.ConsumeBool():
            pk = sp
        else:
            sig = sp + sig[32:]
    elif kind == 4:  # raw bytes
        pk = fdp.ConsumeBytes(32).ljust(32, b"\0")
        sig = fdp.ConsumeBytes(64).ljust(64, b"\0")
    return pk, msg, sig


@atheris.instrument_func
def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    n = fdp.ConsumeIntInRange(0, 40)
    threads = fdp.ConsumeIntInRange(1, 2)
    items = [item(fdp) for _ in range(n)]
    pks = [i[0] for i in items]
    msgs = [i[1] for i in items]
    sigs = [i[2] for i in items]
    got = sv.verify_batch(pks, msgs, sigs, threads=threads).tolist()
    for k, (pk, m, s) in enumerate(items):
        want = bool(ed25519_zebra.ed_verify(s, m, pk))
        assert got[k] == want, (k, pk.hex(), m.hex(), s.hex())
        assert sv.verify(pk, m, s) == want, k


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
