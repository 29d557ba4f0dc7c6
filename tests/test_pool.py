"""The shared worker pool (core_ext._pool) behind hashing, merkle and sigverify.

Expected values come from hashlib, the pure-Python RFC 6962 reference and signatures
made (and spoiled) here with libsodium; thread counts from /proc/self/task.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from nacl.signing import SigningKey

import core_ext
from core_ext import _pool, hashing, merkle
from core_ext import sigverify as sv
import rfc6962_ref as ref

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(20261202)
# Big enough that every kernel splits it: > 16k messages, > 16k Merkle leaves.
N_MSG = 20000
MSG_DATA = RNG.integers(0, 256, N_MSG * 40, dtype=np.uint8).tobytes()
MSG_OFF = np.arange(0, N_MSG * 40 + 1, 40, dtype=np.int64)
MSG_WANT = np.frombuffer(b"".join(hashlib.sha256(MSG_DATA[i * 40:(i + 1) * 40]).digest()
                                  for i in range(N_MSG)), dtype=np.uint8).reshape(N_MSG, 32)
ENTRIES = RNG.integers(0, 256, (20000, 32), dtype=np.uint8)
ROOT_WANT = ref.mth([bytes(r) for r in ENTRIES])
SMALL_ROOTS = {n: ref.mth([bytes(r) for r in ENTRIES[:n]]) for n in (1, 2, 63, 4097, 8193, 16385)}


def _signed(n: int) -> tuple[list[bytes], list[bytes], list[bytes], list[bool]]:
    keys = [SigningKey(bytes([i % 251 + 1]) * 32) for i in range(8)]
    pks, msgs, sigs, valid = [], [], [], []
    for i in range(n):
        k = keys[i % 8]
        m = b"pool test %d" % i
        s = bytearray(k.sign(m).signature)
        ok = i % 13 != 5
        if not ok:
            s[i % 32] ^= 0x40  # a flipped bit in R: invalid
        pks.append(bytes(k.verify_key))
        msgs.append(m)
        sigs.append(bytes(s))
        valid.append(ok)
    return pks, msgs, sigs, valid


PKS, MSGS, SIGS, VALID = _signed(300)


def _tasks() -> int:
    return len(os.listdir("/proc/self/task"))


def _run_all(threads: int | None = None) -> None:
    """One call of every threaded kernel, each checked against the reference."""
    assert np.array_equal(hashing.sha256_many(MSG_DATA, MSG_OFF, threads=threads), MSG_WANT)
    assert merkle.merkle_root(ENTRIES, threads=threads) == ROOT_WANT
    assert sv.verify_batch(PKS, MSGS, SIGS, threads=threads).tolist() == VALID


@pytest.fixture
def pool_size():
    """Restores the default size after a test that changes it."""
    yield core_ext.set_threads
    core_ext.set_threads(None)


def _python(code: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    full = dict(os.environ)
    full.pop("MBI_THREADS", None)
    full.update(env or {})
    full["PYTHONPATH"] = ROOT + os.pathsep + full.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=full,
                         capture_output=True, text=True, timeout=timeout, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


# ---------------------------------------------------------------- size

def test_default_size_is_the_affinity_mask():
    out = _python("import core_ext; print(core_ext.threads())")
    assert int(out) == len(os.sched_getaffinity(0))


def test_default_size_follows_a_narrowed_affinity_mask():
    cpu = min(os.sched_getaffinity(0))
    out = _python(f"""
        import os
        os.sched_setaffinity(0, {{{cpu}}})
        import core_ext
        print(core_ext.threads())
    """)
    assert int(out) == 1


def test_env_var_sets_the_size_and_the_worker_count():
    out = _python("""
        import os, numpy as np, core_ext
        from core_ext import _pool, hashing
        before = len(os.listdir("/proc/self/task"))
        hashing.sha256_many(bytes(40 * 20000), np.arange(0, 40 * 20001, 40, dtype=np.int64))
        print(core_ext.threads(), _pool.workers(), len(os.listdir("/proc/self/task")) - before)
    """, env={"MBI_THREADS": "3"})
    assert out.split() == ["3", "2", "2"]


@pytest.mark.parametrize("bad", ["0", "-2", "two", "2.5", " 2"])
def test_env_var_must_be_a_whole_number(bad):
    full = dict(os.environ, MBI_THREADS=bad, PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", "import core_ext.hashing"], cwd=ROOT, env=full,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode != 0
    assert "MBI_THREADS must be a whole number >= 1" in res.stderr


def test_set_threads_checks_its_argument(pool_size):
    for bad in (0, -1, _pool.MAX_THREADS + 1):
        with pytest.raises(ValueError, match=r"n must be in \[1, 256\]"):
            core_ext.set_threads(bad)
    for bad in (True, 1.5, "2"):
        with pytest.raises(TypeError, match="n must be an int >= 1 or None"):
            core_ext.set_threads(bad)
    core_ext.set_threads(np.int64(3))
    assert core_ext.threads() == 3
    core_ext.set_threads(None)
    assert core_ext.threads() == _pool.default_size() == len(os.sched_getaffinity(0))


def test_set_threads_is_honoured(pool_size):
    pool_size(4)
    _run_all()
    assert _pool.workers() == 3
    base = _tasks()
    pool_size(2)  # shrinking joins the surplus workers before it returns
    assert _pool.workers() == 1 and _tasks() == base - 2
    pool_size(1)
    assert _pool.workers() == 0 and _tasks() == base - 3
    pieces = _pool._worker_pieces()
    _run_all()
    assert _pool.workers() == 0 and _pool._worker_pieces() == pieces  # all on the caller
    pool_size(3)
    _run_all()
    assert _pool.workers() == 2 and _tasks() == base - 1


def test_threads_1_runs_on_the_caller_only(pool_size):
    pool_size(3)
    _run_all()
    pieces = _pool._worker_pieces()
    for _ in range(3):
        _run_all(threads=1)
    assert _pool._worker_pieces() == pieces


# ---------------------------------------------------------------- persistence

def test_no_new_threads_per_call(pool_size):
    pool_size(3)
    _run_all()
    before, pieces = _tasks(), _pool._worker_pieces()
    for _ in range(40):
        _run_all()
        assert _tasks() == before
    assert _pool.workers() == 2
    assert _pool._worker_pieces() > pieces  # the work did go to the pool's threads


# ---------------------------------------------------------------- results

@pytest.mark.parametrize("threads", [1, 2, 3, 5, 8])
def test_results_identical_to_one_thread(pool_size, threads):
    pool_size(8)  # so up to 8 pieces really run on distinct threads
    _run_all(threads)
    for n in (1, 2, 63, 4097, 8193, 16385):
        assert merkle.merkle_root(ENTRIES[:n], threads=threads) == SMALL_ROOTS[n], n
    t1 = merkle.MerkleTree(ENTRIES, threads=1)
    tk = merkle.MerkleTree(ENTRIES, threads=threads)
    idx = RNG.permutation(20000)[:18000].astype(np.int64)
    new = RNG.integers(0, 256, (18000, 32), dtype=np.uint8)
    t1.update(idx, new)
    tk.update(idx, new)
    assert tk.root() == t1.root()
    full = ENTRIES.copy()
    full[idx] = new
    assert tk.root() == merkle.merkle_root(full, threads=1)


# ---------------------------------------------------------------- concurrency

def test_concurrent_callers_from_python_threads(pool_size):
    pool_size(3)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(6):
                _run_all(threads=None if k % 2 else 2)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in ts), "a caller hung"
    assert not errors, errors


def test_resize_while_other_threads_call(pool_size):
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set():
                _run_all()
        except BaseException as exc:
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    try:
        for n in (1, 4, 2, 3, 1, 2) * 3:
            pool_size(n)
    finally:
        stop.set()
        for t in ts:
            t.join(timeout=300)
    assert not any(t.is_alive() for t in ts), "a caller hung"
    assert not errors, errors


# ---------------------------------------------------------------- fork and exit

FORK_CHILD = """
    import hashlib, os, sys, threading
    import numpy as np
    import core_ext
    from core_ext import _pool, hashing, merkle
    core_ext.set_threads(3)
    data = bytes(range(256)) * 3125
    off = np.arange(0, len(data) + 1, 40, dtype=np.int64)
    want = [hashlib.sha256(data[a:a + 40]).digest() for a in off[:-1]]
    def check():
        got = hashing.sha256_many(data, off)
        assert [bytes(r) for r in got] == want
    check()
    assert _pool.workers() == 2
    stop = threading.Event()
    def busy():  # keeps the pool in use while the main thread forks
        while not stop.is_set():
            check()
    t = threading.Thread(target=busy)
    t.start()
    pids = []
    for _ in range(5):
        pid = os.fork()
        if pid == 0:
            try:
                before = _pool.workers()
                check()
                check()
                ok = before == 0 and _pool.workers() == 2
            except BaseException as exc:
                print("child:", repr(exc), flush=True)
                ok = False
            os._exit(0 if ok else 1)
        pids.append(pid)
    stop.set()
    t.join()
    codes = [os.waitpid(p, 0)[1] for p in pids]
    print(codes)
    sys.exit(0 if codes == [0] * 5 else 1)
"""


def test_fork_child_starts_its_own_workers():
    """The child inherits no live workers (and no lock held by one): it starts its own."""
    _python(FORK_CHILD, timeout=180)


def test_exit_joins_the_workers_and_later_calls_still_work():
    out = _python("""
        import numpy as np, hashlib, core_ext
        from core_ext import _pool, hashing
        core_ext.set_threads(3)
        data = bytes(40 * 20000)
        off = np.arange(0, len(data) + 1, 40, dtype=np.int64)
        hashing.sha256_many(data, off)
        print(_pool.workers())
        _pool._shutdown()  # what the atexit hook runs
        got = hashing.sha256_many(data, off)
        assert bytes(got[7]) == hashlib.sha256(bytes(40)).digest()
        print(_pool.workers())
    """)
    assert out.split() == ["2", "0"]
