"""A validator whose disk stops syncing stops, with a message that says so, shuts down
cleanly, and the other three go on committing without it."""
from __future__ import annotations

import time

from api_util import LiveNode


class _WalSyncFails:
    """The store's RocksDB handle with a WAL sync that fails (a dying disk)."""

    def __init__(self, db) -> None:  # noqa: ANN001
        self._db = db

    def flush_wal(self, sync: bool) -> None:
        raise Exception("IO error: fdatasync: Input/output error")

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._db, name)


def _wait(what: str, cond, timeout: float = 60.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_failed_wal_sync_stops_that_validator_and_the_rest_commit(tmp_path) -> None:
    with LiveNode(str(tmp_path)) as n:
        victim, others = n.nodes[3], n.nodes[:3]
        _wait("the chain to start", lambda: min(x.chain.height for x in n.nodes) >= 2)
        store = victim.store
        real = store._db
        store._db = _WalSyncFails(real)  # the next block it executes cannot be made durable
        try:
            _wait("the validator to stop", lambda: victim.fatal is not None)
            assert "WAL sync after writing ledger" in victim.fatal and "restart" in victim.fatal, victim.fatal
            stuck = victim.chain.stored_height
            base = max(x.chain.height for x in others)
            _wait("the other three to commit on", lambda: min(x.chain.height for x in others) >= base + 5)
            assert victim.chain.stored_height == stuck  # nothing more was written
        finally:
            store._db = real  # close the real handle at shutdown
    # The failed node shut down like the others: its store closed, no exception left over
    # (the driver used to re-raise the execution error from stop(), and shutdown stopped there).
    assert store._closed
