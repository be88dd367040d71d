# SPDX-License-Identifier: Apache-2.0
# The README's two commands: `make demo` (the main job) and `make test` (the whole suite).
# Both install missing Debian packages first (deploy/install-deps.sh, idempotent), then
# configure and build with CMake + Ninja (ccache when present).

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
DEMO_OUT ?= out/demo
# make fuzz: the libFuzzer targets (tests/fuzz/README.md), clang-14, in a build folder of their own
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps configure build test test-sanitize test-tsan demo fuzz clean

all: build

deps:
	bash deploy/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test except those that need a GPU (label gpu: they run on a GPU machine, see
# tests/bench/gpu/README.md). A test that is skipped or not run fails the suite
# (tests/check_no_skips.py names it): a skipped test proves nothing.
JUNIT = $(abspath $(BUILD_DIR))/ctest-junit.xml
test: build
	rm -f $(JUNIT)
	cd $(BUILD_DIR) && status=0; ctest --output-on-failure -j $(JOBS) -LE gpu --output-junit $(JUNIT) || status=$$?; \
	  /usr/bin/python3 $(CURDIR)/tests/check_no_skips.py $(JUNIT) || status=1; exit $$status

# $(call sanitized_tests,FOLDER,SANITIZERS,LABEL): the tests labelled LABEL, built in FOLDER with
# -DINTERNVL_SANITIZE=SANITIZERS and run there. Any report fails its test (UBSan aborts; ASan and
# TSan end the process with a failing status).
comma := ,
define sanitized_tests
	cmake -S . -B $(1) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINTERNVL_SANITIZE=$(2) $(CMAKE_ARGS)
	cmake --build $(1) -j $(JOBS) --target $(3)_tests
	rm -f $(abspath $(1))/ctest-junit.xml
	cd $(1) && status=0; UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) \
	  -L $(3) --output-junit $(abspath $(1))/ctest-junit.xml || status=$$?; \
	  /usr/bin/python3 $(CURDIR)/tests/check_no_skips.py $(abspath $(1))/ctest-junit.xml || status=1; \
	  exit $$status
endef

# ASan + UBSan, in a build folder of its own: the unit tests labelled `sanitize` (sinks, result
# scheduling, alerts, search query parsing, model/common's file parsers, the stop deadline) and
# the engine's, which run the tiny checkpoint through every model path. The other tests that link
# LibTorch (model_tests, the plugins) stay in `make test`: their cold build would pass CI's time.
SANITIZE_DIR ?= build-sanitize
test-sanitize: deps
	$(call sanitized_tests,$(SANITIZE_DIR),address$(comma)undefined,sanitize)

# ThreadSanitizer, by hand (README, "Sanitizers"): the tests labelled `tsan`, the engine (with the
# tiny checkpoint) and the result scheduling.
TSAN_DIR ?= build-tsan
test-tsan: deps
	$(call sanitized_tests,$(TSAN_DIR),thread,tsan)

# Only what the demo runs (the plugin, the scene generator, the CLI), not the tests: minutes.
demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target gstinternvl internvl-scenes internvl
	bash deploy/demo.sh $(BUILD_DIR) $(DEMO_OUT)

# Each fuzz target over its seed corpus (tests/fuzz/corpus/), then FUZZ_SECONDS of fuzzing each
# (0: the corpus only), one target after another; FUZZ_TARGETS picks some (default: all).
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DINTERNVL_FUZZ=ON -DINTERNVL_WITH_CUDA=OFF
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers
	bash tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR)
