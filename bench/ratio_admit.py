"""/submitTransaction admission's Python work per item, this tree against a baseline, interleaved.

    .venv/bin/python bench/ratio_admit.py [--base 3cfe5d9] [--items 5000] [--rounds 5] [--samples 7]

What the validator that takes a client's transaction does with it besides the signature
check: `mbi.api.routes.parse_submit_item` (hex, envelope assembly, decode) on the JSON
item as the route receives it, `mbi.ledger.validate` against the ledger state with
`future_nonce=True` (as `mbi.api.ingress` calls it), and freeing the transactions
afterwards (a decoded protobuf message's arena is freed with it). The signature batch
between the two (`verify_signatures`, native, the same in both trees) is run but not
timed. Items are PAY_COIN transactions from `--items` distinct funded senders.

The baseline is the same worker run on ``git archive <base>`` of mbi/ (core_ext is this
checkout's). Each round runs one worker per tree, in alternating order, and libsodium's
single-verify rate on one core in between (the same-run reference). Figures are medians
over rounds of each worker's median sample, per CPU second of the thread; the ratio is
the median of the per-round ratios. Every validate verdict is checked to be a pass.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from interleave import archive_mbi, fund_accounts, tree_rounds  # noqa: E402

CHAIN = 5


def worker(n: int, samples: int) -> dict:
    """Runs in a child whose sys.path starts at the tree under test."""
    import gc
    import time

    from mbi.api.routes import parse_submit_item
    from mbi.crypto import KeyPair
    from mbi.ledger import Genesis, Ledger, validate
    from mbi.ledger import testing as T
    from mbi.ledger.execute import verify_signatures
    from mbi.types import Transaction

    g, v = KeyPair.from_seed(b"\xee" * 32), KeyPair.from_seed(b"\xef" * 32)
    ledger, _ = Ledger.create(Genesis.from_dict(T.genesis_dict(g, [v], chain_id=CHAIN, supply=10**17)))
    keys = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, n + 2)]
    fund_accounts(ledger, g, keys, CHAIN)
    items = []
    for i, k in enumerate(keys[:n]):
        blob = Transaction(source_address=k.address, nonce=1 + i % 3, fee_limit=10**6, gas_price=100,
                           chain_id=CHAIN, operations=[T.pay_coin(keys[(i + 1) % n].address, 1 + i)]
                           ).SerializeToString()
        items.append({"transaction_blob": blob.hex(),
                      "signatures": [{"public_key": k.encoded_public_key, "sign_data": k.sign(blob).hex()}]})
    items = json.loads(json.dumps(items))  # the objects a JSON body decodes to
    state, seq = ledger.state, ledger.seq + 1
    parse_c, check_c, free_c, total_c = [], [], [], []
    for s in range(samples + 1):  # the first sample warms the caches, unmeasured
        gc.collect()
        t0 = time.thread_time()
        txs = [parse_submit_item(it) for it in items]
        t1 = time.thread_time()
        verify_signatures(txs)
        t2 = time.thread_time()
        verdicts = [validate(t, state, seq, future_nonce=True) for t in txs]
        t3 = time.thread_time()
        del txs
        t4 = time.thread_time()
        bad = [x for x in verdicts if x[0]]
        assert len(verdicts) == n and not bad, bad[:1]
        if s:
            parse_c.append(t1 - t0)
            check_c.append(t3 - t2)
            free_c.append(t4 - t3)
            total_c.append((t1 - t0) + (t4 - t2))
    med = statistics.median
    return {"parse": n / med(parse_c), "validate": n / med(check_c), "free": n / med(free_c),
            "total": n / med(total_c)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="3cfe5d9", help="baseline commit (git archive of its mbi/)")
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=7, help="measured samples per worker")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.items, args.samples)))
        return
    base_dir = archive_mbi(ROOT, args.base)
    try:
        res, ref = tree_rounds(__file__, ROOT, base_dir, args.rounds,
                               ["--items", str(args.items), "--samples", str(args.samples)])
        sha = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
        la = os.getloadavg()
        print(f"admission of {args.items} PAY_COIN /submitTransaction items (parse, validate, free; the signature "
              f"batch untimed), base {args.base} vs {sha}; {args.rounds} rounds x {args.samples} samples; "
              f"load {la[0]:.2f} {la[1]:.2f} on {os.cpu_count()} CPUs")
        print(f"  reference: libsodium single verify, 1 core: {statistics.median(ref):>9,.0f} /s (median of "
              f"{len(ref)}, min {min(ref):,.0f}, max {max(ref):,.0f})")
        print(f"  {'items per CPU s (median)':<28}{'base':>10}{'new':>10}{'new/base':>10}")
        for part, label in (("parse", "parse_submit_item"), ("validate", "validate"), ("free", "free"),
                            ("total", "parse + validate + free")):
            b = statistics.median(x[part] for x in res["base"])
            n = statistics.median(x[part] for x in res["new"])
            ratio = statistics.median(y[part] / x[part] for x, y in zip(res["base"], res["new"]))
            print(f"  {label:<28}{b:>10,.0f}{n:>10,.0f}{ratio:>9.2f}x")
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
