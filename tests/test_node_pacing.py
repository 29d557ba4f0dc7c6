"""Block pacing (mbi/node/pacing.py, docs/consensus.md §3.7): the sizing rule with its
values written out, and a live validator whose execution is slowed proposing smaller
blocks."""
from __future__ import annotations

import http.client
import json
import time
from dataclasses import fields

import pytest

from api_util import LiveNode, item, make_tx
from consensus_fixtures import Net
from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.node import config as C
from mbi.node.chain import ChainError
from mbi.node.driver import BlockLimits, ConsensusDriver
from mbi.node.pacing import MIN_SAMPLE_TXS, BlockPacer, Ewma
from mbi.p2p.gossip import decode_tx_batch


def test_no_sample_means_no_time_cap():
    p = BlockPacer(0.5, 500)
    assert p.seconds_per_tx() is None
    assert p.cap(10_000) == 10_000


def test_cap_is_budget_over_measured_seconds_per_tx():
    p = BlockPacer(0.5, 500)
    p.observe_execute(2000, 0.4)              # 200 µs per transaction
    assert p.cap(10_000) == 2500              # 0.5 s / 200 µs
    p.observe_execute(1000, 0.5)              # 500 µs: EWMA 200 + 0.3 × 300 = 290 µs
    assert p.seconds_per_tx() == pytest.approx(290e-6)
    assert p.cap(10_000) == 1724              # 0.5 / 290e-6 = 1724.1
    assert p.cap(1000) == 1000                # max_block_txs stays a hard cap


def test_check_and_execute_add_and_the_round_measure_wins_when_larger():
    p = BlockPacer(0.3, 100)
    p.observe_check(1000, 0.1)                # 100 µs
    p.observe_execute(1000, 0.2)              # 200 µs
    assert p.seconds_per_tx() == pytest.approx(300e-6)
    assert p.cap(10_000) == 1000              # 0.3 / 300e-6
    p.observe_round(600, 0.3)                 # 500 µs per transaction of the round's block
    assert p.seconds_per_tx() == pytest.approx(500e-6)
    assert p.cap(10_000) == 600
    q = BlockPacer(0.3, 100)
    q.observe_round(3000, 0.3)                # 100 µs, below check + execute
    q.observe_check(1000, 0.1)
    q.observe_execute(1000, 0.2)
    assert q.cap(10_000) == 1000


def test_floor_and_small_blocks():
    p = BlockPacer(0.5, 500)
    p.observe_execute(MIN_SAMPLE_TXS - 1, 10.0)  # too small to say anything per transaction
    assert p.execute.value is None and p.cap(10_000) == 10_000
    p.observe_execute(MIN_SAMPLE_TXS, 1.0)       # 10 ms per transaction: 50 would fit
    assert p.cap(10_000) == 500                  # never below the floor
    assert p.cap(300) == 300                     # ... unless max_block_txs is lower


def test_budget_zero_turns_pacing_off_and_bad_arguments_are_refused():
    p = BlockPacer(0.0, 500)
    p.observe_execute(1000, 100.0)
    assert p.cap(10_000) == 10_000
    with pytest.raises(ValueError):
        BlockPacer(-0.1, 500)
    with pytest.raises(ValueError):
        BlockPacer(0.5, 0)
    with pytest.raises(ValueError):
        Ewma(0.0)


def test_ewma():
    e = Ewma(0.5)
    e.add(4.0)
    e.add(8.0)
    e.add(0.0)
    assert e.value == 3.0                     # 4 → 6 → 3


def test_driver_defaults_match_the_config_defaults():
    """node.py builds BlockLimits from [consensus]; the driver's own defaults are the same."""
    d = {f.name: f.default for f in fields(BlockLimits)}
    c = C.ConsensusConfig()
    assert d["time_budget"] == c.block_time_budget == 0.5
    assert d["min_paced_txs"] == c.block_time_min_txs == 500


def test_config_keys_are_checked():
    with pytest.raises(C.ConfigError, match="consensus.block_time_budget"):
        C.loads("[consensus]\nblock_time_budget = 1.5\n")
    with pytest.raises(C.ConfigError, match="consensus.block_time_min_txs"):
        C.loads("[consensus]\nblock_time_min_txs = 0\n")
    assert C.loads("[consensus]\nblock_time_budget = 0\n").consensus.block_time_budget == 0.0


SLOW_PER_TX = 2e-4  # seconds added to each executed transaction


def _block_sizes(node, start: int) -> list[int]:
    """Transactions of the stored blocks from `start` (read from another thread: the ledger
    may be a block ahead of the store)."""
    out = []
    for h in range(start, node.chain.height + 1):
        try:
            payload = node.chain.block_at(h).payload
        except ChainError:
            break
        out.append(len(decode_tx_batch(payload, 1 << 20)) if payload else 0)
    return out


