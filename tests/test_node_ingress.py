"""Transaction ingress of a node: gossip identity and dedupe, per-origin verification, bad
relays reported, the single-signature fast path against the ledger's verify_signatures,
pool admission and the ingress queue's grouping by origin."""
from __future__ import annotations

import hashlib
import random
import struct
import types

import pysodium
import pytest

from core_ext import sigverify as sv
from core_ext.mempool import AddResult, Mempool
from mbi.crypto import KeyPair
from mbi.ledger import testing as T
from mbi.ledger.execute import verify_signatures
from mbi.node import txs as X
from mbi.node.node import Node
from mbi.p2p.config import P2PConfig
from mbi.p2p.gossip import HashGenerations, TxGossip, decode_tx_batch, encode_tx_batch, sha256_each
from mbi.p2p.kinds import Kind
from mbi.types import SignedTransaction, Transaction

CHAIN = 5
A, B, C = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32
KEYS = [KeyPair.from_seed(i.to_bytes(32, "big")) for i in range(1, 41)]


def envelope(k: int, nonce: int, *, bad: bool = False, sigs: list[tuple[str, bytes]] | None = None) -> bytes:
    key = KEYS[k]
    blob = Transaction(source_address=key.address, nonce=nonce, fee_limit=10**8, gas_price=100, chain_id=CHAIN,
                       operations=[T.pay_coin(KEYS[(k + 1) % len(KEYS)].address, 7)]).SerializeToString()
    if sigs is None:
        sig = key.sign(blob)
        if bad:
            sig = sig[:40] + bytes([sig[40] ^ 4]) + sig[41:]
        sigs = [(key.encoded_public_key, sig)]
    else:
        sigs = [(pk, key.sign(blob) if sd == b"sign" else sd) for pk, sd in sigs]
    return SignedTransaction.from_parts(blob, sigs).envelope


def libsodium_ok(env: bytes) -> bool:
    st = SignedTransaction.from_envelope(env)
    _, raw, _, sd = st.signatures[0]
    try:
        pysodium.crypto_sign_verify_detached(sd, st.tx_bytes, raw)
        return True
    except ValueError:
        return False


class RecNet:
    def __init__(self, peers: list[bytes], validators: frozenset[bytes] = frozenset(),
                 config: P2PConfig | None = None) -> None:
        self.config = config or P2PConfig()
        self.validators = validators
        self.peers = peers
        self.sent: dict[bytes, list[bytes]] = {k: [] for k in peers}
        self.reports: list[tuple[bytes, float, str]] = []

    def peer_keys(self) -> list[bytes]:
        return list(self.peers)

    def send(self, key: bytes, kind: int, payload: bytes) -> bool:
        assert kind == Kind.TX_BATCH
        self.sent[key].append(payload)
        return True

    def report(self, key: bytes, penalty: float, reason: str) -> bool:
        self.reports.append((key, penalty, reason))
        return False

    def relayed(self, key: bytes) -> list[bytes]:
        return [b for p in self.sent[key] for b in decode_tx_batch(p, 1 << 16)]


def node_parts() -> tuple[RecNet, TxGossip, X.TxCache, X.TxPool]:
    net = RecNet([A, B, C])
    return net, TxGossip(net), X.TxCache(4096), X.TxPool(Mempool(4096, 1 << 24), lambda a: 0)


def test_hash_generations_bounded_and_remembers_the_recent_half() -> None:
    s = HashGenerations(8)
    hs = [bytes([i]) * 32 for i in range(40)]
    for i, h in enumerate(hs):
        assert s.add(h)
        assert len(s) <= 8
        for old in hs[max(0, i - 3):i + 1]:  # the last capacity // 2 are always there
            assert old in s
    assert hs[0] not in s and len(s) <= 8
    assert not s.add(hs[-1])
    assert s.missing([hs[-1], hs[0], hs[-2]]) == {hs[0]}
    # a hash seen again while in the old generation is kept through the next rotation
    t = HashGenerations(4)
    a, b, c, d = (bytes([x]) * 32 for x in b"abcd")
    t.update([a, b])  # rotates: {a, b} is now the old generation
    assert not t.add(a)  # found (old), copied to the current one
    t.update([c, d])  # rotates again: {b} is forgotten, a stays
    assert a in t and b not in t and c in t


