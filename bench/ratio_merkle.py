"""core_ext.hashing / core_ext.merkle against a hashlib-based pure-Python RFC 6962
implementation (tests/rfc6962_ref.py), and 2 threads against 1, measured in one run.

Every row's variants (the pure-Python baseline, the native call on 1 thread and on 2)
are sampled interleaved in the same rounds (bench/interleave.py); figures are medians of
wall-clock samples and ratios medians of per-round ratios, never bests. Every sample's
result is checked against the reference. Targets apply to measured medians only. Usage:

    .venv/bin/python bench/ratio_merkle.py [--log2n 20] [--rounds 7] [--backend NAME]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import rfc6962_ref as ref  # noqa: E402
from interleave import interleaved, load_line, median, speedup  # noqa: E402

import core_ext  # noqa: E402
from core_ext import hashing, merkle  # noqa: E402


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ms(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s < 0.01 else f"{s * 1e3:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log2n", type=int, default=20, help="tree size 2^N (default 20)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per row (odd)")
    ap.add_argument("--backend", default=None, help="force a SHA-256 backend (see _backends())")
    args = ap.parse_args()
    if args.backend:
        hashing._set_backend(args.backend)
        merkle._set_backend(args.backend)
    if core_ext.threads() < 2:
        core_ext.set_threads(2)
    R = args.rounds

    n = 1 << args.log2n
    rng = np.random.default_rng(6962)
    entries = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    entry_list = [bytes(r) for r in entries]
    info = core_ext.cpu_features()
    print(f"machine : {cpu_model()}, {info['cores']} cores; usable: {' '.join(info['cpu'])}")
    print(f"backend : hashing={hashing.backend()} merkle={merkle.backend()}, pool {core_ext.threads()} threads")
    print(f"python  : {platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}")
    print(load_line())
    print(f"method  : {R} interleaved rounds per row; medians of wall-clock samples")
    rows: list[tuple[str, str, str, str, str, str]] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    # 1. sha256_many, 64-byte messages.
    m = 1 << 18
    data = rng.integers(0, 256, m * 64, dtype=np.uint8).tobytes()
    off = np.arange(m + 1, dtype=np.int64) * 64
    sha = hashlib.sha256
    want_many = np.frombuffer(b"".join(sha(data[i:i + 64]).digest() for i in range(0, m * 64, 64)),
                              dtype=np.uint8).reshape(m, 32)

    def check_many(got):
        assert np.array_equal(np.asarray(got), want_many), "sha256_many differs from hashlib"

    res = interleaved({
        "py": lambda: np.frombuffer(b"".join(sha(data[i:i + 64]).digest() for i in range(0, m * 64, 64)),
                                    dtype=np.uint8).reshape(m, 32),
        "t1": lambda: hashing.sha256_many(data, off, threads=1),
        "t2": lambda: hashing.sha256_many(data, off, threads=2),
    }, R, 0.05, {"py": check_many, "t1": check_many, "t2": check_many})
    r1 = m / median(res["t1"])
    rows.append(("sha256_many 2^18 x 64 B, 1 thread", f"{r1 / 1e6:.1f} M/s", f"{m / median(res['py']) / 1e6:.2f} M/s",
                 f"{speedup(res, 'py', 't1'):.0f}x", ">= 25 M/s", verdict(r1 >= 25e6)))
    rows.append(("sha256_many 2^18 x 64 B, 2 threads", f"{m / median(res['t2']) / 1e6:.1f} M/s", "",
                 f"{speedup(res, 't1', 't2'):.2f}x 1t", ">= 1.0x 1 thread",
                 verdict(speedup(res, "t1", "t2") >= 1.0)))

    # 2. merkle_root over 2^N entries.
    want = ref.mth_fast(entry_list)

    def check_root(got):
        assert got == want, "merkle_root differs from the RFC 6962 reference"

    res = interleaved({
        "py": lambda: ref.mth_fast(entry_list),
        "t1": lambda: merkle.merkle_root(entries, threads=1),
        "t2": lambda: merkle.merkle_root(entries, threads=2),
    }, R, 0.05, {"py": check_root, "t1": check_root, "t2": check_root})
    t1, t2, tpy = median(res["t1"]), median(res["t2"]), median(res["py"])
    rows.append((f"merkle_root 2^{args.log2n}, 1 thread", ms(t1), ms(tpy), f"{speedup(res, 'py', 't1'):.0f}x", "", ""))
    rows.append((f"merkle_root 2^{args.log2n}, 2 threads", ms(t2), ms(tpy), f"{speedup(res, 'py', 't2'):.0f}x",
                 "<= 35 ms, >= 20x", verdict(t2 <= 0.035 and speedup(res, "py", "t2") >= 20)))
    rows.append((f"merkle_root 2^{args.log2n}, 2 threads vs 1", "", "", f"{speedup(res, 't1', 't2'):.2f}x",
                 ">= 1.0x", verdict(speedup(res, "t1", "t2") >= 1.0)))

    # 3. MerkleTree.update of 10,000 random entries in a 2^N tree. Each variant rewrites
    # its own tree with the same batches in the same order; the roots are checked after.
    k = 10_000
    batches = [(rng.integers(0, n, k), rng.integers(0, 256, (k, 32), dtype=np.uint8)) for _ in range(4)]
    trees = {"t1": merkle.MerkleTree(entries, threads=1), "t2": merkle.MerkleTree(entries, threads=2)}
    rtree = ref.RefTree(entry_list)
    pos = {"t1": 0, "t2": 0, "py": 0}
    lists = [(i.tolist(), [bytes(r) for r in e]) for i, e in batches]

    def upd(name: str):
        b = batches[pos[name] % len(batches)]
        pos[name] += 1
        trees[name].update(*b)

    def upd_py():
        b = lists[pos["py"] % len(lists)]
        pos["py"] += 1
        rtree.update(*b)

    res = interleaved({"py": upd_py, "t1": lambda: upd("t1"), "t2": lambda: upd("t2")}, R, 0.05)
    for name in ("t1", "t2"):
        # same batches applied in the same order up to the count of calls: replay on a copy
        full = entries.copy()
        for j in range(pos[name]):
            idx, new = batches[j % len(batches)]
            full[idx] = new
        assert trees[name].root() == merkle.merkle_root(full, threads=1), f"update ({name}) diverged"
    rows.append((f"MerkleTree.update 10k in 2^{args.log2n}, 1 thread", ms(median(res["t1"])), ms(median(res["py"])),
                 f"{speedup(res, 'py', 't1'):.0f}x", "<= 10 ms", verdict(median(res["t1"]) <= 0.010)))
    rows.append((f"MerkleTree.update 10k in 2^{args.log2n}, 2 threads", ms(median(res["t2"])), "",
                 f"{speedup(res, 't1', 't2'):.2f}x 1t", "<= 10 ms, >= 1.0x 1t",
                 verdict(median(res["t2"]) <= 0.010 and speedup(res, "t1", "t2") >= 1.0)))

    # 4. Building the incremental tree (every level stored).
    def check_tree(t):
        assert t.root() == want, "MerkleTree root differs from the reference"

    res = interleaved({
        "py": lambda: ref.RefTree(entry_list),
        "t1": lambda: merkle.MerkleTree(entries, threads=1),
        "t2": lambda: merkle.MerkleTree(entries, threads=2),
    }, max(3, R // 2) | 1, 0.05, {"t1": check_tree, "t2": check_tree})
    rows.append((f"MerkleTree(2^{args.log2n} entries), 1 thread", ms(median(res["t1"])), ms(median(res["py"])),
                 f"{speedup(res, 'py', 't1'):.0f}x", "", ""))
    rows.append((f"MerkleTree(2^{args.log2n} entries), 2 threads", ms(median(res["t2"])), "",
                 f"{speedup(res, 't1', 't2'):.2f}x 1t", ">= 1.0x 1 thread",
                 verdict(speedup(res, "t1", "t2") >= 1.0)))

    w = max(len(r[0]) for r in rows)
    print()
    print(f"{'workload':<{w}}  {'native':>11}  {'pure Python':>11}  {'ratio':>10}  {'target':<22} verdict")
    for name, nat, py, ratio, target, ok in rows:
        print(f"{name:<{w}}  {nat:>11}  {py:>11}  {ratio:>10}  {target:<22} {ok}")


if __name__ == "__main__":
    main()
