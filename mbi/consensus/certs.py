"""Certificates: checking QCs and TCs (one verify_batch call each time) and forming them.

A QC or TC that has been checked once is remembered by its exact bytes (`key()`), so the
same certificate riding in many messages costs one batch verification (§6). Votes and
timeouts are collected unverified and checked together when enough have arrived to form
a certificate; bad ones are dropped and reported, honest ones still form it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from mbi.consensus.crypto import verify_many
from mbi.consensus.types import (
    QuorumCert, Timeout, TimeoutCert, ValidatorSet, Vote, bitmap_indexes, bitmap_of, timeout_digest, vote_digest,
)


class CertChecker:
    """Checks certificates against one validator set and chain, with a bounded cache."""

    __slots__ = ("vs", "chain_id", "genesis_id", "_ok", "_cap")

    def __init__(self, vs: ValidatorSet, chain_id: int, genesis_id: bytes, cache: int = 4096) -> None:
        self.vs, self.chain_id, self.genesis_id = vs, chain_id, genesis_id
        self._ok: OrderedDict[bytes, None] = OrderedDict()
        self._cap = cache

    def remember(self, key: bytes) -> None:
        """Mark a certificate as checked (one this validator formed from checked votes)."""
        self._ok[key] = None
        if len(self._ok) > self._cap:
            self._ok.popitem(last=False)

    def _qc_items(self, qc: QuorumCert, keys: list, msgs: list, sigs: list) -> bool | None:
        """Append qc's signature checks; True when already known good, False when invalid."""
        if qc.round == 0:
            return qc.block_id == self.genesis_id and not qc.signers and not qc.signatures
        if qc.key() in self._ok:
            return True
        idx = bitmap_indexes(qc.signers)
        if len(idx) < self.vs.quorum or len(idx) != len(qc.signatures) or (idx and idx[-1] >= self.vs.n):
            return False
        d = vote_digest(self.chain_id, qc.round, qc.block_id, qc.commit_id)
        for i, s in zip(idx, qc.signatures):
            keys.append(self.vs.keys[i])
            msgs.append(d)
            sigs.append(s)
        return None

    def _tc_items(self, tc: TimeoutCert, keys: list, msgs: list, sigs: list) -> bool | None:
        if tc.key() in self._ok:
            return True
        idx = bitmap_indexes(tc.signers)
        if (len(idx) < self.vs.quorum or len(idx) != len(tc.signatures) or len(idx) != len(tc.high_qc_rounds)
                or (idx and idx[-1] >= self.vs.n) or tc.high_qc.round != max(tc.high_qc_rounds)):
            return False
        for i, hr, s in zip(idx, tc.high_qc_rounds, tc.signatures):
            keys.append(self.vs.keys[i])
            msgs.append(timeout_digest(self.chain_id, tc.round, hr))
            sigs.append(s)
        return None

    def check(self, qcs: "list[QuorumCert]" = (), tcs: "list[TimeoutCert]" = (),  # type: ignore[assignment]
              extra: "list[tuple[bytes, bytes, bytes]]" = ()) -> bool:  # type: ignore[assignment]
        """True iff every given QC and TC (and each TC's high QC) is valid, and every
        `extra` (key, message, signature) item verifies: one batch call for all of it."""
        keys: list[bytes] = [k for k, _, _ in extra]
        msgs: list[bytes] = [m for _, m, _ in extra]
        sigs: list[bytes] = [s for _, _, s in extra]
        pending: list[tuple[bytes, int, int]] = []  # (cache key, first item, end item)
        seen: set[bytes] = set()
        for tc in tcs:
            qcs = list(qcs) + [tc.high_qc]
            start = len(keys)
            r = self._tc_items(tc, keys, msgs, sigs)
            if r is False:
                return False
            if r is None and tc.key() not in seen:
                seen.add(tc.key())
                pending.append((tc.key(), start, len(keys)))
        for qc in qcs:
            if qc.round != 0 and qc.key() in seen:
                continue
            start = len(keys)
            r = self._qc_items(qc, keys, msgs, sigs)
            if r is False:
                return False
            if r is None:
                seen.add(qc.key())
                pending.append((qc.key(), start, len(keys)))
        if not keys:
            return True
        ok = verify_many(keys, msgs, sigs)
        if not ok.all():
            return False
        for key, _, _ in pending:
            self.remember(key)
        return True


