"""One ledger's RocksDB WriteBatch, built from a ``BlockCommit``: the encoders behind
``Store.commit_block``, kept apart from the store's open/close, locking and reads.

``build_batch`` checks every record as it encodes it and raises ``ValueError`` or
``TypeError`` on the first bad one; it writes nothing itself (the caller writes the
batch, or drops it).
"""
from __future__ import annotations

import struct

from rocksdict import WriteBatch

from . import keys as K
from .records import AccountWrites, AssetWrite, BlockCommit, MetadataWrite, TxRecord, TxRecords

__all__ = ["build_batch"]

_pack_u64 = K.pack_u64


def build_batch(handles: list, account_count: int, c: BlockCommit, seq: int,
                bkey: bytes) -> tuple[WriteBatch, int, list[bytes]]:
    """The batch for ledger ``seq``, the account count after it, and the asset/metadata
    keys it deletes. ``handles`` are the store's column-family handles (meta, blocks,
    txs, state, accounts); ``bkey`` is the header-hash key."""
    h_meta, h_blocks, h_txs, h_state, h_accounts = handles
    seq8 = _pack_u64(seq)
    wb = WriteBatch(raw_mode=True)
    put = wb.put

    # Transactions: the hot loop (10,000 per block in the benchmark) stays lean:
    # one struct.pack, one concatenation and one put per record.
    wb.set_default_column_family(h_txs)
    hashes: list[bytes] = []
    append = hashes.append
    head = K.TX_HEAD.pack
    framing = K.TX_FRAMING
    p_tx = K.P_TX
    i = -1
    t: TxRecord | None = None
    txs = c.txs
    try:
        if type(txs) is TxRecords:  # the ledger's parallel lists: no object per record
            if txs.ledger_seq != seq:
                raise ValueError(f"TxRecords of ledger {txs.ledger_seq} in the commit of ledger {seq}")
            ct = txs.close_time
            for i, (h, env, code, desc, fee) in enumerate(zip(txs.hashes, txs.envelopes, txs.error_codes,
                                                              txs.error_descs, txs.actual_fees)):
                if len(h) != 32:
                    raise ValueError(f"TxRecord at position {i}: hash must be 32 bytes, got {len(h)}")
                d = desc.encode("utf-8")
                put(p_tx + h, head(framing, seq, i, code, fee, ct, len(d)) + d + env)
            hashes = txs.hashes
        else:
            for i, t in enumerate(txs):
                h = t.hash
                if len(h) != 32 or t.ledger_seq != seq or t.index != i:
                    raise ValueError(_tx_problem(t, i, seq))
                d = t.error_desc.encode("utf-8")
                put(p_tx + h, head(framing, seq, i, t.error_code, t.actual_fee,
                                   t.close_time, len(d)) + d + t.envelope)
                append(h)
    except (struct.error, TypeError, AttributeError, UnicodeEncodeError) as e:
        raise ValueError(f"invalid TxRecord at position {i}: {e}") from e

    # Accounts: address -> (creation index, encoding); index -> address for new ones.
    wb.set_default_column_family(h_accounts)
    count = account_count
    new: dict[int, bytes] = {}  # creation index -> address, for accounts created here
    # index rows as two flat lists: no tuple per row (tuples are GC-tracked, and enough
    # of them start a collection over the node's whole heap mid-commit)
    index_keys: list[bytes] = []
    index_addrs: list[bytes] = []
    p_acc, p_idx = K.P_ACCOUNT, K.P_ACCOUNT_INDEX
    accts = c.accounts
    # The ledger's AccountWrites: its parallel lists, without an object per account.
    rows = (zip(accts.addresses, accts.indexes, accts.encodings) if type(accts) is AccountWrites
            else ((a.address, a.index, a.encoded) for a in accts))
    done = 0  # rows written: the position of a bad one
    try:
        for address, idx, enc in rows:
            ab = address.encode("ascii")  # type: ignore[attr-defined]
            i8 = _pack_u64(idx)
            if not ab or type(enc) is not bytes:
                raise ValueError("address must be non-empty and encoded must be bytes")
            put(p_acc + ab, i8 + enc)  # a later write of the same address wins
            if idx >= count:  # type: ignore[operator]
                prev = new.setdefault(idx, ab)  # type: ignore[arg-type]
                if prev is ab:
                    index_keys.append(p_idx + i8)
                    index_addrs.append(ab)
                elif prev != ab:
                    raise ValueError(f"index {idx} given to both {prev.decode()} and {address}")
            done += 1
    except (struct.error, TypeError, AttributeError, UnicodeEncodeError, ValueError) as e:
        raise ValueError(f"invalid AccountWrite at position {done}: {e}") from e
    wb.set_default_column_family(h_state)
    for k, v in zip(index_keys, index_addrs):
        put(k, v)
    if new:
        got = sorted(new)
        if got != list(range(count, count + len(new))):
            raise ValueError(f"new account indexes must be exactly {count}..{count + len(new) - 1}, "
                             f"got {got[:10]}{'...' if len(got) > 10 else ''}")
        if len(set(new.values())) != len(new):
            raise ValueError("one new account was given two creation indexes")
        count += len(new)

    deleted: list[bytes] = []
    for s in c.assets:
        if not isinstance(s, AssetWrite):
            raise TypeError(f"assets must hold AssetWrite, got {type(s).__name__}")
        k = K.asset_key(s.address, s.issuer, s.code)
        if type(s.amount) is not int or not 0 <= s.amount <= K.I64_MAX:
            raise ValueError(f"asset amount must be an int in [0, 2**63), got {s.amount!r}")
        if s.amount == 0:
            wb.delete(k)
            deleted.append(k)
        else:
            put(k, K.pack_i64(s.amount))
    for m in c.metadata:
        if not isinstance(m, MetadataWrite):
            raise TypeError(f"metadata must hold MetadataWrite, got {type(m).__name__}")
        k = K.metadata_key(m.address, m.key)
        if type(m.version) is not int or not K.I64_MIN <= m.version <= K.I64_MAX:
            raise ValueError(f"metadata version must be an int64, got {m.version!r}")
        if m.value is None:
            wb.delete(k)
            deleted.append(k)
        elif isinstance(m.value, bytes):
            put(k, K.pack_i64(m.version) + m.value)
        else:
            raise TypeError(f"metadata value must be bytes or None, got {type(m.value).__name__}")

    wb.set_default_column_family(h_blocks)
    put(K.P_HEADER + seq8, c.header)
    put(K.P_LEDGER_TXS + seq8, b"".join(hashes))
    put(bkey, seq8)
    # The tip and counters ride in the same batch: after a crash they agree with
    # the data by construction.
    wb.set_default_column_family(h_meta)
    put(K.META_TIP, K.TIP.pack(seq, c.header_hash))
    put(K.META_ACCOUNT_COUNT, _pack_u64(count))
    return wb, count, deleted


def _tx_problem(t: TxRecord, i: int, seq: int) -> str:
    if len(t.hash) != 32:
        return f"TxRecord at position {i}: hash must be 32 bytes, got {len(t.hash)}"
    if t.ledger_seq != seq:
        return f"TxRecord at position {i}: ledger_seq {t.ledger_seq} != block seq {seq}"
    return f"TxRecord at position {i}: index {t.index} != its position {i}"
