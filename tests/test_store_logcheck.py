"""mbi.store.logcheck: the MANIFEST/WAL walk that keeps RocksDB 9.8 from spinning on a
damaged log record.

The expected values come from outside the code under test: a bitwise CRC-32C and a log
writer written here from the format's description, the RFC 3720 check value, and files
RocksDB itself wrote. Opening a damaged store runs in a child process with a time
limit, so a regression shows up as a failed test, not a hung suite.
"""
from __future__ import annotations

import glob
import os
import random
import shutil
import struct
import subprocess
import sys

import pytest

from mbi.store.logcheck import (
    ManifestError,
    check_log_bytes,
    check_manifest,
    check_wals,
    current_manifest,
    masked_crc,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def ref_crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def ref_mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def ref_record(rtype: int, payload: bytes) -> bytes:
    crc = ref_mask(ref_crc32c(bytes([rtype]) + payload))
    return struct.pack("<IHB", crc, len(payload), rtype) + payload


def ref_log(records: list[bytes]) -> tuple[bytes, list[int]]:
    """A log as RocksDB's writer lays it out; also the end offset of each logical record."""
    out = bytearray()
    ends = []
    for rec in records:
        left = rec
        begin = True
        while True:
            room = BLOCK - len(out) % BLOCK
            if room < 7:
                out += b"\0" * room
                room = BLOCK
            frag, left = left[:room - 7], left[room - 7:]
            end = not left
            rtype = FULL if begin and end else FIRST if begin else LAST if end else MIDDLE
            out += ref_record(rtype, frag)
            begin = False
            if end:
                break
        ends.append(len(out))
    return bytes(out), ends


def headers(data: bytes) -> list[int]:
    """Offsets of every physical record header in a well-formed log."""
    pos, found = 0, []
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:
            pos += room
            continue
        found.append(pos)
        pos += 7 + struct.unpack_from("<H", data, pos + 4)[0]
    return found


SIZES = [10, 1, 32761, 32762, 5, 70000, 200, 32768 * 3 + 11, 40, 7, 32000, 900]


@pytest.fixture(scope="module")
def log() -> tuple[bytes, list[int]]:
    rng = random.Random(13)
    return ref_log([rng.randbytes(n) for n in SIZES])


def test_crc_against_rfc3720_and_the_bitwise_reference() -> None:
    assert ref_crc32c(b"123456789") == 0xE3069283  # RFC 3720 B.4 check value
    assert masked_crc(b"") == 0xA282EAD8  # CRC 0, masked
    rng = random.Random(1)
    for n in (1, 7, 64, 1000):
        data = rng.randbytes(n)
        assert masked_crc(data) == ref_mask(ref_crc32c(data))


def test_reference_log_is_read_in_full(log: tuple[bytes, list[int]]) -> None:
    data, ends = log
    assert len(headers(data)) > len(SIZES)  # some records were fragmented
    assert check_log_bytes(data) == len(SIZES)
    assert check_log_bytes(data, strict=False) == len(SIZES)
    assert check_log_bytes(b"") == 0


def test_a_cut_anywhere_ends_the_log_without_error(log: tuple[bytes, list[int]]) -> None:
    data, ends = log
    cuts = sorted({1, 6, 7, 8, BLOCK - 1, BLOCK, BLOCK + 3, *ends, *(e - 1 for e in ends),
                   *random.Random(2).sample(range(len(data)), 40)})
    for cut in cuts:
        whole = sum(1 for e in ends if e <= cut)
        assert check_log_bytes(data[:cut]) == whole, cut
        assert check_log_bytes(data[:cut], strict=False) == whole, cut


def test_a_zero_filled_tail_is_the_end(log: tuple[bytes, list[int]]) -> None:
    data, ends = log
    assert check_log_bytes(data + b"\0" * 5000) == len(SIZES)
    cut = ends[3]
    assert check_log_bytes(data[:cut] + b"\0" * 100) == 4
    with pytest.raises(ManifestError, match="zero header followed by data"):
        check_log_bytes(data[:cut] + b"\0" * 100 + b"\1")


@pytest.mark.parametrize("rtype", [5, 6, 7, 8])
def test_recyclable_types_are_refused_in_both_modes(log: tuple[bytes, list[int]], rtype: int) -> None:
    data, _ = log
    for pos in headers(data)[::3]:
        bad = bytearray(data)
        bad[pos + 6] = rtype
        for strict in (True, False):
            with pytest.raises(ManifestError, match=f"record type {rtype} .*offset {pos}"):
                check_log_bytes(bytes(bad), strict=strict)


def before(data: bytes, ends: list[int], pos: int) -> int:
    return sum(1 for e in ends if e <= pos)


@pytest.mark.parametrize("rtype", [0, 9, 10, 200])
def test_unknown_types_are_refused_when_strict_and_end_the_log_otherwise(
        log: tuple[bytes, list[int]], rtype: int) -> None:
    data, ends = log
    for pos in headers(data)[1::4]:
        bad = bytearray(data)
        bad[pos + 6] = rtype
        with pytest.raises(ManifestError, match=f"record type {rtype} at offset {pos}"):
            check_log_bytes(bytes(bad))
        assert check_log_bytes(bytes(bad), strict=False) == before(data, ends, pos)


def test_checksum_mismatch(log: tuple[bytes, list[int]]) -> None:
    data, ends = log
    for pos in headers(data)[::2]:
        length = struct.unpack_from("<H", data, pos + 4)[0]
        for off in ([pos + 7, pos + 6 + length] if length else []) + [pos, pos + 3]:
            bad = bytearray(data)
            bad[off] ^= 0x40
            with pytest.raises(ManifestError, match=f"checksum mismatch .*offset {pos}"):
                check_log_bytes(bytes(bad))
            assert check_log_bytes(bytes(bad), strict=False) == before(data, ends, pos)


def test_a_length_past_the_block_is_refused(log: tuple[bytes, list[int]]) -> None:
    data, _ = log
    pos = headers(data)[0]
    bad = bytearray(data)
    struct.pack_into("<H", bad, pos + 4, BLOCK)
    with pytest.raises(ManifestError, match="crosses its block"):
        check_log_bytes(bytes(bad))


def test_fragments_out_of_order() -> None:
    full = ref_record(FULL, b"a" * 20)
    first, middle, last = (ref_record(t, b"b" * 30) for t in (FIRST, MIDDLE, LAST))
    assert check_log_bytes(full + first + middle + last + full) == 3
    cases = {
        "MIDDLE record at offset 27 without a FIRST": full + middle,
        "LAST record at offset 27 without a FIRST": full + last,
        "FULL record at offset 37 inside a fragmented record": first + full,
        "FIRST record at offset 74 inside a fragmented record": first + middle + first,
    }
    for reason, data in cases.items():
        with pytest.raises(ManifestError, match=reason):
            check_log_bytes(data)
        assert check_log_bytes(data, strict=False) == (1 if data.startswith(full) else 0)


def test_a_non_zero_block_trailer_is_refused() -> None:
    rec = ref_record(FULL, b"x" * (BLOCK - 7 - 3))  # leaves 3 bytes in the block
    good = rec + b"\0\0\0" + ref_record(FULL, b"y")
    assert check_log_bytes(good) == 2
    with pytest.raises(ManifestError, match=f"non-zero block trailer at offset {len(rec)}"):
        check_log_bytes(rec + b"\0\1\0" + ref_record(FULL, b"y"))
    assert check_log_bytes(rec + b"\0\1\0" + ref_record(FULL, b"y"), strict=False) == 1


def test_current_must_name_a_manifest(tmp_path) -> None:
    for content in (b"", b"MANIFEST-000005", b"../MANIFEST-1\n", b"garbage\n"):
        (tmp_path / "CURRENT").write_bytes(content)
        with pytest.raises(ManifestError, match="CURRENT does not name a manifest"):
            current_manifest(str(tmp_path))
    (tmp_path / "CURRENT").write_bytes(b"MANIFEST-000005\n")
    assert current_manifest(str(tmp_path)) == str(tmp_path / "MANIFEST-000005")
    with pytest.raises(ManifestError, match="cannot read MANIFEST-000005"):
        check_manifest(str(tmp_path))


# ---------------------------------------------------------------- stores RocksDB wrote

# Commits COMMITS blocks and exits without closing, so the WAL still holds them all.
_WRITE = """
import os, sys
sys.path.insert(0, {here!r})
from test_store import CHAIN, block
from mbi.store import Store
s = Store.open({path!r}, CHAIN, create=True)
for h in range(1, {n} + 1):
    s.commit_block(block(h, 300))
os._exit(0)
"""

# Opens the store; prints the tip, or the error's class.
_OPEN = """
import sys
sys.path.insert(0, {here!r})
from test_store import CHAIN
from mbi.store import Store
try:
    with Store.open({path!r}, CHAIN) as s:
        print("opened", s.last_seq())
except Exception as e:
    print(type(e).__name__, e)
"""

COMMITS = 40


def child(code: str, **kw: object) -> str:
    try:
        r = subprocess.run([sys.executable, "-c", code.format(here=HERE, **kw)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the child hung (RocksDB spinning on a damaged log record?)")
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip()


@pytest.fixture(scope="module")
def crashed_store(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("wal") / "db")
    child(_WRITE, path=path, n=COMMITS)
    return path


def copy_of(src: str, dst: str) -> str:
    shutil.copytree(src, dst)
    return dst


def only_wal(path: str) -> str:
    wals = [w for w in glob.glob(os.path.join(path, "*.log")) if os.path.getsize(w)]
    assert len(wals) == 1
    return wals[0]


def test_files_rocksdb_wrote_pass(crashed_store: str, tmp_path) -> None:
    assert check_manifest(crashed_store) > 0
    assert check_wals(crashed_store) == COMMITS  # one write batch a commit
    data = open(only_wal(crashed_store), "rb").read()
    assert len(data) > 2 * BLOCK  # the batches span blocks: fragments were checked
    # Opened in a copy: recovery flushes the WAL, and the other tests damage it.
    assert child(_OPEN, path=copy_of(crashed_store, str(tmp_path / "db"))) == f"opened {COMMITS}"


def _damage(path: str, name: str, offset: int, value: int) -> None:
    with open(os.path.join(path, name), "r+b") as fh:
        fh.seek(offset)
        fh.write(bytes([value]))


@pytest.mark.parametrize("rtype", [5, 6, 7, 8])
def test_store_with_a_recyclable_wal_record_is_refused(crashed_store: str, tmp_path, rtype: int) -> None:
    path = copy_of(crashed_store, str(tmp_path / "db"))
    wal = only_wal(path)
    pos = headers(open(wal, "rb").read())[len(headers(open(wal, "rb").read())) // 2]
    _damage(path, os.path.basename(wal), pos + 6, rtype)
    out = child(_OPEN, path=path)
    assert out.startswith("CorruptDatabaseError") and f"record type {rtype}" in out, out


def test_store_with_a_damaged_wal_record_recovers_the_commits_before_it(crashed_store: str, tmp_path) -> None:
    path = copy_of(crashed_store, str(tmp_path / "db"))
    wal = only_wal(path)
    data = open(wal, "rb").read()
    ends = []  # end of each logical record (commit) in the WAL
    for pos in headers(data):
        if data[pos + 6] in (FULL, LAST):
            ends.append(pos + 7 + struct.unpack_from("<H", data, pos + 4)[0])
    assert len(ends) == COMMITS
    k = 25  # damage inside commit k+1's record: point-in-time recovery keeps 1..k
    _damage(path, os.path.basename(wal), ends[k] - 3, data[ends[k] - 3] ^ 0xFF)
    assert check_wals(path) == k
    assert child(_OPEN, path=path) == f"opened {k}"


@pytest.mark.parametrize("rtype", [5, 6, 7, 8])
def test_store_with_a_recyclable_manifest_record_is_refused(crashed_store: str, tmp_path, rtype: int) -> None:
    path = copy_of(crashed_store, str(tmp_path / "db"))
    manifest = current_manifest(path)
    pos = headers(open(manifest, "rb").read())[3]
    _damage(path, os.path.basename(manifest), pos + 6, rtype)
    out = child(_OPEN, path=path)
    assert out.startswith("CorruptDatabaseError") and f"record type {rtype}" in out, out


# Random bytes at a third of the manifest, as test_store.py's corrupt-manifest case
# writes them, over many seeds in one child: before logcheck about one in twenty hung.
_RANDOM_MANIFEST = """
import os, random, shutil, sys
sys.path.insert(0, {here!r})
from test_store import CHAIN, block
from mbi.store import CorruptDatabaseError, Store
outcomes = {{}}
for seed in range({seeds}):
    path = os.path.join({base!r}, str(seed))
    with Store.open(path, CHAIN, create=True) as s:
        s.commit_block(block(1, 3))
    name = [f for f in os.listdir(path) if f.startswith("MANIFEST-")][0]
    with open(os.path.join(path, name), "r+b") as fh:
        size = fh.seek(0, 2)
        fh.seek(size // 3)
        fh.write(random.Random(seed).randbytes(64))
    try:
        Store.open(path, CHAIN).close()
        kind = "opened"
    except CorruptDatabaseError:
        kind = "corrupt"
    outcomes[kind] = outcomes.get(kind, 0) + 1
    shutil.rmtree(path)
print(sorted(outcomes.items()))
"""


def test_random_manifest_damage_is_refused_never_hangs(tmp_path) -> None:
    out = child(_RANDOM_MANIFEST, base=str(tmp_path), seeds=100)
    assert out == "[('corrupt', 100)]"
