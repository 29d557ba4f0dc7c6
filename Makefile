# MBI Core developer entry points. `make test` and `make bench` work from a fresh clone.
PY := .venv/bin/python

.PHONY: setup build test test-fast bench clean proto

setup:
	bash ci/setup.sh

# Rebuild the native kernels in place after editing core_ext (MBI_EXT=name for one).
build:
	$(PY) setup.py -q build_ext --inplace

test:
	bash ci/test.sh

# The suite without the slow crash/sweep tests, for the edit-test loop.
test-fast: build
	$(PY) -m pytest -q -m "not slow" tests

bench:
	bash ci/bench.sh

clean:
	rm -rf build core_ext/*.so core_ext/*.c core_ext/*.cpp .pytest_cache
