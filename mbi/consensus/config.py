"""The engine's tunables (`CoreConfig`); the rules they feed are in docs/consensus.md."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoreConfig:
    chain_id: int
    round_timeout: float = 1.0        # seconds before the first timeout of a round (§3.3)
    timeout_backoff: float = 1.5      # factor per consecutive timed-out round
    max_round_timeout: float = 30.0
    max_future_rounds: int = 10_000   # votes/timeouts further ahead are ignored (bounds memory)
    max_clock_skew: float = 10.0      # a block's timestamp may be this far ahead of our clock
    sync_retry: float = 0.5           # at most one sync request per this many seconds
    sync_max_blocks: int = 256
    max_payload_bytes: int = 64 << 20
    executed_window: int = 4096       # state roots remembered for the execution check (§5)

    def __post_init__(self) -> None:
        if not 0 < self.chain_id < 1 << 63:
            raise ValueError("chain_id must be in [1, 2**63)")
        if not (self.round_timeout > 0 and self.timeout_backoff >= 1 and self.max_round_timeout >= self.round_timeout):
            raise ValueError("round_timeout > 0, timeout_backoff >= 1 and max_round_timeout >= round_timeout")
        if self.sync_max_blocks < 1 or self.max_future_rounds < 1:
            raise ValueError("sync_max_blocks and max_future_rounds must be positive")
