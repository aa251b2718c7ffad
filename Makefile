# Thin wrapper over CMake/CTest. The two commands a user needs:
#   make demo   # installs Debian packages if missing, builds, runs the challenge on built-in data
#   make test   # installs, builds, runs every test through ctest
BUILD   ?= build
JOBS    ?= 2
CMAKE_FLAGS ?=
DEMO_OUT ?= demo-out

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build python install-python test demo bench docs asan fuzz clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The Python package alone (build/python/reconbench; also part of `build`), and its install
# into Debian's /usr/local site directory (docs/python.md).
python: configure
	@cmake --build $(BUILD) -j $(JOBS) --target python

install-python: python
	cmake --install $(BUILD) --component python

test: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 1500

# The demo builds only what it runs: the executable and its LibTorch module (no tests,
# benchmarks or Python package; `make test` builds those).
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target reconbench
	$(BUILD)/reconbench demo --out $(DEMO_OUT)

bench: build
	bash bench/run.sh $(BUILD)

docs: build
	$(BUILD)/reconbench help --markdown > docs/commands.md

# Sanitizer build of the unit tests (ASan + UBSan).
asan:
	@scripts/install-deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECONBENCH_SANITIZE=ON -DRECONBENCH_BENCH=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest -j $(JOBS) --output-on-failure -L unit

# libFuzzer targets (fuzz/, clang-16 from Debian): build, then run each for FUZZ_SECONDS and
# print executions and coverage per target; the corpus grows in $(FUZZ_BUILD)/fuzz-corpus.
fuzz: deps
	@CC=clang-16 CXX=clang++-16 cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_FLAGS_RELEASE=-O1 -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DRECONBENCH_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)
