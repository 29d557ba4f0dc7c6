"""An idle network makes no round time out, with the shipped consensus timers
(docs/consensus.md §3.3), on 4 real `mbi start` processes over loopback.

An idle leader waits `heartbeat_interval` before it proposes an empty block, and so does
the next leader, who collects the votes. The first leader's round therefore lasts two
heartbeats and three network hops. With a heartbeat of half the round timer (the default
before 0.3 s) every idle leader's timer fired just before the next proposal reached it:
each validator logged a timeout every four rounds and signed a timeout message for it.
"""
from __future__ import annotations

import time
from pathlib import Path

from mbi.node import config as C
from node_util import Cluster, drill_config

N = 4
IDLE_S = 8.0


def test_idle_network_times_out_no_round(tmp_path: Path) -> None:
    shipped = C.ConsensusConfig()
    assert shipped.heartbeat_interval * 3 <= shipped.round_timeout_base
    cfg = drill_config(consensus={"round_timeout_base": shipped.round_timeout_base,
                                  "round_timeout_max": shipped.round_timeout_max,
                                  "heartbeat_interval": shipped.heartbeat_interval})
    c = Cluster.make(tmp_path / "net", N, cfg)
    try:
        c.start_all()
        c.wait_heights(range(N), 3, 60.0)
        # every validator connected and past the start (its first rounds may time out while
        # peers are still dialling)
        c.wait("all peers connected", lambda: all(len((c.status(i) or {}).get("peers", ())) >= N - 1 for i in range(N)),
                30.0)
        time.sleep(2.0)
        before = [c.metrics(i) for i in range(N)]
        h0 = min(h or 0 for h in c.heights())
        time.sleep(IDLE_S)
        after = [c.metrics(i) for i in range(N)]
        h1 = min(h or 0 for h in c.heights())
        # the chain kept going: about one empty block per heartbeat and hop
        assert h1 - h0 >= IDLE_S / (shipped.heartbeat_interval * 2), (h0, h1)
        fired = [a["mbi_timeouts_total"] - b["mbi_timeouts_total"] for a, b in zip(after, before)]
        sent = [a["mbi_timeouts_sent_total"] - b["mbi_timeouts_sent_total"] for a, b in zip(after, before)]
        assert fired == [0] * N, f"round timers fired on an idle network: {fired}\n{c.log_tails()}"
        assert sent == [0] * N, sent
        c.assert_no_tracebacks()
    finally:
        c.close()
