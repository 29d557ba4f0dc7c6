"""The ledger chain: genesis, closing ledgers, reloading from the store.

``Ledger.close`` executes a proposed transaction list on top of the head, folds the
changes into the in-memory state, and returns the ``BlockCommit`` the store writes.
Transactions that fail the validity checks (receipt.applied False) are dropped from the
ledger: they consumed nothing and are not stored, as with Zetrix's error_tx_ids.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
from typing import Sequence

from google.protobuf.message import DecodeError

from mbi.ledger import header as H
from mbi.ledger.account import Account
from mbi.ledger.execute import ChainConfig, Receipt, apply_block
from mbi.ledger.genesis import Genesis
from mbi.ledger.state import LedgerState
from mbi.types.records import BlockCommit, TxRecords
from mbi.types.envelope import SignedTransaction
from mbi.types.mbi_types_pb2 import LedgerHeader


@dataclass(slots=True)
class ClosedLedger:
    header: LedgerHeader
    commit: BlockCommit
    receipts: list[Receipt]  # one per proposed transaction, in proposal order


def _decode_header(raw: bytes, seq: int) -> LedgerHeader:
    try:
        return LedgerHeader.FromString(raw)
    except DecodeError as exc:
        raise ValueError(f"stored header of ledger {seq} does not decode: {exc}") from None


class Ledger:
    def __init__(self, genesis: Genesis, state: LedgerState, head: LedgerHeader) -> None:
        self.genesis = genesis
        self.config = state.config
        self.state = state
        self.head = head
        self._validators_hash = H.validators_hash([(v.address, v.raw_public_key) for v in genesis.validators])
        self._fees_hash = H.fees_hash(genesis.fees)

    @property
    def seq(self) -> int:
        return self.head.seq

    @staticmethod
    def config_of(genesis: Genesis) -> ChainConfig:
        return ChainConfig(genesis.chain_id, genesis.fees)

    @classmethod
    def create(cls, genesis: Genesis) -> tuple["Ledger", BlockCommit]:
        """The genesis ledger (seq 1): one account holding the whole supply."""
        from mbi.ledger.execute import BlockChanges

        state = LedgerState(cls.config_of(genesis))
        g = Account(genesis.genesis_account, 0, nonce=0, balance=genesis.total_supply,
                    master_weight=1, tx_threshold=1)
        delta = state.apply(BlockChanges([g], 1, 0, 0))
        vh = H.validators_hash([(v.address, v.raw_public_key) for v in genesis.validators])
        hdr = H.build_header(
            seq=1, previous_hash=H.ZERO32, account_tree_hash=delta.root, close_time=genesis.close_time,
            consensus_value_hash=H.consensus_value_hash(H.ZERO32, 1, genesis.close_time, H.EMPTY_ROOT),
            tx_count=0, validators_hash=vh, fees_hash=H.fees_hash(genesis.fees), chain_id=genesis.chain_id,
            tx_root=H.EMPTY_ROOT, receipts_root=H.EMPTY_ROOT, account_count=delta.account_count)
        commit = BlockCommit(1, hdr.hash, hdr.SerializeToString(), (), delta.accounts, delta.assets,
                             delta.metadata)
        return cls(genesis, state, hdr), commit

    @classmethod
    def from_store(cls, genesis: Genesis, store) -> "Ledger":
        """Rebuild state from a store and check it against the stored head header."""
        seq = store.last_seq()
        if seq < 1:
            raise ValueError("store holds no ledgers; create the genesis ledger first")
        raw = store.get_header(seq)
        if raw is None:
            raise ValueError(f"store has no header for its last ledger {seq}")
        head = _decode_header(raw, seq)
        H.check_header(head)
        if head.chain_id != genesis.chain_id:
            raise ValueError(f"store is for chain {head.chain_id}; genesis says {genesis.chain_id}")
        first = store.get_header(1)
        _, expect = cls.create(genesis)
        if first is None or _decode_header(first, 1).hash != expect.header_hash:
            raise ValueError("the store's genesis ledger is not this genesis (different accounts, fees or validators)")
        # One scan of each side table, not one seek per account.
        state = LedgerState.from_tables(cls.config_of(genesis), store.iter_accounts(),
                                        store.iter_all_assets(), store.iter_all_metadata())
        if state.root() != head.account_tree_hash or state.account_count() != head.account_count:
            raise ValueError(f"stored accounts do not match ledger {seq}'s account_tree_hash")
        return cls(genesis, state, head)

    def close(self, transactions: Sequence[SignedTransaction], close_time: int) -> ClosedLedger:
        """Execute the next ledger, apply it to the in-memory state, return its commit."""
        # Closing a ledger allocates tens of thousands of short-lived, acyclic objects;
        # with the collector on, its generation-2 passes over the whole in-memory state
        # cost more than the execution itself. Nothing here creates reference cycles.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._close(transactions, close_time)
        finally:
            if was_enabled:
                gc.enable()

    def _close(self, transactions: Sequence[SignedTransaction], close_time: int) -> ClosedLedger:
        head = self.head
        if close_time < head.close_time:
            raise ValueError(f"close_time {close_time} is before the previous ledger's {head.close_time}")
        seq = head.seq + 1
        changes, receipts = apply_block(self.state, transactions, seq, close_time, self.config)
        delta = self.state.apply(changes)
        proposed_root = H.merkle_root([t.hash for t in transactions])
        # Only applied transactions enter the ledger (usually all of them). The records go
        # to the store as parallel lists (TxRecords), not an object per transaction.
        if all(r.applied for r in receipts):
            txs_a: Sequence[SignedTransaction] = transactions
            rs = receipts
        else:
            txs_a = [t for t, r in zip(transactions, receipts) if r.applied]
            rs = [r for r in receipts if r.applied]
        tx_hashes = [r.hash for r in rs]
        pre = H.receipt_preimage
        pack_qq = H._QQ.pack
        zero32 = H.ZERO32
        # receipt_preimage, inlined for the usual receipt without logs
        r_pre = [pre(r.hash, r.error_code, r.actual_fee, r.logs) if r.logs
                 else r.hash + pack_qq(r.error_code, r.actual_fee) + zero32 for r in rs]
        records = TxRecords(seq, close_time, tx_hashes, [t.envelope for t in txs_a], [r.error_code for r in rs],
                            [r.error_desc for r in rs], [r.actual_fee for r in rs])
        r_entries = H.sha256_each(r_pre) if r_pre else np.zeros((0, 32), dtype=np.uint8)
        hdr = H.build_header(
            seq=seq, previous_hash=head.hash, account_tree_hash=delta.root, close_time=close_time,
            consensus_value_hash=H.consensus_value_hash(head.hash, seq, close_time, proposed_root),
            tx_count=len(tx_hashes), validators_hash=self._validators_hash, fees_hash=self._fees_hash,
            chain_id=self.config.chain_id,
            # Usually every proposed transaction was applied: then the roots coincide.
            tx_root=proposed_root if len(tx_hashes) == len(transactions) else H.merkle_root(tx_hashes),
            receipts_root=H.merkle_root(r_entries), account_count=delta.account_count)
        commit = BlockCommit(seq, hdr.hash, hdr.SerializeToString(), records, delta.accounts,
                             delta.assets, delta.metadata)
        self.head = hdr
        return ClosedLedger(hdr, commit, receipts)