@dataclass(slots=True)
class _VoteSet:
    votes: dict[int, Vote]
    checked: set[int]


class VoteCollector:
    """Votes for blocks, grouped by what they sign; forms a QC at a quorum of valid ones."""

    __slots__ = ("vs", "chain_id", "_by_digest", "_by_voter", "done", "_senders")

    def __init__(self, vs: ValidatorSet, chain_id: int) -> None:
        self.vs, self.chain_id = vs, chain_id
        self._senders: dict[tuple[int, int, bytes], object] = {}
        self._by_digest: dict[tuple[int, bytes, bytes], _VoteSet] = {}
        self._by_voter: dict[tuple[int, int], Vote] = {}  # (round, voter) -> first vote seen
        self.done: set[tuple[int, bytes, bytes]] = set()

    def first_vote(self, round: int, voter: int) -> Vote | None:
        return self._by_voter.get((round, voter))

    def sender_of(self, v: Vote) -> object:
        """The peer a vote found bad came from (for the report), if known."""
        return self._senders.get((v.round, v.voter, v.signature))

    def discard(self, v: Vote) -> None:
        """Forget a vote found to be forged (its voter's real vote may then count)."""
        if self._by_voter.get((v.round, v.voter)) is v:
            del self._by_voter[(v.round, v.voter)]
        vset = self._by_digest.get((v.round, v.block_id, v.commit_id))
        if vset is not None and vset.votes.get(v.voter) is v:
            del vset.votes[v.voter]

    def add(self, v: Vote, peer: object = None) -> tuple[QuorumCert | None, list[Vote]]:
        """Add a vote from `peer`; returns (a new QC or None, votes found to carry bad
        signatures; `sender_of` tells where each came from).

        A vote from a voter that already voted differently in this round is not added here:
        the caller checks `first_vote` first and reports equivocation.
        """
        key = (v.round, v.block_id, v.commit_id)
        if key in self.done:
            return None, []
        self._by_voter.setdefault((v.round, v.voter), v)
        vset = self._by_digest.get(key)
        if vset is None:
            vset = self._by_digest[key] = _VoteSet({}, set())
        bad: list[Vote] = []
        held = vset.votes.get(v.voter)
        if held is not None:
            if held.signature == v.signature or v.voter in vset.checked:
                return None, []  # duplicate
            # Anyone may send a vote naming any voter: a forged one that came first must not
            # shut the real one out. Check the held vote now; keep whichever is valid.
            d = vote_digest(self.chain_id, v.round, v.block_id, v.commit_id)
            if verify_many([self.vs.keys[v.voter]], [d], [held.signature])[0]:
                vset.checked.add(v.voter)
                return None, []
            bad.append(held)
        vset.votes[v.voter] = v
        self._senders[(v.round, v.voter, v.signature)] = peer
        if self._by_voter.get((v.round, v.voter)) is held:
            self._by_voter[(v.round, v.voter)] = v
        if len(vset.votes) < self.vs.quorum:
            return None, bad
        unchecked = [x for x in vset.votes.values() if x.voter not in vset.checked]
        if unchecked:
            d = vote_digest(self.chain_id, v.round, v.block_id, v.commit_id)
            ok = verify_many([self.vs.keys[x.voter] for x in unchecked], [d] * len(unchecked),
                             [x.signature for x in unchecked])
            for x, good in zip(unchecked, ok):
                if good:
                    vset.checked.add(x.voter)
                else:
                    bad.append(x)
                    del vset.votes[x.voter]
                    if self._by_voter.get((x.round, x.voter)) is x:
                        del self._by_voter[(x.round, x.voter)]
        if len(vset.votes) < self.vs.quorum:
            return None, bad
        voters = sorted(vset.votes)
        qc = QuorumCert(v.block_id, v.round, v.commit_id, bitmap_of(voters, self.vs.n),
                        tuple(vset.votes[i].signature for i in voters))
        self.done.add(key)
        del self._by_digest[key]
        return qc, bad

    def prune_below(self, round: int) -> None:
        for k in [k for k in self._by_digest if k[0] < round]:
            del self._by_digest[k]
        for k in [k for k in self._by_voter if k[0] < round]:
            del self._by_voter[k]
        self._senders = {k: v for k, v in self._senders.items() if k[0] >= round}
        self.done = {k for k in self.done if k[0] >= round}


