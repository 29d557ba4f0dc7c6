"""Type stubs for core_ext.execpay (the ledger's inline PAY_COIN loop, natively)."""
from typing import Any, Callable

def bind(account_cls: type, signed_tx_cls: type, receipt_cls: type) -> None: ...
def run_pay_block(transactions: list[Any], overlay: dict[str, Any], base_get: Callable[[str], Any],
                  create: Callable[[str], Any], apply_tx: Callable[[Any, int], Any],
                  scan: Callable[[bytes], tuple[str, int, int, int, int, int, str, int] | None],
                  addr_ok: dict[str, bool], is_address: Callable[[str], bool], chain_id: int, ledger_seq: int,
                  min_price: int, reserve: int, op_gas: int, max_env: int) -> tuple[list[Any], int]: ...
