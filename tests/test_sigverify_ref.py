"""Pure-Python ZIP-215 Ed25519 reference and adversarial-case generators for the
core_ext.sigverify tests (slow, simple, written from the curve equations; shares no code
with the C implementation). Tests of the reference itself live at the bottom."""
from __future__ import annotations

import hashlib
import random

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, -1, P)) % P
SQRTM1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended (X, Y, Z, T)
IDENTITY: Point = (0, 1, 1, 0)


def _recover_x(y: int, sign: int) -> int | None:
    """x with -x^2 + y^2 = 1 + d x^2 y^2 and parity `sign` (x = 0 keeps 0: ZIP-215)."""
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRTM1 % P
    if (x * x - x2) % P:
        return None
    if (x & 1) != sign:
        x = (-x) % P
    return x


def decode(enc: bytes) -> Point | None:
    """ZIP-215 decoding: y = low 255 bits mod p (non-canonical accepted)."""
    assert len(enc) == 32
    n = int.from_bytes(enc, "little")
    y = (n & ((1 << 255) - 1)) % P
    x = _recover_x(y, n >> 255)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def add(p: Point, q: Point) -> Point:
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * 2 * D * t2 % P
    d = z1 * 2 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def neg(p: Point) -> Point:
    return ((-p[0]) % P, p[1], p[2], (-p[3]) % P)


def mul(k: int, p: Point) -> Point:
    r = IDENTITY
    if k < 0:
        k, p = -k, neg(p)
    while k:
        if k & 1:
            r = add(r, p)
        p = add(p, p)
        k >>= 1
    return r


def is_identity(p: Point) -> bool:
    return p[0] % P == 0 and (p[1] - p[2]) % P == 0


def affine(p: Point) -> tuple[int, int]:
    zi = pow(p[2], P - 2, P)
    return p[0] * zi % P, p[1] * zi % P


def encode(p: Point) -> bytes:
    x, y = affine(p)
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def eq(p: Point, q: Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


_B = decode(bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666"))
assert _B is not None
B: Point = _B


def hram(r_enc: bytes, a_enc: bytes, msg: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r_enc + a_enc + msg).digest(), "little") % L


def verify(pk: bytes, msg: bytes, sig: bytes) -> bool:
    """ZIP-215: S < l; A, R decode; [8]([S]B - R - [k]A) = identity."""
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    a = decode(pk)
    r = decode(sig[:32])
    if a is None or r is None:
        return False
    k = hram(sig[:32], pk, msg)
    q = add(add(mul(s, B), neg(r)), neg(mul(k, a)))
    return is_identity(mul(8, q))


def verify_cofactorless(pk: bytes, msg: bytes, sig: bytes) -> bool:
    """[S]B = R + [k]A without the cofactor (what ZIP-215 must NOT use)."""
    s = int.from_bytes(sig[32:], "little")
    a, r = decode(pk), decode(sig[:32])
    if s >= L or a is None or r is None:
        return False
    k = hram(sig[:32], pk, msg)
    return eq(mul(s, B), add(r, mul(k, a)))


# ------------------------------------------------------------------ generators

def torsion_points() -> list[Point]:
    """The eight points of order dividing 8, as multiples of one point of order 8."""
    seed = 0
    while True:
        seed += 1
        p = decode(hashlib.sha256(seed.to_bytes(4, "little")).digest())
        if p is None:
            continue
        t = mul(L, p)  # kills the prime-order part
        if not is_identity(mul(4, t)):
            return [mul(i, t) for i in range(8)]


def small_order_encodings() -> list[bytes]:
    """Every 32-byte string that ZIP-215 decodes to a small-order point: the canonical
    encodings plus y + p (when < 2^255) and the sign bit set on x = 0."""
    out: set[bytes] = set()
    for t in torsion_points():
        _x, y = affine(t)
        for yy in (y, y + P):
            if yy >= 2**255:
                continue
            for sign in (0, 1):
                enc = (yy | (sign << 255)).to_bytes(32, "little")
                d = decode(enc)
                if d is not None and is_identity(mul(8, d)):
                    out.add(enc)
    return sorted(out)


def is_canonical_encoding(enc: bytes) -> bool:
    d = decode(enc)
    return d is not None and encode(d) == enc


def noncanonical_nonsmall_encodings() -> list[bytes]:
    """Encodings with y >= p (y + p for y in 2..18) that decode to points of large order."""
    out = []
    for y in range(2, 19):
        for sign in (0, 1):
            enc = ((y + P) | (sign << 255)).to_bytes(32, "little")
            d = decode(enc)
            if d is not None and not is_identity(mul(8, d)):
                out.append(enc)
    return out


def invalid_encodings(rng: random.Random, n: int) -> list[bytes]:
    """Random 32-byte strings that are not the encoding of any point."""
    out: list[bytes] = []
    while len(out) < n:
        enc = rng.randbytes(32)
        if decode(enc) is None:
            out.append(enc)
    return out


def keypair(rng: random.Random, torsion: Point = IDENTITY) -> tuple[int, bytes]:
    """Secret scalar a and encoding of A = [a]B + torsion (mixed order if torsion != O)."""
    a = rng.randrange(1, L)
    return a, encode(add(mul(a, B), torsion))


def sign(a: int, pk: bytes, msg: bytes, rng: random.Random, r_torsion: Point = IDENTITY,
         r_enc: bytes | None = None) -> bytes:
    """S = r + k a with R = [r]B + r_torsion (or R given as an encoding with r = 0).
    Valid under ZIP-215 whatever the torsion parts of A and R are."""
    if r_enc is None:
        r = rng.randrange(1, L)
        r_enc = encode(add(mul(r, B), r_torsion))
    else:
        r = 0
    k = hram(r_enc, pk, msg)
    s = (r + k * a) % L
    return r_enc + s.to_bytes(32, "little")


# ------------------------------------------------------------------ tests of the reference

def test_reference_rfc8032_vector() -> None:
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8"
                        "821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert verify(pk, b"", sig)
    assert not verify(pk, b"x", sig)


def test_reference_small_order_set() -> None:
    encs = small_order_encodings()
    # 8 canonical encodings + non-canonical ones (the ZIP-215 test-vector set has 14)
    assert sum(is_canonical_encoding(e) for e in encs) == 8
    assert len(encs) == 14
    assert is_identity(mul(L, B)) and not is_identity(mul(8, B))
