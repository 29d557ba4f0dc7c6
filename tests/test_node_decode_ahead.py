"""A validator executing committed blocks it never checked (after a restart, or behind)
decodes and verifies the next DECODE_AHEAD payloads on its verify threads while the
execute thread runs the current block (ConsensusDriver._decode_ahead)."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from consensus_fixtures import Net
from driver_stubs import NullCache, NullPool
from mbi.node import driver as D
from mbi.node.driver import BlockLimits, ConsensusDriver


class _Chain:
    def __init__(self) -> None:
        self.height = 0
        self.executed: list[int] = []
        self.ended: dict[int, float] = {}

    def execute(self, block, qc, txs):  # noqa: ANN001
        time.sleep(0.05)  # the execute thread's work on this block
        self.executed.append(block.height)
        self.ended[block.height] = time.monotonic()
        self.height = block.height
        return SimpleNamespace(applied=[], dropped=[], seconds=0.05, height=block.height,
                               header=SimpleNamespace(hash=b"h" * 32))


def test_synced_blocks_are_checked_ahead_while_the_previous_one_executes() -> None:
    net = Net(4)
    core = net.core(0)
    chain = _Chain()
    verify, execute = ThreadPoolExecutor(2), ThreadPoolExecutor(1)
    d = ConsensusDriver(core, chain, NullPool(), NullCache(), None, BlockLimits(), verify, execute)  # type: ignore[arg-type]
    spans: dict[int, tuple[float, float]] = {}
    lock = threading.Lock()

    def decode(block):  # noqa: ANN001
        t0 = time.monotonic()
        time.sleep(0.05)  # the signature batch of a block never seen
        with lock:
            spans[block.height] = (t0, time.monotonic())
        return [], ""

    d._decode_payload = decode  # type: ignore[method-assign]
    d.feed = lambda event: None  # type: ignore[method-assign]
    g = net.genesis_block()
    blocks, parent = [], g
    for r in range(1, 7):
        parent = net.block(parent, r, payload=b"p%d" % r)
        blocks.append(parent)
    seen = blocks[2]
    d._remember(seen.id, [])  # one block this node checked itself (it voted on it)

    async def run() -> None:
        d._loop = asyncio.get_running_loop()
        for b in blocks:
            d._pending[b.height] = (b, net.qc(b))
            d._exec_queue.put_nowait((b, net.qc(b)))
        task = asyncio.get_running_loop().create_task(d._execute_loop())
        while len(chain.executed) < len(blocks):
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    verify.shutdown()
    execute.shutdown()
    assert chain.executed == [1, 2, 3, 4, 5, 6]  # in order
    assert set(spans) == {1, 2, 4, 5, 6}  # the block it had checked is not checked again
    assert not d._decoding
    # each next check started before the previous block's execution ended (without the
    # look-ahead it starts only after it)
    for h in (2, 5, 6):
        assert spans[h][0] < chain.ended[h - 1], (h, spans[h], chain.ended[h - 1])
    assert D.DECODE_AHEAD == 2


def test_persisting_safety_writes_only_uncommitted_blocks_to_the_tree() -> None:
    # A validator that synced committed blocks (they wait in _pending for execution)
    # writes to its block tree only what a quorum has not committed yet.
    from mbi.consensus.events import PersistSafety

    net = Net(4)
    core = net.core(0)
    saved: list[tuple[bytes, list[int]]] = []

    class Chain:
        def in_tree(self, block_id: bytes) -> bool:
            return block_id == blocks[4].id  # stored when we voted on it

        def save_safety(self, data: bytes, blocks) -> None:  # noqa: ANN001
            saved.append((data, sorted(b.height for b in blocks)))

    d = ConsensusDriver(core, Chain(), None, None, None, BlockLimits(), None, None)  # type: ignore[arg-type]
    g = net.genesis_block()
    blocks, parent = {}, g
    for r in range(1, 7):
        parent = net.block(parent, r, payload=b"p%d" % r)
        blocks[r] = parent
        core.blocks[parent.id] = parent
    core.root = blocks[3]  # heights 1-3 committed (by a sync), 4-6 not
    for h in (1, 2, 3):
        d._pending[h] = (blocks[h], net.qc(blocks[h]))
    d._run([PersistSafety(None, b"safety")])  # type: ignore[arg-type]
    assert saved == [(b"safety", [5, 6])]
