"""Interleaved timing for the ratio tables: every variant of a row (the baseline
included) is sampled in the same rounds, in rotating order, so load from other work on a
shared machine falls on all of them alike. Figures are medians over rounds, never bests;
ratios are medians of the per-round ratios (paired samples).
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

Check = Callable[[object], None]


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, sample_s: float,
                check: dict[str, Check] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each fn, one sample per round each (wall-clock).

    A sample repeats its fn until ``sample_s`` has passed (at least once). ``check[name]``,
    if given, is called on the last result of every sample: a benchmark whose work failed
    must not look fast.
    """
    names = list(fns)
    reps = {}
    for name in names:  # warm up and size the samples
        t0 = time.perf_counter()
        out = fns[name]()
        dt = time.perf_counter() - t0
        if check and name in check:
            check[name](out)
        reps[name] = max(1, int(sample_s / max(dt, 1e-9)))
    res: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        order = names[k:] + names[:k]
        if r % 2:
            order.reverse()
        for name in order:
            fn, n = fns[name], reps[name]
            t0 = time.perf_counter()
            for _ in range(n):
                out = fn()
            res[name].append((time.perf_counter() - t0) / n)
            if check and name in check:
                check[name](out)
    return res


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def speedup(res: dict[str, list[float]], base: str, other: str) -> float:
    """Median over rounds of time(base) / time(other): > 1 means `other` is faster."""
    return statistics.median(b / o for b, o in zip(res[base], res[other]))


def load_line() -> str:
    import os

    try:
        la = os.getloadavg()
    except OSError:
        return "load    : unknown"
    return (f"load    : {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} (1/5/15 min) on {os.cpu_count()} CPUs; "
            f"other work on the machine moves wall-clock figures")
