"""A restarted validator catches up when no commit group fits one sync response
(docs/consensus.md §3.6), on 4 real `mbi start` processes over loopback.

With one validator down its rounds time out, so QCs commit two blocks or more at once.
`sync.batch_blocks = 1` caps every answer at one block: each of those groups reaches the
restarted validator as a one-block prefix and the headers that prove it committed. Before
proofs existed, a group larger than two answers' worth of blocks (or than one frame) could
not be served at all.
"""
from __future__ import annotations

from pathlib import Path

from node_util import Cluster, check_cluster_votes, drill_config

N = 4
BOOT = 60.0


def test_restarted_validator_catches_up_through_proved_prefixes(tmp_path: Path) -> None:
    c = Cluster.make(tmp_path / "net", N, drill_config(sync={"batch_blocks": 1}))
    try:
        c.start_all()
        c.wait_heights(range(N), 3, BOOT)
        victim, rest = 1, [0, 2, 3]
        c.kill(victim)
        start = max(h or 0 for h in c.heights(rest))
        c.wait_heights(rest, start + 12, 40.0)  # 3 of 4 are a quorum; the victim's rounds time out
        served_before = sum(c.metrics(i).get("mbi_sync_proofs_served_total", 0.0) for i in rest)
        c.start(victim)
        c.forget_headers(victim)
        c.wait(f"node{victim} to answer", lambda: c.status(victim) is not None, BOOT)
        target = max(h or 0 for h in c.heights(rest))
        c.wait_heights([victim], target, 40.0)
        served = sum(c.metrics(i).get("mbi_sync_proofs_served_total", 0.0) for i in rest) - served_before
        assert served >= 1, "no sync answer needed a proof: the drill did not test what it is for"
        misbehaviour = {k: v for k, v in c.metrics(victim).items()
                        if k.startswith("mbi_misbehaviour") and "bad_sync" in k and v}
        assert not misbehaviour, misbehaviour  # honest peers' proofs all checked out
        c.wait_heights(range(N), target + 3, 30.0)  # and it takes part again
        c.check_agreement(range(N))
        check_cluster_votes(c)
        c.assert_no_tracebacks()
    finally:
        c.close()
