"""The nine operations, with Zetrix's limits and error codes.

Every handler validates completely before it writes, so a failing operation leaves the
overlay as it found it; the executor's undo log covers earlier operations of the same
transaction. Check order inside each handler is part of consensus (it decides which
error code a doubly-wrong operation gets) and is listed in docs/ledger.md.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from mbi.crypto.keys import is_address
from mbi.ledger import errors as E
from mbi.ledger.errors import OpError
from mbi.ledger.fees import INT64_MAX, UINT32_MAX

if TYPE_CHECKING:
    from mbi.ledger.account import Account
    from mbi.ledger.execute import Executor

CREATE_ACCOUNT = 1
ISSUE_ASSET = 2
PAY_ASSET = 3
SET_METADATA = 4
SET_SIGNER_WEIGHT = 5
SET_THRESHOLD = 6
PAY_COIN = 7
LOG = 8
SET_PRIVILEGE = 9
UPGRADE_CONTRACT = 10
OP_TYPES = range(1, 11)

MAX_SIGNERS = 100
MAX_METADATA_KEY = 1024
MAX_METADATA_VALUE = 256 * 1024
MAX_ASSET_CODE = 64
MAX_LOG_TOPIC = 128
MAX_LOG_DATA = 1024
# Items per LOG: the receipt commits the count as u16 (header.receipt_preimage).
MAX_LOG_DATAS = 0xFFFF

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,19})")
_NO_CONTRACTS = "contracts are not supported on this network yet"


def _blen(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def apply_operation(ex: "Executor", op, tx_src: str, signed: frozenset[str]) -> None:
    t = op.type
    src = op.source_address or tx_src
    if src == tx_src:
        sacct = ex.get(src)
    else:
        if not is_address(src):
            raise OpError(E.INVALID_ADDRESS, f"operation source address {E.show(src)} is invalid")
        sacct = ex.get(src)
        if sacct is None:
            raise OpError(E.ACCOUNT_NOT_EXIST, f"operation source account {src} does not exist")
    assert sacct is not None
    if op.expr_condition:
        raise OpError(E.INVALID_PARAMETER, "expr_condition is not supported")
    handler = _HANDLERS.get(t)
    if handler is None:
        raise OpError(E.INVALID_PARAMETER, f"unknown operation type {t}")
    if not ex.authorized(sacct, signed, t):
        raise OpError(E.INVALID_SIGNATURE,
                      f"signature weights do not reach {src}'s threshold for operation type {t}")
    handler(ex, op, src, sacct)


# -- coins -----------------------------------------------------------------------------
def pay_coin(ex: "Executor", op, src: str, sacct: "Account") -> None:
    p = op.pay_coin
    if p.input:
        raise OpError(E.CONTRACTS_UNSUPPORTED, f"pay_coin.input would trigger a contract: {_NO_CONTRACTS}")
    amount = p.amount
    if amount < 0:
        raise OpError(E.INVALID_PARAMETER, f"amount {amount} is negative")
    dest = p.dest_address
    if not is_address(dest):
        raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
    if dest == src:
        raise OpError(E.ACCOUNT_SOURCEDEST_EQUAL, "source and dest are the same account")
    d = ex.get(dest)
    # A missing dest is created with the payment as its balance (as in BUMO/Zetrix:
    # wallets send to fresh addresses), provided the amount covers the base reserve.
    if d is None and amount < ex.base_reserve:
        raise OpError(E.ACCOUNT_INIT_LOW_RESERVE,
                      f"amount {amount} is below the base reserve {ex.base_reserve} needed to create {dest}")
    if sacct.balance - amount < ex.base_reserve:
        raise OpError(E.ACCOUNT_LOW_RESERVE,
                      f"balance {sacct.balance} cannot pay {amount} and keep reserve {ex.base_reserve}")
    if d is None:
        ex.writable(src).balance -= amount  # type: ignore[union-attr]
        ex.create(dest).balance = amount  # nonce 0, master_weight 1, tx_threshold 1
        return
    if d.balance + amount > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, "dest balance would overflow int64")
    ex.writable(src).balance -= amount  # type: ignore[union-attr]
    ex.writable(dest).balance += amount  # type: ignore[union-attr]


# -- accounts --------------------------------------------------------------------------
def _signer_list(signers, owner: str, allow_zero: bool) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    if len(signers) > MAX_SIGNERS:
        raise OpError(E.INVALID_PARAMETER, f"{len(signers)} signers; at most {MAX_SIGNERS}")
    for s in signers:
        a = s.address
        w = s.weight
        if not is_address(a):
            raise OpError(E.INVALID_ADDRESS, f"signer address {E.show(a)} is invalid")
        if a == owner:
            raise OpError(E.INVALID_PARAMETER, "an account cannot be its own signer (use master_weight)")
        if a in seen:
            raise OpError(E.INVALID_PARAMETER, f"signer {a} appears twice")
        seen.add(a)
        if w < (0 if allow_zero else 1) or w > UINT32_MAX:
            raise OpError(E.WEIGHT_NOT_VALID, f"signer weight {w} out of range")
        out.append((a, w))
    return out


def _type_threshold_list(tts) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    seen: set[int] = set()
    for tt in tts:
        t = tt.type
        if t not in OP_TYPES:
            raise OpError(E.INVALID_PARAMETER, f"type threshold for unknown operation type {t}")
        if t in seen:
            raise OpError(E.INVALID_PARAMETER, f"operation type {t} has two thresholds")
        seen.add(t)
        if tt.threshold < 0:
            raise OpError(E.THRESHOLD_NOT_VALID, f"threshold {tt.threshold} is negative")
        out.append((t, tt.threshold))
    return out


def create_account(ex: "Executor", op, src: str, sacct: "Account") -> None:
    ca = op.create_account
    if ca.HasField("contract") or ca.init_input:
        raise OpError(E.CONTRACTS_UNSUPPORTED, f"creating a contract account: {_NO_CONTRACTS}")
    dest = ca.dest_address
    if not is_address(dest):
        raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
    if dest == src:
        raise OpError(E.ACCOUNT_SOURCEDEST_EQUAL, "source and dest are the same account")
    if not ca.HasField("priv"):
        raise OpError(E.INVALID_PARAMETER, "create_account.priv is required")
    priv = ca.priv
    mw = priv.master_weight
    if not 0 <= mw <= UINT32_MAX:
        raise OpError(E.WEIGHT_NOT_VALID, f"master_weight {mw} out of range [0, 2^32-1]")
    txt = priv.thresholds.tx_threshold
    if txt < 0:
        raise OpError(E.THRESHOLD_NOT_VALID, f"tx_threshold {txt} is negative")
    signers = _signer_list(priv.signers, dest, allow_zero=False)
    tts = [(t, v) for t, v in _type_threshold_list(priv.thresholds.type_thresholds) if v]
    md: dict[str, tuple[str, int]] = {}
    for kp in ca.metadatas:
        _check_metadata(kp.key, kp.value)
        if kp.key in md:
            raise OpError(E.INVALID_PARAMETER, f"metadata key {E.show(kp.key)} appears twice")
        md[kp.key] = (kp.value, 1)
    init = ca.init_balance
    if init < 0:
        raise OpError(E.INVALID_PARAMETER, f"init_balance {init} is negative")
    if init < ex.base_reserve:
        raise OpError(E.ACCOUNT_INIT_LOW_RESERVE, f"init_balance {init} is below the base reserve {ex.base_reserve}")
    if ex.get(dest) is not None:
        raise OpError(E.ACCOUNT_DEST_EXIST, f"account {dest} already exists")
    if sacct.balance - init < ex.base_reserve:
        raise OpError(E.ACCOUNT_LOW_RESERVE,
                      f"balance {sacct.balance} cannot fund {init} and keep reserve {ex.base_reserve}")
    ex.writable(src).balance -= init  # type: ignore[union-attr]
    a = ex.create(dest)
    a.balance = init
    a.master_weight = mw
    a.tx_threshold = txt
    if signers:
        a.signers = dict(signers)
    if tts:
        a.type_thresholds = dict(tts)
    if md:
        a.metadata = md


def _updated(table: dict, updates: list) -> dict | None:
    """A copy of ``table`` with (key, value) updates applied, value 0 deleting the key;
    None when there are no updates (copy-on-write: the account keeps its dict)."""
    if not updates:
        return None
    new = dict(table)
    for k, v in updates:
        if v == 0:
            new.pop(k, None)
        else:
            new[k] = v
    return new


def _apply_signers(sacct: "Account", updates: list[tuple[str, int]]) -> dict[str, int] | None:
    new = _updated(sacct.signers, updates)
    if new is not None and len(new) > MAX_SIGNERS:
        raise OpError(E.INVALID_PARAMETER, f"account would have {len(new)} signers; at most {MAX_SIGNERS}")
    return new


def _apply_thresholds(sacct: "Account", updates: list[tuple[int, int]]) -> dict[int, int] | None:
    return _updated(sacct.type_thresholds, updates)


def set_signer_weight(ex: "Executor", op, src: str, sacct: "Account") -> None:
    sw = op.set_signer_weight
    mw = sw.master_weight
    if mw < -1 or mw > UINT32_MAX:
        raise OpError(E.WEIGHT_NOT_VALID, f"master_weight {mw} out of range [-1, 2^32-1]")
    signers = _apply_signers(sacct, _signer_list(sw.signers, src, allow_zero=True))
    a = ex.writable(src)
    assert a is not None
    if mw != -1:
        a.master_weight = mw
    if signers is not None:
        a.signers = signers


def set_threshold(ex: "Executor", op, src: str, sacct: "Account") -> None:
    st = op.set_threshold
    txt = st.tx_threshold
    if txt < -1:
        raise OpError(E.THRESHOLD_NOT_VALID, f"tx_threshold {txt} out of range [-1, 2^63-1]")
    tts = _apply_thresholds(sacct, _type_threshold_list(st.type_thresholds))
    a = ex.writable(src)
    assert a is not None
    if txt != -1:
        a.tx_threshold = txt
    if tts is not None:
        a.type_thresholds = tts


def set_privilege(ex: "Executor", op, src: str, sacct: "Account") -> None:
    sp = op.set_privilege
    mw = None
    if sp.master_weight:
        if not _DECIMAL.fullmatch(sp.master_weight) or int(sp.master_weight) > UINT32_MAX:
            raise OpError(E.WEIGHT_NOT_VALID, f"master_weight {E.show(sp.master_weight)} is not an integer in [0, 2^32-1]")
        mw = int(sp.master_weight)
    txt = None
    if sp.tx_threshold:
        if not _DECIMAL.fullmatch(sp.tx_threshold) or int(sp.tx_threshold) > INT64_MAX:
            raise OpError(E.THRESHOLD_NOT_VALID, f"tx_threshold {E.show(sp.tx_threshold)} is not an integer in [0, 2^63-1]")
        txt = int(sp.tx_threshold)
    signers = _apply_signers(sacct, _signer_list(sp.signers, src, allow_zero=True))
    tts = _apply_thresholds(sacct, _type_threshold_list(sp.type_thresholds))
    a = ex.writable(src)
    assert a is not None
    if mw is not None:
        a.master_weight = mw
    if txt is not None:
        a.tx_threshold = txt
    if signers is not None:
        a.signers = signers
    if tts is not None:
        a.type_thresholds = tts


# -- assets ----------------------------------------------------------------------------
def _check_code(code: str) -> None:
    if not 1 <= _blen(code) <= MAX_ASSET_CODE:
        raise OpError(E.ASSET_INVALID, f"asset code must be 1-{MAX_ASSET_CODE} bytes, got {_blen(code)}")


def issue_asset(ex: "Executor", op, src: str, sacct: "Account") -> None:
    ia = op.issue_asset
    _check_code(ia.code)
    amount = ia.amount
    if amount <= 0:
        raise OpError(E.ASSET_INVALID, f"issue amount {amount} must be positive")
    key = (src, ia.code)
    new = sacct.assets.get(key, 0) + amount
    if new > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, "asset balance would overflow int64")
    a = ex.writable(src)
    assert a is not None
    a.set_asset(key, new)


def pay_asset(ex: "Executor", op, src: str, sacct: "Account") -> None:
    pa = op.pay_asset
    if pa.input:
        raise OpError(E.CONTRACTS_UNSUPPORTED, f"pay_asset.input would trigger a contract: {_NO_CONTRACTS}")
    asset = pa.asset
    amount = asset.amount
    if amount <= 0:
        raise OpError(E.INVALID_PARAMETER, f"amount {amount} must be positive")
    k = asset.key
    _check_code(k.code)
    if not is_address(k.issuer):
        raise OpError(E.ASSET_INVALID, f"asset issuer {E.show(k.issuer)} is not a valid address")
    if k.type != 0:
        raise OpError(E.ASSET_INVALID, f"asset type {k.type} is not supported (only 0)")
    dest = pa.dest_address
    if not is_address(dest):
        raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
    if dest == src:
        raise OpError(E.ACCOUNT_SOURCEDEST_EQUAL, "source and dest are the same account")
    d = ex.get(dest)
    if d is None:
        raise OpError(E.ACCOUNT_NOT_EXIST, f"dest account {dest} does not exist")
    key = (k.issuer, k.code)
    have = sacct.assets.get(key, 0)
    if have < amount:
        raise OpError(E.ACCOUNT_ASSET_LOW_RESERVE, f"holds {have} of {k.code}/{k.issuer}, cannot pay {amount}")
    dnew = d.assets.get(key, 0) + amount
    if dnew > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, "dest asset balance would overflow int64")
    s = ex.writable(src)
    assert s is not None
    s.set_asset(key, have - amount)  # 0 removes the holding
    dw = ex.writable(dest)
    assert dw is not None
    dw.set_asset(key, dnew)


# -- metadata and logs -----------------------------------------------------------------
def _check_metadata(key: str, value: str) -> None:
    kl = _blen(key)
    if not 1 <= kl <= MAX_METADATA_KEY:
        raise OpError(E.INVALID_PARAMETER, f"metadata key must be 1-{MAX_METADATA_KEY} bytes, got {kl}")
    vl = _blen(value)
    if vl > MAX_METADATA_VALUE:
        raise OpError(E.INVALID_PARAMETER, f"metadata value must be at most {MAX_METADATA_VALUE} bytes, got {vl}")


def set_metadata(ex: "Executor", op, src: str, sacct: "Account") -> None:
    sm = op.set_metadata
    key = sm.key
    _check_metadata(key, sm.value)
    version = sm.version
    if version < 0:
        raise OpError(E.INVALID_PARAMETER, f"version {version} is negative")
    cur = sacct.metadata.get(key)
    curver = cur[1] if cur is not None else 0
    if version and version != curver:
        raise OpError(E.INVALID_DATAVERSION, f"version {version} does not match the current version {curver}")
    if sm.delete_flag:
        if cur is None:
            raise OpError(E.NOT_EXIST, f"metadata key {E.show(key)} does not exist")
        a = ex.writable(src)
        assert a is not None
        a.set_meta(key, None)
        return
    if curver + 1 > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, "metadata version would overflow int64")
    a = ex.writable(src)
    assert a is not None
    a.set_meta(key, (sm.value, curver + 1))


def log(ex: "Executor", op, src: str, sacct: "Account") -> None:
    lg = op.log
    tl = _blen(lg.topic)
    if not 1 <= tl <= MAX_LOG_TOPIC:
        raise OpError(E.INVALID_PARAMETER, f"log topic must be 1-{MAX_LOG_TOPIC} bytes, got {tl}")
    datas = tuple(lg.datas)
    if not 1 <= len(datas) <= MAX_LOG_DATAS:
        raise OpError(E.INVALID_PARAMETER, f"log needs 1-{MAX_LOG_DATAS} data items, got {len(datas)}")
    for d in datas:
        dl = _blen(d)
        if not 1 <= dl <= MAX_LOG_DATA:
            raise OpError(E.INVALID_PARAMETER, f"log data items must be 1-{MAX_LOG_DATA} bytes, got {dl}")
    ex.logs.append((src, lg.topic, datas))


def upgrade_contract(ex: "Executor", op, src: str, sacct: "Account") -> None:
    raise OpError(E.CONTRACTS_UNSUPPORTED, f"upgrading a contract: {_NO_CONTRACTS}")


_HANDLERS: dict[int, Callable] = {
    CREATE_ACCOUNT: create_account,
    ISSUE_ASSET: issue_asset,
    PAY_ASSET: pay_asset,
    SET_METADATA: set_metadata,
    SET_SIGNER_WEIGHT: set_signer_weight,
    SET_THRESHOLD: set_threshold,
    PAY_COIN: pay_coin,
    LOG: log,
    SET_PRIVILEGE: set_privilege,
    UPGRADE_CONTRACT: upgrade_contract,
}
