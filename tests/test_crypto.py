"""Keys, addresses, base58 and the verification wrapper."""
from __future__ import annotations

import hashlib

import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mbi.crypto import (
    KeyFormatError,
    KeyPair,
    address_from_public_key,
    b58decode,
    b58encode,
    decode_address,
    decode_private_key,
    decode_public_key,
    encode_private_key,
    is_address,
)
from mbi.crypto.sig import verify, verify_batch

# Bitcoin's base58 test vectors (bitcoin/src/test/data/base58_encode_decode.json).
B58_VECTORS = [
    ("", ""), ("61", "2g"), ("626262", "a3gV"), ("636363", "aPEr"),
    ("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"),
    ("00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
    ("516b6fcd0f", "ABnLTmg"), ("bf4f89001e670274dd", "3SEo3LWLoPntC"), ("572e4794", "3EFU7m"),
    ("ecac89cad93923c02321", "EJDM8drfXA6uyA"), ("10c8511e", "Rt5zm"), ("00000000000000000000", "1111111111"),
]


@pytest.mark.parametrize("hexdata,text", B58_VECTORS)
def test_base58_vectors(hexdata, text):
    assert b58encode(bytes.fromhex(hexdata)) == text
    assert b58decode(text) == bytes.fromhex(hexdata)


@given(st.binary(max_size=64))
def test_base58_round_trip(data):
    assert b58decode(b58encode(data)) == data


def test_base58_rejects_bad_characters():
    for bad in ("0", "O", "I", "l", "abc+", "ZTX3 "):
        with pytest.raises(ValueError, match="invalid base58 character"):
            b58decode(bad)
    with pytest.raises(TypeError):
        b58encode("text")  # type: ignore[arg-type]


@given(st.binary(min_size=32, max_size=32))
def test_key_encodings_round_trip(seed):
    kp = KeyPair.from_seed(seed)
    assert kp.encoded_private_key.startswith("priv")
    assert kp.encoded_public_key.startswith("b001") and len(kp.encoded_public_key) == 76
    assert kp.address.startswith("ZTX3") and is_address(kp.address)
    assert decode_private_key(kp.encoded_private_key) == seed
    assert decode_public_key(kp.encoded_public_key) == kp.raw_public_key
    again = KeyPair.from_private_key(kp.encoded_private_key)
    assert again.address == kp.address and again.raw_public_key == kp.raw_public_key
    assert address_from_public_key(kp.encoded_public_key) == kp.address
    assert address_from_public_key(kp.raw_public_key) == kp.address
    # the address is the documented layout: F0 26 01 ‖ SHA-256(pk)[12:] ‖ checksum
    body = b"\xf0\x26\x01" + hashlib.sha256(kp.raw_public_key).digest()[12:]
    assert decode_address(kp.address) == body[3:]
    assert b58decode(kp.address)[:23] == body
    # the public key is the libsodium/PyNaCl key of the same seed
    assert kp.raw_public_key == bytes(nacl.signing.SigningKey(seed).verify_key)


def test_private_key_prefix_is_privB_for_these_bytes():
    # Zetrix private keys print as privB… for (almost) every seed; ours follow the same bytes
    assert all(KeyPair.from_seed(bytes([i]) * 32).encoded_private_key.startswith("privB") for i in range(20))


def _flip(text: str, pos: int, alphabet: str) -> str:
    c = text[pos]
    return text[:pos] + (alphabet[0] if c != alphabet[0] else alphabet[1]) + text[pos + 1:]


def test_bad_addresses_raise_94():
    kp = KeyPair.from_seed(b"\x05" * 32)
    addr = kp.address
    raw = b58decode(addr)
    cases = {
        "checksum": b58encode(raw[:-1] + bytes([raw[-1] ^ 1])),
        "prefix": b58encode(b"\xf0\x26\x02" + raw[3:23] + hashlib.sha256(hashlib.sha256(b"\xf0\x26\x02" + raw[3:23]).digest()).digest()[:4]),
        "length": b58encode(raw[:-1]),
        "alphabet": addr[:-1] + "0",
        "empty": "",
        "char": _flip(addr, 10, "23"),
    }
    for why, bad in cases.items():
        assert not is_address(bad), why
        with pytest.raises(KeyFormatError) as ei:
            decode_address(bad)
        assert ei.value.code == 94, why
    assert not is_address(None) and not is_address(123)
    with pytest.raises(KeyFormatError):
        decode_address(b"ZTX3")  # type: ignore[arg-type]


def test_bad_public_keys_raise_90():
    pk = KeyPair.from_seed(b"\x06" * 32).encoded_public_key
    for bad in (pk[:-2], pk + "00", "b002" + pk[4:], pk[:-1] + ("0" if pk[-1] != "0" else "1"),
                "zz" + pk[2:], pk.upper()[:4] + "x" * 72):
        with pytest.raises(KeyFormatError) as ei:
            decode_public_key(bad)
        assert ei.value.code == 90
    # upper-case hex is the same bytes: accepted (the checksum is over bytes)
    assert decode_public_key(pk.upper()) == decode_public_key(pk)
    with pytest.raises(KeyFormatError) as ei:
        address_from_public_key(b"\x00" * 31)
    assert ei.value.code == 90


def test_bad_private_keys_raise_91():
    seed = b"\x07" * 32
    good = encode_private_key(seed)
    raw = b58decode(good)

    def enc(body: bytes) -> str:
        return b58encode(body + hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4])
    cases = [
        b58encode(raw[:-1] + bytes([raw[-1] ^ 1])),  # checksum
        enc(b"\xda\x37\x9f\x02" + seed + b"\0"),  # type byte
        enc(b"\xda\x37\x9e\x01" + seed + b"\0"),  # prefix
        enc(b"\xda\x37\x9f\x01" + seed + b"\1"),  # compression byte
        enc(b"\xda\x37\x9f\x01" + seed[:31] + b"\0"),  # length
        good[:-1] + "0",  # alphabet
    ]
    for bad in cases:
        with pytest.raises(KeyFormatError) as ei:
            KeyPair.from_private_key(bad)
        assert ei.value.code == 91
    with pytest.raises(KeyFormatError):
        KeyPair.from_seed(b"short")


