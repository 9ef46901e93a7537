# Makefile — thin wrapper around CMake. `make run` and `make test` are the two
# commands of the README; both install what is missing first.
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
BUILD  ?= build
ASAN   ?= build-asan
FUZZ   ?= build-fuzz
LISTEN ?= 127.0.0.1:8787
DATA   ?= ./data
RPC    ?= 7070
FUZZ_SECONDS ?= 10

.PHONY: all build deps run test test-unit test-asan fuzz fuzz-short bench clean crash

all: build

deps:
	@scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# run builds only durod and the duro CLI, quietly (the log is $(BUILD)/make-run.log;
# it is printed if the build fails), then serves: LISTEN=host:port DATA=dir RPC=port.
run: deps
	@mkdir -p $(BUILD)
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >$(BUILD)/make-run.log 2>&1 || \
		{ cat $(BUILD)/make-run.log; exit 1; }
	@echo "building durod and duro in $(BUILD)/ ..."
	@cmake --build $(BUILD) -j $(JOBS) --target durod duro_cli >>$(BUILD)/make-run.log 2>&1 || \
		{ tail -n 50 $(BUILD)/make-run.log; exit 1; }
	@mkdir -p $(DATA)
	@echo "durod: HTTP on http://$(LISTEN), binary protocol on port $(RPC), data in $(DATA) (Ctrl-C stops it)"
	@exec $(BUILD)/durod --listen $(LISTEN) --rpc-port $(RPC) --data $(DATA)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DDURO_SANITIZE=ON -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) -LE slow

fuzz-build:
	cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDURO_FUZZ=ON -DDURO_TESTS=OFF -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz_all

fuzz-short: fuzz-build
	scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ) 600

test: deps
	$(MAKE) test-unit
	$(MAKE) test-asan
	$(MAKE) fuzz-short

# crash: the power-loss test (tests/powerloss/) over many seeds; CRASH_SEEDS=N, PL_MODE=strict|ext4.
CRASH_SEEDS ?= 200
PL_MODE ?= ext4
crash: build
	DURO_BIN=$(BUILD)/durod DURO_PL_SHIM=$(BUILD)/tests/powerloss/libduro_plshim.so \
		DURO_PL_SEEDS=$(CRASH_SEEDS) DURO_PL_MODE=$(PL_MODE) DURO_PL_TIMEOUT=3000 \
		/usr/bin/python3 tests/powerloss/test_powerloss.py

bench: build
	scripts/install-deps.sh bench
	bench/run.sh
	bench/redis.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
