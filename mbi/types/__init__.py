"""Protobuf messages: Zetrix's ``protocol`` package and MBI's own ``mbi`` package.

The ``*_pb2`` modules are generated from ``proto/`` by ``make proto`` (pinned protoc)
and committed. ``SignedTransaction`` wraps a received envelope without re-serializing it.
"""
from __future__ import annotations

from mbi.types import mbi_types_pb2 as mbi_pb
from mbi.types import zetrix_protocol_pb2 as protocol
from mbi.types.envelope import (
    MAX_ENVELOPE_SIZE,
    MAX_SIGNATURES,
    EnvelopeError,
    SignedTransaction,
    parse_public_key,
    sign_transaction,
    split_envelope,
)
from mbi.types.mbi_types_pb2 import FeeConfig, LedgerHeader, LogEntry, Receipt, Validator, ValidatorSet
from mbi.types.zetrix_protocol_pb2 import (
    Asset,
    AssetKey,
    Operation,
    OperationCreateAccount,
    OperationIssueAsset,
    OperationLog,
    OperationPayAsset,
    OperationPayCoin,
    OperationSetMetadata,
    OperationSetPrivilege,
    OperationSetSignerWeight,
    OperationSetThreshold,
    Signature,
    Signer,
    Transaction,
    TransactionEnv,
)

__all__ = [
    "Asset", "AssetKey", "EnvelopeError", "FeeConfig", "LedgerHeader", "LogEntry",
    "MAX_ENVELOPE_SIZE", "MAX_SIGNATURES", "Operation", "OperationCreateAccount",
    "OperationIssueAsset", "OperationLog", "OperationPayAsset", "OperationPayCoin",
    "OperationSetMetadata", "OperationSetPrivilege", "OperationSetSignerWeight",
    "OperationSetThreshold", "Receipt", "Signature", "SignedTransaction", "Signer",
    "Transaction", "TransactionEnv", "Validator", "ValidatorSet", "mbi_pb", "parse_public_key",
    "protocol", "sign_transaction", "split_envelope",
]
