# Agora: two commands for a new user: `make run` and `make test`.
# Both install the system packages first when something is missing (apt-get; sudo when not root).

SWIFT        ?= swift
# Machine-specific tuning for benchmarks only (library products carry no unsafe flags).
NATIVE_FLAGS := -Xcc -march=native -Xswiftc -target-cpu -Xswiftc native
NATIVE_BUILD := .build-native
SUDO         := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := libopenblas-dev pkg-config zlib1g-dev

.PHONY: setup build test run bench bench-quick clean help

help:
	@echo "make run    build (if needed) and run the current showcase experiment"
	@echo "make test   run the test suite"
	@echo "make bench  run the benchmark harness (native code generation); BENCH_ARGS=\"--baseline F\" or \"--save-baseline F\""
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

bench: setup
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBench
	./$(NATIVE_BUILD)/release/AgoraBench $(BENCH_ARGS)

bench-quick: setup
	$(SWIFT) build -c release --scratch-path $(NATIVE_BUILD) $(NATIVE_FLAGS) --product AgoraBench
	./$(NATIVE_BUILD)/release/AgoraBench --quick $(BENCH_ARGS)

clean:
	rm -rf .build $(NATIVE_BUILD)
