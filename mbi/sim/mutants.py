"""Deliberately broken engines for the mutation tests: each switches off one safety rule.

The simulator must find a violation with each of these (tests/test_sim_mutants.py);
otherwise its checks could not fail and would prove nothing.
"""
from __future__ import annotations

from mbi.consensus import Core, SafetyRules
from mbi.consensus.types import QuorumCert


class NoVotedRoundCheck(SafetyRules):
    """§4.1 (a) off: may vote twice in a round, or in a round it already timed out."""
    __slots__ = ()

    def voted_round_ok(self, round: int) -> bool:
        return True


class NoExtendsCheck(SafetyRules):
    """§4.1 (b) off: votes for a block whatever QC it extends."""
    __slots__ = ()

    def extends_ok(self, block_round: int, qc_round: int, tc: object) -> bool:
        return True


class NoTimeoutQcCheck(SafetyRules):
    """§4.2 (a) off: may sign a timeout reporting a QC lower than one it voted on."""
    __slots__ = ()

    def timeout_qc_ok(self, qc_round: int) -> bool:
        return True


class CommitOnOneCore(Core):
    """§3.5 broken: commits a block as soon as it is certified (a one-chain rule)."""

    def _commit_target(self, qc: QuorumCert) -> bytes | None:
        return qc.block_id if qc.round > 0 else None


# name -> (core class, safety rules class)
MUTANTS: dict[str, tuple[type[Core], type[SafetyRules]]] = {
    "voted_round": (Core, NoVotedRoundCheck),
    "extends": (Core, NoExtendsCheck),
    "timeout_qc": (Core, NoTimeoutQcCheck),
    "commit_one": (CommitOnOneCore, SafetyRules),
}
