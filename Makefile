# Thin wrapper over CMake/CTest. The two commands a user needs:
#   make demo   # installs Debian packages if missing, builds, runs the challenge on built-in data
#   make test   # installs, builds, runs every test through ctest
BUILD   ?= build
JOBS    ?= 2
CMAKE_FLAGS ?=
DEMO_OUT ?= demo-out

.PHONY: all deps configure build test demo bench docs asan clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 1500

demo: build
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

clean:
	rm -rf $(BUILD) build-asan
