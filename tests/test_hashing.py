"""core_ext.hashing against hashlib, on every SHA-256 path this CPU offers."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import core_ext
from core_ext import hashing

BACKENDS = hashing._backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    hashing._set_backend(request.param)
    yield request.param
    hashing._set_backend("auto")


def ref_many(data: bytes, offsets) -> list[bytes]:
    return [hashlib.sha256(data[offsets[i]:offsets[i + 1]]).digest() for i in range(len(offsets) - 1)]


def uniform_offsets(n: int, length: int, start: int = 0) -> np.ndarray:
    return start + np.arange(n + 1, dtype=np.int64) * length


RNG = np.random.default_rng(20261128)


def rand_bytes(n: int) -> bytes:
    return RNG.integers(0, 256, n, dtype=np.uint8).tobytes()


# ---------------------------------------------------------------- backends

def test_backend_listing():
    assert BACKENDS, "at least the portable path"
    assert BACKENDS[-1] == "portable"
    assert hashing.backend() == BACKENDS[0]
    assert len(set(BACKENDS)) == len(BACKENDS)


def test_cpu_features_reports_backend():
    info = core_ext.cpu_features()
    assert info["kernels"]["hashing"] == hashing.backend()


def test_set_backend_unknown():
    with pytest.raises(ValueError, match="unknown or unavailable"):
        hashing._set_backend("sha_ni_9000")
    assert hashing.backend() == BACKENDS[0]


def test_expected_backends_on_this_cpu():
    feats = set(core_ext.cpu_features()["cpu"])
    if "sha_ni" in feats:
        assert "sha_ni" in BACKENDS
    if {"avx512f", "avx512vl", "avx512bw"} <= feats:
        assert any(b.startswith("avx512x16+") for b in BACKENDS)
    if "avx2" in feats:
        assert any(b.startswith("avx2x8+") for b in BACKENDS)


# ---------------------------------------------------------------- sha256

def test_sha256_known_vectors(backend):
    assert hashing.sha256(b"").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hashing.sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    assert hashing.sha256(msg).hex() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert hashing.sha256(b"a" * 1_000_000).hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"


def test_sha256_every_length(backend):
    data = rand_bytes(700)
    for n in range(700):
        assert hashing.sha256(data[:n]) == hashlib.sha256(data[:n]).digest(), n


def test_sha256_buffer_kinds(backend):
    data = rand_bytes(4096 + 77)  # above the no-GIL threshold
    want = hashlib.sha256(data).digest()
    assert hashing.sha256(data) == want
    assert hashing.sha256(bytearray(data)) == want
    assert hashing.sha256(memoryview(data)) == want
    assert hashing.sha256(np.frombuffer(data, dtype=np.uint8)) == want
    ints = np.arange(100, dtype=np.int32)  # any contiguous buffer, read as raw bytes (like hashlib)
    assert hashing.sha256(ints) == hashlib.sha256(ints).digest()


@given(st.binary(max_size=2000))
def test_sha256_hypothesis(data):
    assert hashing.sha256(data) == hashlib.sha256(data).digest()


def test_sha256_bad_input():
    with pytest.raises(TypeError, match="not str"):
        hashing.sha256("abc")
    with pytest.raises(TypeError, match="bytes-like"):
        hashing.sha256(12)
    with pytest.raises(TypeError, match="bytes-like"):
        hashing.sha256(None)
    with pytest.raises(ValueError, match="C-contiguous"):
        hashing.sha256(memoryview(b"abcdef")[::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        hashing.sha256(np.zeros((4, 4), dtype=np.uint8)[:, 1])


# ---------------------------------------------------------------- sha256_many

@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 119, 120, 128, 200, 1000])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100])
def test_many_uniform(backend, n, length):
    data = rand_bytes(n * length + 5)
    off = uniform_offsets(n, length, start=3)
    got = hashing.sha256_many(data, off)
    assert got.shape == (n, 32) and got.dtype == np.uint8
    assert [bytes(r) for r in got] == ref_many(data, off)


@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 40, 333])
def test_many_variable(backend, n):
    lens = RNG.integers(0, 300, n)
    lens[RNG.integers(0, n)] = 4000  # one long message among short ones
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    data = rand_bytes(int(off[-1]))
    got = hashing.sha256_many(data, off)
    assert [bytes(r) for r in got] == ref_many(data, off)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_many_threads_identical(backend, threads):
    n = 20000  # above the threading threshold
    off = uniform_offsets(n, 64)
    data = rand_bytes(n * 64)
    want = ref_many(data, off)
    assert [bytes(r) for r in hashing.sha256_many(data, off, threads=threads)] == want
    lens = RNG.integers(0, 130, n)
    voff = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    vdata = rand_bytes(int(voff[-1]))
    assert [bytes(r) for r in hashing.sha256_many(vdata, voff, threads=threads)] == ref_many(vdata, voff)


@given(st.lists(st.binary(max_size=300), max_size=60), st.integers(0, 3))
def test_many_hypothesis(msgs, start):
    data = b"\xaa" * start + b"".join(msgs)
    off = np.array([start] + [start + sum(len(m) for m in msgs[:i + 1]) for i in range(len(msgs))],
                   dtype=np.int64)
    for b in BACKENDS:
        hashing._set_backend(b)
        try:
            got = hashing.sha256_many(data, off)
        finally:
            hashing._set_backend("auto")
        assert [bytes(r) for r in got] == [hashlib.sha256(m).digest() for m in msgs], b


def test_many_inputs_accepted():
    data = rand_bytes(96)
    want = ref_many(data, [0, 32, 96])
    assert [bytes(r) for r in hashing.sha256_many(data, [0, 32, 96])] == want
    assert [bytes(r) for r in hashing.sha256_many(bytearray(data), (0, 32, 96))] == want
    ro = np.array([0, 32, 96], dtype=np.int64)
    ro.setflags(write=False)
    assert [bytes(r) for r in hashing.sha256_many(np.frombuffer(data, np.uint8), ro)] == want
    out = np.zeros((2, 32), dtype=np.uint8)
    res = hashing.sha256_many(data, ro, out=out)
    assert res is out and [bytes(r) for r in out] == want
    assert hashing.sha256_many(b"", [0]).shape == (0, 32)


def test_many_bad_input():
    data = b"x" * 64
    with pytest.raises(TypeError, match="int64"):
        hashing.sha256_many(data, np.array([0, 32], dtype=np.int32))
    with pytest.raises(TypeError, match="int64"):
        hashing.sha256_many(data, np.array([0.0, 32.0]))
    with pytest.raises(TypeError, match="int64"):
        hashing.sha256_many(data, np.array([0, 32], dtype=">i8"))
    with pytest.raises(TypeError, match="offsets must be"):
        hashing.sha256_many(data, "0,32")
    with pytest.raises(TypeError, match="sequence of ints"):
        hashing.sha256_many(data, [0, "a"])
    with pytest.raises(ValueError, match="1-D"):
        hashing.sha256_many(data, np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="n \\+ 1 >= 1"):
        hashing.sha256_many(data, np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        hashing.sha256_many(data, np.arange(6, dtype=np.int64)[::2])
    with pytest.raises(ValueError, match=r"offsets\[2\] = 10 is out of order"):
        hashing.sha256_many(data, [0, 20, 10])
    with pytest.raises(ValueError, match=r"offsets\[1\] = 65 .*len\(data\) = 64"):
        hashing.sha256_many(data, [0, 65])
    with pytest.raises(ValueError, match=r"offsets\[0\] = -1"):
        hashing.sha256_many(data, [-1, 3])
    with pytest.raises(TypeError, match="not str"):
        hashing.sha256_many("x" * 64, [0, 3])
    with pytest.raises(ValueError, match="C-contiguous"):
        hashing.sha256_many(memoryview(data)[::2], [0, 3])
    with pytest.raises(ValueError, match="threads must be >= 1"):
        hashing.sha256_many(data, [0, 3], threads=0)
    with pytest.raises(TypeError, match="threads"):
        hashing.sha256_many(data, [0, 3], threads=True)
    with pytest.raises(TypeError, match="threads"):
        hashing.sha256_many(data, [0, 3], threads=1.5)
    # out
    with pytest.raises(TypeError, match="numpy array"):
        hashing.sha256_many(data, [0, 3], out=bytearray(32))
    with pytest.raises(TypeError, match="uint8"):
        hashing.sha256_many(data, [0, 3], out=np.zeros((1, 32), dtype=np.int8))
    with pytest.raises(ValueError, match=r"shape \(1, 32\)"):
        hashing.sha256_many(data, [0, 3], out=np.zeros((2, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match="C-contiguous"):
        hashing.sha256_many(data, [0, 3], out=np.zeros((1, 64), dtype=np.uint8)[:, ::2])
    ro = np.zeros((1, 32), dtype=np.uint8)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="writable"):
        hashing.sha256_many(data, [0, 3], out=ro)


# ---------------------------------------------------------------- environment masks

def _run_isolated(env_extra: dict[str, str]) -> dict:
    code = r"""
