"""mbi.sim: a deterministic, seeded simulator that attacks the consensus engine.

    from mbi.sim import build_scenario, Simulation
    result = Simulation(build_scenario(seed=7, n=4, twins=1, partitions=True)).run()
    assert not result.violations

Pure Python on virtual time: `random.Random(seed)` streams only, no clock, no threads.
See docs/simulator.md.
"""
from __future__ import annotations

from mbi.sim.invariants import Violation
from mbi.sim.network import DelayModel, Network, Partition
from mbi.sim.scenario import Scenario, build_scenario
from mbi.sim.scheduler import Scheduler
from mbi.sim.simulation import RunResult, Simulation, run_seed

__all__ = ["DelayModel", "Network", "Partition", "RunResult", "Scenario", "Scheduler", "Simulation", "Violation",
           "build_scenario", "run_seed"]
