"""Frame codec: 4-byte big-endian payload length, 1-byte kind, payload.

``FrameDecoder`` is incremental: it consumes whatever the socket delivered, returns
every complete frame and keeps only the unfinished tail. The length is checked as soon
as the 5 header bytes are in, so the tail never exceeds one maximum frame (header +
max_payload); an oversized length raises before any of its payload is buffered.
"""
from __future__ import annotations

import struct

HEADER = struct.Struct(">IB")
HEADER_LEN = HEADER.size  # 5
_unpack_from = HEADER.unpack_from
_pack = HEADER.pack


class FrameError(ValueError):
    """The byte stream is not a valid frame sequence; the connection must be closed.

    ``frames`` holds the complete frames that preceded the error in the same feed, so
    what a peer's valid frames do never depends on how TCP split the stream.
    """

    def __init__(self, message: str, frames: list[tuple[int, bytes]] | None = None) -> None:
        super().__init__(message)
        self.frames = frames if frames is not None else []


class FrameTooLarge(FrameError):
    def __init__(self, length: int, limit: int, frames: list[tuple[int, bytes]] | None = None) -> None:
        super().__init__(f"frame payload of {length} bytes exceeds the limit of {limit}", frames)
        self.length = length
        self.limit = limit


def encode_header(kind: int, length: int) -> bytes:
    return _pack(length, kind)


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    if not 0 <= kind <= 255:
        raise ValueError(f"frame kind must fit one byte, got {kind}")
    return _pack(len(payload), kind) + payload


class FrameDecoder:
    """Splits a byte stream into (kind, payload) frames with a payload limit."""

    __slots__ = ("max_payload", "_buf", "_need")

    def __init__(self, max_payload: int) -> None:
        if max_payload < 0:
            raise ValueError("max_payload must be >= 0")
        self.max_payload = max_payload
        self._buf = bytearray()  # the unfinished frame (header and/or partial payload)
        self._need = 0  # payload length of the frame in _buf once its header is in, else 0

    @property
    def buffered(self) -> int:
        """Bytes held for an unfinished frame."""
        return len(self._buf)

    @property
    def partial(self) -> bool:
        return bool(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        """Consume ``data``; return the frames it completes, in order.

        Raises FrameTooLarge / FrameError on a bad stream; the decoder is then unusable.
        """
        out: list[tuple[int, bytes]] = []
        mv = memoryview(data)
        n = len(mv)
        pos = 0
        buf = self._buf
        if buf:
            # Finish the pending frame first.
            if len(buf) < HEADER_LEN:
                take = min(HEADER_LEN - len(buf), n)
                buf += mv[:take]
                pos = take
                if len(buf) < HEADER_LEN:
                    return out
                length = _unpack_from(buf, 0)[0]
                if length > self.max_payload:
                    raise FrameTooLarge(length, self.max_payload, out)
                self._need = length
            missing = HEADER_LEN + self._need - len(buf)
            take = min(missing, n - pos)
            buf += mv[pos:pos + take]
            pos += take
            if take < missing:
                return out
            out.append((buf[4], bytes(buf[HEADER_LEN:])))
            buf.clear()
            self._need = 0
        limit = self.max_payload
        # Whole frames straight from the socket chunk, without copying into the buffer.
        while n - pos >= HEADER_LEN:
            length, kind = _unpack_from(mv, pos)
            if length > limit:
                raise FrameTooLarge(length, limit, out)
            end = pos + HEADER_LEN + length
            if end > n:
                break
            out.append((kind, bytes(mv[pos + HEADER_LEN:end])))
            pos = end
        if pos < n:
            buf += mv[pos:]
            if len(buf) >= HEADER_LEN:
                self._need = _unpack_from(buf, 0)[0]  # already checked against the limit
        return out
