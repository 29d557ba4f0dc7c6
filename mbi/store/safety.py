"""The consensus safety record: a small file written in place and fdatasync'ed before every
vote or timeout leaves the node.

Why not a RocksDB key: rocksdict holds the GIL through a synced write, so every vote would
stall the event loop and the execution thread for the whole fsync. `os.pwrite` and
`os.fdatasync` release it. The file has two fixed slots written alternately; each slot
is `magic | seq u64 | len u32 | crc32 u32 | data`, so a write torn by a crash damages at
most the slot being written and the other still holds the previous record. Reading takes
the valid slot with the higher sequence number.
"""
from __future__ import annotations

import os
import struct
import zlib

_MAGIC = b"MBISAFE1"
_HEAD = struct.Struct(">8sQII")  # magic, seq, len, crc32(seq|len|data)
SLOT = 256 * 1024  # room for a TC and a QC of ~1,000 validators
MAX_DATA = SLOT - _HEAD.size


class SafetyFileError(RuntimeError):
    pass


def _crc(seq: int, data: bytes) -> int:
    return zlib.crc32(struct.pack(">QI", seq, len(data)) + data)


class SafetyFile:
    def __init__(self, path: str) -> None:
        self.path = path
        new = not os.path.exists(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if new or os.fstat(self._fd).st_size < 2 * SLOT:
            os.ftruncate(self._fd, 2 * SLOT)
            os.fsync(self._fd)
            d = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
            try:
                os.fsync(d)  # the new file's directory entry is durable too
            finally:
                os.close(d)
        self._seq, self._data = self._read()

    def _slot(self, i: int) -> tuple[int, bytes] | None:
        raw = os.pread(self._fd, SLOT, i * SLOT)
        if len(raw) < _HEAD.size:
            return None
        magic, seq, n, crc = _HEAD.unpack_from(raw)
        if magic != _MAGIC or n > MAX_DATA:
            return None
        data = raw[_HEAD.size:_HEAD.size + n]
        if len(data) != n or _crc(seq, data) != crc:
            return None
        return seq, data

    def _read(self) -> tuple[int, bytes | None]:
        slots = [s for s in (self._slot(0), self._slot(1)) if s is not None]
        if not slots:
            return 0, None
        seq, data = max(slots)
        return seq, data

    def load(self) -> bytes | None:
        """The last record written, or None when none ever was."""
        return self._data

    def save(self, data: bytes) -> None:
        """Write `data` durably; returns once it is on disk."""
        if len(data) > MAX_DATA:
            raise SafetyFileError(f"safety record of {len(data)} bytes exceeds {MAX_DATA}")
        seq = self._seq + 1
        rec = _HEAD.pack(_MAGIC, seq, len(data), _crc(seq, data)) + data
        os.pwrite(self._fd, rec, (seq % 2) * SLOT)
        os.fdatasync(self._fd)
        self._seq, self._data = seq, bytes(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
