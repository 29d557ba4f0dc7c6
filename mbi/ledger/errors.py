"""Zetrix error codes used by execution (shared by BUMO and Zetrix)."""
from __future__ import annotations

SUCCESS = 0
INTERNAL_ERROR = 1
INVALID_PARAMETER = 2
ALREADY_EXIST = 3
NOT_EXIST = 4
TX_TIMEOUT = 5
ACCESS_DENIED = 6
MATH_OVERFLOW = 7
INVALID_PUBKEY = 90
INVALID_PRIKEY = 91
ASSET_INVALID = 92
INVALID_SIGNATURE = 93
INVALID_ADDRESS = 94
MISSING_OPERATIONS = 97
TOO_MANY_OPERATIONS = 98
BAD_SEQUENCE = 99
ACCOUNT_LOW_RESERVE = 100
ACCOUNT_SOURCEDEST_EQUAL = 101
ACCOUNT_DEST_EXIST = 102
ACCOUNT_NOT_EXIST = 103
ACCOUNT_ASSET_LOW_RESERVE = 104
ACCOUNT_ASSET_AMOUNT_TOO_LARGE = 105
ACCOUNT_INIT_LOW_RESERVE = 106
FEE_NOT_ENOUGH = 111
FEE_INVALID = 112
WEIGHT_NOT_VALID = 120
THRESHOLD_NOT_VALID = 121
INVALID_DATAVERSION = 144
TX_SIZE_TOO_BIG = 146
CONTRACT_EXECUTE_FAIL = 151

# Contracts are not supported yet: creating, upgrading or triggering one is answered
# with this code (Zetrix's "contract execute fail") and a description saying so.
CONTRACTS_UNSUPPORTED = CONTRACT_EXECUTE_FAIL

# Longest error description, in UTF-8 bytes. Descriptions are prose (not committed in
# receipts), but they are stored with the transaction under a u16 length, and some
# quote a client's fields: those are clipped (``show``) and OpError enforces the bound.
MAX_DESC = 2048
_DESC_CHARS = MAX_DESC // 4 - 32  # 4 UTF-8 bytes per character at most, room for a prefix


def show(value: str, limit: int = 64) -> str:
    """repr() of a client-supplied string for an error description, clipped to ``limit``."""
    r = repr(value)
    if len(r) <= limit:
        return r
    return f"{r[:limit]}... ({len(value)} characters)"


class OpError(Exception):
    """An operation (or transaction precondition) failed with a Zetrix error code."""

    __slots__ = ("code", "desc")

    def __init__(self, code: int, desc: str) -> None:
        if len(desc) > _DESC_CHARS:  # backstop: see MAX_DESC
            desc = desc[:_DESC_CHARS] + "..."
        super().__init__(code, desc)
        self.code = code
        self.desc = desc

    def __str__(self) -> str:
        return f"error {self.code}: {self.desc}"
