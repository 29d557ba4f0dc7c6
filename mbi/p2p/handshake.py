"""Handshake messages and the digest both sides sign (docs/p2p.md, "Handshake").

HELLO payload (77 bytes, big-endian):

    version u16 | chain_id u64 | node key 32 | nonce 32 | listen port u16 | role u8

AUTH payload: a 64-byte Ed25519
signature over ``handshake_digest``:

    SHA-256("MBI-P2P-HANDSHAKE-V1\\0" | hello_lo | hello_hi)

where hello_lo / hello_hi are the two exact HELLO payloads ordered by node key (the lower
key first). Both sides compute the same digest; it binds the chain id, both fresh nonces,
both keys and the claimed ports, roles and versions, so a signature from another
session, chain or peer does not verify.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from mbi.p2p.kinds import Role

DOMAIN = b"MBI-P2P-HANDSHAKE-V1\x00"
_HELLO = struct.Struct(">HQ32s32sHB")
HELLO_LEN = _HELLO.size  # 77
SIGNATURE_LEN = 64


class HandshakeError(ValueError):
    """A HELLO or AUTH payload that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Hello:
    version: int
    chain_id: int
    node_key: bytes  # raw 32-byte Ed25519 public key
    nonce: bytes  # 32 random bytes, fresh per connection
    listen_port: int  # 0 when the node does not accept connections
    role: Role

    def encode(self) -> bytes:
        return _HELLO.pack(self.version, self.chain_id, self.node_key, self.nonce,
                           self.listen_port, int(self.role))

    @staticmethod
    def decode(payload: bytes) -> "Hello":
        if len(payload) != HELLO_LEN:
            raise HandshakeError(f"HELLO must be {HELLO_LEN} bytes, got {len(payload)}")
        version, chain_id, key, nonce, port, role = _HELLO.unpack(payload)
        try:
            r = Role(role)
        except ValueError:
            raise HandshakeError(f"HELLO role {role} is not 1 (validator) or 2 (full node)") from None
        return Hello(version, chain_id, key, nonce, port, r)


def handshake_digest(hello_a: bytes, key_a: bytes, hello_b: bytes, key_b: bytes) -> bytes:
    """The digest both sides sign, from the two encoded HELLO payloads and their keys."""
    if key_a > key_b:
        hello_a, hello_b = hello_b, hello_a
    return hashlib.sha256(DOMAIN + hello_a + hello_b).digest()
