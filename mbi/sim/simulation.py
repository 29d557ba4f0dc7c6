"""One deterministic run: validators on a seeded network, faults injected, invariants checked.

    result = Simulation(build_scenario(seed, n=4, twins=1)).run()

Determinism: all randomness comes from `random.Random` streams seeded by the scenario's
seed (network, payloads, Byzantine choices each have their own stream), time is the
scheduler's virtual clock, and nothing iterates an unordered set. `result.digest` is a
SHA-256 over every event processed (time, kind, instance, bytes), so two runs of one seed
are identical exactly when their digests are.
"""
from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass, field
from typing import Callable

from mbi.consensus import Core, CoreConfig, Ed25519Signer, SafetyRules, ValidatorSet, genesis_block_id, wire
from mbi.consensus.events import BlockExecuted, Commit, PayloadReady, PayloadVerified, RequestPayload
from mbi.consensus.types import Block, Proposal, Timeout, Vote, make_block, proposal_digest, vote_digest
from mbi.sim.invariants import Violation, VoteLedger, check_chains, check_liveness
from mbi.sim.mutants import MUTANTS
from mbi.sim.network import Network
from mbi.sim.node import (
    BAD_PAYLOAD, CRASH, DELIVER, EXECUTED, HEAL, PAYLOAD, RESTART, TIMER, VERIFIED, SimNode,
)
from mbi.sim.scenario import Scenario
from mbi.sim.scheduler import Scheduler

_EV = struct.Struct(">dBH")


def validator_seed(i: int) -> bytes:
    """Fixed, public test keys: validator i of every simulation."""
    return hashlib.sha256(b"mbi-sim validator %d" % i).digest()


_KEYS: dict[int, tuple[list[Ed25519Signer], ValidatorSet]] = {}


def sim_validators(n: int) -> tuple[list[Ed25519Signer], ValidatorSet]:
    if n not in _KEYS:
        signers = [Ed25519Signer(validator_seed(i)) for i in range(n)]
        _KEYS[n] = (signers, ValidatorSet([s.public_key for s in signers]))
    return _KEYS[n]


@dataclass(slots=True)
class RunResult:
    seed: int
    violations: list[Violation]
    heights: dict[int, int]          # honest validator -> committed height at the end
    faults: dict[str, int]
    digest: str
    events: int
    virtual_time: float
    max_round: int
    reports: dict[str, int]
    latencies: list[float] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def committed_min(self) -> int:
        return min(self.heights.values()) if self.heights else 0


