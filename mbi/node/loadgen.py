"""A load generator of signed PAY_COIN transactions, sent by p2p gossip (`mbi devnet --load`).

It joins the network as a non-voting peer with a key of its own, funds `accounts` fresh
accounts from the faucet (CREATE_ACCOUNT, 100 per transaction), waits for them to commit,
then sends payments between them at `rate` per second in TX_BATCH frames. Each account's
nonce is tracked here, so every transaction it sends is valid when it arrives in order.
"""
from __future__ import annotations

import asyncio
import logging
import time

from mbi.crypto.keys import KeyPair
from mbi.ledger import testing as T
from mbi.ledger.genesis import Genesis
from mbi.p2p.config import P2PConfig
from mbi.p2p.gossip import encode_tx_batch
from mbi.p2p.kinds import Kind, Role
from mbi.p2p.network import Network

log = logging.getLogger("mbi.loadgen")


class LoadGen:
    def __init__(self, genesis: Genesis, faucet: KeyPair, peers: list[tuple[str, int, bytes]], rate: float,
                 accounts: int = 200) -> None:
        self.genesis = genesis
        self.faucet = faucet
        self.peers = peers
        self.rate = rate
        self.keys = [KeyPair.generate() for _ in range(accounts)]
        self.nonces = [0] * accounts
        self.faucet_nonce = 0
        self.sent = 0
        self.net = Network(KeyPair.generate(), genesis.chain_id, P2PConfig(listen_host="127.0.0.1", listen_port=0),
                           role=Role.FULL_NODE, validators=[v.raw_public_key for v in genesis.validators])
        self._next = 0

    async def start(self) -> None:
        await self.net.start("127.0.0.1", 0)
        for host, port, key in self.peers:
            self.net.connect(host, port, key)
        await self.net.wait_for_peers([k for _, _, k in self.peers], timeout=30.0)

    def _send(self, envelopes: list[bytes]) -> None:
        payload = encode_tx_batch(envelopes)
        self.net.broadcast(Kind.TX_BATCH, payload)
        self.sent += len(envelopes)

    def fund(self) -> None:
        chain = self.genesis.chain_id
        envs = []
        for i in range(0, len(self.keys), 100):
            self.faucet_nonce += 1
            ops = [T.create_account(k.address, 10**12) for k in self.keys[i:i + 100]]
            envs.append(T.make_tx(self.faucet, self.faucet_nonce, ops, chain_id=chain, fee_limit=10**9).envelope)
        self._send(envs)

    def payments(self, n: int) -> list[bytes]:
        out = []
        chain = self.genesis.chain_id
        k = len(self.keys)
        for _ in range(n):
            i = self._next
            self._next = (self._next + 1) % k
            self.nonces[i] += 1
            dest = self.keys[(i + 1) % k].address
            out.append(T.make_tx(self.keys[i], self.nonces[i], [T.pay_coin(dest, 1)], chain_id=chain).envelope)
        return out

    async def run(self, funded: asyncio.Event, stop: asyncio.Event) -> None:
        self.fund()
        await funded.wait()
        tick = 0.05
        carry = 0.0
        while not stop.is_set():
            t0 = time.monotonic()
            carry += self.rate * tick
            n = int(carry)
            carry -= n
            if n:
                self._send(self.payments(n))
            await asyncio.sleep(max(0.0, tick - (time.monotonic() - t0)))

    async def stop(self) -> None:
        await self.net.stop()
