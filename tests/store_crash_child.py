"""Child process of the store crash test, and the deterministic block generator it shares
with the parent.

    python tests/store_crash_child.py DB_PATH CHAIN_ID

opens (creating if needed) the store, prints ``ready <tip>``, then commits blocks
``tip+1, tip+2, ...`` forever, printing ``committed <seq>`` (flushed) after each
``commit_block`` returns. The parent SIGKILLs it at random moments. Every block's
content is a pure function of its seq, so the parent can rebuild exactly what blocks
1..tip must contain.
"""
from __future__ import annotations

import hashlib
import os
import random
import sys
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mbi.store import AccountWrite, AssetWrite, BlockCommit, MetadataWrite, Store, TxRecord  # noqa: E402


def _h(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def address(i: int) -> str:
    return f"ZTX3crash{i:028d}"


def accounts_before(seq: int) -> int:
    """Accounts created by blocks 1..seq-1 (block r creates r % 3)."""
    n = seq - 1
    return 3 * (n // 3) + (0, 1, 3)[n % 3]


def make_block(seq: int) -> BlockCommit:
    rng = random.Random(seq)
    n_tx = rng.choice((0, 1, 2, 5, 20, 60, 250))
    txs = tuple(
        TxRecord(hash=_h("tx", seq, i), envelope=rng.randbytes(rng.randrange(0, 400)),
                 ledger_seq=seq, index=i, error_code=rng.choice((0, 0, 0, 93, 103)),
                 error_desc=rng.choice(("", "", "balance not enough", "账户不存在")),
                 actual_fee=rng.randrange(1 << 40), close_time=seq * 1_000_000)
        for i in range(n_tx))
    base = accounts_before(seq)
    accounts = [AccountWrite(address(i), i, b"acct%d@%d;" % (i, seq) * rng.randrange(1, 20))
                for i in range(base, base + seq % 3)]
    for i in rng.sample(range(base), min(base, 3)):
        accounts.append(AccountWrite(address(i), i, b"upd%d@%d;" % (i, seq) * rng.randrange(1, 20)))
    total = base + seq % 3
    assets, metadata = [], []
    if total:
        for _ in range(rng.randrange(0, 4)):
            assets.append(AssetWrite(address(rng.randrange(total)), address(0), rng.choice("ABC"),
                                     rng.choice((0, rng.randrange(1, 1 << 62)))))
        for _ in range(rng.randrange(0, 4)):
            metadata.append(MetadataWrite(address(rng.randrange(total)), rng.choice((b"k1", b"k2", b"\x00k3")),
                                          rng.choice((None, rng.randbytes(rng.randrange(0, 64)))), seq))
    return BlockCommit(seq=seq, header_hash=_h("header", seq), header=b"header-%d-" % seq + _h("h", seq),
                       txs=txs, accounts=tuple(accounts), assets=tuple(assets), metadata=tuple(metadata))


@dataclass
class Model:
    """The state blocks 1..tip must leave behind, computed without the store."""

    tip: int = 0
    accounts: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    assets: dict[tuple[str, str, str], int] = field(default_factory=dict)
    metadata: dict[tuple[str, bytes], tuple[bytes, int]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    tx_count: int = 0

    def apply(self, c: BlockCommit) -> None:
        assert c.seq == self.tip + 1
        self.tx_count += len(c.txs)
        for a in c.accounts:
            self.accounts[a.address] = (a.index, a.encoded)
        for s in c.assets:
            self.touched.add(s.address)
            if s.amount:
                self.assets[(s.address, s.issuer, s.code)] = s.amount
            else:
                self.assets.pop((s.address, s.issuer, s.code), None)
        for m in c.metadata:
            self.touched.add(m.address)
            if m.value is None:
                self.metadata.pop((m.address, m.key), None)
            else:
                self.metadata[(m.address, m.key)] = (m.value, m.version)
        self.tip = c.seq


def main() -> None:
    path, chain_id = sys.argv[1], int(sys.argv[2])
    store = Store.open(path, chain_id, create=True)
    print(f"ready {store.last_seq()}", flush=True)
    while True:
        seq = store.last_seq() + 1
        store.commit_block(make_block(seq))
        print(f"committed {seq}", flush=True)


if __name__ == "__main__":
    main()
