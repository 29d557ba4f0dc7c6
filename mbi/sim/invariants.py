"""The invariants every simulated run must keep, checked over honest validators only.

- `conflicting_commit`: two honest validators committed different blocks at one height.
- `not_a_chain`: an honest validator's commits skip a height or do not link by parent
  id; together with the first check this makes every honest chain a prefix of one chain.
- `double_vote`: an honest validator signed two different votes in one round (seen on
  the wire, so a restarted validator that forgot its vote is caught too).
- `unpersisted_vote`: an honest validator's vote or timeout left before the safety data
  covering it was persisted (checked by the simulator as it sees the message).
- `liveness`: in the healed stretch at the end of a run, every honest validator's
  committed height rose at least `k` past the highest committed height at the heal.
- `honest_halted`: an honest validator stopped because its state root differed from a
  certified one; execution is deterministic here, so that is a bug.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from mbi.consensus.types import Block


@dataclass(frozen=True, slots=True)
class Violation:
    seed: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"seed": self.seed, "kind": self.kind, "detail": self.detail}


class VoteLedger:
    """Every vote an honest validator signed, by (voter, round), as observed on the wire."""

    __slots__ = ("honest", "_seen", "conflicts")

    def __init__(self, honest: Iterable[int]) -> None:
        self.honest = frozenset(honest)
        self._seen: dict[tuple[int, int], tuple[bytes, bytes]] = {}
        self.conflicts: list[tuple[int, int, tuple[bytes, bytes], tuple[bytes, bytes]]] = []

    def record(self, voter: int, round: int, block_id: bytes, commit_id: bytes) -> None:
        if voter not in self.honest:
            return
        key = (voter, round)
        val = (block_id, commit_id)
        old = self._seen.setdefault(key, val)
        if old != val:
            if not any(c[0] == voter and c[1] == round and c[3] == val for c in self.conflicts):
                self.conflicts.append((voter, round, old, val))

    def violations(self, seed: int) -> list[Violation]:
        return [Violation(seed, "double_vote",
                          f"validator {v} voted for {a[0].hex()[:16]} and {b[0].hex()[:16]} in round {r}")
                for v, r, a, b in self.conflicts]


def check_chains(seed: int, genesis_id: bytes, chains: Mapping[int, Sequence[Block]]) -> list[Violation]:
    """Commit safety over the honest validators' committed chains (index -> blocks)."""
    out: list[Violation] = []
    at_height: dict[int, tuple[bytes, int]] = {}
    for v in sorted(chains):
        prev_id, prev_h = genesis_id, 0
        for b in chains[v]:
            if b.height != prev_h + 1 or b.parent_id != prev_id:
                out.append(Violation(seed, "not_a_chain",
                                     f"validator {v} committed height {b.height} (parent {b.parent_id.hex()[:16]}) "
                                     f"after height {prev_h} ({prev_id.hex()[:16]})"))
                break
            prev_id, prev_h = b.id, b.height
            first = at_height.setdefault(b.height, (b.id, v))
            if first[0] != b.id:
                out.append(Violation(seed, "conflicting_commit",
                                     f"height {b.height}: validator {first[1]} committed {first[0].hex()[:16]}, "
                                     f"validator {v} committed {b.id.hex()[:16]}"))
                break
    return out


def check_liveness(seed: int, heal_height: int, k: int, final: Mapping[int, int], healed_for: float) -> list[Violation]:
    """Each honest validator must end at least `k` heights above `heal_height`."""
    need = heal_height + k
    lagging = {v: h for v, h in sorted(final.items()) if h < need}
    if not lagging:
        return []
    return [Violation(seed, "liveness",
                      f"after {healed_for:.1f} healed virtual seconds, validators {lagging} are below height {need} "
                      f"(height {heal_height} at the heal + {k})")]
