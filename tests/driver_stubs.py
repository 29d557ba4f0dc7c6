"""Stand-ins for the pool and verified-transaction cache of a ConsensusDriver whose tests
only execute committed blocks (the driver calls these two methods after each one)."""
from __future__ import annotations


class NullPool:
    def on_commit(self, applied, dropped) -> None:  # noqa: ANN001
        pass


class NullCache:
    def discard(self, envelopes) -> None:  # noqa: ANN001
        pass
