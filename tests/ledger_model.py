"""An executable spec of the account rules, written from docs/ledger.md §3-§6.

Independent of ``mbi.ledger``: it reads transactions through ``mbi.types`` (decoded
protobuf) and addresses through ``mbi.crypto``, verifies signatures with libsodium
(pysodium) directly, and keeps its own plain state. Deliberately simple and slow:
whole-state copies for rollback, no caches, checks in the documented table order.

``Model.apply(stx, ledger_seq) -> (code, fee, applied, logs)``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pysodium

from mbi.crypto.keys import is_address

I64 = 2**63 - 1
U32 = 2**32 - 1
KIB = 1024


@dataclass
class Acct:
    nonce: int = 0
    balance: int = 0
    master_weight: int = 1
    tx_threshold: int = 1
    signers: dict = field(default_factory=dict)  # address -> weight
    thresholds: dict = field(default_factory=dict)  # op type -> threshold (> 0)
    assets: dict = field(default_factory=dict)  # (issuer, code) -> amount (> 0)
    metadata: dict = field(default_factory=dict)  # key -> (value, version)


class Fail(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _n(s: str) -> int:
    return len(s.encode("utf-8"))


def _canonical(text: str) -> int | None:
    """The int a decimal string means when it is written the one canonical way."""
    if len(text) > 20:
        return None
    try:
        v = int(text)
    except ValueError:
        return None
    if str(v) != text or not -I64 - 1 <= v <= I64:
        return None
    return v


class Model:
    def __init__(self, chain_id: int, gas_price: int, base_reserve: int) -> None:
        self.chain_id = chain_id
        self.gas_price = gas_price
        self.reserve = base_reserve
        self.accts: dict[str, Acct] = {}
        self.order: list[str] = []
        self.burned = 0

    def add(self, address: str, balance: int) -> None:
        self.accts[address] = Acct(balance=balance)
        self.order.append(address)

    # -- signatures (§4) ------------------------------------------------------------
    @staticmethod
    def valid_signers(stx) -> set[str]:
        out = set()
        for _text, raw, addr, sd in stx.signatures:
            if raw is None or len(sd) != 64:
                continue
            try:
                pysodium.crypto_sign_verify_detached(sd, stx.tx_bytes, raw)
            except ValueError:
                continue
            out.add(addr)
        return out

    @staticmethod
    def authorized(a: Acct, address: str, signed: set[str], op_type: int) -> bool:
        thr = a.tx_threshold
        if op_type and a.thresholds.get(op_type, 0) > 0:
            thr = a.thresholds[op_type]
        thr = max(thr, 1)
        w = a.master_weight if address in signed else 0
        w += sum(wt for s, wt in a.signers.items() if s in signed)
        return w >= thr

    # -- §3.5 rows V*, and each operation's parameter rows ------------------------------
    def check_signers(self, signers, owner: str, dups: bool) -> None:
        seen = set()
        for s in signers:
            if not 0 <= s.weight <= U32:
                raise Fail(120)
            if s.address == owner or not is_address(s.address):
                raise Fail(94)
            if dups and s.address in seen:
                raise Fail(2)
            seen.add(s.address)

    def check_types(self, tts, bad: int, dups: bool) -> None:
        seen = set()
        for tt in tts:
            if not 1 <= tt.type <= 100:
                raise Fail(bad)
            if tt.threshold < 0:
                raise Fail(121)
            if dups and tt.type in seen:
                raise Fail(2)
            seen.add(tt.type)

    def check_op(self, op, tx_src: str) -> None:
        src = op.source_address or tx_src
        if not is_address(src):
            raise Fail(94)
        if len(op.metadata) > 256 * KIB or op.expr_condition:
            raise Fail(2)
        t = op.type
        if t == 1:
            ca = op.create_account
            if ca.HasField("contract") or ca.init_input:
                raise Fail(151)
            if not is_address(ca.dest_address):
                raise Fail(94)
            if not ca.HasField("priv"):
                raise Fail(2)
            if not 0 <= ca.priv.master_weight <= U32:
                raise Fail(120)
            if len(ca.priv.signers) > 100:
                raise Fail(2)
            self.check_signers(ca.priv.signers, ca.dest_address, True)
            if not ca.priv.HasField("thresholds"):
                raise Fail(2)
            if ca.priv.thresholds.tx_threshold < 0:
                raise Fail(121)
            self.check_types(ca.priv.thresholds.type_thresholds, 2, True)
            for kp in ca.metadatas:
                if not 1 <= _n(kp.key) <= 1024 or _n(kp.value) > 256 * KIB:
                    raise Fail(2)
        elif t == 2:
            ia = op.issue_asset
            if ia.amount <= 0:
                raise Fail(92)
            if not 1 <= _n(ia.code) <= 64 or ia.code != ia.code.strip(" \t\n\v\f\r"):
                raise Fail(92)
        elif t == 3:
            pa = op.pay_asset
            if pa.HasField("asset"):
                k = pa.asset.key
                if k.type != 0 or pa.asset.amount <= 0 or not 1 <= _n(k.code) <= 64 or not is_address(k.issuer):
                    raise Fail(92)
            if pa.dest_address == src:
                raise Fail(101)
            if not is_address(pa.dest_address):
                raise Fail(94)
            if pa.input:
                raise Fail(151)
        elif t == 4:
            sm = op.set_metadata
            if not 1 <= _n(sm.key) <= 1024 or _n(sm.value) > 256 * KIB:
                raise Fail(2)
        elif t == 5:
            sw = op.set_signer_weight
            if not -1 <= sw.master_weight <= U32:
                raise Fail(120)
            self.check_signers(sw.signers, src, False)
        elif t == 6:
            st = op.set_threshold
            if st.tx_threshold < -1:
                raise Fail(121)
            self.check_types(st.type_thresholds, 121, False)
        elif t == 7:
            p = op.pay_coin
            if p.amount < 0:
                raise Fail(2)
            if p.dest_address == src:
                raise Fail(101)
            if not is_address(p.dest_address):
                raise Fail(94)
            if p.input:
                raise Fail(151)
        elif t == 8:
            lg = op.log
            if not 1 <= _n(lg.topic) <= 128 or len(lg.datas) > 65535:
                raise Fail(2)
            if any(not 1 <= _n(d) <= 1024 for d in lg.datas):
                raise Fail(2)
        elif t == 9:
            sp = op.set_privilege
            if sp.master_weight:
                v = _canonical(sp.master_weight)
                if v is None or not 0 <= v <= U32:
                    raise Fail(120)
            self.check_signers(sp.signers, src, True)
            if sp.tx_threshold:
                v = _canonical(sp.tx_threshold)
                if v is None or v < 0:
                    raise Fail(121)
            self.check_types(sp.type_thresholds, 2, True)
        elif t == 10:
            raise Fail(151)
        else:
            raise Fail(2)

    def check_tx(self, stx, seq: int) -> tuple[Acct, int]:
        tx = stx.tx
        a = self.accts.get(tx.source_address)
        if a is None:
            raise Fail(103)
        if tx.nonce <= a.nonce:
            raise Fail(99)
        if tx.chain_id != self.chain_id:
            raise Fail(2)
        if len(stx.envelope) >= 1 << 20:
            raise Fail(146)
        if not tx.operations:
            raise Fail(97)
        if len(tx.operations) > 100:
            raise Fail(98)
        if len(tx.metadata) > 256 * KIB:
            raise Fail(2)
        if tx.ceil_ledger_seq < 0 or 0 < tx.ceil_ledger_seq < seq:
            raise Fail(2)
        if tx.fee_limit < 0 or tx.gas_price < self.gas_price:
            raise Fail(2)
        if len(stx.signatures) > 100 or tx.expr_condition:
            raise Fail(2)
        for op in tx.operations:
            self.check_op(op, tx.source_address)
        if tx.nonce != a.nonce + 1:
            raise Fail(99)
        if not self.authorized(a, tx.source_address, self.valid_signers(stx), 0):
            raise Fail(93)
        if a.balance - tx.fee_limit < self.reserve:
            raise Fail(100)
        fee = len(stx.envelope) * tx.gas_price
        if fee > I64:
            raise Fail(2)
        if tx.fee_limit < fee:
            raise Fail(111)
        return a, fee

    # -- execution rows X* -----------------------------------------------------------
    def run_op(self, op, tx_src: str, signed: set[str], logs: list) -> None:
        src = op.source_address or tx_src
        s = self.accts.get(src)
        if s is None:
            raise Fail(103)
        if not self.authorized(s, src, signed, op.type):
            raise Fail(93)
        t = op.type
        R = self.reserve
        if t == 7:
            p = op.pay_coin
            if p.amount + R > I64:
                raise Fail(7)
            if s.balance < p.amount + R:
                raise Fail(100)
            d = self.accts.get(p.dest_address)
            if d is None:
                if p.amount < R:
                    raise Fail(106)
                self.add(p.dest_address, 0)
                d = self.accts[p.dest_address]
            if d.balance + p.amount > I64:
                raise Fail(7)
            s.balance -= p.amount
            d.balance += p.amount
        elif t == 1:
            ca = op.create_account
            if ca.dest_address in self.accts:
                raise Fail(102)
            if ca.init_balance < R:
                raise Fail(106)
            if s.balance - R < ca.init_balance:
                raise Fail(100)
            md = {}
            for kp in ca.metadatas:
                if kp.version not in (0, 1):
                    raise Fail(144)
                md[kp.key] = (kp.value, 1)
            s.balance -= ca.init_balance
            self.add(ca.dest_address, ca.init_balance)
            n = self.accts[ca.dest_address]
            n.master_weight = ca.priv.master_weight
            n.tx_threshold = ca.priv.thresholds.tx_threshold
            n.signers = {x.address: x.weight for x in ca.priv.signers}
            n.thresholds = {x.type: x.threshold for x in ca.priv.thresholds.type_thresholds if x.threshold}
            n.metadata = md
        elif t == 2:
            key = (src, op.issue_asset.code)
            new = s.assets.get(key, 0) + op.issue_asset.amount
            if new > I64:
                raise Fail(7)
            s.assets[key] = new
        elif t == 3:
            pa = op.pay_asset
            d = self.accts.get(pa.dest_address)
            if d is None:
                raise Fail(103)
            if not pa.HasField("asset"):
                return
            key = (pa.asset.key.issuer, pa.asset.key.code)
            amt = pa.asset.amount
            if s.assets.get(key, 0) < amt:
                raise Fail(104)
            if d.assets.get(key, 0) + amt > I64:
                raise Fail(7)
            s.assets[key] -= amt
            if s.assets[key] == 0:
                del s.assets[key]
            d.assets[key] = d.assets.get(key, 0) + amt
        elif t == 4:
            sm = op.set_metadata
            cur = s.metadata.get(sm.key)
            if sm.delete_flag:
                if cur is None:
                    raise Fail(4)
                if sm.version and sm.version != cur[1]:
                    raise Fail(144)
                del s.metadata[sm.key]
            elif cur is not None:
                if sm.version and sm.version != cur[1] + 1:
                    raise Fail(144)
                s.metadata[sm.key] = (sm.value, cur[1] + 1)
            else:
                if sm.version not in (0, 1):
                    raise Fail(144)
                s.metadata[sm.key] = (sm.value, 1)
        elif t in (5, 9):
            body = op.set_signer_weight if t == 5 else op.set_privilege
            signers = dict(s.signers)
            for x in body.signers:
                if x.weight == 0:
                    signers.pop(x.address, None)
                else:
                    signers[x.address] = x.weight
            if len(signers) > 100:
                raise Fail(2)
            s.signers = signers
            if t == 5:
                if body.master_weight != -1:
                    s.master_weight = body.master_weight
            else:
                if body.master_weight:
                    s.master_weight = int(body.master_weight)
                if body.tx_threshold:
                    s.tx_threshold = int(body.tx_threshold)
                self._thresholds(s, body.type_thresholds)
        elif t == 6:
            if op.set_threshold.tx_threshold != -1:
                s.tx_threshold = op.set_threshold.tx_threshold
            self._thresholds(s, op.set_threshold.type_thresholds)
        elif t == 8:
            logs.append((src, op.log.topic, tuple(op.log.datas)))

    @staticmethod
    def _thresholds(s: Acct, tts) -> None:
        for x in tts:
            if x.threshold == 0:
                s.thresholds.pop(x.type, None)
            else:
                s.thresholds[x.type] = x.threshold

    # -- a transaction (§3.2, §3.3) --------------------------------------------------
    def apply(self, stx, seq: int) -> tuple[int, int, bool, tuple]:
        try:
            a, fee = self.check_tx(stx, seq)
        except Fail as f:
            return f.code, 0, False, ()
        tx = stx.tx
        a.nonce += 1
        a.balance -= tx.fee_limit
        saved = (copy.deepcopy(self.accts), list(self.order))
        signed = self.valid_signers(stx)
        logs: list = []
        try:
            for op in tx.operations:
                self.run_op(op, tx.source_address, signed, logs)
        except Fail as f:
            self.accts, self.order = saved
            self.burned += tx.fee_limit
            return f.code, tx.fee_limit, True, ()
        self.accts[tx.source_address].balance += tx.fee_limit - fee
        self.burned += fee
        return 0, fee, True, tuple(logs)
