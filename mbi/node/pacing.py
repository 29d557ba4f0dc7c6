"""Block pacing: how many transactions a leader puts in its proposal (docs/consensus.md §3.7).

A block's pipeline (the leader builds and sends it, every validator checks its payload,
votes once it has executed the block's `exec_height`, the next leader forms the QC)
takes time in proportion to its transactions. A block whose pipeline outlasts the round
timeout makes the round time out, and the next block, with the backlog, is bigger still.
So the leader caps its proposal at what this node has measured fits in a budget, a
fraction of the round timeout:

    cap = clamp(budget / seconds_per_tx, min_txs, max_txs)

`seconds_per_tx` is the larger of two moving averages (EWMA), fed with wall-clock
seconds that this node measured:
- **round**: a round's duration here (from entering it to entering the next), per
  transaction of that round's block. It covers everything on the path to the QC,
  contention with ingest and gossip included.
- **check + execute**: the payload check of a block, per transaction, plus its
  execution (ledger close and store write), per transaction. Execution can fall behind
  without lengthening rounds at first (it runs after commit); this term caps blocks at
  what execution keeps up with.

Blocks under `MIN_SAMPLE_TXS` are not sampled: their fixed per-block cost (fsync, round
trips) would be charged to a handful of transactions. Larger blocks still carry some
fixed cost `a` besides the per-transaction cost `b`, which only moves the fixed point
to (budget − a) / b: the cap settles where a block's pipeline takes the budget.

This is the proposer's local choice, not a validity rule: no validator checks a block's
size against its own measurements, so determinism and safety are unaffected. Pure: the
caller passes the measured seconds (no clock here).
"""
from __future__ import annotations

MIN_SAMPLE_TXS = 100


class Ewma:
    """Exponentially weighted moving average; None until the first sample."""

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.value: float | None = None

    def add(self, x: float) -> None:
        self.value = x if self.value is None else self.value + self.alpha * (x - self.value)


class BlockPacer:
    """The transaction cap of this node's next proposal, from its measured pipeline cost."""

    __slots__ = ("budget", "min_txs", "round", "check", "execute")

    def __init__(self, budget: float, min_txs: int, alpha: float = 0.3) -> None:
        if budget < 0 or min_txs < 1:
            raise ValueError("budget >= 0 (0 disables pacing) and min_txs >= 1")
        self.budget = budget
        self.min_txs = min_txs
        self.round = Ewma(alpha)
        self.check = Ewma(alpha)
        self.execute = Ewma(alpha)

    @staticmethod
    def _per_tx(avg: Ewma, txs: int, seconds: float) -> None:
        if txs >= MIN_SAMPLE_TXS and seconds >= 0.0:
            avg.add(seconds / txs)

    def observe_round(self, txs: int, seconds: float) -> None:
        """A round whose block carried `txs` transactions lasted `seconds` here."""
        self._per_tx(self.round, txs, seconds)

    def observe_check(self, txs: int, seconds: float) -> None:
        self._per_tx(self.check, txs, seconds)

    def observe_execute(self, txs: int, seconds: float) -> None:
        self._per_tx(self.execute, txs, seconds)

    def seconds_per_tx(self) -> float | None:
        """The estimate, or None before any sample."""
        parts = [v for v in (self.check.value, self.execute.value) if v is not None]
        pipeline = sum(parts) if parts else None
        r = self.round.value
        if r is None:
            return pipeline
        return r if pipeline is None else max(r, pipeline)

    def cap(self, max_txs: int) -> int:
        """Transactions for the next proposal: at most `max_txs`, at least `min_txs`
        (never starve; `max_txs` wins if smaller). Unpaced (`max_txs`) while pacing is
        off or nothing has been measured yet."""
        per_tx = self.seconds_per_tx()
        if self.budget == 0 or per_tx is None or per_tx <= 0:
            return max_txs
        fit = int(self.budget / per_tx * (1 + 1e-9))  # the floor, not one below it by float noise
        return min(max_txs, max(self.min_txs, fit))


def after_timeout(cap: int, factor: float, max_txs: int, timed_out: bool) -> int:
    """The cap of a round that follows a timed-out one (`timed_out`): `factor` times the
    paced cap, within `max_txs`. The lost round's transactions wait on top of this
    round's, and with a validator down two rounds in four time out."""
    if not timed_out or factor <= 1.0:
        return cap
    return min(max_txs, int(cap * factor))

