"""Builders for signed transactions (tests, benchmarks, devnet tools).

Not used by the node itself. Transactions are built with the generated protobuf classes,
serialized once, signed with libsodium and wrapped without re-serializing.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from mbi.crypto.keys import KeyPair
from mbi.types import zetrix_protocol_pb2 as pb
from mbi.types.envelope import SignedTransaction

Op = pb.Operation


def _op(t: int, source: str | None, **body) -> Op:
    op = Op(type=t, **body)  # type: ignore[arg-type]
    if source:
        op.source_address = source
    return op


def pay_coin(dest: str, amount: int, *, source: str | None = None, input: str = "") -> Op:
    return _op(7, source, pay_coin=pb.OperationPayCoin(dest_address=dest, amount=amount, input=input))


def create_account(dest: str, init_balance: int = 0, *, master_weight: int = 1, tx_threshold: int = 1,
                   signers: Iterable[tuple[str, int]] = (), type_thresholds: Iterable[tuple[int, int]] = (),
                   metadatas: Iterable[tuple[str, str]] = (), source: str | None = None,
                   priv: bool = True, contract: str | None = None, init_input: str = "") -> Op:
    ca = pb.OperationCreateAccount(dest_address=dest, init_balance=init_balance, init_input=init_input)
    if priv:
        ca.priv.master_weight = master_weight
        ca.priv.thresholds.tx_threshold = tx_threshold
        for a, w in signers:
            ca.priv.signers.add(address=a, weight=w)
        for t, v in type_thresholds:
            ca.priv.thresholds.type_thresholds.add(type=t, threshold=v)
    for key, value in metadatas:
        ca.metadatas.add(key=key, value=value)
    if contract is not None:
        ca.contract.payload = contract
    return _op(1, source, create_account=ca)


def issue_asset(code: str, amount: int, *, source: str | None = None) -> Op:
    return _op(2, source, issue_asset=pb.OperationIssueAsset(code=code, amount=amount))


def pay_asset(dest: str, issuer: str, code: str, amount: int, *, source: str | None = None,
              asset_type: int = 0, input: str = "") -> Op:
    return _op(3, source, pay_asset=pb.OperationPayAsset(
        dest_address=dest, input=input,
        asset=pb.Asset(key=pb.AssetKey(issuer=issuer, code=code, type=asset_type), amount=amount)))


def set_metadata(key: str, value: str = "", *, version: int = 0, delete: bool = False,
                 source: str | None = None) -> Op:
    return _op(4, source, set_metadata=pb.OperationSetMetadata(key=key, value=value, version=version,
                                                                delete_flag=delete))


def set_signer_weight(master_weight: int = -1, signers: Iterable[tuple[str, int]] = (), *,
                      source: str | None = None) -> Op:
    body = pb.OperationSetSignerWeight(master_weight=master_weight)
    for a, w in signers:
        body.signers.add(address=a, weight=w)
    return _op(5, source, set_signer_weight=body)


def set_threshold(tx_threshold: int = -1, type_thresholds: Iterable[tuple[int, int]] = (), *,
                  source: str | None = None) -> Op:
    body = pb.OperationSetThreshold(tx_threshold=tx_threshold)
    for t, v in type_thresholds:
        body.type_thresholds.add(type=t, threshold=v)
    return _op(6, source, set_threshold=body)


def set_privilege(master_weight: str = "", tx_threshold: str = "",
                  signers: Iterable[tuple[str, int]] = (), type_thresholds: Iterable[tuple[int, int]] = (),
                  *, source: str | None = None) -> Op:
    body = pb.OperationSetPrivilege(master_weight=master_weight, tx_threshold=tx_threshold)
    for a, w in signers:
        body.signers.add(address=a, weight=w)
    for t, v in type_thresholds:
        body.type_thresholds.add(type=t, threshold=v)
    return _op(9, source, set_privilege=body)


def log(topic: str, datas: Sequence[str], *, source: str | None = None) -> Op:
    return _op(8, source, log=pb.OperationLog(topic=topic, datas=list(datas)))


def upgrade_contract(dest: str, payload: str = "", *, source: str | None = None) -> Op:
    return _op(10, source, upgrade_contract=pb.OperationUpgradeContract(dest_address=dest, payload=payload))


def make_tx(signers: KeyPair | Sequence[KeyPair], nonce: int, ops: Sequence[Op], *, chain_id: int,
            source: str | None = None, gas_price: int = 100, fee_limit: int = 10**7,
            ceil_ledger_seq: int = 0, metadata: bytes = b"") -> SignedTransaction:
    """Build, serialize and sign a transaction; source defaults to the first signer."""
    keys = [signers] if isinstance(signers, KeyPair) else list(signers)
    tx = pb.Transaction(source_address=source or keys[0].address, nonce=nonce, operations=list(ops),
                        fee_limit=fee_limit, gas_price=gas_price, ceil_ledger_seq=ceil_ledger_seq,
                        chain_id=chain_id, metadata=metadata)
    blob = tx.SerializeToString()
    return SignedTransaction.from_parts(blob, [(k.encoded_public_key, k.sign(blob)) for k in keys])


def genesis_dict(genesis_key: KeyPair, validators: Sequence[KeyPair], *, chain_id: int = 7,
                 supply: int = 10**17, gas_price: int = 100, base_reserve: int = 0) -> dict:
    return {
        "chain_id": chain_id,
        "network_id": 1,
        "genesis_account": genesis_key.address,
        "total_supply": supply,
        "fees": {"gas_price": gas_price, "base_reserve": base_reserve},
        "validators": [{"address": v.address, "public_key": v.encoded_public_key} for v in validators],
    }
