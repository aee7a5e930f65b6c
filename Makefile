# zentalk-ai: the two commands.
#   make run    install what is missing, build (Release), start the node
#   make test   install what is missing, build (normal + ASan/UBSan), run every test
# Other targets: build, asan, data, soak, tsan, fuzz, bench, lint, clean. See README.md.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
RUN_BUILD  ?= build-release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN     ?= 127.0.0.1:8080
CONFIG     ?= config
FUZZ_SECONDS ?= 300
CMAKE_FLAGS ?=
WERROR     := ON
HAVE_CLANG := $(shell command -v clang >/dev/null 2>&1 && echo yes)

.PHONY: all setup build release asan tsan data run test test-normal test-asan soak fuzz bench bench-features lint clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZT_WERROR=$(WERROR) $(CMAKE_FLAGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

release: setup
	@test -f $(RUN_BUILD)/CMakeCache.txt || cmake -S . -B $(RUN_BUILD) -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RUN_BUILD) -j $(JOBS) --target zentalk-node zentalk zt-assets

# The sanitizer build uses clang when present (it also builds the libFuzzer
# harnesses); otherwise gcc's ASan/UBSan with corpus replay only.
$(ASAN_BUILD)/CMakeCache.txt:
	$(if $(HAVE_CLANG),CC=clang) cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZT_SANITIZE=ON \
	  -DZT_WERROR=$(WERROR) $(if $(HAVE_CLANG),-DZT_FUZZ=ON) $(CMAKE_FLAGS)

asan: setup $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Data assets of the messaging features (lexicons, word lists, vectors,
# classifiers): downloaded once (pinned by sha256, cached in ~/.cache/zentalk),
# converted into data/assets/. See scripts/data.sh.
data: build
	@scripts/data.sh $(BUILD)

run: release
	@scripts/data.sh $(RUN_BUILD)
	@echo "starting zentalk-node (config: $(CONFIG)/, data: data/); Ctrl-C stops it"
	@exec $(RUN_BUILD)/src/node/zentalk-node --config $(CONFIG) --listen $(LISTEN)

test-normal: build data
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE fuzz

test-asan: asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# Normal build first (fast feedback), then every test under ASan+UBSan; the
# last lines are ctest's summary of the sanitizer run.
test: test-normal test-asan

# The long forms of the attack tests (tests/attack/node, issue 17) on both
# builds, bounded in time, loopback only; a summary table at the end.
soak: build asan
	@bash scripts/soak.sh $(BUILD) $(ASAN_BUILD)

# ThreadSanitizer (clang): the thread-heavy tests (runner, infer, HTTP
# streaming, WebSocket, relay, the job pool, the outbound client, the
# scheduler) with no report. Not part of make test (slow on small
# machines). Reports: $(TSAN_BUILD)/tsan-reports/; suppressions (third-party
# libraries only): tests/tsan.supp.
# test_ws_api is a Python script (tests/integration/test_ws.py): nothing to build
TSAN_SCRIPT_TESTS := test_ws_api
TSAN_TESTS ?= test_runner test_infer test_llm_api test_ws test_ws_api test_relay_api test_attack_relay_paths \
              test_jobs test_sealed_jobs test_http_client test_sched test_attack_http_alloc test_dht \
              test_fair test_attack_fairness test_attack_consistency
empty :=
space := $(empty) $(empty)
$(TSAN_BUILD)/CMakeCache.txt:
	@test -n "$(HAVE_CLANG)" || { echo "make tsan needs clang (scripts/setup.sh installs it)"; exit 1; }
	CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZT_TSAN=ON -DZT_WERROR=$(WERROR) $(CMAKE_FLAGS)

tsan: setup $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target zentalk-node zentalk $(filter-out $(TSAN_SCRIPT_TESTS),$(TSAN_TESTS))
	rm -rf $(TSAN_BUILD)/tsan-reports && mkdir -p $(TSAN_BUILD)/tsan-reports
	cd $(TSAN_BUILD) && ctest --output-on-failure -j $(JOBS) -R '^($(subst $(space),|,$(strip $(TSAN_TESTS))))$$'
	@if ls $(TSAN_BUILD)/tsan-reports/* >/dev/null 2>&1; then \
	  echo "ThreadSanitizer reports:"; head -60 $(TSAN_BUILD)/tsan-reports/*; exit 1; \
	else echo "make tsan: no ThreadSanitizer report"; fi

fuzz: asan
	@test -n "$(HAVE_CLANG)" || { echo "make fuzz needs clang (scripts/setup.sh installs it)"; exit 1; }
	@for f in $(ASAN_BUILD)/fuzz/fuzz_*; do \
	  n=$$(basename $$f | sed 's/^fuzz_//'); \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  sh fuzz/smoke.sh $$PWD/$$f $$PWD/fuzz/corpus/$$n $(FUZZ_SECONDS) || exit 1; \
	done

bench: release
	@sh bench/run.sh $(RUN_BUILD)

# The messaging features: messages/s per feature on one core, search latency
# over SEARCH_N indexed messages (SEARCH_N=1000000 for the full figure).
SEARCH_N ?= 100000
bench-features: build data
	@sh bench/features.sh $(BUILD) $(SEARCH_N)

lint:
	@sh scripts/lint.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(RUN_BUILD)
