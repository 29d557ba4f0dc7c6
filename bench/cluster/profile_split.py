"""Split a py-spy raw profile (`py-spy record -f raw`) of one validator into cost areas.

    .venv/bin/python bench/cluster/profile_split.py PROFILE.txt [--json OUT]

Each raw line is `frame;frame;...;leaf COUNT` (root first). A sample is charged to the
area of the deepest frame that matches one of AREAS (so a RocksDB write inside block
execution is "store", a protobuf read inside apply_block is "execute"). py-spy counts a
thread as active when the OS says it is running or runnable, and in native code with the
GIL released (fsync, batch verify), so on an oversubscribed machine the shares are of
time wanted, not of CPU actually received.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

# (area, substrings of a frame "func (file:line)"); checked in this order for each frame.
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("verify", ("verify_signatures", "verify_single_signed", "sigverify", "verify_batch", "crypto_sign_verify", "verify_qc",
                "Ed25519Signer", "verify_many")),
    ("proposal encode/decode", ("consensus/wire.py",)),
    ("store", ("mbi/store/", "rocksdict", "store/safety.py", "SafetyFile")),
    ("execute", ("mbi/ledger/",)),
    ("pool", ("TxPool.", "core_ext/mempool", "Mempool", "TxCache.")),
    ("gossip", ("p2p/gossip.py",)),
    ("decode", ("mbi/types/envelope.py", "decode_and_verify", "parse_submit_item", "jsonio.py", "json/decoder.py",
                "json/__init__.py", "parse_hex")),
    ("http ingest", ("aiohttp/", "mbi/api/", "mbi/node/http.py", "multidict", "yarl")),
    ("network", ("mbi/p2p/", "asyncio/", "uvloop", "selectors.py", "socket.py")),
    ("telemetry", ("prometheus_client", "mbi/node/metrics.py", "Node.status")),
    ("consensus", ("mbi/consensus/", "mbi/node/driver.py")),
    ("node other", ("mbi/node/",)),
]


# Leaves where a thread only waits for work, in native code py-spy cannot see as idle:
# uvloop's poll under the loop's run call, and an executor thread blocked on its queue.
IDLE_LEAVES = ("Runner.run (asyncio/runners.py", "run_until_complete", "_worker (concurrent/futures/thread.py:81)",
               "Condition.wait (threading.py", "Event.wait (threading.py")


def area_of(frames: list[str]) -> str:
    if any(frames[-1].startswith(p) for p in IDLE_LEAVES):
        return "idle"
    for f in reversed(frames):
        for area, pats in AREAS:
            if any(p in f for p in pats):
                # The ledger's validity checks run at admission too (mbi/api/ingress.py).
                if area == "execute" and any("mbi/api/ingress.py" in g for g in frames):
                    return "http ingest (validate)"
                return area
    return "other"


def split(path: str) -> dict[str, object]:
    by_area: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    by_thread_area: dict[str, Counter[str]] = {}
    leaves: Counter[str] = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack or not n.isdigit():
                continue
            k = int(n)
            frames = stack.split(";")
            thread = "event loop" if "runpy" in frames[0] else "worker threads"
            a = area_of(frames)
            by_area[a] += k
            by_thread[thread] += k
            by_thread_area.setdefault(thread, Counter())[a] += k
            leaves[frames[-1]] += k
            total += k
    busy = total - by_area.get("idle", 0)
    return {"samples": total, "busy_samples": busy,
            "areas": {a: {"samples": v, "share_of_busy": round(v / busy, 4) if busy and a != "idle" else None}
                      for a, v in by_area.most_common()},
            "threads": {t: {"samples": v, "areas": dict(by_thread_area[t].most_common())}
                        for t, v in by_thread.most_common()},
            "top_leaves": leaves.most_common(15)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("profile")
    p.add_argument("--json")
    a = p.parse_args(argv)
    r = split(a.profile)
    print(f"{r['samples']} samples, {r['busy_samples']} not idle")
    for area, v in r["areas"].items():  # type: ignore[union-attr]
        share = "" if v["share_of_busy"] is None else f"{v['share_of_busy'] * 100:5.1f}% of busy"
        print(f"  {area:<24} {v['samples']:>7}  {share}")
    for t, v in r["threads"].items():  # type: ignore[union-attr]
        print(f"{t}: {v['samples']} samples: " + ", ".join(f"{k} {n}" for k, n in v["areas"].items()))
    print("top leaf frames:")
    for leaf, n in r["top_leaves"]:  # type: ignore[union-attr]
        print(f"  {n:>6}  {leaf}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
