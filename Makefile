# Makefile — thin wrapper around CMake. `make run` and `make test` are the two
# commands of the README; both install what is missing first.
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
BUILD  ?= build
ASAN   ?= build-asan
FUZZ   ?= build-fuzz
LISTEN ?= 127.0.0.1:8787
DATA   ?= ./data
FUZZ_SECONDS ?= 10

.PHONY: all build deps run test test-unit test-asan fuzz fuzz-short bench clean

all: build

deps:
	@scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	mkdir -p $(DATA)
	exec $(BUILD)/durod --listen $(LISTEN) --data $(DATA)

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

bench: build
	scripts/install-deps.sh bench
	bench/run.sh
	bench/redis.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
