"""Integrity checks of a RocksDB store's MANIFEST and write-ahead logs before RocksDB reads them.

RocksDB 9.8 (the one rocksdict 0.3.29 bundles) can spin forever on a damaged log file:
a record whose type byte reads as one of the "recyclable" types (5-8) keeps
``rocksdb::log::Reader::ReadRecord`` at 100% CPU (py-spy), so ``Rdict.list_cf`` and
``Rdict(...)`` never return. It was seen in the manifest (``tests/test_store.py::
test_corrupt_manifest`` writes random bytes there; about one run in twenty hung, and a
CI run timed out on it) and, on purpose, in a WAL. A node must refuse such a store with
an error, not hang at start, so the store walks both kinds of file first.

The log format (RocksDB wiki, "Write Ahead Log File Format"; LevelDB's ``log_format.md``):
the file is a sequence of 32 KiB blocks; each physical record is a 7-byte header
(masked CRC-32C of type and payload, 2-byte little-endian length, 1-byte type) and its
payload; a logical record is one FULL fragment or FIRST, MIDDLE..., LAST; fewer than 7
bytes left in a block are zero padding. Our stores never recycle log files (so types
5-8 are never written) and compress neither log (type 9), so only types 1-4 are valid.

What RocksDB itself reads as the end of a log stays the end: a record cut short by the
end of the file (a crash while it was being appended) and a zero-filled tail (an
extended file whose data never reached the disk).
"""
from __future__ import annotations

import mmap
import os
import re
import struct

import crc32c

__all__ = ["ManifestError", "check_log_bytes", "check_manifest", "check_wals", "current_manifest", "masked_crc"]

BLOCK_SIZE = 32768
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_NAMES = {FULL: "FULL", FIRST: "FIRST", MIDDLE: "MIDDLE", LAST: "LAST"}
_MASK_DELTA = 0xA282EAD8
_CURRENT = re.compile(rb"(MANIFEST-[0-9]{1,20})\n")
_HEADER = struct.Struct("<IHB")
_RECYCLABLE_FIRST, _RECYCLABLE_LAST = 5, 8


class ManifestError(ValueError):
    """The manifest (or CURRENT, which names it) is not a well-formed RocksDB log."""


def masked_crc(data: bytes) -> int:
    """RocksDB's stored form of a CRC-32C: rotated right by 15 bits plus a constant."""
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def current_manifest(db_dir: str) -> str:
    """The manifest file that ``CURRENT`` names; ManifestError if it names none."""
    try:
        with open(os.path.join(db_dir, "CURRENT"), "rb") as fh:
            current = fh.read(256)
    except OSError as e:
        raise ManifestError(f"cannot read CURRENT: {e}") from e
    m = _CURRENT.fullmatch(current)
    if m is None:
        raise ManifestError(f"CURRENT does not name a manifest (it holds {current[:64]!r})")
    return os.path.join(db_dir, m.group(1).decode())


def check_manifest(db_dir: str) -> int:
    """Check the manifest that ``CURRENT`` names; returns its number of logical records.

    Strict: RocksDB refuses a database whose manifest has any damaged record, so this
    raises ManifestError, naming the offset and what is wrong, on the first record that
    RocksDB's writer could not have produced.
    """
    path = current_manifest(db_dir)
    return _check_file(path, strict=True)


def check_wals(db_dir: str) -> int:
    """Check the write-ahead logs (``*.log``) RocksDB will replay; returns their records.

    Not strict: the store opens with point-in-time recovery, which stops replaying at
    the first damaged record and keeps what came before (a torn tail after a power
    loss). Only a record RocksDB would spin on before it gets there, a recyclable type
    (5-8), raises ManifestError.
    """
    names = sorted(n for n in os.listdir(db_dir) if n.endswith(".log") and n[:-4].isdigit())
    return sum(_check_file(os.path.join(db_dir, n), strict=False) for n in names)


def _check_file(path: str, *, strict: bool) -> int:
    # Mapped, not read: the WALs can hold up to max_total_wal_size (512 MiB).
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return 0
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise ManifestError(f"cannot read {os.path.basename(path)}: {e}") from e
    try:
        return check_log_bytes(data, strict=strict)
    except ManifestError as e:
        raise ManifestError(f"{os.path.basename(path)}: {e}") from None
    finally:
        data.close()


def check_log_bytes(data: bytes | mmap.mmap, *, strict: bool = True) -> int:
    """Walk ``data`` as a RocksDB log file; returns the number of logical records read.

    ``strict``: any record the writer could not have produced raises ManifestError.
    Otherwise the walk stops, as point-in-time recovery does, at the first damaged
    record, and only a recyclable record type before that point raises.
    """
    with memoryview(data) as view:  # released on the way out, so an mmap can close
        return _walk(view, strict)


def _walk(view: memoryview, strict: bool) -> int:
    size = len(view)
    pos = 0
    records = 0
    in_fragment = False

    def damaged(reason: str) -> None:
        if strict:
            raise ManifestError(reason)

    while pos < size:
        left_in_block = BLOCK_SIZE - pos % BLOCK_SIZE
        if left_in_block < HEADER_SIZE:  # the writer's zero trailer
            end = min(pos + left_in_block, size)
            if any(view[pos:end]):
                damaged(f"non-zero block trailer at offset {pos}")
                break
            pos = end
            continue
        if size - pos < HEADER_SIZE:
            break  # a header cut short by the end of the file: RocksDB reads it as the end
        crc, length, rtype = _HEADER.unpack_from(view, pos)
        if crc == 0 and length == 0 and rtype == 0:
            if any(view[pos:]):
                damaged(f"zero header followed by data at offset {pos}")
            break  # a zero-filled tail
        # RocksDB looks at the type before the length or the checksum.
        if _RECYCLABLE_FIRST <= rtype <= _RECYCLABLE_LAST:
            raise ManifestError(f"record type {rtype} (a recycled log's) at offset {pos}: "
                                "this store never recycles logs, and RocksDB 9.8 cannot read past it")
        if rtype not in _NAMES:
            damaged(f"record type {rtype} at offset {pos} (only 1-4 are written)")
            break
        body = pos + HEADER_SIZE
        if HEADER_SIZE + length > left_in_block:
            damaged(f"record at offset {pos} of length {length} crosses its block")
            break
        if body + length > size:
            break  # cut short by the end of the file, as after a crash mid-append
        if masked_crc(view[pos + 6:body + length]) != crc:
            damaged(f"checksum mismatch in the {_NAMES[rtype]} record at offset {pos}")
            break
        if rtype == FULL or rtype == FIRST:
            if in_fragment:
                damaged(f"{_NAMES[rtype]} record at offset {pos} inside a fragmented record")
                break
            in_fragment = rtype == FIRST
            records += rtype == FULL
        else:
            if not in_fragment:
                damaged(f"{_NAMES[rtype]} record at offset {pos} without a FIRST")
                break
            if rtype == LAST:
                in_fragment = False
                records += 1
        pos = body + length
    return records
