"""Fuzz core_ext.hashing.sha256_many: any data and offsets (valid or not), 1-3 threads.

Oracle: hashlib for every message when the offsets are valid; a ValueError exactly
when they are not (out of order or outside the data); never a crash."""
from __future__ import annotations

import hashlib
import sys

import _common  # noqa: F401  (sys.path)
import atheris
import numpy as np

with atheris.instrument_imports(include=["core_ext"]):
    from core_ext import hashing


def valid(off: list[int], n_bytes: int) -> bool:
    return 0 <= off[0] <= n_bytes and all(a <= b <= n_bytes for a, b in zip(off, off[1:]))


@atheris.instrument_func
def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    n = fdp.ConsumeIntInRange(0, 48)
    wild = fdp.ConsumeIntInRange(0, 7) == 0  # mostly valid offsets, sometimes anything
    threads = fdp.ConsumeIntInRange(1, 3)
    as_list = fdp.ConsumeBool()
    if wild:
        off = [fdp.ConsumeIntInRange(-5, 5000) for _ in range(n + 1)]
    else:
        cuts = sorted(fdp.ConsumeIntInRange(0, 3000) for _ in range(n + 1))
        off = cuts
    payload = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3000))
    off_arg = off if as_list else np.array(off, dtype=np.int64)
    try:
        got = hashing.sha256_many(payload, off_arg, threads=threads)
    except ValueError:
        assert not valid(off, len(payload)), (off, len(payload))
        return
    assert valid(off, len(payload)), (off, len(payload))
    assert got.shape == (n, 32)
    for i in range(n):
        assert bytes(got[i]) == hashlib.sha256(payload[off[i]:off[i + 1]]).digest(), i


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
