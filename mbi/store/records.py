"""Re-export of the ledger → store write records, which live in ``mbi.types.records``.

They are values shared between layers (``mbi.ledger`` produces them, ``mbi.store``
writes them), so they belong to ``mbi.types``; this module keeps the old import path
working.
"""
from __future__ import annotations

from mbi.types.records import (AccountWrite, AccountWrites, AssetWrite, BlockCommit, MetadataWrite, TxRecord,
                               TxRecords)

__all__ = ["AccountWrite", "AccountWrites", "AssetWrite", "BlockCommit", "MetadataWrite", "TxRecord", "TxRecords"]
