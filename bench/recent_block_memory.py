"""Memory that one empty committed block with its QC and commit QC holds, the figure
behind mbi.node.recent's per-block and per-signature counts (RecentBlocks.size_of).

    .venv/bin/python bench/recent_block_memory.py

tracemalloc over 200 blocks built as the engine holds them (4 and 16 validators; a QC
carries n - f signatures); prints bytes per block and what size_of counts for it.
"""
from __future__ import annotations

import os
import sys
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from consensus_fixtures import Net  # noqa: E402
from mbi.node.recent import RecentBlocks  # noqa: E402


def main() -> None:
    for n in (4, 16):
        net = Net(n)
        parent = net.genesis_block()
        for r in range(1, 3):
            parent = net.block(parent, r)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        kept = []
        for k in range(200):
            b = net.block(parent, 10 + k, qc=net.qc(parent))
            kept.append((b, net.qc(b)))
        used = (tracemalloc.get_traced_memory()[0] - base) / len(kept)
        tracemalloc.stop()
        print(f"{n:>2} validators: {used:,.0f} bytes per empty block held, size_of counts "
              f"{RecentBlocks.size_of(*kept[0]):,}")


if __name__ == "__main__":
    main()
