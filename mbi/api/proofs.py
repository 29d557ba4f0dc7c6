"""Proofs a client can check knowing only genesis.json (format: docs/api.md §Proofs).

A proof has three parts:

* **ledgers**: the header of the ledger in question, then (rarely) the headers after it
  up to the one a committed consensus block names; each links to the one before by
  `previous_hash`, and each hash is recomputed from its fields by the verifier;
* **the item**: a transaction (its bytes, index and RFC 6962 audit path against the
  header's `tx_root`) or an account (its canonical encoding, index and audit path against
  `account_tree_hash`);
* **certificate**: consensus blocks from height seq - 1 (the block whose execution gave
  the ledger) up to the last block of the commit batch, and the QC that commits that last
  block. One of them carries `exec_height = last ledger seq - 1` and `exec_root = its
  header hash` (docs/consensus.md §5): a quorum vouched for the execution result by
  certifying it, and the commit QC makes it final. The genesis ledger (seq 1) needs no
  certificate: the verifier rebuilds it from genesis.json.

Blocks are sent without their payloads (`payload_hash` = SHA-256 of the payload), which
is all a block id needs (docs/consensus.md §6).
"""
from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from core_ext.merkle import inclusion_proof, verify_inclusion
from mbi.api.jsonio import ApiError, not_found
from mbi.consensus import wire
from mbi.consensus.types import Block, QuorumCert
from mbi.ledger import errors as E
from mbi.node.chain import qc_key, read_block
from mbi.node.http import header_json
from mbi.store.db import StoreSnapshot
from mbi.types.envelope import split_envelope
from mbi.types.mbi_types_pb2 import LedgerHeader
from mbi.api.verify import receipt_entry_of
from mbi.ledger import header as H

if TYPE_CHECKING:
    from mbi.node.node import Node

PROOF_VERSION = 1
# How far past the ledger to look for the block that carries its execution root, and
# how long to wait for it when the ledger is the newest one (its root rides in a block
# two or three heights later, docs/consensus.md §5).
MAX_SCAN = 64
MAX_CERT_BLOCKS = 256
CERT_WAIT = 15.0


def block_json(b: Block) -> dict[str, Any]:
    return {"height": b.height, "round": b.round, "timestamp_us": b.timestamp_us, "author": b.author,
            "parent_id": b.parent_id.hex(), "qc_round": b.qc.round,
            "payload_hash": hashlib.sha256(b.payload).hexdigest(), "exec_height": b.exec_height,
            "exec_root": b.exec_root.hex(), "id": b.id.hex()}


def qc_json(qc: QuorumCert) -> dict[str, Any]:
    return {"block_id": qc.block_id.hex(), "round": qc.round, "commit_id": qc.commit_id.hex(),
            "signers": qc.signers.hex(), "signatures": [s.hex() for s in qc.signatures]}


def _header(snap: StoreSnapshot, seq: int) -> LedgerHeader | None:
    raw = snap.get_header(seq)
    return None if raw is None else LedgerHeader.FromString(raw)


def _block(node: "Node", snap: StoreSnapshot, height: int) -> Block | None:
    return read_block(snap, height, node.vs, node.genesis.chain_id)


def _qc(node: "Node", snap: StoreSnapshot, height: int) -> QuorumCert | None:
    raw = snap.get_meta(qc_key(height))
    return None if raw is None else wire.decode_qc(raw, node.vs, node.genesis.chain_id)


def _certificate_now(node: "Node", snap: StoreSnapshot, seq: int) -> tuple[list[LedgerHeader], dict[str, Any]] | None:
    """(headers seq..anchor, certificate) if the store already holds a committed block
    carrying the execution root of `seq` or of a later ledger; None if not yet."""
    h = seq - 1
    top = snap.last_seq() - 1  # highest executed (and stored) consensus height
    anchor: Block | None = None
    for k in range(h + 1, min(top, h + MAX_SCAN) + 1):
        b = _block(node, snap, k)
        if b is None:
            return None
        if b.exec_height >= h:
            anchor = b
            break
    if anchor is None:
        return None
    last_seq = anchor.exec_height + 1
    headers = []
    for s in range(seq, last_seq + 1):
        hdr = _header(snap, s)
        if hdr is None:
            return None
        headers.append(hdr)
    if bytes(headers[-1].hash) != anchor.exec_root:
        raise ApiError(E.INTERNAL_ERROR, f"committed block {anchor.height} certifies another result for ledger "
                                         f"{last_seq} than this node's: this node has halted")
    blocks: list[Block] = []
    qc: QuorumCert | None = None
    k = max(h, 1)
    while k <= top and len(blocks) < MAX_CERT_BLOCKS:
        b = _block(node, snap, k)
        if b is None:
            return None
        blocks.append(b)
        if k >= anchor.height:
            q = _qc(node, snap, k)
            if q is not None and q.commit_id == b.id:
                qc = q
                break
        k += 1
    if qc is None:
        return None
    return headers, {"blocks": [block_json(b) for b in blocks], "commit_qc": qc_json(qc)}


