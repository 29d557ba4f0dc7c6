"""Crash test: a child commits blocks in a loop and is SIGKILLed at random moments.

After every kill the store is reopened and must hold a consistent prefix: blocks 1..tip
exactly as generated, state equal to replaying 1..tip, nothing of block tip+1, and every
block the child reported as committed present. Kill count: MBI_STORE_CRASH_KILLS
(default 20).
"""
from __future__ import annotations

import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mbi.store import Store, StoreNotFoundError
from mbi.store import keys as K

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_crash_child import Model, address, make_block  # noqa: E402

CHAIN = 4242
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "store_crash_child.py")
KILLS = int(os.environ.get("MBI_STORE_CRASH_KILLS", "20"))


def _run_and_kill(path: str, rng: random.Random) -> tuple[int, bool]:
    """Start the child, SIGKILL it at a random moment; return (highest reported seq,
    whether it got past opening the store)."""
    p = subprocess.Popen([sys.executable, CHILD, path, str(CHAIN)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        if rng.random() < 0.2:
            # Sometimes kill early: during interpreter start, creation or WAL recovery.
            time.sleep(rng.uniform(0.0, 0.6))
        else:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], 0.5)
                if r:
                    line = p.stdout.readline()  # type: ignore[union-attr]
                    if not line:
                        break
                    lines.append(line)
                    if line.startswith("ready"):
                        break
            time.sleep(rng.uniform(0.0, 0.35))
    finally:
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate(timeout=30)
    assert p.returncode == -signal.SIGKILL, f"child exited by itself ({p.returncode}): {err}"
    lines += out.splitlines()
    reported = [int(x.split()[1]) for x in lines if x.startswith("committed ")]
    assert reported == sorted(reported)
    return (reported[-1] if reported else 0), any(x.startswith("ready") for x in lines)


