"""Four validator processes on loopback: committed blocks/s, commit latency, CPU per block,
and catch-up speed, all read from the nodes' own counters (/metrics and /status).

    .venv/bin/python bench/node_loopback.py [--seconds 20] [--load 200]

- Blocks/s: the committed-block counter of every node, over the measured window.
- Commit latency: proposal to commit at the leader that proposed, p50 and p99 over the
  node's last 256 proposals (its /status), median over the nodes.
- CPU per committed block: process CPU (user + system, /metrics mbi_cpu_seconds) over the
  window divided by blocks committed in it, for each validator.
- Catch-up: after the window a fresh full node (same genesis, its own key) starts and
  replays the whole chain from the validators through block sync: blocks/s replayed.
- The reference: libsodium single-verify rate on one core, measured in the same run.

A small load (`--load` PAY_COIN/s over p2p gossip) keeps the leaders proposing at once
instead of waiting for the idle heartbeat. Targets (issue 9): >= 50 blocks/s, p50 <= 50 ms,
p99 <= 200 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import pysodium

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def get(url: str, path: str, timeout: float = 2.0):
    with urllib.request.urlopen(url + path, timeout=timeout) as r:
        data = r.read()
    return json.loads(data) if path != "/metrics" else data.decode()


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def sodium_rate(seconds: float = 0.5) -> float:
    pk, sk = pysodium.crypto_sign_keypair()
    s = pysodium.crypto_sign_detached(b"m" * 64, sk)
    n, t0 = 0, time.thread_time()
    while time.thread_time() - t0 < seconds:
        for _ in range(50):
            pysodium.crypto_sign_verify_detached(s, b"m" * 64, pk)
        n += 50
    return n / (time.thread_time() - t0)


def wait(pred, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: timed out waiting for {what}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--load", type=float, default=200.0)
    args = ap.parse_args()
    ref_before = sodium_rate()
    home = tempfile.mkdtemp(prefix="mbi-bench-")
    dev = subprocess.Popen([sys.executable, "-m", "mbi", "devnet", "--validators", "4", "--home", home, "--plain",
                            "--load", str(args.load), "--duration", str(args.seconds * 2 + 300)],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait(lambda: os.path.exists(os.path.join(home, "devnet.json")), 60, "devnet.json")
        nodes = json.load(open(os.path.join(home, "devnet.json")))["nodes"]
        urls = [n["url"] for n in nodes]
        wait(lambda: all(get(u, "/status")["height"] >= 20 for u in urls), 120, "height 20 on every node")
        time.sleep(3.0)  # the load generator has funded its accounts and is sending
        m0 = [get(u, "/metrics") for u in urls]
        t0 = time.monotonic()
        time.sleep(args.seconds)
        m1 = [get(u, "/metrics") for u in urls]
        dt = time.monotonic() - t0
        sts = [get(u, "/status") for u in urls]
        blocks = [metric(b, "mbi_blocks_committed") - metric(a, "mbi_blocks_committed") for a, b in zip(m0, m1)]
        txs = [metric(b, "mbi_transactions_committed") - metric(a, "mbi_transactions_committed")
               for a, b in zip(m0, m1)]
        cpu = [metric(b, "mbi_cpu_seconds") - metric(a, "mbi_cpu_seconds") for a, b in zip(m0, m1)]
        bps = [b / dt for b in blocks]
        p50 = [s["commit_latency_ms_p50"] for s in sts if s["commit_latency_ms_p50"] is not None]
        p99 = [s["commit_latency_ms_p99"] for s in sts if s["commit_latency_ms_p99"] is not None]

        # catch-up: a fresh full node (same genesis, its own key) replays the whole chain
        # from its peers through block sync; the rate is heights gained per second.
        fn_home = os.path.join(home, "fullnode")
        subprocess.run([sys.executable, "-m", "mbi", "init", "--home", fn_home, "--genesis",
                        os.path.join(nodes[0]["home"], "genesis.json")], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        from mbi.node import config as C
        cfg = C.load(os.path.join(fn_home, "config.toml"))
        cfg = C.with_overrides(cfg, {"p2p.peers": [n["p2p"] for n in nodes], "p2p.listen_port": 0,
                                     "api.port": 0, "store.block_cache_mb": 32, "store.write_buffer_mb": 32,
                                     "store.memtable_total_mb": 128}, "bench")
        C.save(cfg, os.path.join(fn_home, "config.toml"))
        h_target = max(get(u, "/status")["height"] for u in urls)
        t_c = time.monotonic()  # from the process start: store creation, then sync
        log_path = os.path.join(fn_home, "node.log")
        full = subprocess.Popen([sys.executable, "-m", "mbi", "start", "--home", fn_home], cwd=ROOT,
                                stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def fn_url() -> str:
                m = re.search(rb"api (\d+)", open(log_path, "rb").read())
                if not m:
                    raise OSError("not up yet")
                return f"http://127.0.0.1:{int(m.group(1))}"
            wait(lambda: get(fn_url(), "/status")["height"] >= h_target, 300, "the full node's catch-up")
            catch_s = time.monotonic() - t_c
            replayed = h_target
        finally:
            full.send_signal(signal.SIGTERM)
            full.wait(30)
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        dev.wait(60)
    ref_after = sodium_rate()
    ref = statistics.median([ref_before, ref_after])
    print(f"machine reference: libsodium single verify {ref:,.0f}/s on one core (before {ref_before:,.0f}, "
          f"after {ref_after:,.0f})")
    print(f"window {dt:.1f} s, load {args.load:g} tx/s offered, committed {statistics.median(txs) / dt:,.0f} tx/s")
    print(f"{'node':<6} {'blocks/s':>9} {'CPU ms/block':>13} {'p50 ms':>8} {'p99 ms':>8}")
    for i, s in enumerate(sts):
        print(f"node{i:<2} {bps[i]:>9.1f} {cpu[i] / max(blocks[i], 1) * 1e3:>13.2f} "
              f"{s['commit_latency_ms_p50'] or '-':>8} {s['commit_latency_ms_p99'] or '-':>8}")
    mb = statistics.median(bps)
    mp50 = statistics.median(p50) if p50 else float("nan")
    mp99 = statistics.median(p99) if p99 else float("nan")
    print(f"median blocks/s {mb:.1f} (target >= 50: {'met' if mb >= 50 else 'MISSED'}); "
          f"commit latency p50 {mp50:.1f} ms (<= 50: {'met' if mp50 <= 50 else 'MISSED'}), "
          f"p99 {mp99:.1f} ms (<= 200: {'met' if mp99 <= 200 else 'MISSED'})")
    print(f"catch-up: a fresh full node replayed {replayed} blocks through block sync in {catch_s:.1f} s = "
          f"{replayed / max(catch_s, 1e-9):.0f} blocks/s (including its process start)")


if __name__ == "__main__":
    main()
