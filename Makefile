# MBI Core developer entry points. `make test` and `make bench` work from a fresh clone.
PY := .venv/bin/python

.PHONY: setup build test test-fast test-sanitize fuzz bench clean proto soak devnet

setup:
	bash ci/setup.sh

# Rebuild the native kernels in place after editing core_ext (MBI_EXT=name for one).
build:
	$(PY) setup.py -q build_ext --inplace

test:
	bash ci/test.sh

# 4 validators on loopback with live status (Ctrl-C stops them); DIR/devnet.json names each
# node's url, p2p address, pid and home. DEVNET_ARGS adds flags, e.g. "--load 200".
DEVNET_HOME ?= .devnet
devnet: setup
	$(PY) -m mbi devnet --validators 4 --home $(DEVNET_HOME) $(DEVNET_ARGS)

# The suite without the slow crash/sweep tests, for the edit-test loop.
test-fast: build
	$(PY) -m pytest -q -m "not slow" tests

# The native kernels' tests against an ASan + UBSan build of core_ext (out of tree, in
# build/sanitize), on the default and the portable backends.
test-sanitize:
	bash ci/sanitize.sh

# The atheris fuzzers of fuzz/, without a time limit (Ctrl-C stops them).
fuzz:
	bash ci/fuzz.sh

bench:
	bash ci/bench.sh

# The simulator's mixed-fault sweep over many more seeds than CI runs (SOAK_FROM, SOAK_SEEDS);
# exits non-zero on any violation other than the diagnosed, reported ones (tests/sim_sweep.py).
SOAK_FROM ?= 1000
SOAK_SEEDS ?= 20000
soak:
	$(PY) tests/sim_sweep.py $(SOAK_FROM) $(SOAK_SEEDS)

# Regenerate mbi/types/*_pb2.py(i) from proto/ with the pinned protoc (grpcio-tools 1.85.1 =
# libprotoc 35.1); the generated code is committed, so only schema edits need this.
PROTOC_PIN := 1.85.1
proto:
	@$(PY) -c "import importlib.metadata as m, sys; v = m.version('grpcio-tools'); sys.exit(0 if v == '$(PROTOC_PIN)' else 'grpcio-tools ' + v + ' installed; the schema is generated with $(PROTOC_PIN): pip install grpcio-tools==$(PROTOC_PIN)')"
	$(PY) -m grpc_tools.protoc -Iproto --python_out=mbi/types --pyi_out=mbi/types proto/zetrix_protocol.proto proto/mbi_types.proto
	$(PY) -m grpc_tools.protoc -Iproto --python_out=mbi/consensus --pyi_out=mbi/consensus proto/mbi_consensus.proto

clean:
	rm -rf build core_ext/*.so core_ext/*.c core_ext/*.cpp .pytest_cache
