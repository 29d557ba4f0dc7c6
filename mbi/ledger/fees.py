"""The fee schedule.

    gas        = len(TransactionEnv bytes as received) + Σ OP_GAS[operation type]
    actual fee = gas × tx.gas_price   (ZETA)

A transaction is valid only when tx.gas_price ≥ the network gas_price and
fee_limit ≥ actual fee (else error 111). Because gas depends only on the envelope and
its operation types, the fee is known before execution and is charged whether the
operations then succeed or fail. Fees are removed from circulation (burned) for now;
validator rewards come with the consensus layer.
"""
from __future__ import annotations

from dataclasses import dataclass

INT64_MAX = (1 << 63) - 1
UINT32_MAX = (1 << 32) - 1

# Extra gas per operation type (protocol.Operation.Type numbers). Creating an account or
# an asset class leaves a permanent state entry, so it costs more than its bytes.
OP_GAS: dict[int, int] = {
    1: 500,  # CREATE_ACCOUNT
    2: 500,  # ISSUE_ASSET
    3: 0,  # PAY_ASSET
    4: 0,  # SET_METADATA (its value is already paid for as bytes)
    5: 0,  # SET_SIGNER_WEIGHT
    6: 0,  # SET_THRESHOLD
    7: 0,  # PAY_COIN, also when it creates its dest: gas must not depend on state (docs/ledger.md §6)
    8: 0,  # LOG
    9: 0,  # SET_PRIVILEGE
    10: 0,  # UPGRADE_CONTRACT (rejected: contracts are not supported yet)
}


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
