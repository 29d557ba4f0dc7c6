"""The operations at execution: only the checks that need state, with Zetrix's codes.

Parameter checks (amounts, addresses, sizes, codes, weights, thresholds...) ran before
the transaction was charged (validity.py, BUMO ``OperationFrm::CheckValid``). What is
left here needs the state the block has reached: whether a dest exists, holdings,
metadata versions, balances after earlier operations. A failure here costs the whole
fee_limit and reverts every operation of the transaction (BUMO ``OperationFrm::Apply``
and its handlers, in ``operation_frm.cpp``; the order inside each handler is theirs).

Every handler checks before it writes, so a failing operation leaves the overlay as it
found it; the executor's undo log covers earlier operations of the same transaction.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from mbi.ledger import errors as E
from mbi.ledger.errors import OpError
from mbi.ledger.fees import INT64_MAX
from mbi.ledger.validity import MAX_SIGNERS, authorized

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


def apply_operation(ex: "Executor", op, tx_src: str, signed: frozenset[str]) -> None:
    """Run one operation whose parameters ``validate`` has accepted."""
    t = op.type
    src = op.source_address or tx_src
    sacct = ex.get(src)
    # OperationFrm::CheckSignature: the operation's source must exist (103) and its
    # valid signers reach its threshold for this type (93).
    if sacct is None:
        raise OpError(E.ACCOUNT_NOT_EXIST, f"operation source account {src} does not exist")
    if not authorized(sacct, signed, t):
        raise OpError(E.INVALID_SIGNATURE,
                      f"signature weights do not reach {src}'s threshold for operation type {t}")
    _HANDLERS[t](ex, op, src, sacct)


# -- coins -----------------------------------------------------------------------------
def pay_coin(ex: "Executor", op, src: str, sacct: "Account") -> None:
    # OperationFrm::PayCoin: the source's reserve first, then a missing dest.
    p = op.pay_coin
    amount = p.amount
    reserve = ex.base_reserve
    if amount + reserve > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, f"amount {amount} + base reserve {reserve} overflows int64")
    if sacct.balance < amount + reserve:
        raise OpError(E.ACCOUNT_LOW_RESERVE,
                      f"balance {sacct.balance} cannot pay {amount} and keep reserve {reserve}")
    dest = p.dest_address
    d = ex.get(dest)
    if d is None:
        # A missing dest is created with the payment as its balance (wallets send to
        # fresh addresses), provided the amount covers the base reserve.
        if amount < reserve:
            raise OpError(E.ACCOUNT_INIT_LOW_RESERVE,
                          f"amount {amount} is below the base reserve {reserve} needed to create {dest}")
        ex.writable(src).balance -= amount  # type: ignore[union-attr]
        ex.create(dest).balance = amount  # nonce 0, master_weight 1, tx_threshold 1
        return
    if d.balance + amount > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, "dest balance would overflow int64")
    ex.writable(src).balance -= amount  # type: ignore[union-attr]
    ex.writable(dest).balance += amount  # type: ignore[union-attr]


# -- accounts --------------------------------------------------------------------------
def create_account(ex: "Executor", op, src: str, sacct: "Account") -> None:
    # OperationFrm::CreateAccount: dest exists (102), init_balance below the reserve
    # (106; a negative one too), the source's reserve (100), metadata versions (144).
    ca = op.create_account
    dest = ca.dest_address
    if ex.get(dest) is not None:
        raise OpError(E.ACCOUNT_DEST_EXIST, f"account {dest} already exists")
    init = ca.init_balance
    reserve = ex.base_reserve
    if init < reserve:
        raise OpError(E.ACCOUNT_INIT_LOW_RESERVE, f"init_balance {init} is below the base reserve {reserve}")
    if sacct.balance - reserve < init:
        raise OpError(E.ACCOUNT_LOW_RESERVE,
                      f"balance {sacct.balance} cannot fund {init} and keep reserve {reserve}")
    md: dict[str, tuple[str, int]] = {}
    for kp in ca.metadatas:
        if kp.version not in (0, 1):
            raise OpError(E.INVALID_DATAVERSION,
                          f"metadata {E.show(kp.key)}: version {kp.version} must be 0 or 1 for a new account")
        md[kp.key] = (kp.value, 1)  # a repeated key: the last one wins, as in BUMO
    priv = ca.priv
    th = priv.thresholds
    ex.writable(src).balance -= init  # type: ignore[union-attr]
    a = ex.create(dest)
    a.balance = init
    a.master_weight = priv.master_weight
    a.tx_threshold = th.tx_threshold
    if priv.signers:
        a.signers = {s.address: s.weight for s in priv.signers}
    tts = {tt.type: tt.threshold for tt in th.type_thresholds if tt.threshold}
    if tts:
        a.type_thresholds = tts
    if md:
        a.metadata = md


def _updated(table: dict, updates) -> dict | None:
    """A copy of ``table`` with (key, value) updates applied in order (a later one for
    the same key wins), value 0 deleting the key; None when there are no updates
    (copy-on-write: the account keeps its dict)."""
    if not updates:
        return None
    new = dict(table)
    for k, v in updates:
        if v == 0:
            new.pop(k, None)
        else:
            new[k] = v
    return new


def _apply_signers(sacct: "Account", signers) -> dict[str, int] | None:
    new = _updated(sacct.signers, [(s.address, s.weight) for s in signers])
    if new is not None and len(new) > MAX_SIGNERS:
        # BUMO's AccountFrm::UpdateSigner silently skips a signer past the limit; MBI
        # refuses the operation instead (docs/ledger.md §11).
        raise OpError(E.INVALID_PARAMETER, f"account would have {len(new)} signers; at most {MAX_SIGNERS}")
    return new


def _apply_thresholds(sacct: "Account", tts) -> dict[int, int] | None:
    return _updated(sacct.type_thresholds, [(tt.type, tt.threshold) for tt in tts])


def set_signer_weight(ex: "Executor", op, src: str, sacct: "Account") -> None:
    sw = op.set_signer_weight
    signers = _apply_signers(sacct, sw.signers)
    a = ex.writable(src)
    assert a is not None
    if sw.master_weight != -1:
        a.master_weight = sw.master_weight
    if signers is not None:
        a.signers = signers


def set_threshold(ex: "Executor", op, src: str, sacct: "Account") -> None:
    st = op.set_threshold
    tts = _apply_thresholds(sacct, st.type_thresholds)
    a = ex.writable(src)
    assert a is not None
    if st.tx_threshold != -1:
        a.tx_threshold = st.tx_threshold
    if tts is not None:
        a.type_thresholds = tts


def set_privilege(ex: "Executor", op, src: str, sacct: "Account") -> None:
    sp = op.set_privilege
    signers = _apply_signers(sacct, sp.signers)
    tts = _apply_thresholds(sacct, sp.type_thresholds)
    a = ex.writable(src)
    assert a is not None
    if sp.master_weight:
        a.master_weight = int(sp.master_weight)
    if sp.tx_threshold:
        a.tx_threshold = int(sp.tx_threshold)
    if signers is not None:
        a.signers = signers
    if tts is not None:
        a.type_thresholds = tts


# -- assets ----------------------------------------------------------------------------
def issue_asset(ex: "Executor", op, src: str, sacct: "Account") -> None:
    ia = op.issue_asset
    key = (src, ia.code)
    new = sacct.assets.get(key, 0) + ia.amount
    if new > INT64_MAX:
        raise OpError(E.MATH_OVERFLOW, "asset balance would overflow int64")
    a = ex.writable(src)
    assert a is not None
    a.set_asset(key, new)


def pay_asset(ex: "Executor", op, src: str, sacct: "Account") -> None:
    # OperationFrm::PayAsset: dest missing (103), holding missing or short (104),
    # dest holding overflow (7).
    pa = op.pay_asset
    dest = pa.dest_address
    d = ex.get(dest)
    if d is None:
        raise OpError(E.ACCOUNT_NOT_EXIST, f"dest account {dest} does not exist")
    if not pa.HasField("asset"):
        return  # nothing to pay (BUMO accepts it and does nothing)
    asset = pa.asset
    k = asset.key
    amount = asset.amount
    key = (k.issuer, k.code)
    have = sacct.assets.get(key, 0)
    if have < amount:
        raise OpError(E.ACCOUNT_ASSET_LOW_RESERVE, f"holds {have} of {E.show(k.code)}/{k.issuer}, cannot pay {amount}")
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
def set_metadata(ex: "Executor", op, src: str, sacct: "Account") -> None:
    # OperationFrm::SetMetaData. version 0 never checks. Delete: the key must exist (4)
    # and a non-zero version equal its version (144). Write to an existing key: a
    # non-zero version must be current + 1 (144); a new key takes version 0 or 1 (144)
    # and is stored as 1.
    sm = op.set_metadata
    key = sm.key
    version = sm.version
    cur = sacct.metadata.get(key)
    if sm.delete_flag:
        if cur is None:
            raise OpError(E.NOT_EXIST, f"metadata key {E.show(key)} does not exist")
        if version != 0 and version != cur[1]:
            raise OpError(E.INVALID_DATAVERSION, f"delete with version {version}; the current version is {cur[1]}")
        a = ex.writable(src)
        assert a is not None
        a.set_meta(key, None)
        return
    if cur is not None:
        curver = cur[1]
        if version != 0 and version != curver + 1:
            raise OpError(E.INVALID_DATAVERSION,
                          f"version {version}; an update of version {curver} must be 0 or {curver + 1}")
        if curver + 1 > INT64_MAX:
            raise OpError(E.MATH_OVERFLOW, "metadata version would overflow int64")
        newver = curver + 1
    else:
        if version != 0 and version != 1:
            raise OpError(E.INVALID_DATAVERSION, f"version {version}; a new key takes 0 or 1")
        newver = 1
    a = ex.writable(src)
    assert a is not None
    a.set_meta(key, (sm.value, newver))


def log(ex: "Executor", op, src: str, sacct: "Account") -> None:
    lg = op.log
    ex.logs.append((src, lg.topic, tuple(lg.datas)))


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
}
