"""The fee schedule.

    gas        = len(TransactionEnv bytes as received) + Σ OP_GAS[operation type]
    actual fee = gas × tx.gas_price   (ZETA)

Zetrix documents the fee as "Payload Byte Length * Gas Price" and names no
per-operation fees (docs.zetrix.com/en/tokenomics/gas-fees-and-transaction), so OP_GAS
is 0 for every type. Valid only if the source can cover fee_limit + base_reserve (100)
and fee_limit >= the fee (111). fee_limit is taken up front; on success the unused
part is refunded (actual fee = gas × gas_price), when an operation fails the whole
fee_limit is kept (BUMO ``TransactionFrm::PayFee`` / ``ReturnFee``). Fees are removed
from circulation (burned) for now; validator rewards come with consensus.
"""
from __future__ import annotations

from dataclasses import dataclass

INT64_MAX = (1 << 63) - 1
UINT32_MAX = (1 << 32) - 1

# Extra gas per operation type (protocol.Operation.Type numbers): none. Zetrix's
# documented fee is the payload bytes only. (BUMO's fee_calculate.cpp adds gas for
# ISSUE_ASSET and contract creation; Zetrix's docs do not, and where Zetrix documents
# a rule, Zetrix wins.) Kept as a table so a network can price types later.
OP_GAS: dict[int, int] = {t: 0 for t in range(1, 11)}


@dataclass(frozen=True, slots=True)
class FeeConfig:
    """Network fee parameters (genesis ``fees``): ZETA per gas, and the minimum balance
    every account must keep."""

    gas_price: int = 100
    base_reserve: int = 0

    def __post_init__(self) -> None:
        for name in ("gas_price", "base_reserve"):
            v = getattr(self, name)
            if type(v) is not int or not 0 <= v <= INT64_MAX:
                raise ValueError(f"fees.{name} must be an integer in [0, 2^63-1], got {v!r}")


def tx_gas(envelope_size: int, op_types: list[int]) -> int:
    gas = envelope_size
    for t in op_types:
        gas += OP_GAS.get(t, 0)
    return gas


# A signature as every client encodes it: the b001 key field (2 + 76) and the sign_data
# field (2 + 64) = 144 bytes, wrapped as envelope field 2 (tag 1 byte + length 2 bytes).
SIGNATURE_ENVELOPE_BYTES = 3 + (2 + 76) + (2 + 64)


def envelope_size(tx_size: int, signature_number: int) -> int:
    """Size of the envelope a client will send for a `tx_size`-byte Transaction signed by
    `signature_number` keys: what /testTransaction needs to quote a fee before signing."""
    if tx_size < 0 or signature_number < 0:
        raise ValueError("tx_size and signature_number must not be negative")
    n = tx_size
    head = 2
    while n >= 0x80:
        n >>= 7
        head += 1
    return head + tx_size + signature_number * SIGNATURE_ENVELOPE_BYTES


def estimate_fee(tx_size: int, op_types: list[int], signature_number: int, gas_price: int) -> tuple[int, int]:
    """(gas, fee) the transaction will be charged once signed by `signature_number` keys."""
    gas = tx_gas(envelope_size(tx_size, signature_number), op_types)
    return gas, gas * gas_price
