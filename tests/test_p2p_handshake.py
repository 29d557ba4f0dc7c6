"""Handshake over real loopback sockets: success, and each refusal with its logged reason."""
from __future__ import annotations

import asyncio
import logging
import os

import pytest

from mbi.crypto.keys import KeyPair
from mbi.p2p import DisconnectReason, Hello, Kind, Network, Role
from mbi.p2p.connection import decode_disconnect
from mbi.p2p.kinds import PROTOCOL_VERSION
from p2p_util import CHAIN, RawPeer, Recorder, fast_config, frame, keys, run, until

R = DisconnectReason


def setup_node(n_keys: int = 3, **cfg: object) -> tuple[Recorder, list[KeyPair]]:
    ks = keys(n_keys)
    node = Recorder(ks[0], [k.raw_public_key for k in ks], fast_config(**cfg))
    return node, ks


async def refused_with(raw: RawPeer) -> int:
    """The node's HELLO (if any) then DISCONNECT: return the reason code; assert it closed."""
    frames = await raw.read_until_closed()
    kinds = [k for k, _ in frames]
    assert kinds and kinds[-1] == Kind.DISCONNECT, kinds
    return decode_disconnect(frames[-1][1])[0]


def test_handshake_success_and_messages_both_ways() -> None:
    async def main() -> None:
        node, ks = setup_node()
        port = await node.start()
        raw = await RawPeer.open(port)
        h = await raw.handshake(ks[1])
        assert h.node_key == node.pk and h.chain_id == CHAIN and h.role is Role.VALIDATOR
        assert h.listen_port == port and h.version == PROTOCOL_VERSION
        assert await until(lambda: node.ups == [ks[1].raw_public_key])
        kind, _ = await raw.read_frame()  # the node's AUTH
        assert kind == Kind.AUTH
        raw.send(frame(Kind.VOTE, b"v1") + frame(Kind.PROPOSAL, b""))
        assert await until(lambda: len(node.messages) == 2)
        assert node.messages == [(ks[1].raw_public_key, Kind.VOTE, b"v1"), (ks[1].raw_public_key, Kind.PROPOSAL, b"")]
        assert node.net.send(ks[1].raw_public_key, Kind.STATUS, b"h=5")
        assert await raw.read_frame() == (Kind.STATUS, b"h=5")
        [info] = node.net.peers()
        assert info.key == ks[1].raw_public_key and info.validator and not info.outbound
        assert info.frames_in == 2 and info.frames_out == 1 and info.bytes_in > 0
        raw.close()
        assert await until(lambda: node.downs == [ks[1].raw_public_key])
        assert node.net.peers() == []
        await node.net.stop()
    run(main())


def test_handshake_node_auth_verifies() -> None:
    """The node's own AUTH signature verifies under its key (checked with libsodium)."""
    import pysodium

    from mbi.p2p import handshake_digest

    async def main() -> None:
        node, ks = setup_node()
        port = await node.start()
        raw = await RawPeer.open(port)
        mine = Hello(PROTOCOL_VERSION, CHAIN, ks[1].raw_public_key, os.urandom(32), 0, Role.VALIDATOR).encode()
        raw.send(frame(Kind.HELLO, mine))
        kind, theirs = await raw.read_frame()
        kind2, sig = await raw.read_frame()
        assert (kind, kind2) == (Kind.HELLO, Kind.AUTH)
        digest = handshake_digest(mine, ks[1].raw_public_key, theirs, node.pk)
        pysodium.crypto_sign_verify_detached(sig, digest, node.pk)  # raises if invalid
        raw.close()
        await node.net.stop()
    run(main())


