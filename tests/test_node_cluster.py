"""Fault drills on 4 real `mbi start` validator processes over loopback (issue 9, "Tests").

Agreement is checked from the outside: every node's /getLedger header (hash included) for
every ledger seq, and the votes each node received (its vote journal), whose signatures are
verified here with libsodium over the digest written out from docs/consensus.md §6.
"""
from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

from node_util import Cluster, Load, check_cluster_votes, drill_config

N = 4
BOOT = 60.0  # first commits on a loaded 2-core machine: imports, RocksDB, handshakes


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster.make(tmp_path / "net", N, drill_config())
    try:
        c.start_all()
        yield c
    finally:
        c.close()


def advancing(c: Cluster, nodes: list[int], by: int, timeout: float) -> list[int]:
    """Wait until every node in `nodes` has gained `by` heights from now; returns the new heights."""
    start = c.heights(nodes)
    assert all(h is not None for h in start), f"a node does not answer: {start}"
    c.wait(f"nodes {nodes} to commit {by} more blocks from {start}",
           lambda: all((h or 0) >= s + by for h, s in zip(c.heights(nodes), start)), timeout)
    return [h or 0 for h in c.heights(nodes)]


def test_four_validators_commit_continuously_and_agree_on_every_ledger_hash(cluster: Cluster,
                                                                            tmp_path: Path) -> None:
    c = cluster
    c.wait_heights(range(N), 3, BOOT)
    load = Load(tmp_path / "net", c, rate=100.0).start()
    try:
        # Continuously: every node advances in each of several consecutive windows.
        for _ in range(4):
            advancing(c, list(range(N)), 5, 20.0)
        assert load.funded.wait(20.0), "the load generator's funding never committed"
        advancing(c, list(range(N)), 10, 20.0)
    finally:
        sent = load.stop()
    assert sent > 100
    top = min(h or 0 for h in c.heights()) + 1
    c.check_agreement(range(N), upto={i: top for i in range(N)})
    txs = sum(c.header(0, s)["tx_count"] for s in range(2, top + 1))
    assert txs >= 100, f"only {txs} transactions in {top} ledgers: the drill ran without load"
    per_voter = check_cluster_votes(c)
    assert set(per_voter) == set(range(N)), per_voter  # every validator's votes reached a peer
    assert c.stop_all() == [0] * N  # SIGTERM: a clean shutdown, exit status 0
    c.assert_no_tracebacks()


def test_sigkill_one_the_rest_commit_and_it_catches_up_and_votes_again(cluster: Cluster) -> None:
    c = cluster
    c.wait_heights(range(N), 5, BOOT)
    victim, rest = 2, [0, 1, 3]
    c.kill(victim)
    killed_at = max(h or 0 for h in c.heights(rest))
    advancing(c, rest, 8, 30.0)  # 3 of 4 are a quorum
    round_at_restart = max(c.status(i)["round"] for i in rest)
    c.start(victim)
    c.forget_headers(victim)
    c.wait(f"node{victim} to answer", lambda: c.status(victim) is not None, BOOT)
    target = max(h or 0 for h in c.heights(rest))
    assert target >= killed_at + 8
    c.wait_heights([victim], target, 30.0)  # caught up through block sync
    # It votes again: its own counter rises, and its new votes (rounds after the restart)
    # arrive at the other nodes, signed by its key.
    first = c.metrics(victim).get("mbi_votes_sent_total", 0.0)
    c.wait(f"node{victim} to send votes", lambda: c.metrics(victim).get("mbi_votes_sent_total", 0.0) >= first + 5, 30.0)

    def new_votes_received() -> int:
        return sum(1 for i in rest for v in c.journal(i) if v.voter == victim and v.round > round_at_restart)

    c.wait(f"node{victim}'s new votes at its peers", lambda: new_votes_received() >= 3, 30.0)
    advancing(c, list(range(N)), 5, 30.0)
    c.check_agreement(range(N))
    check_cluster_votes(c)
    c.assert_no_tracebacks()


