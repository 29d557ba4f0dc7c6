"""A round that cannot certify a block because its leader, or the next leader (who alone
collects its votes), has no connection to this validator gets a short timer
(`[consensus] unreachable_leader_timeout`, ConsensusDriver._set_timer). Round r's leader
is validator r mod 4 (ValidatorSet.leader)."""
from __future__ import annotations

import asyncio
import time

import pytest

from api_util import LiveNode
from consensus_fixtures import Net
from mbi.consensus.events import SetTimer
from mbi.node import config as C
from mbi.node.driver import BlockLimits, ConsensusDriver


class _Links:
    """The driver's view of the p2p network: which validator keys are connected."""

    def __init__(self, keys: tuple[bytes, ...], down: set[int]) -> None:
        self.up = {k for i, k in enumerate(keys) if i not in down}

    def is_connected(self, key: bytes) -> bool:
        return key in self.up


def _armed(down: set[int], rounds: list[int], short: float = 0.2, me: int = 0) -> list[float]:
    """The delay of the timer each SetTimer(round, now + 5 s) armed, in order."""
    net = Net(4)
    core = net.core(me)
    d = ConsensusDriver(core, None, None, None, _Links(core.vs.keys, down),  # type: ignore[arg-type]
                        BlockLimits(unreachable_timeout=short), None, None)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        d._loop = loop
        out = []
        for r in rounds:
            d._set_timer(SetTimer(r, time.time() + 5.0))
            out.append(d._timer.when() - loop.time())  # type: ignore[union-attr]
        return out
    finally:
        loop.close()


def test_rounds_led_by_or_voting_to_a_disconnected_validator_are_short() -> None:
    # validator 3 is down: round 2 (its votes go to 3) and round 3 (3 leads) are doomed
    got = _armed({3}, [1, 2, 3, 4, 5, 6, 7])
    short = [r for r, t in zip([1, 2, 3, 4, 5, 6, 7], got) if t < 1.0]
    assert short == [2, 3, 6, 7]
    for t in got:
        assert 0.15 < t <= 0.2 or 4.9 < t <= 5.0


def test_all_connected_or_off_leaves_the_engines_deadline() -> None:
    assert all(4.9 < t <= 5.0 for t in _armed(set(), [1, 2, 3, 4]))
    assert all(4.9 < t <= 5.0 for t in _armed({3}, [2, 3], short=0.0))  # 0: off


def test_a_rearmed_timer_keeps_the_engines_backoff() -> None:
    # Round 3 entered (short), then its timer re-armed by the timeout retransmission:
    # the second one keeps the engine's deadline, so an isolated node does not spin.
    got = _armed({3}, [3, 3])
    assert got[0] <= 0.2 and got[1] > 4.9


def test_our_own_rounds_count_as_reachable() -> None:
    # As validator 3 with validator 0 down: round 2's votes come to us (normal), round 3
    # is ours but its votes go to 0 (short), round 4 is led by 0 (short).
    got = _armed({0}, [2, 3, 4], me=3)
    assert got[0] > 4.9 and got[1] <= 0.2 and got[2] <= 0.2


def test_the_config_key_reaches_the_driver_and_is_checked(tmp_path) -> None:
    assert C.ConsensusConfig().unreachable_leader_timeout == BlockLimits().unreachable_timeout == 0.2
    with pytest.raises(C.ConfigError, match="consensus.unreachable_leader_timeout"):
        C.loads("[consensus]\nunreachable_leader_timeout = -1\n")
    with LiveNode(str(tmp_path), validators=1, **{"consensus.unreachable_leader_timeout": 0.35}) as net:
        assert net.node.driver.limits.unreachable_timeout == 0.35
