"""Deterministic block execution: ``apply_block(view, txs, seq, close_time)``.

Pure: no I/O, no clock, no randomness, no iteration over unordered containers that
affects results. The state view is read, never written; all writes land in an overlay
returned as ``BlockChanges``.

Per transaction (docs/ledger.md §3 has the full table, with BUMO's source lines):

1. ``validity.precheck``: parameters, source, nonce, signature weight, and a balance
   that covers fee_limit + base_reserve. Failing leaves state untouched: no nonce, no
   fee, and the transaction is dropped (receipt code, fee 0).
2. Nonce += 1 and the whole fee_limit is taken.
3. Operations run in order. On success the unused part of fee_limit is refunded, so
   the fee is gas × gas_price. If one fails, every effect of the transaction's
   operations is undone; the nonce stays and the fee is the whole fee_limit (BUMO
   ``LedgerFrm::Apply``: ``PayFee``, ``NonceIncrease``, ``Apply``, ``ReturnFee``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Protocol, Sequence

from mbi.ledger import errors as E
from mbi.ledger import operations as ops
from mbi.ledger.account import Account
from mbi.ledger.errors import OpError
from core_ext.txscan import scan_pay as _scan_pay
from mbi.crypto.keys import _valid_addresses as _addr_ok
from mbi.crypto.keys import is_address as _is_address
from mbi.ledger.fees import INT64_MAX, OP_GAS, FeeConfig
from mbi.ledger.validity import MAX_OPERATIONS, Invalid, authorized, precheck, signers_of
from mbi.types.envelope import MAX_ENVELOPE_SIZE, SignedTransaction

__all__ = ["MAX_OPERATIONS", "BlockChanges", "ChainConfig", "Executor", "Receipt", "StateView",
           "apply_block", "verify_signatures"]
# The inlined single-PAY_COIN path; tests switch it off to check it against the generic one.
FAST_PATHS = True
# Whether that path reads the transaction's fields with core_ext.txscan (one native pass
# over the signed bytes) or from the decoded message; tests compare the two.
NATIVE_SCAN = True
# Whether run_block's loop runs natively (core_ext.execpay, the same loop without the
# interpreter) when NATIVE_SCAN is on; tests run it against the Python loop and the model.
NATIVE_RUN = True


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

    Each signature is decided on its own (one call to the native ZIP-215 batch verifier
    covers the whole block; it reports per signature). Sets ``valid_signers`` (the
    addresses of the signatures that decoded and verified: only these count toward a
    weight, the others are ignored), ``sig_ok`` (all valid) and ``sig_error`` (the
    first bad one).
    """
    pending = [t for t in transactions if t.sig_ok is None]
    if not pending:
        return
    keys: list[bytes] = []
    msgs: list[bytes] = []
    sigs: list[bytes] = []
    owners: list[tuple[int, int]] = []  # (position in pending, signature index)
    for k, t in enumerate(pending):
        for j, (_pk, raw, _addr, sd) in enumerate(t.signatures):
            if raw is None or len(sd) != 64:
                continue  # cannot verify: ignored
            keys.append(raw)
            msgs.append(t.tx_bytes)
            sigs.append(sd)
            owners.append((k, j))
    from mbi.crypto.sig import verify_batch

    # Results are recorded only after the kernel returns: an exception leaves every
    # transaction unverified rather than half-marked.
    good: list[set[int]] = [set() for _ in pending]
    if keys:
        ok = verify_batch(keys, msgs, sigs).tolist()
        for (k, j), v in zip(owners, ok):
            if v:
                good[k].add(j)
    for t, g in zip(pending, good):
        sigs_t = t.signatures
        t.valid_signers = frozenset(sigs_t[j][2] for j in g)  # type: ignore[misc]
        t.sig_ok = len(g) == len(sigs_t)
        if not t.sig_ok:
            j = min(set(range(len(sigs_t))) - g)
            pk, raw, _a, sd = sigs_t[j]
            if raw is None:
                t.sig_error = (E.INVALID_PUBKEY, f"signature {j}: malformed public key (ignored)")
            elif len(sd) != 64:
                t.sig_error = (E.INVALID_SIGNATURE, f"signature {j}: sign_data must be 64 bytes, got {len(sd)} (ignored)")
            else:
                t.sig_error = (E.INVALID_SIGNATURE, f"signature {j} does not verify (ignored)")