class TimeoutCollector:
    """Timeouts per round; reports f + 1 (join the timeout) and forms a TC at a quorum."""

    __slots__ = ("vs", "chain_id", "_by_round", "_checked", "done", "_origin")

    def __init__(self, vs: ValidatorSet, chain_id: int) -> None:
        self.vs, self.chain_id = vs, chain_id
        self._origin: dict[tuple[int, int, bytes], object] = {}
        self._by_round: dict[int, dict[int, Timeout]] = {}
        self._checked: set[tuple[int, int]] = set()
        self.done: set[int] = set()

    def get(self, round: int, author: int) -> Timeout | None:
        return self._by_round.get(round, {}).get(author)

    def sender_of(self, t: Timeout) -> object:
        return self._origin.get((t.round, t.author, t.signature))

    def _check(self, round: int) -> list[Timeout]:
        tmos = self._by_round[round]
        unchecked = [t for a, t in tmos.items() if (round, a) not in self._checked]
        bad: list[Timeout] = []
        if unchecked:
            ok = verify_many([self.vs.keys[t.author] for t in unchecked],
                             [timeout_digest(self.chain_id, round, t.high_qc.round) for t in unchecked],
                             [t.signature for t in unchecked])
            for t, good in zip(unchecked, ok):
                if good:
                    self._checked.add((round, t.author))
                else:
                    bad.append(t)
                    del tmos[t.author]
        return bad

    def add(self, t: Timeout, peer: object = None) -> tuple[int, TimeoutCert | None, list[Timeout]]:
        """Add a (structurally valid) timeout whose high QC the caller has checked.

        Returns (number of valid timeouts for the round, a new TC or None, bad timeouts).
        Signatures are checked once f + 1 have arrived, then with each new arrival.
        """
        if t.round in self.done:
            return 0, None, []
        tmos = self._by_round.setdefault(t.round, {})
        held = tmos.get(t.author)
        early: list[Timeout] = []
        if held is not None:
            if held.signature == t.signature or (t.round, t.author) in self._checked:
                return 0, None, []  # duplicate (or a second timeout of a validator already counted)
            # A forged timeout that came first must not shut the real one out.
            d = timeout_digest(self.chain_id, held.round, held.high_qc.round)
            if verify_many([self.vs.keys[t.author]], [d], [held.signature])[0]:
                self._checked.add((t.round, t.author))
                return 0, None, []
            early.append(held)
        tmos[t.author] = t
        self._origin[(t.round, t.author, t.signature)] = peer
        if len(tmos) < self.vs.f + 1:
            return 0, None, early
        bad = early + self._check(t.round)
        count = len(tmos)
        if count < self.vs.quorum:
            return count, None, bad
        authors = sorted(tmos)
        high = max((tmos[a].high_qc for a in authors), key=lambda q: q.round)
        tc = TimeoutCert(t.round, bitmap_of(authors, self.vs.n), tuple(tmos[a].high_qc.round for a in authors),
                         tuple(tmos[a].signature for a in authors), high)
        self.done.add(t.round)
        del self._by_round[t.round]
        return count, tc, bad

    def prune_below(self, round: int) -> None:
        for r in [r for r in self._by_round if r < round]:
            del self._by_round[r]
        self._origin = {k: v for k, v in self._origin.items() if k[0] >= round}
        self._checked = {k for k in self._checked if k[0] >= round}
        self.done = {r for r in self.done if r >= round}
