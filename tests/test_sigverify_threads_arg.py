"""sigverify's threads= takes ints and numpy integers, and refuses bools and floats (issue 12)."""
from __future__ import annotations

import numpy as np
import pysodium
import pytest

from core_ext import sigverify as sv


def _batch(n: int = 8):
    pk, sk = pysodium.crypto_sign_keypair()
    msgs = [b"m%d" % i for i in range(n)]
    return pk * n, msgs, b"".join(pysodium.crypto_sign_detached(m, sk) for m in msgs)


@pytest.mark.parametrize("threads", [1, 2, np.int64(2), np.int32(1)])
def test_integer_threads_are_accepted(threads):
    pks, msgs, sigs = _batch()
    assert sv.verify_batch(pks, msgs, sigs, threads=threads).all()


@pytest.mark.parametrize("threads", [True, np.bool_(True), 2.0, "2"])
def test_other_threads_values_are_refused(threads):
    pks, msgs, sigs = _batch()
    with pytest.raises(TypeError):
        sv.verify_batch(pks, msgs, sigs, threads=threads)
