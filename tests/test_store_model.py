"""Random commit sequences against a plain-dict model, with reopens and snapshots between.

Hypothesis drives a state machine: commit a random block (new and updated accounts,
asset and metadata sets and deletes, random txs), close and reopen, or take a snapshot
and keep checking it against the model as of its ledger while later blocks land.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mbi.store import AccountWrite, AssetWrite, BlockCommit, MetadataWrite, Store, TxRecord

CHAIN = 99
ADDRS = [f"ZTX{c}" for c in ("a", "ab", "abc", "b", "ba", "c")]  # deliberate shared prefixes


def _h(*p: object) -> bytes:
    return hashlib.sha256(repr(p).encode()).digest()


class Model:
    def __init__(self) -> None:
        self.tip = 0
        self.accounts: dict[str, tuple[int, bytes]] = {}
        self.assets: dict[tuple[str, str, str], int] = {}
        self.metadata: dict[tuple[str, bytes], tuple[bytes, int]] = {}
        self.headers: dict[int, bytes] = {}
        self.txs: dict[bytes, TxRecord] = {}
        self.ledger_txs: dict[int, list[bytes]] = {}

    def copy(self) -> "Model":
        m = Model()
        m.tip = self.tip
        m.accounts = dict(self.accounts)
        m.assets = dict(self.assets)
        m.metadata = dict(self.metadata)
        m.headers = dict(self.headers)
        m.txs = dict(self.txs)
        m.ledger_txs = {k: list(v) for k, v in self.ledger_txs.items()}
        return m


def check(view, m: Model) -> None:
    assert view.last_seq() == m.tip
    assert view.tip() == ((m.tip, _h("hdr", m.tip)) if m.tip else None)
    for seq in range(1, m.tip + 2):
        assert view.get_header(seq) == m.headers.get(seq)
        assert view.get_ledger_txs(seq) == m.ledger_txs.get(seq, [])
    assert list(view.iter_headers()) == sorted(m.headers.items())
    for h, t in m.txs.items():
        assert view.get_tx(h) == t
    assert view.account_count() == len(m.accounts)
    assert list(view.iter_accounts()) == sorted((i, a, e) for a, (i, e) in m.accounts.items())
    for a in ADDRS:
        assert view.get_account(a) == (m.accounts[a][1] if a in m.accounts else None)
        assert sorted(view.iter_assets(a)) == sorted(
            (i, c, v) for (ad, i, c), v in m.assets.items() if ad == a)
        assert sorted(view.iter_metadata(a)) == sorted(
            (k, v, ver) for (ad, k), (v, ver) in m.metadata.items() if ad == a)
    assert sorted(view.iter_all_assets()) == sorted((a, i, c, v) for (a, i, c), v in m.assets.items())


block_spec = st.fixed_dictionaries({
    "n_txs": st.integers(0, 6),
    "touch": st.lists(st.tuples(st.sampled_from(ADDRS), st.binary(max_size=40)), max_size=5),
    "assets": st.lists(st.tuples(st.sampled_from(ADDRS), st.sampled_from(ADDRS[:2]), st.sampled_from(["X", "ZZ"]),
                                 st.one_of(st.just(0), st.integers(1, 2**63 - 1))), max_size=5),
    "metadata": st.lists(st.tuples(st.sampled_from(ADDRS), st.sampled_from([b"k", b"k2", b"\x00", b"kk"]),
                                   st.one_of(st.none(), st.binary(max_size=30)), st.integers(-(2**63), 2**63 - 1)),
                         max_size=5),
})


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="mbi-store-model-")
        self.store = Store.open(self.dir + "/db", CHAIN, create=True)
        self.model = Model()
        self.snaps: list[tuple[object, Model]] = []

    @rule(spec=block_spec)
    def commit(self, spec: dict) -> None:
        m = self.model
        seq = m.tip + 1
        txs = tuple(TxRecord(_h("tx", seq, i), _h("env", seq, i) * (i + 1), seq, i, i % 3, "d" * i,
                             i * 1000, seq) for i in range(spec["n_txs"]))
        accounts, seen = [], {}
        n = len(m.accounts)
        for a, enc in spec["touch"]:
            idx = m.accounts[a][0] if a in m.accounts else seen.get(a)
            if idx is None:
                idx = seen[a] = n
                n += 1
            accounts.append(AccountWrite(a, idx, enc))
        assets = [AssetWrite(a, i, c, v) for a, i, c, v in spec["assets"]]
        metadata = [MetadataWrite(a, k, v, ver) for a, k, v, ver in spec["metadata"]]
        header = b"header-%d" % seq
        self.store.commit_block(BlockCommit(seq, _h("hdr", seq), header, txs, tuple(accounts),
                                            tuple(assets), tuple(metadata)))
        m.tip = seq
        m.headers[seq] = header
        m.ledger_txs[seq] = [t.hash for t in txs]
        m.txs.update((t.hash, t) for t in txs)
        for w in accounts:  # later writes in one block win, as in the batch
            m.accounts[w.address] = (w.index, w.encoded)
        for w in assets:
            if w.amount:
                m.assets[(w.address, w.issuer, w.code)] = w.amount
            else:
                m.assets.pop((w.address, w.issuer, w.code), None)
        for w in metadata:
            if w.value is None:
                m.metadata.pop((w.address, w.key), None)
            else:
                m.metadata[(w.address, w.key)] = (w.value, w.version)

    @precondition(lambda self: self.model.assets or self.model.metadata)
    @rule(data=st.data())
    def delete_existing(self, data) -> None:
        # Deleting entries that exist (and that a snapshot may still show) is the case
        # random keys rarely hit.
        m = self.model
        assets = data.draw(st.lists(st.sampled_from(sorted(m.assets)), max_size=3)) if m.assets else []
        md = data.draw(st.lists(st.sampled_from(sorted(m.metadata)), max_size=3)) if m.metadata else []
        self.commit({"n_txs": 0, "touch": [], "assets": [(a, i, c, 0) for a, i, c in assets],
                     "metadata": [(a, k, None, 0) for a, k in md]})

    @rule()
    def reopen(self) -> None:
        for s, _ in self.snaps:
            s.close()  # type: ignore[attr-defined]
        self.snaps = []
        self.store.close()
        self.store = Store.open(self.dir + "/db", CHAIN)

    @precondition(lambda self: len(self.snaps) < 3)
    @rule()
    def snapshot(self) -> None:
        self.snaps.append((self.store.snapshot(), self.model.copy()))

    @invariant()
    def matches_model(self) -> None:
        check(self.store, self.model)
        for s, m in self.snaps:
            check(s, m)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TestStoreModel = StoreMachine.TestCase
TestStoreModel.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
