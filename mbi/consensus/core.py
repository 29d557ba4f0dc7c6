"""The Jolteon / DiemBFT v4 engine: `Core.handle(event, now) -> list[Action]`.

Pure: no I/O, no clock (`now` is passed in), no threads, no global randomness. The same
events in the same order give the same actions, which is what lets the simulator replay a
seed bit for bit. Section numbers (§) refer to docs/consensus.md.
"""
from __future__ import annotations

from collections import OrderedDict, deque

from mbi.consensus import wire
from mbi.consensus.certs import CertChecker, TimeoutCollector, VoteCollector
from mbi.consensus.config import CoreConfig
from mbi.consensus.crypto import Signer, verify_many
from mbi.consensus.events import (
    Action, BlockExecuted, Broadcast, Commit, Event, Halted, MessageReceived, PayloadReady, PayloadVerified, Peer,
    PersistSafety, ReportMisbehaviour, RequestPayload, Send, ServeSync, SetTimer, TimerFired, VerifyPayload,
)
from mbi.consensus.safety import SafetyRules
from mbi.consensus.sync import SyncError, verify_certified_chain, verify_committed_range
from mbi.consensus.types import (
    Block, Proposal, QuorumCert, SafetyData, SyncRequest, SyncResponse, Timeout, TimeoutCert, ValidatorSet, Vote,
    genesis_qc, make_block, proposal_digest, timeout_digest, vote_digest,
)


