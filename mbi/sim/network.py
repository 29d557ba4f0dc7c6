"""The simulated network: random delays, drops, duplicates and partitions that heal.

Endpoints are *instances* (an honest validator is one instance, a twinned validator is
two). Every decision draws from the run's own `random.Random`, in the order messages are
sent, so a seed fixes the whole history. Reordering is not a separate fault: it follows
from independent random delays.

Two kinds of partition apply while the fault phase lasts (virtual time < `fault_end`):
- time partitions: from `start` to `end`, only instances of one group hear each other;
- round partitions (the Twins paper's scenarios): a message of consensus round r only
  crosses between instances that round r's grouping puts together.
After `fault_end` the network is whole: no drops, no partitions, delays only.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DelayModel:
    """Per-message one-way delay in virtual seconds: a per-link base plus a random draw.

    family: "lognormal" (median `scale`, shape `sigma`), "uniform" (0 .. 2*scale),
    "exponential" (mean `scale`); with probability `tail_p` the draw comes instead from an
    exponential tail of mean `tail_scale` (a slow path, a retransmission).
    """
    family: str = "lognormal"
    scale: float = 0.010
    sigma: float = 0.6
    tail_p: float = 0.02
    tail_scale: float = 0.150
    link_base: tuple[float, ...] = ()   # base[src * k + dst] for k instances; empty = 0

    def sample(self, rng: random.Random, link: int) -> float:
        if self.tail_p and rng.random() < self.tail_p:
            d = rng.expovariate(1.0 / self.tail_scale)
        elif self.family == "lognormal":
            d = rng.lognormvariate(math.log(self.scale), self.sigma)
        elif self.family == "uniform":
            d = rng.uniform(0.0, 2.0 * self.scale)
        elif self.family == "exponential":
            d = rng.expovariate(1.0 / self.scale)
        elif self.family == "constant":   # benchmarks only: latency in whole message delays
            d = self.scale
        else:
            raise ValueError(f"unknown delay family {self.family!r}")
        return (self.link_base[link] if self.link_base else 0.0) + d


@dataclass(slots=True)
class Partition:
    """From `start` to `end` (virtual seconds), instance i only reaches instances with the
    same `group[i]`."""
    start: float
    end: float
    group: tuple[int, ...]


@dataclass(slots=True)
class NetStats:
    sent: int = 0
    delivered: int = 0
    dropped: int = 0          # random loss (the --drop probability)
    partitioned: int = 0      # cut by a time or round partition
    duplicated: int = 0
    lost_to_crash: int = 0    # arrived at a crashed instance


@dataclass(slots=True)
class Network:
    rng: random.Random
    instances: int
    delays: DelayModel = field(default_factory=DelayModel)
    drop_p: float = 0.0
    dup_p: float = 0.0
    partitions: list[Partition] = field(default_factory=list)
    round_groups: dict[int, tuple[int, ...]] = field(default_factory=dict)
    fault_end: float = 0.0
    stats: NetStats = field(default_factory=NetStats)

    def connected(self, src: int, dst: int, now: float, round: int | None) -> bool:
        if now >= self.fault_end:
            return True
        for p in self.partitions:
            if p.start <= now < p.end and p.group[src] != p.group[dst]:
                return False
        if round is not None:
            g = self.round_groups.get(round)
            if g is not None and g[src] != g[dst]:
                return False
        return True

    def route(self, src: int, dst: int, now: float, round: int | None) -> list[float]:
        """Delays after which copies of one message from src reach dst ([] = lost)."""
        st = self.stats
        st.sent += 1
        if not self.connected(src, dst, now, round):
            st.partitioned += 1
            return []
        faulty = now < self.fault_end
        if faulty and self.drop_p and self.rng.random() < self.drop_p:
            st.dropped += 1
            return []
        link = src * self.instances + dst
        out = [self.delays.sample(self.rng, link)]
        if faulty and self.dup_p and self.rng.random() < self.dup_p:
            st.duplicated += 1
            out.append(self.delays.sample(self.rng, link))
        return out


def random_groups(rng: random.Random, instances: int, apart: "list[tuple[int, int]] | tuple[()]" = (),
                  max_groups: int = 2) -> tuple[int, ...]:
    """A random split of the instances into 2..max_groups non-empty groups; the two
    instances of each pair in `apart` (twin copies) land in different groups."""
    k = rng.randint(2, max(2, max_groups))
    while True:
        g = [rng.randrange(k) for _ in range(instances)]
        for a, b in apart:
            if g[a] == g[b]:
                g[b] = (g[a] + 1 + rng.randrange(k - 1)) % k
        if len(set(g)) >= 2:
            return tuple(g)
