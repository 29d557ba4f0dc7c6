"""verify_batch with the decoded-public-key cache against without it, interleaved.

    .venv/bin/python bench/ratio_keycache.py [--rounds 9] [--sample 0.2] [--threads 1]

Rows: batches of 64 / 256 / 1024 / 4096 signatures whose keys come from
- "2,000 senders": 2,000 keys, as the e2e benchmark's accounts, so a warm cache holds
  every key (the steady state of a node whose senders repeat);
- "all new": 40,000 keys, more than the cache's 16,384 entries, so most lookups miss
  and the row shows what the lookups and inserts cost when the cache cannot help.

Each round times both variants in alternating order; a variant's sample starts with one
untimed call after switching (the cache is emptied when it is turned off, so "on" must
refill it). Figures are medians over rounds of signatures per second (wall-clock); the
ratio is the median of the per-round ratios. Every result is checked: all valid. The
libsodium single-verify rate on one core is measured in the same run as the reference.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

import pysodium

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interleave import load_line, verify_rate  # noqa: E402
from ratio_sigverify import make  # noqa: E402

import core_ext  # noqa: E402
from core_ext import sigverify as sv  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--sample", type=float, default=0.2, help="seconds per sample")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if core_ext.threads() < args.threads:
        core_ext.set_threads(args.threads)
    rng = random.Random(7)
    senders = [pysodium.crypto_sign_seed_keypair(rng.randbytes(32)) for _ in range(2000)]
    many = [pysodium.crypto_sign_seed_keypair(rng.randbytes(32)) for _ in range(40_000)]
    print(f"core_ext.sigverify backend={sv.backend()}, {args.threads} thread(s), {args.rounds} rounds x "
          f"{args.sample * 1e3:.0f} ms samples, medians of wall-clock")
    print(load_line())
    print(f"reference: libsodium verify, 1 core: {verify_rate():,.0f}/s")
    print(f"{'keys':<14}{'batch':>6}{'cache off/s':>13}{'cache on/s':>12}{'on/off':>8}{'hits':>7}")
    for label, keys in (("2,000 senders", senders), ("all new", many)):
        for n in (64, 256, 1024, 4096):
            # enough distinct batches that "all new" keys really are new to the cache
            batches = [make(n, rng, keys) for _ in range(max(1, 40_000 // n) if keys is many else 1)]
            state = {"i": 0}

            def call():
                pks, msgs, sigs = batches[state["i"] % len(batches)]
                state["i"] += 1
                ok = sv.verify_batch(pks, msgs, sigs, threads=args.threads)
                assert ok.all(), "wrong verdicts"

            times: dict[bool, list[float]] = {False: [], True: []}
            hit_frac: list[float] = []
            for r in range(args.rounds):
                for on in ((False, True) if r % 2 == 0 else (True, False)):
                    sv._keycache(on, reset=True)
                    call()  # untimed: refill after switching
                    sv._keycache(reset=True)
                    reps, t0 = 0, time.perf_counter()
                    while True:
                        call()
                        reps += 1
                        dt = time.perf_counter() - t0
                        if dt >= args.sample:
                            break
                    times[on].append(dt / reps)
                    if on:
                        _, h, m = sv._keycache()
                        hit_frac.append(h / max(1, h + m))
            off, on_ = statistics.median(times[False]), statistics.median(times[True])
            ratio = statistics.median(a / b for a, b in zip(times[False], times[True]))
            print(f"{label:<14}{n:>6}{n / off:>13,.0f}{n / on_:>12,.0f}{ratio:>7.2f}x"
                  f"{statistics.median(hit_frac):>7.0%}")
    sv._keycache(True)


if __name__ == "__main__":
    main()
