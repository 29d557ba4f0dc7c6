"""What goes into `Core.handle` (events) and what comes out (actions).

The driver (the node, the simulator or an embedding application) carries actions out in
list order. A `PersistSafety` always precedes the vote or timeout that depends on it, and
the driver must make it durable (fsync) before it sends anything that follows it.

Peers are opaque hashable ids chosen by the driver. A validator's messages may arrive from
any peer; who signed them is decided by the signatures, never by the peer id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Union

from mbi.consensus.types import Block, QuorumCert, SafetyData

Peer = Hashable


# ---------------------------------------------------------------- events

@dataclass(frozen=True, slots=True)
class MessageReceived:
    """Encoded bytes of a ConsensusMessage from `peer` (decoded and checked by the core)."""
    peer: Peer
    data: bytes


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The round timer set by `SetTimer(round, ...)` expired."""
    round: int


@dataclass(frozen=True, slots=True)
class PayloadReady:
    """The driver's answer to `RequestPayload(round, ...)`: the payload to propose."""
    round: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class PayloadVerified:
    """The driver's answer to `VerifyPayload(block)`: whether the block's payload is valid."""
    block_id: bytes
    valid: bool


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """The driver executed the committed block at `height`; `state_root` is its result."""
    height: int
    state_root: bytes


Event = Union[MessageReceived, TimerFired, PayloadReady, PayloadVerified, BlockExecuted]


# ---------------------------------------------------------------- actions

@dataclass(frozen=True, slots=True)
class Send:
    """Send `data` to one validator (by index) or to a peer id (`to_peer`)."""
    validator: int | None
    data: bytes
    to_peer: Peer | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `data` to every other validator."""
    data: bytes


@dataclass(frozen=True, slots=True)
class PersistSafety:
    """Make `safety` durable (fsync) before carrying out any later action of this list."""
    safety: SafetyData
    data: bytes  # its encoding (SafetyData protobuf), what the driver stores


@dataclass(frozen=True, slots=True)
class SetTimer:
    """(Re)arm the round timer: deliver `TimerFired(round)` at `deadline` (driver's clock).

    A later SetTimer replaces the earlier one; only one round timer is ever armed.
    """
    round: int
    deadline: float


@dataclass(frozen=True, slots=True)
class RequestPayload:
    """This validator leads `round`: answer with `PayloadReady(round, payload)`.

    `uncommitted_payload` is true when a block with a non-empty payload is certified but not
    yet committed: the driver should answer at once (even with an empty payload) so that
    block commits, rather than wait for transactions or a heartbeat.
    """
    round: int
    height: int
    parent_id: bytes
    uncommitted_payload: bool


@dataclass(frozen=True, slots=True)
class VerifyPayload:
    """Check `block.payload`; answer with `PayloadVerified(block.id, valid)`."""
    block: Block


@dataclass(frozen=True, slots=True)
class Commit:
    """Blocks committed, in height order, with the QC that commits the last one (or, for a
    prefix that sync proved with headers, a descendant of it: docs/consensus.md §3.6).

    Every block of `blocks` is an ancestor of (or is) the block `commit_qc.commit_id`.
    """
    blocks: tuple[Block, ...]
    commit_qc: QuorumCert


@dataclass(frozen=True, slots=True)
class ServeSync:
    """A peer asked for committed blocks from `from_height` (at most `max_blocks`).

    The driver reads them from its store, with the QC that commits the last one it sends,
    and sends `wire.encode_sync_response(committed, commit_qc, certified, high_qc)` to
    `peer`. `certified` and `high_qc` are the core's uncommitted, certified blocks.
    """
    peer: Peer
    from_height: int
    max_blocks: int
    certified: tuple[Block, ...]
    high_qc: QuorumCert


@dataclass(frozen=True, slots=True)
class ReportMisbehaviour:
    """Something a peer or validator did wrong; `evidence` holds signed bytes where any.

    kinds: "malformed", "bad_signature", "equivocation", "wrong_leader", "invalid_proposal",
    "invalid_payload", "state_root_mismatch", "bad_sync".
    """
    kind: str
    peer: Peer | None
    validator: int | None
    detail: str
    evidence: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Halted:
    """This validator computed a state root that a quorum certified differently.

    It stops voting, timing out and proposing for good (it still follows commits) and the
    operator must look: its execution differs from the network's (§5).
    """
    height: int
    ours: bytes
    certified: bytes


Action = Union[Send, Broadcast, PersistSafety, SetTimer, RequestPayload, VerifyPayload, Commit, ServeSync,
               ReportMisbehaviour, Halted]