def test_sign_is_plain_ed25519():
    kp = KeyPair.from_seed(b"\x08" * 32)
    msg = b"zetrix transaction bytes"
    sig = kp.sign(msg)
    nacl.signing.VerifyKey(kp.raw_public_key).verify(msg, sig)  # raises if wrong
    assert sig == nacl.signing.SigningKey(b"\x08" * 32).sign(msg).signature
    with pytest.raises(TypeError):
        kp.sign("text")  # type: ignore[arg-type]


def test_verify_wrappers_use_native_kernel():
    kps = [KeyPair.from_seed(bytes([i + 9]) * 32) for i in range(6)]
    msgs = [bytes([i]) * (i * 7) for i in range(6)]
    sigs = [k.sign(m) for k, m in zip(kps, msgs)]
    pks = [k.raw_public_key for k in kps]
    assert verify(pks[0], msgs[0], sigs[0])
    assert not verify(pks[0], msgs[1], sigs[0])
    assert not verify(pks[0][:31], msgs[0], sigs[0])
    assert list(verify_batch(pks, msgs, sigs)) == [True] * 6
    bad = list(sigs)
    bad[2] = bytes([bad[2][0] ^ 1]) + bad[2][1:]
    bad[4] = bad[4][:63]  # malformed length: False without reaching the kernel
    assert list(verify_batch(pks, msgs, bad)) == [True, True, False, True, False, True]
    assert list(verify_batch([], [], [])) == []
    with pytest.raises(ValueError):
        verify_batch(pks, msgs[:2], sigs)


def test_oversized_address_and_key_text_rejected_without_decoding(monkeypatch):
    # Base58 decoding is quadratic in the text length: a megabyte-long "address" in a
    # transaction took minutes to reject. Anything longer than a valid encoding can be is
    # refused before decoding (same error codes), and is not remembered by the memo.
    from mbi.crypto import keys as K
    from mbi.types import envelope as env

    def no_decode(text):
        raise AssertionError(f"base58-decoded a {len(text)}-character text")

    huge = "Z" * 200_000
    monkeypatch.setattr(K, "b58decode", no_decode)
    with pytest.raises(KeyFormatError) as ei:
        decode_address(huge)
    assert ei.value.code == 94
    assert not is_address(huge)
    with pytest.raises(KeyFormatError) as ei:
        KeyPair.from_private_key(huge)
    assert ei.value.code == 91
    monkeypatch.undo()
    assert huge not in K._valid_addresses
    # A malformed public key text of any length is never a cache entry of unbounded size.
    assert env.parse_public_key("b001" + "0" * 10_000) is None
    assert ("b001" + "0" * 10_000) not in env._PK_CACHE
    # Real addresses and keys still decode (every 27-byte F02601 address is 37 chars).
    kp = KeyPair.from_seed(b"\x09" * 32)
    assert is_address(kp.address) and len(kp.address) == 37
    assert KeyPair.from_private_key(kp.encoded_private_key).address == kp.address
