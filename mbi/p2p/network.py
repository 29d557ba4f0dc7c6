"""The node's network: listener, dialers, peer table, send/broadcast, scoring, limits.

``Network`` owns every ``Connection``. Callbacks (``on_message``, ``on_peer_up``,
``on_peer_down``) run on the event loop and must not block; an exception in one is
caught, logged and counted against that peer only. See docs/p2p.md.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable

from mbi.crypto.keys import KeyPair
from mbi.p2p.config import P2PConfig, parse_peer
from mbi.p2p.connection import PENALTY_HANDLER_ERROR, PENALTY_TIMEOUT, Connection, State
from mbi.p2p.kinds import NODE_KINDS, DisconnectReason, Kind, Role
from mbi.p2p.ratelimit import TokenBucket
from mbi.p2p.scoring import PeerScores

log = logging.getLogger("mbi.p2p")

MessageHandler = Callable[[bytes, int, bytes], None]
PeerHandler = Callable[[bytes], None]
_R = DisconnectReason


@dataclass(frozen=True, slots=True)
class PeerInfo:
    key: bytes  # raw 32-byte node key
    host: str
    port: int  # remote TCP port of this connection
    listen_port: int  # the port the peer says it accepts connections on
    role: Role
    validator: bool  # key is in the current validator set
    outbound: bool  # we dialled it
    connected_for: float  # seconds since the handshake finished
    bytes_in: int
    bytes_out: int
    frames_in: int  # node frames received (control frames not counted)
    frames_out: int
    dropped: int  # gossip frames dropped on a full send queue
    queued_bytes: int  # waiting in our send queue
    score: float


class Network:
    """Authenticated peer-to-peer transport for one node.

    ``key``: the node key (signs the handshake). ``chain_id``: peers on other chains are
    refused. ``role``: what we claim; ``validators``: raw keys that may claim the
    validator role (a key outside the set connects only as a full node).
    """

    def __init__(self, key: KeyPair, chain_id: int, config: P2PConfig | None = None, *,
                 role: Role = Role.VALIDATOR, validators: Iterable[bytes] = (),
                 on_message: MessageHandler | None = None, on_peer_up: PeerHandler | None = None,
                 on_peer_down: PeerHandler | None = None) -> None:
        self.config = config if config is not None else P2PConfig()
        self._key = key
        self.public_key = key.raw_public_key
        self.chain_id = chain_id
        self.role = role
        self.validators: frozenset[bytes] = frozenset(bytes(k) for k in validators)
        if role is Role.VALIDATOR and self.public_key not in self.validators:
            raise ValueError("role is VALIDATOR but our key is not in the validator set")
        self.on_message = on_message
        self.on_peer_up = on_peer_up
        self.on_peer_down = on_peer_down
        c = self.config
        self.scores = PeerScores(ban_threshold=c.ban_threshold, ban_seconds=c.ban_seconds,
                                 recovery_per_s=c.score_recovery_per_s)
        self.listen_port = 0
        self.listen_host = ""
        self._server: asyncio.AbstractServer | None = None
        self._peers: dict[bytes, Connection] = {}
        self._pending: set[Connection] = set()
        self._pending_per_host: Counter[str] = Counter()
        self._accept_buckets: OrderedDict[str, TokenBucket] = OrderedDict()  # bounded, per address
        self._conns: set[Connection] = set()  # every live connection
        self._dialers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._housekeeper: asyncio.Task[None] | None = None
        self._stopping = False
        self._started = False
        # counters for metrics
        self.bytes_in = 0
        self.bytes_out = 0
        self.dropped = 0
        self.handler_errors = 0
        self.accepted = 0
        self.closes: Counter[str] = Counter()  # DisconnectReason name -> connections closed for it
        self.frames_in_by_kind = [0] * 256
        self.frames_out_by_kind = [0] * 256

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Listen on (host, port) (defaults from config; port 0 picks one) and dial the
        configured peers. Returns the bound address."""
        if self._started:
            raise RuntimeError("network already started")
        self._started = True
        loop = asyncio.get_running_loop()
        h = self.config.listen_host if host is None else host
        p = self.config.listen_port if port is None else port
        self._server = await loop.create_server(lambda: Connection(self, outbound=False), h, p,
                                                backlog=1024, reuse_address=True)
        sockname = self._server.sockets[0].getsockname()
        self.listen_host, self.listen_port = str(sockname[0]), int(sockname[1])
        self._housekeeper = loop.create_task(self._housekeeping())
        for text in self.config.peers:
            ph, pp, pk = parse_peer(text)
            self.connect(ph, pp, pk)
        log.info("p2p: listening on %s:%d", self.listen_host, self.listen_port)
        return self.listen_host, self.listen_port

    async def stop(self) -> None:
        """Stop dialing and accepting, close every connection (SHUTDOWN) and wait for them."""
        self._stopping = True
        for t in self._dialers.values():
            t.cancel()
        if self._server is not None:
            self._server.close()
        for c in list(self._conns):
            c.close(_R.SHUTDOWN, 0.0, "node stopping")
        waits = [c.closed for c in list(self._conns)] + list(self._dialers.values())
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            waits.append(self._housekeeper)
        if waits:
            await asyncio.wait(waits, timeout=3.0)
        for c in list(self._conns):
            if c.transport is not None:
                c.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
        self._dialers.clear()

    # ---- peers ----------------------------------------------------------------------------
    def connect(self, host: str, port: int, key: bytes | None = None) -> None:
        """Keep a connection to host:port: dial now and redial with jittered exponential
        back-off whenever it drops. ``key``: refuse the peer unless it proves this key."""
        addr = (host, port)
        if addr in self._dialers or self._stopping:
            return
        self._dialers[addr] = asyncio.get_running_loop().create_task(self._dial_loop(host, port, key))

    def forget(self, host: str, port: int) -> None:
        """Stop redialing host:port (an open connection stays until it drops)."""
        t = self._dialers.pop((host, port), None)
        if t is not None:
            t.cancel()

    def disconnect(self, peer_key: bytes, detail: str = "") -> bool:
        c = self._peers.get(peer_key)
        if c is None:
            return False
        c.close(_R.REQUESTED, 0.0, detail)
        return True

    def set_validators(self, keys: Iterable[bytes]) -> None:
        self.validators = frozenset(bytes(k) for k in keys)
        for k, c in self._peers.items():
            c.validator = k in self.validators

    def peers(self) -> list[PeerInfo]:
        now = asyncio.get_running_loop().time()
        out = []
        for k, c in self._peers.items():
            h = c.peer_hello
            assert h is not None
            out.append(PeerInfo(k, c.host, c.port, h.listen_port, h.role, c.validator, c.outbound,
                                now - c.open_since, c.bytes_in, c.bytes_out, c.frames_in,
                                c.frames_out, c.dropped, c.queued_bytes, self.scores.score(k, now)))
        return out

    def peer_keys(self) -> list[bytes]:
        return list(self._peers)

    def is_connected(self, peer_key: bytes) -> bool:
        return peer_key in self._peers

    async def wait_for_peers(self, keys: Iterable[bytes], timeout: float) -> bool:
        """True once every key in ``keys`` is connected; False at the timeout."""
        want = set(keys)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not want.issubset(self._peers):
            if loop.time() >= end:
                return False
            await asyncio.sleep(0.01)
        return True

    # ---- sending --------------------------------------------------------------------------
    def _check(self, kind: int, payload: bytes) -> None:
        if kind not in NODE_KINDS:
            raise ValueError(f"kind {kind} is not a node message kind")
        if len(payload) > self.config.max_frame_bytes:
            raise ValueError(f"payload of {len(payload)} bytes exceeds max_frame_bytes {self.config.max_frame_bytes}")

    def send(self, peer_key: bytes, kind: int, payload: bytes) -> bool:
        """Queue one message to one peer. False when it is not connected or the frame was
        dropped (gossip kinds under backpressure)."""
        self._check(kind, payload)
        c = self._peers.get(peer_key)
        return c.send_frame(kind, payload) if c is not None else False

    def broadcast(self, kind: int, payload: bytes, *, validators_only: bool = False,
                  exclude: Iterable[bytes] = ()) -> int:
        """Queue a message to every connected peer (or only validator peers), except the
        keys in ``exclude``; returns how many queued it."""
        self._check(kind, payload)
        skip = set(exclude) if exclude else ()
        sent = 0
        for k, c in list(self._peers.items()):
            if (validators_only and not c.validator) or k in skip:
                continue
            if c.send_frame(kind, payload):
                sent += 1
        return sent

    def queued_bytes(self, peer_key: bytes) -> int:
        """Bytes waiting to go to this peer: our queue plus the socket's write buffer."""
        c = self._peers.get(peer_key)
        if c is None or c.transport is None:
            return 0
        return c.queued_bytes + (0 if c.transport.is_closing() else c.transport.get_write_buffer_size())

    async def wait_writable(self, peer_key: bytes, timeout: float | None = None) -> bool:
        """Wait until the peer's socket buffer is below its low mark again (bulk senders,
        such as block sync, call this between frames). False when the peer is not
        connected, disconnects meanwhile, or the timeout passes."""
        c = self._peers.get(peer_key)
        if c is None:
            return False
        if not c.writable.is_set():
            try:
                await asyncio.wait_for(c.writable.wait(), timeout)
            except asyncio.TimeoutError:
                return False
        return c.state is State.OPEN and self._peers.get(peer_key) is c

    def report(self, peer_key: bytes, penalty: float, reason: str) -> bool:
        """The node found this peer's message invalid: lower its score. True when that
        got it banned (it is then disconnected)."""
        now = asyncio.get_running_loop().time()
        banned = self.scores.penalize(peer_key, penalty, now)
        log.info("p2p: peer %s penalised %.0f: %s", peer_key.hex()[:16], penalty, reason,
                 extra={"peer": peer_key.hex()[:16]})
        if banned:
            c = self._peers.get(peer_key)
            if c is not None:
                c.close(_R.MISBEHAVIOUR, 0.0, reason)
        return banned

    # ---- metrics ----------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        """Counters for metrics: totals, per-kind frames, refusals, connection counts."""
        return {
            "peers": len(self._peers),
            "pending": len(self._pending),
            "connections": len(self._conns),
            "accepted": self.accepted,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "dropped": self.dropped,
            "handler_errors": self.handler_errors,
            "banned": self.scores.ban_count,
            "closes": dict(self.closes),
            "frames_in": {k: n for k, n in enumerate(self.frames_in_by_kind) if n},
            "frames_out": {k: n for k, n in enumerate(self.frames_out_by_kind) if n},
        }

    def buffered_bytes(self) -> int:
        """Bytes held for all connections: unfinished inbound frames, our send queues and
        the transports' write buffers (memory bound checks)."""
        total = 0
        for c in self._conns:
            total += c.decoder.buffered + c.queued_bytes
            if c.transport is not None and not c.transport.is_closing():
                total += c.transport.get_write_buffer_size()
        return total

    def sign(self, digest: bytes) -> bytes:
        return self._key.sign(digest)

    # ---- called by Connection -------------------------------------------------------------
    def _admit(self, c: Connection) -> DisconnectReason | None:
        """A TCP connection was made: refuse it before reading when over the limits."""
        if self._stopping:
            return _R.SHUTDOWN
        now = c.loop.time()
        cfg = self.config
        if not c.outbound:
            # The limits apply to inbound handshakes only: our own dials are not an attack.
            if self.scores.banned(c.host, now):
                self._count_refusal(_R.BANNED)
                return _R.BANNED
            if not self._accept_bucket(c.host, now).take(1.0, now):
                self._count_refusal(_R.FLOOD)  # reconnect churn: each handshake costs a signature
                return _R.FLOOD
            if (sum(self._pending_per_host.values()) >= cfg.max_pending
                    or self._pending_per_host[c.host] >= cfg.max_pending_per_host):
                self._count_refusal(_R.TOO_MANY_PEERS)
                return _R.TOO_MANY_PEERS
            self.accepted += 1
            self._pending_per_host[c.host] += 1
        self._pending.add(c)
        self._conns.add(c)
        return None

    def _accept_bucket(self, host: str, now: float) -> TokenBucket:
        b = self._accept_buckets.get(host)
        if b is None:
            cfg = self.config
            b = self._accept_buckets[host] = TokenBucket(cfg.accept_rate_per_host, cfg.accept_burst_per_host, now)
            if len(self._accept_buckets) > 4096:
                self._accept_buckets.popitem(last=False)
        else:
            self._accept_buckets.move_to_end(host)
        return b

    def _leave_pending(self, c: Connection) -> None:
        if c in self._pending:
            self._pending.discard(c)
            if c.outbound:
                return
            n = self._pending_per_host[c.host] - 1
            if n > 0:
                self._pending_per_host[c.host] = n
            else:
                del self._pending_per_host[c.host]

    def _on_authenticated(self, c: Connection) -> tuple[DisconnectReason, str] | None:
        self._leave_pending(c)
        k = c.peer_key
        assert k is not None
        if self._stopping:
            return _R.SHUTDOWN, "node stopping"
        old = self._peers.get(k)
        if old is not None:
            if self._keep_new(old, c):
                self._peers[k] = c  # the peer stays up: no down/up callbacks for the swap
                old.close(_R.DUPLICATE, 0.0, "replaced by another connection from this key")
                log.info("p2p: %s replaces %s", c.label, old.label, extra={"peer": c.label})
                return None
            return _R.DUPLICATE, "already connected to this key"
        if not c.validator and sum(1 for x in self._peers.values() if not x.validator) >= self.config.max_peers:
            return _R.TOO_MANY_PEERS, f"{self.config.max_peers} full-node peers already"
        self._peers[k] = c
        log.info("p2p: peer up %s (%s, %s)", c.label, c.peer_hello.role.name if c.peer_hello else "?",
                 "out" if c.outbound else "in", extra={"peer": c.label})
        self._callback(self.on_peer_up, c, k)
        return None

    def _keep_new(self, old: Connection, new: Connection) -> bool:
        """Two connections with one key: both sides make the same choice. Different
        initiators: keep the one the lower key initiated. Same initiator (a peer that
        restarted, or a stale socket): keep the newer one."""
        k = new.peer_key
        assert k is not None
        init_old = self.public_key if old.outbound else k
        init_new = self.public_key if new.outbound else k
        if init_old == init_new:
            return True
        return init_new == min(self.public_key, k)

    def _on_lost(self, c: Connection) -> None:
        self._leave_pending(c)
        self._conns.discard(c)
        k = c.peer_key
        if k is not None and self._peers.get(k) is c:
            del self._peers[k]
            log.info("p2p: peer down %s", c.label, extra={"peer": c.label})
            self._callback(self.on_peer_down, c, k)

    def _deliver(self, c: Connection, key: bytes, kind: int, payload: bytes) -> None:
        h = self.on_message
        if h is None:
            return
        try:
            h(key, kind, payload)
        except Exception:
            self._handler_failed(c, f"on_message kind {kind}")

    def _callback(self, fn: PeerHandler | None, c: Connection, key: bytes) -> None:
        if fn is None:
            return
        try:
            fn(key)
        except Exception:
            self._handler_failed(c, "peer callback")

    def _handler_failed(self, c: Connection, what: str) -> None:
        self.handler_errors += 1
        # The full traceback once per connection; later ones would let a peer flood the log.
        log.warning("p2p: %s raised for %s", what, c.label, exc_info=not c._handler_error_logged,
                    extra={"peer": c.label})
        c._handler_error_logged = True
        if c.peer_key is not None and self.scores.penalize(c.peer_key, PENALTY_HANDLER_ERROR, c.loop.time()):
            c.close(_R.MISBEHAVIOUR, 0.0, "its messages keep failing")

    def _penalize(self, c: Connection, penalty: float, reason: DisconnectReason) -> None:
        # Before the handshake completes no key is proven: the address takes the blame.
        subject: bytes | str = c.peer_key if c.open_since and c.peer_key else c.host
        self.scores.penalize(subject, penalty, c.loop.time())

    def _count_refusal(self, reason: DisconnectReason) -> None:
        self.closes[reason.name] += 1

    # ---- background ----------------------------------------------------------------------
    async def _dial_loop(self, host: str, port: int, key: bytes | None) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        attempt = 0
        known = key
        while not self._stopping:
            if known is not None:
                live = self._peers.get(known)
                if live is not None:
                    await asyncio.shield(live.closed)
                    attempt = 0
                    continue
            c = Connection(self, outbound=True, expected_key=key, dial=(host, port))
            try:
                await asyncio.wait_for(loop.create_connection(lambda: c, host, port), cfg.connect_timeout)
            except (OSError, asyncio.TimeoutError) as e:
                log.debug("p2p: dial %s:%d failed: %s", host, port, e)
            else:
                await asyncio.shield(c.closed)
                if c.peer_key is not None and c.peer_hello is not None and key is None:
                    known = c.peer_key
                if c.open_since and loop.time() - c.open_since > cfg.dial_backoff_max:
                    attempt = 0  # it worked for a while: start over fast
                if c.close_reason is _R.DUPLICATE:
                    attempt = 0
                if c.close_reason is _R.SELF_CONNECTION:
                    log.info("p2p: %s:%d is this node; not dialing it again", host, port)
                    self._dialers.pop((host, port), None)
                    return
            delay = min(cfg.dial_backoff_max, cfg.dial_backoff_base * (2 ** min(attempt, 30)))
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: peers do not redial in step

    async def _housekeeping(self) -> None:
        cfg = self.config
        tick = max(0.01, min(1.0, cfg.handshake_timeout / 4, cfg.idle_timeout / 4,
                             cfg.read_timeout / 4, cfg.ping_interval / 2))
        loop = asyncio.get_running_loop()
        last_expire = loop.time()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for c in list(self._conns):
                if c.state is State.CLOSED:
                    continue
                if c.state is State.HANDSHAKE:
                    if now - c.opened_at > cfg.handshake_timeout:
                        c.close(_R.HANDSHAKE_TIMEOUT, PENALTY_TIMEOUT,
                                f"no handshake within {cfg.handshake_timeout:g}s")
                    continue
                if c.partial_since is not None and now - c.partial_since > cfg.read_timeout:
                    c.close(_R.IDLE_TIMEOUT, PENALTY_TIMEOUT,
                            f"frame left unfinished for {cfg.read_timeout:g}s")
                elif now - c.last_rx > cfg.idle_timeout:
                    c.close(_R.IDLE_TIMEOUT, 0.0, f"silent for {cfg.idle_timeout:g}s")
                elif now - c.last_tx > cfg.ping_interval:
                    c.send_frame(Kind.PING, b"", control=True)
            if now - last_expire > 10.0:
                self.scores.expire(now)
                last_expire = now

