#!/usr/bin/env bash
# Cross-compile the SHA-256 / Merkle C sources for AArch64 (with the crypto extension
# object built as setup.py builds it) and run the self-test under qemu: the arm_sha2 path
# must match the portable path. Needs aarch64-linux-gnu-gcc and qemu-aarch64
# (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=core_ext/src
I=core_ext/include
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CC=aarch64-linux-gnu-gcc
for f in sha256 merkle cpu sha256_avx512 sha256_avx2; do
  $CC -O2 -Wall -Wno-unused-function -I$I -c $S/$f.c -o "$OUT/$f.o"
done
for f in client pool; do
  $CC -O2 -Wall -I$I -c $S/pool/$f.c -o "$OUT/pool_$f.o"
done
$CC -O2 -Wall -I$I -march=armv8-a+crypto -c $S/sha256_shani.c -o "$OUT/sha256_shani.o"
$CC -O2 -I$I tests/native/sha256_selftest.c "$OUT"/*.o -o "$OUT/selftest" -static -lpthread
# The backend overrides (MBI_FORCE_PORTABLE, MBI_CPU_DISABLE) are meant for the host's
# kernels: passed through, they would make the self-test run the portable path against
# itself and never check arm_sha2.
env -u MBI_FORCE_PORTABLE -u MBI_CPU_DISABLE qemu-aarch64 -cpu max "$OUT/selftest"
