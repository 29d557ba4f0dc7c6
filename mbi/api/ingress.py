"""/submitTransaction's batched ingress: decode, one signature batch, validate, pool, gossip.

Requests arriving within `max_delay` of each other are served together, so a burst of
clients costs one `verify_signatures` call (native batch, GIL released, on the node's
verify pool) and one `Mempool.add_batch` call. Each item then gets its own answer:

1. decode: `SignedTransaction.from_parts(blob, signatures)` (in the request handler);
2. signatures: envelopes the node has seen are taken from its TxCache; the rest are
   verified in one batch on a worker thread and added to the cache (on the loop, so the
   cache has one writer at a time);
3. `mbi.ledger.validate(stx, state, ledger_seq + 1, future_nonce=True)`: every check
   before charging, so a refused transaction is answered with its code at once;
4. `TxPool.admit` (one `add_batch`): the pool's verdict (duplicate, nonce, full, ...);
5. what the pool took is gossiped and the consensus driver is told.

The answer comes when the batch is admitted, not when it is committed.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING

from core_ext.mempool import AddResult
from mbi.ledger import errors as E
from mbi.ledger.execute import verify_signatures
from mbi.ledger.validity import validate
from mbi.node.txs import sender_id
from mbi.types.envelope import SignedTransaction

if TYPE_CHECKING:
    from mbi.node.node import Node

log = logging.getLogger("mbi.api")

# Zetrix has no code of its own for a pool refusing a same-nonce replacement; 160
# ("tx insert queue fail") is the ancestor node's answer for a transaction its queue
# would not take.
ERR_TX_INSERT_QUEUE_FAIL = 160
ERR_OUT_OF_TX_CACHE = 114


def _same_nonce_pooled(pool, stx: SignedTransaction) -> bool:  # type: ignore[no-untyped-def]
    _, nonces = pool.pending_with_nonces(sender_id(stx.source_address))
    return bool((nonces == stx.nonce).any())


def pool_outcome(r: AddResult, pool, stx: SignedTransaction | None = None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """The Zetrix (code, description) for one Mempool.add_batch result (`stx` tells the
    two kinds of UNDERPRICED apart: a replacement, or a full pool)."""
    if r is AddResult.ACCEPTED:
        return E.SUCCESS, ""
    if r is AddResult.REPLACED:
        return E.SUCCESS, "replaced the pooled transaction with the same nonce"
    if r is AddResult.DUPLICATE:
        return E.ALREADY_EXIST, "the transaction is already in the pool"
    if r is AddResult.UNDERPRICED:
        if stx is not None and not _same_nonce_pooled(pool, stx):
            return ERR_OUT_OF_TX_CACHE, "the transaction pool is full and this transaction does not pay more than those it would evict"
        return (ERR_TX_INSERT_QUEUE_FAIL, "a pooled transaction has this nonce; a replacement needs a gas_price "
                f"at least {pool.replace_bump:.0%} higher")
    if r is AddResult.NONCE_TOO_LOW:
        return E.BAD_SEQUENCE, "nonce is already used by an executed transaction"
    if r is AddResult.NONCE_TOO_HIGH:
        return E.BAD_SEQUENCE, f"nonce is more than {pool.max_nonce_gap} above the account's next nonce"
    if r is AddResult.SENDER_FULL:
        return ERR_OUT_OF_TX_CACHE, f"the account already has {pool.per_sender_limit} transactions in the pool"
    if r is AddResult.POOL_FULL:
        return ERR_OUT_OF_TX_CACHE, "the transaction pool is full"
    return E.INTERNAL_ERROR, f"unknown pool result {int(r)}"  # pragma: no cover - AddResult is closed


class ApiIngress:
    """Batches /submitTransaction items from concurrent requests (see the module doc)."""

    def __init__(self, node: "Node", max_delay: float | None = None, max_batch: int | None = None) -> None:
        self.node = node
        self.max_delay = node.cfg.verify.max_delay if max_delay is None else max_delay
        self.max_batch = max_batch or max(node.cfg.verify.batch_size, 1)
        self._queue: list[tuple[list[SignedTransaction], asyncio.Future[list[tuple[int, str]]]]] = []
        self._queued = 0
        self._scheduled = False
        self._busy = False
        pool = getattr(node, "_verify_pool", None)
        self._own_pool: ThreadPoolExecutor | None = None
        if isinstance(pool, Executor):
            self._pool: Executor = pool
        else:
            self._own_pool = ThreadPoolExecutor(min(4, len(os.sched_getaffinity(0))), thread_name_prefix="api-verify")
            self._pool = self._own_pool
        self.batches = 0
        self.items = 0

    def close(self) -> None:
        if self._own_pool is not None:
            self._own_pool.shutdown(wait=False)

    async def submit(self, txs: list[SignedTransaction]) -> list[tuple[int, str]]:
        """(code, description) for each transaction, once the batch holding it is admitted."""
        if not txs:
            return []
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[tuple[int, str]]] = loop.create_future()
        self._queue.append((txs, fut))
        self._queued += len(txs)
        if self._queued >= self.max_batch and not self._busy:
            self._start(loop)
        elif not self._scheduled and not self._busy:
            self._scheduled = True
            loop.call_later(self.max_delay, self._start, loop)
        return await fut

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        if self._busy or not self._queue:
            return
        batch: list[tuple[list[SignedTransaction], asyncio.Future[list[tuple[int, str]]]]] = []
        n = 0
        while self._queue and (not batch or n + len(self._queue[0][0]) <= self.max_batch):
            txs, fut = self._queue.pop(0)
            batch.append((txs, fut))
            n += len(txs)
        self._queued -= n
        self._busy = True
        loop.create_task(self._run(batch))

    async def _run(self, batch: list[tuple[list[SignedTransaction], asyncio.Future[list[tuple[int, str]]]]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            flat = [t for txs, _ in batch for t in txs]
            results = await self._admit(flat)
            i = 0
            for txs, fut in batch:
                if not fut.done():
                    fut.set_result(results[i:i + len(txs)])
                i += len(txs)
        except Exception as e:  # noqa: BLE001 - every waiting request gets an answer
            log.exception("API ingress batch failed")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
        finally:
            self._busy = False
            if self._queue and not self._scheduled:
                self._scheduled = True
                loop.call_soon(self._start, loop)

    async def _admit(self, txs: list[SignedTransaction]) -> list[tuple[int, str]]:
        node = self.node
        loop = asyncio.get_running_loop()
        cache = node.cache
        fresh: list[SignedTransaction] = []
        for k, t in enumerate(txs):
            hit = cache.get(t.envelope)
            if hit is not None and hit.sig_ok is not None:
                txs[k] = hit
                cache.hits += 1
            else:
                fresh.append(t)
        if fresh:
            # local clients are one origin for the verifier's invalid-rate strategy
            # (mbi.node.txs.InvalidRates): their bad signatures do not slow gossip batches
            rates = getattr(node, "invalid_rates", None)
            if rates is not None:
                await loop.run_in_executor(self._pool, rates.verify, "http", fresh)
            else:
                await loop.run_in_executor(self._pool, verify_signatures, fresh)
            cache.misses += len(fresh)
            node.verified_sigs += sum(len(t.signatures) for t in fresh)
            for t in fresh:
                cache.put(t)
        self.batches += 1
        self.items += len(txs)
        ledger = node.chain.ledger
        state, seq = ledger.state, ledger.seq + 1
        out: list[tuple[int, str] | None] = [None] * len(txs)
        admit_idx: list[int] = []
        for k, t in enumerate(txs):
            code, desc = validate(t, state, seq, future_nonce=True)
            if code:
                out[k] = (code, desc)
            else:
                admit_idx.append(k)
        if admit_idx:
            chosen = [txs[k] for k in admit_idx]
            res = node.pool.admit(chosen, time.time())
            fresh_in: list[SignedTransaction] = []
            for k, t, r in zip(admit_idx, chosen, res):
                out[k] = pool_outcome(r, node.pool.pool, t)
                if r is AddResult.ACCEPTED or r is AddResult.REPLACED:
                    fresh_in.append(t)
            if fresh_in:
                # no hashes: broadcast computes the gossip identity, SHA-256 of each envelope
                node.gossip.broadcast([t.envelope for t in fresh_in])
                node.driver.on_transactions()
        return [o if o is not None else (E.INTERNAL_ERROR, "no result") for o in out]
