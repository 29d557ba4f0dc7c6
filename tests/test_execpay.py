"""core_ext.execpay: the ledger's inline PAY_COIN loop without the interpreter.

The rule-by-rule and model comparisons run it as one of the ledger's paths
(tests/test_ledger*.py, fixture ``paths``). Here: what only the native loop can get
wrong (its class binding, object lifetimes, falling back on anything it does not
recognise exactly) and a random mixed block compared receipt by receipt and account by
account with the Python loop and the generic handlers.
"""
from __future__ import annotations

import gc
import random
import sys

import pytest

from core_ext import execpay
from mbi.crypto import KeyPair
from mbi.ledger import Account, ChainConfig, FeeConfig, apply_block
from mbi.ledger import errors as E
from mbi.ledger import execute
from mbi.ledger import testing as T
from mbi.ledger.execute import Receipt
from mbi.types import SignedTransaction

CHAIN = 7
KEYS = [KeyPair.from_seed(bytes([i + 1]) * 32) for i in range(12)]
FRESH = [KeyPair.from_seed(bytes([i + 101]) * 32).address for i in range(6)]


class View:
    def __init__(self, cfg: ChainConfig, accounts: list[Account]) -> None:
        self.config = cfg
        self.accts = {a.address: a for a in accounts}

    def get_account(self, address):
        return self.accts.get(address)

    def account_count(self):
        return len(self.accts)


class ViewWithGetter(View):
    """Offers its dict's own get, as LedgerState does (the native loop reads the dict)."""

    @property
    def account_getter(self):
        return self.accts.get


def _accounts(reserve_balance: int = 10**9) -> list[Account]:
    return [Account(k.address, i, balance=reserve_balance if i else 10**15) for i, k in enumerate(KEYS)]


def _random_block(rng: random.Random, nonces: dict[str, int], n: int) -> list[SignedTransaction]:
    """PAY_COINs of every shape the inline path sees: good ones, to new accounts (some
    below the reserve), wrong nonces and chain ids, low gas prices and fee limits,
    amounts beyond the balance, payments to oneself, several operations."""
    out = []
    for _ in range(n):
        k = rng.choice(KEYS)
        kind = rng.random()
        nonce = nonces.get(k.address, 0) + 1
        dest = rng.choice(KEYS).address if rng.random() < 0.8 else rng.choice(FRESH)
        amount = rng.choice([1, 50, 999, 10**6, 10**12])
        kw = {"chain_id": CHAIN}
        ops = [T.pay_coin(dest, amount)]
        if kind < 0.05:
            nonce += rng.choice([-1, 1, 5])
        elif kind < 0.08:
            kw["chain_id"] = CHAIN + 1
        elif kind < 0.11:
            kw["gas_price"] = 99
        elif kind < 0.14:
            kw["fee_limit"] = 10
        elif kind < 0.17:
            ops = [T.pay_coin(k.address, 5)]
        elif kind < 0.20:
            ops = [T.pay_coin(dest, 3), T.pay_coin(rng.choice(KEYS).address, 4)]
        elif kind < 0.22:
            ops = [T.pay_coin(dest, -1)]
        t = T.make_tx(k, nonce, ops, **kw)
        if kind >= 0.05:
            nonces[k.address] = nonces.get(k.address, 0) + 1  # a guess: refusals do not move it
        out.append(t)
    return out


def _run(view_cls, reserve: int, blocks: list[list[bytes]], fast: bool, native: bool, monkeypatch):
    monkeypatch.setattr(execute, "FAST_PATHS", fast)
    monkeypatch.setattr(execute, "NATIVE_RUN", native)
    cfg = ChainConfig(CHAIN, FeeConfig(gas_price=100, base_reserve=reserve))
    view = view_cls(cfg, _accounts())
    got = []
    for seq, envs in enumerate(blocks, start=2):
        txs = [SignedTransaction.from_envelope(e) for e in envs]  # fresh objects per run
        changes, receipts = apply_block(view, txs, seq, 1_000_000 + seq)
        got.append([(r.hash, r.index, r.error_code, r.error_desc, r.actual_fee, r.logs, r.applied)
                    for r in receipts])
        got.append([(a.address, a.index, a.encode()) for a in changes.accounts])
        got.append((changes.new_accounts, changes.fees, changes.base_count))
        for a in changes.accounts:
            view.accts[a.address] = a
    return got


