"""The safety rules of Jolteon / DiemBFT v4 (docs/consensus.md §4), and nothing else.

Two numbers are the whole state: the highest round this validator voted in (or timed out
in) and the highest QC round it has seen in a block it voted for. Both only grow, and both
are persisted (PersistSafety, fsynced) before the vote or timeout that raised them leaves
the validator, so a restart from the persisted data can never sign two different votes in
one round.

Each check is its own method so that the mutation tests can switch one off and show that
the simulator then finds a safety violation.
"""
from __future__ import annotations

from mbi.consensus.types import QuorumCert, SafetyData, TimeoutCert


class SafetyRules:
    __slots__ = ("highest_voted_round", "highest_qc_round")

    def __init__(self, data: SafetyData | None = None) -> None:
        self.highest_voted_round = data.highest_voted_round if data else 0
        self.highest_qc_round = data.highest_qc_round if data else 0

    def data(self, high_qc: QuorumCert | None, last_tc: TimeoutCert | None = None) -> SafetyData:
        """The persisted form; the core's highest QC and last TC ride along for restarts."""
        return SafetyData(self.highest_voted_round, self.highest_qc_round, high_qc, last_tc)

    # -------------------------------------------------------------- the checks (§4.1-§4.3)

    def voted_round_ok(self, round: int) -> bool:
        """§4.1 (a): never vote twice in a round, nor in a round already timed out."""
        return round > self.highest_voted_round

    def extends_ok(self, block_round: int, qc_round: int, tc: TimeoutCert | None) -> bool:
        """§4.1 (b): the block extends the QC of the round just before it, or it follows a TC
        of the round just before it and its QC is at least the highest QC in that TC."""
        if block_round == qc_round + 1:
            return True
        return tc is not None and block_round == tc.round + 1 and qc_round >= tc.max_high_qc_round()

    def timeout_qc_ok(self, qc_round: int) -> bool:
        """§4.2 (a): a timeout reports a QC at least as high as any this validator voted on."""
        return qc_round >= self.highest_qc_round

    def timeout_round_ok(self, round: int, qc_round: int, tc: TimeoutCert | None) -> bool:
        """§4.2 (b): time out only the round after one's QC or TC, and not a round already
        left behind by a later vote."""
        if round <= max(self.highest_voted_round - 1, qc_round):
            return False
        return round == qc_round + 1 or (tc is not None and round == tc.round + 1)

    # -------------------------------------------------------------- the decisions

    def safe_to_vote(self, block_round: int, qc_round: int, tc: TimeoutCert | None) -> bool:
        return (self.voted_round_ok(block_round) and block_round > qc_round
                and self.extends_ok(block_round, qc_round, tc))

    def record_vote(self, block_round: int, qc: QuorumCert) -> None:
        """After safe_to_vote: raise both rounds (§4.1 (c)). Persist before sending."""
        self.highest_voted_round = max(self.highest_voted_round, block_round)
        self.highest_qc_round = max(self.highest_qc_round, qc.round)

    def safe_to_timeout(self, round: int, qc_round: int, tc: TimeoutCert | None) -> bool:
        return self.timeout_qc_ok(qc_round) and self.timeout_round_ok(round, qc_round, tc)

    def record_timeout(self, round: int) -> None:
        """After safe_to_timeout: no vote in this round any more (§4.2 (c))."""
        self.highest_voted_round = max(self.highest_voted_round, round)