def test_sigstop_two_commits_stop_nothing_unsafe_and_sigcont_resumes(cluster: Cluster) -> None:
    c = cluster
    c.wait_heights(range(N), 5, BOOT)
    frozen, rest = [1, 3], [0, 2]
    for i in frozen:
        c.signal(i, signal.SIGSTOP)
    try:
        time.sleep(2.0)  # what was already in flight lands
        before = c.heights(rest)
        fired = [c.metrics(i)["mbi_timeouts_total"] for i in rest]
        time.sleep(5.0)
        # 2 of 4 are no quorum: not one more block commits, but the pacemaker keeps trying.
        assert c.heights(rest) == before, f"committed without a quorum: {before} -> {c.heights(rest)}"
        # No TC without a quorum either: the round stays, and its timeout is re-sent.
        assert all(c.metrics(i)["mbi_timeouts_total"] >= f + 2 for i, f in zip(rest, fired)), "the pacemaker stopped"
        for i in rest:
            st = c.status(i)
            assert st["halted"] is None and st["committed_height"] == st["height"] == before[rest.index(i)]
        c.check_agreement(rest)
    finally:
        for i in frozen:
            c.signal(i, signal.SIGCONT)
    advancing(c, list(range(N)), 8, 40.0)
    c.check_agreement(range(N))
    check_cluster_votes(c)
    c.assert_no_tracebacks()


def test_validator_killed_again_and_again_reopens_to_a_consistent_prefix_and_rejoins(cluster: Cluster,
                                                                                     tmp_path: Path) -> None:
    c = cluster
    c.wait_heights(range(N), 3, BOOT)
    load = Load(tmp_path / "net", c, rate=150.0).start()
    victim, rest = 1, [0, 2, 3]
    rng = random.Random(20261202)
    reopened: list[int] = []
    try:
        assert load.funded.wait(40.0), "the load generator's funding never committed"
        for k in range(6):
            c.wait(f"node{victim} to answer after start #{c.members[victim].starts}",
                   lambda: c.status(victim) is not None, BOOT)
            c.forget_headers(victim)
            h = c.height(victim) or 0
            reopened.append(h)
            if k:
                # SIGKILL loses nothing that was written (the WAL is fsynced per block); the
                # height /status showed may be the block whose write the kill cut short.
                assert h >= last_seen - 1, f"reopened at {h} after {last_seen} was reported"
            # A consistent prefix: every ledger it has equals the others'. (A restarted
            # victim can be a block ahead of node rest[0] for a moment.)
            c.wait(f"node{rest[0]} to reach height {h}", lambda: (c.height(rest[0]) or 0) >= h, 30.0)
            c.check_agreement([rest[0], victim], upto={rest[0]: h + 1, victim: h + 1})
            # Kill it while it executes and writes blocks (catching up under load).
            c.wait(f"node{victim} to execute blocks", lambda: (c.height(victim) or 0) > h, 30.0)
            time.sleep(rng.uniform(0.05, 1.0))
            last_seen = c.height(victim) or 0
            c.kill(victim)
            c.start(victim)
        c.wait(f"node{victim} to answer", lambda: c.status(victim) is not None, BOOT)
        round_at_restart = max(c.status(i)["round"] for i in rest)
        target = max(h or 0 for h in c.heights(rest))
        c.wait_heights([victim], target, 40.0)
        c.wait(f"node{victim}'s votes at its peers after the last restart",
               lambda: sum(1 for i in rest for v in c.journal(i)
                           if v.voter == victim and v.round > round_at_restart) >= 3, 30.0)
    finally:
        load.stop()
    assert reopened == sorted(reopened), reopened
    c.check_agreement(range(N))
    check_cluster_votes(c)
    c.assert_no_tracebacks()


def test_no_restarted_validator_signs_two_votes_in_one_round(cluster: Cluster, tmp_path: Path) -> None:
    """Every validator SIGKILLed at once, at random moments, again and again, then restarted:
    each must come back remembering what it voted. Checked from the votes its peers got."""
    c = cluster
    c.wait_heights(range(N), 3, BOOT)
    rng = random.Random(31337)
    for k in range(3):
        before = min(h or 0 for h in c.heights())
        c.wait(f"commits after restart #{k}", lambda: min(h or 0 for h in c.heights()) >= before + 3, 40.0)
        time.sleep(rng.uniform(0.0, 0.5))
        order = list(range(N))
        rng.shuffle(order)
        for i in order:
            c.kill(i)
        for i in order:
            c.start(i)
            c.forget_headers(i)
        c.wait("every node to answer", lambda: all(c.status(i) is not None for i in range(N)), BOOT)
    advancing(c, list(range(N)), 5, 40.0)
    per_voter = check_cluster_votes(c)
    assert set(per_voter) == set(range(N)), per_voter
    c.check_agreement(range(N))
    c.assert_no_tracebacks()
