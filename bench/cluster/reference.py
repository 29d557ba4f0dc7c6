"""Single-core reference rates measured in the same run as the network, so a TPS figure
from a slow hour and one from a fast hour can be compared.

- libsodium's crypto_sign_verify_detached (one thread, 200-byte message);
- ledger execution: Ledger.close of a block of PAY_COIN transactions from distinct funded
  senders, pre-verified (as at admission), in memory (no store), one thread: execute,
  state tree, header. The same work as bench/ratio_ledger.py's first row, smaller.

Both are per CPU second of the measuring thread (time.thread_time), which a busy machine
distorts less than wall time; the wall rate is given too.
"""
from __future__ import annotations

import time


def verify_rate(seconds: float = 1.0) -> dict[str, float]:
    import pysodium

    pk, sk = pysodium.crypto_sign_keypair()
    msg = bytes(range(200))
    sig = pysodium.crypto_sign_detached(msg, sk)
    verify = pysodium.crypto_sign_verify_detached
    verify(sig, msg, pk)
    n, c0, w0 = 0, time.thread_time(), time.perf_counter()
    while True:
        for _ in range(200):
            verify(sig, msg, pk)
        n += 200
        c = time.thread_time() - c0
        if c >= seconds:
            break
    return {"cpu_per_s": n / c, "wall_per_s": n / (time.perf_counter() - w0)}


def execute_rate(txs: int = 1000, blocks: int = 3) -> dict[str, float]:
    """Median PAY_COIN tx/s of Ledger.close over `blocks` blocks of `txs` transactions."""
    from mbi.crypto import KeyPair
    from mbi.ledger import Genesis, Ledger
    from mbi.ledger import testing as T
    from mbi.types.envelope import SignedTransaction

    chain = 5
    g, v = KeyPair.from_seed(b"\xee" * 32), KeyPair.from_seed(b"\xef" * 32)
    ledger, _ = Ledger.create(Genesis.from_dict(T.genesis_dict(g, [v], chain_id=chain, supply=10**17)))
    accts = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, 2 * txs + 1)]
    fund = [T.make_tx(g, j + 1, [T.create_account(k.address, 10**10) for k in accts[i:i + 100]], chain_id=chain)
            for j, i in enumerate(range(0, len(accts), 100))]
    closed = ledger.close(fund, 1_000)
    if any(r.error_code for r in closed.receipts):
        raise RuntimeError("execute reference: funding failed")
    senders, receivers = accts[:txs], accts[txs:]
    cpu_rates, wall_rates = [], []
    for b in range(blocks):
        block = [T.make_tx(k, b + 1, [T.pay_coin(receivers[(i + b) % txs].address, 1)], chain_id=chain,
                           fee_limit=10**8) for i, k in enumerate(senders)]
        block = [SignedTransaction.from_envelope(t.envelope) for t in block]
        for t in block:
            t.sig_ok = True  # pre-verified at admission, as in the node
        c0, w0 = time.thread_time(), time.perf_counter()
        closed = ledger.close(block, 10_000 + b)
        c1, w1 = time.thread_time(), time.perf_counter()
        bad = [r for r in closed.receipts if r.error_code]
        if bad:
            raise RuntimeError(f"execute reference: {bad[0]}")
        cpu_rates.append(txs / max(c1 - c0, 1e-9))
        wall_rates.append(txs / (w1 - w0))
    cpu_rates.sort()
    wall_rates.sort()
    return {"cpu_per_s": cpu_rates[len(cpu_rates) // 2], "wall_per_s": wall_rates[len(wall_rates) // 2],
            "block_txs": txs, "blocks": blocks}
