"""Tunables of the p2p layer (the ``[p2p]`` section of config.toml)."""
from __future__ import annotations

from dataclasses import dataclass

from mbi.config_fields import FieldError, check_section, setting

_MiB = 1 << 20


@dataclass(frozen=True)
class P2PConfig:
    listen_host: str = setting("0.0.0.0", doc="address the p2p listener binds")
    listen_port: int = setting(18001, min=0, max=65535, doc="p2p TCP port (0: pick a free one)")
    peers: tuple[str, ...] = setting((), doc="peers to keep connected: 'host:port' or 'hexkey@host:port'")
    max_frame_bytes: int = setting(16 * _MiB, min=1024, max=1 << 30,
                                   doc="largest frame payload accepted or sent")
    max_peers: int = setting(64, min=1, doc="authenticated connections kept at once")
    max_pending: int = setting(128, min=1, doc="connections still in their handshake")
    max_pending_per_host: int = setting(16, min=1, doc="handshakes in flight from one address")
    accept_rate_per_host: float = setting(50.0, min=0.01, doc="inbound connections per second from one address")
    accept_burst_per_host: float = setting(200.0, min=1.0, doc="inbound connection burst from one address")
    handshake_timeout: float = setting(5.0, min=0.05, doc="seconds a connection has to authenticate")
    idle_timeout: float = setting(30.0, min=0.1, doc="close a peer silent this long (seconds)")
    ping_interval: float = setting(10.0, min=0.05, doc="send a PING after this much send silence")
    read_timeout: float = setting(20.0, min=0.05, doc="seconds an unfinished frame may stay unfinished")
    connect_timeout: float = setting(5.0, min=0.05, doc="TCP connect timeout of the dialer")
    dial_backoff_base: float = setting(0.25, min=0.001, doc="first reconnect delay (seconds)")
    dial_backoff_max: float = setting(10.0, min=0.001, doc="longest reconnect delay (seconds)")
    send_queue_max_frames: int = setting(65536, min=16, doc="frames queued per peer beyond the socket buffer")
    send_queue_max_bytes: int = setting(32 * _MiB, min=1024, doc="bytes queued per peer beyond the socket buffer")
    write_buffer_high: int = setting(4 * _MiB, min=1024, doc="socket write buffer above which a peer is paused")
    write_buffer_low: int = setting(1 * _MiB, min=0, doc="socket write buffer below which it resumes")
    rate_frames_per_s: float = setting(100_000.0, min=1.0, doc="inbound frames per second per peer")
    burst_frames: float = setting(200_000.0, min=1.0, doc="inbound frame burst per peer")
    rate_bytes_per_s: float = setting(256.0 * _MiB, min=1024.0, doc="inbound bytes per second per peer")
    burst_bytes: float = setting(512.0 * _MiB, min=1024.0, doc="inbound byte burst per peer (>= one max frame)")
    ban_threshold: float = setting(-100.0, max=-1.0, doc="score at or below which a peer is banned")
    ban_seconds: float = setting(300.0, min=0.0, doc="how long a ban lasts")
    score_recovery_per_s: float = setting(0.5, min=0.0, doc="score regained per second toward 0")
    gossip_seen_capacity: int = setting(1 << 18, min=16, doc="transaction hashes remembered for dedupe")
    gossip_known_capacity: int = setting(1 << 16, min=16, doc="hashes remembered per peer as known to it")
    gossip_batch_max_txs: int = setting(4096, min=1, doc="transactions per TX_BATCH frame")
    gossip_validator_relay: bool = setting(False, doc="relay transactions a validator sent us to the other validators too "
                                           "(off: the validator that took a transaction from a client or full node "
                                           "sends it to every validator itself; blocks carry it to any it missed)")

    def __post_init__(self) -> None:
        check_section(self)
        if self.write_buffer_low > self.write_buffer_high:
            raise FieldError("write_buffer_low", f"must be <= write_buffer_high ({self.write_buffer_high})")
        if self.dial_backoff_base > self.dial_backoff_max:
            raise FieldError("dial_backoff_base", f"must be <= dial_backoff_max ({self.dial_backoff_max})")
        if self.ping_interval >= self.idle_timeout:
            raise FieldError("ping_interval", f"must be < idle_timeout ({self.idle_timeout:g})")
        if self.burst_bytes < self.max_frame_bytes + 5:
            raise FieldError("burst_bytes", f"must hold one max frame ({self.max_frame_bytes + 5} bytes)")
        for p in self.peers:
            try:
                parse_peer(p)
            except ValueError as e:
                raise FieldError("peers", str(e)) from None


def parse_peer(text: str) -> tuple[str, int, bytes | None]:
    """'host:port' or 'hexkey@host:port' (IPv6 as '[::1]:port') -> (host, port, key or None)."""
    key: bytes | None = None
    rest = text
    if "@" in text:
        khex, rest = text.split("@", 1)
        try:
            key = bytes.fromhex(khex)
        except ValueError:
            raise ValueError(f"peer {text!r}: key is not hex") from None
        if len(key) != 32:
            raise ValueError(f"peer {text!r}: key must be 32 bytes (64 hex characters)")
    host, sep, port_s = rest.rpartition(":")
    if not sep or not host or not port_s.isdigit():
        raise ValueError(f"peer {text!r} must be host:port")
    port = int(port_s)
    if not 0 < port <= 65535:
        raise ValueError(f"peer {text!r}: port out of range")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port, key
