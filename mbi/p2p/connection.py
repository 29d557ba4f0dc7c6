"""One TCP connection to a peer: handshake, frame dispatch, coalesced bounded sends.

Runs on asyncio's Protocol API (callbacks, no Streams). Everything a peer can send is
parsed here under hard limits; any violation closes this connection through ``close``
with a reason and a penalty, and nothing reaches the node before the handshake is done.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from enum import Enum
from typing import TYPE_CHECKING, cast

from mbi.crypto.sig import verify
from mbi.p2p.framing import HEADER_LEN, FrameDecoder, FrameError, FrameTooLarge, encode_header
from mbi.p2p.handshake import SIGNATURE_LEN, HandshakeError, Hello, handshake_digest
from mbi.p2p.kinds import DROPPABLE_KINDS, KNOWN_KIND, PROTOCOL_VERSION, DisconnectReason, Kind, Role
from mbi.p2p.ratelimit import TokenBucket

if TYPE_CHECKING:
    from mbi.p2p.network import Network

log = logging.getLogger("mbi.p2p")

# Before authentication only HELLO / AUTH / DISCONNECT may arrive: none is larger.
HANDSHAKE_MAX_PAYLOAD = 256
MAX_REASON_TEXT = 200

# Score penalties (docs/p2p.md, "Scoring").
PENALTY_PROTOCOL = 40.0  # garbage, unknown kind, control frame out of place
PENALTY_OVERSIZED = 50.0
PENALTY_BAD_SIGNATURE = 50.0
PENALTY_FLOOD = 50.0
PENALTY_TIMEOUT = 20.0  # handshake not finished / frame left unfinished
PENALTY_WRONG_CHAIN = 10.0
PENALTY_HANDLER_ERROR = 10.0  # the node's handler raised on this peer's message

_R = DisconnectReason


class State(Enum):
    HANDSHAKE = 1
    OPEN = 2
    CLOSED = 3


def encode_disconnect(reason: DisconnectReason, detail: str = "") -> bytes:
    return bytes([int(reason)]) + detail.encode("utf-8", "replace")[:MAX_REASON_TEXT]


def decode_disconnect(payload: bytes) -> tuple[int, str]:
    if not payload:
        return 0, ""
    return payload[0], payload[1:MAX_REASON_TEXT + 1].decode("utf-8", "replace")


class Connection(asyncio.Protocol):
    def __init__(self, net: "Network", outbound: bool, expected_key: bytes | None = None,
                 dial: tuple[str, int] | None = None) -> None:
        self.net = net
        self.outbound = outbound
        self.expected_key = expected_key
        self.dial = dial
        cfg = net.config
        self.state = State.HANDSHAKE
        self.transport: asyncio.Transport | None = None
        self.host = "?"
        self.port = 0
        self.decoder = FrameDecoder(HANDSHAKE_MAX_PAYLOAD)
        self.loop = asyncio.get_running_loop()
        now = self.loop.time()
        self.opened_at = now
        self.open_since = 0.0
        self.last_rx = now
        self.last_tx = now
        self.partial_since: float | None = None
        self.bytes_bucket = TokenBucket(cfg.rate_bytes_per_s, cfg.burst_bytes, now)
        self.frames_bucket = TokenBucket(cfg.rate_frames_per_s, cfg.burst_frames, now)
        self._hello_raw = Hello(PROTOCOL_VERSION, net.chain_id, net.public_key, os.urandom(32),
                                net.listen_port, net.role).encode()
        self.peer_hello: Hello | None = None
        self._peer_hello_raw = b""
        self._digest = b""
        self.peer_key: bytes | None = None  # claimed in HELLO; proven once state is OPEN
        self.validator = False
        self.close_reason: DisconnectReason | None = None
        self.closed: asyncio.Future[None] = self.loop.create_future()
        # send queue: frames not yet handed to the transport (header and payload pieces)
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._out_frames = 0
        self._paused = False
        self._flush_scheduled = False
        self.writable = asyncio.Event()  # clear while the transport has paused us
        self.writable.set()
        self.bytes_in = 0
        self.bytes_out = 0
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self._handler_error_logged = False

    # ---- identity ---------------------------------------------------------------------
    @property
    def authenticated(self) -> bool:
        return self.state is State.OPEN

    @property
    def label(self) -> str:
        k = self.peer_key.hex()[:16] if self.peer_key else "?"
        return f"{self.host}:{self.port}/{k}"

    @property
    def queued_bytes(self) -> int:
        return self._out_bytes

    # ---- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.host, self.port = str(peer[0]), int(peer[1])
        refusal = self.net._admit(self)
        if refusal is not None:
            self.state = State.CLOSED
            self.close_reason = refusal
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass
        cfg = self.net.config
        transport.set_write_buffer_limits(high=cfg.write_buffer_high, low=cfg.write_buffer_low)
        self._write_now(int(Kind.HELLO), self._hello_raw)

    def connection_lost(self, exc: Exception | None) -> None:
        was = self.state
        self.state = State.CLOSED
        self._out.clear()
        self._out_bytes = self._out_frames = 0
        if was is not State.CLOSED and self.close_reason is None:
            log.info("p2p: %s disconnected%s", self.label, f" ({exc})" if exc else "",
                     extra={"peer": self.label})
        self.writable.set()  # wake producers waiting on us; they see the connection is gone
        self.net._on_lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True
        self.writable.clear()

    def resume_writing(self) -> None:
        self._paused = False
        self.writable.set()
        if self._out and not self._flush_scheduled and self.state is not State.CLOSED:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def eof_received(self) -> bool:
        return False  # close our side too

    def data_received(self, data: bytes) -> None:
        if self.state is State.CLOSED:
            return
        try:
            self._received(data)
        except Exception:
            # A bug of ours on some input must cost this connection only, never the loop.
            log.exception("p2p: internal error on data from %s", self.label, extra={"peer": self.label})
            self.close(_R.PROTOCOL, 0.0, "internal error")

    def _received(self, data: bytes) -> None:
        n = len(data)
        now = self.loop.time()
        self.last_rx = now
        self.bytes_in += n
        self.net.bytes_in += n
        if not self.bytes_bucket.take(n, now):
            self.close(_R.FLOOD, PENALTY_FLOOD, f"more than {self.bytes_bucket.rate:.0f} bytes/s")
            return
        error: FrameError | None = None
        try:
            frames = self.decoder.feed(data)
        except FrameError as e:
            error, frames = e, e.frames
        if error is not None:
            # The frames before the bad header are handled as usual, then the peer goes.
            if frames and self.frames_bucket.take(len(frames), now):
                self._dispatch(frames)
            if isinstance(error, FrameTooLarge):
                self.close(_R.FRAME_TOO_LARGE, PENALTY_OVERSIZED, str(error))
            else:
                self.close(_R.PROTOCOL, PENALTY_PROTOCOL, str(error))
            return
        if self.decoder.partial:
            if frames or self.partial_since is None:
                self.partial_since = now
        else:
            self.partial_since = None
        if not frames:
            return
        if not self.frames_bucket.take(len(frames), now):
            self.close(_R.FLOOD, PENALTY_FLOOD, f"more than {self.frames_bucket.rate:.0f} frames/s")
            return
        self._dispatch(frames)

    def _dispatch(self, frames: list[tuple[int, bytes]]) -> None:
        if self.state is State.OPEN:
            self._dispatch_open(frames)
        elif self.state is State.HANDSHAKE:
            self._dispatch_handshake(frames)

    # ---- inbound ------------------------------------------------------------------------
    def _dispatch_open(self, frames: list[tuple[int, bytes]]) -> None:
        net = self.net
        counts = net.frames_in_by_kind
        key = self.peer_key
        assert key is not None
        for kind, payload in frames:
            if self.state is not State.OPEN:
                return
            if kind >= 16 and KNOWN_KIND[kind]:
                self.frames_in += 1
                counts[kind] += 1
                net._deliver(self, key, kind, payload)
            elif kind == Kind.PING:
                counts[kind] += 1
                self.send_frame(Kind.PONG, b"", control=True)
            elif kind == Kind.PONG:
                counts[kind] += 1
            elif kind == Kind.DISCONNECT:
                self._peer_disconnected(payload)
                return
            elif kind in (Kind.HELLO, Kind.AUTH):
                self.close(_R.PROTOCOL, PENALTY_PROTOCOL, f"{Kind(kind).name} after the handshake")
                return
            else:
                self.close(_R.PROTOCOL, PENALTY_PROTOCOL, f"unknown frame kind {kind}")
                return

    def _dispatch_handshake(self, frames: list[tuple[int, bytes]]) -> None:
        for i, (kind, payload) in enumerate(frames):
            if self.state is State.CLOSED:
                return
            if self.state is State.OPEN:
                # Frames that followed AUTH in the same read belong to the open session.
                self._dispatch_open(frames[i:])
                return
            if kind == Kind.HELLO and self.peer_hello is None:
                self._on_hello(payload)
            elif kind == Kind.AUTH and self.peer_hello is not None:
                self._on_auth(payload)
            elif kind == Kind.DISCONNECT:
                self._peer_disconnected(payload)
                return
            else:
                self.close(_R.PROTOCOL, PENALTY_PROTOCOL, f"frame kind {kind} during the handshake")
                return

    def _on_hello(self, payload: bytes) -> None:
        net = self.net
        try:
            h = Hello.decode(payload)
        except HandshakeError as e:
            self.close(_R.PROTOCOL, PENALTY_PROTOCOL, str(e))
            return
        self.peer_hello = h
        self.peer_key = h.node_key
        if h.version != PROTOCOL_VERSION:
            self.close(_R.BAD_VERSION, 0.0, f"protocol version {h.version}, we speak {PROTOCOL_VERSION}")
            return
        if h.chain_id != net.chain_id:
            self.close(_R.WRONG_CHAIN, PENALTY_WRONG_CHAIN, f"chain {h.chain_id}, we are on {net.chain_id}")
            return
        if h.node_key == net.public_key:
            self.close(_R.SELF_CONNECTION, 0.0, "connected to ourselves")
            return
        if self.expected_key is not None and h.node_key != self.expected_key:
            self.close(_R.UNEXPECTED_KEY, 0.0, f"expected key {self.expected_key.hex()[:16]}")
            return
        if h.role is Role.VALIDATOR and h.node_key not in net.validators:
            self.close(_R.UNKNOWN_VALIDATOR, 0.0, "claims to be a validator with a key outside the set")
            return
        if net.scores.banned(h.node_key, self.loop.time()):
            self.close(_R.BANNED, 0.0, "key is banned")
            return
        self._peer_hello_raw = payload
        self._digest = handshake_digest(self._hello_raw, net.public_key, payload, h.node_key)
        self._write_now(int(Kind.AUTH), net.sign(self._digest))

    def _on_auth(self, payload: bytes) -> None:
        key = self.peer_key
        assert key is not None
        if len(payload) != SIGNATURE_LEN or not verify(key, self._digest, payload):
            self.close(_R.BAD_SIGNATURE, PENALTY_BAD_SIGNATURE, "handshake signature does not verify")
            return
        self.state = State.OPEN
        self.open_since = self.loop.time()
        self.decoder.max_payload = self.net.config.max_frame_bytes
        self.validator = key in self.net.validators
        refusal = self.net._on_authenticated(self)
        if refusal is not None:
            self.close(refusal[0], 0.0, refusal[1])

    def _peer_disconnected(self, payload: bytes) -> None:
        code, text = decode_disconnect(payload)
        try:
            name = DisconnectReason(code).name
        except ValueError:
            name = f"code {code}"
        log.info("p2p: %s closed the connection: %s %s", self.label, name, text, extra={"peer": self.label})
        self.state = State.CLOSED
        self.close_reason = DisconnectReason.REQUESTED
        if self.transport is not None:
            self.transport.close()

    # ---- outbound -----------------------------------------------------------------------
    def _write_now(self, kind: int, payload: bytes) -> None:
        """Handshake and disconnect frames: straight to the transport, in order."""
        assert self.transport is not None
        self._flush()
        data = encode_header(kind, len(payload)) + payload
        self.transport.write(data)
        self.bytes_out += len(data)
        self.net.bytes_out += len(data)
        self.net.frames_out_by_kind[kind] += 1

    def send_frame(self, kind: int, payload: bytes, control: bool = False) -> bool:
        """Queue one frame; it leaves with the others of this loop iteration in one write.

        Returns False when the connection is not open or the frame was dropped. A full
        queue drops gossip kinds (counted) and closes the connection for the rest.
        """
        if self.state is not State.OPEN:
            return False
        n = HEADER_LEN + len(payload)
        cfg = self.net.config
        if self._out_frames >= cfg.send_queue_max_frames or self._out_bytes + n > cfg.send_queue_max_bytes:
            if kind in DROPPABLE_KINDS:
                self.dropped += 1
                self.net.dropped += 1
                return False
            self.close(_R.SLOW_PEER, 0.0, f"send queue over {self._out_frames} frames / {self._out_bytes} bytes",
                       abort=True)
            return False
        self._out.append(encode_header(kind, len(payload)))
        if payload:
            self._out.append(payload)
        self._out_bytes += n
        self._out_frames += 1
        if not control:
            self.frames_out += 1
        self.net.frames_out_by_kind[kind] += 1
        if not self._paused and not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        return True

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._paused or not self._out or self.transport is None or self.transport.is_closing():
            return
        data = b"".join(self._out)
        self._out.clear()
        self._out_bytes = 0
        self._out_frames = 0
        self.transport.write(data)
        self.bytes_out += len(data)
        self.net.bytes_out += len(data)
        self.last_tx = self.loop.time()

    def close(self, reason: DisconnectReason, penalty: float = 0.0, detail: str = "",
              abort: bool = False) -> None:
        """Close with a reason: logged, sent to the peer in a DISCONNECT frame, counted."""
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.close_reason = reason
        level = logging.INFO if reason in (_R.SHUTDOWN, _R.DUPLICATE, _R.REQUESTED) else logging.WARNING
        log.log(level, "p2p: closing %s: %s %s", self.label, reason.name, detail,
                extra={"peer": self.label, "reason": reason.name})
        self.net._count_refusal(reason)
        if penalty:
            self.net._penalize(self, penalty, reason)
        t = self.transport
        if t is None:
            return
        if abort or t.is_closing():
            t.abort()
            return
        try:
            self._write_now(int(Kind.DISCONNECT), encode_disconnect(reason, detail))
        except (RuntimeError, OSError):
            pass
        t.close()
        # A peer that does not read would keep the socket open on close(): bound it.
        self.loop.call_later(2.0, t.abort)
