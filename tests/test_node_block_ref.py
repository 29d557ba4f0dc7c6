"""Committed consensus blocks are stored without the payload their ledger already holds
(mbi.node.chain.encode_block_ref): the applied transactions' envelopes are written once,
in the tx records, and `block_at` puts the payload back. These tests state the expected
block as the one that was executed (built here, not read back through the code under
test), and damage every part of the stored record to see it refused, never misread."""
from __future__ import annotations

import struct

import pytest

from consensus_fixtures import CHAIN, Net
from mbi.consensus import wire
from mbi.crypto import KeyPair
from mbi.ledger import Genesis
from mbi.ledger import testing as T
from mbi.node.chain import Chain, ChainError, block_key, block_ref_key, encode_block_ref, read_block
from mbi.store import Store


def _batch(envs: list[bytes]) -> bytes:
    """The TX_BATCH framing written out (u32 count, then u32 length ‖ bytes per item)."""
    return struct.pack(">I", len(envs)) + b"".join(struct.pack(">I", len(e)) + e for e in envs)


@pytest.fixture
def setup(tmp_path):
    net = Net()
    g = KeyPair.from_seed(b"\x51" * 32)
    genesis = Genesis.from_dict(T.genesis_dict(g, [KeyPair.from_seed(b"\x52" * 32)], chain_id=CHAIN))
    path = str(tmp_path / "db")
    store = Store.open(path, chain_id=CHAIN, create=True)
    chain = Chain(genesis, store, net.vs)
    yield net, g, genesis, path, store, chain
    store.close()


def _first_block(net: Net, g: KeyPair):
    """Block 1: two applied transactions around one the ledger refuses (a nonce gap)."""
    a, b = KeyPair.from_seed(b"\x61" * 32), KeyPair.from_seed(b"\x62" * 32)
    txs = [T.make_tx(g, 1, [T.create_account(a.address, 10**9)], chain_id=CHAIN),
           T.make_tx(g, 5, [T.pay_coin(a.address, 1)], chain_id=CHAIN),  # nonce 5 after 1: refused
           T.make_tx(g, 2, [T.create_account(b.address, 10**9)], chain_id=CHAIN)]
    block = net.block(net.genesis_block(), 1, payload=_batch([t.envelope for t in txs]))
    return block, txs


def test_block_is_stored_once_and_read_back_exactly(setup):
    net, g, genesis, path, store, chain = setup
    block, txs = _first_block(net, g)
    done = chain.execute(block, net.qc(block), txs)
    assert done.dropped == [txs[1].hash]
    rec = store.get_meta(block_ref_key(1))
    assert rec is not None and store.get_meta(block_key(1)) is None
    # the applied envelopes are not in the record; the refused one (not in the ledger) is
    assert txs[0].envelope not in rec and txs[2].envelope not in rec and txs[1].envelope in rec
    assert len(rec) < len(block.payload)
    got = chain.block_at(1)
    assert got == block and got.id == block.id and got.payload == block.payload
    with store.snapshot() as snap:
        again = read_block(snap, 1, net.vs, CHAIN)
    assert again is not None and again.payload == block.payload and again.id == block.id
    assert read_block(store, 2, net.vs, CHAIN) is None


def test_block_survives_reopen(setup):
    net, g, genesis, path, store, chain = setup
    block, txs = _first_block(net, g)
    chain.execute(block, net.qc(block), txs)
    b2 = net.block(block, 2, payload=_batch([T.make_tx(g, 3, [T.pay_coin(g.address, 1)], chain_id=CHAIN).envelope]))
    chain.execute(b2, net.qc(b2), [T.make_tx(g, 3, [T.pay_coin(g.address, 1)], chain_id=CHAIN)])
    store.close()
    with Store.open(path, chain_id=CHAIN) as s2:
        c2 = Chain(genesis, s2, net.vs)
        assert c2.block_at(1).payload == block.payload and c2.block_at(1).id == block.id
        assert c2.block_at(2).id == b2.id
        tip, qc = c2.committed_tip()  # type: ignore[misc]
        assert tip.id == b2.id and qc.block_id == b2.id


