"""Validity before charging: ``validate(stx, view, ledger_seq) -> (code, desc)``.

One pure function decides whether a transaction may be charged at all. The node's
ingress calls it at admission (``/submitTransaction`` answers with its code), and
``apply_block`` calls the same checks again at execution, against the state the block
has reached. A transaction that fails here is refused: no fee, no nonce, not stored.

The order is the ancestor chain's (BUMO ``src/ledger/transaction_frm.cpp``,
``TransactionFrm::CheckValid`` → ``ValidForParameter`` → ``CheckFee``, and
``operation_frm.cpp`` ``OperationFrm::CheckValid`` for each operation), so a
transaction wrong in two ways gets the same code here and there. docs/ledger.md §3
has the table, rule by rule, with the BUMO line of each.

What needs state beyond the source account (a dest that must or must not exist, a
holding, a metadata entry's version, a balance after earlier operations) is checked
while executing, where a failure costs the whole fee_limit (operations.py).
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

from mbi.crypto.keys import _valid_addresses as _addr_ok
from mbi.crypto.keys import is_address
from mbi.ledger import errors as E
from mbi.ledger.account import Account
from mbi.ledger.errors import OpError
from mbi.ledger.fees import INT64_MAX, OP_GAS, UINT32_MAX, FeeConfig, tx_gas
from mbi.types.envelope import MAX_ENVELOPE_SIZE, MAX_SIGNATURES, SignedTransaction

MAX_OPERATIONS = 100  # BUMO utils::MAX_OPERATIONS_NUM_PER_TRANSACTION (utils.h:47)
MAX_TX_METADATA = 256 * 1024  # General::METADATA_MAX_VALUE_SIZE, for tx and op metadata
MAX_SIGNERS = 100  # protocol Signer.Limit.SIGNER
MAX_METADATA_KEY = 1024
MAX_METADATA_VALUE = 256 * 1024
MAX_ASSET_CODE = 64
MAX_LOG_TOPIC = 128
MAX_LOG_DATA = 1024
# Items per LOG: the receipt commits the count as u16 (header.receipt_preimage).
MAX_LOG_DATAS = 0xFFFF
# Type thresholds may name operation types 1-100 (BUMO reserves room for new types).
MAX_THRESHOLD_TYPE = 100
# What BUMO's utils::String::Trim strips (IsSpace: the C locale's isspace).
_SPACE = " \t\n\v\f\r"

_NO_CONTRACTS = "contracts are not supported on this network yet"


@runtime_checkable
class ValidationView(Protocol):
    """What ``validate`` reads: one account by address (None when it does not exist).

    ``LedgerState`` (committed state) implements it; so does the executor's overlay.
    The account returned must not be mutated.
    """

    def get_account(self, address: str) -> Account | None: ...


def _blen(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def _addr(a: str) -> bool:
    return bool(_addr_ok.get(a)) or is_address(a)


# -- operations: the checks that need no state --------------------------------------
def _signer_checks(signers, owner: str, dup_check: bool) -> None:
    """Signer entries in BUMO's order: weight (120), the owner itself (94), address
    (94), repeated (2, only where BUMO checks it)."""
    seen: set[str] = set()
    for s in signers:
        w = s.weight
        if w < 0 or w > UINT32_MAX:
            raise OpError(E.WEIGHT_NOT_VALID, f"signer weight {w} out of range [0, 2^32-1]")
        a = s.address
        if a == owner:
            raise OpError(E.INVALID_ADDRESS, f"signer {E.show(a)} is the account itself (use master_weight)")
        if not _addr(a):
            raise OpError(E.INVALID_ADDRESS, f"signer address {E.show(a)} is invalid")
        if dup_check:
            if a in seen:
                raise OpError(E.INVALID_PARAMETER, f"signer {a} appears twice")
            seen.add(a)


def _type_threshold_checks(tts, bad_type_code: int, dup_check: bool) -> None:
    seen: set[int] = set()
    for tt in tts:
        t = tt.type
        if not 1 <= t <= MAX_THRESHOLD_TYPE:
            raise OpError(bad_type_code, f"type threshold for operation type {t}; types run 1-{MAX_THRESHOLD_TYPE}")
        if tt.threshold < 0:
            raise OpError(E.THRESHOLD_NOT_VALID, f"threshold {tt.threshold} for type {t} is negative")
        if dup_check:
            if t in seen:
                raise OpError(E.INVALID_PARAMETER, f"operation type {t} has two thresholds")
            seen.add(t)


def _check_metadata_kv(key: str, value: str) -> None:
    kl = _blen(key)
    if not 1 <= kl <= MAX_METADATA_KEY:
        raise OpError(E.INVALID_PARAMETER, f"metadata key must be 1-{MAX_METADATA_KEY} bytes, got {kl}")
    vl = _blen(value)
    if vl > MAX_METADATA_VALUE:
        raise OpError(E.INVALID_PARAMETER, f"metadata value must be at most {MAX_METADATA_VALUE} bytes, got {vl}")


def _is_canonical_int(text: str) -> bool:
    # BUMO's SafeStoi64: at most 20 characters and equal to the int64 printed back.
    if len(text) > 20:
        return False
    try:
        v = int(text)
    except ValueError:
        return False
    return -INT64_MAX - 1 <= v <= INT64_MAX and str(v) == text


def _create_account(op, src: str) -> None:
    ca = op.create_account
    if ca.HasField("contract") or ca.init_input:
        raise OpError(E.CONTRACTS_UNSUPPORTED, f"creating a contract account: {_NO_CONTRACTS}")
    dest = ca.dest_address
    if not _addr(dest):
        raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
    if not ca.HasField("priv"):
        raise OpError(E.INVALID_PARAMETER, "create_account.priv is required")
    priv = ca.priv
    mw = priv.master_weight
    if mw < 0 or mw > UINT32_MAX:
        raise OpError(E.WEIGHT_NOT_VALID, f"master_weight {mw} out of range [0, 2^32-1]")
    if len(priv.signers) > MAX_SIGNERS:
        raise OpError(E.INVALID_PARAMETER, f"{len(priv.signers)} signers; at most {MAX_SIGNERS}")
    _signer_checks(priv.signers, dest, dup_check=True)
    if not priv.HasField("thresholds"):
        raise OpError(E.INVALID_PARAMETER, "create_account.priv.thresholds is required")
    th = priv.thresholds
    if th.tx_threshold < 0:
        raise OpError(E.THRESHOLD_NOT_VALID, f"tx_threshold {th.tx_threshold} is negative")
    _type_threshold_checks(th.type_thresholds, E.INVALID_PARAMETER, dup_check=True)
    for kp in ca.metadatas:
        _check_metadata_kv(kp.key, kp.value)
    # dest == source is not refused here: BUMO finds the dest existing at execution (102).


def _issue_asset(op, src: str) -> None:
    ia = op.issue_asset
    if ia.amount <= 0:
        raise OpError(E.ASSET_INVALID, f"issue amount {ia.amount} must be positive")
    code = ia.code
    n = _blen(code)
    if not 1 <= n <= MAX_ASSET_CODE or code.strip(_SPACE) != code:
        raise OpError(E.ASSET_INVALID, f"asset code {E.show(code)} must be 1-{MAX_ASSET_CODE} bytes "
                      "with no leading or trailing whitespace")


def _pay_asset(op, src: str) -> None:
    pa = op.pay_asset
    if pa.HasField("asset"):
        asset = pa.asset
        k = asset.key
        if k.type != 0:
            raise OpError(E.ASSET_INVALID, f"asset type {k.type} is not supported (only 0)")
        if asset.amount <= 0:
            raise OpError(E.ASSET_INVALID, f"amount {asset.amount} must be positive")
        n = _blen(k.code)
        if not 1 <= n <= MAX_ASSET_CODE:
            raise OpError(E.ASSET_INVALID, f"asset code must be 1-{MAX_ASSET_CODE} bytes, got {n}")
        if not _addr(k.issuer):
            raise OpError(E.ASSET_INVALID, f"asset issuer {E.show(k.issuer)} is not a valid address")
    dest = pa.dest_address
    if dest == src:
        raise OpError(E.ACCOUNT_SOURCEDEST_EQUAL, "source and dest are the same account")
    if not _addr(dest):
        raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
    if pa.input:
        raise OpError(E.CONTRACTS_UNSUPPORTED, f"pay_asset.input would trigger a contract: {_NO_CONTRACTS}")


def _set_metadata(op, src: str) -> None:
    sm = op.set_metadata
    _check_metadata_kv(sm.key, sm.value)


def _set_signer_weight(op, src: str) -> None:
    sw = op.set_signer_weight
    mw = sw.master_weight
    if mw < -1 or mw > UINT32_MAX:
        raise OpError(E.WEIGHT_NOT_VALID, f"master_weight {mw} out of range [-1, 2^32-1]")
    _signer_checks(sw.signers, src, dup_check=False)


def _set_threshold(op, src: str) -> None:
    st = op.set_threshold
    if st.tx_threshold < -1:
        raise OpError(E.THRESHOLD_NOT_VALID, f"tx_threshold {st.tx_threshold} out of range [-1, 2^63-1]")
    _type_threshold_checks(st.type_thresholds, E.THRESHOLD_NOT_VALID, dup_check=False)


def _pay_coin(op, src: str) -> None:
    p = op.pay_coin
    if p.amount < 0:
        raise OpError(E.INVALID_PARAMETER, f"amount {p.amount} is negative")
    dest = p.dest_address
    if dest == src:
        raise OpError(E.ACCOUNT_SOURCEDEST_EQUAL, "source and dest are the same account")
    if not _addr(dest):
        raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
    if p.input:
        raise OpError(E.CONTRACTS_UNSUPPORTED, f"pay_coin.input would trigger a contract: {_NO_CONTRACTS}")


def _log(op, src: str) -> None:
    lg = op.log
    tl = _blen(lg.topic)
    if not 1 <= tl <= MAX_LOG_TOPIC:
        raise OpError(E.INVALID_PARAMETER, f"log topic must be 1-{MAX_LOG_TOPIC} bytes, got {tl}")
    datas = lg.datas
    if len(datas) > MAX_LOG_DATAS:
        raise OpError(E.INVALID_PARAMETER, f"log has {len(datas)} data items; at most {MAX_LOG_DATAS}")
    for d in datas:
        dl = _blen(d)
        if not 1 <= dl <= MAX_LOG_DATA:
            raise OpError(E.INVALID_PARAMETER, f"log data items must be 1-{MAX_LOG_DATA} bytes, got {dl}")


def _set_privilege(op, src: str) -> None:
    sp = op.set_privilege
    if sp.master_weight:
        if not _is_canonical_int(sp.master_weight) or not 0 <= int(sp.master_weight) <= UINT32_MAX:
            raise OpError(E.WEIGHT_NOT_VALID,
                          f"master_weight {E.show(sp.master_weight)} is not an integer in [0, 2^32-1]")
    _signer_checks(sp.signers, src, dup_check=True)
    if sp.tx_threshold:
        if not _is_canonical_int(sp.tx_threshold) or int(sp.tx_threshold) < 0:
            raise OpError(E.THRESHOLD_NOT_VALID,
                          f"tx_threshold {E.show(sp.tx_threshold)} is not an integer in [0, 2^63-1]")
    _type_threshold_checks(sp.type_thresholds, E.INVALID_PARAMETER, dup_check=True)


def _upgrade_contract(op, src: str) -> None:
    raise OpError(E.CONTRACTS_UNSUPPORTED, f"upgrading a contract: {_NO_CONTRACTS}")


_CHECKS: dict[int, Callable] = {
    1: _create_account, 2: _issue_asset, 3: _pay_asset, 4: _set_metadata, 5: _set_signer_weight,
    6: _set_threshold, 7: _pay_coin, 8: _log, 9: _set_privilege, 10: _upgrade_contract,
}


def check_operation(op, tx_src: str) -> None:
    """Raise OpError for an operation whose parameters are wrong (no state needed)."""
    src = op.source_address or tx_src
    if not _addr(src):
        raise OpError(E.INVALID_ADDRESS, f"operation source address {E.show(src)} is invalid")
    if len(op.metadata) > MAX_TX_METADATA:
        raise OpError(E.INVALID_PARAMETER, f"operation metadata is {len(op.metadata)} bytes; at most {MAX_TX_METADATA}")
    if op.expr_condition:
        raise OpError(E.INVALID_PARAMETER, "expr_condition is not supported")
    check = _CHECKS.get(op.type)
    if check is None:
        raise OpError(E.INVALID_PARAMETER, f"unknown operation type {op.type}")
    check(op, src)


# -- authorization -------------------------------------------------------------------
def authorized(acct: Account, signed: frozenset[str], op_type: int) -> bool:
    """Do the valid signers' weights reach the account's threshold for ``op_type``?

    op_type 0 means the transaction itself (tx_threshold). A type threshold, when set
    (> 0), replaces tx_threshold for operations of that type. A threshold below 1 still
    needs some weight: an account nobody signed for is never authorized.
    """
    thr = acct.tx_threshold
    tts = acct.type_thresholds
    if op_type and tts:
        t = tts.get(op_type)
        if t:
            thr = t
    if thr < 1:
        thr = 1
    w = acct.master_weight if acct.address in signed else 0
    if w >= thr:
        return True
    for a, wt in acct.signers.items():
        if a in signed:
            w += wt
            if w >= thr:
                return True
    return False


def signers_of(stx: SignedTransaction) -> frozenset[str]:
    """Addresses whose signatures decoded and verified (verifying now if not yet done)."""
    v = stx.valid_signers
    if v is not None:
        return v
    if stx.sig_ok is None:
        from mbi.ledger.execute import verify_signatures

        verify_signatures((stx,))
        v = stx.valid_signers
        if v is not None:
            return v
    # sig_ok set by a caller that verified every signature itself
    return stx.signer_addresses if stx.sig_ok else frozenset()


# -- the transaction -----------------------------------------------------------------
class Invalid(Exception):
    __slots__ = ("code", "desc")

    def __init__(self, code: int, desc: str) -> None:
        self.code = code
        self.desc = desc


_PAY_GAS = OP_GAS.get(7, 0)


def _pay_passes(stx: SignedTransaction, pay: tuple, get: Callable[[str], Account | None], chain_id: int,
                fees: FeeConfig, ledger_seq: int, future_nonce: bool) -> tuple[Account, int] | None:
    """`precheck`'s result for the common PAY_COIN when it passes every check, read from
    the decoder's native scan (`SignedTransaction.pay`) without decoding the message;
    None when any check might fail, and `precheck` then runs its checks in BUMO's order
    on the decoded message, for the exact code. The scan takes only one PAY_COIN from
    the transaction's own source, with no metadata, condition or input, so the checks of
    those fields pass by construction (tests/test_ledger_validity_pay.py holds both
    routes to the same verdict)."""
    src, nonce, fee_limit, gas_price, ceil, tx_chain, dest, amount = pay
    acct = get(src)
    if acct is None or tx_chain != chain_id:
        return None
    if nonce <= acct.nonce or (not future_nonce and nonce != acct.nonce + 1):
        return None
    size = len(stx.envelope)
    if size >= MAX_ENVELOPE_SIZE or (ceil and ceil < ledger_seq) or fee_limit < 0 \
            or gas_price < fees.gas_price or amount < 0 or dest == src:
        return None
    if not (_addr_ok.get(src) or is_address(src)) or not (_addr_ok.get(dest) or is_address(dest)):
        return None
    thr = acct.tx_threshold
    sigs = stx.signatures
    if not (len(sigs) == 1 and stx.sig_ok is True and sigs[0][2] == src
            and acct.master_weight >= (thr if thr > 1 else 1)):
        return None
    fee = (size + _PAY_GAS) * gas_price
    if acct.balance - fee_limit < fees.base_reserve or fee > INT64_MAX or fee_limit < fee:
        return None
    return acct, fee


def precheck(stx: SignedTransaction, get: Callable[[str], Account | None], chain_id: int, fees: FeeConfig,
             ledger_seq: int, future_nonce: bool = False) -> tuple[Account, int]:
    """Every check before charging; returns (source account, fee = gas × gas_price).

    Raises Invalid(code, desc) on the first failure, in BUMO's order.
    """
    pay = stx.pay
    if pay is not None:
        passed = _pay_passes(stx, pay, get, chain_id, fees, ledger_seq, future_nonce)
        if passed is not None:
            return passed
    tx = stx.tx
    src = tx.source_address
    # TransactionFrm::CheckValid: source, nonce not used yet, chain.
    acct = get(src)
    if acct is None:
        raise Invalid(E.ACCOUNT_NOT_EXIST, f"source account {E.show(src)} does not exist")
    nonce = tx.nonce
    if nonce <= acct.nonce:
        raise Invalid(E.BAD_SEQUENCE, f"nonce {nonce} is already used; the account's nonce is {acct.nonce}")
    if tx.chain_id != chain_id:
        raise Invalid(E.INVALID_PARAMETER, f"chain_id {tx.chain_id} does not match this network's {chain_id}")
    # TransactionFrm::ValidForParameter
    size = len(stx.envelope)
    if size >= MAX_ENVELOPE_SIZE:
        raise Invalid(E.TX_SIZE_TOO_BIG, f"envelope is {size} bytes; it must be below {MAX_ENVELOPE_SIZE}")
    txops = tx.operations
    nops = len(txops)
    if nops == 0:
        raise Invalid(E.MISSING_OPERATIONS, "transaction has no operations")
    if nops > MAX_OPERATIONS:
        raise Invalid(E.TOO_MANY_OPERATIONS, f"{nops} operations; at most {MAX_OPERATIONS}")
    if len(tx.metadata) > MAX_TX_METADATA:
        raise Invalid(E.INVALID_PARAMETER, f"transaction metadata is {len(tx.metadata)} bytes; at most {MAX_TX_METADATA}")
    ceil = tx.ceil_ledger_seq
    if ceil > 0:
        if ceil < ledger_seq:
            raise Invalid(E.INVALID_PARAMETER, f"expired: ceil_ledger_seq {ceil} < ledger {ledger_seq}")
    elif ceil < 0:
        raise Invalid(E.INVALID_PARAMETER, f"ceil_ledger_seq {ceil} is negative")
    fee_limit = tx.fee_limit
    if fee_limit < 0:
        raise Invalid(E.INVALID_PARAMETER, f"fee_limit {fee_limit} is negative")
    gas_price = tx.gas_price
    if gas_price < fees.gas_price:
        raise Invalid(E.INVALID_PARAMETER, f"gas_price {gas_price} is below the network's {fees.gas_price}")
    if len(stx.signatures) > MAX_SIGNATURES:  # the envelope decoder refuses these already
        raise Invalid(E.INVALID_PARAMETER, f"more than {MAX_SIGNATURES} signatures")
    if tx.expr_condition:
        raise Invalid(E.INVALID_PARAMETER, "expr_condition is not supported")
    for k in range(nops):
        try:
            check_operation(txops[k], src)
        except OpError as e:
            raise Invalid(e.code, f"operation {k}: {e.desc}") from None
    if not future_nonce and nonce != acct.nonce + 1:
        raise Invalid(E.BAD_SEQUENCE, f"nonce {nonce}; the account's next nonce is {acct.nonce + 1}")
    # Signature weight: the common case first (one valid signature, the source's own
    # master key reaching tx_threshold), without building the signer set.
    thr = acct.tx_threshold
    sigs = stx.signatures
    if not (len(sigs) == 1 and stx.sig_ok is True and sigs[0][2] == src
            and acct.master_weight >= (thr if thr > 1 else 1)):
        if not authorized(acct, signers_of(stx), 0):
            raise Invalid(E.INVALID_SIGNATURE, "valid signatures' weights do not reach the source account's tx_threshold")
    # TransactionFrm::CheckFee
    reserve = fees.base_reserve
    if acct.balance - fee_limit < reserve:
        raise Invalid(E.ACCOUNT_LOW_RESERVE,
                      f"balance {acct.balance} cannot cover fee_limit {fee_limit} and keep reserve {reserve}")
    gas = size + OP_GAS.get(txops[0].type, 0) if nops == 1 else tx_gas(size, [op.type for op in txops])
    fee = gas * gas_price
    if fee > INT64_MAX:
        raise Invalid(E.INVALID_PARAMETER, f"fee {gas} gas x {gas_price} overflows int64")
    if fee_limit < fee:
        raise Invalid(E.FEE_NOT_ENOUGH, f"fee_limit {fee_limit} is below the fee {fee} ({gas} gas x {gas_price})")
    return acct, fee


def validate(stx: SignedTransaction, view: ValidationView, ledger_seq: int, *, config=None,
             future_nonce: bool = False) -> tuple[int, str]:
    """(0, "") when ``stx`` may be charged and executed in ledger ``ledger_seq``; else
    the Zetrix error code and a description. Pure: reads ``view``, changes nothing
    (except recording signature results on ``stx``, verifying them if not yet done).

    ``config`` (a ChainConfig) defaults to ``view.config``. ``future_nonce=True`` is
    for admission to a pool that queues transactions: a nonce above the next one is
    accepted (as BUMO's ``CheckValid`` does at admission); the used ones still get 99.
    """
    cfg = config if config is not None else view.config  # type: ignore[attr-defined]
    try:
        precheck(stx, view.get_account, cfg.chain_id, cfg.fees, ledger_seq, future_nonce)
    except Invalid as e:
        return e.code, e.desc
    return E.SUCCESS, ""