class Core:
    def __init__(self, config: CoreConfig, validators: ValidatorSet, signer: Signer | None, genesis_id: bytes,
                 safety: SafetyData | None = None, committed: tuple[Block, QuorumCert] | None = None,
                 rules: type[SafetyRules] = SafetyRules, certified: "tuple[Block, ...] | list[Block]" = ()) -> None:
        self.cfg = config
        self.vs = validators
        self.chain_id = config.chain_id
        self.signer = signer
        self.index = validators.index_of(signer.public_key) if signer is not None else None
        self.genesis_id = genesis_id
        self.limits = wire.Limits(max_payload_bytes=config.max_payload_bytes,
                                  max_sync_blocks=max(config.sync_max_blocks, 1) * 2)
        self.rules = rules(safety)
        self.checker = CertChecker(validators, self.chain_id, genesis_id)
        self.votes = VoteCollector(validators, self.chain_id)
        self.timeouts = TimeoutCollector(validators, self.chain_id)
        gqc = genesis_qc(genesis_id)
        if committed is None:
            root = Block(0, 0, 0, 0, b"\x00" * 32, gqc, b"", 0, b"", genesis_id)
            high = gqc
        else:
            root, high = committed
        if safety is not None and safety.high_qc is not None and safety.high_qc.round > high.round:
            high = safety.high_qc
        self.root = root                      # the last committed block: the block tree's root
        self.blocks: dict[bytes, Block] = {root.id: root}
        # The block tree this validator kept before a restart (§4.3): after every validator
        # crashed, the block its high QC certifies may exist only in the voters' stores.
        for b in sorted(certified, key=lambda x: x.height):
            parent = self.blocks.get(b.parent_id)
            if parent is not None and b.height == parent.height + 1 and b.qc.block_id == parent.id:
                self.blocks[b.id] = b
        self.high_qc = high
        self.last_tc: TimeoutCert | None = None
        self.round = max(high.round + 1, 1)
        if safety is not None and safety.last_tc is not None:
            self.last_tc = safety.last_tc
            self.round = max(self.round, safety.last_tc.round + 1)
        self.timeouts_in_row = 0
        self.halted = False
        self._proposals: OrderedDict[int, Proposal] = OrderedDict()   # first valid proposal per round
        self._awaiting: OrderedDict[bytes, Proposal] = OrderedDict()  # proposals whose payload is being checked
        self._waiting: tuple[Peer, Proposal] | None = None            # proposal whose parent we lack
        self._deferred: tuple[Block, TimeoutCert | None] | None = None  # vote waiting for our execution
        self._proposed_round = 0
        self._my_timeout: Timeout | None = None
        self._executed: OrderedDict[int, bytes] = OrderedDict()       # height -> our state root
        self._last_executed: tuple[int, bytes] = (0, b"")
        self._claims: OrderedDict[int, bytes] = OrderedDict()         # height -> certified state root
        self._recent_commits: deque[bytes] = deque(maxlen=4096)
        self._recent_commit_set: set[bytes] = set()
        self._sync_next = float("-inf")
        self._out: list[Action] = []

    # ------------------------------------------------------------------ public

    @property
    def committed_height(self) -> int:
        return self.root.height

    @property
    def committed_id(self) -> bytes:
        return self.root.id

    def start(self, now: float) -> list[Action]:
        """Arm the first round timer and, as leader of that round, ask for a payload."""
        self._out = []
        if self.index is not None:
            self._out.append(SetTimer(self.round, now + self._duration()))
            if self.vs.leader(self.round) == self.index:
                self._request_payload()
        return self._take()

    def handle(self, event: Event, now: float) -> list[Action]:
        self._out = []
        if isinstance(event, MessageReceived):
            self._on_message(event.peer, event.data, now)
        elif isinstance(event, TimerFired):
            if event.round == self.round:
                self._local_timeout(now)
        elif isinstance(event, PayloadReady):
            self._on_payload_ready(event.round, event.payload, now)
        elif isinstance(event, PayloadVerified):
            self._on_payload_verified(event.block_id, event.valid, now)
        elif isinstance(event, BlockExecuted):
            self._on_executed(event.height, event.state_root, now)
        else:
            raise TypeError(f"not a consensus event: {type(event).__name__}")
        return self._take()

    def _take(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ messages

    def _report(self, kind: str, peer: Peer | None, validator: int | None, detail: str,
                evidence: tuple[bytes, ...] = ()) -> None:
        self._out.append(ReportMisbehaviour(kind, peer, validator, detail, evidence))

    def _on_message(self, peer: Peer, data: bytes, now: float) -> None:
        try:
            msg = wire.decode_message(data, self.vs, self.chain_id, self.limits)
        except wire.WireError as e:
            self._report("malformed", peer, None, e.reason)
            return
        if isinstance(msg, Proposal):
            self._on_proposal(peer, msg, now)
        elif isinstance(msg, Vote):
            self._on_vote(peer, msg, now)
        elif isinstance(msg, Timeout):
            self._on_timeout(peer, msg, now)
        elif isinstance(msg, SyncRequest):
            self._on_sync_request(peer, msg)
        else:
            self._on_sync_response(peer, msg, now)

    def _in_window(self, round: int) -> bool:
        return self.round - 1 <= round <= self.round + self.cfg.max_future_rounds

    # -- proposals (§3.2)

    def _on_proposal(self, peer: Peer, p: Proposal, now: float) -> None:
        b = p.block
        if b.author != self.vs.leader(b.round):
            self._report("wrong_leader", peer, b.author, f"validator {b.author} does not lead round {b.round}")
            return
        if b.round < self.round - 1 or b.round > self.round + self.cfg.max_future_rounds:
            return  # stale or absurdly far ahead: nothing to vote on
        seen = self._proposals.get(b.round)
        if seen is not None and seen.block.id == b.id:
            return  # duplicate
        key = self.vs.keys[b.author]
        extra = (key, proposal_digest(self.chain_id, b.round, b.id), p.signature)
        if not self._check_certs([b.qc], [p.tc] if p.tc else [], extra):
            self._report("bad_signature", peer, b.author, f"proposal of round {b.round} has a bad signature or certificate")
            return
        if seen is not None:
            self._report("equivocation", peer, b.author, f"two proposals for round {b.round}",
                         (wire.encode_message(seen), wire.encode_message(p)))
            return
        self._proposals[b.round] = p
        while len(self._proposals) > 64:
            self._proposals.popitem(last=False)
        self._process_qc(b.qc, peer, now)
        if p.tc is not None:
            self._process_tc(p.tc, now)
        if b.height <= self.root.height:
            return  # below our committed height: nothing to vote on
        parent = self.blocks.get(b.parent_id)
        if parent is None:
            self._waiting = (peer, p)
            self._request_sync(peer, now)
            return
        reason = self._check_extends(b, parent, now)
        if reason:
            self._report("invalid_proposal", peer, b.author, reason)
            return
        if b.id in self.blocks or b.id in self._awaiting:
            return
        self._awaiting[b.id] = p
        while len(self._awaiting) > 64:
            self._awaiting.popitem(last=False)
        self._out.append(VerifyPayload(b))

    def _check_extends(self, b: Block, parent: Block, now: float) -> str:
        if b.height != parent.height + 1:
            return f"block at height {b.height} extends height {parent.height}"
        if b.qc.round != parent.round:
            return f"block's QC is of round {b.qc.round}, its parent of round {parent.round}"
        if b.timestamp_us <= parent.timestamp_us:
            return "block timestamp does not advance past its parent's"
        if b.timestamp_us > (now + self.cfg.max_clock_skew) * 1e6:
            return "block timestamp is too far in the future"
        if b.exec_height < parent.exec_height:
            return "block carries an older state root than its parent"
        if b.exec_height == parent.exec_height and b.exec_root != parent.exec_root:
            return "block changes the state root of an unchanged height"
        ours = self._executed.get(b.exec_height)
        if b.exec_height and ours is not None and ours != b.exec_root:
            return f"state root for height {b.exec_height} differs from ours"  # §5: no vote
        return ""

    def _on_payload_verified(self, block_id: bytes, valid: bool, now: float) -> None:
        p = self._awaiting.pop(block_id, None)
        if p is None:
            return
        b = p.block
        if not valid:
            self._report("invalid_payload", None, b.author, f"payload of the block of round {b.round} is invalid")
            return
        if b.parent_id not in self.blocks:
            return  # pruned meanwhile (a competing branch committed)
        self.blocks[b.id] = b
        if b.exec_height > self._last_executed[0]:
            # §5: never vouch for a state root not checked. Vote once our own execution has
            # reached that height (BlockExecuted), if the round is still on.
            self._deferred = (b, p.tc)
        else:
            self._try_vote(b, p.tc, now)
        if b.id == self.high_qc.block_id:
            self._maybe_lead()  # the QC on it formed before its payload check finished
        self._retry_waiting(now)

    def _maybe_lead(self) -> None:
        if (self.index is not None and not self.halted and self.vs.leader(self.round) == self.index
                and self._proposed_round < self.round):
            self._request_payload()

    def _retry_waiting(self, now: float) -> None:
        """A proposal that arrived before its parent: take it up once the parent is here."""
        if self._waiting is not None and self._waiting[1].block.parent_id in self.blocks:
            wpeer, wp = self._waiting
            self._waiting = None
            self._proposals.pop(wp.block.round, None)
            self._on_proposal(wpeer, wp, now)

    def _try_vote(self, b: Block, tc: TimeoutCert | None, now: float) -> None:
        """§4.1: vote if the safety rules allow; the vote goes to the next round's leader."""
        if self.index is None or self.halted or b.round != self.round:
            return
        if tc is None and self.last_tc is not None and self.last_tc.round + 1 == b.round:
            tc = self.last_tc
        if not self.rules.safe_to_vote(b.round, b.qc.round, tc):
            return
        self.rules.record_vote(b.round, b.qc)
        self._persist()
        # §3.5: the QC of a block whose parent is of the round just before commits that parent.
        commit_id = b.parent_id if b.round == b.qc.round + 1 and b.qc.round > 0 else b""
        sig = self.signer.sign(vote_digest(self.chain_id, b.round, b.id, commit_id))  # type: ignore[union-attr]
        vote = Vote(b.id, b.round, commit_id, self.index, sig)
        to = self.vs.leader(b.round + 1)
        if to == self.index:
            self._collect_vote(None, vote, now)
        else:
            self._out.append(Send(to, wire.encode_message(vote)))

    # -- votes (§3.4)

    def _on_vote(self, peer: Peer, v: Vote, now: float) -> None:
        if self.index is None or self.vs.leader(v.round + 1) != self.index or not self._in_window(v.round):
            return
        self._collect_vote(peer, v, now)

    def _collect_vote(self, peer: Peer | None, v: Vote, now: float) -> None:
        prev = self.votes.first_vote(v.round, v.voter)
        if prev is not None and (prev.block_id, prev.commit_id) != (v.block_id, v.commit_id):
            key = self.vs.keys[v.voter]
            ok = verify_many([key, key], [vote_digest(self.chain_id, x.round, x.block_id, x.commit_id) for x in (prev, v)],
                             [prev.signature, v.signature])
            if ok.all():
                self._report("equivocation", peer, v.voter, f"two votes in round {v.round}",
                             (wire.encode_message(prev), wire.encode_message(v)))
                return
            if not ok[1]:
                self._report("bad_signature", peer, v.voter, f"vote of round {v.round} has a bad signature")
                return
            # The vote held first was forged: drop it so the real one counts.
            self._report("bad_signature", self.votes.sender_of(prev), v.voter,
                         f"vote of round {v.round} has a bad signature")
            self.votes.discard(prev)
        qc, bad = self.votes.add(v, peer)
        for x in bad:
            self._report("bad_signature", self.votes.sender_of(x), x.voter, f"vote of round {x.round} has a bad signature")
        if qc is not None:
            self.checker.remember(qc.key())
            self._process_qc(qc, peer, now)

    # -- timeouts (§3.3)

    def _local_timeout(self, now: float) -> None:
        if self.index is None or self.halted:
            return
        r = self.round
        if self._my_timeout is not None and self._my_timeout.round == r:
            self._out.append(Broadcast(wire.encode_message(self._my_timeout)))  # retransmit
            self._out.append(SetTimer(r, now + self._duration()))
            return
        tc = self.last_tc if self.last_tc is not None and self.last_tc.round + 1 == r else None
        if not self.rules.safe_to_timeout(r, self.high_qc.round, tc):
            self._out.append(SetTimer(r, now + self._duration()))
            return
        self.rules.record_timeout(r)
        self._persist()
        sig = self.signer.sign(timeout_digest(self.chain_id, r, self.high_qc.round))  # type: ignore[union-attr]
        t = Timeout(r, self.index, self.high_qc, tc, sig)
        self._my_timeout = t
        self._out.append(Broadcast(wire.encode_message(t)))
        self._out.append(SetTimer(r, now + self._duration()))
        self._collect_timeout(None, t, now)

    def _on_timeout(self, peer: Peer, t: Timeout, now: float) -> None:
        if not self._in_window(t.round):
            return
        if not self._check_certs([t.high_qc], [t.last_tc] if t.last_tc else []):
            self._report("bad_signature", peer, t.author, f"timeout of round {t.round} carries a bad certificate")
            return
        self._process_qc(t.high_qc, peer, now)
        if t.last_tc is not None:
            self._process_tc(t.last_tc, now)
        if t.round < self.round:
            return
        self._collect_timeout(peer, t, now)

    def _collect_timeout(self, peer: Peer | None, t: Timeout, now: float) -> None:
        count, tc, bad = self.timeouts.add(t, peer)
        for x in bad:
            self._report("bad_signature", self.timeouts.sender_of(x), x.author,
                         f"timeout of round {x.round} has a bad signature")
        if tc is not None:
            self.checker.remember(tc.key())
            self._process_tc(tc, now)
        elif count >= self.vs.f + 1 and t.round == self.round and (
                self._my_timeout is None or self._my_timeout.round < t.round):
            self._local_timeout(now)  # f + 1 timed out: at least one honest did, join (§3.3)

    # ------------------------------------------------------------------ certificates

    def _check_certs(self, qcs: list[QuorumCert], tcs: list[TimeoutCert],
                     extra: tuple[bytes, bytes, bytes] | None = None) -> bool:
        """One verify_batch for the certificates and an optional single signature (§6)."""
        return self.checker.check(qcs, tcs, [extra] if extra is not None else [])

    def _process_qc(self, qc: QuorumCert, peer: Peer | None, now: float) -> None:
        """A checked QC: raise the high QC, commit what it commits, enter the next round."""
        if qc.round > self.high_qc.round:
            self.high_qc = qc
        certified = self.blocks.get(qc.block_id)
        if certified is not None and certified.exec_height:
            self._claim(certified.exec_height, certified.exec_root)
        target = self._commit_target(qc)
        if target is not None and target not in self._recent_commit_set and target != self.root.id:
            b = self.blocks.get(target)
            if b is None:
                if peer is not None:
                    self._request_sync(peer, now)
            elif b.height > self.root.height:
                self._commit(b, qc, peer, now)
        self._advance(qc.round + 1, True, now)

    def _commit_target(self, qc: QuorumCert) -> bytes | None:
        """§3.5, the two-chain rule: the QC's signers committed qc.commit_id (or nothing)."""
        return qc.commit_id or None

    def _process_tc(self, tc: TimeoutCert, now: float) -> None:
        if self.last_tc is None or tc.round > self.last_tc.round:
            self.last_tc = tc
        self._process_qc(tc.high_qc, None, now)
        self._advance(tc.round + 1, False, now)

    def _advance(self, new_round: int, by_qc: bool, now: float) -> None:
        """§3.3 pacemaker: enter a later round on a QC or TC; back off only after timeouts."""
        if new_round <= self.round:
            return
        self.round = new_round
        self.timeouts_in_row = 0 if by_qc else self.timeouts_in_row + 1
        self.votes.prune_below(new_round - 1)
        self.timeouts.prune_below(new_round - 1)
        if self.index is None:
            return
        self._out.append(SetTimer(new_round, now + self._duration()))
        if self.vs.leader(new_round) == self.index and not self.halted:
            self._request_payload()

    def _duration(self) -> float:
        c = self.cfg
        return min(c.round_timeout * c.timeout_backoff ** min(self.timeouts_in_row, 64), c.max_round_timeout)

    # ------------------------------------------------------------------ proposing (§3.2)

    def _proposal_basis(self) -> tuple[Block, TimeoutCert | None] | None:
        parent = self.blocks.get(self.high_qc.block_id)
        if parent is None:
            return None
        if self.high_qc.round + 1 == self.round:
            return parent, None
        if self.last_tc is not None and self.last_tc.round + 1 == self.round:
            return parent, self.last_tc
        return None

    def _request_payload(self) -> None:
        basis = self._proposal_basis()
        if basis is None or self._proposed_round >= self.round:
            return
        parent = basis[0]
        pending, b = False, parent
        while b.id != self.root.id and not pending:
            pending = bool(b.payload)
            b = self.blocks.get(b.parent_id, self.root)
        self._out.append(RequestPayload(self.round, parent.height + 1, parent.id, pending))

    def _on_payload_ready(self, round: int, payload: bytes, now: float) -> None:
        if (self.index is None or self.halted or round != self.round or self._proposed_round >= round
                or self.vs.leader(round) != self.index):
            return
        basis = self._proposal_basis()
        if basis is None:
            return
        parent, tc = basis
        exec_height, exec_root = parent.exec_height, parent.exec_root
        if self._last_executed[0] > exec_height:
            exec_height, exec_root = self._last_executed
        b = make_block(self.chain_id, height=parent.height + 1, round=round,
                       timestamp_us=max(int(now * 1e6), parent.timestamp_us + 1), author=self.index,
                       parent_id=parent.id, qc=self.high_qc, payload=bytes(payload),
                       exec_height=exec_height, exec_root=exec_root)
        if not self.rules.safe_to_vote(round, b.qc.round, tc):
            return  # e.g. restarted after voting in this round: a second proposal would equivocate
        p = Proposal(b, tc, self.signer.sign(proposal_digest(self.chain_id, round, b.id)))  # type: ignore[union-attr]
        self._proposed_round = round
        self._proposals[round] = p
        self.blocks[b.id] = b
        mark = len(self._out)
        self._try_vote(b, tc, now)
        # The leader's own vote is persisted before its proposal leaves (§4.3): a restart can
        # then never propose, or vote for, a second block in this round.
        at = next((i + 1 for i in range(mark, len(self._out)) if isinstance(self._out[i], PersistSafety)), mark)
        self._out.insert(at, Broadcast(wire.encode_message(p)))

    # ------------------------------------------------------------------ commit and execution (§3.5, §5)

    def _commit(self, target: Block, qc: QuorumCert, peer: Peer | None, now: float) -> None:
        path: list[Block] = []
        b: Block | None = target
        while b is not None and b.id != self.root.id:
            path.append(b)
            b = self.blocks.get(b.parent_id)
        if b is None:  # an ancestor is missing: fetch the range instead
            if peer is not None:
                self._request_sync(peer, now)
            return
        path.reverse()
        self._apply_commit(path, qc)

    def _apply_commit(self, path: list[Block], qc: QuorumCert) -> None:
        self._out.append(Commit(tuple(path), qc))
        for b in path:
            if len(self._recent_commits) == self._recent_commits.maxlen:
                self._recent_commit_set.discard(self._recent_commits[0])
            self._recent_commits.append(b.id)
            self._recent_commit_set.add(b.id)
            if b.exec_height:
                self._claim(b.exec_height, b.exec_root)
        self.root = path[-1]
        # Keep only the new root and what descends from it.
        kept = {self.root.id: self.root}
        for b in sorted(self.blocks.values(), key=lambda x: x.height):
            if b.height > self.root.height and b.parent_id in kept:
                kept[b.id] = b
        self.blocks = kept

    def _claim(self, height: int, root: bytes) -> None:
        """A quorum certified `root` as the state at `height`: ours must agree (§5)."""
        ours = self._executed.get(height)
        if ours is not None and ours != root:
            self._halt(height, ours, root)
            return
        self._claims[height] = root
        while len(self._claims) > self.cfg.executed_window:
            self._claims.popitem(last=False)

    def _on_executed(self, height: int, root: bytes, now: float) -> None:
        self._executed[height] = bytes(root)
        while len(self._executed) > self.cfg.executed_window:
            self._executed.popitem(last=False)
        if height > self._last_executed[0]:
            self._last_executed = (height, bytes(root))
        claimed = self._claims.get(height)
        if claimed is not None and claimed != root:
            self._halt(height, bytes(root), claimed)
        d = self._deferred
        if d is not None and d[0].exec_height <= self._last_executed[0]:
            self._deferred = None
            b, tc = d
            ours = self._executed.get(b.exec_height)
            if ours is not None and ours != b.exec_root:
                self._report("invalid_proposal", None, b.author,
                             f"state root for height {b.exec_height} differs from ours")  # §5: no vote
            elif b.id in self.blocks:
                self._try_vote(b, tc, now)

    def _halt(self, height: int, ours: bytes, certified: bytes) -> None:
        if not self.halted:
            self.halted = True
            self._out.append(Halted(height, ours, certified))

    # ------------------------------------------------------------------ sync (§3.6)

    def _request_sync(self, peer: Peer, now: float) -> None:
        if now < self._sync_next:
            return
        self._sync_next = now + self.cfg.sync_retry
        req = SyncRequest(self.root.height + 1, self.cfg.sync_max_blocks)
        self._out.append(Send(None, wire.encode_message(req), to_peer=peer))

    def certified_chain(self) -> tuple[Block, ...]:
        """Our certified, uncommitted blocks from the root to the high QC's block."""
        chain: list[Block] = []
        b = self.blocks.get(self.high_qc.block_id)
        while b is not None and b.id != self.root.id:
            chain.append(b)
            b = self.blocks.get(b.parent_id)
        if b is None:
            return ()
        chain.reverse()
        return tuple(chain)

    def _on_sync_request(self, peer: Peer, req: SyncRequest) -> None:
        self._out.append(ServeSync(peer, req.from_height, min(req.max_blocks, self.cfg.sync_max_blocks),
                                   self.certified_chain(), self.high_qc))

    def _on_sync_response(self, peer: Peer, resp: SyncResponse, now: float) -> None:
        """Check the whole response first (one batch per part), then apply it (§3.6)."""
        committed = [b for b in resp.committed if b.height > self.root.height]
        if committed and resp.commit_qc is not None:
            try:
                verify_committed_range(self.checker, self.root.id, self.root.height, committed, resp.commit_qc,
                                       resp.proof)
            except SyncError as e:
                self._report("bad_sync", peer, None, f"committed range: {e}")
                return
            for b in committed:
                self.blocks[b.id] = b
            self._apply_commit(committed, resp.commit_qc)
            if resp.commit_qc.round > self.high_qc.round:
                self.high_qc = resp.commit_qc
        # The committed part stands on its own; the rest is checked whole before use.
        # Capped at max_blocks, or a prefix proved by headers: more to fetch (only after
        # progress, so that a duplicate answer starts no second chain of requests).
        partial = bool(committed) and (len(resp.committed) >= self.cfg.sync_max_blocks or bool(resp.proof))
        if committed:  # progress: the next request (from the high QC below, or the end) leaves at once
            self._sync_next = float("-inf")
        certified = [b for b in resp.certified if b.height > self.root.height]
        if certified and certified[0].parent_id not in self.blocks and partial:
            # Not misbehaviour: the certified blocks start at the sender's committed tip,
            # above what this response carried. The next request goes on.
            certified = []
        try:
            if certified:
                parent = self.blocks.get(certified[0].parent_id)
                if parent is None:
                    raise SyncError("certified blocks do not extend our committed chain")
                verify_certified_chain(self.checker, parent, certified)
            if resp.high_qc is not None and not self._check_certs([resp.high_qc], []):
                raise SyncError("the high QC is not a valid quorum")
        except SyncError as e:
            self._report("bad_sync", peer, None, str(e))
            certified = []
            if committed and resp.commit_qc is not None:
                self._advance(resp.commit_qc.round + 1, True, now)
            return
        for b in certified:
            self.blocks.setdefault(b.id, b)
        for b in certified:  # what the certificates say, oldest first; commits may follow
            self._process_qc(b.qc, peer, now)
        if resp.high_qc is not None:
            self._process_qc(resp.high_qc, peer, now)
        if resp.commit_qc is not None and committed:
            self._advance(resp.commit_qc.round + 1, True, now)
        if partial and self._sync_next == float("-inf"):
            self._request_sync(peer, now)  # more to fetch
        self._maybe_lead()
        self._retry_waiting(now)

    # ------------------------------------------------------------------ safety data

    def _persist(self) -> None:
        s = self.rules.data(self.high_qc, self.last_tc)
        self._out.append(PersistSafety(s, wire.encode_safety(s)))

    def safety_data(self) -> SafetyData:
        return self.rules.data(self.high_qc, self.last_tc)
