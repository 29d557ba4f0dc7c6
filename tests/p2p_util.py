"""Helpers for the p2p tests: fast configs, recording nodes, a raw wire-level client."""
from __future__ import annotations

import asyncio
import os
import struct
from dataclasses import replace
from typing import Any, Awaitable, Callable, TypeVar

import uvloop

from mbi.crypto.keys import KeyPair
from mbi.p2p import Hello, Kind, Network, P2PConfig, Role, handshake_digest
from mbi.p2p.kinds import PROTOCOL_VERSION

T = TypeVar("T")
CHAIN = 7


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    """Run on uvloop with a hard bound, so no test can hang."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return uvloop.run(bounded())


def fast_config(**kw: Any) -> P2PConfig:
    base = P2PConfig(listen_host="127.0.0.1", listen_port=0, handshake_timeout=1.0,
                     idle_timeout=3.0, ping_interval=0.5, read_timeout=0.5, connect_timeout=1.0,
                     dial_backoff_base=0.02, dial_backoff_max=0.2, ban_seconds=60.0)
    return replace(base, **kw)


def keys(n: int) -> list[KeyPair]:
    return [KeyPair.from_seed(bytes([i + 1]) * 32) for i in range(n)]


class Recorder:
    """A Network with its callbacks recorded."""

    def __init__(self, key: KeyPair, validators: list[bytes], config: P2PConfig | None = None,
                 role: Role = Role.VALIDATOR, chain_id: int = CHAIN) -> None:
        self.key = key
        self.messages: list[tuple[bytes, int, bytes]] = []
        self.ups: list[bytes] = []
        self.downs: list[bytes] = []
        self.net = Network(key, chain_id, config or fast_config(), role=role, validators=validators,
                           on_message=lambda k, kind, p: self.messages.append((k, kind, p)),
                           on_peer_up=self.ups.append, on_peer_down=self.downs.append)

    @property
    def pk(self) -> bytes:
        return self.key.raw_public_key

    async def start(self) -> int:
        return (await self.net.start())[1]


async def until(cond: Callable[[], bool], timeout: float = 5.0, step: float = 0.005) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            return False
        await asyncio.sleep(step)
    return True


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IB", len(payload), kind) + payload


class RawPeer:
    """A hand-driven peer over asyncio streams, for hostile and wire-format tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r = reader
        self.w = writer

    @classmethod
    async def open(cls, port: int) -> "RawPeer":
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return cls(r, w)

    async def read_frame(self, timeout: float = 2.0) -> tuple[int, bytes]:
        hdr = await asyncio.wait_for(self.r.readexactly(5), timeout)
        n, kind = struct.unpack(">IB", hdr)
        return kind, await asyncio.wait_for(self.r.readexactly(n), timeout)

    def send(self, data: bytes) -> None:
        self.w.write(data)

    async def handshake(self, key: KeyPair, *, chain_id: int = CHAIN, role: Role = Role.VALIDATOR,
                        corrupt_sig: bool = False, version: int = PROTOCOL_VERSION) -> Hello:
        """Do our half of the handshake; returns the node's HELLO."""
        mine = Hello(version, chain_id, key.raw_public_key, os.urandom(32), 0, role).encode()
        self.send(frame(Kind.HELLO, mine))
        kind, theirs = await self.read_frame()
        assert kind == Kind.HELLO, kind
        h = Hello.decode(theirs)
        sig = key.sign(handshake_digest(mine, key.raw_public_key, theirs, h.node_key))
        if corrupt_sig:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        self.send(frame(Kind.AUTH, sig))
        return h

    async def read_until_closed(self, timeout: float = 3.0) -> list[tuple[int, bytes]]:
        """Frames the node sent until it closed the connection."""
        out = []
        try:
            while True:
                out.append(await self.read_frame(timeout))
        except (asyncio.IncompleteReadError, ConnectionError):
            return out

    def close(self) -> None:
        self.w.close()
