"""The load: K accounts, their funding, and every payment signed before the measured window.

Account i pays account i+1 (mod K) 1 ZETA per PAY_COIN transaction, nonces 1, 2, ... in
order. Signing runs in worker processes, each writing one pickle file of ready-to-send
/submitTransaction items (the JSON text of each item, and its hash), so the generator
spends nothing on signing or encoding during the window.

With --invalid-rate P, after each honest transaction a second one is added with
probability P: the same account and nonce, amount 2, carrying the honest transaction's
signature (made over other bytes), so its signature is bad. It has a hash of its own, and
a node that wrongly accepted it would have to refuse the honest one (the scan would show it).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.types import zetrix_protocol_pb2 as pb

from .network import BenchError, HttpClient, Network

FUND_OPS_PER_TX = 100  # CREATE_ACCOUNT operations per funding transaction
FUND_CHUNK = 32  # funding transactions per request; the faucet never has more than 2 x this in the pool
INIT_BALANCE = 10**12
ERR_INVALID_SIGNATURE = 93


def item_json(blob: bytes, sign_data: bytes, public_key: str) -> bytes:
    return (b'{"transaction_blob":"%s","signatures":[{"sign_data":"%s","public_key":"%s"}]}'
            % (blob.hex().encode(), sign_data.hex().encode(), public_key.encode()))


def submit_body(items: list[bytes]) -> bytes:
    return b'{"items":[' + b",".join(items) + b"]}"


@dataclass(frozen=True)
class SignJob:
    chain_id: int
    accounts: list[tuple[int, str]]  # (account index, encoded private key)
    dests: list[str]                 # destination address per account in `accounts`
    per_account: int                 # nonces 1..per_account
    invalid_rate: float
    seed: int
    out: str


def _payment(src: str, nonce: int, dest: str, amount: int, chain_id: int) -> bytes:
    tx = pb.Transaction(source_address=src, nonce=nonce, fee_limit=10**7, gas_price=100, chain_id=chain_id,
                        operations=[T.pay_coin(dest, amount)])
    return tx.SerializeToString()


def sign_job(job: SignJob) -> tuple[str, int, float]:
    """Sign one share of the load into job.out; returns (path, items, CPU seconds)."""
    t0 = time.process_time()
    rng = random.Random(job.seed)
    out: dict[int, list[tuple[bytes, bytes, bool]]] = {}  # account -> [(hash, item, honest)] in send order
    n = 0
    for (idx, priv), dest in zip(job.accounts, job.dests):
        kp = KeyPair.from_private_key(priv)
        pk = kp.encoded_public_key
        rows: list[tuple[bytes, bytes, bool]] = []
        for nonce in range(1, job.per_account + 1):
            blob = _payment(kp.address, nonce, dest, 1, job.chain_id)
            sig = kp.sign(blob)
            rows.append((hashlib.sha256(blob).digest(), item_json(blob, sig, pk), True))
            if job.invalid_rate > 0 and rng.random() < job.invalid_rate:
                bad = _payment(kp.address, nonce, dest, 2, job.chain_id)
                rows.append((hashlib.sha256(bad).digest(), item_json(bad, sig, pk), False))
        out[idx] = rows
        n += len(rows)
    tmp = job.out + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, job.out)
    return job.out, n, time.process_time() - t0


class Accounts:
    def __init__(self, k: int) -> None:
        self.keys = [KeyPair.generate() for _ in range(k)]

    def __len__(self) -> int:
        return len(self.keys)

    def presign(self, chain_id: int, per_account: int, invalid_rate: float, workers: int, folder: Path,
                seed: int = 1) -> tuple[list[str], int, float, float]:
        """Sign per_account payments of every account in `workers` processes.

        Returns (files, items, wall seconds, CPU seconds summed over the workers)."""
        folder.mkdir(parents=True, exist_ok=True)
        k = len(self.keys)
        workers = max(1, min(workers, k))
        share = math.ceil(k / workers)
        jobs = []
        for w in range(workers):
            idx = list(range(w * share, min(k, (w + 1) * share)))
            if not idx:
                continue
            jobs.append(SignJob(chain_id, [(i, self.keys[i].encoded_private_key) for i in idx],
                                [self.keys[(i + 1) % k].address for i in idx], per_account, invalid_rate,
                                seed * 1000 + w, str(folder / f"signed-{w}.pkl")))
        t0 = time.monotonic()
        with ProcessPoolExecutor(len(jobs), mp_context=get_context("fork")) as ex:
            done = list(ex.map(sign_job, jobs))
        return [d[0] for d in done], sum(d[1] for d in done), time.monotonic() - t0, sum(d[2] for d in done)

    def fund(self, net: Network, timeout: float = 60.0) -> dict[str, float]:
        """CREATE_ACCOUNT every account from the faucet (100 per transaction) through node0's
        /submitTransaction, then wait until every validator has executed them all."""
        faucet = net.faucet
        items, hashes = [], []
        for j in range(0, len(self.keys), FUND_OPS_PER_TX):
            ops = [T.create_account(kp.address, INIT_BALANCE) for kp in self.keys[j:j + FUND_OPS_PER_TX]]
            st = T.make_tx(faucet, j // FUND_OPS_PER_TX + 1, ops, chain_id=net.chain_id, fee_limit=10**9)
            items.append(item_json(st.tx_bytes, st.signatures[0][3], faucet.encoded_public_key))
            hashes.append(st.hash)
        t0 = time.monotonic()
        api = net.validators[0].api
        want = len(items)
        end = time.monotonic() + timeout
        clients = [HttpClient(v.home.config.api.host, v.home.config.api.port) for v in net.validators]

        def faucet_nonce(c: HttpClient) -> int:
            r = c.get_json(f"/getAccount?address={faucet.address}")
            return r["result"]["nonce"] if isinstance(r, dict) and r.get("result") else -1

        try:
            # In chunks that keep the faucet within the pool's per-sender limit (64): more
            # than 6,400 accounts need more funding transactions than that.
            for j in range(0, len(items), FUND_CHUNK):
                while faucet_nonce(clients[0]) < j - FUND_CHUNK:
                    if time.monotonic() > end:
                        raise BenchError(f"funding: the faucet's nonce on node0 stays below {j - FUND_CHUNK} "
                                         f"after {timeout:.0f} s")
                    time.sleep(0.1)
                res = api.post_json("/submitTransaction", submit_body(items[j:j + FUND_CHUNK]))
                if not isinstance(res, dict) or "results" not in res:
                    raise BenchError(f"funding: node0 answered {res!r}")
                bad = [r for r in res["results"] if r.get("error_code") != 0]
                if bad:
                    raise BenchError(f"funding: node0 refused a funding transaction: {bad[0]}")
            while True:
                nonces = [faucet_nonce(c) for c in clients]
                if min(nonces) >= want:
                    break
                if time.monotonic() > end:
                    raise BenchError(f"funding: the faucet's nonce is {nonces} on the validators after "
                                     f"{timeout:.0f} s, want {want}")
                time.sleep(0.2)
            # Spot-check the first and last account of each funding transaction on node0.
            for j in range(0, len(self.keys), FUND_OPS_PER_TX):
                for kp in (self.keys[j], self.keys[min(len(self.keys), j + FUND_OPS_PER_TX) - 1]):
                    r = clients[0].get_json(f"/getAccount?address={kp.address}")
                    bal = r["result"]["balance"] if isinstance(r, dict) and r.get("result") else None
                    if bal != INIT_BALANCE:
                        raise BenchError(f"funding: account {kp.address} has balance {bal}, want {INIT_BALANCE}")
        finally:
            for c in clients:
                c.close()
        return {"transactions": want, "accounts": len(self.keys), "seconds": round(time.monotonic() - t0, 3)}


Row = tuple[bytes, bytes, bool, int, int]  # (hash, item JSON, honest, account, nonce)


def load_lanes(files: list[str], lanes: dict[int, list[int]]) -> dict[int, list[Row]]:
    """Per node, its accounts' items in send order: nonce by nonce, accounts round-robin,
    each invalid twin right after its honest transaction."""
    per_account: dict[int, list[tuple[bytes, bytes, bool]]] = {}
    for path in files:
        with open(path, "rb") as f:
            per_account.update(pickle.load(f))
    out: dict[int, list[Row]] = {}
    for node, accts in lanes.items():
        groups: list[list[list[Row]]] = []  # per account: per nonce, [honest, twin?]
        for a in accts:
            g: list[list[Row]] = []
            for h, item, honest in per_account.get(a, []):
                if honest:
                    g.append([(h, item, True, a, len(g) + 1)])
                else:
                    g[-1].append((h, item, False, a, len(g)))
            groups.append(g)
        merged: list[Row] = []
        depth = max((len(g) for g in groups), default=0)
        for i in range(depth):
            for g in groups:
                if i < len(g):
                    merged.extend(g[i])
        out[node] = merged
    return out


def lanes_for(k: int, nodes: int, generators: int, g: int) -> dict[int, list[int]]:
    """Generator g's accounts per node: account a goes to node a % nodes, and to generator
    (a // nodes) % generators, so every account's nonces go through one node in order."""
    out: dict[int, list[int]] = {n: [] for n in range(nodes)}
    for a in range(k):
        if (a // nodes) % generators == g:
            out[a % nodes].append(a)
    return out


def dump_spec(path: Path, spec: dict) -> None:
    path.write_text(json.dumps(spec))
