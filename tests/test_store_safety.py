"""The consensus safety record file: durable, torn-write tolerant, refuses oversize."""
from __future__ import annotations

import os

import pytest

from mbi.store import safety as S


def test_round_trip_and_reopen(tmp_path):
    p = str(tmp_path / "safety.bin")
    f = S.SafetyFile(p)
    assert f.load() is None
    f.save(b"first")
    f.save(b"second")
    assert f.load() == b"second"
    f.close()
    assert S.SafetyFile(p).load() == b"second"


def test_a_torn_write_leaves_the_previous_record(tmp_path):
    p = str(tmp_path / "safety.bin")
    f = S.SafetyFile(p)
    f.save(b"A" * 100)  # seq 1 -> slot 1
    f.save(b"B" * 100)  # seq 2 -> slot 0
    f.close()
    with open(p, "r+b") as fh:  # a crash tore the write of seq 2: garbage in its data
        fh.seek(S._HEAD.size + 10)
        fh.write(b"\xff" * 20)
    assert S.SafetyFile(p).load() == b"A" * 100
    with open(p, "r+b") as fh:  # both slots damaged: nothing trustworthy is left
        fh.seek(S.SLOT + 3)
        fh.write(b"\x00")
    assert S.SafetyFile(p).load() is None


def test_every_save_is_fdatasynced_before_it_returns(tmp_path, monkeypatch):
    f = S.SafetyFile(str(tmp_path / "safety.bin"))
    calls = []
    real = os.fdatasync
    monkeypatch.setattr(S.os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    f.save(b"x")
    assert calls == [f._fd]
    f.save(b"y")
    assert len(calls) == 2


def test_an_oversized_record_is_refused_and_the_old_one_stays(tmp_path):
    f = S.SafetyFile(str(tmp_path / "safety.bin"))
    f.save(b"ok")
    with pytest.raises(S.SafetyFileError):
        f.save(b"z" * (S.MAX_DATA + 1))
    assert f.load() == b"ok"
    f.close()
    assert S.SafetyFile(str(tmp_path / "safety.bin")).load() == b"ok"