def _wait(cond, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_validator_with_slow_execution_proposes_smaller_blocks(tmp_path):
    """One validator, round timeout 0.5 s, so a budget of 0.25 s (the default fraction
    0.5). Its execution is slowed by 200 µs per transaction; once that has been measured,
    3,000 transactions arriving at once must go out in proposals of at most
    0.25 / 200e-6 = 1250 transactions (unpaced, the first would take all 3,000), and they
    all commit."""
    with LiveNode(str(tmp_path), validators=1, **{"api.max_items": 5000}) as net:
        node = net.node
        assert net.cfg.consensus.round_timeout_base == 0.5
        accounts = [KeyPair.generate() for _ in range(60)]
        fund = make_tx(net.faucet, 1, [T.create_account(k.address, 10**9) for k in accounts], chain_id=1)
        assert net.submit(fund)["results"][0]["error_code"] == 0
        net.wait_tx(fund.hash_hex)
        dest = net.faucet.address

        def pays(nonces: range) -> list:
            return [make_tx(k, n, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
                    for n in nonces for k in accounts]

        warm, load = pays(range(1, 11)), pays(range(11, 61))  # 600, then 3,000 (50 per account)
        ledger = node.chain.ledger
        real_close = ledger.close

        def slow_close(txs, close_time):  # inside Chain.execute's timing
            time.sleep(SLOW_PER_TX * len(txs))
            return real_close(txs, close_time)

        # (cap asked of the pool, execution measured yet, anything measured yet): on a
        # loaded machine the warm-up block's round can be measured (and cap the next
        # proposal) before its execution is
        calls: list[tuple[int, bool, bool]] = []
        pool = node.driver.pool
        real_select = pool.select

        def recording_select(max_txs, max_bytes, exclude):
            pacer = node.driver.pacer
            calls.append((max_txs, pacer.execute.value is not None, pacer.seconds_per_tx() is not None))
            return real_select(max_txs, max_bytes, exclude)

        def patch() -> None:
            ledger.close = slow_close
            pool.select = recording_select

        net.call(patch)
        h0 = node.chain.height + 1
        assert all(r["error_code"] == 0 for r in net.submit(*warm)["results"])
        _wait(lambda: sum(_block_sizes(node, h0)) == 600 and node.driver.pacer.execute.value is not None)
        measured = node.driver.pacer.execute.value
        assert measured is not None and measured >= SLOW_PER_TX  # the warm-up block was timed
        start = node.chain.height + 1
        res = net.submit(*load)["results"]
        assert all(r["error_code"] == 0 for r in res), res[:3]
        _wait(lambda: sum(_block_sizes(node, start)) >= 3000)

        assert all(cap == 10_000 for cap, _, any_m in calls if not any_m)  # unpaced before the first measure
        after = [cap for cap, m, _ in calls if m]
        assert after and all(500 <= cap <= 1250 for cap in after), after
        sizes = [n for n in _block_sizes(node, start) if n]
        assert max(sizes) <= 1250 and len(sizes) >= 3, sizes
        assert sum(sizes) == 3000, sizes  # no transaction proposed twice (one executing is still in flight)
        assert sum(node.chain.nonce_of(k.address) for k in accounts) == 60 * 60


def test_the_driver_samples_only_rounds_that_ended_in_the_qc_on_their_block():
    """The driver's round sampling (ConsensusDriver._note_round) against a real engine's
    high QC: a round entered by the QC on the previous round's block is timed from when
    the block was seen; a round entered otherwise (a TC), a re-armed timer and a jump
    are not."""
    net = Net(4)
    core = net.core(0)
    d = ConsensusDriver(core, None, None, None, None, BlockLimits(), None, None)  # type: ignore[arg-type]
    g = net.genesis_block()
    b1 = net.block(g, 1, payload=b"one")
    b2 = net.block(b1, 2, payload=b"two", qc=net.qc(b1))
    d._note_round(1)                                # the start: genesis QC, no block seen
    assert d.pacer.round.value is None
    d._block_txs[b1.id] = [None] * 500              # type: ignore[list-item]
    d._block_seen[b1.id] = time.monotonic() - 0.5
    core.high_qc = net.qc(b1)
    d._note_round(2)                                # QC on round 1's block: 0.5 s / 500 txs
    assert 1e-3 <= d.pacer.round.value < 1.2e-3
    assert b1.id not in d._block_seen
    first = d.pacer.round.value
    d._block_txs[b2.id] = [None] * 500              # type: ignore[list-item]
    d._block_seen[b2.id] = time.monotonic() - 5.0
    d._note_round(3)                                # high QC still of round 1: round 2 timed out
    d._note_round(3)                                # re-armed timer (timeout retransmission)
    core.high_qc = net.qc(b2)
    d._note_round(9)                                # a jump (sync): not one round's length
    assert d.pacer.round.value == first


def _submit(port: int, stxs: list) -> list:
    body = json.dumps({"items": [item(s) for s in stxs]}).encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", "/submitTransaction", body, {"Content-Type": "application/json"})
        return json.loads(c.getresponse().read())["results"]
    finally:
        c.close()


def test_four_validators_measure_rounds_checks_and_executions(tmp_path):
    """In a real four-validator network every node feeds all three measures."""
    with LiveNode(str(tmp_path), validators=4, **{"api.max_items": 5000}) as net:
        accounts = [KeyPair.generate() for _ in range(40)]
        fund = make_tx(net.faucet, 1, [T.create_account(k.address, 10**9) for k in accounts], chain_id=1)
        assert net.submit(fund)["results"][0]["error_code"] == 0
        net.wait_tx(fund.hash_hex)
        dest = net.faucet.address
        pacers = [n.driver.pacer for n in net.nodes]
        measured = lambda: all(p.round.value and p.check.value and p.execute.value for p in pacers)  # noqa: E731
        for step in range(6):  # batches of 40 × 10 = 400 transactions, to every node in turn
            batch = [make_tx(k, n, [T.pay_coin(dest, 1)], chain_id=1, fee_limit=100_000)
                     for n in range(10 * step + 1, 10 * step + 11) for k in accounts]
            assert all(r["error_code"] == 0 for r in _submit(net.nodes[step % 4].api_port, batch))
            _wait(lambda: all(n.chain.nonce_of(accounts[-1].address) == 10 * step + 10 for n in net.nodes))
            if measured():
                break
        assert measured(), [(p.round.value, p.check.value, p.execute.value) for p in pacers]


def test_node_passes_the_pacing_keys_to_its_driver(tmp_path):
    """[consensus] block_time_budget and block_time_min_txs reach the driver's limits
    (the driver has its own defaults, so without the wiring a changed key did nothing)."""
    with LiveNode(str(tmp_path), validators=1, **{"consensus.block_time_budget": 0.25,
                                                  "consensus.block_time_min_txs": 321}) as net:
        limits = net.node.driver.limits
        assert (limits.time_budget, limits.min_paced_txs) == (0.25, 321)



class _Pool:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


class _Tx:
    def __init__(self, h: bytes) -> None:
        self.hash = h


def test_in_flight_is_the_branch_plus_the_executing_blocks_and_new_means_more_than_that():
    """_in_flight(parent): the hashes of the blocks from parent back to the committed root
    and of committed blocks not executed yet, not those of a sibling branch. A pool holding
    only in-flight transactions has nothing new, so a leader waits for the heartbeat or the
    next transactions instead of proposing an empty block at once."""
    net = Net(4)
    core = net.core(0)
    g = net.genesis_block()
    b1 = net.block(g, 1, payload=b"one")
    b2 = net.block(b1, 2, payload=b"two", qc=net.qc(b1))
    side = net.block(g, 3, payload=b"side")
    core.blocks.update({b1.id: b1, b2.id: b2, side.id: side})
    d = ConsensusDriver(core, None, _Pool(0), None, None, BlockLimits(), None, None)  # type: ignore[arg-type]
    d._remember(b1.id, [_Tx(b"a"), _Tx(b"b")])  # type: ignore[list-item]
    d._remember(b2.id, [_Tx(b"c")])  # type: ignore[list-item]
    d._remember(side.id, [_Tx(b"z")])  # type: ignore[list-item]
    assert d._in_flight(b2.id) == {b"a", b"b", b"c"}
    assert d._in_flight(b1.id) == {b"a", b"b"}
    assert d._in_flight(side.id) == {b"z"}
    assert not d._has_new_transactions()           # an empty pool
    d.pool = _Pool(4)                                # a, b, c, z are all in blocks
    assert not d._has_new_transactions()
    d.pool = _Pool(5)
    assert d._has_new_transactions()
    d._forget(side.id)                               # an abandoned branch is forgotten
    d.pool = _Pool(4)
    assert d._has_new_transactions() and d._in_flight(side.id) == set()


def test_after_a_timed_out_round_the_cap_is_multiplied_within_max_txs():
    from mbi.node.pacing import after_timeout

    assert after_timeout(2500, 2.0, 10_000, timed_out=True) == 5000
    assert after_timeout(2500, 2.0, 10_000, timed_out=False) == 2500
    assert after_timeout(6000, 2.0, 10_000, timed_out=True) == 10_000   # max_block_txs stays hard
    assert after_timeout(2500, 1.0, 10_000, timed_out=True) == 2500      # 1.0: off (the default)
    assert after_timeout(1001, 1.5, 10_000, timed_out=True) == 1501


def test_node_passes_block_time_after_timeout_to_its_driver(tmp_path):
    with LiveNode(str(tmp_path), validators=1, **{"consensus.block_time_after_timeout": 2.0}) as net:
        assert net.node.driver.limits.after_timeout == 2.0
