"""After the run: scan every node's stored ledgers and account for every transaction.

Definitions (honest = a correctly signed payment; invalid = a --invalid-rate twin):
- submitted: items sent at least once during the window (honest and invalid);
- accepted: honest items answered error_code 0 (or, on a resend after a connection
  error, 3 "already exists" / 99 "nonce used": the first node took it);
- committed: accepted honest items found in at least one node's stored ledgers;
- lost: accepted, never committed on any node, and every earlier nonce of the same
  account was accepted (so nothing but the network could keep it from committing);
- stranded: accepted, not committed, behind an earlier nonce of its account that was
  never accepted (it can never execute; a client-side outcome, reported apart);
- duplicated: a transaction hash stored in two ledgers (on one node, or at different
  seqs on different nodes);
- invalid_committed: an invalid twin found in any ledger (must be 0).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from mbi.store.db import Store
from mbi.types.mbi_types_pb2 import LedgerHeader

from .monitor import LedgerPoller, Sample


@dataclass
class Scan:
    node: int
    tip: int
    seq_of: dict[bytes, int]        # tx hash -> ledger seq (first seen)
    dup_in_node: int                # hashes stored in more than one ledger of this node
    tx_count: dict[int, int]        # seq -> transactions in the ledger
    header_hash: dict[int, bytes]   # seq -> header hash


def scan_store(node: int, data_dir: str, chain_id: int) -> Scan:
    """Every ledger's transaction hashes, read from the node's store opened read-only."""
    seq_of: dict[bytes, int] = {}
    dup = 0
    counts: dict[int, int] = {}
    hashes: dict[int, bytes] = {}
    with Store.open(data_dir, chain_id, read_only=True) as st:
        tip = st.last_seq()
        for seq, raw in st.iter_headers(1, tip):
            h = LedgerHeader.FromString(raw)
            hashes[seq] = bytes(h.hash)
            txs = st.get_ledger_txs(seq)
            counts[seq] = len(txs)
            if h.tx_count != len(txs):
                raise RuntimeError(f"node{node} ledger {seq}: header says {h.tx_count} txs, the index holds "
                                   f"{len(txs)}")
            for t in txs:
                if t in seq_of:
                    dup += 1
                else:
                    seq_of[t] = seq
    return Scan(node, tip, seq_of, dup, counts, hashes)


def merge_generators(outs: list[dict[str, Any]]) -> dict[str, list]:
    keys = ("hashes", "honest", "account", "nonce", "first_send", "send", "resp", "code", "attempts", "node")
    return {k: [x for o in outs for x in o[k]] for k in keys}


def pct(xs: np.ndarray, q: float) -> float | None:
    return None if xs.size == 0 else round(float(np.percentile(xs, q)), 1)


def account(g: dict[str, list], scans: list[Scan], poller: LedgerPoller, t0: float, t1: float) -> dict[str, Any]:
    n = len(g["hashes"])
    honest = g["honest"]
    code = g["code"]
    attempts = g["attempts"]
    submitted = sum(1 for a in attempts if a > 0)
    submitted_invalid = sum(1 for a, h in zip(attempts, honest) if a > 0 and not h)
    accepted = [honest[i] and (code[i] == 0 or (attempts[i] > 1 and code[i] in (3, 99))) for i in range(n)]

    # Where each hash is stored, over all nodes; duplicates across nodes = different seqs.
    seq_any: dict[bytes, int] = {}
    cross_dup = 0
    for s in scans:
        for h, q in s.seq_of.items():
            prev = seq_any.get(h)
            if prev is None:
                seq_any[h] = q
            elif prev != q:
                cross_dup += 1
    dup_total = sum(s.dup_in_node for s in scans) + cross_dup

    # Ledgers that differ between nodes at the same seq (a fork would show here).
    diverged = 0
    by_seq: dict[int, set[bytes]] = defaultdict(set)
    for s in scans:
        for q, hh in s.header_hash.items():
            by_seq[q].add(hh)
    diverged = sum(1 for v in by_seq.values() if len(v) > 1)

    # Earliest commit time per seq (any node), from the pollers.
    ctime_cache: dict[int, float | None] = {}

    def ctime(seq: int) -> float | None:
        if seq not in ctime_cache:
            ctime_cache[seq] = poller.commit_time(seq)
        return ctime_cache[seq]

    committed_idx = [i for i in range(n) if accepted[i] and g["hashes"][i] in seq_any]
    committed_unaccepted = sum(1 for i in range(n) if honest[i] and not accepted[i] and g["hashes"][i] in seq_any)
    invalid_committed = sum(1 for i in range(n) if not honest[i] and g["hashes"][i] in seq_any)

    # Stranded vs lost: walk each account's honest nonces in order.
    by_acct: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        if honest[i] and attempts[i] > 0:
            by_acct[g["account"][i]].append(i)
    lost, stranded = [], []
    for idxs in by_acct.values():
        idxs.sort(key=lambda i: g["nonce"][i])
        blocked = False
        expect = 1
        for i in idxs:
            if g["nonce"][i] != expect:
                blocked = True  # an earlier nonce was never sent
            expect = g["nonce"][i] + 1
            if not accepted[i]:
                blocked = True
                continue
            if g["hashes"][i] in seq_any:
                continue
            (stranded if blocked else lost).append(i)

    # Latency and TPS over the window.
    lat, lat_acc, commit_t = [], [], []
    for i in committed_idx:
        ct = ctime(seq_any[g["hashes"][i]])
        if ct is None:
            continue
        commit_t.append(ct)
        if t0 <= g["first_send"][i] <= t1:
            lat.append(ct - g["first_send"][i])
            lat_acc.append(ct - g["send"][i])
    commit_arr = np.array(commit_t)
    in_window = int(((commit_arr >= t0) & (commit_arr <= t1)).sum()) if commit_arr.size else 0
    dur = t1 - t0
    lat_ms = np.array(lat) * 1e3
    lat_acc_ms = np.array(lat_acc) * 1e3

    # Blocks: the most complete node's ledgers committed within the window.
    best = max(scans, key=lambda s: s.tip)
    blocks_w = [q for q in best.tx_count if (ct := ctime(q)) is not None and t0 <= ct <= t1]
    sizes = [best.tx_count[q] for q in blocks_w]
    nonempty = [x for x in sizes if x]
    codes = Counter(c for c, a in zip(code, attempts) if a > 0)
    return {
        "tps": round(in_window / dur, 1) if dur > 0 else 0.0,
        "latency_ms": {"p50": pct(lat_ms, 50), "p90": pct(lat_ms, 90), "p99": pct(lat_ms, 99),
                       "max": None if lat_ms.size == 0 else round(float(lat_ms.max()), 1),
                       "samples": int(lat_ms.size)},
        "latency_from_accepting_submit_ms": {"p50": pct(lat_acc_ms, 50), "p90": pct(lat_acc_ms, 90),
                                             "p99": pct(lat_acc_ms, 99)},
        "submitted": submitted,
        "submitted_invalid": submitted_invalid,
        "accepted": sum(accepted),
        "committed": len(committed_idx),
        "committed_in_window": in_window,
        "lost": len(lost),
        "stranded": len(stranded),
        "duplicated": dup_total,
        "invalid_committed": invalid_committed,
        "committed_not_accepted": committed_unaccepted,
        "diverged_ledgers": diverged,
        "answer_codes": {str(k): v for k, v in sorted(codes.items())},
        "blocks_per_s": round(len(blocks_w) / dur, 2) if dur > 0 else 0.0,
        "block_txs": {"mean": round(sum(sizes) / len(sizes), 1) if sizes else 0.0,
                      "mean_nonempty": round(sum(nonempty) / len(nonempty), 1) if nonempty else 0.0,
                      "max": max(sizes) if sizes else 0, "blocks": len(sizes), "empty": len(sizes) - len(nonempty)},
        "ledger_tips": [s.tip for s in scans],
        "_commit_times": commit_t,
        "_lost_hashes": [g["hashes"][i].hex() for i in lost[:20]],
    }


def telemetry_tps(samples: list[Sample], t0: float, t1: float) -> dict[str, Any]:
    """Per node, mbi_transactions_committed and mbi_blocks_committed rates over the window,
    interpolated between the /metrics samples around t0 and t1."""
    out: dict[str, Any] = {"per_node_tps": [], "per_node_blocks_per_s": [], "timeouts": [], "gc_seconds": [],
                          "loop_stalls": [], "loop_stall_seconds": []}
    n = max((len(s.nodes) for s in samples), default=0)
    for i in range(n):
        pts = [(s.t, s.nodes[i]) for s in samples if s.nodes[i] is not None]
        vals = []
        for key in ("mbi_transactions_committed", "mbi_blocks_committed", "mbi_timeouts", "mbi_gc_seconds",
                    "mbi_loop_stalls", "mbi_loop_stall_seconds"):
            series = [(t, m[key]) for t, m in pts if key in m]
            a, b = _interp(series, t0), _interp(series, t1)
            vals.append(None if a is None or b is None or b < a else (b - a))
        out["per_node_tps"].append(None if vals[0] is None else round(vals[0] / (t1 - t0), 1))
        out["per_node_blocks_per_s"].append(None if vals[1] is None else round(vals[1] / (t1 - t0), 2))
        out["timeouts"].append(None if vals[2] is None else round(vals[2]))
        out["gc_seconds"].append(None if vals[3] is None else round(vals[3], 2))
        out["loop_stalls"].append(None if vals[4] is None else round(vals[4]))
        out["loop_stall_seconds"].append(None if vals[5] is None else round(vals[5], 2))
    good = sorted(v for v in out["per_node_tps"] if v is not None)
    out["median_tps"] = good[len(good) // 2] if good else None
    out["note"] = ("a validator restarted in the window counts from zero again (its counters are per process), "
                   "so its rate is not shown")
    return out


def _interp(series: list[tuple[float, float]], t: float) -> float | None:
    """The counter at time t, linear between samples; None outside them or across a restart."""
    for (ta, va), (tb, vb) in zip(series, series[1:]):
        if ta <= t <= tb:
            if vb < va:
                return None
            return va + (vb - va) * ((t - ta) / (tb - ta) if tb > ta else 0.0)
    return None


def timeline(commit_t: list[float], g: dict[str, list], poller: LedgerPoller, scans: list[Scan],
             t0: float, t_last: float) -> dict[str, list]:
    """Per-second series from t0: committed TPS, accepted submits/s, latency p50/p99 of the
    transactions committed in that second."""
    nbins = max(1, int(math.ceil(t_last - t0)))
    commits = np.zeros(nbins)
    for t in commit_t:
        k = int(t - t0)
        if 0 <= k < nbins:
            commits[k] += 1
    subs = np.zeros(nbins)
    for fs, a in zip(g["first_send"], g["attempts"]):
        if a > 0:
            k = int(fs - t0)
            if 0 <= k < nbins:
                subs[k] += 1
    seq_any: dict[bytes, int] = {}
    for s in scans:
        for h, q in s.seq_of.items():
            seq_any.setdefault(h, q)
    lat_bins: list[list[float]] = [[] for _ in range(nbins)]
    ct_cache: dict[int, float | None] = {}
    for h, fs, ok in zip(g["hashes"], g["first_send"], g["honest"]):
        q = seq_any.get(h)
        if q is None or not ok:
            continue
        if q not in ct_cache:
            ct_cache[q] = poller.commit_time(q)
        ct = ct_cache[q]
        if ct is None:
            continue
        k = int(ct - t0)
        if 0 <= k < nbins:
            lat_bins[k].append((ct - fs) * 1e3)
    p50 = [float(np.percentile(b, 50)) if b else math.nan for b in lat_bins]
    p99 = [float(np.percentile(b, 99)) if b else math.nan for b in lat_bins]
    return {"t": list(range(nbins)), "committed_tps": commits.tolist(), "submitted_per_s": subs.tolist(),
            "latency_p50_ms": p50, "latency_p99_ms": p99}