def test_receive_identity_is_sha256_of_each_blob_and_repeats_count_once() -> None:
    net = RecNet([A, B])
    g = TxGossip(net)
    blobs = [b"tx-%03d" % i + bytes(i) for i in range(50)]
    got, hs = g.receive(A, encode_tx_batch(blobs + blobs[:5]))
    assert got == blobs
    assert hs == [hashlib.sha256(b).digest() for b in blobs]
    assert sha256_each(blobs[:1]) == [hashlib.sha256(blobs[0]).digest()]
    assert g.received == 55 and g.duplicates == 5
    assert g.receive(B, encode_tx_batch(blobs[10:20])) == ([], [])
    got, _ = g.receive(B, encode_tx_batch(blobs[45:] + [b"fresh"]))
    assert got == [b"fresh"]
    # broadcast: A sent all of them, B sent 10..19 and 45..49: only the rest go to B
    assert g.broadcast(blobs, hs) == 1
    assert net.sent[A] == []
    assert net.relayed(B) == blobs[:10] + blobs[20:45]
    assert g.on_batch(A, b"\x00\x00") == [] and net.reports and net.reports[0][0] == A


def test_ingest_relays_to_the_peer_that_lacks_it_only_and_reports_a_bad_relay() -> None:
    net, g, cache, pool = node_parts()
    honest = [envelope(k, 1) for k in range(10)]
    poisoned = [envelope(k, 1) for k in range(10, 19)] + [envelope(19, 1, bad=True)]
    assert all(libsodium_ok(e) for e in honest + poisoned[:-1]) and not libsodium_ok(poisoned[-1])
    ha, hb = g.receive(A, encode_tx_batch(honest)), g.receive(B, encode_tx_batch(poisoned))
    rates = X.InvalidRates()
    r = X.ingest_batch(cache, pool, g, [(A, *ha), (B, *hb)], 1000.0, rates)
    want = set(honest + poisoned[:-1])
    assert {t.envelope for t in r.fresh} == want and len(pool) == 19
    assert r.bad_relays == {B: 1}
    assert [(k, p) for k, p, _ in net.reports] == [(B, X.PENALTY_BAD_RELAY)]
    assert rates.rate(A) == 0.0 and rates.rate(B) > 0.0
    # never relayed back to where it came from; C lacks everything valid; the bad one goes nowhere
    assert set(net.relayed(A)) == set(poisoned[:-1])
    assert set(net.relayed(B)) == set(honest)
    assert set(net.relayed(C)) == want
    bad = cache.get(poisoned[-1])
    assert bad is not None and bad.sig_ok is False and not bad.valid_signers
    assert bad.hash not in pool.pool
    # the same bad envelope relayed again (a cache hit) is still charged; nothing changes
    before = len(pool)
    r2 = X.ingest_batch(cache, pool, g, [(C, [poisoned[-1]], None)], 1001.0, rates)
    assert r2.fresh == [] and r2.bad_relays == {C: 1} and len(pool) == before
    # undecodable envelopes from a peer count too, capped per batch
    r3 = X.ingest_batch(cache, pool, g, [(A, [b"\xff" * 40] * 9, None)], 1002.0, rates)
    assert r3.bad_relays == {A: 9} and net.reports[-1][:2] == (A, X.PENALTY_BAD_RELAY_MAX)
    # local submissions (origin None) are not anyone's fault
    r4 = X.ingest_batch(cache, pool, g, [(None, [b"\xff" * 40], None)], 1003.0, rates)
    assert r4.bad_relays == {} and len(net.reports) == 3


def fields(t: SignedTransaction) -> tuple:
    return t.sig_ok, t.valid_signers, t.sig_error


