"""Random transaction streams, valid and invalid, through ``Ledger.close`` (apply_block
on the real LedgerState) and through ``tests/ledger_model.py``, an independent model
written from docs/ledger.md: receipts (code, fee, applied, logs), every account
(nonce, balance, weights, thresholds, assets, metadata, creation order) and the fees
burned must agree, on the inlined PAY_COIN path and on the generic one. Unlike the
determinism property test, the reference here is not the code under test."""
from __future__ import annotations

import random

import pytest

from mbi.crypto import KeyPair
from mbi.ledger import Genesis, Ledger
from mbi.ledger import testing as T
from mbi.ledger import validate
from mbi.types import Operation, SignedTransaction

from ledger_model import Model

CHAIN = 11
GAS_PRICE = 100
KEYS = [KeyPair.from_seed(bytes([0x70 + i]) * 32) for i in range(9)]
GEN = KEYS[0]
BAD = "ZTX3notanaddress"
I64 = 2**63 - 1
SUPPLY = 10**15


class Gen:
    """Builds random transactions, mostly well-formed, often wrong in one way."""

    def __init__(self, rng: random.Random, model: Model) -> None:
        self.r = rng
        self.m = model

    def pick(self, *xs):
        return self.r.choice(xs)

    def key(self) -> KeyPair:
        return self.r.choice(KEYS)

    def addr(self, src: str) -> str:
        x = self.r.random()
        if x < 0.03:
            return BAD
        if x < 0.05:
            return src
        return self.key().address

    def amount(self, big: int) -> int:
        x = self.r.random()
        if x < 0.03:
            return -1
        if x < 0.05:
            return I64
        if x < 0.15:
            return self.r.randint(0, big)
        return self.r.randint(0, 10**6)

    def signers(self, owner: str):
        out = []
        for _ in range(self.r.choice((0, 0, 1, 2))):
            out.append((self.addr(owner), self.pick(0, 1, 1, 2, 3, -1, 2**32)))
        return out

    def tts(self):
        return [(self.pick(7, 4, 1, 3, 50, 0, 101), self.pick(0, 1, 2, 3, -1)) for _ in range(self.r.choice((0, 0, 1, 2)))]

    def op(self, src: str, bal: int) -> Operation:
        r = self.r
        osrc = None
        if r.random() < 0.06:
            osrc = self.pick(self.key().address, BAD)
        t = r.choices(range(12), weights=(1, 6, 5, 6, 8, 3, 3, 30, 3, 3, 1, 1))[0]
        if t == 7:
            return T.pay_coin(self.addr(src), self.amount(bal), source=osrc,
                              input=self.pick("", "", "", "", "", "", "", "", "", "{}"))
        if t == 1:
            op = T.create_account(self.addr(src), self.amount(bal // 4), master_weight=self.pick(1, 1, 1, 2, 0, -1),
                                  tx_threshold=self.pick(1, 1, 1, 2, 0, -1), signers=self.signers(src),
                                  type_thresholds=self.tts(),
                                  metadatas=[(self.pick("a", "b", ""), "v")] * r.choice((0, 0, 1, 2)),
                                  source=osrc, priv=r.random() > 0.03)
            for kp in op.create_account.metadatas:
                kp.version = self.pick(0, 0, 1, 2)
            return op
        if t == 2:
            return T.issue_asset(self.pick("TOK", "MYR", "TOK", " X", "", "A" * 65),
                                 self.pick(1, 50, 10**6, 0, -5, I64, I64), source=osrc)
        if t == 3:
            return T.pay_asset(self.addr(src), self.pick(src, self.key().address, BAD), self.pick("TOK", "MYR", ""),
                               self.pick(1, 10, 1000, 0, -1, I64), source=osrc, asset_type=self.pick(0, 0, 0, 0, 1))
        if t == 4:
            return T.set_metadata(self.pick("k1", "k2", "k1", ""), self.pick("v", "", "w" * 50),
                                  version=self.pick(0, 0, 0, 1, 2, 3, 4, -1), delete=r.random() < 0.2, source=osrc)
        if t == 5:
            return T.set_signer_weight(self.pick(-1, -1, 1, 2, 0, -2), self.signers(src), source=osrc)
        if t == 6:
            return T.set_threshold(self.pick(-1, -1, 1, 2, 0, -2), self.tts(), source=osrc)
        if t == 8:
            return T.log(self.pick("t", "t", "", "x" * 129), self.pick(["a"], ["a", "b"], [], [""]), source=osrc)
        if t == 9:
            return T.set_privilege(self.pick("", "", "1", "2", "01", "-1"), self.pick("", "", "1", "2", "x"),
                                   self.signers(src), self.tts(), source=osrc)
        if t == 10:
            return T.upgrade_contract(self.key().address, "x", source=osrc)
        return Operation(type=self.pick(0, 11))

    def tx(self, seq: int) -> SignedTransaction:
        r = self.r
        live = [k for k in KEYS if k.address in self.m.accts]
        src = r.choice(live) if live and r.random() < 0.9 else self.key()
        a = self.m.accts.get(src.address)
        nonce = a.nonce + 1 if a else 1
        if r.random() < 0.04:
            nonce = self.pick(nonce - 1, nonce + 1, 0)
        bal = a.balance if a else 0
        n = 1 if r.random() < 0.75 else r.randint(2, 3)
        if r.random() < 0.01:
            n = 101
        ops = [self.op(src.address, bal) for _ in range(n)]
        signers = [src]
        if r.random() < 0.25:
            signers += r.sample(KEYS, r.randint(1, 3))
        fee_limit = self.pick(*([10**6] * 12 + [20_000, 30_000, 40_000, 60_000, 100_000, 0, -1, 10**16]))
        kw = dict(chain_id=CHAIN if r.random() > 0.03 else CHAIN + 1,
                  gas_price=self.pick(*([GAS_PRICE] * 40 + [GAS_PRICE - 1, GAS_PRICE + 50])),
                  fee_limit=fee_limit,
                  ceil_ledger_seq=self.pick(*([0] * 40 + [seq - 1, seq, seq + 5, -1])))
        t = T.make_tx(signers, nonce, ops, **kw)
        sigs = [(k.encoded_public_key, k.sign(t.tx_bytes)) for k in signers]
        x = r.random()
        if x < 0.05:  # one stale co-signature
            sigs.append((self.key().encoded_public_key, self.key().sign(b"stale")))
        elif x < 0.08:  # a key that does not decode
            sigs.append(("b001" + "ab" * 36, sigs[0][1]))
        elif x < 0.10:  # the source's own signature broken
            sigs[0] = (sigs[0][0], bytes(64))
        return SignedTransaction.from_parts(t.tx_bytes, sigs)


def _compare_state(model: Model, ledger: Ledger) -> None:
    st = ledger.state
    assert st.account_count() == len(model.order)
    for i, address in enumerate(model.order):
        a = st.get_account(address)
        m = model.accts[address]
        assert a is not None and a.index == i, address
        assert (a.nonce, a.balance, a.master_weight, a.tx_threshold) == \
            (m.nonce, m.balance, m.master_weight, m.tx_threshold), address
        assert dict(a.signers) == m.signers and dict(a.type_thresholds) == m.thresholds, address
        assert dict(a.assets) == m.assets and dict(a.metadata) == m.metadata, address


@pytest.fixture(params=[(True, True, True), (True, True, False), (True, False, True), (False, True, True)],
                ids=["native-loop", "fast-path", "fast-path-decoded", "generic"])
def paths(request, monkeypatch):
    # the inline path: its loop native (core_ext.execpay) or Python, reading fields
    # natively (core_ext.txscan) or from the decoded message; or the generic handlers
    from mbi.ledger import execute
    assert execute._native_run is not None, "core_ext.execpay did not bind"
    monkeypatch.setattr(execute, "FAST_PATHS", request.param[0])
    monkeypatch.setattr(execute, "NATIVE_SCAN", request.param[1])
    monkeypatch.setattr(execute, "NATIVE_RUN", request.param[2])
    return request.param


@pytest.mark.parametrize("reserve", [0, 5_000])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_streams_match_the_model(seed, reserve, paths):
    rng = random.Random(seed * 1000 + reserve)
    gen = Genesis.from_dict(T.genesis_dict(GEN, [KEYS[1]], chain_id=CHAIN, supply=SUPPLY,
                                           gas_price=GAS_PRICE, base_reserve=reserve))
    ledger, _ = Ledger.create(gen)
    model = Model(CHAIN, GAS_PRICE, reserve)
    model.add(GEN.address, SUPPLY)
    g = Gen(rng, model)
    # fund a few accounts so that most sources exist
    seed_txs = [T.make_tx(GEN, 1, [T.pay_coin(k.address, 10**9) for k in KEYS[1:6]], chain_id=CHAIN,
                          fee_limit=10**6)]
    seen = {}
    for blk in range(80):
        seq = ledger.seq + 1
        txs = seed_txs if blk == 0 else [g.tx(seq) for _ in range(10)]
        expect = [model.apply(t, seq) for t in txs]
        # validate() on the state before the block agrees with the model on the first tx
        v0 = validate(txs[0], ledger.state, seq)
        closed = ledger.close(txs, 10_000 + blk)
        got = [(r.error_code, r.actual_fee, r.applied, r.logs) for r in closed.receipts]
        for t, e, r in zip(txs, expect, closed.receipts):
            assert (r.error_code, r.actual_fee, r.applied, r.logs) == e, (blk, t.tx, r.error_desc)
        assert v0[0] == (0 if expect[0][2] else expect[0][0])
        _compare_state(model, ledger)
        for c, *_ in got:
            seen[c] = seen.get(c, 0) + 1
    total = sum(a.balance for a in ledger.state.accounts())
    assert total + model.burned == SUPPLY
    # the stream exercised success, operation failures and refusals of many kinds
    assert seen.get(0, 0) > 60 and len(seen) > 15, seen
