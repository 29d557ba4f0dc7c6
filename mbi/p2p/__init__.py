"""MBI peer-to-peer network: framed TCP on asyncio's Protocol API under uvloop.

Wire format, handshake, scoring and limits: docs/p2p.md. The node uses ``Network``
(connections, send, broadcast, callbacks) and ``TxGossip`` (transaction batches).
"""
from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

from mbi.p2p.config import P2PConfig, parse_peer
from mbi.p2p.framing import FrameDecoder, FrameError, FrameTooLarge, encode_frame
from mbi.p2p.gossip import BatchError, HashGenerations, TxGossip, decode_tx_batch, encode_tx_batch
from mbi.p2p.handshake import Hello, handshake_digest
from mbi.p2p.kinds import DROPPABLE_KINDS, PROTOCOL_VERSION, DisconnectReason, Kind, Role
from mbi.p2p.network import Network, PeerInfo

__all__ = [
    "BatchError", "DROPPABLE_KINDS", "DisconnectReason", "FrameDecoder", "FrameError",
    "FrameTooLarge", "HashGenerations", "Hello", "Kind", "Network", "P2PConfig", "PROTOCOL_VERSION",
    "PeerInfo", "Role", "TxGossip", "decode_tx_batch", "encode_frame", "encode_tx_batch",
    "handshake_digest", "new_event_loop", "parse_peer", "run",
]


_T = TypeVar("_T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop the node runs on (uvloop)."""
    import uvloop
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion on a fresh uvloop loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