def test_single_signature_fast_path_matches_verify_signatures() -> None:
    rng = random.Random(5)
    envs = []
    for i in range(120):
        k = rng.randrange(len(KEYS))
        kind = rng.randrange(7)
        if kind == 0:
            envs.append(envelope(k, i, bad=True))
        elif kind == 1:  # malformed key
            envs.append(envelope(k, i, sigs=[("b001" + "00" * 36, b"sign")]))
        elif kind == 2:  # short sign_data
            envs.append(envelope(k, i, sigs=[(KEYS[k].encoded_public_key, b"\x01" * 63)]))
        elif kind == 3:  # two signers, the second key's signature over another message
            envs.append(envelope(k, i, sigs=[(KEYS[k].encoded_public_key, b"sign"),
                                             (KEYS[(k + 2) % 40].encoded_public_key, KEYS[k].sign(b"x"))]))
        elif kind == 4:
            envs.append(envelope(k, i, sigs=[]))
        else:
            envs.append(envelope(k, i))
    ours = [SignedTransaction.from_envelope(e) for e in envs]
    ref = [SignedTransaction.from_envelope(e) for e in envs]
    sv._recent_invalid_rate(0.0)
    rest = X.verify_single_signed(ours)
    verify_signatures(rest)
    verify_signatures(ref)
    assert [fields(t) for t in ours] == [fields(t) for t in ref]
    n_ok = sum(1 for t in ours if t.sig_ok)
    assert 0 < n_ok < len(ours)
    # and the verdicts of single well-formed signatures are libsodium's
    for e, t in zip(envs, ours):
        s = t.signatures
        if len(s) == 1 and s[0][1] is not None and len(s[0][3]) == 64:
            assert bool(t.sig_ok) == libsodium_ok(e)
    # already decided transactions are left alone
    assert X.verify_single_signed(ours) == []


def test_sender_id_is_eight_bytes_of_sha256_and_admission_results() -> None:
    addr = KEYS[3].address
    want = struct.unpack("<Q", hashlib.sha256(addr.encode()).digest()[:8])[0]
    assert X.sender_id(addr) == want and X.sender_id(addr) == want  # cached the second time
    pool = X.TxPool(Mempool(64, 1 << 20), lambda a: 4 if a == KEYS[0].address else 0)
    txs = [SignedTransaction.from_envelope(envelope(k, n)) for k, n in ((0, 5), (1, 1), (0, 4), (1, 1), (2, 2))]
    verify_signatures(txs)
    res = pool.admit(txs, 10.0)
    assert res == [AddResult.ACCEPTED, AddResult.ACCEPTED, AddResult.NONCE_TOO_LOW, AddResult.DUPLICATE,
                   AddResult.ACCEPTED]
    assert pool.results["ACCEPTED"] == 3 and len(pool) == 3
    pool.on_commit([txs[1]], [])
    assert txs[1].hash not in pool.pool and len(pool) == 2


def queue() -> types.SimpleNamespace:
    return types.SimpleNamespace(_ingress=[], _ingress_n=0, _ingress_scheduled=True, _ingress_busy=False)


def test_ingress_queue_groups_by_origin() -> None:
    q = queue()
    Node.submit(q, [b"a1", b"a2"], A, [b"ha1", b"ha2"])  # type: ignore[arg-type]
    Node.submit(q, [b"l1"], None)  # type: ignore[arg-type]
    Node.submit(q, [b"b1"], B, [b"hb1"])  # type: ignore[arg-type]
    Node.submit(q, [b"a3"], A, [b"ha3"])  # type: ignore[arg-type]
    assert q._ingress_n == 5
    # A's later envelope joined A's group (one signature batch per origin)
    assert Node._take_ingress(q, 10) == [(A, [b"a1", b"a2", b"a3"], [b"ha1", b"ha2", b"ha3"]),  # type: ignore[arg-type]
                                         (None, [b"l1"], None), (B, [b"b1"], [b"hb1"])]
    assert q._ingress == [] and q._ingress_n == 0


