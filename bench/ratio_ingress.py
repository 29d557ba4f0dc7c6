"""A validator's transaction ingress, old against new, interleaved in the same rounds.

The path measured is what a validator does with a TX_BATCH frame from a peer:
`TxGossip.on_batch` (parse, dedupe) -> `decode_and_verify` (decode, one native
signature batch) -> `TxPool.admit` (one `Mempool.add_batch`) -> `TxGossip.broadcast` to
the peers that lack them (real TX_BATCH payloads built, handed to a recording network).
Every batch also arrives a second time from another peer (a full mesh delivers each
transaction more than once), which is the duplicate path. Envelopes are real signed
PAY_COIN transactions from `--accounts` senders, `--batch` per frame, `--batches`
frames per sample, each sample starting from empty gossip, cache and pool state (made
before the clock starts).

"old" is the ingress as of `--base` (default 4712201): gossip.py, txs.py and envelope.py
are read from git and imported as separate modules, and the old Node._admit composition
is written out below. "new" is the working tree's `mbi.node.txs.ingest_batch`, the
function Node._admit runs. Each sample's result is checked: every transaction admitted
once, and the frames each peer was sent hold exactly the transactions it lacked.

Also printed: libsodium's single-verify rate in the same run (the reference the issue asks
for) and the batch verifier alone on the same signatures, for scale.

    .venv/bin/python bench/ratio_ingress.py [--rounds 9] [--batch 256] [--batches 8] [--invalid 0.01]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
import types

import numpy as np
import pysodium

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
from interleave import interleaved, load_line, median, speedup  # noqa: E402

from core_ext.mempool import AddResult, Mempool  # noqa: E402
from mbi.crypto import KeyPair  # noqa: E402
from mbi.ledger import testing as T  # noqa: E402
from mbi.node import txs as new_txs  # noqa: E402
from mbi.p2p import gossip as new_gossip  # noqa: E402
from mbi.p2p.config import P2PConfig  # noqa: E402
from mbi.p2p.kinds import Kind  # noqa: E402
from mbi.types import Transaction  # noqa: E402
from mbi.types import envelope as new_env  # noqa: E402

CHAIN = 5
PEERS = [bytes([i]) * 32 for i in range(1, 4)]  # three peers: a four-validator mesh


def load_old(base: str) -> types.SimpleNamespace:
    """gossip, txs and envelope as of `base`, imported under private names."""
    def src(path: str) -> str:
        return subprocess.run(["git", "-C", ROOT, "show", f"{base}:{path}"], check=True,
                              capture_output=True, text=True).stdout

    def load(name: str, text: str) -> types.ModuleType:
        spec = importlib.util.spec_from_loader(name, loader=None)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = mod
        exec(compile(text, f"<{base}:{name}>", "exec"), mod.__dict__)
        return mod

    env = load("_old_envelope", src("mbi/types/envelope.py"))
    g = load("_old_gossip", src("mbi/p2p/gossip.py"))
    t = load("_old_txs", src("mbi/node/txs.py").replace("from mbi.types.envelope import",
                                                         "from _old_envelope import"))
    return types.SimpleNamespace(env=env, gossip=g, txs=t)


class RecNet:
    """The part of Network that TxGossip uses; send() records the TX_BATCH payloads."""

    def __init__(self) -> None:
        self.config = P2PConfig()
        self.sent: dict[bytes, list[bytes]] = {k: [] for k in PEERS}
        self.reports: list[tuple[bytes, float, str]] = []

    def peer_keys(self) -> list[bytes]:
        return list(PEERS)

    def send(self, key: bytes, kind: int, payload: bytes) -> bool:
        assert kind == Kind.TX_BATCH
        self.sent[key].append(payload)
        return True

    def report(self, key: bytes, penalty: float, reason: str) -> bool:
        self.reports.append((key, penalty, reason))
        return False


def make_batches(accounts: int, batch: int, batches: int, invalid: float, seed: int = 7) -> list[list[bytes]]:
    rng = np.random.default_rng(seed)
    keys = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, accounts + 1)]
    nonce = [0] * accounts
    out = []
    k = 0
    for _ in range(batches):
        envs = []
        for _ in range(batch):
            s = k % accounts
            k += 1
            nonce[s] += 1
            d = keys[int(rng.integers(0, accounts))]
            blob = Transaction(source_address=keys[s].address, nonce=nonce[s], fee_limit=10**8, gas_price=100,
                               chain_id=CHAIN, operations=[T.pay_coin(d.address, 1 + int(rng.integers(0, 1000)))]
                               ).SerializeToString()
            sig = keys[s].sign(blob)
            if invalid and rng.random() < invalid:
                sig = sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]  # S stays < l: only the equation fails
            envs.append(new_env.SignedTransaction.from_parts(blob, [(keys[s].encoded_public_key, sig)]).envelope)
        out.append(envs)
    return out


def pool() -> Mempool:
    return Mempool(1 << 14, 1 << 26, per_sender_limit=1024, max_nonce_gap=4096)


def run_old(old: types.SimpleNamespace, frames: list[bytes]) -> tuple[RecNet, int]:
    net = RecNet()
    g = old.gossip.TxGossip(net)
    cache = old.txs.TxCache(1 << 16)
    tp = old.txs.TxPool(pool(), lambda a: 0)
    admitted = 0
    for i, payload in enumerate(frames):
        # each frame arrives from two peers before the ingress queue is drained
        blobs = g.on_batch(PEERS[i % 3], payload)
        assert not g.on_batch(PEERS[(i + 1) % 3], payload)
        # Node._admit as of the base commit
        d = old.txs.decode_and_verify(cache, blobs)
        ok = [t for t in d.txs if t is not None and t.valid_signers]
        results = tp.admit(ok, 1000.0)
        fresh = [t for t, r in zip(ok, results) if r in (AddResult.ACCEPTED, AddResult.REPLACED)]
        if fresh:
            g.broadcast([t.envelope for t in fresh], [t.hash for t in fresh])
        admitted += len(fresh)
    return net, admitted


def run_new(frames: list[bytes]) -> tuple[RecNet, int]:
    net = RecNet()
    g = new_gossip.TxGossip(net)
    cache = new_txs.TxCache(1 << 16)
    tp = new_txs.TxPool(pool(), lambda a: 0)
    admitted = 0
    for i, payload in enumerate(frames):
        blobs, hashes = g.receive(PEERS[i % 3], payload)
        assert not g.receive(PEERS[(i + 1) % 3], payload)[0]
        r = new_txs.ingest_batch(cache, tp, g, [(PEERS[i % 3], blobs, hashes)], 1000.0)
        admitted += len(r.fresh)
    return net, admitted


def checker(frames_envs: list[list[bytes]], valid: set[bytes], send_back: bool):
    """`send_back`: the base commit relays to every peer (its broadcast looked up SHA-256
    of the Transaction where on_batch had stored SHA-256 of the envelope)."""
    n_valid = sum(1 for envs in frames_envs for e in envs if e in valid)

    def check(out: tuple[RecNet, int]) -> None:
        net, admitted = out
        assert admitted == n_valid, (admitted, n_valid)
        for key in PEERS:
            relayed = [b for p in net.sent[key] for b in new_gossip.decode_tx_batch(p, 1 << 20)]
            assert len(relayed) == len(set(relayed)), "a peer was sent a transaction twice"
            assert all(b in valid for b in relayed), "a bad signature was relayed"
        # frame i came from PEERS[i%3] and PEERS[(i+1)%3]; only the third lacks it
        want: dict[bytes, set[bytes]] = {k: set() for k in PEERS}
        for i, envs in enumerate(frames_envs):
            for k in (PEERS if send_back else [PEERS[(i + 2) % 3]]):
                want[k].update(e for e in envs if e in valid)
        for key in PEERS:
            relayed = {b for p in net.sent[key] for b in new_gossip.decode_tx_batch(p, 1 << 20)}
            assert relayed == want[key], (key.hex()[:4], len(relayed), len(want[key]))
    return check


def libsodium_rate(envs: list[bytes], rounds: int) -> float:
    """Single verifies per second with libsodium, median of `rounds` samples."""
    items = []
    for e in envs[:256]:
        st = new_env.SignedTransaction.from_envelope(e)
        _, raw, _, sd = st.signatures[0]
        items.append((sd, st.tx_bytes, raw))
    xs = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for sd, m, pk in items:
            try:
                pysodium.crypto_sign_verify_detached(sd, m, pk)
            except ValueError:
                pass
        xs.append((time.perf_counter() - t0) / len(items))
    return 1.0 / median(xs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--sample", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--accounts", type=int, default=512)
    p.add_argument("--invalid", type=float, default=0.0, help="fraction of bad signatures")
    p.add_argument("--base", default="4712201")
    a = p.parse_args(argv)
    old = load_old(a.base)
    envs = make_batches(a.accounts, a.batch, a.batches, a.invalid)
    frames = [new_gossip.encode_tx_batch(b) for b in envs]
    flat = [e for b in envs for e in b]
    valid = {e for e in flat if new_env.SignedTransaction.from_envelope(e).signatures[0][1] is not None}
    # which really verify: libsodium decides, independently of the code under test
    good = set()
    for e in flat:
        st = new_env.SignedTransaction.from_envelope(e)
        _, raw, _, sd = st.signatures[0]
        try:
            pysodium.crypto_sign_verify_detached(sd, st.tx_bytes, raw)
            good.add(e)
        except ValueError:
            pass
    valid &= good
    n = len(flat)
    print(f"ingress: {a.batches} TX_BATCH frames x {a.batch} PAY_COIN envelopes ({n} txs, {n - len(valid)} with a "
          f"bad signature), {a.accounts} senders, each frame received from 2 of 3 peers; {load_line()}")
    res = interleaved({"old": lambda: run_old(old, frames), "new": lambda: run_new(frames)}, a.rounds, a.sample,
                      {"old": checker(envs, valid, True), "new": checker(envs, valid, False)})
    ref = libsodium_rate(flat, max(5, a.rounds))
    for name in ("old", "new"):
        print(f"  {name:<4} {median(res[name]) / n * 1e6:7.2f} us/tx  ({n / median(res[name]):,.0f} tx/s)")
    print(f"  new vs old: {speedup(res, 'old', 'new'):.2f}x faster (median of per-round ratios, {a.rounds} rounds)")
    print(f"  reference: libsodium single verify {ref:,.0f}/s on one core ({1e6 / ref:.1f} us each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
