"""Signed transaction envelopes, kept as the exact bytes they arrived in.

The signed message is the serialized ``protocol.Transaction`` exactly as the client
produced it; the transaction hash is SHA-256 of those bytes. We therefore never
re-serialize: the ``Transaction`` bytes are sliced out of the received ``TransactionEnv``
by walking its top-level wire format, and the decoded message (upb, C) is used only to
read fields.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np
from google.protobuf.message import DecodeError

from core_ext.hashing import sha256_many as _sha256_many
from core_ext.txscan import scan_pay as _scan_pay

from mbi.crypto.keys import KeyFormatError, address_from_raw_public_key, decode_public_key
from mbi.types.zetrix_protocol_pb2 import Signature, Transaction, TransactionEnv, Trigger

ERR_INVALID_PARAMETER = 2
ERR_TX_SIZE_TOO_BIG = 146
# Largest envelope accepted, in bytes (metadata values may be 256 KiB; 1 MiB leaves room).
MAX_ENVELOPE_SIZE = 1 << 20
MAX_SIGNATURES = 100

_sha256 = hashlib.sha256
# core_ext.txscan.scan_pay's tuple: (source, nonce, fee_limit, gas_price, ceil_ledger_seq,
# chain_id, dest, amount).
PayScan = tuple[str, int, int, int, int, int, str, int]
_from_env = TransactionEnv.FromString
_from_tx = Transaction.FromString
_from_sig = Signature.FromString
_from_trigger = Trigger.FromString


class EnvelopeError(ValueError):
    """The bytes are not a well-formed TransactionEnv (Zetrix code 2, or 146 when too big)."""

    def __init__(self, message: str, code: int = ERR_INVALID_PARAMETER) -> None:
        super().__init__(message)
        self.code = code


def _varint(b: bytes, i: int, n: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= n:
            raise EnvelopeError("truncated varint in TransactionEnv")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise EnvelopeError("varint longer than 10 bytes in TransactionEnv")


def walk_envelope(data: bytes) -> tuple[bytes, list[bytes], bytes | None]:
    """Split a TransactionEnv into (transaction bytes, signature slices, trigger slice).

    Only the top level is walked; the parts are parsed by the caller. Rejects envelopes
    where the transaction is missing or occurs more than once (protobuf would merge
    repeats, so the signed bytes would not be what executes).
    """
    # Fast path for what clients send: only length-delimited fields 1-3 (tags 0x0A,
    # 0x12, 0x1A) with lengths < 2**14. Anything else takes the general walk below.
    n = len(data)
    i = 0
    tx = None
    sigs: list[bytes] = []
    trig = None
    while i < n:
        tag = data[i]
        if tag != 0x0A and tag != 0x12 and tag != 0x1A or i + 2 >= n:
            return _walk_general(data)
        c = data[i + 1]
        if c < 0x80:
            start = i + 2
            end = start + c
        else:
            c2 = data[i + 2]
            if c2 >= 0x80:
                return _walk_general(data)
            start = i + 3
            end = start + ((c & 0x7F) | (c2 << 7))
        if end > n:
            raise EnvelopeError("length-delimited field runs past the end of TransactionEnv")
        if tag == 0x12:
            sigs.append(data[start:end])
        elif tag == 0x0A:
            if tx is not None:
                raise EnvelopeError("TransactionEnv carries more than one transaction field")
            tx = data[start:end]
        else:
            trig = data[start:end] if trig is None else trig + data[start:end]
        i = end
    if tx is None:
        raise EnvelopeError("TransactionEnv has no transaction")
    return tx, sigs, trig


def split_envelope(data: bytes) -> bytes:
    """The raw bytes of field 1 (``transaction``) of a TransactionEnv, exactly as sent."""
    return walk_envelope(data)[0]


def _walk_general(data: bytes) -> tuple[bytes, list[bytes], bytes | None]:
    n = len(data)
    i = 0
    tx: bytes | None = None
    sigs: list[bytes] = []
    trig: bytes | None = None
    while i < n:
        tag, i = _varint(data, i, n)
        wt = tag & 7
        field = tag >> 3
        if field == 0:
            raise EnvelopeError("field number 0 in TransactionEnv")
        if wt == 2:
            ln, i = _varint(data, i, n)
            end = i + ln
            if end > n:
                raise EnvelopeError("length-delimited field runs past the end of TransactionEnv")
            if field == 1:
                if tx is not None:
                    raise EnvelopeError("TransactionEnv carries more than one transaction field")
                tx = data[i:end]
            elif field == 2:
                sigs.append(data[i:end])
            elif field == 3:
                trig = data[i:end] if trig is None else trig + data[i:end]
            i = end
        elif field in (1, 2, 3):
            raise EnvelopeError(f"TransactionEnv field {field} must be length-delimited")
        elif wt == 0:
            _, i = _varint(data, i, n)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            raise EnvelopeError(f"unsupported wire type {wt} in TransactionEnv")
        if i > n:
            raise EnvelopeError("truncated TransactionEnv")
    if tx is None:
        raise EnvelopeError("TransactionEnv has no transaction")
    return tx, sigs, trig


def _split_general(data: bytes) -> bytes:
    return _walk_general(data)[0]


def _parse_signature(b: bytes) -> tuple[str, bytes]:
    """(public_key, sign_data) of one Signature message."""
    # Fast path: exactly `0A 4C <76 hex chars> 12 40 <64 bytes>`, what every client sends.
    if len(b) == 144 and b[0] == 0x0A and b[1] == 76 and b[78] == 0x12 and b[79] == 64:
        pk = b[2:78]
        if pk.isascii():
            return pk.decode("ascii"), b[80:]
    try:
        s = _from_sig(b)
    except DecodeError as exc:
        raise EnvelopeError(f"signature does not decode: {exc}") from None
    return s.public_key, s.sign_data


# public key text -> (raw 32 bytes, address) or None when malformed. Keys repeat across
# transactions (the same senders sign again and again), and the address needs a base58
# encode that costs several microseconds, so remember them (bounded).
_PK_CACHE: dict[str, tuple[bytes, str] | None] = {}
_PK_CACHE_MAX = 1 << 20


def parse_public_key(text: str) -> tuple[bytes, str] | None:
    hit = _PK_CACHE.get(text, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    try:
        raw = decode_public_key(text)
        val: tuple[bytes, str] | None = (raw, address_from_raw_public_key(raw))
    except KeyFormatError:
        val = None
    if len(text) == 76:  # only texts of a key's length: entries stay small
        if len(_PK_CACHE) >= _PK_CACHE_MAX:
            _PK_CACHE.clear()
        _PK_CACHE[text] = val
    return val


_SIG_HEAD = b"\x12\x90\x01\x0a\x4c"  # field 2, length 144; Signature field 1, length 76
_SIG_MID = b"\x12\x40"  # Signature field 2, length 64


def _scan_or_decode(tx_bytes: bytes, what: str) -> tuple[Transaction | None, PayScan | None]:
    """(decoded transaction, scan): the common PAY_COIN's fields read natively, its message
    left undecoded (bytes the scan takes, protobuf decodes to the same values:
    tests/test_txscan.py); anything else decoded now. EnvelopeError when it does not decode."""
    pay = _scan_pay(tx_bytes)
    if pay is not None:
        return None, pay
    try:
        return _from_tx(tx_bytes), None
    except DecodeError as exc:
        raise EnvelopeError(f"{what} does not decode: {exc}") from None


def _decode_parts(data: bytes) -> tuple[bytes, bytes, Transaction | None,
                                        tuple[tuple[str, bytes | None, str | None, bytes], ...], PayScan | None]:
    """(envelope, transaction bytes, decoded transaction, signatures, scan) of a
    TransactionEnv; raises EnvelopeError when malformed (SignedTransaction.from_envelope's
    work but the hash). For the common PAY_COIN the scan is given and the transaction is
    None (decoded on first read); otherwise the scan is None."""
    if not isinstance(data, bytes):
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError(f"envelope must be bytes, got {type(data).__name__}")
    n = len(data)
    if n > MAX_ENVELOPE_SIZE:
        raise EnvelopeError(f"envelope is {n} bytes; the limit is {MAX_ENVELOPE_SIZE}",
                            ERR_TX_SIZE_TOO_BIG)
    # Fast path for what every client sends: the transaction (field 1, length < 2**14)
    # then one 144-byte signature `12 90 01 | 0A 4C <76 ASCII> 12 40 <64>` ending the
    # envelope. The same bytes through walk_envelope + _parse_signature give the same
    # parts; anything else takes that general route.
    if n > 150 and data[0] == 0x0A:
        c = data[1]
        if c < 0x80:
            e = 2 + c
            start = 2
        else:
            c2 = data[2]
            e = 3 + ((c & 0x7F) | (c2 << 7)) if c2 < 0x80 else 0
            start = 3
        if e + 147 == n and data[e:e + 5] == _SIG_HEAD and data[e + 81:e + 83] == _SIG_MID:
            pk_b = data[e + 5:e + 81]
            if pk_b.isascii():
                tx_bytes = data[start:e]
                # The common PAY_COIN, read natively: bytes the scan takes are bytes
                # protobuf decodes to the same values (tests/test_txscan.py), so the
                # message is decoded only if something reads it (SignedTransaction.tx).
                tx, pay = _scan_or_decode(tx_bytes, "TransactionEnv")
                pk = pk_b.decode("ascii")
                parsed = _PK_CACHE.get(pk, False)
                if parsed is False:
                    parsed = parse_public_key(pk)
                sd = data[e + 83:]
                sig = (pk, None, None, sd) if parsed is None else (pk, parsed[0], parsed[1], sd)
                return data, tx_bytes, tx, (sig,), pay
    tx_bytes, sig_parts, trig = walk_envelope(data)
    if len(sig_parts) > MAX_SIGNATURES:
        raise EnvelopeError(f"{len(sig_parts)} signatures; at most {MAX_SIGNATURES} are allowed")
    try:
        tx = _from_tx(tx_bytes)
        if trig is not None:
            _from_trigger(trig)  # ignored by execution, but must decode for every reader
    except DecodeError as exc:
        raise EnvelopeError(f"TransactionEnv does not decode: {exc}") from None
    out: list[tuple[str, bytes | None, str | None, bytes]] = []
    for part in sig_parts:
        pk, sd = _parse_signature(part)
        parsed = _PK_CACHE[pk] if pk in _PK_CACHE else parse_public_key(pk)
        if parsed is None:
            out.append((pk, None, None, sd))
        else:
            out.append((pk, parsed[0], parsed[1], sd))
    return data, tx_bytes, tx, tuple(out), None


class SignedTransaction:
    """One transaction envelope: received bytes, hash, decoded fields and signers.

    Attributes:
        envelope: the TransactionEnv bytes as received (what is stored and gossiped).
        tx_bytes: the Transaction bytes inside it, exactly as signed.
        hash: SHA-256(tx_bytes), 32 bytes.
        tx: the decoded ``protocol.Transaction`` (read-only by convention); for the
            common PAY_COIN it is decoded on first read (a property).
        pay: ``core_ext.txscan.scan_pay(tx_bytes)`` when the decoder scanned it (the
            common PAY_COIN), else None; ``source_address``, ``nonce`` and ``gas_price``
            read it before the message.
        signatures: tuple of (public_key_text, raw_key or None, address or None, sign_data).
        sig_ok: None until checked; then True when every signature verified, False when
            at least one did not (its key is malformed or it does not verify).
        sig_error: (code, description) of the first signature that failed, if any.
        valid_signers: None until checked; then the addresses whose signatures decoded
            and verified. Only these count toward an account's weight: a bad signature
            is ignored, not fatal (as in the ancestor chain). A caller that sets
            ``sig_ok = True`` itself (pre-verified at admission) leaves it None, which
            means every well-formed signer (``signer_addresses``).
    """

    __slots__ = ("envelope", "tx_bytes", "hash", "_tx", "pay", "signatures", "sig_ok", "sig_error",
                 "valid_signers", "_signer_set")

    def __init__(self, envelope: bytes, tx_bytes: bytes, tx: Transaction | None,
                 signatures: tuple[tuple[str, bytes | None, str | None, bytes], ...],
                 pay: PayScan | None = None, tx_hash: bytes | None = None) -> None:
        """``tx_hash``, when given, must be SHA-256(tx_bytes) (from a batched hash).
        ``pay``, when given, must be ``core_ext.txscan.scan_pay(tx_bytes)``; ``tx`` may
        then be None and is decoded from ``tx_bytes`` when first read."""
        if tx is None and pay is None:
            raise ValueError("a SignedTransaction needs its decoded transaction or its scan")
        self.envelope = envelope
        self.tx_bytes = tx_bytes
        self.hash = _sha256(tx_bytes).digest() if tx_hash is None else tx_hash
        self._tx = tx
        self.pay = pay
        self.signatures = signatures
        self.sig_ok: bool | None = None
        self.sig_error: tuple[int, str] | None = None
        self.valid_signers: frozenset[str] | None = None
        self._signer_set: frozenset[str] | None = None

    @property
    def tx(self) -> Transaction:
        """The decoded ``protocol.Transaction`` (read-only by convention)."""
        t = self._tx
        if t is None:
            # The scan took these bytes, so protobuf decodes them (tests/test_txscan.py).
            t = self._tx = _from_tx(self.tx_bytes)
        return t

    # The fields the pool and the node read for every transaction, without decoding the
    # message when the scan has them.
    @property
    def source_address(self) -> str:
        p = self.pay
        return p[0] if p is not None else self.tx.source_address

    @property
    def nonce(self) -> int:
        p = self.pay
        return p[1] if p is not None else self.tx.nonce

    @property
    def gas_price(self) -> int:
        p = self.pay
        return p[3] if p is not None else self.tx.gas_price

    @classmethod
    def from_envelope(cls, data: bytes) -> "SignedTransaction":
        """Decode a TransactionEnv; raises EnvelopeError when malformed."""
        e, b, tx, sigs, pay = _decode_parts(data)
        return cls(e, b, tx, sigs, pay)

    @classmethod
    def from_envelopes(cls, datas: Sequence[bytes]) -> "list[SignedTransaction | EnvelopeError | TypeError]":
        """`from_envelope` of each, the transaction hashes computed in one native batch;
        an envelope that does not decode gives its exception in its place."""
        parts: list = []
        ok: list[tuple[bytes, bytes, Transaction, tuple]] = []
        for d in datas:
            try:
                p = _decode_parts(d)
            except (EnvelopeError, TypeError) as e:
                parts.append(e)
                continue
            parts.append(p)
            ok.append(p)
        if len(ok) < 2:
            return [p if isinstance(p, Exception) else cls(p[0], p[1], p[2], p[3], p[4]) for p in parts]
        n = len(ok)
        off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter([len(p[1]) for p in ok], dtype=np.int64, count=n), out=off[1:])
        hs = _sha256_many(b"".join([p[1] for p in ok]), off, threads=1).tobytes()
        out: list[SignedTransaction | EnvelopeError | TypeError] = []
        k = 0
        for p in parts:
            if isinstance(p, Exception):
                out.append(p)
            else:
                out.append(cls(p[0], p[1], p[2], p[3], p[4], hs[k:k + 32]))
                k += 32
        return out

    @classmethod
    def from_parts(cls, tx_bytes: bytes, signatures: Iterable[tuple[str, bytes]]) -> "SignedTransaction":
        """Build an envelope from a transaction blob and (public_key, sign_data) pairs.

        This is what ``/submitTransaction`` receives. The Transaction bytes are kept as
        given; only the envelope around them is assembled.
        """
        if not isinstance(tx_bytes, (bytes, bytearray)):
            raise TypeError(f"transaction blob must be bytes, got {type(tx_bytes).__name__}")
        tx_bytes = bytes(tx_bytes)
        # As in the decoder: the common PAY_COIN is scanned natively and its message
        # decoded only when read (bytes the scan takes, protobuf decodes).
        tx, pay = _scan_or_decode(tx_bytes, "transaction blob")
        head = _len_field(1, tx_bytes)
        if type(signatures) is list and len(signatures) == 1:
            # What clients send: one signature of a 76-character key and 64 bytes, the
            # layout the decoder's fast path reads (`_SIG_HEAD`), assembled directly.
            pair = signatures[0]
            if type(pair) is tuple and len(pair) == 2:
                pk, sd = pair
                if type(pk) is str and len(pk) == 76 and type(sd) is bytes and len(sd) == 64 and pk.isascii():
                    data = b"".join((head, _SIG_HEAD, pk.encode("ascii"), _SIG_MID, sd))
                    if len(data) > MAX_ENVELOPE_SIZE:
                        raise EnvelopeError(f"envelope is {len(data)} bytes; the limit is {MAX_ENVELOPE_SIZE}",
                                            ERR_TX_SIZE_TOO_BIG)
                    parsed = _PK_CACHE.get(pk, False)
                    if parsed is False:
                        parsed = parse_public_key(pk)
                    sig = (pk, None, None, sd) if parsed is None else (pk, parsed[0], parsed[1], sd)
                    return cls(data, tx_bytes, tx, (sig,), pay)
        parts = [head]
        sigs: list[tuple[str, bytes]] = []
        for j, pair in enumerate(signatures):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 \
                    or not isinstance(pair[0], str) or not isinstance(pair[1], (bytes, bytearray)):
                raise TypeError("signatures must be (public_key str, sign_data bytes) pairs")
            pk, sd = pair
            sd = bytes(sd)
            try:
                sig = Signature(public_key=pk, sign_data=sd).SerializeToString()
            except ValueError:  # UnicodeEncodeError: lone surrogates (JSON "\ud800") are not UTF-8
                raise EnvelopeError(f"signature {j}: public key is not valid UTF-8 text") from None
            parts.append(_len_field(2, sig))
            sigs.append((pk, sd))
        data = b"".join(parts)
        # What from_envelope(data) would return, without walking and parsing again what
        # was just assembled from these very parts (same limits, same errors).
        if len(data) > MAX_ENVELOPE_SIZE:
            raise EnvelopeError(f"envelope is {len(data)} bytes; the limit is {MAX_ENVELOPE_SIZE}",
                                ERR_TX_SIZE_TOO_BIG)
        if len(sigs) > MAX_SIGNATURES:
            raise EnvelopeError(f"{len(sigs)} signatures; at most {MAX_SIGNATURES} are allowed")
        out: list[tuple[str, bytes | None, str | None, bytes]] = []
        for pk, sd in sigs:
            parsed = _PK_CACHE[pk] if pk in _PK_CACHE else parse_public_key(pk)
            out.append((pk, None, None, sd) if parsed is None else (pk, parsed[0], parsed[1], sd))
        return cls(data, tx_bytes, tx, tuple(out), pay)

    @property
    def hash_hex(self) -> str:
        return self.hash.hex()

    @property
    def signer_addresses(self) -> frozenset[str]:
        """Addresses of the well-formed public keys that signed (weights are by address)."""
        s = self._signer_set
        if s is None:
            s = self._signer_set = frozenset(a for _, _, a, _ in self.signatures if a is not None)
        return s

    def __repr__(self) -> str:
        return f"SignedTransaction(hash={self.hash.hex()}, source={self.source_address!r}, nonce={self.nonce})"


def _len_field(field: int, payload: bytes) -> bytes:
    out = bytearray([(field << 3) | 2])
    n = len(payload)
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + payload


def sign_transaction(tx: Transaction | bytes, keypairs: Sequence["object"]) -> SignedTransaction:
    """Serialize (if needed) and sign a transaction with each key pair (wallet/test helper)."""
    tx_bytes = tx if isinstance(tx, bytes) else tx.SerializeToString()
    sigs = [(kp.encoded_public_key, kp.sign(tx_bytes)) for kp in keypairs]  # type: ignore[attr-defined]
    return SignedTransaction.from_parts(tx_bytes, sigs)