def test_ingress_queue_over_the_limit_gives_each_origin_a_fair_share() -> None:
    q = queue()
    flood = [b"f%d" % i for i in range(100)]
    Node.submit(q, flood, A, [b"h" + e for e in flood])  # type: ignore[arg-type]
    Node.submit(q, [b"b1", b"b2"], B, [b"hb1", b"hb2"])  # type: ignore[arg-type]
    Node.submit(q, [b"c%d" % i for i in range(10)], C, [b"hc%d" % i for i in range(10)])  # type: ignore[arg-type]
    got = Node._take_ingress(q, 12)  # type: ignore[arg-type]
    # shares of 4: B needs only 2, so A and C get 5 each
    assert got == [(A, flood[:5], [b"h" + e for e in flood[:5]]), (B, [b"b1", b"b2"], [b"hb1", b"hb2"]),
                   (C, [b"c%d" % i for i in range(5)], [b"hc%d" % i for i in range(5)])]
    assert q._ingress_n == 100 + 2 + 10 - 12
    assert q._ingress == [(A, flood[5:], [b"h" + e for e in flood[5:]]),
                          (C, [b"c%d" % i for i in range(5, 10)], [b"hc%d" % i for i in range(5, 10)])]
    got = Node._take_ingress(q, 3)  # type: ignore[arg-type]
    assert got == [(A, flood[5:7], [b"h" + e for e in flood[5:7]]), (C, [b"c5"], [b"hc5"])]
    rest = Node._take_ingress(q, 1000)  # type: ignore[arg-type]
    assert sum(len(g[1]) for g in rest) == 100 - 7 + 4 and q._ingress == [] and q._ingress_n == 0


@pytest.mark.parametrize("n", [1, 3])
def test_ingress_queue_partial_group(n: int) -> None:
    q = queue()
    Node.submit(q, [b"x%d" % i for i in range(5)], A, [b"h%d" % i for i in range(5)])  # type: ignore[arg-type]
    got = Node._take_ingress(q, n)  # type: ignore[arg-type]
    assert got == [(A, [b"x%d" % i for i in range(n)], [b"h%d" % i for i in range(n)])]
    assert q._ingress == [(A, [b"x%d" % i for i in range(n, 5)], [b"h%d" % i for i in range(n, 5)])]
    assert q._ingress_n == 5 - n


def test_tx_cache_put_many_keeps_the_newest_within_capacity() -> None:
    c = X.TxCache(4)
    sts = [SignedTransaction.from_envelope(envelope(k, 1)) for k in range(6)]
    c.put_many(sts[:3])
    c.put_many(sts[3:])
    assert len(c) == 4
    assert [c.get(t.envelope) for t in sts] == [None, None] + sts[2:]


def test_select_returns_pooled_transactions_in_pool_order_minus_excluded() -> None:
    pool = X.TxPool(Mempool(64, 1 << 20), lambda a: 0)
    txs = [SignedTransaction.from_envelope(envelope(k, n)) for k in range(6) for n in (1, 2)]
    verify_signatures(txs)
    assert all(r is AddResult.ACCEPTED for r in pool.admit(txs, 10.0))
    order = [bytes(r) for r in pool.pool.select(100, 1 << 20)]
    assert sorted(order) == sorted(t.hash for t in txs)
    skip = {order[0], order[3]}
    got = pool.select(5, 1 << 20, skip)
    assert [t.hash for t in got] == [h for h in order if h not in skip][:5]
    assert all(isinstance(t, SignedTransaction) for t in got)


def test_consensus_messages_before_the_driver_starts_are_held_bounded() -> None:
    from mbi.node.driver import CONSENSUS_KINDS

    kind = next(iter(CONSENSUS_KINDS))
    got: list[tuple[bytes, int, bytes]] = []
    n = types.SimpleNamespace(_early=[], driver=types.SimpleNamespace(on_message=lambda p, k, m: got.append((p, k, m))))
    for i in range(1100):
        Node._on_message(n, A, kind, b"m%d" % i)  # type: ignore[arg-type]
    assert got == [] and len(n._early) == 1024 and n._early[0] == (A, kind, b"m0")
    n._early = None  # the driver runs: messages go straight to it
    Node._on_message(n, B, kind, b"later")  # type: ignore[arg-type]
    assert got == [(B, kind, b"later")]


