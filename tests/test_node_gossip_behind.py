"""A node far behind its peers ignores relayed transactions (`[sync] ignore_gossip_behind`,
Node._far_behind) and takes them again once it is back within the gap."""
from __future__ import annotations

import types
from dataclasses import dataclass, field

from mbi.node.node import Node
from mbi.p2p.config import P2PConfig
from mbi.p2p.gossip import TxGossip, encode_tx_batch
from mbi.p2p.kinds import Kind

A, B = b"\x0a" * 32, b"\x0b" * 32


class _Net:
    config = P2PConfig()

    def peer_keys(self) -> list[bytes]:
        return [A, B]

    def send(self, key: bytes, kind: int, payload: bytes) -> bool:
        return True

    def report(self, key: bytes, penalty: float, reason: str) -> bool:
        return False


@dataclass
class _FakeNode:
    """The attributes Node._on_message and Node._far_behind read, and a recording submit."""
    gap: int
    height: int
    peer_heights: dict[bytes, int]
    submitted: list[tuple[list[bytes], bytes | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cfg = types.SimpleNamespace(sync=types.SimpleNamespace(ignore_gossip_behind=self.gap))
        self.chain = types.SimpleNamespace(height=self.height)
        self.gossip = TxGossip(_Net())  # type: ignore[arg-type]
        self.gossip_ignored = 0
        self._ignoring_gossip = False
        self._early = None
        self.chain_max_height = types.MethodType(Node.chain_max_height, self)
        self._far_behind = types.MethodType(Node._far_behind, self)

    def submit(self, blobs: list[bytes], origin: bytes | None = None, hashes: list[bytes] | None = None) -> None:
        self.submitted.append((blobs, origin))

    def deliver(self, peer: bytes, blobs: list[bytes]) -> None:
        Node._on_message(self, peer, Kind.TX_BATCH, encode_tx_batch(blobs))  # type: ignore[arg-type]


def test_far_behind_relayed_batches_are_ignored_and_taken_again_within_the_gap() -> None:
    n = _FakeNode(gap=8, height=11, peer_heights={A: 20, B: 13})
    n.deliver(A, [b"tx-1", b"tx-2"])
    assert n.submitted == [] and n.gossip_ignored == 1
    assert n.gossip.received == 0  # not even decoded: it costs nothing while behind
    n.chain.height = 12  # 20 - 12 = 8: within the gap
    n.deliver(B, [b"tx-3"])
    assert n.submitted == [([b"tx-3"], B)] and n.gossip_ignored == 1
    # batches ignored earlier were not marked seen: a later relay of them is taken
    n.deliver(A, [b"tx-1"])
    assert n.submitted[-1] == ([b"tx-1"], A)


def test_the_gap_is_strict_and_zero_turns_it_off() -> None:
    edge = _FakeNode(gap=8, height=11, peer_heights={A: 19})  # exactly 8 behind: taken
    edge.deliver(A, [b"x"])
    assert edge.submitted and edge.gossip_ignored == 0
    off = _FakeNode(gap=0, height=0, peer_heights={A: 10_000})
    off.deliver(A, [b"x"])
    assert off.submitted and off.gossip_ignored == 0
    alone = _FakeNode(gap=8, height=0, peer_heights={})  # no peer has reported a height
    alone.deliver(A, [b"x"])
    assert alone.submitted and alone.gossip_ignored == 0
