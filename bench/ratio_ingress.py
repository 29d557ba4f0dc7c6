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

    .venv/bin/python bench/ratio_ingress.py [--rounds 9] [--batch 256] [--batches 9]
    .venv/bin/python bench/ratio_ingress.py --scenario attack [--invalid 0.01]
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

from core_ext import sigverify as sv  # noqa: E402
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
        # No validator peers: everything admitted is relayed to all three (the most work;
        # among validators a relay goes to full nodes only, mbi/p2p/gossip.py TxGossip.relay)
        self.validators: frozenset[bytes] = frozenset()
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


def make_batches(accounts: int, batch: int, batches: int, invalid: list[float], seed: int = 7) -> list[list[bytes]]:
    """`batches` frames of `batch` envelopes; frame i has a fraction invalid[i] of bad
    signatures (spread evenly through it)."""
    rng = np.random.default_rng(seed)
    keys = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, accounts + 1)]
    nonce = [0] * accounts
    out = []
    k = 0
    for f in range(batches):
        envs = []
        n_bad = round(batch * invalid[f])
        bad_at = {int(j * batch / n_bad + batch / (2 * n_bad)) for j in range(n_bad)} if n_bad else set()
        for i in range(batch):
            s = k % accounts
            k += 1
            nonce[s] += 1
            d = keys[int(rng.integers(0, accounts))]
            blob = Transaction(source_address=keys[s].address, nonce=nonce[s], fee_limit=10**8, gas_price=100,
                               chain_id=CHAIN, operations=[T.pay_coin(d.address, 1 + int(rng.integers(0, 1000)))]
                               ).SerializeToString()
            sig = keys[s].sign(blob)
            if i in bad_at:
                sig = sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]  # S stays < l: only the equation fails
            envs.append(new_env.SignedTransaction.from_parts(blob, [(keys[s].encoded_public_key, sig)]).envelope)
        out.append(envs)
    return out


def pool() -> Mempool:
    return Mempool(1 << 14, 1 << 26, per_sender_limit=1024, max_nonce_gap=4096)


# A drain: what one ingress batch holds, as (frame index, peers it arrived from, first
# one first). Every frame arrives from all its peers before the drain is processed.
Drain = list[tuple[int, list[bytes]]]


def drains_mesh(batches: int) -> list[Drain]:
    """Frame i from peers i%3 and (i+1)%3 (a duplicate), one frame per drain."""
    return [[(i, [PEERS[i % 3], PEERS[(i + 1) % 3]])] for i in range(batches)]


def drains_attack(batches: int) -> list[Drain]:
    """Three frames per drain, one from each peer (peer 0 is the one relaying bad ones)."""
    return [[(j + p, [PEERS[p]]) for p in range(3)] for j in range(0, batches - 2, 3)]


def run_old(old: types.SimpleNamespace, frames: list[bytes], drains: list[Drain], rate0: float) -> tuple[RecNet, int]:
    net = RecNet()
    g = old.gossip.TxGossip(net)
    cache = old.txs.TxCache(1 << 16)
    tp = old.txs.TxPool(pool(), lambda a: 0)
    sv._recent_invalid_rate(rate0)  # the steady state of the mixed stream
    admitted = 0
    for drain in drains:
        blobs: list[bytes] = []
        for i, peers in drain:
            blobs += g.on_batch(peers[0], frames[i])
            for p in peers[1:]:
                assert not g.on_batch(p, frames[i])
        # Node._admit as of the base commit: every origin in one batch
        d = old.txs.decode_and_verify(cache, blobs)
        ok = [t for t in d.txs if t is not None and t.valid_signers]
        results = tp.admit(ok, 1000.0)
        fresh = [t for t, r in zip(ok, results) if r in (AddResult.ACCEPTED, AddResult.REPLACED)]
        if fresh:
            g.broadcast([t.envelope for t in fresh], [t.hash for t in fresh])
        admitted += len(fresh)
    return net, admitted


RATES = new_txs.InvalidRates()  # kept across samples, as a node keeps it


def run_new(frames: list[bytes], drains: list[Drain], mixed: bool = False) -> tuple[RecNet, int]:
    """`mixed`: every origin of a drain in one group (one signature batch), as before
    per-origin verification; to isolate what grouping by origin does."""
    net = RecNet()
    g = new_gossip.TxGossip(net)
    cache = new_txs.TxCache(1 << 16)
    tp = new_txs.TxPool(pool(), lambda a: 0)
    admitted = 0
    for drain in drains:
        groups: list[new_txs.Group] = []
        for i, peers in drain:
            blobs, hashes = g.receive(peers[0], frames[i])
            for p in peers[1:]:
                assert not g.receive(p, frames[i])[0]
            groups.append((peers[0], blobs, hashes))
        if mixed:
            groups = [(b"mixed", [e for _, es, _ in groups for e in es], [h for _, _, hs in groups for h in hs])]
        r = new_txs.ingest_batch(cache, tp, g, groups, 1000.0, RATES)  # what Node._admit runs
        admitted += len(r.fresh)
    return net, admitted