def test_on_commit_raises_each_sender_to_its_highest_applied_nonce() -> None:
    pool = X.TxPool(Mempool(64, 1 << 20), lambda a: 0)
    txs = {(k, n): SignedTransaction.from_envelope(envelope(k, n)) for k in range(3) for n in range(1, 5)}
    verify_signatures(list(txs.values()))
    assert all(r is AddResult.ACCEPTED for r in pool.admit(list(txs.values()), 10.0))
    # applied out of order on purpose: the highest nonce of each sender counts
    pool.on_commit([txs[(0, 2)], txs[(1, 3)], txs[(0, 1)], txs[(1, 1)]], [txs[(2, 4)].hash])
    left = {kn for kn, t in txs.items() if t.hash in pool.pool}
    assert left == {(0, 3), (0, 4), (1, 4), (2, 1), (2, 2), (2, 3)}
    for kn in ((0, 1), (0, 2), (1, 1), (1, 3), (2, 4)):
        assert txs[kn].hash not in pool.by_hash
    assert pool.pool.executed_nonce(X.sender_id(KEYS[0].address)) == 2
    assert pool.pool.executed_nonce(X.sender_id(KEYS[1].address)) == 3
    pool.on_commit([], [])


def test_admit_and_on_commit_read_unscanned_transactions_too() -> None:
    # A batch mixing scanned PAY_COINs with a transaction the scan does not take (memo)
    # and a stale nonce: the pool sees each one's own sender, nonce and price.
    pool = X.TxPool(Mempool(64, 1 << 20), lambda a: 1 if a == KEYS[2].address else 0)
    memo = Transaction(source_address=KEYS[1].address, nonce=1, fee_limit=10**8, gas_price=250, chain_id=CHAIN,
                       metadata=b"memo", operations=[T.pay_coin(KEYS[0].address, 7)]).SerializeToString()
    unscanned = SignedTransaction.from_parts(memo, [(KEYS[1].encoded_public_key, KEYS[1].sign(memo))])
    scanned = [SignedTransaction.from_envelope(envelope(0, n)) for n in (1, 2)]
    stale = SignedTransaction.from_envelope(envelope(2, 1))  # the ledger says KEYS[2] used nonce 1
    assert unscanned.pay is None and all(t.pay is not None for t in scanned)
    batch = [scanned[0], unscanned, stale, scanned[1]]
    got = pool.admit(batch, 10.0)
    assert got == [AddResult.ACCEPTED, AddResult.ACCEPTED, AddResult.NONCE_TOO_LOW, AddResult.ACCEPTED]
    assert set(pool.by_hash) == {scanned[0].hash, unscanned.hash, scanned[1].hash}
    sender1 = X.sender_id(KEYS[1].address)
    assert pool.pool.pending_with_nonces(sender1)[1].tolist() == [1]
    pool.on_commit([unscanned, scanned[0]], [])
    assert pool.pool.executed_nonce(sender1) == 1
    assert pool.pool.executed_nonce(X.sender_id(KEYS[0].address)) == 1
    assert set(pool.by_hash) == {scanned[1].hash}