class Simulation:
    def __init__(self, sc: Scenario, payload_fn: Callable[[SimNode, RequestPayload], bytes] | None = None,
                 record_latency: bool = False) -> None:
        self.sc = sc
        self.sched = Scheduler()
        self.signers, self.vs = sim_validators(sc.n)
        self.genesis_id = genesis_block_id(sc.chain_id, b"mbi-sim genesis")
        self.core_cfg = CoreConfig(chain_id=sc.chain_id, round_timeout=sc.round_timeout,
                                   timeout_backoff=sc.timeout_backoff, max_round_timeout=sc.max_round_timeout,
                                   sync_max_blocks=sc.sync_max_blocks)
        self.core_class: type[Core] = Core
        self.rules: type[SafetyRules] = SafetyRules
        if sc.mutant is not None:
            self.core_class, self.rules = MUTANTS[sc.mutant]
        seed = sc.seed
        self.net = Network(random.Random(f"mbi-sim/net/{seed}"), sc.instances(), sc.delays, sc.drop_p, sc.dup_p,
                           sc.partitions, sc.round_groups, sc.fault_end)
        self.rng_payload = random.Random(f"mbi-sim/payload/{seed}")
        self.rng_local = random.Random(f"mbi-sim/local/{seed}")   # driver-side delays
        self.rng_byz = random.Random(f"mbi-sim/byzantine/{seed}")
        self.rng_crash = random.Random(f"mbi-sim/crash/{seed}")
        self.payload_fn = payload_fn
        self.record_latency = record_latency
        self.nodes: list[SimNode] = []
        self.instances_of: list[list[int]] = [[] for _ in range(sc.n)]
        for v in range(sc.n):
            self._add_node(v, sc.roles.get(v, "honest"))
        for v in sc.twins():
            self._add_node(v, "twin")
        self.honest = [v for v in range(sc.n) if v not in sc.roles]
        self.ledger = VoteLedger(self.honest)
        self.stats: dict[str, int] = {"persists": 0, "crashes": 0, "amnesia": 0, "equivocations": 0,
                                      "targeted_crashes": 0, "syncs_served": 0, "sync_blocks_served": 0,
                                      "sync_proofs_served": 0}
        self.reports: dict[str, int] = {}
        self.blocks_seen: dict[bytes, Block] = {}
        self.vote_digests: dict[bytes, tuple[int, bytes, bytes]] = {}
        self.unpersisted: list[Violation] = []
        self.proposed_at: dict[bytes, float] = {}
        self.latencies: list[float] = []
        self.healed = False
        self.heal_height = 0
        self.target = 0
        self.done = False
        self._round_cuts: set[int] = set()
        self._trace = hashlib.sha256()

    def _add_node(self, v: int, role: str) -> None:
        inst = len(self.nodes)
        self.nodes.append(SimNode(self, inst, v, self.signers[v], role))
        self.instances_of[v].append(inst)

    # ------------------------------------------------------------------ driver services

    def make_payload(self, node: SimNode, req: RequestPayload) -> bytes:
        if self.payload_fn is not None:
            return self.payload_fn(node, req)
        return b"tx/%d/%d/" % (node.index, req.round) + self.rng_payload.randbytes(8)

    def payload_delay(self) -> float:
        return self.rng_local.uniform(*self.sc.payload_delay)

    def verify_delay(self) -> float:
        return self.rng_local.uniform(*self.sc.verify_delay)

    def exec_delay(self) -> float:
        return self.rng_local.uniform(*self.sc.exec_delay)

    # ------------------------------------------------------------------ the wire

    def _observe(self, node: SimNode, data: bytes, now: float) -> tuple[object, int | None]:
        """Decode what goes on the wire: honest votes into the ledger, the round for the
        Twins round partitions (messages without a round take the sender's round)."""
        try:
            msg = wire.decode_message(data, self.vs, self.sc.chain_id)
        except wire.WireError:
            return None, None
        t = type(msg)
        if t is Vote:
            self.ledger.record(msg.voter, msg.round, msg.block_id, msg.commit_id)
            node.votes_sent += 1
            self._check_persisted(node, "vote", msg.round)
            return msg, msg.round
        if t is Proposal:
            b = msg.block
            self._saw_block(b)
            self.proposed_at.setdefault(b.id, now)
            return msg, b.round
        if t is Timeout:
            self._check_persisted(node, "timeout", msg.round)
            return msg, msg.round
        return msg, node.core.round if node.core is not None else None

    def _saw_block(self, b: Block) -> None:
        if b.id not in self.blocks_seen:
            self.blocks_seen[b.id] = b
            for commit_id in (b"", b.parent_id):   # the two votes a validator could sign for b
                self.vote_digests[vote_digest(self.sc.chain_id, b.round, b.id, commit_id)] = (b.round, b.id, commit_id)

    def _check_persisted(self, node: SimNode, what: str, round: int) -> None:
        """A vote or timeout leaves only after the safety data that covers it is durable."""
        if node.role != "honest":
            return
        s = node.safety
        if s is None or s.highest_voted_round < round:
            self.unpersisted.append(Violation(
                self.sc.seed, "unpersisted_vote",
                f"validator {node.index} sent a {what} of round {round} with highest voted round "
                f"{s.highest_voted_round if s else None} persisted"))

    def resolve_signed(self, node: SimNode) -> None:
        """Votes the node signed (on the wire or to itself) into the double-vote ledger."""
        for d in node.signer.signed:
            v = self.vote_digests.get(d)
            if v is not None:
                self.ledger.record(node.index, v[0], v[1], v[2])
                self._check_persisted(node, "vote", v[0])
        node.signer.signed.clear()

    def _route(self, src: SimNode, dst_inst: int, data: bytes, rnd: int | None, now: float) -> None:
        for d in self.net.route(src.inst, dst_inst, now, rnd):
            self.sched.at(now + d, DELIVER, (dst_inst, src.index, data))
        if rnd is not None and not self.net.connected(src.inst, dst_inst, now, rnd) and rnd in self.sc.round_groups:
            self._round_cuts.add(rnd)

    def send(self, node: SimNode, dest: object, data: bytes, now: float) -> None:
        msg, rnd = self._observe(node, data, now)
        if not isinstance(dest, int) or not 0 <= dest < self.sc.n:
            return
        for inst in self.instances_of[dest]:
            if inst != node.inst:
                self._route(node, inst, data, rnd, now)
        if type(msg) is Vote:
            self._maybe_crash_after_vote(node, now)

    def broadcast(self, node: SimNode, data: bytes, now: float) -> None:
        msg, rnd = self._observe(node, data, now)
        others = [v for v in range(self.sc.n) if v != node.index]
        if (node.role == "equivocator" and type(msg) is Proposal and msg.block.author == node.index
                and now < self.sc.fault_end + self.sc.heal_max):
            self._equivocate(node, msg, others, rnd, now)
            return
        for v in others:
            for inst in self.instances_of[v]:
                self._route(node, inst, data, rnd, now)

    def _equivocate(self, node: SimNode, p: Proposal, others: list[int], rnd: int | None, now: float) -> None:
        """Replace one proposal by two validly signed ones for the same round, each sent to
        one half of the other validators."""
        rng = self.rng_byz
        rng.shuffle(others)
        mode = rng.choice(self.sc.equivocation_modes)
        cut = rng.randint(1, len(others) - 1) if len(others) > 1 else 1
        b = p.block
        fork = None
        if mode == "fork" and p.tc is not None:
            # After a timeout: a sibling of an ancestor 1-3 levels up, justified by the same
            # TC but with an older QC than the TC's highest (§4.1 (b) forbids voting for it).
            # The adversary sees the network: the real proposal goes to the validator that
            # committed the most (whose commits the fork contradicts), the fork to the rest.
            others.sort(key=lambda v: -self._committed(v))
            cut = 1
            chain = [self.blocks_seen.get(b.parent_id)]
            while len(chain) < 3 and chain[-1] is not None:
                chain.append(self.blocks_seen.get(chain[-1].parent_id))
            for anc in reversed([a for a in chain if a is not None]):
                if all(self._knows(v, anc.parent_id) for v in others[cut:]):
                    break
            else:
                anc = None
            if anc is not None:
                if anc.parent_id == self.genesis_id:
                    exec_h, exec_r = 0, b""
                else:
                    up = self.blocks_seen.get(anc.parent_id)
                    exec_h, exec_r = (up.exec_height, up.exec_root) if up is not None else (-1, b"")
                if exec_h >= 0:
                    fork = make_block(self.sc.chain_id, height=anc.height, round=b.round,
                                      timestamp_us=b.timestamp_us, author=b.author, parent_id=anc.parent_id,
                                      qc=anc.qc, payload=b"fork/" + rng.randbytes(8),
                                      exec_height=exec_h, exec_root=exec_r)
        halves = (others[:cut], others[cut:])
        if mode == "bad_root" and b.height - 1 > b.exec_height:
            # A made-up state root for the latest height a block may name (its height - 1):
            # voters that have not executed that height yet cannot tell (§5).
            fork = make_block(self.sc.chain_id, height=b.height, round=b.round, timestamp_us=b.timestamp_us,
                              author=b.author, parent_id=b.parent_id, qc=b.qc, payload=b"root/" + rng.randbytes(8),
                              exec_height=b.height - 1, exec_root=rng.randbytes(32))
        if fork is None:
            mode = "payload" if mode in ("fork", "bad_root") else mode
            payload = (BAD_PAYLOAD if mode == "bad_payload" else b"eqv/") + rng.randbytes(8)
            fork = make_block(self.sc.chain_id, height=b.height, round=b.round, timestamp_us=b.timestamp_us,
                              author=b.author, parent_id=b.parent_id, qc=b.qc, payload=payload,
                              exec_height=b.exec_height, exec_root=b.exec_root)
        sig = node.signer.sign(proposal_digest(self.sc.chain_id, b.round, fork.id))
        forged = wire.encode_message(Proposal(fork, p.tc, sig))
        self._saw_block(fork)
        self.stats["equivocations"] += 1
        original = wire.encode_message(p)
        for data, half in ((original, halves[0]), (forged, halves[1])):
            for v in half:
                for inst in self.instances_of[v]:
                    self._route(node, inst, data, rnd, now)
        # The equivocator votes for its second block too (its core voted for the first).
        commit_id = fork.parent_id if fork.round == fork.qc.round + 1 and fork.qc.round > 0 else b""
        vsig = node.signer.sign(vote_digest(self.sc.chain_id, fork.round, fork.id, commit_id))
        vote = wire.encode_message(Vote(fork.id, fork.round, commit_id, node.index, vsig))
        to = self.vs.leader(fork.round + 1)
        if to != node.index:
            for inst in self.instances_of[to]:
                self._route(node, inst, vote, rnd, now)

    def _lost_certified_block(self) -> str:
        cores = [n.core for n in self.nodes if n.core is not None]
        if not cores:
            return ""
        hq = max((c.high_qc for c in cores), key=lambda q: q.round)
        if hq.round == 0 or any(hq.block_id in c.blocks for c in cores):
            return ""
        return f"no validator holds the block {hq.block_id.hex()[:16]} certified by the highest QC (round {hq.round})"

    def _committed(self, v: int) -> int:
        return max(self.nodes[i].committed_height for i in self.instances_of[v])

    def _knows(self, v: int, block_id: bytes) -> bool:
        """Whether validator v (any copy) holds block_id in its block tree (the adversary's view)."""
        return any(self.nodes[i].core is not None and block_id in self.nodes[i].core.blocks
                   for i in self.instances_of[v])

    def _maybe_crash_after_vote(self, node: SimNode, now: float) -> None:
        sc = self.sc
        if (node.role != "honest" or not sc.crash_after_vote_p or now >= sc.fault_end - 0.05
                or self.stats["targeted_crashes"] >= sc.max_targeted_crashes):
            return
        rng = self.rng_crash
        if rng.random() < sc.crash_after_vote_p:
            self.stats["targeted_crashes"] += 1
            at = now + rng.uniform(0.0, 0.003)
            self.sched.at(at, CRASH, (node.inst, False))
            self.sched.at(min(sc.fault_end, at + rng.uniform(0.005, 0.3)), RESTART, (node.inst, False))

    # ------------------------------------------------------------------ commits

    def on_commit(self, node: SimNode, a: Commit, now: float) -> None:
        if self.record_latency and node.role == "honest":
            for b in a.blocks:
                t0 = self.proposed_at.get(b.id)
                if t0 is not None:
                    self.latencies.append(now - t0)
        if self.healed and not self.done:
            self._check_done()

    def _check_done(self) -> None:
        if all(self.nodes[v].committed_height >= self.target for v in self.honest):
            self.done = True

    # ------------------------------------------------------------------ the run

    def run(self) -> RunResult:
        sc, sched, nodes = self.sc, self.sched, self.nodes
        start_rng = random.Random(f"mbi-sim/start/{sc.seed}")
        for node in nodes:
            sched.at(start_rng.uniform(0.0, 0.005), RESTART, (node.inst, False))
        for v, at, back in sc.crashes:
            sched.at(at, CRASH, (v, False))
            sched.at(back, RESTART, (v, False))
        for v, at, back in sc.amnesia_at:
            sched.at(at, CRASH, (v, False))
            sched.at(back, RESTART, (v, True))
        sched.at(sc.fault_end, HEAL)
        end = sc.fault_end + sc.heal_max
        trace = self._trace
        violations: list[Violation] = []
        while not self.done:
            ev = sched.pop()
            if ev is None or ev[0] > end:
                break
            now, kind, args = ev
            inst = args[0] if args else 0
            trace.update(_EV.pack(now, kind, inst))
            if kind == DELIVER:
                trace.update(args[2])
                node = nodes[inst]
                if node.alive:
                    node.on_deliver(args[1], args[2], now)
                else:
                    self.net.stats.lost_to_crash += 1
                continue
            trace.update(repr(args[1:]).encode())
            node = nodes[inst] if args else None
            if kind == TIMER:
                node.on_timer(args[1], args[2], args[3], now)
            elif kind == PAYLOAD:
                if args[1] == node.incarnation:
                    node.handle(PayloadReady(args[2], args[3]), now)
            elif kind == VERIFIED:
                if args[1] == node.incarnation:
                    node.handle(PayloadVerified(args[2], args[3]), now)
            elif kind == EXECUTED:
                if args[1] == node.incarnation:
                    node.handle(BlockExecuted(args[2], args[3]), now)
            elif kind == CRASH:
                if node.alive and now < sc.fault_end:
                    node.crash()
                    self.stats["crashes"] += 1
            elif kind == RESTART:
                if not node.alive:
                    amnesia = args[1]
                    if amnesia:   # the safety data and the tree stored with it are gone
                        node.safety = None
                        node.tree = {}
                        node.amnesiac = True
                        self.stats["amnesia"] += 1
                    if node.incarnation:
                        node.restarts += 1
                    node.start(now, node.safety)
            elif kind == HEAL:
                for n_ in nodes:
                    if not n_.alive:
                        n_.start(now, n_.safety)
                self.healed = True
                self.heal_height = max((nodes[v].committed_height for v in self.honest), default=0)
                self.target = self.heal_height + sc.liveness_k
                self._check_done()
            if sched.processed > sc.max_events:
                violations.append(Violation(sc.seed, "event_budget",
                                            f"more than {sc.max_events} events by virtual time {now:.3f}"))
                break
        return self._result(violations)

    def _result(self, violations: list[Violation]) -> RunResult:
        sc, nodes = self.sc, self.nodes
        chains = {v: nodes[v].chain for v in self.honest}
        violations += check_chains(sc.seed, self.genesis_id, chains)
        violations += self.ledger.violations(sc.seed)
        violations += self.unpersisted[:5]   # the first few say enough
        for v in self.honest:
            h = nodes[v].halted
            if h is not None:
                violations.append(Violation(sc.seed, "honest_halted",
                                            f"validator {v} halted at height {h.height}: ours {h.ours.hex()[:16]}, "
                                            f"certified {h.certified.hex()[:16]}"))
        heights = {v: nodes[v].committed_height for v in self.honest}
        if not any(x.kind == "event_budget" for x in violations):
            live = check_liveness(sc.seed, self.heal_height, sc.liveness_k, heights, self.sched.now - sc.fault_end)
            lost = self._lost_certified_block()
            if live and lost:
                # Diagnosed apart: the highest QC's block is held by no one any more (every
                # copy was volatile and crashed), so no leader can extend it (a known limit
                # of the engine's persistence: blocks are not part of SafetyData).
                live = [Violation(sc.seed, "liveness_lost_block", f"{x.detail}; {lost}") for x in live]
            violations += live
        ns = self.net.stats
        cut_windows = sum(1 for p in sc.partitions if p.start < sc.fault_end)
        faults = {
            "dropped": ns.dropped, "duplicated": ns.duplicated, "partitioned_messages": ns.partitioned,
            "partitions": cut_windows + len(self._round_cuts), "twins": len(sc.twins()),
            "crashes": self.stats["crashes"], "amnesia": self.stats["amnesia"],
            "equivocations": self.stats["equivocations"], "lost_to_crash": ns.lost_to_crash,
        }
        self._trace.update(repr(sorted(heights.items())).encode())
        max_round = max((n.core.round for n in nodes if n.core is not None), default=0)
        return RunResult(sc.seed, violations, heights, faults, self._trace.hexdigest(), self.sched.processed,
                         self.sched.now, max_round, dict(sorted(self.reports.items())), self.latencies,
                         dict(self.stats))


def run_seed(sc: Scenario, **kw: object) -> RunResult:
    return Simulation(sc, **kw).run()  # type: ignore[arg-type]