def _verify(path: str, reported: int, model: Model, verified_txs_upto: int,
            rng: random.Random) -> int:
    """Check the reopened store against the model; return its tip."""
    try:
        store = Store.open(path, CHAIN)
    except StoreNotFoundError:
        assert reported == 0 and model.tip == 0, "store vanished after commits were reported"
        return 0
    with store:
        tip = store.last_seq()
        assert tip >= reported, f"child reported ledger {reported} committed, store tip is {tip}"
        assert tip >= model.tip, "tip went backwards"
        for seq in range(model.tip + 1, tip + 1):
            model.apply(make_block(seq))
        # Blocks 1..tip: headers, hash index and tx lists always; full tx records for the
        # blocks new since the last check plus a random sample of older ones.
        sample = set(range(max(1, verified_txs_upto), tip + 1))
        sample |= set(rng.sample(range(1, tip + 1), min(tip, 15))) if tip else set()
        for seq in range(1, tip + 1):
            b = make_block(seq)
            assert store.get_header(seq) == b.header, f"header {seq}"
            assert store.get_seq_by_hash(b.header_hash) == seq
            assert store.get_ledger_txs(seq) == [t.hash for t in b.txs], f"tx list {seq}"
            if seq in sample:
                for t in b.txs:
                    assert store.get_tx(t.hash) == t, f"tx {t.index} of ledger {seq}"
        assert store.tip() == ((tip, make_block(tip).header_hash) if tip else None)
        # Nothing of the next block, not even part of it.
        nxt = make_block(tip + 1)
        assert store.get_header(tip + 1) is None
        assert store.get_seq_by_hash(nxt.header_hash) is None
        assert store.get_ledger_txs(tip + 1) == []
        assert all(store.get_tx(t.hash) is None for t in nxt.txs)
        # No stray records anywhere: every per-seq block key is <= tip, and the tx family
        # holds exactly the transactions of blocks 1..tip.
        for key in store._cfs[1].keys():
            if key[:1] in (K.P_HEADER, K.P_LEDGER_TXS):
                assert K.seq_from_block_key(key) <= tip, f"block key beyond tip: {key!r}"
        assert sum(1 for _ in store._cfs[2].keys()) == model.tx_count
        # State equals replaying 1..tip.
        assert store.account_count() == len(model.accounts)
        want_accounts = sorted((i, a, e) for a, (i, e) in model.accounts.items())
        assert list(store.iter_accounts()) == want_accounts
        for a in model.touched:
            assert sorted(store.iter_assets(a)) == sorted(
                (iss, code, amt) for (ad, iss, code), amt in model.assets.items() if ad == a)
            assert sorted(store.iter_metadata(a)) == sorted(
                (k, v, ver) for (ad, k), (v, ver) in model.metadata.items() if ad == a)
        return tip


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_consistent_prefix(tmp_path) -> None:
    seed = int(os.environ.get("MBI_STORE_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    path = str(tmp_path / "db")
    model = Model()
    verified_upto = 1
    unreported = 0
    opened_runs = 0
    for k in range(KILLS):
        reported, opened = _run_and_kill(path, rng)
        opened_runs += opened
        try:
            tip = _verify(path, reported, model, verified_upto, rng)
        except AssertionError as e:
            raise AssertionError(f"kill {k} (seed {seed}, MBI_STORE_CRASH_SEED to replay): {e}") from e
        unreported += tip > reported
        verified_upto = tip
    # The test is only meaningful if the child really committed between kills.
    assert model.tip >= KILLS, f"only {model.tip} blocks committed over {KILLS} kills (seed {seed})"
    assert opened_runs >= KILLS // 2
    print(f"crash test: {KILLS} kills, tip {model.tip}, {unreported} kills landed after a "
          f"commit but before its report (seed {seed})")
    assert address(0) in model.accounts


def test_store_held_by_another_process_is_locked(tmp_path) -> None:
    from mbi.store import StoreLockedError

    path = str(tmp_path / "db")
    p = subprocess.Popen([sys.executable, CHILD, path, str(CHAIN)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        assert p.stdout.readline().startswith("ready")
        with pytest.raises(StoreLockedError, match="already open"):
            Store.open(path, CHAIN)
        with Store.open(path, CHAIN, read_only=True) as ro:  # a read-only view needs no lock
            assert ro.chain_id == CHAIN
    finally:
        p.kill()
        p.communicate(timeout=30)
    with Store.open(path, CHAIN) as s:  # the lock dies with the process
        assert s.last_seq() >= 0


_FSYNC_SCRIPT = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
from store_crash_child import make_block
from mbi.store import Store
s = Store.open(sys.argv[1], 1, create=True)
os.write(2, b"=== commits\n")
for seq in range(1, 6):
    s.commit_block(make_block(seq))
    os.write(2, b"=== committed\n")
s.put_meta(b"k", b"v", sync=False)
os.write(2, b"=== unsynced meta\n")
s.put_meta(b"k", b"v")
os.write(2, b"=== synced meta\n")
s.close()
"""


def _strace(tmp_path, script: str, trace: str, *extra: str) -> str:
    """Run `script` in a child Python under strace; return strace's log.

    Without strace or ptrace the test skips on a developer machine, but fails where
    CI=true: in CI (root, strace installed by ci/setup.sh) these are the only tests that
    see a missing fsync, so they must run."""
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")

    def unavailable(why: str) -> None:
        if in_ci:
            pytest.fail(f"CI=true but the fsync test cannot run: {why}")
        pytest.skip(why)

    if shutil.which("strace") is None:
        unavailable("needs strace (apt-get install strace)")
    here = os.path.dirname(os.path.abspath(__file__))
    path = tmp_path / "fsync_child.py"
    path.write_text(script)
    env = dict(os.environ)  # the child imports mbi from this tree, like the test does
    env["PYTHONPATH"] = os.path.dirname(here) + os.pathsep + env.get("PYTHONPATH", "")
    # -q: no "Process N attached" lines; strace printed one into the middle of a traced
    # call's line once, and the call was not found (a CI flake)
    r = subprocess.run(["strace", "-f", "-q", "-y", "-e", f"trace={trace}", "-e", "signal=none",
                        sys.executable, str(path), str(tmp_path / "db"), here, *extra],
                       capture_output=True, text=True, timeout=120, env=env)
    if r.returncode != 0 and "ptrace" in r.stderr.lower():
        unavailable("ptrace not permitted here")
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stderr


def test_commit_and_safety_meta_fsync_before_returning(tmp_path) -> None:
    """Durability cannot be seen through SIGKILL (the page cache survives it), so check
    the system calls: each commit_block and each sync put_meta issues an fdatasync/fsync
    before it returns; a sync=False put_meta does not."""
    log = _strace(tmp_path, _FSYNC_SCRIPT, "fsync,fdatasync,write")
    # Count syncs between the markers the child writes after each step, and whether the
    # WAL (a .log file; strace -y names it) was synced after the step's last write to it:
    # the store writes unsynced and then syncs the WAL (Store._sync_wal), so a sync that
    # came before the write, or synced another file, would not make the write durable.
    phases: list[tuple[int, bool]] = []
    count, wal_dirty, wal_synced = None, False, False
    for line in log.splitlines():
        if "=== " in line and "write(2" in line:
            if count is not None:
                phases.append((count, wal_synced and not wal_dirty))
            count, wal_dirty, wal_synced = 0, False, False
        elif count is not None and "resumed" not in line:
            if "fdatasync(" in line or "fsync(" in line:
                count += 1
                if ".log>" in line:
                    wal_dirty, wal_synced = False, True
            elif "write(" in line and ".log>" in line:
                wal_dirty = True
    assert len(phases) == 7, log[-2000:]
    assert all(n >= 1 and wal for n, wal in phases[:5]), phases  # every commit's WAL synced before returning
    assert phases[5][0] == 0, phases  # sync=False meta: no fsync
    assert phases[6][0] >= 1 and phases[6][1], phases  # default (safety data): WAL synced


_CREATE_SCRIPT = r"""
import sys
from mbi.store import Store
Store.open(sys.argv[1], 1, create=True).close()
"""


def test_store_creation_fsyncs_the_new_store_and_its_parent_directory(tmp_path) -> None:
    """A store is built beside its path and renamed into place. The rename is durable
    only once the parent directory is fsynced, and the renamed tree only if it was
    fsynced before: check both, in that order, in the system calls."""
    log = _strace(tmp_path, _CREATE_SCRIPT, "fsync,fdatasync,rename,renameat,renameat2")
    db = str(tmp_path / "db")
    tmp = db + ".mbi-creating"
    lines = log.splitlines()
    ren = [i for i, ln in enumerate(lines) if "rename" in ln and f'"{tmp}"' in ln and f'"{db}")' in ln]
    assert len(ren) == 1, log[-3000:]

    def dir_fsyncs(d: str, lo: int, hi: int) -> list[int]:
        # strace -y prints an fd with its path: fsync(5</tmp/.../db>) = 0, or with -f, when
        # another thread's call comes between: fsync(5</tmp/.../db> <unfinished ...>
        pat = re.compile(r"\bf(?:data)?sync\(\d+<" + re.escape(d) + r">(?:\) = 0| <unfinished \.\.\.>)")
        return [i for i in range(lo, hi) if pat.search(lines[i])]

    assert dir_fsyncs(tmp, 0, ren[0]), "the new store was not fsynced before the rename:\n" + log[-3000:]
    assert dir_fsyncs(str(tmp_path), ren[0] + 1, len(lines)), (
        "the parent directory was not fsynced after the rename:\n" + log[-3000:])
