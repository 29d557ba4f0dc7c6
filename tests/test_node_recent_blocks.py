"""Sync answers from memory (mbi.node.recent.RecentBlocks): a validator keeps the blocks it
executed last, within a byte budget, and answers a peer's SYNC_REQUEST from them instead
of rebuilding each payload from its store. The expected blocks are the ones built and
executed here, never ones read back through the code under test."""
from __future__ import annotations

import asyncio
import struct
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from consensus_fixtures import CHAIN, Net
from driver_stubs import NullCache, NullPool
from mbi.consensus import wire
from mbi.consensus.events import ServeSync
from mbi.consensus.types import SyncResponse
from mbi.crypto import KeyPair
from mbi.ledger import Genesis
from mbi.ledger import testing as T
from mbi.node.chain import Chain
from mbi.node.driver import BlockLimits, ConsensusDriver
from mbi.node.recent import RecentBlocks
from mbi.store import Store


def _batch(envs: list[bytes]) -> bytes:
    return struct.pack(">I", len(envs)) + b"".join(struct.pack(">I", len(e)) + e for e in envs)


def _chain_of(net: Net, n: int, size: int) -> list:
    """n blocks with `size`-byte payloads (not executed: RecentBlocks never looks inside)."""
    out, parent = [], net.genesis_block()
    for r in range(1, n + 1):
        parent = net.block(parent, r, payload=bytes([r]) * size)
        out.append((parent, net.qc(parent)))
    return out


# ---------------------------------------------------------------- RecentBlocks alone

def test_keeps_the_newest_blocks_within_the_byte_budget() -> None:
    net = Net(4)
    pairs = _chain_of(net, 6, 1000)
    # payload + 1024 + 128 per signature: 3 in the block's QC, 3 in its commit QC
    per = 1000 + 1024 + 6 * 128
    assert [RecentBlocks.size_of(b, q) for b, q in pairs] == [1000 + 1024 + 3 * 128] + [per] * 5  # genesis QC: none
    r = RecentBlocks(3 * per)
    for b, q in pairs:
        r.add(b, q)
    assert list(r.heights) == [4, 5, 6] and len(r) == 3 and r.nbytes == 3 * per
    assert r.get(3) is None and r.get(7) is None and r.get(0) is None
    assert r.get(4) == pairs[3] and r.get(6) == pairs[5]
    assert r.get(5)[0] is pairs[4][0]  # the executed object itself, not a copy


def test_a_block_larger_than_the_budget_empties_it() -> None:
    net = Net(4)
    small = _chain_of(net, 2, 100)
    r = RecentBlocks(5000)
    for b, q in small:
        r.add(b, q)
    big = net.block(small[-1][0], 3, payload=b"x" * 6000)
    r.add(big, net.qc(big))
    assert len(r) == 0 and r.nbytes == 0 and r.get(2) is None and r.get(3) is None
    after = net.block(big, 4, payload=b"y")
    r.add(after, net.qc(after))
    assert list(r.heights) == [4]


def test_a_height_that_does_not_follow_starts_the_range_afresh() -> None:
    net = Net(4)
    pairs = _chain_of(net, 5, 10)
    r = RecentBlocks(1 << 20)
    for b, q in pairs[:2]:
        r.add(b, q)
    r.add(*pairs[4])  # height 5 after 2
    assert list(r.heights) == [5] and r.get(1) is None and r.get(2) is None and r.get(5) == pairs[4]
    assert r.nbytes == 10 + 1024 + 6 * 128


def test_zero_budget_keeps_nothing() -> None:
    net = Net(4)
    r = RecentBlocks(0)
    for b, q in _chain_of(net, 3, 1):
        r.add(b, q)
    assert len(r) == 0 and list(r.heights) == []


# ---------------------------------------------------------------- the driver's sync answers

class _Net:
    """Captures what the driver sends."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(max_frame_bytes=16 << 20)
        self.sent: list[tuple[bytes, int, bytes]] = []

    def send(self, peer: bytes, kind: int, data: bytes) -> None:
        self.sent.append((peer, kind, data))


@pytest.fixture
def executed(tmp_path):
    """Five blocks of three transactions each (one refused: a nonce gap), built here and
    executed through the driver's execution loop into a real store."""
    net = Net(4)
    g = KeyPair.from_seed(b"\x51" * 32)
    genesis = Genesis.from_dict(T.genesis_dict(g, [KeyPair.from_seed(b"\x52" * 32)], chain_id=CHAIN))
    store = Store.open(str(tmp_path / "db"), chain_id=CHAIN, create=True)
    chain = Chain(genesis, store, net.vs)
    dest = KeyPair.from_seed(b"\x61" * 32)
    built, parent, nonce = [], net.genesis_block(), 0
    for r in range(1, 6):
        txs = []
        for k in range(3):
            if r == 1 and k == 0:
                txs.append(T.make_tx(g, 1, [T.create_account(dest.address, 10**9)], chain_id=CHAIN))
                nonce = 1
                continue
            if k == 2:
                txs.append(T.make_tx(g, nonce + 50, [T.pay_coin(dest.address, 1)], chain_id=CHAIN))  # refused
                continue
            nonce += 1
            txs.append(T.make_tx(g, nonce, [T.pay_coin(dest.address, r * 10 + k)], chain_id=CHAIN))
        parent = net.block(parent, r, payload=_batch([t.envelope for t in txs]))
        built.append((parent, txs))
    # each block's commit QC: the QC on its child, whose vote commits it (two-chain rule)
    child = net.block(parent, 6)
    blocks = [b for b, _ in built] + [child]
    built = [(b, net.qc(blocks[i + 1]), txs) for i, (b, txs) in enumerate(built)]
    assert all(q.commit_id == b.id for b, q, _ in built)
    yield net, chain, built
    store.close()


