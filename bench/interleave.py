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


# -- baseline trees: the ratio scripts that compare this checkout with an older commit

def archive_mbi(root: str, rev: str, prefix: str = "mbi-bench-base-") -> str:
    """A new temporary folder holding `git archive <rev>` of mbi/ (the caller removes it).
    core_ext is not in git: a worker run from it imports this checkout's native modules."""
    import subprocess
    import tempfile

    out = tempfile.mkdtemp(prefix=prefix)
    arch = subprocess.run(["git", "-C", root, "archive", rev, "mbi"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", out], input=arch.stdout, check=True)
    return out


def run_worker(script: str, tree: str, args: list[str], root: str | None = None) -> dict:
    """`python script --worker ARGS` with `tree` first on sys.path (and `root` after it,
    for bench/ itself); the worker's last stdout line, parsed as JSON."""
    import json
    import os
    import subprocess
    import sys

    path = os.pathsep.join([tree, root] if root else [tree])
    out = subprocess.run([sys.executable, os.path.abspath(script), "--worker", *args],
                         env=dict(os.environ, PYTHONPATH=path), cwd=tree, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"worker in {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def verify_rate(seconds: float = 0.5) -> float:
    """libsodium single verifies per CPU second on one core, now (the same-run reference)."""
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    from bench.cluster.reference import verify_rate as vr

    return vr(seconds)["cpu_per_s"]


def tree_rounds(script: str, root: str, base_dir: str, rounds: int, args: list[str]
                ) -> tuple[dict[str, list[dict]], list[float]]:
    """One worker of `script` per tree ("base": the archive in `base_dir`, "new": `root`)
    each round, in alternating order, with libsodium's rate measured after each worker:
    (the workers' results by tree, the reference rates)."""
    trees = {"base": base_dir, "new": root}
    res: dict[str, list[dict]] = {"base": [], "new": []}
    ref: list[float] = []
    for r in range(rounds):
        for name in (["base", "new"] if r % 2 == 0 else ["new", "base"]):
            res[name].append(run_worker(script, trees[name], args, root))
            ref.append(verify_rate())
    return res, ref


def fund_accounts(ledger, genesis_key, keys, chain_id: int, store=None) -> None:  # noqa: ANN001
    """Create every account of `keys` with 10**10 from the genesis account: 100 accounts a
    transaction, 10 transactions a ledger, each ledger committed to `store` if given.
    Runs in a worker, so it uses the mbi of the tree under test."""
    from mbi.ledger import testing as T

    fund = [T.make_tx(genesis_key, j + 1, [T.create_account(k.address, 10**10) for k in keys[i:i + 100]],
                      chain_id=chain_id)
            for j, i in enumerate(range(0, len(keys), 100))]
    for b in range(0, len(fund), 10):
        c = ledger.close(fund[b:b + 10], 1_000 + b)
        assert all(r.error_code == 0 for r in c.receipts)
        if store is not None:
            store.commit_block(c.commit)