def checker(frames_envs: list[list[bytes]], drains: list[Drain], valid: set[bytes], send_back: bool):
    """`send_back`: the base commit relays to every peer (its broadcast looked up SHA-256
    of the Transaction where on_batch had stored SHA-256 of the envelope)."""
    used = [i for d in drains for i, _ in d]
    n_valid = sum(1 for i in used for e in frames_envs[i] if e in valid)
    want: dict[bytes, set[bytes]] = {k: set() for k in PEERS}
    for d in drains:
        for i, peers in d:
            for k in (PEERS if send_back else [k for k in PEERS if k not in peers]):
                want[k].update(e for e in frames_envs[i] if e in valid)

    def check(out: tuple[RecNet, int]) -> None:
        net, admitted = out
        assert admitted == n_valid, (admitted, n_valid)
        for key in PEERS:
            relayed = [b for p in net.sent[key] for b in new_gossip.decode_tx_batch(p, 1 << 20)]
            assert len(relayed) == len(set(relayed)), "a peer was sent a transaction twice"
            assert set(relayed) == want[key], (key.hex()[:4], len(relayed), len(want[key]))
    return check


def kernel_only(frames_envs: list[list[bytes]], drains: list[Drain]):
    """The native batch verifier alone on the signatures of each drain's groups."""
    groups = []
    for d in drains:
        for i, _ in d:
            sts = [new_env.SignedTransaction.from_envelope(e) for e in frames_envs[i]]
            groups.append((b"".join(t.signatures[0][1] for t in sts), [t.tx_bytes for t in sts],  # type: ignore[misc]
                           b"".join(t.signatures[0][3] for t in sts)))
    def run() -> list:
        out = []
        for k, m, s in groups:
            sv._recent_invalid_rate(0.0)  # each frame from a zero recent-invalid rate
            out.append(sv.verify_batch(k, m, s))
        return out
    return run


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
    p.add_argument("--batches", type=int, default=9)
    p.add_argument("--accounts", type=int, default=512)
    p.add_argument("--scenario", choices=["mesh", "attack"], default="mesh",
                   help="mesh: each frame from 2 of 3 peers, one per drain; attack: three frames a drain, "
                        "one per peer, peer 0's with --invalid bad signatures")
    p.add_argument("--invalid", type=float, default=0.01, help="attack: fraction of peer 0's signatures that are bad")
    p.add_argument("--base", default="4712201")
    a = p.parse_args(argv)
    old = load_old(a.base)
    attack = a.scenario == "attack"
    bad = [a.invalid if attack and i % 3 == 0 else 0.0 for i in range(a.batches)]
    envs = make_batches(a.accounts, a.batch, a.batches, bad)
    drains = drains_attack(a.batches) if attack else drains_mesh(a.batches)
    frames = [new_gossip.encode_tx_batch(b) for b in envs]
    flat = [e for d in drains for i, _ in d for e in envs[i]]
    # which really verify: libsodium decides, independently of the code under test
    valid = set()
    for e in flat:
        st = new_env.SignedTransaction.from_envelope(e)
        _, raw, _, sd = st.signatures[0]
        try:
            pysodium.crypto_sign_verify_detached(sd, st.tx_bytes, raw)
            valid.add(e)
        except ValueError:
            pass
    n = len(flat)
    rate0 = (n - len(valid)) / n
    how = ("each frame received from 2 of 3 peers, one frame per ingress batch" if not attack else
           f"three frames per ingress batch, one from each peer; peer 0's carry {a.invalid:.1%} bad signatures")
    print(f"ingress ({a.scenario}): {len(frames)} TX_BATCH frames x {a.batch} PAY_COIN envelopes, {n} txs used "
          f"({n - len(valid)} with a bad signature), {a.accounts} senders; {how}; {load_line()}")
    fns = {"old": lambda: run_old(old, frames, drains, rate0), "new": lambda: run_new(frames, drains),
           "kernel": kernel_only(envs, drains)}
    checks = {"old": checker(envs, drains, valid, True), "new": checker(envs, drains, valid, False)}
    if attack:
        fns["new-mixed"] = lambda: run_new(frames, drains, mixed=True)
        # a mixed group's relays are the same: the peers a frame came from still know it
        checks["new-mixed"] = checks["new"]
    res = interleaved(fns, a.rounds, a.sample, checks)
    ref = libsodium_rate(flat, max(5, a.rounds))
    k = median(res["kernel"]) / n * 1e6
    for name in [x for x in ("old", "new", "new-mixed") if x in res]:
        us = median(res[name]) / n * 1e6
        print(f"  {name:<9} {us:7.2f} us/tx  ({n / median(res[name]):,.0f} tx/s); beyond the verify kernel: "
              f"{us - k:5.2f} us/tx")
    print(f"  verify kernel alone (verify_batch per frame, from a zero invalid rate): {k:.2f} us/tx")
    print(f"  new vs old: {speedup(res, 'old', 'new'):.2f}x faster (median of per-round ratios, {a.rounds} rounds)")
    if attack:
        print(f"  new (per-origin batches) vs new-mixed (one batch for all origins): "
              f"{speedup(res, 'new-mixed', 'new'):.2f}x")
    print(f"  reference: libsodium single verify {ref:,.0f}/s on one core ({1e6 / ref:.1f} us each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
