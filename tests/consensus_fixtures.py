"""Hand-built consensus values and a tiny deterministic delivery loop for the engine tests.

Everything here is built from the digests and the signer directly, not through the Core,
so that the tests state what a correct certificate or proposal is independently of the
code that forms and checks them.
"""
from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from mbi.consensus import Core, CoreConfig, Ed25519Signer, SyncPlan, ValidatorSet, genesis_block_id, plan_sync_range, wire
from mbi.consensus.events import (
    Broadcast, Commit, MessageReceived, PayloadReady, PayloadVerified, PersistSafety, RequestPayload, Send,
    ServeSync, SetTimer, TimerFired, VerifyPayload,
)
from mbi.consensus.types import (
    Block, Proposal, QuorumCert, Timeout, TimeoutCert, Vote, bitmap_of, genesis_qc, make_block, proposal_digest,
    timeout_digest, vote_digest,
)

CHAIN = 7
NOW = 100.0  # the drivers' clock in these tests; block timestamps stay far below it


def seed(i: int, tag: bytes = b"") -> bytes:
    return hashlib.sha256(b"consensus-test-validator-" + tag + str(i).encode()).digest()


class Net:
    """n validators with deterministic keys, the validator set and the genesis id."""

    def __init__(self, n: int = 4, tag: bytes = b"") -> None:
        self.n = n
        self.signers = [Ed25519Signer(seed(i, tag)) for i in range(n)]
        self.vs = ValidatorSet([s.public_key for s in self.signers])
        self.gid = genesis_block_id(CHAIN, b"genesis of the consensus tests")
        self.gqc = genesis_qc(self.gid)
        self.f = (n - 1) // 3
        self.q = n - self.f

    def config(self, **kw) -> CoreConfig:
        return CoreConfig(chain_id=CHAIN, **kw)

    def core(self, i: int, **kw) -> Core:
        cfg = kw.pop("config", None) or self.config()
        return Core(cfg, self.vs, self.signers[i], self.gid, **kw)

    def genesis_block(self) -> Block:
        return Block(0, 0, 0, 0, b"\x00" * 32, self.gqc, b"", 0, b"", self.gid)

    # -------------------------------------------------------------- signed values

    def vote(self, i: int, b: Block, commit_id: bytes | None = None) -> Vote:
        cid = commit_of(b) if commit_id is None else commit_id
        sig = self.signers[i].sign(vote_digest(CHAIN, b.round, b.id, cid))
        return Vote(b.id, b.round, cid, i, sig)

    def qc(self, b: Block, voters: Iterable[int] | None = None, commit_id: bytes | None = None) -> QuorumCert:
        """The QC a quorum (by default validators 0..q-1) forms on block b."""
        voters = sorted(range(self.q) if voters is None else voters)
        cid = commit_of(b) if commit_id is None else commit_id
        d = vote_digest(CHAIN, b.round, b.id, cid)
        return QuorumCert(b.id, b.round, cid, bitmap_of(voters, self.n),
                          tuple(self.signers[i].sign(d) for i in voters))

    def timeout(self, i: int, round: int, high_qc: QuorumCert, last_tc: TimeoutCert | None = None) -> Timeout:
        sig = self.signers[i].sign(timeout_digest(CHAIN, round, high_qc.round))
        return Timeout(round, i, high_qc, last_tc, sig)

    def tc(self, round: int, high_qcs: dict[int, QuorumCert]) -> TimeoutCert:
        """A TC of `round` signed by the keys of `high_qcs`, each reporting its own high QC."""
        authors = sorted(high_qcs)
        rounds = tuple(high_qcs[a].round for a in authors)
        sigs = tuple(self.signers[a].sign(timeout_digest(CHAIN, round, high_qcs[a].round)) for a in authors)
        high = max(high_qcs.values(), key=lambda q: q.round)
        return TimeoutCert(round, bitmap_of(authors, self.n), rounds, sigs, high)

    def block(self, parent: Block, round: int, qc: QuorumCert | None = None, payload: bytes = b"",
              ts: int | None = None, author: int | None = None) -> Block:
        qc = qc if qc is not None else (self.gqc if parent.id == self.gid else self.qc(parent))
        return make_block(CHAIN, height=parent.height + 1, round=round,
                          timestamp_us=ts if ts is not None else round * 1000 + parent.height,
                          author=self.vs.leader(round) if author is None else author, parent_id=parent.id,
                          qc=qc, payload=payload, exec_height=parent.exec_height, exec_root=parent.exec_root)

    def proposal(self, b: Block, tc: TimeoutCert | None = None, signer: int | None = None) -> Proposal:
        s = self.signers[b.author if signer is None else signer]
        return Proposal(b, tc, s.sign(proposal_digest(CHAIN, b.round, b.id)))

    def msg(self, m) -> bytes:
        return wire.encode_message(m)


def commit_of(b: Block) -> bytes:
    """The two-chain rule written out: a vote on b commits b's parent iff their rounds are
    consecutive (and the parent is not genesis)."""
    return b.parent_id if b.qc.round > 0 and b.round == b.qc.round + 1 else b""


def of_type(actions, t) -> list:
    return [a for a in actions if isinstance(a, t)]


def decoded(net: Net, actions, kind=None) -> list:
    """The messages in the Send/Broadcast actions, decoded (optionally of one type)."""
    out = []
    for a in actions:
        if isinstance(a, (Send, Broadcast)):
            m = wire.decode_message(a.data, net.vs, CHAIN)
            if kind is None or isinstance(m, kind):
                out.append(m)
    return out


# ------------------------------------------------------------------ a tiny delivery loop