@pytest.mark.parametrize("view_cls", [View, ViewWithGetter])
@pytest.mark.parametrize("reserve", [0, 1000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_blocks_match_the_python_loop_and_the_generic_path(view_cls, reserve, seed, monkeypatch):
    rng = random.Random(seed)
    nonces: dict[str, int] = {}
    blocks = [[t.envelope for t in _random_block(rng, nonces, 60)] for _ in range(6)]
    native = _run(view_cls, reserve, blocks, True, True, monkeypatch)
    python = _run(view_cls, reserve, blocks, True, False, monkeypatch)
    generic = _run(view_cls, reserve, blocks, False, False, monkeypatch)
    assert native == python == generic
    codes = {row[2] for blk in native[::3] for row in blk}
    assert 0 in codes and len(codes) >= 4, codes  # success and several failures were exercised


def test_the_native_loop_runs(monkeypatch):
    """The ledger really takes core_ext.execpay (not the Python loop) for a list."""
    calls = []
    real = execute._native_run
    assert real is not None
    monkeypatch.setattr(execute, "_native_run", lambda *a: calls.append(1) or real(*a))
    view = View(ChainConfig(CHAIN, FeeConfig(gas_price=100)), _accounts())
    t = T.make_tx(KEYS[1], 1, [T.pay_coin(KEYS[2].address, 5)], chain_id=CHAIN)
    _, (r,) = apply_block(view, [t], 2, 1)
    assert calls == [1] and r.error_code == 0 and r.applied
    _, (r,) = apply_block(view, (t,), 2, 1)  # a tuple: the Python loop
    assert calls == [1] and r.error_code == 0


def test_accounts_it_does_not_know_go_to_the_generic_path(monkeypatch):
    """A subclass of Account, a balance outside int64 and a bool nonce send the
    transaction to the generic handlers (the same verdicts as with the native loop off)."""

    class Sub(Account):
        __slots__ = ()

    def block():
        return [T.make_tx(KEYS[1], 1, [T.pay_coin(KEYS[2].address, 5)], chain_id=CHAIN),
                T.make_tx(KEYS[3], 1, [T.pay_coin(KEYS[4].address, 5)], chain_id=CHAIN),
                T.make_tx(KEYS[5], 1, [T.pay_coin(KEYS[6].address, 5)], chain_id=CHAIN)]

    def state():
        accts = _accounts()
        accts[1] = Sub(KEYS[1].address, 1, balance=10**9)
        accts[4].balance = 2**64  # the dest: beyond int64 (only a corrupt state holds this)
        accts[5].nonce = False  # compares equal to 0
        return accts

    results = []
    for native in (True, False):
        monkeypatch.setattr(execute, "NATIVE_RUN", native)
        view = View(ChainConfig(CHAIN, FeeConfig(gas_price=100)), state())
        changes, receipts = apply_block(view, block(), 2, 1)
        results.append(([(r.error_code, r.actual_fee, r.applied) for r in receipts],
                         [(a.address, a.nonce, a.balance, type(a).__name__) for a in changes.accounts]))
    assert results[0] == results[1]
    # the corrupt dest balance makes the payment overflow: refused, as generic code refuses it
    assert [c for c, _, _ in results[0][0]] == [0, E.MATH_OVERFLOW, 0]


def test_a_transaction_without_a_scan_is_scanned(monkeypatch):
    """`pay` None (a transaction built without the decoder's scan): the loop scans it."""
    view = View(ChainConfig(CHAIN, FeeConfig(gas_price=100)), _accounts())
    t = T.make_tx(KEYS[1], 1, [T.pay_coin(KEYS[2].address, 5)], chain_id=CHAIN)
    t.pay = None
    seen = []
    real = execute._scan_pay
    monkeypatch.setattr(execute, "_scan_pay", lambda b: seen.append(b) or real(b))
    _, (r,) = apply_block(view, [t], 2, 1)
    assert r.error_code == 0 and seen == [t.tx_bytes]


def test_no_references_leak(monkeypatch):
    """Running a block many times leaves every shared object's count where it was and
    creates no objects that outlive the executors."""
    monkeypatch.setattr(execute, "NATIVE_RUN", True)
    cfg = ChainConfig(CHAIN, FeeConfig(gas_price=100, base_reserve=0))
    view = ViewWithGetter(cfg, _accounts())
    txs = [T.make_tx(k, 1, [T.pay_coin(FRESH[i % 6] if i % 3 == 0 else KEYS[(i + 1) % 12].address, 70_000)],
                     chain_id=CHAIN) for i, k in enumerate(KEYS)]
    for t in txs:
        t.sig_ok = True
        t.valid_signers = frozenset((t.signatures[0][2],))

    def once():
        ex = execute.Executor(view, 2)
        rs = ex.run_block(txs)
        assert all(r.error_code == 0 for r in rs)
        ex.changes()

    once()
    # (not the nonce: 1 is a shared small int whose count moves with the whole interpreter)
    # and the committed balances the loop copies and then replaces in its copies
    probes = [txs[0].hash, txs[0].pay, txs[0].pay[0], txs[0].pay[6], txs[1].pay[7], view.accts[KEYS[0].address],
              view.accts[KEYS[0].address].balance, view.accts[KEYS[2].address].balance]
    before = [sys.getrefcount(p) for p in probes]
    gc.collect()
    n0 = len(gc.get_objects())
    for _ in range(300):
        once()
    gc.collect()
    assert [sys.getrefcount(p) for p in probes] == before
    assert len(gc.get_objects()) - n0 < 50


def test_bind_refuses_classes_it_cannot_lay_out():
    class WithDict:
        pass

    class NoSlot:
        __slots__ = ("address",)

    with pytest.raises(TypeError):
        execpay.bind(WithDict, SignedTransaction, Receipt)
    with pytest.raises(TypeError):
        execpay.bind(NoSlot, SignedTransaction, Receipt)
    with pytest.raises(TypeError):
        execpay.bind(Account, SignedTransaction, Account)  # not Receipt's slots
    # the ledger's own binding stands (a failed bind leaves it as it was)
    execpay.bind(Account, SignedTransaction, Receipt)


def test_a_long_block_lets_other_threads_run(monkeypatch):
    """The native loop yields the GIL every 2,048 transactions, as the interpreter's switch
    interval lets the Python loop do: another thread (the node's event loop, in a node)
    runs while a big block executes, not only after it."""
    import threading
    import time

    monkeypatch.setattr(execute, "NATIVE_RUN", True)
    view = ViewWithGetter(ChainConfig(CHAIN, FeeConfig(gas_price=100)), _accounts())
    txs = [T.make_tx(KEYS[i % 12], i // 12 + 1, [T.pay_coin(KEYS[(i + 1) % 12].address, 70_000)], chain_id=CHAIN)
           for i in range(12 * 700)]
    for t in txs:
        t.sig_ok = True
    stamps: list[float] = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    th = threading.Thread(target=spin)
    th.start()
    try:
        time.sleep(0.01)
        ex = execute.Executor(view, 2)
        t0 = time.perf_counter()
        rs = ex.run_block(txs)
        t1 = time.perf_counter()
    finally:
        stop.set()
        th.join()
        sys.setswitchinterval(old)
    assert len(rs) == len(txs) and all(r.error_code == 0 for r in rs)
    # the middle of the call: the interpreter may switch threads at its start and end anyway
    d = t1 - t0
    inside = [s for s in stamps if t0 + 0.3 * d < s < t1 - 0.3 * d]
    assert inside, f"no other thread ran in the middle of the {1e3 * d:.1f} ms block"
