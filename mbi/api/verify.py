"""Offline proof checking: `verify_proof(proof, genesis)` knows only genesis.json.

Pure (no I/O): a wallet, an auditor or `mbi verify-proof` runs it on a saved proof. Each
failure raises ProofError naming the field that is wrong. The checks, in order
(docs/api.md §Proofs):

1. the proof is version 1, of a known kind, for this chain;
2. every ledger header hashes to its `hash` (recomputed from its fields), carries this
   chain's id, validators_hash and fees_hash, and follows the one before (seq + 1,
   previous_hash);
3. the item: the transaction's SHA-256 is its hash and its audit path leads to the first
   header's tx_root; or the account encoding decodes to the address and its audit path
   leads to account_tree_hash;
4. the first header is the genesis ledger rebuilt from genesis.json, or the certificate
   proves the last header final: block ids recomputed from their fields, blocks chained
   by parent id, the first at height seq - 1 with the ledger's close time, one carrying
   (exec_height, exec_root) = (last seq - 1, last header hash), and a quorum of the
   genesis validators signing a QC that commits the last block.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Any

from core_ext.merkle import verify_inclusion
from mbi.consensus import CertChecker, SyncError, ValidatorSet, genesis_block_id, verify_committed_range
from mbi.consensus.types import Block, QuorumCert
from mbi.ledger import header as H
from mbi.ledger.account import AccountDecodeError, decode_account
from mbi.ledger.chain import Ledger
from mbi.ledger.genesis import Genesis
from mbi.types.mbi_types_pb2 import LedgerHeader
from mbi.types.zetrix_protocol_pb2 import Transaction
from google.protobuf.message import DecodeError

_BLOCK_DOMAIN = b"MBI-BLOCK-V1\x00"
_U64 = struct.Struct(">Q")
_HEADER_INTS = ("seq", "close_time", "version", "tx_count", "chain_id", "account_count")
_HEADER_HASHES = ("hash", "previous_hash", "account_tree_hash", "consensus_value_hash", "validators_hash",
                  "fees_hash", "tx_root", "receipts_root")


class ProofError(ValueError):
    """The proof does not prove what it claims; the message says which check failed."""


def receipt_logs(tx_blob: bytes, error_code: int) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """The logs a transaction's receipt commits: (source, topic, datas) of each LOG
    operation when it succeeded (execution keeps no logs of a failed one)."""
    if error_code != 0:
        return ()
    tx = Transaction.FromString(tx_blob)
    return tuple((op.source_address or tx.source_address, op.log.topic, tuple(op.log.datas))
                 for op in tx.operations if op.type == 8)


def receipt_entry_of(tx_hash: bytes, tx_blob: bytes, error_code: int, actual_fee: int) -> bytes:
    return H.receipt_entry(tx_hash, error_code, actual_fee, receipt_logs(tx_blob, error_code))


def _get(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise ProofError(f"{where} must be an object")
    if key not in d:
        raise ProofError(f"{where}.{key} is missing")
    return d[key]


def _int(d: Any, key: str, where: str, lo: int = 0, hi: int = (1 << 63) - 1) -> int:
    v = _get(d, key, where)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ProofError(f"{where}.{key} must be an integer in [{lo}, {hi}]")
    return v


def _hex(d: Any, key: str, where: str, length: int | None = None) -> bytes:
    v = _get(d, key, where)
    if not isinstance(v, str):
        raise ProofError(f"{where}.{key} must be a hex string")
    try:
        b = bytes.fromhex(v)
    except ValueError:
        raise ProofError(f"{where}.{key} is not hex") from None
    if v != b.hex():
        raise ProofError(f"{where}.{key} must be lowercase hex")
    if length is not None and len(b) != length:
        raise ProofError(f"{where}.{key} must be {length} bytes, got {len(b)}")
    return b


def _hex_list(d: Any, key: str, where: str, length: int, max_items: int = 128) -> list[bytes]:
    v = _get(d, key, where)
    if not isinstance(v, list) or len(v) > max_items:
        raise ProofError(f"{where}.{key} must be a list of at most {max_items} items")
    return [_hex({"x": x}, "x", f"{where}.{key}[{i}]", length) for i, x in enumerate(v)]


def _included(entry: bytes, index: int, size: int, path: list[bytes], root: bytes, what: str) -> None:
    try:
        good = verify_inclusion(entry, index, size, path, root)
    except (ValueError, TypeError) as e:  # a path of the wrong length for (index, size)
        raise ProofError(f"{what}: {e}") from None
    if not good:
        raise ProofError(what)


def parse_header(d: Any, where: str) -> LedgerHeader:
    h = LedgerHeader()
    for k in _HEADER_INTS:
        setattr(h, k, _int(d, k, where))
    for k in _HEADER_HASHES:
        setattr(h, k, _hex(d, k, where, 32))
    if H.header_hash(h) != h.hash:
        raise ProofError(f"{where}: hash does not match the header's fields")
    return h


def block_id_of(chain_id: int, b: dict[str, Any], where: str) -> bytes:
    """A block id from its fields and payload hash (docs/consensus.md §6)."""
    exec_root = _hex(b, "exec_root", where)
    if len(exec_root) not in (0, 32):
        raise ProofError(f"{where}.exec_root must be empty or 32 bytes")
    return hashlib.sha256(
        _BLOCK_DOMAIN + _U64.pack(chain_id) + _U64.pack(_int(b, "height", where, 1)) + _U64.pack(_int(b, "round", where, 1))
        + _U64.pack(_int(b, "timestamp_us", where)) + struct.pack(">I", _int(b, "author", where, 0, (1 << 32) - 1))
        + _hex(b, "parent_id", where, 32) + _U64.pack(_int(b, "qc_round", where))
        + _hex(b, "payload_hash", where, 32) + _U64.pack(_int(b, "exec_height", where))
        + bytes((len(exec_root),)) + exec_root).digest()


def _parse_qc(d: Any, where: str) -> QuorumCert:
    return QuorumCert(_hex(d, "block_id", where, 32), _int(d, "round", where, 1), _hex(d, "commit_id", where, 32),
                      _hex(d, "signers", where), tuple(_hex_list(d, "signatures", where, 64, 1024)))


def verify_proof(proof: Any, genesis: Genesis) -> str:
    """Check `proof` (the JSON `result` of /getTransactionProof or /getAccountProof).

    Returns a one-line summary of what is proven; raises ProofError otherwise."""
    if _int(proof, "version", "proof") != 1:
        raise ProofError("proof.version must be 1")
    kind = _get(proof, "kind", "proof")
    if kind not in ("transaction", "account"):
        raise ProofError(f"proof.kind must be transaction or account, got {kind!r}")
    if _int(proof, "chain_id", "proof") != genesis.chain_id:
        raise ProofError(f"proof.chain_id is not this network's ({genesis.chain_id})")
    ledgers = _get(proof, "ledgers", "proof")
    if not isinstance(ledgers, list) or not 1 <= len(ledgers) <= 64:
        raise ProofError("proof.ledgers must list 1 to 64 headers")
    genesis_ledger, _ = Ledger.create(genesis)
    g_head = genesis_ledger.head
    headers: list[LedgerHeader] = []
    for i, d in enumerate(ledgers):
        h = parse_header(d, f"ledgers[{i}]")
        if h.chain_id != genesis.chain_id:
            raise ProofError(f"ledgers[{i}].chain_id is not this network's")
        if h.validators_hash != g_head.validators_hash:
            raise ProofError(f"ledgers[{i}].validators_hash is not genesis's validator set")
        if h.fees_hash != g_head.fees_hash:
            raise ProofError(f"ledgers[{i}].fees_hash is not genesis's fees")
        if headers and (h.seq != headers[-1].seq + 1 or h.previous_hash != headers[-1].hash):
            raise ProofError(f"ledgers[{i}] does not follow ledgers[{i - 1}] (seq + 1 and previous_hash)")
        headers.append(h)
    first, last = headers[0], headers[-1]
    what = _verify_item(proof, kind, first)
    cert = proof.get("certificate")
    if first.seq == 1:
        if first.hash != g_head.hash:
            raise ProofError("ledgers[0] has seq 1 but is not the genesis ledger of genesis.json")
        if len(headers) != 1:
            raise ProofError("a genesis proof carries only the genesis header")
        return f"{what} in the genesis ledger (rebuilt from genesis.json)"
    if cert is None:
        raise ProofError("proof.certificate is missing (only the genesis ledger needs none)")
    _verify_certificate(cert, genesis, g_head.hash, first, last)
    return f"{what} in ledger {first.seq} ({first.hash.hex()}), final by a quorum certificate"


def _verify_item(proof: dict[str, Any], kind: str, hdr: LedgerHeader) -> str:
    if kind == "transaction":
        t = _get(proof, "transaction", "proof")
        h = _hex(t, "hash", "transaction", 32)
        blob = _hex(t, "transaction_blob", "transaction")
        if hashlib.sha256(blob).digest() != h:
            raise ProofError("transaction.hash is not SHA-256 of transaction.transaction_blob")
        idx = _int(t, "index", "transaction")
        if idx >= hdr.tx_count:
            raise ProofError(f"transaction.index {idx} is not below ledgers[0].tx_count {hdr.tx_count}")
        path = _hex_list(t, "audit_path", "transaction", 32, 64)
        _included(h, idx, hdr.tx_count, path, hdr.tx_root,
                  "transaction.audit_path does not lead from the hash to ledgers[0].tx_root")
        code = _int(t, "error_code", "transaction", 0, (1 << 63) - 1)
        fee = _int(t, "actual_fee", "transaction")
        try:
            entry = receipt_entry_of(h, blob, code, fee)
        except DecodeError:
            raise ProofError("transaction.transaction_blob is not a serialized Transaction") from None
        rpath = _hex_list(t, "receipt_audit_path", "transaction", 32, 64)
        _included(entry, idx, hdr.tx_count, rpath, hdr.receipts_root,
                  "transaction.receipt_audit_path does not lead from the receipt (hash, error_code, actual_fee, "
                  "logs) to ledgers[0].receipts_root")
        return f"transaction {h.hex()} (error_code {code}, actual_fee {fee})"
    a = _get(proof, "account", "proof")
    address = _get(a, "address", "account")
    enc = _hex(a, "encoding", "account")
    idx = _int(a, "index", "account")
    try:
        acct = decode_account(enc, idx)
    except AccountDecodeError as e:
        raise ProofError(f"account.encoding does not decode: {e}") from None
    if acct.address != address:
        raise ProofError("account.encoding is of another address than account.address")
    for k in ("balance", "nonce"):
        if k in a and a[k] != getattr(acct, k):
            raise ProofError(f"account.{k} differs from the value in account.encoding")
    if idx >= hdr.account_count:
        raise ProofError(f"account.index {idx} is not below ledgers[0].account_count {hdr.account_count}")
    path = _hex_list(a, "audit_path", "account", 32, 64)
    _included(hashlib.sha256(enc).digest(), idx, hdr.account_count, path, hdr.account_tree_hash,
              "account.audit_path does not lead from the encoding to ledgers[0].account_tree_hash")
    return f"account {address} (balance {acct.balance}, nonce {acct.nonce})"


def _verify_certificate(cert: Any, genesis: Genesis, genesis_hash: bytes, first: LedgerHeader,
                        last: LedgerHeader) -> None:
    raw_blocks = _get(cert, "blocks", "certificate")
    if not isinstance(raw_blocks, list) or not 1 <= len(raw_blocks) <= 256:
        raise ProofError("certificate.blocks must list 1 to 256 blocks")
    blocks: list[Block] = []
    anchored = False
    for i, b in enumerate(raw_blocks):
        where = f"certificate.blocks[{i}]"
        bid = block_id_of(genesis.chain_id, b, where)
        if "id" in b and _hex(b, "id", where, 32) != bid:
            raise ProofError(f"{where}.id is not the id of the block's fields")
        blk = Block(b["height"], b["round"], b["timestamp_us"], b["author"], _hex(b, "parent_id", where, 32),
                    QuorumCert(b"", b["qc_round"], b"", b"", ()), b"", b["exec_height"], _hex(b, "exec_root", where),
                    bid)
        if blk.exec_height == last.seq - 1 and blk.exec_root == last.hash:
            anchored = True
        blocks.append(blk)
    if blocks[0].height != first.seq - 1:
        raise ProofError(f"certificate.blocks[0] is at height {blocks[0].height}, not {first.seq - 1} "
                         f"(the block whose execution gave ledger {first.seq})")
    if blocks[0].timestamp_us != first.close_time:
        raise ProofError("certificate.blocks[0].timestamp_us is not ledgers[0].close_time")
    if not anchored:
        raise ProofError(f"no certificate block carries exec_height {last.seq - 1} and exec_root = the hash of "
                         f"ledger {last.seq}")
    qc = _parse_qc(_get(cert, "commit_qc", "certificate"), "certificate.commit_qc")
    vs = ValidatorSet([v.raw_public_key for v in genesis.validators])
    checker = CertChecker(vs, genesis.chain_id, genesis_block_id(genesis.chain_id, genesis_hash))
    try:
        verify_committed_range(checker, blocks[0].parent_id, blocks[0].height - 1, blocks, qc)
    except SyncError as e:
        raise ProofError(f"certificate: {e}") from None
