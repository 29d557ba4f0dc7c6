"""What one simulated run injects, drawn from its seed.

`build_scenario(seed, ...)` turns the `mbi sim` flags into a concrete `Scenario`: which
validators are Byzantine and how (twins, an equivocating leader, amnesia; at most f of
them in all), the delay distribution, drops, duplicates, time partitions, Twins-style
round partitions, and crash/restart times. Everything comes from `random.Random` seeded
by the seed, so a seed names one scenario exactly.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from mbi.sim.network import DelayModel, Partition, random_groups


EQUIVOCATION_MODES = ("payload", "bad_payload", "fork", "bad_root")


@dataclass(slots=True)
class Scenario:
    seed: int
    n: int
    chain_id: int = 1
    # Byzantine validators by index: "twin", "equivocator" or "amnesia".
    roles: dict[int, str] = field(default_factory=dict)
    delays: DelayModel = field(default_factory=DelayModel)
    drop_p: float = 0.0
    dup_p: float = 0.0
    partitions: list[Partition] = field(default_factory=list)     # by instance (twins: index n + j)
    round_groups: dict[int, tuple[int, ...]] = field(default_factory=dict)
    crashes: list[tuple[int, float, float]] = field(default_factory=list)   # (validator, crash at, restart at)
    crash_after_vote_p: float = 0.0   # an honest validator crashes right after a vote leaves
    max_targeted_crashes: int = 0
    amnesia_at: list[tuple[int, float, float]] = field(default_factory=list)
    # What the equivocating leader's second proposal is (drawn per proposal): "payload"
    # (another payload), "bad_payload" (one VerifyPayload rejects), "fork" (after a timeout,
    # a sibling of an ancestor with an older QC than the TC's), "bad_root" (a made-up state
    # root for a height not yet executed: honest validators defer their vote until they
    # have executed it, docs/consensus.md §5).
    equivocation_modes: tuple[str, ...] = ("payload", "fork", "fork", "bad_payload", "bad_root")
    fault_end: float = 0.0            # virtual second at which the network heals for good
    heal_max: float = 40.0            # the healed stretch lasts at most this long
    liveness_k: int = 3               # heights every honest validator must gain after the heal
    round_timeout: float = 0.15
    timeout_backoff: float = 1.3
    max_round_timeout: float = 1.0
    payload_delay: tuple[float, float] = (0.0005, 0.004)
    verify_delay: tuple[float, float] = (0.0002, 0.002)
    exec_delay: tuple[float, float] = (0.001, 0.010)
    # Blocks per sync request. Small values make catching up take a prefix of a commit
    # group and its proof headers (docs/consensus.md §3.6).
    sync_max_blocks: int = 256
    mutant: str | None = None
    max_events: int = 3_000_000

    def twins(self) -> list[int]:
        return sorted(v for v, r in self.roles.items() if r == "twin")

    def byzantine(self) -> list[int]:
        return sorted(self.roles)

    def instances(self) -> int:
        return self.n + len(self.twins())


def twin_instance(sc: Scenario, validator: int) -> int:
    """The instance id of the second copy of twinned `validator`."""
    return sc.n + sc.twins().index(validator)


def build_scenario(seed: int, n: int, *, twins: int = 0, drop: float = 0.0, partitions: bool = False,
                   crashes: bool = False, amnesia: bool = False, equivocate: bool = False,
                   fault_len: tuple[float, float] = (1.5, 4.0), mutant: str | None = None,
                   equivocation: tuple[str, ...] | None = None) -> Scenario:
    if n < 1:
        raise ValueError("at least one validator")
    f = (n - 1) // 3
    if twins > f:
        raise ValueError(f"{twins} twins exceed f = {f} Byzantine validators for n = {n}")
    if not 0.0 <= drop < 1.0:
        raise ValueError("the drop probability is in [0, 1)")
    rng = random.Random(f"mbi-sim/scenario/{seed}")
    sc = Scenario(seed=seed, n=n, mutant=mutant)
    if equivocation is not None:
        bad = set(equivocation) - set(EQUIVOCATION_MODES)
        if bad or not equivocation:
            raise ValueError(f"equivocation modes are {', '.join(EQUIVOCATION_MODES)}; got {sorted(bad) or 'none'}")
        sc.equivocation_modes = tuple(equivocation)
    order = list(range(n))
    rng.shuffle(order)
    for v in order[:twins]:
        sc.roles[v] = "twin"
    free = [v for v in order if v not in sc.roles]
    # The rest of the Byzantine budget goes to the other enabled kinds, drawn per seed.
    kinds = [k for k, on in (("equivocator", equivocate), ("amnesia", amnesia)) if on]
    budget = f - twins
    while kinds and budget > 0:
        kind = kinds.pop(rng.randrange(len(kinds))) if len(kinds) > 1 and rng.random() < 0.5 else kinds.pop(0)
        sc.roles[free.pop()] = kind
        budget -= 1
    faulty = bool(twins or drop or partitions or crashes or amnesia or equivocate)
    sc.fault_end = rng.uniform(*fault_len) if faulty else 0.0

    family = rng.choice(("lognormal", "uniform", "exponential"))
    scale = rng.uniform(0.003, 0.030)
    k = n + twins
    base = tuple(rng.uniform(0.0, scale) for _ in range(k * k))
    sc.delays = DelayModel(family=family, scale=scale, sigma=rng.uniform(0.3, 1.0),
                           tail_p=rng.uniform(0.0, 0.05) if faulty else 0.0,
                           tail_scale=rng.uniform(0.05, 0.3), link_base=base)
    sc.drop_p = drop
    sc.dup_p = rng.uniform(0.0, 0.03) if (drop or partitions) else 0.0

    pairs = [(v, twin_instance(sc, v)) for v in sc.twins()]
    if partitions:
        for _ in range(rng.randint(1, 3)):
            start = rng.uniform(0.0, sc.fault_end * 0.8)
            end = min(sc.fault_end, start + rng.uniform(0.2, 1.5))
            sc.partitions.append(Partition(start, end, random_groups(rng, k, pairs, max_groups=3)))
    if twins or partitions:
        # Twins scenarios: per round, a grouping of the instances; twin copies apart.
        byz_lead = {v for v, role in sc.roles.items() if role in ("twin", "equivocator")}
        calm_until = 0
        for r in range(1, rng.randint(8, 30)):
            if r <= calm_until:
                continue
            x = rng.random()
            if (r + 1) % n in byz_lead and rng.random() < 0.5:
                # A Byzantine next leader's favourite: a round that reached everyone, then
                # this round's leader alone (it alone learns the new QC), then calm rounds
                # in which the Byzantine leader works on what the others believe.
                x = 0.0
                sc.round_groups.pop(r - 1, None)
                calm_until = r + 3
            if x < 0.2:
                # The round's leader cut off from the honest rest: a leader that forms a
                # certificate nobody else hears of.
                g = [1] * k
                lead = r % n
                g[lead] = 0
                for a, b in pairs:   # twin copies apart: one of them keeps the leader company
                    g[b] = 1 if a == lead else 0
                sc.round_groups[r] = tuple(g)
            elif x < 0.6:
                sc.round_groups[r] = random_groups(rng, k, pairs)
    honest = [v for v in range(n) if v not in sc.roles]
    if crashes and honest:
        for _ in range(rng.randint(1, 3)):
            v = rng.choice(honest)
            at = rng.uniform(0.0, sc.fault_end * 0.8)
            sc.crashes.append((v, at, min(sc.fault_end, at + rng.uniform(0.02, 1.0))))
        sc.crash_after_vote_p = rng.uniform(0.01, 0.08)
        sc.max_targeted_crashes = rng.randint(1, 4)
    for v in (v for v, r in sc.roles.items() if r == "amnesia"):
        at = rng.uniform(0.1, sc.fault_end * 0.8)
        sc.amnesia_at.append((v, at, min(sc.fault_end, at + rng.uniform(0.01, 0.5))))
    # Its own stream, so that every draw above (every seed's scenario before) is unchanged.
    srng = random.Random(f"mbi-sim/sync/{seed}")
    if srng.random() < 0.5:
        sc.sync_max_blocks = srng.choice((1, 2, 3))
    return sc
