"""Sync answers are planned, read and encoded on the serving thread, never on the event
loop (mbi/node/syncserve.py): the loop only snapshots and sends. A live one-validator
node answers a request for heights 1-3 while its block reads are held at a gate."""
from __future__ import annotations

import asyncio
import threading
import time

from api_util import LiveNode
from mbi.consensus import wire
from mbi.consensus.events import ServeSync
from mbi.consensus.types import SyncResponse
from mbi.p2p.kinds import Kind

PEER = b"\x5a" * 32


def test_the_answer_is_read_and_encoded_off_the_loop(tmp_path) -> None:
    with LiveNode(str(tmp_path), validators=1) as net:
        node = net.node
        chain = node.chain
        end = time.monotonic() + 20
        while chain.stored_height < 5:
            assert time.monotonic() < end, "no blocks"
            time.sleep(0.05)
        gate = threading.Event()
        readers: list[str] = []
        sent: list[tuple[bytes, int, bytes]] = []
        real_read = chain.block_at

        def gated_read(h: int):  # noqa: ANN202
            readers.append(threading.current_thread().name)
            assert gate.wait(10), "the gate was never opened"
            return real_read(h)

        def start() -> bool:
            chain.block_at = gated_read
            node.net.send = lambda peer, kind, data: sent.append((peer, kind, data)) or True
            node.driver._sync_server.serve(ServeSync(PEER, 1, 3, (), node.core.high_qc),
                                           asyncio.get_running_loop())
            return gate.is_set()

        # serve() came back on the loop while no block could be read: nothing it did waited on the store
        assert net.call(start) is False
        gate.set()
        end = time.monotonic() + 20
        while not sent:
            assert time.monotonic() < end, "no answer was sent"
            time.sleep(0.02)

        def restore() -> None:
            del chain.block_at
            del node.net.send

        net.call(restore)
        peer, kind, data = sent[0]
        assert (peer, kind) == (PEER, Kind.SYNC_RESPONSE)
        m = wire.decode_message(data, node.core.vs, node.genesis.chain_id)
        assert isinstance(m, SyncResponse)
        assert [b.height for b in m.committed] == [1, 2, 3]
        assert [b.id for b in m.committed] == [real_read(h).id for h in (1, 2, 3)]
        assert m.commit_qc is not None and m.commit_qc.commit_id == m.committed[-1].id
        assert readers and set(readers) == {"sync_serve_0"}
