"""Field arithmetic mod p = 2^255 - 19 of core_ext.sigverify against Python integers,
over the whole documented input range of each implementation (random and extreme limb
values): scalar radix-2^51 code up to 2^54 per limb, the AVX-512 IFMA lanes up to 2^52
(vpmadd52 reads only 52 bits, so that bound is what the lane code guarantees)."""
from __future__ import annotations

import random

import pytest

from core_ext import sigverify as sv

P = 2**255 - 19


def value(limbs: list[int]) -> int:
    return sum(x << (51 * i) for i, x in enumerate(limbs))


def limb_cases(bound_bits: int, rng: random.Random, n: int) -> list[list[int]]:
    top = (1 << bound_bits) - 1
    m51 = (1 << 51) - 1
    special = [0, 1, 2, 19, m51 - 1, m51, 1 << 51, (1 << 52) - 1, top, top - 1, top >> 1]
    special = [x for x in special if x <= top]
    cases = [[top] * 5, [0] * 5, [m51] * 5, [m51 - 18, m51, m51, m51, m51],  # p itself
             [m51 - 17, m51, m51, m51, m51], [1, 0, 0, 0, 0]]
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:
            cases.append([rng.choice(special) for _ in range(5)])
        elif kind < 0.7:
            cases.append([rng.randrange(top + 1) for _ in range(5)])
        else:  # values near multiples of p, canonical limbs
            v = (rng.randrange(1, 4) * P + rng.randrange(-40, 40)) % 2**255
            cases.append([(v >> (51 * i)) & m51 for i in range(5)])
    return cases


def test_scalar_mul_and_square_match_integers() -> None:
    rng = random.Random(51)
    cases = limb_cases(54, rng, 3000)
    for a in cases:
        b = rng.choice(cases)
        assert sv._fe_test(0, a, b) == value(a) * value(b) % P, (a, b)
        assert sv._fe_test(1, a, a) == value(a) ** 2 % P, a


@pytest.mark.skipif("avx512ifma" not in sv.available_backends(), reason="no AVX-512 IFMA here")
def test_ifma_lanes_mul_and_square_match_integers() -> None:
    rng = random.Random(52)
    cases = limb_cases(52, rng, 6000)
    for j in range(0, len(cases) - 8, 8):
        a = cases[j:j + 8]
        b = [rng.choice(cases) for _ in range(8)]
        got = sv._fe_test(2, a, b)
        assert got == [value(x) * value(y) % P for x, y in zip(a, b)], (a, b)
        got = sv._fe_test(3, a, a)
        assert got == [value(x) ** 2 % P for x in a], a
