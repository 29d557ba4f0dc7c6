"""The run's outputs: the summary table, the JSON report and the PNG plots."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

JSON_KEYS = ("tps", "latency_ms", "submitted", "accepted", "committed", "lost", "duplicated", "blocks_per_s",
             "cpu", "config", "reference")


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the harness's private series (keys starting with '_')."""
    return {k: v for k, v in report.items() if not k.startswith("_")}


def write_json(report: dict[str, Any], path: str) -> None:
    missing = [k for k in JSON_KEYS if k not in report]
    if missing:
        raise ValueError(f"report lacks {missing}")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(public(report), f, indent=2, default=_nan_safe)
        f.write("\n")
    os.replace(tmp, path)


def _nan_safe(o: Any) -> Any:  # numpy scalars
    try:
        v = float(o)
    except (TypeError, ValueError):
        return str(o)
    return None if math.isnan(v) else v


def summary_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    lat = r["latency_ms"]
    cpu = r["cpu"]
    ref = r["reference"]
    rows = [
        ("validators", f"{r['config']['validators']}" + (" (single node)" if r["config"]["single_node"] else "")),
        ("window", f"{r['config']['duration']:g} s, " + (f"rate {r['config']['rate']:g}/s" if r["config"]["rate"]
                                                         else "open loop (as fast as the nodes answer)")),
        ("committed TPS (ledgers)", f"{r['tps']:,.1f}"),
        ("committed TPS (telemetry, median node)", f"{r['telemetry']['median_tps']}"),
        ("latency submit→commit p50 / p90 / p99", f"{lat['p50']} / {lat['p90']} / {lat['p99']} ms"),
        ("submitted / accepted / committed", f"{r['submitted']:,} / {r['accepted']:,} / {r['committed']:,}"),
        ("lost / duplicated", f"{r['lost']} / {r['duplicated']}"),
        ("stranded (behind a refused nonce)", f"{r['stranded']}"),
        ("invalid submitted / committed", f"{r['submitted_invalid']:,} / {r['invalid_committed']}"),
        ("diverged ledgers", f"{r['diverged_ledgers']}"),
        ("blocks/s, txs per block (mean / non-empty / max)",
         f"{r['blocks_per_s']} , {r['block_txs']['mean']} / {r['block_txs']['mean_nonempty']} / "
         f"{r['block_txs']['max']}"),
        ("round timeouts in the window, per validator", ", ".join(str(x) for x in r["telemetry"]["timeouts"])),
        ("garbage collector in the window, per validator (s)",
         ", ".join(str(x) for x in r["telemetry"].get("gc_seconds", []))),
        ("event-loop stalls ≥ 0.1 s in the window, per validator (count / s)",
         ", ".join(f"{a} / {b}" for a, b in zip(r["telemetry"].get("loop_stalls", []),
                                                  r["telemetry"].get("loop_stall_seconds", [])))),
        ("CPU per validator (cores)", ", ".join(f"{c:.2f}" for c in cpu["validators_cores"])),
        ("CPU per committed tx, all validators", f"{cpu['validators_us_per_tx']} µs"),
        ("CPU generator (cores)", f"{cpu['generator_cores']:.2f}"),
        ("load average at the window's start", " ".join(f"{x:g}" for x in cpu["loadavg_at_start"])),
        ("reference: libsodium verify, 1 core", f"{ref['libsodium_verify_per_s']:,.0f}/s"),
        ("TPS / reference verify rate", f"{ref['tps_over_verify_rate']}"),
        ("reference: ledger execute, 1 core", f"{ref['execute_per_s']:,.0f} tx/s"),
        ("TPS / reference execute rate", f"{ref['tps_over_execute_rate']}"),
    ]
    k = r.get("kill")
    if k:
        rows.append(("kill: TPS before / while down (ratio)",
                     f"{k['tps_before']} / {k['tps_while_down']} ({k['down_ratio']})"))
        rows.append(("kill: catch-up after restart", f"{k['catch_up_s']} s"))
        if k.get("restarted_at_s") is not None:
            rows.append(("kill: after restart, API answers / first synced ledger",
                         f"{k.get('first_answer_after_restart_s')} s / {k.get('first_new_ledger_after_restart_s')} s"))
    return rows


def print_summary(r: dict[str, Any], plain: bool = False) -> None:
    rows = summary_rows(r)
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table

            t = Table(title="mbi bench e2e")
            t.add_column("measure")
            t.add_column("value", justify="right")
            for a, b in rows:
                t.add_row(a, b)
            Console().print(t)
            return
        except ImportError:  # pragma: no cover - rich is a dependency
            pass
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a.ljust(w)}  {b}")


def plot(r: dict[str, Any], folder: str) -> list[str]:
    """tps.png and latency.png in `folder`, with the kill and the restart marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Path(folder).mkdir(parents=True, exist_ok=True)
    tl = r["_timeline"]
    t = tl["t"]
    faults = r.get("_faults", [])
    window = r["config"]["duration"]
    out = []

    def marks(ax: Any) -> None:
        ax.axvline(window, color="grey", linestyle=":", label="window end")
        for ft, label in faults:
            ax.axvline(ft, color="red" if label.startswith("SIGKILL") else "green", linestyle="--", label=label)

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(t, tl["committed_tps"], label="committed tx/s (ledgers)")
    ax.plot(t, tl["submitted_per_s"], label="submitted tx/s", alpha=0.6)
    marks(ax)
    ax.set_xlabel("seconds since window start")
    ax.set_ylabel("transactions per second")
    ax.set_title(f"MBI e2e: {r['config']['validators']} validators, committed {r['tps']:.0f} TPS")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    p = os.path.join(folder, "tps.png")
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    out.append(p)

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(t, tl["latency_p50_ms"], ".-", label="p50")  # markers: a second between stalls shows
    ax.plot(t, tl["latency_p99_ms"], ".-", label="p99")
    marks(ax)
    ax.set_xlabel("seconds since window start (commit time)")
    ax.set_ylabel("submit→commit latency, ms")
    ax.set_title("latency of the transactions committed in each second (~50 ms poll resolution)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    p = os.path.join(folder, "latency.png")
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    out.append(p)
    return out
