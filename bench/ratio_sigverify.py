"""core_ext.sigverify throughput against libsodium's single verify, measured in one run.

Prints one table: native single verify, verify_batch on 64 / 256 / 4096 valid signatures
(100-300-byte messages) at 1 and 2 threads, and the same batches with 1% invalid
signatures spread through them; each as signatures/s and as a ratio to
pysodium.crypto_sign_verify_detached measured in the same process.

verify_batch adapts its strategy to the recent invalid rate (speed only); each row starts
from the steady state of its traffic: 0 before the all-valid rows, 1% before the 1%-invalid
rows (which is where a node under that traffic settles within a few batches).

One-thread rows are timed in CPU time of the calling thread (time.thread_time), which
keeps them meaningful on a shared, noisy machine; two-thread rows can only be timed in
wall-clock time, and are compared with libsodium's wall-clock rate. Usage:

    .venv/bin/python bench/ratio_sigverify.py [--seconds 1.0] [--backend portable]
"""
from __future__ import annotations

import argparse
import random
import time

import pysodium

from core_ext import sigverify as sv


def make(n: int, rng: random.Random, keys: list[tuple[bytes, bytes]]):
    pks, msgs, sigs = [], [], []
    for _ in range(n):
        pk, sk = keys[rng.randrange(len(keys))]
        m = rng.randbytes(rng.randint(100, 300))
        pks.append(pk)
        msgs.append(m)
        sigs.append(pysodium.crypto_sign_detached(m, sk))
    return pks, msgs, sigs


def corrupt(sigs: list[bytes], frac: float, rng: random.Random) -> list[bytes]:
    out = list(sigs)
    n_bad = max(1, round(len(out) * frac))
    step = len(out) / n_bad
    for j in range(n_bad):  # spread evenly through the batch
        i = int(j * step + rng.random() * step)
        s = bytearray(out[i])
        s[32 + rng.randrange(31)] ^= 1 << rng.randrange(8)  # flip a bit of S (stays < l)
        out[i] = bytes(s)
    return out


def rate(fn, items: int, seconds: float, clock) -> float:
    fn()  # warm up
    reps, t0 = 0, clock()
    while True:
        fn()
        reps += 1
        dt = clock() - t0
        if dt >= seconds:
            return reps * items / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    ap.add_argument("--backend", default=None, help="force a backend (see available_backends())")
    args = ap.parse_args()
    if args.backend:
        sv._set_backend(args.backend)
    rng = random.Random(12345)
    keys = [pysodium.crypto_sign_seed_keypair(rng.randbytes(32)) for _ in range(256)]
    base = make(512, rng, keys)
    T = args.seconds

    def sodium_loop():
        for p, m, s in zip(*base):
            pysodium.crypto_sign_verify_detached(s, m, p)

    def ours_single():
        v = sv.verify
        for p, m, s in zip(*base):
            v(p, m, s)

    sod_cpu = rate(sodium_loop, 512, T, time.thread_time)
    sod_wall = rate(sodium_loop, 512, T, time.perf_counter)
    rows = [("libsodium single (pysodium)", sod_cpu, sod_cpu, "cpu")]
    r = rate(ours_single, 512, T, time.thread_time)
    rows.append(("native single verify", r, sod_cpu, "cpu"))
    for n in (64, 256, 4096):
        pks, msgs, sigs = make(n, rng, keys)
        bad = corrupt(sigs, 0.01, rng)
        assert sv.verify_batch(pks, msgs, sigs).all()
        assert (~sv.verify_batch(pks, msgs, bad)).sum() == max(1, round(n * 0.01))
        for label, ss, steady in (("valid", sigs, 0.0), ("1% invalid", bad, 0.01)):
            sv._recent_invalid_rate(steady)
            r1 = rate(lambda p=pks, m=msgs, s=ss: sv.verify_batch(p, m, s, threads=1), n, T,
                      time.thread_time)
            rows.append((f"batch {n:>4} {label}, 1 thread", r1, sod_cpu, "cpu"))
            sv._recent_invalid_rate(steady)
            r2 = rate(lambda p=pks, m=msgs, s=ss: sv.verify_batch(p, m, s, threads=2), n, T,
                      time.perf_counter)
            rows.append((f"batch {n:>4} {label}, 2 threads", r2, sod_wall, "wall"))
    print(f"core_ext.sigverify backend={sv.backend()}  (libsodium wall-clock rate {sod_wall:,.0f}/s)")
    print(f"{'case':<36}{'sigs/s':>12}{'x libsodium':>13}  clock")
    for name, v, ref, clock in rows:
        print(f"{name:<36}{v:>12,.0f}{v / ref:>12.2f}x  {clock}")


if __name__ == "__main__":
    main()