class Executor:
    """Runs transactions against a view, accumulating writes in an overlay."""

    def __init__(self, view: StateView, ledger_seq: int, config: ChainConfig | None = None) -> None:
        self.view = view
        self.cfg = config if config is not None else view.config
        self.chain_id = self.cfg.chain_id
        self.fees_cfg = self.cfg.fees
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
    authorized = staticmethod(authorized)

    # -- transactions ---------------------------------------------------------------
    def apply_tx(self, stx: SignedTransaction, index: int) -> Receipt:
        h = stx.hash
        try:
            acct, fee = precheck(stx, self.get, self.chain_id, self.fees_cfg, self.ledger_seq)
        except Invalid as e:
            return Receipt(h, index, e.code, e.desc, 0)
        tx = stx.tx
        src = tx.source_address
        fee_limit = tx.fee_limit

        # Valid: the nonce is used and the whole fee_limit taken (PayFee, NonceIncrease).
        overlay = self.overlay
        w = overlay.get(src)
        if w is None:  # still the committed object: copy before writing
            w = acct.clone()
            overlay[src] = w
        w.nonce += 1
        w.balance -= fee_limit
        refund = fee_limit - fee

        # Operations. Each handler checks everything before it writes, so a single
        # operation needs no undo log; several do. On success the unused fee_limit comes
        # back (ReturnFee); on failure the fee is the whole fee_limit.
        txops = tx.operations
        nops = len(txops)
        if nops == 1:
            op = txops[0]
            t = op.type
            if t == 7 and FAST_PATHS and not op.source_address:
                # The common transaction, inlined: exactly apply_operation + pay_coin.
                try:
                    self._pay_coin_fast(op.pay_coin, src, w, stx)
                except OpError as e:
                    self.fees += fee_limit
                    return Receipt(h, index, e.code, f"operation 0: {e.desc}", fee_limit, (), True)
                w.balance += refund
                self.fees += fee
                return Receipt(h, index, 0, "", fee, (), True)
            signed = signers_of(stx)
            is_log = t == 8
            if is_log:
                self.logs = []
            try:
                ops.apply_operation(self, op, src, signed)
            except OpError as e:
                self.fees += fee_limit
                return Receipt(h, index, e.code, f"operation 0: {e.desc}", fee_limit, (), True)
            overlay[src].balance += refund
            self.fees += fee
            return Receipt(h, index, E.SUCCESS, "", fee, tuple(self.logs) if is_log else (), True)
        signed = signers_of(stx)
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
            self.fees += fee_limit
            return Receipt(h, index, e.code, f"operation {k}: {e.desc}", fee_limit, (), True)
        self.journal = None
        overlay[src].balance += refund
        self.fees += fee
        logs = tuple(self.logs) if self.logs else ()
        return Receipt(h, index, E.SUCCESS, "", fee, logs, True)

    def _pay_coin_fast(self, p, src: str, s: Account, stx: SignedTransaction) -> None:
        """PAY_COIN as the only operation, its source the transaction's source.

        ``s`` is the source's overlay copy (fee_limit already taken) and no undo log is
        active, so writes go straight to it. Same checks, order and messages as
        operations.apply_operation + pay_coin (the tests run both paths against each
        other and against tests/ledger_model.py).
        """
        if s.type_thresholds and not authorized(s, signers_of(stx), 7):
            raise OpError(E.INVALID_SIGNATURE, f"signature weights do not reach {src}'s threshold for operation type 7")
        amount = p.amount
        reserve = self.base_reserve
        if amount + reserve > INT64_MAX:
            raise OpError(E.MATH_OVERFLOW, f"amount {amount} + base reserve {reserve} overflows int64")
        if s.balance < amount + reserve:
            raise OpError(E.ACCOUNT_LOW_RESERVE,
                          f"balance {s.balance} cannot pay {amount} and keep reserve {reserve}")
        dest = p.dest_address
        overlay = self.overlay
        d = overlay.get(dest)
        if d is None:
            base = self._base_get(dest)
            if base is None:
                if amount < reserve:
                    raise OpError(E.ACCOUNT_INIT_LOW_RESERVE,
                                  f"amount {amount} is below the base reserve {reserve} needed to create {dest}")
                s.balance -= amount
                self.create(dest).balance = amount
                return
            if base.balance + amount > INT64_MAX:
                raise OpError(E.MATH_OVERFLOW, "dest balance would overflow int64")
            d = base.clone()
            overlay[dest] = d
        elif d.balance + amount > INT64_MAX:
            raise OpError(E.MATH_OVERFLOW, "dest balance would overflow int64")
        s.balance -= amount
        d.balance += amount

    def run_block(self, transactions: Sequence[SignedTransaction]) -> list[Receipt]:
        """``apply_tx`` over a block, with the common transaction settled inline.

        The common transaction: one PAY_COIN from the transaction's source, one valid
        signature by the source's master key, no metadata, no conditions. Its fields come
        from one native pass over the signed bytes (core_ext.txscan; NATIVE_SCAN False
        reads the decoded message instead, as before). When every check of precheck,
        apply_operation and pay_coin passes, its effects are written here; the first check
        that does not pass hands the transaction, untouched, to ``apply_tx``, which finds
        the same failure with its code and message. Only success is decided here, so
        codes, messages and the order of checks stay the generic path's. With NATIVE_RUN
        (and NATIVE_SCAN) on, a list of transactions goes through core_ext.execpay, this
        same loop without the interpreter (the tests run all four ways on the same random
        blocks).
        """
        overlay = self.overlay
        oget = overlay.get
        bget = self._base_get
        create = self.create
        apply_tx = self.apply_tx
        chain_id = self.chain_id
        ledger_seq = self.ledger_seq
        min_price = self.gas_price
        reserve = self.base_reserve
        op_gas = OP_GAS.get(7, 0)
        addr_ok = _addr_ok
        is_address = _is_address
        max_env = MAX_ENVELOPE_SIZE
        if NATIVE_RUN and NATIVE_SCAN and _native_run is not None and _fits_i64(
                chain_id, ledger_seq, min_price, reserve, op_gas) and type(transactions) is list:
            out, fees = _native_run(transactions, overlay, bget, create, apply_tx, _scan_pay, addr_ok, is_address,
                                    chain_id, ledger_seq, min_price, reserve, op_gas, max_env)
            self.fees += fees
            return out
        native = _scan_pay if NATIVE_SCAN else None
        fees = 0  # this loop's fees; apply_tx adds its own to self.fees
        out: list[Receipt] = []
        append = out.append
        index = -1
        for stx in transactions:
            index += 1
            if native is not None:  # the decoder's scan when it made one (the same call)
                sc = stx.pay
                if sc is None:
                    sc = native(stx.tx_bytes)
            else:
                sc = _scan_decoded(stx.tx)
            if sc is None:  # not the common shape
                append(apply_tx(stx, index))
                continue
            src, nonce, fee_limit, gas_price, ceil, tx_chain, dest, amount = sc
            # -- precheck, passing case only -----------------------------------------
            sigs = stx.signatures
            acct = oget(src)
            if acct is None:
                acct = bget(src)
            if (acct is None or len(sigs) != 1 or stx.sig_ok is not True or sigs[0][2] != src
                    or nonce != acct.nonce + 1 or tx_chain != chain_id):
                append(apply_tx(stx, index))
                continue
            size = len(stx.envelope)
            thr = acct.tx_threshold
            bal = acct.balance
            fee = (size + op_gas) * gas_price
            if (size >= max_env or (ceil and ceil < ledger_seq) or gas_price < min_price
                    or acct.type_thresholds or acct.master_weight < (thr if thr > 1 else 1)
                    or amount < 0 or dest == src or fee > INT64_MAX or fee_limit < fee
                    or amount + reserve > INT64_MAX or bal - fee_limit < amount + reserve
                    or not (addr_ok.get(src) or is_address(src))
                    or not (addr_ok.get(dest) or is_address(dest))):
                append(apply_tx(stx, index))
                continue
            # -- pay_coin: the dest ------------------------------------------------------
            d = oget(dest)
            if d is None:
                base = bget(dest)
                if base is None:
                    if amount < reserve:
                        append(apply_tx(stx, index))
                        continue
                elif base.balance + amount > INT64_MAX:
                    append(apply_tx(stx, index))
                    continue
                else:
                    d = base.clone()
                    overlay[dest] = d
            elif d.balance + amount > INT64_MAX:
                append(apply_tx(stx, index))
                continue
            # -- every check passed: nonce, fee (fee_limit taken, the rest refunded), pay
            w = oget(src)
            if w is None:
                w = acct.clone()
                overlay[src] = w
            w.nonce += 1
            w.balance = bal - amount - fee
            if d is None:
                create(dest).balance = amount
            else:
                d.balance += amount
            fees += fee
            append(Receipt(stx.hash, index, 0, "", fee, (), True))
        self.fees += fees
        return out

    def changes(self) -> BlockChanges:
        accts = sorted(self.overlay.values(), key=_by_index)
        return BlockChanges(accts, len(self.created), self.fees, self.base_count)


