"""Serving sync while a block executes: the ledger's height moves before the block's
WriteBatch lands (Ledger.close runs first on the execution thread), so the sync server
must read up to what is stored, never the ledger's height (it raised ChainError there,
and the actions after the ServeSync, votes among them, were lost)."""
from __future__ import annotations

import time

from api_util import LiveNode
from mbi.node.recent import RecentBlocks, committed_pairs


def test_sync_is_served_from_the_stored_height_not_the_ledger_s(tmp_path):
    with LiveNode(str(tmp_path), validators=1) as net:
        chain = net.node.chain
        end = time.monotonic() + 20
        while chain.stored_height < 4:
            assert time.monotonic() < end, "no blocks"
            time.sleep(0.05)

        def race() -> tuple[int, int, list[int]]:
            # as between Ledger.close and Store.commit_block: the ledger's height h is one
            # more than the store holds, whose last seq and block h are not there yet
            from mbi.node.chain import block_key, block_ref_key, qc_key

            h = chain.height
            real_seq, real_meta = chain.store.last_seq, chain.store.get_meta
            missing = {block_key(h), block_ref_key(h), qc_key(h)}
            chain.store.last_seq = lambda: h  # type: ignore[method-assign]  # seq h = height h - 1
            chain.store.get_meta = lambda k: None if k in missing else real_meta(k)  # type: ignore[method-assign]
            try:
                # what a sync answer reads with nothing held in memory: the store alone
                pairs = committed_pairs(RecentBlocks(0), {}, chain, 1)
                return h - 1, chain.stored_height, [b.height for b, _ in pairs]
            finally:
                chain.store.last_seq, chain.store.get_meta = real_seq, real_meta  # type: ignore[method-assign]

        pretend, seen, heights = net.call(race)
        assert seen == pretend
        assert heights == list(range(1, pretend + 1))
