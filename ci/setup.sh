#!/usr/bin/env bash
# Set up everything MBI Core needs from a fresh clone on a fresh Debian machine:
# system packages (as root), a virtualenv in .venv with the package built in place,
# and the npm packages the Zetrix compatibility tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v "$PY" >/dev/null 2>&1 || need_apt+=(python3 python3-dev python3-venv)
"$PY" -c 'import sysconfig,os,sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")) else 1)' 2>/dev/null || need_apt+=(python3-dev)
"$PY" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
libs=$(ldconfig -p 2>/dev/null || true)  # not piped into grep -q: under pipefail that can fail at random
grep -q 'libsodium\.so' <<<"$libs" || need_apt+=(libsodium23)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v strace >/dev/null 2>&1 || need_apt+=(strace)  # the store's fsync test traces syscalls
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)    # the node's separate-hosts drill makes network namespaces
# The ARMv8 SHA-256 path is cross-built and run under qemu on x86-64 hosts
# (tests/native/arm_crosscheck.sh), so CI checks that path too. Installed when we are
# root (CI); a developer without root is told the one test that will skip.
want_apt=()
if [ "$(uname -m)" = x86_64 ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || want_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
  command -v qemu-aarch64 >/dev/null 2>&1 || want_apt+=(qemu-user)
fi
if [ ${#want_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    need_apt+=("${want_apt[@]}")
  else
    echo "setup: note: without ${want_apt[*]} the ARM SHA-256 cross-check test skips" >&2
  fi
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need_apt[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# Editable install: builds every native kernel in place (core_ext/*.so).
.venv/bin/python -m pip install -q -e '.[test,bench,fuzz]'

if [ -f tests/js/package.json ]; then
  (cd tests/js && npm install --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok ($(.venv/bin/python -c 'import core_ext,json; print(json.dumps(core_ext.cpu_features()["kernels"]))'))"