_by_index = attrgetter("index")


def _fits_i64(*values: int) -> bool:
    """The native loop takes these as int64 (a chain config outside it keeps the Python loop)."""
    return all(type(v) is int and -INT64_MAX - 1 <= v <= INT64_MAX for v in values)


def _bind_native():
    """core_ext.execpay's loop, bound to this module's classes; None where they do not
    have the plain __slots__ layout it needs (then run_block keeps its Python loop)."""
    try:
        from core_ext import execpay
        execpay.bind(Account, SignedTransaction, Receipt)
    except (ImportError, TypeError):
        return None
    return execpay.run_pay_block


_native_run = _bind_native()


def _scan_decoded(tx) -> tuple[str, int, int, int, int, int, str, int] | None:
    """core_ext.txscan.scan_pay's tuple read from the decoded message (NATIVE_SCAN off):
    None unless one PAY_COIN from the transaction's source, without metadata, condition
    or input. (The native scan also refuses unusual encodings; either way a None only
    sends the transaction to apply_tx.)"""
    txops = tx.operations
    if len(txops) != 1 or tx.metadata or tx.expr_condition:
        return None
    op = txops[0]
    if op.type != 7 or op.source_address or op.metadata or op.expr_condition:
        return None
    p = op.pay_coin
    if p.input:
        return None
    return (tx.source_address, tx.nonce, tx.fee_limit, tx.gas_price, tx.ceil_ledger_seq, tx.chain_id,
            p.dest_address, p.amount)


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
    verify_signatures(transactions)  # one batch for the block; each tx keeps its valid signers
    ex = Executor(state_view, ledger_seq, config)
    if FAST_PATHS:
        receipts = ex.run_block(transactions)
    else:
        apply_tx = ex.apply_tx
        receipts = [apply_tx(t, i) for i, t in enumerate(transactions)]
    return ex.changes(), receipts
