# Agora: two commands for a new user: `make run` and `make test`.
# Both install the system packages first when something is missing (apt-get; sudo when not root).

SWIFT        ?= swift
# Machine-specific tuning for benchmarks only (library products carry no unsafe flags).
NATIVE_FLAGS := -Xcc -march=native -Xswiftc -target-cpu -Xswiftc native
NATIVE_BUILD := .build-native
SUDO         := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := libopenblas-dev pkg-config zlib1g-dev

.PHONY: setup build test run bench bench-quick bench-peers bench-smoke clean help

help:
	@echo "make run    build (if needed) and run the current showcase experiment"
	@echo "make test   run the test suite"
	@echo "make bench  run the benchmark harness (native code generation); BENCH_ARGS=\"--baseline F\" or \"--save-baseline F\""
	@echo "make bench-quick  the same in under two minutes (smaller sizes); make bench-smoke: seconds, for CI"
	@echo "make setup  install system packages (apt-get)"

# Idempotent: installs only when a package is missing.
setup:
	@if pkg-config --exists openblas 2>/dev/null && [ -f /usr/include/zlib.h ]; then :; else \
	  echo "Installing system packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: setup
	$(SWIFT) build -c release

test: setup
	$(SWIFT) test --disable-swift-testing

run: build
	@mkdir -p out
	./.build/release/agora dsgd --agents 16 --topology exponential --inflate 3:3 --noise 7:1 --iterations 1000 --out out/dsgd
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

# Python peers (numpy, scipy): the system python3 when it has them, else a virtual environment
# .venv-bench created here (pip install); without either the peers are skipped, never the benchmark.
PEER_PYTHON = $$(if python3 -c "import numpy, scipy" 2>/dev/null; then echo python3; else echo .venv-bench/bin/python; fi)

bench-peers:
	@if python3 -c "import numpy, scipy" 2>/dev/null; then :; \
	elif [ -x .venv-bench/bin/python ] && .venv-bench/bin/python -c "import numpy, scipy" 2>/dev/null; then :; \
	else echo "Installing numpy and scipy for the benchmark peers into .venv-bench"; \
	  { python3 -m venv .venv-bench 2>/dev/null || { $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv .venv-bench; }; } && \
	  .venv-bench/bin/pip install -q numpy scipy || echo "(numpy/scipy unavailable: the peers will be skipped)"; \
	fi

bench: setup bench-peers
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBench
	AGORA_PYTHON=$(PEER_PYTHON) ./$(NATIVE_BUILD)/release/AgoraBench $(BENCH_ARGS)

bench-quick: setup bench-peers
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBench
	AGORA_PYTHON=$(PEER_PYTHON) ./$(NATIVE_BUILD)/release/AgoraBench --quick $(BENCH_ARGS)

# Proves the harness end to end in seconds (portable build, quick sweep, no peers, no timing gates): run by CI.
bench-smoke: setup
	$(SWIFT) build -c release --product AgoraBench
	AGORA_PYTHON=false ./.build/release/AgoraBench --quick --only sweep --out /tmp/agora-bench-smoke
	@test -s /tmp/agora-bench-smoke/agora-bench.json && test -s /tmp/agora-bench-smoke/plots/sweep-gbs-vs-dimension.svg

clean:
	rm -rf .build $(NATIVE_BUILD)
