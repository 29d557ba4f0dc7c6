"""`[consensus] min_block_interval`: a leader proposes no sooner than that long after it saw
the parent block (ConsensusDriver._on_request_payload), so a light load is carried in a
few blocks of many transactions instead of dozens of blocks of a few each."""
from __future__ import annotations

import asyncio
import time

import pytest

from api_util import LiveNode, make_tx
from consensus_fixtures import Net
from mbi.consensus.events import RequestPayload
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.node import config as C
from mbi.node.driver import BlockLimits, ConsensusDriver


class _Pool:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def _driver(interval: float, pool: int = 0, heartbeat: float = 0.3) -> tuple[ConsensusDriver, Net, list]:
    net = Net(4)
    core = net.core(0)
    d = ConsensusDriver(core, None, _Pool(pool), None, None,  # type: ignore[arg-type]
                        BlockLimits(heartbeat=heartbeat, min_interval=interval), None, None)
    proposed: list[tuple[int, float]] = []
    d._propose = lambda req: proposed.append((req.round, time.monotonic()))  # type: ignore[method-assign]
    return d, net, proposed


def _enter_round_2(d: ConsensusDriver, net: Net, seen_ago: float) -> float:
    """Round 2 entered by the QC on round 1's block, which this node saw `seen_ago` s ago."""
    g = net.genesis_block()
    b1 = net.block(g, 1, payload=b"one")
    seen = time.monotonic() - seen_ago
    d._block_seen[b1.id] = seen
    d.core.high_qc = net.qc(b1)
    d._round_entered = 1
    d._note_round(2)
    return seen


def _run(d: ConsensusDriver, steps) -> None:  # noqa: ANN001
    async def main() -> None:
        d._loop = asyncio.get_running_loop()
        for delay, fn in steps:
            await asyncio.sleep(delay)
            fn()
        await asyncio.sleep(0.8)

    asyncio.run(main())


def test_a_proposal_waits_for_the_interval_after_its_parent_was_seen() -> None:
    d, net, proposed = _driver(0.2)
    seen = _enter_round_2(d, net, 0.05)
    req = RequestPayload(2, 2, b"\x01" * 32, True)  # a certified block with transactions waits
    _run(d, [(0, lambda: d._on_request_payload(req))])
    assert len(proposed) == 1 and proposed[0][0] == 2
    assert proposed[0][1] >= seen + 0.2 - 0.005  # loop timers may fire up to a ms early
    assert proposed[0][1] < seen + 0.2 + 0.25


def test_without_the_interval_or_long_after_the_parent_it_proposes_at_once() -> None:
    for interval, ago in ((0.0, 0.0), (0.2, 0.5)):
        d, net, proposed = _driver(interval, pool=3)  # three new transactions in the pool
        _enter_round_2(d, net, ago)
        t0 = time.monotonic()
        _run(d, [(0, lambda: d._on_request_payload(RequestPayload(2, 2, b"\x01" * 32, False)))])
        assert len(proposed) == 1 and proposed[0][1] - t0 < 0.2, (interval, ago, proposed)


def test_the_interval_is_for_the_round_it_was_measured_in() -> None:
    """A request for a later round (entered by a TC, not by the QC on a block seen here)
    does not wait for the last block's interval."""
    d, net, proposed = _driver(0.25)
    _enter_round_2(d, net, 0.0)
    t0 = time.monotonic()
    _run(d, [(0, lambda: d._on_request_payload(RequestPayload(3, 2, b"\x01" * 32, True)))])
    assert len(proposed) == 1 and proposed[0][1] - t0 < 0.2


def test_an_idle_leader_given_transactions_still_keeps_the_interval() -> None:
    """An idle leader waits for transactions or the heartbeat; transactions arriving
    sooner than the interval after the parent are proposed at the interval."""
    d, net, proposed = _driver(0.2, heartbeat=0.6)
    seen = _enter_round_2(d, net, 0.0)
    req = RequestPayload(2, 2, b"\x01" * 32, False)

    def arrive() -> None:
        d.pool = _Pool(5)  # type: ignore[assignment]
        d.on_transactions()

    _run(d, [(0, lambda: d._on_request_payload(req)), (0.02, arrive)])
    assert len(proposed) == 1
    assert seen + 0.2 - 0.005 <= proposed[0][1] < seen + 0.45  # well before the 0.6 s heartbeat


def test_an_idle_leader_without_transactions_proposes_at_the_heartbeat() -> None:
    d, net, proposed = _driver(0.2)
    _enter_round_2(d, net, 0.0)
    t0 = time.monotonic()
    _run(d, [(0, lambda: d._on_request_payload(RequestPayload(2, 2, b"\x01" * 32, False)))])
    assert len(proposed) == 1 and 0.3 - 0.005 <= proposed[0][1] - t0 < 0.45


def test_the_interval_setting() -> None:
    assert C.ConsensusConfig().min_block_interval == 0.05
    with pytest.raises(ValueError, match="min_block_interval"):
        C.ConsensusConfig(min_block_interval=-0.1)


def test_a_heartbeat_shorter_than_the_interval_caps_it(tmp_path) -> None:
    """An idle leader proposes at the heartbeat: a longer interval would make it wait for
    nothing, so the node uses the shorter of the two."""
    with LiveNode(str(tmp_path), validators=1, **{"consensus.min_block_interval": 0.25,
                                                  "consensus.heartbeat_interval": 0.1}) as net:
        assert net.node.driver.limits.min_interval == 0.1


INTERVAL = 0.15


def test_a_network_under_light_load_makes_no_more_blocks_than_the_interval_allows(tmp_path) -> None:
    """Four validators, transactions arriving every 20 ms for 3 s: with a 0.15 s interval
    at most one block per 0.15 s (plus the ones in flight at the edges) is made. Without
    the interval this load makes a block per few milliseconds of consensus work."""
    with LiveNode(str(tmp_path), validators=4, **{"consensus.min_block_interval": INTERVAL,
                                                  "consensus.heartbeat_interval": 0.15}) as net:
        assert net.node.driver.limits.min_interval == INTERVAL
        dest = KeyPair.from_seed(b"\x33" * 32).address
        txs = [make_tx(net.faucet, 1, [T.create_account(dest, 10**6)], chain_id=1)]
        txs += [make_tx(net.faucet, n, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000) for n in range(2, 151)]
        h0, t0 = net.node.chain.height, time.monotonic()
        for t in txs:
            assert net.submit(t)["results"][0]["error_code"] == 0
            time.sleep(0.02)
        net.wait_tx(txs[-1].hash_hex)
        blocks, took = net.node.chain.height - h0, time.monotonic() - t0
        assert blocks <= took / 0.15 + 4, (blocks, took)
        assert net.node.chain.nonce_of(net.faucet.address) == 150