def test_a_peer_relaying_bad_signatures_is_scored_and_banned_over_loopback() -> None:
    """Real Networks on loopback: b runs the node's ingress (receive, ingest_batch) on
    what a sends; a's TX_BATCH frames carry transactions with bad signatures."""
    import asyncio
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from p2p_util import Recorder, fast_config, keys, run, until

    async def main() -> None:
        ka, kb = keys(2)
        vals = [ka.raw_public_key, kb.raw_public_key]
        a, b = Recorder(ka, vals, fast_config()), Recorder(kb, vals, fast_config())
        cache, pool = X.TxCache(4096), X.TxPool(Mempool(4096, 1 << 24), lambda _: 0)
        gb = TxGossip(b.net)
        rates = X.InvalidRates()
        admitted: list[SignedTransaction] = []

        def on_message(peer: bytes, kind: int, payload: bytes) -> None:
            if kind == Kind.TX_BATCH:
                blobs, hs = gb.receive(peer, payload)
                if blobs:
                    admitted.extend(X.ingest_batch(cache, pool, gb, [(peer, blobs, hs)], 1000.0, rates).fresh)
        b.net.on_message = on_message
        await a.start()
        pb = await b.start()
        a.net.connect("127.0.0.1", pb)
        assert await a.net.wait_for_peers([kb.raw_public_key], 5)
        good = [envelope(k, 1) for k in range(8)]
        bad = [envelope(k, 2, bad=True) for k in range(8, 11)]
        ga = TxGossip(a.net)
        ga.broadcast(good + bad[:1])
        assert await until(lambda: len(admitted) == 8)
        now = asyncio.get_running_loop().time()
        assert b.net.scores.score(ka.raw_public_key, now) == pytest.approx(-X.PENALTY_BAD_RELAY, abs=1.0)
        assert {t.envelope for t in admitted} == set(good) and len(pool) == 8
        # six more bad ones in one frame: -20 and at most -100 a batch is past the -100 ban
        ga.broadcast([envelope(k, 3, bad=True) for k in range(11, 17)])
        assert await until(lambda: b.net.scores.banned(ka.raw_public_key, asyncio.get_running_loop().time()))
        assert await until(lambda: not b.net.is_connected(ka.raw_public_key))
        assert len(pool) == 8 and not any(t.envelope in bad for t in admitted)
        for x in (a, b):
            await x.net.stop()
    run(main(), timeout=30)


def _relay_net(relay_among_validators: bool) -> tuple[RecNet, TxGossip, X.TxCache, X.TxPool]:
    """A and B are validator peers, C a full node."""
    net = RecNet([A, B, C], frozenset({A, B}), P2PConfig(gossip_validator_relay=relay_among_validators))
    return net, TxGossip(net), X.TxCache(4096), X.TxPool(Mempool(4096, 1 << 24), lambda a: 0)


def test_what_a_validator_sent_is_relayed_to_full_nodes_only_and_the_rest_to_everyone() -> None:
    """The validator that took a transaction from a client or a full node sent it to every
    validator itself: relaying it to the others again only multiplied it by the mesh."""
    net, g, cache, pool = _relay_net(False)
    from_a = [envelope(k, 1) for k in range(0, 4)]      # validator A relayed them
    from_c = [envelope(k, 1) for k in range(4, 8)]      # full node C relayed them
    local = [envelope(k, 1) for k in range(8, 12)]      # our own client (origin None)
    ha, hc = g.receive(A, encode_tx_batch(from_a)), g.receive(C, encode_tx_batch(from_c))
    r = X.ingest_batch(cache, pool, g, [(A, *ha), (C, *hc), (None, local, None)], 1000.0, X.InvalidRates())
    assert len(r.fresh) == 12
    assert sorted(net.relayed(A)) == sorted(from_c + local)          # never back, never A's own
    assert sorted(net.relayed(B)) == sorted(from_c + local)          # not what validator A sent
    assert sorted(net.relayed(C)) == sorted(from_a + local)          # a full node gets A's too


def test_validator_relay_on_sends_a_validators_transactions_to_the_other_validators() -> None:
    net, g, cache, pool = _relay_net(True)
    from_a = [envelope(k, 1) for k in range(0, 4)]
    ha = g.receive(A, encode_tx_batch(from_a))
    X.ingest_batch(cache, pool, g, [(A, *ha)], 1000.0, X.InvalidRates())
    assert net.relayed(A) == [] and sorted(net.relayed(B)) == sorted(from_a) == sorted(net.relayed(C))
