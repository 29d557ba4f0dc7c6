"""Deterministic block execution: ``apply_block(view, txs, seq, close_time)``.

Pure: no I/O, no clock, no randomness, no iteration over unordered containers that
affects results. The state view is read, never written; all writes land in an overlay
returned as ``BlockChanges``.

Per transaction (docs/ledger.md has the full table):

1. Checks that need no state, then state checks (source exists, nonce, signatures
   reach the source's tx_threshold, balance covers the fee). Failing any of them leaves
   state untouched: no nonce, no fee (the receipt records the error with fee 0).
2. Nonce += 1 and the fee is charged.
3. Operations run in order. If one fails, every effect of the transaction's operations
   is undone; the nonce and fee stay (as in the ancestor chain).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Protocol, Sequence

from mbi.crypto.keys import _valid_addresses as _addr_ok
from mbi.crypto.keys import is_address
from mbi.ledger import errors as E
from mbi.ledger.account import Account
from mbi.ledger.errors import OpError
from mbi.ledger.fees import INT64_MAX, OP_GAS, FeeConfig
from mbi.ledger import operations as ops
from mbi.types.envelope import MAX_ENVELOPE_SIZE, MAX_SIGNATURES, SignedTransaction

MAX_OPERATIONS = 1000
# The inlined single-PAY_COIN path; tests switch it off to check it against the generic one.
FAST_PATHS = True


@dataclass(frozen=True, slots=True)
class ChainConfig:
    chain_id: int
    fees: FeeConfig = field(default_factory=FeeConfig)


class StateView(Protocol):
    """What execution reads. Accounts returned must not be mutated by the caller."""

    config: ChainConfig

    def get_account(self, address: str) -> Account | None: ...

    def account_count(self) -> int: ...


@dataclass(slots=True)
class Receipt:
    hash: bytes
    index: int
    error_code: int
    error_desc: str
    actual_fee: int
    logs: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # True when the transaction was valid and applied (nonce consumed, fee charged),
    # whether or not its operations succeeded. Only applied transactions enter the ledger.
    applied: bool = False


@dataclass(slots=True)
class BlockChanges:
    """The block's writes: final state of every touched account, in index order."""

    accounts: list[Account]
    new_accounts: int  # how many of `accounts` are new (they are the last ones, by index)
    fees: int  # total ZETA charged (burned)
    base_count: int  # account count before the block


def verify_signatures(transactions: Sequence[SignedTransaction]) -> None:
    """Batch-verify every transaction whose signatures have not been checked yet.

    Sets ``sig_ok`` (and ``sig_error``) on each. One call to the native ZIP-215 batch
    verifier covers the whole block.
    """
    pending = [t for t in transactions if t.sig_ok is None]
    if not pending:
        return
    keys: list[bytes] = []
    msgs: list[bytes] = []
    sigs: list[bytes] = []
    owners: list[int] = []  # position in `checked` of each signature's transaction
    checked: list[SignedTransaction] = []
    for t in pending:
        bad = None
        for j, (_pk, raw, _addr, sd) in enumerate(t.signatures):
            if raw is None:
                bad = (E.INVALID_PUBKEY, f"signature {j}: malformed public key")
                break
            if len(sd) != 64:
                bad = (E.INVALID_SIGNATURE, f"signature {j}: sign_data must be 64 bytes, got {len(sd)}")
                break
        if bad is not None:
            t.sig_ok = False
            t.sig_error = bad
            continue
        k = len(checked)
        checked.append(t)
        for _pk, raw, _addr, sd in t.signatures:
            keys.append(raw)  # type: ignore[arg-type]
            msgs.append(t.tx_bytes)
            sigs.append(sd)
            owners.append(k)
    if not checked:
        return
    from mbi.crypto.sig import verify_batch

    # Results are recorded only after the kernel returns: an exception leaves every
    # transaction unverified rather than half-marked.
    ok_tx = [True] * len(checked)
    if keys:
        ok = verify_batch(keys, msgs, sigs)
        if not ok.all():
            for i in (~ok).nonzero()[0].tolist():
                ok_tx[owners[i]] = False
    for t, good in zip(checked, ok_tx):
        t.sig_ok = good
        if not good:
            t.sig_error = (E.INVALID_SIGNATURE, "signature does not verify")