async def certificate(node: "Node", seq: int, wait: float = CERT_WAIT) -> tuple[list[LedgerHeader], dict[str, Any] | None]:
    if seq == 1:
        with node.store.snapshot() as snap:
            hdr = _header(snap, 1)
        assert hdr is not None
        return [hdr], None  # the genesis ledger: the verifier rebuilds it from genesis.json
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        with node.store.snapshot() as snap:
            got = _certificate_now(node, snap, seq)
        if got is not None:
            return got
        if loop.time() >= deadline:
            raise ApiError(E.NOT_EXIST, f"ledger {seq} is not certified by a committed block yet; retry shortly")
        await asyncio.sleep(0.1)


def _base(node: "Node", kind: str, headers: list[LedgerHeader], cert: dict[str, Any] | None) -> dict[str, Any]:
    return {"version": PROOF_VERSION, "kind": kind, "chain_id": node.genesis.chain_id,
            "ledgers": [header_json(h) for h in headers], "certificate": cert}


async def transaction_proof(node: "Node", tx_hash: bytes) -> dict[str, Any]:
    with node.store.snapshot() as snap:
        rec = snap.get_tx(tx_hash)
        if rec is None:
            raise not_found(f"transaction {tx_hash.hex()} does not exist")
        hashes = snap.get_ledger_txs(rec.ledger_seq)
        recs = snap.get_txs(hashes)
        hdr = _header(snap, rec.ledger_seq)
    assert hdr is not None
    entries = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(len(hashes), 32)
    path = inclusion_proof(entries, rec.index)
    # The receipts tree, rebuilt from the stored results (receipts are not stored), and
    # checked against the header before it is served.
    receipts = [receipt_entry_of(r.hash, split_envelope(r.envelope), r.error_code, r.actual_fee)
                for r in recs if r is not None]
    r_arr = np.frombuffer(b"".join(receipts), dtype=np.uint8).reshape(len(receipts), 32)
    if len(receipts) != len(hashes) or H.merkle_root(r_arr) != bytes(hdr.receipts_root):
        raise ApiError(E.INTERNAL_ERROR, f"ledger {rec.ledger_seq}'s stored results do not rebuild its receipts_root")
    rpath = inclusion_proof(r_arr, rec.index)
    headers, cert = await certificate(node, rec.ledger_seq)
    out = _base(node, "transaction", headers, cert)
    out["transaction"] = {"hash": tx_hash.hex(), "index": rec.index,
                          "transaction_blob": split_envelope(rec.envelope).hex(),
                          "audit_path": [bytes(p).hex() for p in path],
                          "error_code": rec.error_code, "actual_fee": rec.actual_fee,
                          "receipt_audit_path": [bytes(p).hex() for p in rpath]}
    return out


async def account_proof(node: "Node", address: str, tries: int = 200) -> dict[str, Any]:
    """The account at the newest ledger, from the in-memory state tree.

    The executor thread changes that tree in place while it applies a block, and moves
    `ledger.head` only afterwards, so a read can straddle a block. The proof is therefore
    checked here against the head header it was read under, and read again (after
    yielding to the loop) until it verifies: what is served is always consistent.
    """
    for _ in range(tries):
        ledger = node.chain.ledger
        head = ledger.head
        state = ledger.state
        acct = state.get_account(address)
        if acct is None:
            if state.account_count() == head.account_count and bytes(state.root()) == bytes(head.account_tree_hash):
                raise not_found(f"account {address} does not exist")
        else:
            try:
                got = state.inclusion_proof(address)
            except RuntimeError:  # the executor is inside the tree right now
                got = None
            if got is not None:
                index, path = got
                enc = acct.encode()
                if (ledger.head is head and head.account_count == state.account_count()
                        and verify_inclusion(hashlib.sha256(enc).digest(), index, head.account_count, path,
                                             bytes(head.account_tree_hash))):
                    with node.store.snapshot() as snap:
                        stored = snap.last_seq() >= head.seq
                    if stored:
                        headers, cert = await certificate(node, head.seq)
                        out = _base(node, "account", headers, cert)
                        out["account"] = {"address": address, "index": index, "encoding": enc.hex(),
                                          "audit_path": [bytes(p).hex() for p in path],
                                          "balance": acct.balance, "nonce": acct.nonce}
                        return out
        await asyncio.sleep(0.01)
    raise ApiError(E.INTERNAL_ERROR, "the state kept changing while the proof was read; retry")
