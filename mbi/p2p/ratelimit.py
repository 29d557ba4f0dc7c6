"""Token bucket used to cap each peer's inbound frames and bytes."""
from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; refilled lazily from the caller's clock."""

    __slots__ = ("rate", "burst", "_tokens", "_last")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("token bucket rate and burst must be > 0")
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def take(self, amount: float, now: float) -> bool:
        """Remove ``amount`` tokens; False (and nothing removed) when there are not enough."""
        t = self._tokens + (now - self._last) * self.rate
        if t > self.burst:
            t = self.burst
        self._last = now
        if t < amount:
            self._tokens = t
            return False
        self._tokens = t - amount
        return True

    @property
    def tokens(self) -> float:
        return self._tokens
