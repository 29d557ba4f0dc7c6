"""/metrics carries the node's counters: the ones added for issue 13 read the live values."""
from __future__ import annotations

import re

from api_util import LiveNode


def _value(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def test_metrics_report_bad_relays_and_the_block_cap(tmp_path):
    with LiveNode(str(tmp_path), validators=1) as net:
        def set_counters() -> None:
            net.node.bad_relays = 7
            net.node.driver.stats.block_cap = 1234

        net.call(set_counters)
        status, body = net.request("GET", "/metrics")
        assert status == 200
        text = body.decode() if isinstance(body, bytes) else str(body)
        assert _value(text, "mbi_bad_relays_total") == 7.0
        # a heartbeat proposal may have set the cap again meanwhile: then to the unpaced cap
        assert _value(text, "mbi_block_cap") in (1234.0, float(net.node.driver.limits.max_block_txs))


def test_gc_seconds_counts_the_collector_s_time():
    """mbi_gc_seconds is fed by gc.callbacks: a forced collection is counted."""
    import gc

    from mbi.node.metrics import GC_TIMES

    assert GC_TIMES in gc.callbacks
    junk = [[i] for i in range(200_000)]  # something for the full collection to walk
    before_n, before_s = GC_TIMES.collections[2], GC_TIMES.seconds[2]
    gc.collect()
    del junk
    assert GC_TIMES.collections[2] == before_n + 1 and GC_TIMES.seconds[2] > before_s


def test_mbi_start_gc_policy_freezes_the_loaded_state_and_sets_the_young_threshold():
    import gc

    from mbi.node.commands import _tune_gc

    saved = gc.get_threshold()
    try:
        keep = [[i] for i in range(1000)]  # alive at start: frozen out of later collections
        _tune_gc(12_345)
        assert gc.get_threshold()[0] == 12_345 and gc.get_threshold()[1:] == saved[1:]
        assert gc.get_freeze_count() >= len(keep)
        gc.unfreeze()
        gc.set_threshold(*saved)
        _tune_gc(0)  # 0 keeps Python's thresholds
        assert gc.get_threshold() == saved
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def test_mbi_start_sets_the_kernel_threads_and_shared_hosts_split_the_cores(monkeypatch):
    import os

    import core_ext
    from mbi.node.commands import _tune_threads
    from mbi.node.devnet import shared_host_config

    try:
        _tune_threads(1)
        assert core_ext.threads() == 1
        _tune_threads(0)  # 0 keeps what is set
        assert core_ext.threads() == 1
    finally:
        core_ext.set_threads(None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [shared_host_config(n).verify.kernel_threads for n in (1, 2, 4, 7, 9, 16)] == [8, 4, 2, 1, 1, 1]
    assert shared_host_config(4).store.background_jobs == 1


def test_metrics_report_loop_stalls(tmp_path):
    """A callback that holds the node's loop for 0.3 s is a stall in /metrics."""
    import time

    with LiveNode(str(tmp_path), validators=1) as net:
        net.call(lambda: time.sleep(0.3))
        time.sleep(0.2)  # the sampler's next tick records the lateness
        status, body = net.request("GET", "/metrics")
        text = body.decode() if isinstance(body, bytes) else str(body)
        assert _value(text, "mbi_loop_stalls_total") >= 1
        assert _value(text, "mbi_loop_stall_seconds_total") >= 0.2
        assert _value(text, "mbi_loop_lag_longest_seconds") >= 0.2


def test_gc_times_keeps_recent_long_collections():
    """What a round-timeout log line quotes: collections of 10 ms or more, by end time."""
    import time

    from mbi.node.metrics import GcTimes

    g = GcTimes()
    t_before = time.perf_counter()
    g("start", {"generation": 2})
    time.sleep(0.03)
    g("stop", {"generation": 2, "collected": 5})
    g("start", {"generation": 0})
    g("stop", {"generation": 0, "collected": 0})  # too short to keep
    t_after = time.perf_counter()
    assert g.collections == [1, 0, 1] and g.collected == 5
    assert len(g.recent) == 1
    assert g.seconds_since(t_before) >= 0.03
    assert g.seconds_since(t_after) == 0.0
