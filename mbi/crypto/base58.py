"""Base58 with the Bitcoin alphabet (what Zetrix uses for addresses and private keys)."""
from __future__ import annotations

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def b58encode(data: bytes) -> str:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"b58encode expects bytes, got {type(data).__name__}")
    data = bytes(data)
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    # Each leading zero byte is one leading '1' (the integer conversion drops them).
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58 text; raises ValueError naming the first character outside the alphabet."""
    if not isinstance(text, str):
        raise TypeError(f"b58decode expects str, got {type(text).__name__}")
    n = 0
    for pos, ch in enumerate(text):
        digit = _INDEX.get(ch)
        if digit is None:
            raise ValueError(f"invalid base58 character {ch!r} at position {pos}")
        n = n * 58 + digit
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body
