"""The mbi command line, run as a real subprocess."""
import json
import os
import stat
import subprocess
import sys

from mbi.crypto import KeyPair, address_from_public_key


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mbi.cli", *args],
                          capture_output=True, text=True, timeout=60)


def test_version():
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("mbi-core ")


def test_cpu_reports_every_kernel():
    r = run("cpu")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert set(info["kernels"]) == {"hashing", "merkle", "sigverify", "mempool"}
    assert all(not v.startswith("unavailable") for v in info["kernels"].values()), info
    assert info["cores"] >= 1


def test_keys_new_writes_0600_file_and_refuses_overwrite(tmp_path):
    path = tmp_path / "validator.key"
    r = run("keys", "new", "--out", str(path))
    assert r.returncode == 0, r.stderr
    assert "private_key" not in r.stdout
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    kp = KeyPair.from_private_key(data["private_key"])
    assert kp.address == data["address"] and kp.encoded_public_key == data["public_key"]
    again = run("keys", "new", "--out", str(path))
    assert again.returncode == 1 and "exists" in again.stderr
    assert json.loads(path.read_text()) == data  # untouched


def test_keys_inspect_round_trip():
    kp = KeyPair.generate()
    for s, kind in ((kp.encoded_private_key, "private_key"),
                    (kp.encoded_public_key, "public_key"), (kp.address, "address")):
        r = run("keys", "inspect", s)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["kind"] == kind and out["address"] == kp.address
    assert address_from_public_key(kp.encoded_public_key) == kp.address


def test_keys_inspect_rejects_bad_checksum_with_zetrix_code():
    kp = KeyPair.generate()
    addr = kp.address
    bad = addr[:-1] + ("1" if addr[-1] != "1" else "2")
    r = run("keys", "inspect", bad)
    assert r.returncode == 2
    assert json.loads(r.stderr)["error_code"] == 94
    pub = kp.encoded_public_key
    r = run("keys", "inspect", pub[:-2] + ("00" if pub[-2:] != "00" else "01"))
    assert r.returncode == 2 and json.loads(r.stderr)["error_code"] == 90


def test_keys_new_force_never_writes_the_key_into_a_readable_file(tmp_path, monkeypatch):
    # --force over an existing 0644 file: the mode must be 0600 before the private key
    # is written, not fixed up afterwards.
    from mbi import cli

    path = tmp_path / "old.key"
    path.write_text("old")
    os.chmod(path, 0o644)
    modes = []
    real_dump = json.dump

    def spy(obj, f, **kw):
        modes.append(stat.S_IMODE(os.fstat(f.fileno()).st_mode))
        return real_dump(obj, f, **kw)

    monkeypatch.setattr(cli.json, "dump", spy)
    assert cli.main(["keys", "new", "--out", str(path), "--force"]) == 0
    assert modes == [0o600]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_keys_new_reports_an_unwritable_path(tmp_path):
    r = run("keys", "new", "--out", str(tmp_path / "missing-dir" / "k.key"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "missing-dir" in r.stderr
