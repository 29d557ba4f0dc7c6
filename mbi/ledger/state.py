"""In-memory ledger state: accounts by address and the incremental state tree.

``LedgerState`` is the ``StateView`` that execution reads. ``apply(changes)`` folds one
block's ``BlockChanges`` into it: it re-encodes each touched account once, updates the
``core_ext.merkle.MerkleTree`` leaves of existing accounts and appends the new ones (one
native call each), and returns the records the store writes.

State tree: entry i = SHA-256(canonical encoding of the account created i-th), and the
tree is RFC 6962 over those entries (leaf hash = SHA-256(0x00 ‖ entry)). Its root is the
header's ``account_tree_hash``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from mbi.ledger.account import Account, AccountDecodeError, decode_account, encode_many
from mbi.ledger.execute import BlockChanges, ChainConfig
from mbi.types.records import AccountWrites, AssetWrite, MetadataWrite

_sha256 = hashlib.sha256


def _merkle_tree(threads: int):
    from core_ext.merkle import MerkleTree

    return MerkleTree(threads=threads)


@dataclass(slots=True)
class StateDelta:
    root: bytes
    accounts: AccountWrites
    assets: list[AssetWrite]
    metadata: list[MetadataWrite]
    account_count: int


class LedgerState:
    """All accounts in memory plus the state tree. Implements ``StateView``."""

    def __init__(self, config: ChainConfig, tree_threads: int = 1) -> None:
        # tree_threads: hashing threads for state-tree updates. One by default (the
        # ledger path is budgeted per core); a validator with idle cores may raise it.
        self.config = config
        self._accounts: dict[str, Account] = {}
        self._order: list[str] = []
        self._tree = _merkle_tree(tree_threads)

    # -- StateView --------------------------------------------------------------------
    def get_account(self, address: str) -> Account | None:
        return self._accounts.get(address)

    def account_count(self) -> int:
        return len(self._order)

    @property
    def account_getter(self):
        """The raw lookup behind get_account (a bound dict.get), for the executor."""
        return self._accounts.get

    # -- reading ----------------------------------------------------------------------
    def address_at(self, index: int) -> str:
        return self._order[index]

    def accounts(self) -> Iterable[Account]:
        """Accounts in creation order."""
        acc = self._accounts
        return (acc[a] for a in self._order)

    def root(self) -> bytes:
        if not self._order:
            return _sha256(b"").digest()
        return bytes(self._tree.root())

    def inclusion_proof(self, address: str) -> tuple[int, list[bytes]] | None:
        """(index, RFC 6962 audit path) for an account, if the tree offers proofs."""
        a = self._accounts.get(address)
        if a is None or not hasattr(self._tree, "inclusion_proof"):
            return None
        return a.index, list(self._tree.inclusion_proof(a.index))

    # -- writing ----------------------------------------------------------------------
    def apply(self, changes: BlockChanges) -> StateDelta:
        """Fold a block's changes in and return the root and the store records."""
        base = len(self._order)
        if changes.base_count != base:
            raise ValueError(f"changes were computed against {changes.base_count} accounts; state has {base}")
        accts = changes.accounts
        n_new = changes.new_accounts
        n_old = len(accts) - n_new
        cur = self._accounts
        new_accts = accts[n_old:]
        old_accts = accts[:n_old] if n_new else accts
        for j, a in enumerate(new_accts):
            if a.index != base + j:
                raise ValueError(f"new account {a.address} has index {a.index}, expected {base + j}")
            if a.address in cur:
                raise ValueError(f"new account {a.address} already exists")
        # First pass: check and diff, writing nothing, so that bad changes leave the state
        # (maps and tree) as it was. (Comprehensions and loops, not map(attrgetter):
        # CPython 3.11 specializes slot reads in bytecode, not in attrgetter.)
        asset_w: list[AssetWrite] = []
        md_w: list[MetadataWrite] = []
        get = cur.get
        for a in old_accts:
            addr = a.address
            old = get(addr)
            if old is None or old.index != a.index:
                raise ValueError(f"account {addr} (index {a.index}) is not in the state at that index")
            # dict fields are copy-on-write: the same object means unchanged
            if a.assets is not old.assets:
                _diff_assets(addr, old.assets, a.assets, asset_w)
            if a.metadata is not old.metadata:
                _diff_metadata(addr, old.metadata, a.metadata, md_w)
        for a in new_accts:
            if a.assets:
                _diff_assets(a.address, {}, a.assets, asset_w)
            if a.metadata:
                _diff_metadata(a.address, {}, a.metadata, md_w)
        encs = encode_many(accts)
        addrs = [a.address for a in accts]
        indexes = [a.index for a in accts]
        if accts:
            leaves = _leaves(encs)
            if n_old:
                idx = np.array(indexes[:n_old] if n_new else indexes, dtype=np.uint64)
                self._tree.update(idx, leaves[:n_old])
            if n_new:
                self._tree.append(leaves[n_old:])
        cur.update(zip(addrs, accts))
        order = self._order
        order.extend(addrs[n_old:])
        return StateDelta(self.root(), AccountWrites(addrs, indexes, encs), asset_w, md_w, len(order))

    # -- loading ----------------------------------------------------------------------
    @classmethod
    def from_entries(cls, config: ChainConfig, entries: Iterable[tuple[int, str, bytes]],
                     assets_of, metadata_of) -> "LedgerState":
        """Rebuild from stored accounts in creation order.

        ``assets_of(address)`` yields (issuer, code, amount); ``metadata_of(address)``
        yields (key bytes, value bytes, version). Every account's encoding is checked to
        round-trip, which also checks its asset and metadata hashes.
        """
        st = cls(config)
        leaves = []
        for expect, (index, address, enc) in enumerate(entries):
            if index != expect:
                raise AccountDecodeError(f"account {address} stored at index {index}, expected {expect}")
            a = decode_account(enc, index)
            if a.address != address:
                raise AccountDecodeError(f"account stored under {address} encodes address {a.address}")
            assets = {(i, c): amt for i, c, amt in assets_of(address)}
            md = {k.decode(): (v.decode(), ver) for k, v, ver in metadata_of(address)}
            if assets:
                a.assets = assets
            if md:
                a.metadata = md
            if a.encode() != enc:
                raise AccountDecodeError(f"account {address}: stored encoding does not match its assets/metadata")
            st._accounts[address] = a
            st._order.append(address)
            leaves.append(enc)
        if leaves:
            st._tree.append(_leaves(leaves))
        return st


    @classmethod
    def from_tables(cls, config: ChainConfig, entries: Iterable[tuple[int, str, bytes]],
                    all_assets: Iterable[tuple[str, str, str, int]],
                    all_metadata: Iterable[tuple[str, bytes, bytes, int]]) -> "LedgerState":
        """``from_entries`` fed by one scan of each side table instead of one per account.

        ``all_assets`` yields (address, issuer, code, amount), ``all_metadata`` yields
        (address, key bytes, value bytes, version), in any order. A row whose address has
        no account is refused: it would otherwise be silently dropped.
        """
        assets: dict[str, list[tuple[str, str, int]]] = {}
        for address, issuer, code, amount in all_assets:
            assets.setdefault(address, []).append((issuer, code, amount))
        metadata: dict[str, list[tuple[bytes, bytes, int]]] = {}
        for address, key, value, version in all_metadata:
            metadata.setdefault(address, []).append((key, value, version))
        st = cls.from_entries(config, entries, lambda a: assets.get(a, ()), lambda a: metadata.get(a, ()))
        acc = st._accounts
        for kind, table in (("asset", assets), ("metadata", metadata)):
            for address in table:
                if address not in acc:
                    raise AccountDecodeError(f"stored {kind} rows belong to {address}, which has no account")
        return st


def _leaves(encs: list[bytes]) -> np.ndarray:
    """(n, 32) array of SHA-256 over each encoding, in one native multi-buffer call."""
    from core_ext.hashing import sha256_many

    offsets = np.zeros(len(encs) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encs), dtype=np.int64, count=len(encs)), out=offsets[1:])
    return np.asarray(sha256_many(b"".join(encs), offsets, threads=1)).reshape(-1, 32)


def _diff_assets(addr: str, old: dict, new: dict, out: list[AssetWrite]) -> None:
    keys = set(old) | set(new)
    for k in sorted(keys):
        n = new.get(k, 0)
        if old.get(k, 0) != n:
            out.append(AssetWrite(addr, k[0], k[1], n))


def _diff_metadata(addr: str, old: dict, new: dict, out: list[MetadataWrite]) -> None:
    keys = set(old) | set(new)
    for k in sorted(keys):
        nv = new.get(k)
        if old.get(k) != nv:
            if nv is None:
                out.append(MetadataWrite(addr, k.encode(), None, old[k][1]))
            else:
                out.append(MetadataWrite(addr, k.encode(), nv[0].encode(), nv[1]))
