"""mbi.node.looplag: the event loop's lateness, as the driver and /metrics report it."""
from __future__ import annotations

import asyncio
import time

from mbi.node.looplag import LoopLag


def test_record_counts_stalls_and_keeps_a_window() -> None:
    lag = LoopLag(interval=0.05, stall=0.1, window=5.0)
    for t, v in [(0.0, 0.01), (1.0, 0.3), (2.0, 0.1), (3.0, 0.05), (8.0, 0.02)]:
        lag.record(t, v)
    assert lag.samples == 5
    assert lag.stalls == 2  # 0.3 and 0.1 (the bound counts)
    assert abs(lag.stall_seconds - 0.4) < 1e-12
    assert lag.longest == 0.3
    # At t=8 the window holds t>=3 only: the 0.3 s stall at t=1 has left it.
    assert lag.longest_since(0.0) == 0.05
    assert lag.longest_since(4.0) == 0.02
    assert lag.longest_since(9.0) == 0.0


def test_a_blocked_loop_is_seen() -> None:
    async def main() -> LoopLag:
        lag = LoopLag(interval=0.02, stall=0.1)
        lag.start(asyncio.get_running_loop())
        await asyncio.sleep(0.2)
        assert lag.samples >= 3
        time.sleep(0.35)  # a callback holding the loop, as a GIL-starved loop would
        await asyncio.sleep(0.1)
        lag.stop()
        n = lag.samples
        await asyncio.sleep(0.1)
        assert lag.samples == n  # stopped
        return lag

    lag = asyncio.run(main())
    assert lag.stalls >= 1
    assert lag.longest >= 0.3
    assert lag.longest_since(0.0) >= 0.3
