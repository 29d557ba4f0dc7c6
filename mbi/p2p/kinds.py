"""Message kinds, peer roles and disconnect reasons of the MBI p2p protocol (docs/p2p.md).

Kinds 0-15 are the transport's own control frames; the node may not send them. Kinds 16+
carry opaque payloads for the node (consensus, sync, gossip); p2p only routes them.
"""
from __future__ import annotations

from enum import IntEnum

PROTOCOL_VERSION = 1


class Kind(IntEnum):
    # control (p2p-internal)
    HELLO = 0
    AUTH = 1
    DISCONNECT = 2
    PING = 3
    PONG = 4
    # node payloads (opaque to p2p)
    PROPOSAL = 16
    VOTE = 17
    TIMEOUT = 18
    SYNC_REQUEST = 19
    SYNC_RESPONSE = 20
    TX_BATCH = 21
    STATUS = 22  # height report
    BATCH_REQUEST = 23  # ask for transactions / batches by digest
    BATCH_RESPONSE = 24


CONTROL_KINDS = frozenset(k for k in Kind if k < 16)
NODE_KINDS = frozenset(k for k in Kind if k >= 16)
# Lookup table by byte value: True where a frame of that kind may arrive at all.
KNOWN_KIND = tuple(i in Kind._value2member_map_ for i in range(256))
# Gossip: under send-queue pressure these are dropped (and counted) instead of
# disconnecting the peer; the rest must arrive or the connection is closed.
DROPPABLE_KINDS = frozenset({Kind.TX_BATCH, Kind.STATUS})


class Role(IntEnum):
    VALIDATOR = 1
    FULL_NODE = 2


class DisconnectReason(IntEnum):
    """Sent in a DISCONNECT frame before closing, and logged on both sides."""

    SHUTDOWN = 1
    WRONG_CHAIN = 2
    BAD_VERSION = 3
    BAD_SIGNATURE = 4
    UNKNOWN_VALIDATOR = 5
    HANDSHAKE_TIMEOUT = 6
    DUPLICATE = 7
    BANNED = 8
    PROTOCOL = 9  # malformed frame, unknown kind, control frame out of place
    FRAME_TOO_LARGE = 10
    FLOOD = 11
    IDLE_TIMEOUT = 12
    SLOW_PEER = 13  # its send queue overflowed with frames that may not be dropped
    SELF_CONNECTION = 14
    UNEXPECTED_KEY = 15  # dialled a peer configured with another key
    TOO_MANY_PEERS = 16
    REQUESTED = 17  # the node asked to disconnect (Network.disconnect)
    MISBEHAVIOUR = 18  # score fell below the ban threshold through Network.report
