"""A one-validator chain: the leader of every round, whose QC forms the moment it votes.
It used to recurse without bound once a transaction was pending (RecursionError)."""
from __future__ import annotations

import json

from node_util import Cluster, Load


def test_a_single_validator_commits_a_steady_load(tmp_path):
    c = Cluster.make(tmp_path, n=1)
    c.start_all()
    load = None
    try:
        c.wait_heights([0], 3, timeout=60)
        load = Load(tmp_path, c, rate=200, accounts=20).start()
        assert load.funded.wait(60), "the funding transaction never committed"
        c.wait("transactions committed", lambda: c.metrics(0).get("mbi_transactions_committed_total", 0) > 300,
               timeout=60)
        sent = load.stop()
        load = None
        assert sent > 300
        assert c.alive(0), c.log_tails()
        c.assert_no_tracebacks()
        st = c.status(0)
        assert st is not None and st["halted"] is None and st["timeouts"] == 0, json.dumps(st)
    finally:
        if load is not None:
            load.stop()
        c.close()
