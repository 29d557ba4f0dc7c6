"""Peer scores and bans.

Every offence lowers a score (starting at 0) by its penalty; the score recovers toward 0
at ``recovery_per_s``. When it falls to ``ban_threshold`` or below, the subject is banned
for ``ban_seconds`` and its score is reset. Subjects are node keys (authenticated
peers) and host addresses (offences before the handshake completes, when no key is
proven). Both tables are bounded: the oldest entries are forgotten first.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Hashable


class PeerScores:
    def __init__(self, *, ban_threshold: float, ban_seconds: float, recovery_per_s: float,
                 max_entries: int = 4096) -> None:
        if ban_threshold >= 0:
            raise ValueError("ban_threshold must be negative")
        self.ban_threshold = ban_threshold
        self.ban_seconds = ban_seconds
        self.recovery_per_s = recovery_per_s
        self.max_entries = max_entries
        self._scores: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # subject -> (score, at)
        self._bans: OrderedDict[Hashable, float] = OrderedDict()  # subject -> banned until

    def score(self, subject: Hashable, now: float) -> float:
        e = self._scores.get(subject)
        if e is None:
            return 0.0
        s, at = e
        return min(0.0, s + (now - at) * self.recovery_per_s)

    def penalize(self, subject: Hashable, penalty: float, now: float) -> bool:
        """Lower the score; True when this offence got the subject banned."""
        s = self.score(subject, now) - abs(penalty)
        if s <= self.ban_threshold:
            self._scores.pop(subject, None)
            self._bans[subject] = now + self.ban_seconds
            self._bans.move_to_end(subject)
            while len(self._bans) > self.max_entries:
                self._bans.popitem(last=False)
            return True
        self._scores[subject] = (s, now)
        self._scores.move_to_end(subject)
        while len(self._scores) > self.max_entries:
            self._scores.popitem(last=False)
        return False

    def banned(self, subject: Hashable, now: float) -> bool:
        until = self._bans.get(subject)
        if until is None:
            return False
        if now >= until:
            del self._bans[subject]
            return False
        return True

    def ban_remaining(self, subject: Hashable, now: float) -> float:
        until = self._bans.get(subject)
        return max(0.0, until - now) if until is not None else 0.0

    def unban(self, subject: Hashable) -> None:
        self._bans.pop(subject, None)
        self._scores.pop(subject, None)

    def expire(self, now: float) -> None:
        """Drop expired bans and scores that have fully recovered (housekeeping)."""
        for k in [k for k, until in self._bans.items() if now >= until]:
            del self._bans[k]
        for k in [k for k, (s, at) in self._scores.items() if s + (now - at) * self.recovery_per_s >= 0]:
            del self._scores[k]

    @property
    def ban_count(self) -> int:
        return len(self._bans)

    def __len__(self) -> int:
        return len(self._scores)