import hashlib, json, numpy as np
from core_ext import hashing, merkle
data = bytes(range(256)) * 40
off = np.arange(0, 10241, 64, dtype=np.int64)
ok = [bytes(r) for r in hashing.sha256_many(data, off)] == [
    hashlib.sha256(data[a:b]).digest() for a, b in zip(off[:-1], off[1:])]
ok = ok and hashing.sha256(data) == hashlib.sha256(data).digest()
print(json.dumps({"hashing": hashing.backend(), "merkle": merkle.backend(),
                  "all": hashing._backends(), "ok": ok}))
"""
    env = dict(os.environ, **env_extra)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True,
                         text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_force_portable_subprocess():
    res = _run_isolated({"MBI_FORCE_PORTABLE": "1"})
    assert res == {"hashing": "portable", "merkle": "portable", "all": ["portable"], "ok": True}


def test_cpu_disable_subprocess():
    res = _run_isolated({"MBI_CPU_DISABLE": "sha_ni,avx512f"})
    assert res["ok"]
    assert all("sha_ni" not in b and "avx512" not in b for b in res["all"])
    assert res["hashing"] == res["all"][0]


# ---------------------------------------------------------------- ARM path (cross-built)

def test_arm_crosscheck_under_qemu():
    """The AArch64 crypto-extension kernel against the portable one, under qemu."""
    import shutil

    if not (shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")):
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 (tests/native/arm_crosscheck.sh)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # The overrides that steer this process's own kernels (e.g. a portable-backend CI run)
    # must not reach the qemu self-test, which has to exercise the crypto-extension path.
    env = dict(os.environ, MBI_FORCE_PORTABLE="1", MBI_CPU_DISABLE="arm_sha2,sha_ni")
    res = subprocess.run(["bash", "tests/native/arm_crosscheck.sh"], cwd=root, capture_output=True, check=False,
                         text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "backend arm_sha2" in res.stdout and "bad=0" in res.stdout


# ---------------------------------------------------------------- caller buffers vs the GIL

_OFFSETS_RACE = r"""
import sys, threading, time
import numpy as np
from core_ext import hashing
n = 50_000
data = bytes(64 * n)
off = np.arange(0, 64 * n + 1, 64, dtype=np.int64)
stop = False
def flip():
    # Another Python thread rewrites offsets while sha256_many runs without the GIL.
    while not stop:
        off[n // 2] = 1 << 44
        off[n // 2] = 64 * (n // 2)
t = threading.Thread(target=flip)
t.start()
end = time.monotonic() + float(sys.argv[1])
try:
    while time.monotonic() < end:
        try:
            hashing.sha256_many(data, off, threads=1)
        except ValueError:
            pass
finally:
    stop = True
    t.join()
print("ok")
"""


def test_many_offsets_changed_by_another_thread_do_not_crash():
    """Offsets are checked once and must be the offsets hashed: a caller's array that
    another thread rewrites during the call may give ValueError, never an out-of-bounds
    read (this crashed the interpreter when the caller's array was read twice)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", _OFFSETS_RACE, "3"], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.strip() == "ok"


# ---------------------------------------------------------------- integer lists (issue 12)

@pytest.mark.parametrize("offsets", [[0, 32.0], [0.7, 32], [0, "32"], [False, 32], [0, True],
                                     [0, np.float64(32)], [np.bool_(False), 32], [0, None]])
def test_offsets_list_takes_ints_only(offsets):
    """A list is not cast: [0.7, 32] would hash data[0:32], ["3"] would read offset 3."""
    with pytest.raises(TypeError, match="offsets must be a sequence of ints"):
        hashing.sha256_many(bytes(64), offsets)


def test_offsets_list_of_numpy_integer_scalars_and_range():
    data = bytes(range(64))
    got = hashing.sha256_many(data, [0, np.int64(32), np.uint8(40), 64])
    assert [bytes(r) for r in got] == [hashlib.sha256(data[a:b]).digest()
                                       for a, b in ((0, 32), (32, 40), (40, 64))]
    with pytest.raises(ValueError, match="int64 range"):
        hashing.sha256_many(data, [0, 2**63])


def test_threads_takes_numpy_integers_not_numpy_bools():
    data = bytes(range(64))
    want = [hashlib.sha256(data[:32]).digest(), hashlib.sha256(data[32:]).digest()]
    for t in (np.int64(2), np.uint8(1), np.int32(3)):
        assert [bytes(r) for r in hashing.sha256_many(data, [0, 32, 64], threads=t)] == want
    with pytest.raises(TypeError, match="threads"):
        hashing.sha256_many(data, [0, 32], threads=np.bool_(True))
    with pytest.raises(ValueError, match="threads must be >= 1"):
        hashing.sha256_many(data, [0, 32], threads=np.int64(0))
