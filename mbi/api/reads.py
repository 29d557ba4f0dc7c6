"""Read-side JSON: accounts, transactions and pending transactions, from a store snapshot.

Every read request opens one `Store.snapshot()` (RocksDB snapshots of every column
family, taken together under the store's lock) and reads everything from it. A ledger is
written in one WriteBatch, so a snapshot holds either all of a ledger or none of it: a
request never sees half a block, even while the executor thread is writing the next one.
The in-memory `LedgerState` is not read here, because the executor mutates it in place.
"""
from __future__ import annotations

from typing import Any

from mbi.api.txjson import message_json
from mbi.ledger.account import Account, decode_account
from mbi.store.db import StoreSnapshot
from mbi.types.envelope import EnvelopeError, SignedTransaction
from mbi.types.records import TxRecord


def account_of(snap: StoreSnapshot, address: str) -> tuple[Account, bytes] | None:
    """(decoded account, canonical encoding) as of the snapshot's ledger."""
    e = snap.get_account_entry(address)
    if e is None:
        return None
    index, enc = e
    return decode_account(enc, index), enc


def priv_json(a: Account) -> dict[str, Any]:
    return {"master_weight": a.master_weight,
            "signers": [{"address": s, "weight": w} for s, w in sorted(a.signers.items())],
            "thresholds": {"tx_threshold": a.tx_threshold,
                           "type_thresholds": [{"type": t, "threshold": v}
                                               for t, v in sorted(a.type_thresholds.items())]}}


def assets_json(snap: StoreSnapshot, address: str, code: str | None = None,
                issuer: str | None = None) -> list[dict[str, Any]]:
    out = []
    for iss, c, amount in snap.iter_assets(address):
        if code is not None and (c != code or iss != issuer):
            continue
        out.append({"key": {"code": c, "issuer": iss, "type": 0}, "amount": amount})
    return out


def metadata_json(snap: StoreSnapshot, address: str, key: str | None = None) -> list[dict[str, Any]]:
    if key is not None:
        got = snap.get_metadata(address, key.encode("utf-8"))
        if got is None:
            return []
        return [{"key": key, "value": got[0].decode("utf-8", "replace"), "version": got[1]}]
    return [{"key": k.decode("utf-8", "replace"), "value": v.decode("utf-8", "replace"), "version": ver}
            for k, v, ver in snap.iter_metadata(address)]


def account_json(snap: StoreSnapshot, a: Account, enc: bytes, *, base: bool = False, key: str | None = None,
                 code: str | None = None, issuer: str | None = None) -> dict[str, Any]:
    # The encoding ends with assets_hash ‖ metadata_hash (mbi/ledger/account.py).
    out: dict[str, Any] = {"address": a.address, "balance": a.balance, "nonce": a.nonce,
                           "assets_hash": enc[-64:-32].hex(), "metadatas_hash": enc[-32:].hex(),
                           "priv": priv_json(a), "contract": None}
    if not base:
        out["assets"] = assets_json(snap, a.address, code, issuer)
        out["metadatas"] = metadata_json(snap, a.address, key)
    return out


def envelope_json(envelope: bytes) -> tuple[dict[str, Any], list[dict[str, str]], int]:
    """(transaction JSON, signatures JSON, size of the Transaction bytes) of an envelope."""
    try:
        stx = SignedTransaction.from_envelope(envelope)
    except EnvelopeError as e:  # stored envelopes were decoded at admission; say so if not
        return {"error": f"stored envelope does not decode: {e}"}, [], len(envelope)
    sigs = [{"public_key": pk, "sign_data": sd.hex()} for pk, _, _, sd in stx.signatures]
    return message_json(stx.tx), sigs, len(stx.tx_bytes)


def tx_record_json(r: TxRecord) -> dict[str, Any]:
    tx, sigs, size = envelope_json(r.envelope)
    return {"hash": r.hash.hex(), "ledger_seq": r.ledger_seq, "index": r.index, "close_time": r.close_time,
            "error_code": r.error_code, "error_desc": r.error_desc, "actual_fee": r.actual_fee,
            "tx_size": size, "transaction": tx, "signatures": sigs}


def pending_json(stx: SignedTransaction, arrival: float | None) -> dict[str, Any]:
    return {"hash": stx.hash.hex(), "incoming_time": int(arrival * 1e6) if arrival is not None else None,
            "status": "processing", "transaction": message_json(stx.tx),
            "signatures": [{"public_key": pk, "sign_data": sd.hex()} for pk, _, _, sd in stx.signatures]}