class Executor:
    """Runs transactions against a view, accumulating writes in an overlay."""

    def __init__(self, view: StateView, ledger_seq: int, config: ChainConfig | None = None) -> None:
        self.view = view
        self.cfg = config if config is not None else view.config
        self.chain_id = self.cfg.chain_id
        self.gas_price = self.cfg.fees.gas_price
        self.base_reserve = self.cfg.fees.base_reserve
        self.ledger_seq = ledger_seq
        # A view may offer its raw lookup (e.g. a dict's bound .get) to skip a Python
        # frame per read; it must behave exactly like get_account.
        self._base_get = getattr(view, "account_getter", None) or view.get_account
        self.overlay: dict[str, Account] = {}
        self.created: list[Account] = []
        self.base_count = view.account_count()
        self.fees = 0
        # Undo log for the current transaction's operations: address -> snapshot, or
        # None when the account entered the overlay during this transaction.
        self.journal: dict[str, tuple | None] | None = None
        self.logs: list[tuple[str, str, tuple[str, ...]]] = []

    # -- account access -------------------------------------------------------------
    def get(self, address: str) -> Account | None:
        a = self.overlay.get(address)
        if a is None:
            a = self._base_get(address)
        return a

    def writable(self, address: str) -> Account | None:
        """The overlay copy of an account (cloned in on first write), journaled."""
        a = self.overlay.get(address)
        j = self.journal
        if a is None:
            base = self._base_get(address)
            if base is None:
                return None
            a = base.clone()
            self.overlay[address] = a
            if j is not None:
                j[address] = None
        elif j is not None and address not in j:
            j[address] = a.snapshot()
        return a

    def create(self, address: str) -> Account:
        a = Account(address, self.base_count + len(self.created))
        self.overlay[address] = a
        self.created.append(a)
        if self.journal is not None:
            self.journal[address] = None
        return a

    def _rollback(self, created_mark: int) -> None:
        j = self.journal
        if not j:
            return
        for address, snap in j.items():
            if snap is None:
                del self.overlay[address]
            else:
                self.overlay[address].restore(snap)
        del self.created[created_mark:]

    # -- authorization ----------------------------------------------------------------
    @staticmethod
    def authorized(acct: Account, signed: frozenset[str], op_type: int) -> bool:
        """Do the signers' weights reach the account's threshold for ``op_type``?

        op_type 0 means the transaction itself (tx_threshold). A type threshold, when
        set, replaces tx_threshold for operations of that type. A threshold of 0 still
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

    # -- transactions ---------------------------------------------------------------
    def apply_tx(self, stx: SignedTransaction, index: int) -> Receipt:
        tx = stx.tx
        h = stx.hash
        size = len(stx.envelope)
        if size > MAX_ENVELOPE_SIZE:
            return Receipt(h, index, E.TX_SIZE_TOO_BIG, f"envelope is {size} bytes; limit {MAX_ENVELOPE_SIZE}", 0)
        txops = tx.operations
        nops = len(txops)
        if nops == 0:
            return Receipt(h, index, E.MISSING_OPERATIONS, "transaction has no operations", 0)
        if nops > MAX_OPERATIONS:
            return Receipt(h, index, E.TOO_MANY_OPERATIONS, f"{nops} operations; at most {MAX_OPERATIONS}", 0)
        if len(stx.signatures) > MAX_SIGNATURES:
            return Receipt(h, index, E.INVALID_PARAMETER, f"more than {MAX_SIGNATURES} signatures", 0)
        src = tx.source_address
        if not (_addr_ok.get(src) or is_address(src)):
            return Receipt(h, index, E.INVALID_ADDRESS, f"source address {E.show(src)} is invalid", 0)
        if tx.chain_id != self.chain_id:
            return Receipt(h, index, E.INVALID_PARAMETER,
                           f"chain_id {tx.chain_id} does not match this network's {self.chain_id}", 0)
        ceil = tx.ceil_ledger_seq
        if ceil:
            if ceil < 0:
                return Receipt(h, index, E.INVALID_PARAMETER, f"ceil_ledger_seq {ceil} is negative", 0)
            if self.ledger_seq > ceil:
                return Receipt(h, index, E.TX_TIMEOUT,
                               f"expired: ceil_ledger_seq {ceil} < ledger {self.ledger_seq}", 0)
        if tx.expr_condition:
            return Receipt(h, index, E.INVALID_PARAMETER, "expr_condition is not supported", 0)
        gas_price = tx.gas_price
        fee_limit = tx.fee_limit
        if gas_price < 0 or fee_limit < 0:
            return Receipt(h, index, E.FEE_INVALID, "gas_price and fee_limit must not be negative", 0)
        if gas_price < self.gas_price:
            return Receipt(h, index, E.FEE_NOT_ENOUGH,
                           f"gas_price {gas_price} is below the network's {self.gas_price}", 0)
        gas = size
        if nops == 1:
            op = txops[0]
            t = op.type
            gas += OP_GAS.get(t, 0)
        else:
            for op in txops:
                gas += OP_GAS.get(op.type, 0)
        fee = gas * gas_price
        if fee > INT64_MAX:
            return Receipt(h, index, E.MATH_OVERFLOW, f"fee {gas} gas x {gas_price} overflows int64", 0)
        if fee > fee_limit:
            return Receipt(h, index, E.FEE_NOT_ENOUGH, f"fee {fee} exceeds fee_limit {fee_limit}", 0)
        if stx.sig_ok is not True:
            if stx.sig_ok is None:
                verify_signatures((stx,))
            if not stx.sig_ok:
                code, desc = stx.sig_error or (E.INVALID_SIGNATURE, "invalid signature")
                return Receipt(h, index, code, desc, 0)
        overlay = self.overlay
        acct: Account | None = overlay.get(src)
        w = acct  # the overlay copy, once there is one
        if acct is None:
            acct = self._base_get(src)
            if acct is None:
                return Receipt(h, index, E.ACCOUNT_NOT_EXIST, f"source account {src} does not exist", 0)
        if tx.nonce != acct.nonce + 1:
            return Receipt(h, index, E.BAD_SEQUENCE,
                           f"nonce {tx.nonce}; the account's next nonce is {acct.nonce + 1}", 0)
        thr = acct.tx_threshold
        # The common case, inlined: one signature, the source's own key, whose master
        # weight reaches tx_threshold. The signer set is then only built if an operation
        # asks for it (signed None); anything else goes through authorized(), which this
        # shortcut agrees with.
        sigs = stx.signatures
        if len(sigs) == 1 and sigs[0][2] == src and acct.master_weight >= (thr if thr > 1 else 1):
            signed = None
        else:
            signed = stx.signer_addresses
            if not (src in signed and acct.master_weight >= (thr if thr > 1 else 1)) \
                    and not self.authorized(acct, signed, 0):
                return Receipt(h, index, E.INVALID_SIGNATURE,
                               "signature weights do not reach the source account's tx_threshold", 0)
        if acct.balance - fee < self.base_reserve:
            return Receipt(h, index, E.ACCOUNT_LOW_RESERVE,
                           f"balance {acct.balance} cannot pay fee {fee} and keep reserve {self.base_reserve}", 0)

        # The transaction is valid: it consumes its nonce and pays its fee.
        if w is None:  # still the committed object: copy before writing
            w = acct.clone()
            overlay[src] = w
        w.nonce += 1
        w.balance -= fee
        self.fees += fee

        # Operations. Each handler checks everything before it writes, so a single
        # operation needs no undo log; several do.
        if nops == 1:
            if t == 7 and FAST_PATHS and not op.source_address and not op.expr_condition:
                # The common transaction, inlined: exactly apply_operation + pay_coin.
                try:
                    self._pay_coin_fast(op.pay_coin, src, w, stx)
                except OpError as e:
                    return Receipt(h, index, e.code, f"operation 0: {e.desc}", fee, (), True)
                return Receipt(h, index, 0, "", fee, (), True)
            if signed is None:
                signed = stx.signer_addresses
            is_log = t == 8
            if is_log:
                self.logs = []
            try:
                ops.apply_operation(self, op, src, signed)
            except OpError as e:
                return Receipt(h, index, e.code, f"operation 0: {e.desc}", fee, (), True)
            if is_log:
                return Receipt(h, index, E.SUCCESS, "", fee, tuple(self.logs), True)
            return Receipt(h, index, E.SUCCESS, "", fee, (), True)
        if signed is None:
            signed = stx.signer_addresses
        self.logs = []
        self.journal = {}
        mark = len(self.created)
        k = 0
        try:
            for k in range(nops):
                ops.apply_operation(self, txops[k], src, signed)
        except OpError as e:
            self._rollback(mark)
            self.journal = None
            return Receipt(h, index, e.code, f"operation {k}: {e.desc}", fee, (), True)
        self.journal = None
        logs = tuple(self.logs) if self.logs else ()
        return Receipt(h, index, E.SUCCESS, "", fee, logs, True)

    def _pay_coin_fast(self, p, src: str, s: Account, stx: SignedTransaction) -> None:
        """PAY_COIN as the only operation, its source the transaction's source.

        ``s`` is the source's overlay copy and no undo log is active, so writes go
        straight to it. Same checks, order and messages as operations.pay_coin (the
        test suite runs both paths against each other).
        """
        if s.type_thresholds and not self.authorized(s, stx.signer_addresses, 7):
            raise OpError(E.INVALID_SIGNATURE, f"signature weights do not reach {src}'s threshold for operation type 7")
        if p.input:
            raise OpError(E.CONTRACTS_UNSUPPORTED, f"pay_coin.input would trigger a contract: {ops._NO_CONTRACTS}")
        amount = p.amount
        if amount < 0:
            raise OpError(E.INVALID_PARAMETER, f"amount {amount} is negative")
        dest = p.dest_address
        if not (_addr_ok.get(dest) or is_address(dest)):
            raise OpError(E.INVALID_ADDRESS, f"dest address {E.show(dest)} is invalid")
        if dest == src:
            raise OpError(E.ACCOUNT_SOURCEDEST_EQUAL, "source and dest are the same account")
        overlay = self.overlay
        d = overlay.get(dest)
        if d is None:
            d = self._base_get(dest)
            if d is None:
                # A fresh address: create it (checks in pay_coin's order: 106, then 100).
                if amount < self.base_reserve:
                    raise OpError(E.ACCOUNT_INIT_LOW_RESERVE,
                                  f"amount {amount} is below the base reserve {self.base_reserve} needed to create {dest}")
                if s.balance - amount < self.base_reserve:
                    raise OpError(E.ACCOUNT_LOW_RESERVE,
                                  f"balance {s.balance} cannot pay {amount} and keep reserve {self.base_reserve}")
                s.balance -= amount
                self.create(dest).balance = amount
                return
            base = d
            d = None
        if s.balance - amount < self.base_reserve:
            raise OpError(E.ACCOUNT_LOW_RESERVE,
                          f"balance {s.balance} cannot pay {amount} and keep reserve {self.base_reserve}")
        if d is None:
            if base.balance + amount > INT64_MAX:
                raise OpError(E.MATH_OVERFLOW, "dest balance would overflow int64")
            d = base.clone()
            overlay[dest] = d
        elif d.balance + amount > INT64_MAX:
            raise OpError(E.MATH_OVERFLOW, "dest balance would overflow int64")
        s.balance -= amount
        d.balance += amount

    def changes(self) -> BlockChanges:
        accts = sorted(self.overlay.values(), key=_by_index)
        return BlockChanges(accts, len(self.created), self.fees, self.base_count)


_by_index = attrgetter("index")


def apply_block(state_view: StateView, transactions: Sequence[SignedTransaction], ledger_seq: int,
                close_time: int, config: ChainConfig | None = None) -> tuple[BlockChanges, list[Receipt]]:
    """Execute ``transactions`` in order against ``state_view``; returns (changes, receipts).

    Deterministic: the result depends only on the view's contents, the transactions'
    bytes, ``ledger_seq`` and the chain config. ``close_time`` is recorded in headers,
    not used by the operations themselves.
    """
    # Both are int64 header fields: checked here, before any state changes, because
    # Ledger.close only packs them into the header after the state has been updated.
    if type(ledger_seq) is not int or not 1 <= ledger_seq <= INT64_MAX:
        raise ValueError(f"ledger_seq must be an int in [1, 2^63-1], got {ledger_seq!r}")
    if type(close_time) is not int or not 0 <= close_time <= INT64_MAX:
        raise ValueError(f"close_time must be an int in [0, 2^63-1] (microseconds), got {close_time!r}")
    verify_signatures(transactions)
    ex = Executor(state_view, ledger_seq, config)
    apply_tx = ex.apply_tx
    receipts = [apply_tx(t, i) for i, t in enumerate(transactions)]
    return ex.changes(), receipts
