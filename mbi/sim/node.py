"""A simulated validator: drives one `Core` exactly as a real driver would.

Actions are carried out in list order. `PersistSafety` goes into the node's durable
storage (`self.safety`) at once, so it is stored before any later action of the list is
sent; a crash loses the in-memory core and nothing durable. `SetTimer` replaces the armed
timer (a generation number makes older timer events void). Commits append to the
node's committed chain with their commit QC, and each committed block is executed in
order: root_h = sha256(root_{h-1} + payload), fed back as `BlockExecuted`.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from mbi.consensus import Core, plan_sync_range, wire
from mbi.consensus.events import (
    BlockExecuted, Broadcast, Commit, Halted, MessageReceived, PersistSafety,
    ReportMisbehaviour, RequestPayload, Send, ServeSync, SetTimer, TimerFired, VerifyPayload,
)
from mbi.consensus.types import Block, QuorumCert, SafetyData

if TYPE_CHECKING:
    from mbi.sim.simulation import Simulation

BAD_PAYLOAD = b"\xbaBAD"   # payloads with this prefix fail VerifyPayload (a Byzantine proposer's)

# Event kinds of the scheduler (see Simulation.run).
DELIVER, TIMER, PAYLOAD, VERIFIED, EXECUTED, CRASH, RESTART, HEAL = range(8)


class RecordingSigner:
    """The validator's signer, remembering every digest it signs: a vote a leader sends to
    itself never crosses the wire, yet the double-vote check must see it."""

    __slots__ = ("inner", "signed")

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.signed: list[bytes] = []

    @property
    def public_key(self) -> bytes:
        return self.inner.public_key  # type: ignore[attr-defined]

    def sign(self, message: bytes) -> bytes:
        self.signed.append(bytes(message))
        return self.inner.sign(message)  # type: ignore[attr-defined]


def next_root(prev: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(prev + payload).digest()


class SimNode:
    """One instance: an honest validator, or one of a twin pair (same key, same index)."""

    __slots__ = ("sim", "inst", "index", "signer", "role", "core", "alive", "incarnation", "timer_gen",
                 "safety", "chain", "chain_qc", "roots", "halted", "restarts", "amnesiac",
                 "votes_sent", "proposals_sent", "tree")

    def __init__(self, sim: "Simulation", inst: int, index: int, signer: object, role: str) -> None:
        self.sim = sim
        self.inst = inst
        self.index = index
        self.signer = RecordingSigner(signer)
        self.role = role            # "honest", "twin", "equivocator", "amnesia"
        self.core: Core | None = None
        self.alive = False
        self.incarnation = 0
        self.timer_gen = 0
        self.safety: SafetyData | None = None        # durable: survives crashes
        self.tree: dict[bytes, Block] = {}            # durable: the uncommitted block tree, stored with safety
        self.chain: list[Block] = []                  # durable: committed blocks, height i+1 at [i]
        self.chain_qc: list[QuorumCert] = []          # the QC of the Commit that brought chain[i]
        self.roots: list[bytes] = []                  # state root after chain[i]
        self.halted: Halted | None = None
        self.restarts = 0
        self.amnesiac = False
        self.votes_sent = 0
        self.proposals_sent = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, now: float, safety: SafetyData | None) -> None:
        sim = self.sim
        committed = (self.chain[-1], self.chain_qc[-1]) if self.chain else None
        top = len(self.chain)
        kept = tuple(b for b in self.tree.values() if b.height > top)   # what the restart takes back
        self.core = sim.core_class(sim.core_cfg, sim.vs, self.signer, sim.genesis_id, safety=safety,
                                   committed=committed, rules=sim.rules, certified=kept)
        self.alive = True
        self.incarnation += 1
        self.apply(self.core.start(now), now)
        self.sim.resolve_signed(self)
        if self.roots:   # our executed state is durable: tell the restarted core where it stands
            self.handle(BlockExecuted(len(self.roots), self.roots[-1]), now)

    def crash(self) -> None:
        self.core = None
        self.alive = False
        self.incarnation += 1   # voids this incarnation's timers and pending answers

    # ------------------------------------------------------------------ events in

    def handle(self, event: object, now: float) -> None:
        if self.core is None:
            return
        self.apply(self.core.handle(event, now), now)  # type: ignore[arg-type]
        if self.signer.signed:
            self.sim.resolve_signed(self)

    def on_deliver(self, peer: int, data: bytes, now: float) -> None:
        self.handle(MessageReceived(peer, data), now)

    def on_timer(self, inc: int, gen: int, round: int, now: float) -> None:
        if inc == self.incarnation and gen == self.timer_gen:
            self.handle(TimerFired(round), now)

    # ------------------------------------------------------------------ actions out

    def apply(self, actions: list, now: float) -> None:
        sim = self.sim
        sched = sim.sched
        for a in actions:
            t = type(a)
            if t is Send:
                dest = a.to_peer if a.to_peer is not None else a.validator
                sim.send(self, dest, a.data, now)
            elif t is Broadcast:
                sim.broadcast(self, a.data, now)
            elif t is PersistSafety:
                # The block tree first, then the safety data (docs/embedding.md): both durable
                # before anything after this action leaves.
                core = self.core
                if core is not None:
                    root_h = core.root.height
                    self.tree = {bid: b for bid, b in core.blocks.items() if b.height > root_h}
                self.safety = a.safety
                sim.stats["persists"] += 1
            elif t is SetTimer:
                self.timer_gen += 1
                sched.at(a.deadline, TIMER, (self.inst, self.incarnation, self.timer_gen, a.round))
            elif t is RequestPayload:
                payload = sim.make_payload(self, a)
                sched.after(sim.payload_delay(), PAYLOAD, (self.inst, self.incarnation, a.round, payload))
            elif t is VerifyPayload:
                valid = not a.block.payload.startswith(BAD_PAYLOAD)
                sched.after(sim.verify_delay(), VERIFIED, (self.inst, self.incarnation, a.block.id, valid))
            elif t is Commit:
                self._commit(a, now)
            elif t is ServeSync:
                self._serve_sync(a, now)
            elif t is ReportMisbehaviour:
                sim.reports[a.kind] = sim.reports.get(a.kind, 0) + 1
            elif t is Halted:
                self.halted = a
            else:
                raise TypeError(f"unknown action {t.__name__}")

    def _commit(self, a: Commit, now: float) -> None:
        for b in a.blocks:
            self.chain.append(b)
            self.chain_qc.append(a.commit_qc)
            prev = self.roots[-1] if self.roots else b""
            root = next_root(prev, b.payload)
            self.roots.append(root)
            # Execution follows ordering: the root is fed back a moment later.
            self.sim.sched.after(self.sim.exec_delay(), EXECUTED, (self.inst, self.incarnation, b.height, root))
        self.sim.on_commit(self, a, now)

    def _serve_sync(self, a: ServeSync, now: float) -> None:
        """Answer from the committed store as the node's driver does (plan_sync_range; no
        byte limit here): blocks from `from_height` up to one its own QC commits, or a prefix
        of a commit group and the headers that prove it; the certified blocks only when the
        answer reaches our committed tip and they are within the wire's count limit."""
        start = max(a.from_height, 1)
        pairs = ((self.chain[h - 1], self.chain_qc[h - 1]) for h in range(start, len(self.chain) + 1))
        plan = plan_sync_range(pairs, a.max_blocks, 1 << 40, wire.Limits().max_proof_headers)
        blocks, proof = plan.blocks, plan.proof
        certified = a.certified if plan.complete and len(a.certified) <= wire.Limits().max_sync_certified else ()
        stats = self.sim.stats
        stats["syncs_served"] += 1
        stats["sync_blocks_served"] += len(blocks)
        stats["sync_proofs_served"] += bool(proof)
        data = wire.encode_sync_response(blocks, plan.qc, certified, a.high_qc, proof)
        self.sim.send(self, a.peer, data, now)

    @property
    def committed_height(self) -> int:
        return len(self.chain)