@pytest.mark.parametrize("case,reason,penalised", [
    ("wrong_chain", R.WRONG_CHAIN, True),
    ("bad_signature", R.BAD_SIGNATURE, True),
    ("unknown_validator", R.UNKNOWN_VALIDATOR, False),
    ("bad_version", R.BAD_VERSION, False),
    ("own_key", R.SELF_CONNECTION, False),
    ("frame_before_hello", R.PROTOCOL, True),
])
def test_handshake_refusals(case: str, reason: DisconnectReason, penalised: bool,
                            caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        node, ks = setup_node()
        port = await node.start()
        raw = await RawPeer.open(port)
        stranger = KeyPair.from_seed(b"\x99" * 32)
        if case == "wrong_chain":
            await raw.handshake(ks[1], chain_id=CHAIN + 1)
        elif case == "bad_signature":
            await raw.handshake(ks[1], corrupt_sig=True)
        elif case == "unknown_validator":
            await raw.handshake(stranger, role=Role.VALIDATOR)
        elif case == "bad_version":
            await raw.handshake(ks[1], version=PROTOCOL_VERSION + 1)
        elif case == "own_key":
            await raw.handshake(ks[0])
        else:
            raw.send(frame(Kind.VOTE, b"early"))
        assert await refused_with(raw) == reason
        assert node.ups == [] and node.messages == []
        assert node.net.stats()["closes"] == {reason.name: 1}
        assert (node.net.scores.score("127.0.0.1", asyncio.get_running_loop().time()) < 0) == penalised
        await node.net.stop()
    with caplog.at_level(logging.INFO, logger="mbi.p2p"):
        run(main())
    assert any(reason.name in r.getMessage() and "closing" in r.getMessage() for r in caplog.records)


def test_handshake_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        node, ks = setup_node(handshake_timeout=0.3)
        port = await node.start()
        silent = await RawPeer.open(port)
        half = await RawPeer.open(port)
        half.send(frame(Kind.HELLO, b"\x00" * 77)[:30])  # half a HELLO, then silence
        t0 = asyncio.get_running_loop().time()
        assert await refused_with(silent) == R.HANDSHAKE_TIMEOUT
        assert await refused_with(half) == R.HANDSHAKE_TIMEOUT
        assert 0.25 < asyncio.get_running_loop().time() - t0 < 2.0
        assert node.net.stats()["connections"] == 0
        await node.net.stop()
    with caplog.at_level(logging.INFO, logger="mbi.p2p"):
        run(main())
    assert sum("HANDSHAKE_TIMEOUT" in r.getMessage() for r in caplog.records) == 2


def test_full_node_key_connects_as_non_voting_peer() -> None:
    async def main() -> None:
        node, ks = setup_node()
        port = await node.start()
        stranger = KeyPair.from_seed(b"\x42" * 32)
        full = await RawPeer.open(port)
        await full.handshake(stranger, role=Role.FULL_NODE)
        val = await RawPeer.open(port)
        await val.handshake(ks[1])
        assert await until(lambda: len(node.ups) == 2)
        infos = {i.key: i for i in node.net.peers()}
        assert not infos[stranger.raw_public_key].validator
        assert infos[stranger.raw_public_key].role is Role.FULL_NODE
        assert infos[ks[1].raw_public_key].validator
        for r in (full, val):
            assert (await r.read_frame())[0] == Kind.AUTH
        assert node.net.broadcast(Kind.VOTE, b"to validators", validators_only=True) == 1
        assert node.net.broadcast(Kind.STATUS, b"to all") == 2
        assert await val.read_frame() == (Kind.VOTE, b"to validators")
        assert await val.read_frame() == (Kind.STATUS, b"to all")
        assert await full.read_frame() == (Kind.STATUS, b"to all")
        # a validator key that later leaves the set stops getting validator traffic
        node.net.set_validators([ks[0].raw_public_key, ks[2].raw_public_key])
        assert node.net.broadcast(Kind.VOTE, b"x", validators_only=True) == 0
        await node.net.stop()
    run(main())


def test_network_to_network_refusals_are_logged_on_both_sides(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        ks = keys(3)
        vals = [k.raw_public_key for k in ks]
        a = Recorder(ks[0], vals)
        other_chain = Recorder(ks[1], vals, chain_id=CHAIN + 1)
        pa = await a.start()
        await other_chain.start()
        other_chain.net.connect("127.0.0.1", pa)
        assert await until(lambda: a.net.closes.get("WRONG_CHAIN", 0) >= 1)
        assert await until(lambda: other_chain.net.closes.get("WRONG_CHAIN", 0) >= 1)
        assert a.ups == [] and other_chain.ups == []
        # dialing ourselves, and dialing a peer that proves another key than configured
        a.net.connect("127.0.0.1", pa)
        assert await until(lambda: a.net.closes.get("SELF_CONNECTION", 0) >= 2)
        await asyncio.sleep(0.3)  # both ends of the one self-connection; no redial after it
        assert a.net.closes["SELF_CONNECTION"] == 2
        c = Recorder(ks[2], vals)
        pc = await c.start()
        a.net.connect("127.0.0.1", pc, key=ks[1].raw_public_key)
        assert await until(lambda: a.net.closes.get("UNEXPECTED_KEY", 0) >= 1)
        assert not a.net.is_connected(ks[2].raw_public_key)
        for r in (a, other_chain, c):
            await r.net.stop()
    with caplog.at_level(logging.INFO, logger="mbi.p2p"):
        run(main())
    msgs = [r.getMessage() for r in caplog.records]
    # each side refuses the other itself, with its own view of the mismatch
    assert any("WRONG_CHAIN chain 8, we are on 7" in m for m in msgs)
    assert any("WRONG_CHAIN chain 7, we are on 8" in m for m in msgs)
    # the refused side is told why
    assert any("closed the connection: UNEXPECTED_KEY" in m for m in msgs)


def test_validator_role_needs_key_in_set() -> None:
    ks = keys(2)
    with pytest.raises(ValueError):
        Network(ks[0], CHAIN, fast_config(), role=Role.VALIDATOR, validators=[ks[1].raw_public_key])
    Network(ks[0], CHAIN, fast_config(), role=Role.FULL_NODE, validators=[ks[1].raw_public_key])