def test_empty_and_non_canonical_payloads_keep_the_whole_block(setup):
    net, g, genesis, path, store, chain = setup
    empty = net.block(net.genesis_block(), 1)
    chain.execute(empty, net.qc(empty), [])
    assert store.get_meta(block_ref_key(1)) is None and store.get_meta(block_key(1)) is not None
    assert chain.block_at(1).id == empty.id
    # a payload that is not the batch of the executed envelopes cannot be rebuilt from
    # them: the whole block is stored
    tx = T.make_tx(g, 1, [T.pay_coin(g.address, 1)], chain_id=CHAIN)
    odd = net.block(empty, 2, payload=_batch([tx.envelope]) + b"\x00")
    assert encode_block_ref(odd, [tx], [True]) is None
    chain.execute(odd, net.qc(odd), [tx])
    assert store.get_meta(block_ref_key(2)) is None
    assert chain.block_at(2).payload == odd.payload and chain.block_at(2).id == odd.id


def test_a_store_with_whole_blocks_still_reads(setup):
    """Stores written before the reference form hold every block whole under block_key."""
    net, g, genesis, path, store, chain = setup
    block, txs = _first_block(net, g)
    chain.execute(block, net.qc(block), txs)
    store.write_meta({block_ref_key(1): None, block_key(1): wire.encode_block(block)})
    got = chain.block_at(1)
    assert got.id == block.id and got.payload == block.payload


def _mutations(rec: bytes, refused_len: int) -> dict[str, bytes]:
    shell_at = 40 + 8 + refused_len
    return {
        "short": rec[:39],
        "id byte": bytes([rec[0] ^ 1]) + rec[1:],
        "count + 1": rec[:32] + struct.pack(">I", struct.unpack_from(">I", rec, 32)[0] + 1) + rec[36:],
        "count huge": rec[:32] + struct.pack(">I", 2**32 - 1) + rec[36:],
        "refused k = 0": rec[:36] + struct.pack(">I", 0) + rec[40:],
        "refused k > count": rec[:36] + struct.pack(">I", 9) + rec[40:],
        "refused position out of range": rec[:40] + struct.pack(">I", 3) + rec[44:],
        "refused position moved": rec[:40] + struct.pack(">I", 0) + rec[44:],
        "refused length past the end": rec[:44] + struct.pack(">I", 1 << 30) + rec[48:],
        "refused envelope byte": rec[:shell_at - 1] + bytes([rec[shell_at - 1] ^ 0x40]) + rec[shell_at:],
        "shell cut": rec[:shell_at + 3],
        "shell byte": rec[:-1] + bytes([rec[-1] ^ 1]),
    }


def test_every_damaged_record_is_refused(setup):
    net, g, genesis, path, store, chain = setup
    block, txs = _first_block(net, g)
    chain.execute(block, net.qc(block), txs)
    rec = store.get_meta(block_ref_key(1))
    assert rec is not None
    for name, bad in _mutations(rec, len(txs[1].envelope)).items():
        assert bad != rec, name
        store.put_meta(block_ref_key(1), bad)
        with pytest.raises(ChainError):
            chain.block_at(1)
            pytest.fail(f"{name}: a damaged record was read as a block")
    store.put_meta(block_ref_key(1), rec)
    assert chain.block_at(1).id == block.id


def test_a_block_whose_ledger_lost_a_transaction_is_refused(setup):
    net, g, genesis, path, store, chain = setup
    block, txs = _first_block(net, g)
    chain.execute(block, net.qc(block), txs)
    ref = store.get_meta(block_ref_key(1))
    assert ref is not None
    real = store.get_ledger_txs

    # the ledger's list names one transaction fewer, or another transaction
    store.get_ledger_txs = lambda seq: real(seq)[:1]  # type: ignore[method-assign]
    with pytest.raises(ChainError, match="holds 1"):
        chain.block_at(1)
    store.get_ledger_txs = lambda seq: [real(seq)[0], b"\x07" * 32]  # type: ignore[method-assign]
    with pytest.raises(ChainError, match="missing"):
        chain.block_at(1)
    store.get_ledger_txs = lambda seq: list(reversed(real(seq)))  # type: ignore[method-assign]
    with pytest.raises(ChainError, match="rebuild"):
        chain.block_at(1)
    store.get_ledger_txs = real  # type: ignore[method-assign]
    assert chain.block_at(1).id == block.id
