"""/submitTransaction throughput on a live 4-validator network in one process.

    .venv/bin/python bench/api_submit.py [--bodies 8] [--items 500]

Pre-signs `bodies x items` PAY_COIN transactions from 100 funded accounts, then posts the
bodies one after another and times each answer (admission: decode, one signature batch,
validate, pool, gossip). Reports the median items/s over the bodies. The reference, in
the same run and interleaved body by body: the same envelopes' signatures verified by
libsodium one at a time on this thread (what admission would cost without the batch
verifier), so the ratio is independent of the machine's speed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from api_util import LiveNode, item, make_tx  # noqa: E402
from mbi.crypto.keys import KeyPair  # noqa: E402
from mbi.ledger import testing as T  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bodies", type=int, default=8)
    ap.add_argument("--items", type=int, default=500)
    a = ap.parse_args()
    import pysodium

    with tempfile.TemporaryDirectory() as d, LiveNode(d, **{"pool.capacity": 100_000,
                                                            "pool.capacity_bytes": 256 << 20}) as n:
        senders = [KeyPair.generate() for _ in range(100)]
        fund = make_tx(n.faucet, 1, [T.create_account(k.address, 10**12) for k in senders], chain_id=1)
        assert n.submit(fund)["results"][0]["error_code"] == 0
        n.wait_tx(fund.hash_hex)
        per_sender = (a.bodies * a.items + len(senders) - 1) // len(senders)
        if per_sender > n.cfg.pool.per_sender_limit:
            raise SystemExit(f"{per_sender} per sender exceeds [pool] per_sender_limit")
        txs = [make_tx(k, nonce, [T.pay_coin(n.faucet.address, 1)], chain_id=1, fee_limit=100_000)
               for nonce in range(1, per_sender + 1) for k in senders][: a.bodies * a.items]
        bodies = [json.dumps({"items": [item(t) for t in txs[i:i + a.items]]}).encode()
                  for i in range(0, len(txs), a.items)]
        api_rates, ref_rates = [], []
        for bi, body in enumerate(bodies):
            t0 = time.perf_counter()
            status, got = n.request("POST", "/submitTransaction", body, {"Content-Type": "application/json"})
            dt = time.perf_counter() - t0
            assert status == 200 and got["success_count"] == a.items, got if status != 200 else got["results"][:3]
            api_rates.append(a.items / dt)
            chunk = txs[bi * a.items:(bi + 1) * a.items]
            t0 = time.perf_counter()
            for t in chunk:
                pk, raw, _, sd = t.signatures[0]
                pysodium.crypto_sign_verify_detached(sd, t.tx_bytes, raw)
            ref_rates.append(a.items / (time.perf_counter() - t0))
        api, ref = statistics.median(api_rates), statistics.median(ref_rates)
        print(json.dumps({"bodies": a.bodies, "items_per_body": a.items, "api_items_per_s_median": round(api),
                          "libsodium_single_verify_per_s_median": round(ref), "ratio": round(api / ref, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