def _run(net: Net, chain: Chain, built: list, recent_bytes: int) -> tuple[ConsensusDriver, _Net]:
    pn = _Net()
    verify, execute = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    d = ConsensusDriver(net.core(0), chain, NullPool(), NullCache(), pn, BlockLimits(), verify, execute,  # type: ignore[arg-type]
                        recent_bytes=recent_bytes)
    d.feed = lambda event: None  # type: ignore[method-assign]

    async def run() -> None:
        d._loop = asyncio.get_running_loop()
        for b, q, txs in built:
            d._remember(b.id, txs)  # checked at proposal time, as a voter's blocks are
            d._pending[b.height] = (b, q)
            d._exec_queue.put_nowait((b, q))
        task = d._loop.create_task(d._execute_loop())
        # not chain.height: the ledger's height moves on the execute thread before the loop
        # takes the block's result (and keeps the block)
        while d.stats.executed < len(built):
            assert not task.done(), task  # the execution loop died: fail, do not spin
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    verify.shutdown()
    execute.shutdown()
    return d, pn


def _answer(d: ConsensusDriver, pn: _Net, net: Net, from_height: int, max_blocks: int = 64) -> SyncResponse:
    d._serve_sync(ServeSync(b"p" * 32, from_height, max_blocks, (), net.gqc))
    peer, kind, data = pn.sent[-1]
    msg = wire.decode_message(data, net.vs, CHAIN)
    assert isinstance(msg, SyncResponse)
    return msg


@pytest.mark.parametrize("keep, from_memory", [(1 << 20, 5), (0, 0)])
def test_sync_answers_carry_the_executed_blocks(executed, keep, from_memory) -> None:
    net, chain, built = executed
    d, pn = _run(net, chain, built, keep)
    assert len(d.recent_blocks) == from_memory
    resp = _answer(d, pn, net, 1)
    want = [b for b, _, _ in built]
    assert [b.id for b in resp.committed] == [b.id for b in want]
    assert [b.payload for b in resp.committed] == [b.payload for b in want]
    assert resp.commit_qc == built[-1][1]
    assert (d.stats.sync_blocks_memory, d.stats.sync_blocks_store) == (from_memory, 5 - from_memory)


def test_heights_no_longer_held_are_read_from_the_store(executed) -> None:
    net, chain, built = executed
    d, pn = _run(net, chain, built, RecentBlocks.size_of(*built[3][:2]) + RecentBlocks.size_of(*built[4][:2]))
    assert list(d.recent_blocks.heights) == [4, 5]
    resp = _answer(d, pn, net, 2)
    assert [b.id for b in resp.committed] == [b.id for b, _, _ in built[1:]]
    assert [b.payload for b in resp.committed] == [b.payload for b, _, _ in built[1:]]
    assert (d.stats.sync_blocks_memory, d.stats.sync_blocks_store) == (2, 2)
    # an answer entirely from memory
    resp = _answer(d, pn, net, 4)
    assert [b.id for b in resp.committed] == [built[3][0].id, built[4][0].id]
    assert (d.stats.sync_blocks_memory, d.stats.sync_blocks_store) == (4, 2)
    # nothing above the tip
    resp = _answer(d, pn, net, 6)
    assert resp.committed == () and resp.commit_qc is None
    assert (d.stats.sync_blocks_memory, d.stats.sync_blocks_store) == (4, 2)
    # only the blocks sent are counted, not the one read past the request's limit
    resp = _answer(d, pn, net, 1, max_blocks=2)
    assert [b.height for b in resp.committed] == [1, 2]
    assert (d.stats.sync_blocks_memory, d.stats.sync_blocks_store) == (4, 4)


def test_blocks_waiting_for_execution_follow_the_executed_ones(executed) -> None:
    net, chain, built = executed
    d, pn = _run(net, chain, built[:3], 1 << 20)
    for b, q, _ in built[3:]:
        d._pending[b.height] = (b, q)  # committed, not yet executed
    resp = _answer(d, pn, net, 1)
    assert [b.id for b in resp.committed] == [b.id for b, _, _ in built]
    assert d.stats.sync_blocks_store == 0 and d.stats.sync_blocks_memory == 5
