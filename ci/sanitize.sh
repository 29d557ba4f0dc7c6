#!/usr/bin/env bash
# `make test-sanitize`: build core_ext out of tree with AddressSanitizer and
# UndefinedBehaviorSanitizer and run the native kernels' test files under it, on the
# default backends and on the portable ones (MBI_FORCE_PORTABLE=1).
#
# -fno-wrapv comes after Python's own -fwrapv (sysconfig CFLAGS), which would otherwise
# define signed overflow and hide it from UBSan. The interpreter is not instrumented, so
# the ASan runtime is preloaded. Leak checking is off (the interpreter keeps memory
# until exit by design); any ASan or UBSan report aborts the run.
#
#   bash ci/sanitize.sh [pytest args...]     e.g. -x, or -k to narrow
#   MBI_SANITIZE_DIR=dir   build tree (default build/sanitize; rebuilt when sources change)
#   MBI_SANITIZE_BACKENDS="default portable"   which passes to run
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
OUT=${MBI_SANITIZE_DIR:-$ROOT/build/sanitize}
BACKENDS=${MBI_SANITIZE_BACKENDS:-default portable}
CC=${CC:-gcc}
export CC

# The native test files: everything that drives core_ext directly. The portable pass
# repeats only the kernels that have CPU-specific paths (the pool, the mempool, txscan and
# execpay have none, so a second pass over them would test the same code again).
TESTS=(tests/test_hashing.py tests/test_merkle.py tests/test_sigverify.py
       tests/test_sigverify_backends.py tests/test_sigverify_field.py tests/test_sigverify_zip215.py
       tests/test_sigverify_ref.py tests/test_sigverify_keycache.py tests/test_pool.py tests/test_mempool.py
       tests/test_mempool_model.py
       tests/test_txscan.py tests/test_execpay.py tests/test_ledger.py tests/test_ledger_model.py)
PORTABLE_TESTS=(tests/test_hashing.py tests/test_merkle.py tests/test_sigverify.py
                tests/test_sigverify_backends.py tests/test_sigverify_field.py
                tests/test_sigverify_zip215.py tests/test_sigverify_ref.py)
# Two workers where there are two CPUs (pytest-xdist, from the test extra).
XDIST=()
if [ "$(nproc)" -ge 2 ] && "$PY" -c 'import xdist' 2>/dev/null; then XDIST=(-n 2); fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fno-wrapv"
LIBASAN=$($CC -print-file-name=libasan.so)
[ -e "$LIBASAN" ] || { echo "sanitize: $CC has no libasan.so (Debian: apt-get install libasan8)" >&2; exit 1; }

# A copy of the sources and tests, so the instrumented .so files never replace the
# working tree's (and other processes using them are not disturbed).
mkdir -p "$OUT/src"
tar -C "$ROOT" --exclude='*.so' --exclude='__pycache__' --exclude='node_modules' \
  -cf - core_ext tests mbi setup.py pyproject.toml | tar -C "$OUT/src" -xf -
t0=$(date +%s)
(
  cd "$OUT/src"
  CFLAGS="$SAN -g" CXXFLAGS="$SAN -g" LDFLAGS="-fsanitize=address,undefined" MBI_EXTRA_CFLAGS="-O1" \
    "$PY" setup.py build_ext --inplace --build-temp "$OUT/tmp" >"$OUT/build.log" 2>&1 \
    || { tail -50 "$OUT/build.log"; exit 1; }
)
# Every compile must end with -fno-wrapv in force (the last of -fwrapv / -fno-wrapv wins).
compiles=$(grep -E ' -c ' "$OUT/build.log" || true)
if [ -z "$compiles" ] || [ "$(grep -Ecv -- '-fno-wrapv' <<<"$compiles")" != 0 ] ||
   [ "$(grep -Ec -- '-fno-wrapv.* -fwrapv' <<<"$compiles")" != 0 ]; then
  echo "sanitize: a compile ran without -fno-wrapv in force (see $OUT/build.log)" >&2; exit 1
fi
echo "sanitize: built in $(( $(date +%s) - t0 )) s ($OUT/src/core_ext)"
for so in "$OUT"/src/core_ext/*.so; do
  # Not `ldd | grep -q`: under pipefail, grep -q quitting early can SIGPIPE ldd and fail the check.
  deps=$(ldd "$so")
  grep -q libasan <<<"$deps" || { echo "sanitize: $so is not instrumented" >&2; exit 1; }
done

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc          # Python's objects through ASan's allocator too
export MBI_HYPOTHESIS_PROFILE=sanitize  # fewer examples: instrumented code is ~3x slower
unset CI

status=0
for be in $BACKENDS; do
  t0=$(date +%s)
  if [ "$be" = portable ]; then
    export MBI_FORCE_PORTABLE=1
    files=("${PORTABLE_TESTS[@]}")
  else
    unset MBI_FORCE_PORTABLE
    files=("${TESTS[@]}")
  fi
  echo "sanitize: backend=$be"
  (cd "$OUT/src" && LD_PRELOAD="$LIBASAN" "$PY" -m pytest -q -p no:cacheprovider -m "not slow" \
      -k "not arm_crosscheck" "${XDIST[@]}" "${files[@]}" "$@") || status=1
  echo "sanitize: backend=$be took $(( $(date +%s) - t0 )) s"
done
exit $status
