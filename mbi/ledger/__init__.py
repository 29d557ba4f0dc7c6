"""The Zetrix-compatible ledger: accounts, operations, fees and deterministic execution.

Pure: nothing here does I/O. ``apply_block`` executes; ``LedgerState`` holds state and
the state tree; ``Ledger`` chains ledgers from genesis and produces store records.
"""
from __future__ import annotations

from mbi.ledger.account import Account, decode_account
from mbi.ledger.chain import ClosedLedger, Ledger
from mbi.ledger.errors import OpError
from mbi.ledger.execute import (
    BlockChanges,
    ChainConfig,
    Executor,
    Receipt,
    StateView,
    apply_block,
    verify_signatures,
)
from mbi.ledger.fees import OP_GAS, FeeConfig, envelope_size, estimate_fee, tx_gas
from mbi.ledger.genesis import Genesis, GenesisError, Validator
from mbi.ledger.header import build_header, check_header, header_hash, merkle_root, receipt_entry
from mbi.ledger.state import LedgerState, StateDelta
from mbi.ledger.validity import ValidationView, check_operation, validate

__all__ = [
    "Account", "BlockChanges", "ChainConfig", "ClosedLedger", "Executor", "FeeConfig", "Genesis",
    "GenesisError", "Ledger", "LedgerState", "OP_GAS", "OpError", "Receipt", "StateDelta",
    "StateView", "Validator", "apply_block", "envelope_size", "estimate_fee", "build_header", "check_header", "decode_account",
    "header_hash", "merkle_root", "receipt_entry", "tx_gas", "verify_signatures",
    "ValidationView", "check_operation", "validate",
]