def serve_range(store: Mapping[int, Block], commit_qcs: "list[tuple[int, QuorumCert]]", req: ServeSync,
                budget: int) -> SyncPlan:
    """A driver's answer to `req` from a core's commits: `store` holds its committed blocks
    by height, `commit_qcs` (last height, QC) for each of its Commit actions in order."""
    qc_of: dict[int, QuorumCert] = {}
    lo = 1
    for h, q in commit_qcs:
        for x in range(lo, h + 1):
            qc_of[x] = q
        lo = h + 1

    def pairs():
        h = req.from_height
        while h in store and h in qc_of:
            yield store[h], qc_of[h]
            h += 1

    return plan_sync_range(pairs(), req.max_blocks, budget, wire.Limits().max_proof_headers)


@dataclass
class Cluster:
    """Cores wired together by a FIFO queue; timers only fire when a test fires them.

    Payload requests are answered at once with `payload_of(round)` and every payload is
    valid. `drop(src, dst, data)` returning True loses a message.
    """

    net: Net
    cores: list[Core]
    now: float = NOW
    drop: Callable[[int, int, bytes], bool] = lambda s, d, m: False
    payload_of: Callable[[int], bytes] = lambda r: b"payload-%d" % r
    down: set[int] = field(default_factory=set)
    queue: deque = field(default_factory=deque)
    log: list[tuple[int, object]] = field(default_factory=list)      # (core, action) in order
    commits: dict[int, list[tuple[Block, int]]] = field(default_factory=dict)  # core -> (block, core round)
    timers: dict[int, SetTimer] = field(default_factory=dict)
    # each core's store: committed blocks by height, and (last height, commit QC) per Commit
    store: dict[int, dict[int, Block]] = field(default_factory=dict)
    commit_qcs: dict[int, list[tuple[int, QuorumCert]]] = field(default_factory=dict)
    served: list[tuple[int, object, int, int]] = field(default_factory=list)  # (core, peer, from, blocks sent)
    proofs: list[int] = field(default_factory=list)  # headers in each served response's proof
    sync_budget: int = 1 << 30  # bytes of a sync response, as plan_sync_range counts them

    @classmethod
    def of(cls, net: Net, **kw) -> "Cluster":
        c = cls(net, [net.core(i) for i in range(net.n)], **kw)
        for i, core in enumerate(c.cores):
            c.carry(i, core.start(c.now))
        return c

    def carry(self, i: int, actions) -> None:
        for a in actions:
            self.log.append((i, a))
            if isinstance(a, Send):
                dst = a.validator if a.validator is not None else a.to_peer
                self.queue.append((i, dst, MessageReceived(i, a.data)))
            elif isinstance(a, Broadcast):
                for j in range(self.net.n):
                    if j != i:
                        self.queue.append((i, j, MessageReceived(i, a.data)))
            elif isinstance(a, RequestPayload):
                self.queue.append((i, i, PayloadReady(a.round, self.payload_of(a.round))))
            elif isinstance(a, VerifyPayload):
                self.queue.append((i, i, PayloadVerified(a.block.id, True)))
            elif isinstance(a, SetTimer):
                self.timers[i] = a
            elif isinstance(a, Commit):
                self.commits.setdefault(i, []).extend((b, self.cores[i].round) for b in a.blocks)
                st = self.store.setdefault(i, {})
                for b in a.blocks:
                    st[b.height] = b
                self.commit_qcs.setdefault(i, []).append((a.blocks[-1].height, a.commit_qc))
            elif isinstance(a, ServeSync):
                self.queue.append((i, a.peer, MessageReceived(i, self.sync_response(i, a))))

    def sync_response(self, i: int, req: ServeSync) -> bytes:
        """What a node driver sends: committed blocks from its store as plan_sync_range
        chooses them within `sync_budget`, then the core's certified blocks and high QC."""
        store = self.store.get(i, {})
        plan = serve_range(store, self.commit_qcs.get(i, []), req, self.sync_budget)
        self.served.append((i, req.peer, req.from_height, len(plan.blocks)))
        self.proofs.append(len(plan.proof))
        return wire.encode_sync_response(plan.blocks, plan.qc, req.certified if plan.complete else (), req.high_qc,
                                         plan.proof)

    def run(self, limit: int = 100_000) -> int:
        steps = 0
        while self.queue and steps < limit:
            src, dst, ev = self.queue.popleft()
            steps += 1
            if dst in self.down or (isinstance(ev, MessageReceived) and src != dst and self.drop(src, dst, ev.data)):
                continue
            self.carry(dst, self.cores[dst].handle(ev, self.now))
        return steps

    def fire(self, i: int) -> None:
        """Fire core i's armed round timer."""
        t = self.timers[i]
        self.carry(i, self.cores[i].handle(TimerFired(t.round), max(self.now, t.deadline)))

    def run_until(self, cond: Callable[[], bool], rounds: int = 60, limit: int = 5000) -> bool:
        """Deliver messages (checking `cond` every 100); whenever nothing is left, move the
        clock to the earliest armed deadline of a live core and fire the timers due then."""
        for _ in range(rounds):
            steps = 0
            while self.queue and steps < limit:
                steps += self.run(100)
                if cond():
                    return True
            if cond():
                return True
            live = [i for i in range(len(self.cores)) if i not in self.down and i in self.timers]
            self.now = max(self.now, min(self.timers[i].deadline for i in live))
            for i in live:
                if self.timers[i].deadline <= self.now:
                    self.fire(i)
        return cond()

    def actions_of(self, i: int, t=None) -> list:
        return [a for j, a in self.log if j == i and (t is None or isinstance(a, t))]


def persisted_before(actions, pred) -> bool:
    """True iff every action matching pred has a PersistSafety somewhere before it."""
    seen = False
    for a in actions:
        if isinstance(a, PersistSafety):
            seen = True
        elif pred(a) and not seen:
            return False
    return True
