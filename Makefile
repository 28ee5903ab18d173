# Makefile - builds libloyal (shared and static), its examples and tests; installs it.
# Plain GNU make. `make` builds, `make test` runs every test, `make demo` runs the CLI.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

HEADER := include/loyal/common.h
version_part = $(shell sed -n 's/^\#define LOYAL_VERSION_$(1) \([0-9]*\)$$/\1/p' $(HEADER))
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=

comma := ,

# V=1 shows each command.
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

# SANITIZE=address,undefined builds everything with those sanitizers, in build/san.
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD := build
OPTIMIZE := -O2
else
BUILD := build/san
OPTIMIZE := -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARNINGS := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wformat=2 -Wvla -Wundef -Wcast-align \
	-Wpointer-arith -Wwrite-strings -Wnull-dereference
HARDENING := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIC
CFLAGS ?= -g
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(OPTIMIZE) $(WARNINGS) $(HARDENING) \
	-Iinclude $(CFLAGS)
# libpq's headers live in a folder of their own (expanded when a recipe runs, after `deps`).
PQ_CFLAGS = $(shell pkg-config --cflags libpq)
LIB_CFLAGS = $(ALL_CFLAGS) -Ilib -DLOYAL_BUILDING -fvisibility=hidden $(PQ_CFLAGS)
LINK_FLAGS = $(OPTIMIZE) -Wl,-z,relro,-z,now -Wl,--as-needed $(LDFLAGS)
# Expanded when a recipe runs, after `deps` has installed pkg-config and the libraries.
DEP_LIBS = $(shell pkg-config --libs sqlite3 libxxhash jansson libpq) -lm

# Debian packages the build needs, and those only the tests need.
BUILD_PACKAGES := pkg-config libsqlite3-dev libxxhash-dev libjansson-dev libpq-dev
TEST_PACKAGES := libcmocka-dev valgrind postgresql chromium

# The library's layers are the folders of lib/ (see tests/check_layers.sh): util, criteria,
# store (and store/sqlite), engine, api.
LIB_SOURCES := $(wildcard lib/*/*.c lib/*/*/*.c)
LIB_HEADERS := $(wildcard lib/*/*.h lib/*/*/*.h)
LIB_OBJECTS := $(LIB_SOURCES:lib/%.c=$(BUILD)/obj/%.o)
SONAME := libloyal.so.$(VERSION_MAJOR)
SHARED := $(BUILD)/libloyal.so.$(VERSION)
STATIC := $(BUILD)/libloyal.a
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c tests/*/test_*.c))
TEST_SUPPORT := tests/support.c
CLI := $(BUILD)/loyal
EXAMPLES := $(BUILD)/examples/embed

.PHONY: all deps test-deps check-deps check-test-deps check check-c check-postgres check-bindings-postgres check-headers check-abi check-examples check-python check-wheel \
	check-cli check-go check-go-outside test valgrind sim sim-postgres check-sim-postgres sim-plants bit-rot \
	demo bench bench-counts fuzz fuzz-deps fuzz-run fuzz-long install \
	uninstall clean

all: $(SHARED) $(STATIC) $(BUILD)/loyal.pc $(BUILD)/uninstalled/loyal.pc $(CLI) $(EXAMPLES)

# Installs the Debian packages that are missing (as root, or through sudo).
define install_packages
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing Debian packages:" $$missing; \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "deps: cannot install $$missing: run 'apt-get install $$missing' as root" >&2; \
			exit 1; fi; \
		{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
		{ echo "deps: apt-get could not install $$missing" >&2; exit 1; }; \
	fi
endef

# `make deps` and `make test-deps` install what is missing; `make test` and `make demo` (the
# two commands of README.md) run them. Every other target only checks, and says what to run.
deps:
	$(call install_packages,$(BUILD_PACKAGES))

test-deps: deps
	$(call install_packages,$(TEST_PACKAGES))

BUILD_MODULES := sqlite3 libxxhash jansson libpq
check-deps:
	@command -v pkg-config >/dev/null || { echo "build: pkg-config is missing: run 'make deps'" \
		"(or apt-get install $(BUILD_PACKAGES))" >&2; exit 1; }
	@pkg-config --exists $(BUILD_MODULES) || { pkg-config --print-errors --exists \
		$(BUILD_MODULES); echo "build: run 'make deps' (or apt-get install $(BUILD_PACKAGES))" >&2; \
		exit 1; }

check-test-deps: check-deps
	@pkg-config --exists cmocka && command -v valgrind >/dev/null || { echo "tests: cmocka or" \
		"valgrind is missing: run 'make test-deps' (or apt-get install $(TEST_PACKAGES))" >&2; \
		exit 1; }

$(BUILD)/obj/%.o: lib/%.c $(LIB_HEADERS) $(wildcard include/*.h include/loyal/*.h) | check-deps
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(LIB_CFLAGS) -c $< -o $@

$(SHARED): $(LIB_OBJECTS) lib/libloyal.map
	@echo "  LINK    $@"
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libloyal.map \
		$(LINK_FLAGS) -o $@ $(LIB_OBJECTS) $(DEP_LIBS)
	$(Q)ln -sf $(@F) $(BUILD)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(BUILD)/libloyal.so

$(STATIC): $(LIB_OBJECTS)
	@echo "  AR      $@"
	$(Q)rm -f $@
	$(Q)$(AR) rcsP $@ $^

# The pkg-config files: loyal.pc links the shared library, loyal-static.pc the static one
# (its dependencies then public). pc_file(prefix, libdir, includedir, extra sed) writes
# loyal.pc.in with those paths to stdout; static_pc turns it into loyal-static.pc.
pc_file = sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' \
	-e 's|@VERSION@|$(VERSION)|' $(4) loyal.pc.in
static_pc = sed -e 's|^Name: loyal|Name: loyal-static|' -e 's|^Requires.private:|Requires:|' \
	-e 's|^Libs: .*|Libs: $${libdir}/libloyal.a -lm|' -e '/^Libs.private:/d'
$(BUILD)/loyal.pc: loyal.pc.in $(HEADER)
	@mkdir -p $(@D)
	$(Q)$(call pc_file,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) > $@
# For the bindings and tests: pointing into this build tree, no `make install` needed.
$(BUILD)/uninstalled/loyal.pc: loyal.pc.in $(HEADER)
	@mkdir -p $(@D)
	$(Q)$(call pc_file,$(CURDIR),$(CURDIR)/$(BUILD),$(CURDIR)/include,\
		-e 's|^Libs: -L$${libdir}|Libs: -L$${libdir} -Wl$(comma)-rpath$(comma)$${libdir}|') > $@
	$(Q)$(call pc_file,$(CURDIR),$(CURDIR)/$(BUILD),$(CURDIR)/include) | $(static_pc) \
		> $(@D)/loyal-static.pc

# Programs link the static library: they run from the build tree without an install.
CLI_SOURCES := $(wildcard cli/*.c)
$(CLI): $(CLI_SOURCES) cli/cli.h $(STATIC)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LINK_FLAGS) -o $@ $(CLI_SOURCES) $(STATIC) $(DEP_LIBS)

$(BUILD)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LINK_FLAGS) -o $@ $< $(STATIC) $(DEP_LIBS)

$(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT) tests/support.h $(STATIC) | check-test-deps
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Ilib -Itests $(PQ_CFLAGS) $(LINK_FLAGS) -o $@ $< \
		$(TEST_SUPPORT) $(TEST_SOURCES) \
		$(STATIC) $(DEP_LIBS) $$(pkg-config --libs cmocka) -lpthread $(TEST_LDFLAGS)

# The fault injection test fails the library's own allocations by wrapping them at link time;
# it and the streaming test count the library's live allocations the same way.
COUNT_ALLOCATIONS := \
	-Wl,--wrap=ly_mem_alloc,--wrap=ly_mem_calloc,--wrap=ly_mem_realloc,--wrap=ly_mem_strdup \
	-Wl,--wrap=ly_mem_free
# The allocation faults of tests/faults.c (the fault injection test's and the simulator's)
# wrap the program's allocations, and jansson's parser and serializer, at link time.
FAULT_LDFLAGS := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=json_loads,--wrap=json_loadb \
	-Wl,--wrap=json_dumps
$(BUILD)/tests/test_faults: TEST_LDFLAGS := $(COUNT_ALLOCATIONS) $(FAULT_LDFLAGS)
$(BUILD)/tests/test_segments: TEST_LDFLAGS := $(COUNT_ALLOCATIONS)
$(BUILD)/tests/test_faults: TEST_SOURCES := tests/alloc_count.c tests/faults.c
$(BUILD)/tests/test_segments: TEST_SOURCES := tests/alloc_count.c
$(BUILD)/tests/test_faults: tests/alloc_count.c tests/faults.c tests/faults.h
$(BUILD)/tests/test_segments: tests/alloc_count.c
# The power-loss test runs on the simulator's disk.
$(BUILD)/tests/sqlite/test_power_loss: TEST_SOURCES := tests/sim/disk.c
$(BUILD)/tests/sqlite/test_power_loss: tests/sim/disk.c tests/sim/disk.h

export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

# The deterministic simulator (tests/sim/sim.c): `make sim SEED=n STEPS=n` runs a long one.
SIM := $(BUILD)/loyal-sim
SIM_STEPS ?= 4000
$(SIM): tests/sim/sim.c tests/sim/disk.c tests/sim/disk.h tests/faults.c tests/faults.h $(STATIC) \
	| check-test-deps
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests $(PQ_CFLAGS) $(LINK_FLAGS) -o $@ tests/sim/sim.c \
		tests/sim/disk.c tests/faults.c $(STATIC) $(DEP_LIBS) $(FAULT_LDFLAGS) -lpthread

SEED ?=
STEPS ?= 200000
sim: $(SIM)
	$(SIM) $(if $(SEED),--seed $(SEED)) --steps $(STEPS)

# The simulator on PostgreSQL, on a throwaway cluster (tests/pg/with_cluster.sh) whose server
# it crashes and starts again: `make sim-postgres SEED=n STEPS=n` (check-sim-postgres: a short
# one, in `make test`).
SIM_POSTGRES = tests/pg/with_cluster.sh sh -c '$(SIM) $(if $(SEED),--seed $(SEED)) --steps $(1) \
	--db "$$LOYAL_TEST_POSTGRES" --restart "tests/pg/cluster.sh crash $$LOYAL_TEST_POSTGRES_DIR"'
sim-postgres: $(SIM)
	@$(call SIM_POSTGRES,$(STEPS))
check-sim-postgres: $(SIM)
	@echo "== $(SIM) (PostgreSQL)"; $(call SIM_POSTGRES,$(SIM_STEPS))

# What flipped bits do to a file (tests/sim/bit_rot.c): `make bit-rot FILE=f FLIPS=n SEED=n`,
# on the demo's file by default (`make demo` makes it).
BIT_ROT := $(BUILD)/loyal-bit-rot
$(BIT_ROT): tests/sim/bit_rot.c $(STATIC) | check-deps
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LINK_FLAGS) -o $@ tests/sim/bit_rot.c $(STATIC) $(DEP_LIBS)
FLIPS ?= 500
bit-rot: $(BIT_ROT)
	$(BIT_ROT) $(or $(FILE),build/demo/loyal.db) $(FLIPS) $(SEED)

# The simulator finds each bug planted by a patch of tests/sim/plants/ (tests/sim/plants.sh).
sim-plants: | check-test-deps
	@tests/sim/plants.sh

# Runs every C test binary of this build (sanitized when SANITIZE is set), and a short simulation.
check-c: $(TESTS) $(SIM)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done
	@echo "== $(SIM)"; $(SIM) --steps $(SIM_STEPS)

# The same C tests on PostgreSQL: a throwaway cluster (tests/pg/cluster.sh) on a Unix socket in
# a temporary folder, each test in a database of its own; the tests of the SQLite file format,
# and the fault injection that copies files, stay with SQLite. Then the CLI's answers on
# PostgreSQL are compared with its answers on a file (tests/pg/cli.sh).
PG_SQLITE_ONLY := $(BUILD)/tests/sqlite/test_file $(BUILD)/tests/sqlite/test_power_loss \
	$(BUILD)/tests/test_faults
PG_TESTS := $(filter-out $(PG_SQLITE_ONLY),$(TESTS))
check-postgres: $(PG_TESTS) $(CLI)
	@tests/pg/with_cluster.sh tests/pg/suite.sh $(CLI) $(PG_TESTS)

# The Python and Go bindings on a cluster of their own (their PostgreSQL tests skip without one).
check-bindings-postgres: check-python
	@tests/pg/with_cluster.sh sh -c '$(VENV)/bin/pytest -q -p no:cacheprovider \
		bindings/python/tests/test_postgres.py && cd bindings/go && \
		$(UNINSTALLED) go test -count=1 -run Postgres ./...'

# Each public header compiles on its own, as C11 and as C++11, with strict warnings.
check-headers: | check-deps
	@mkdir -p $(BUILD)
	@set -e; for h in include/loyal.h include/loyal/*.h; do \
		printf '#include "%s"\nint main(void) { return 0; }\n' $${h#include/} > $(BUILD)/hdr.c; \
		$(CC) -std=c11 $(WARNINGS) -Iinclude -fsyntax-only $(BUILD)/hdr.c; \
		$(CXX) -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude \
			-fsyntax-only $(BUILD)/hdr.c; \
	done; rm -f $(BUILD)/hdr.c; echo "check-headers: every header compiles alone in C and C++"

# The exported symbols, the version script and the headers' declarations name the same set;
# every global symbol of the static library carries one of our prefixes; the layers of lib/
# include and call only down.
check-abi: $(SHARED) $(STATIC)
	@tests/check_abi.sh $(SHARED) lib/libloyal.map include
	@tests/check_symbols.sh $(STATIC)
	@tests/check_layers.sh $(BUILD)/obj

# The embedding example of README.md runs, twice: the retry changes nothing.
check-examples: $(EXAMPLES)
	@dir=$$(mktemp -d) && cd $$dir && set -e && \
	for run in 1 2; do $(CURDIR)/$(BUILD)/examples/embed | grep -qx 'alice has 100 points'; done && \
	cd / && rm -rf $$dir && echo "check-examples: examples/embed.c prints what README.md says"

# The Go binding links the library built here (found through build/uninstalled/loyal.pc); the
# Python package compiles the engine's sources into its extension, as `pip install` does for a
# user (its build folder removed first: a changed header alone would not rebuild it).
PYTHON ?= python3
VENV := build/venv
UNINSTALLED := PKG_CONFIG_PATH=$(CURDIR)/build/uninstalled

check-python: | check-deps
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(Q)$(VENV)/bin/pip install -q --disable-pip-version-check "setuptools>=77" wheel cffi pytest hypothesis jsonschema
	$(Q)rm -rf bindings/python/build
	$(Q)$(VENV)/bin/pip install -q --disable-pip-version-check \
		--no-build-isolation --force-reinstall --no-deps ./bindings/python
	$(Q)$(VENV)/bin/pytest -q -p no:cacheprovider bindings/python/tests

# The wheel a user installs: built from the sdist alone, self-contained, run in a fresh venv.
check-wheel: | check-deps
	@PYTHON=$(PYTHON) tests/python/wheel.sh

# The CLI, run as a user would (tests/test_cli.py), and the program document's reference and
# JSON Schema against the engine (tests/test_program_schema.py); `make test` runs the
# sanitized build.
CLI_UNDER_TEST ?= $(CLI)
check-cli: $(CLI_UNDER_TEST) check-python
	$(Q)LOYAL_CLI=$(CLI_UNDER_TEST) $(VENV)/bin/pytest -q -p no:cacheprovider tests/test_cli.py \
		tests/test_program_schema.py

check-go: $(SHARED) $(BUILD)/uninstalled/loyal.pc
	$(Q)cd bindings/go && $(UNINSTALLED) go vet ./... && $(UNINSTALLED) go test -race -count=1 ./...

# A Go module outside this tree, built against an installed libloyal, shared and static.
GO_OUTSIDE_PREFIX := $(CURDIR)/$(BUILD)/go-outside
check-go-outside: $(SHARED) $(STATIC) $(CLI)
	$(Q)rm -rf $(GO_OUTSIDE_PREFIX)
	$(Q)$(MAKE) --no-print-directory install PREFIX=$(GO_OUTSIDE_PREFIX) >/dev/null
	@tests/go/outside.sh $(GO_OUTSIDE_PREFIX)

check: check-c check-headers check-abi check-examples check-python check-wheel check-cli check-go \
	check-go-outside

test: test-deps
	@$(MAKE) --no-print-directory SANITIZE=address,undefined check-c check-postgres \
		check-sim-postgres
	@$(MAKE) --no-print-directory CLI_UNDER_TEST=build/san/loyal check-headers check-abi \
		check-examples check-python check-wheel check-cli check-go check-go-outside \
		check-bindings-postgres bench-counts sim-plants

# test_faults replaces the allocators valgrind watches; AddressSanitizer checks it in `make test`.
valgrind: $(TESTS) | check-test-deps
	@set -e; for t in $(filter-out %/test_faults,$(TESTS)); do echo "== valgrind $$t"; \
		LOYAL_RANDOM_OPS=3000 \
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
			--error-exitcode=99 $$t; done

# The benchmark (not part of `make test`): `make bench`, or `make bench BENCH_ARGS=--quick`.
BENCH_ARGS ?=
$(BUILD)/loyal-bench: tests/bench/bench.c $(STATIC)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Ilib $(PQ_CFLAGS) $(LINK_FLAGS) -o $@ $< \
		$(STATIC) $(DEP_LIBS) -lpthread

bench: $(BUILD)/loyal-bench
	$(BUILD)/loyal-bench $(BENCH_ARGS)

# WAL pages and instructions per tracked event on a fixed workload, against committed ceilings.
bench-counts: $(BUILD)/loyal-bench | check-test-deps
	@tests/bench/check_counts.sh $(BUILD)/loyal-bench tests/bench/ceilings

# A short real session of the CLI on its default file, build/demo/loyal.db: a community
# app's program, a year of generated events, then what an operator looks at.
demo: deps
	@$(MAKE) --no-print-directory $(CLI)
	@mkdir -p build/demo && rm -f build/demo/loyal.db* build/demo/events.ndjson build/demo/cafe-codes.txt
	@cd build/demo && set -e && loyal() { echo "\$$ loyal $$*"; ../loyal "$$@"; } && \
	$(PYTHON) ../../examples/generate_events.py 150 > events.ndjson && \
	loyal init && \
	loyal program apply ../../examples/lifecycle.json && \
	loyal import events.ndjson --max-rejects 2 && \
	loyal import events.ndjson --max-rejects 2 && \
	loyal track member-0001 purchase demo-order '{"amount": 129.90}' && \
	loyal spend member-0001 points 10 demo-coffee && \
	printf 'CAFE-0001\nCAFE-0002\nCAFE-0003\n' > cafe-codes.txt && \
	loyal coupon import partner-coffee cafe-codes.txt && \
	loyal redeem member-0001 coffee-voucher demo-voucher && \
	loyal coupon check member-0001 cafe-0001 && \
	loyal coupon use member-0001 CAFE-0001 demo-order-2 && \
	loyal earn member-0001 points 500 demo-bonus && \
	loyal redeem member-0001 hoodie demo-hoodie && \
	loyal redemption fulfil member-0001 2 demo-shipped && \
	loyal expire && \
	loyal tiers sweep && \
	loyal segments refresh | tail -3 && \
	loyal grant demo-win-back silent --coupon welcome-back && \
	loyal grant demo-win-back silent --coupon welcome-back && \
	loyal member show member-0001 && \
	loyal statement member-0001 --limit 5 && \
	loyal eval member-0001 'count(check_in) >= 1 and earned(xp, 365d) > 100' && \
	loyal report && \
	loyal verify

# Fuzzing: libFuzzer targets built with clang, ASan and UBSan, in build/fuzz. `make fuzz-run`
# runs each for FUZZ_SECONDS (`make fuzz-long`: to FUZZ_RUNS executions) on the corpus in
# tests/fuzz/corpus (new finds go to build/fuzz), with the dictionary
# tests/fuzz/dict/<target>.dict where there is one.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 20
FUZZ_FLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all $(WARNINGS) -Iinclude
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJECTS := $(LIB_SOURCES:lib/%.c=build/fuzz/obj/%.o)

fuzz-deps: deps
	$(call install_packages,$(FUZZ_PACKAGES))

build/fuzz/obj/%.o: lib/%.c $(LIB_HEADERS) $(wildcard include/*.h include/loyal/*.h) | fuzz-deps
	@mkdir -p $(@D)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Ilib -DLOYAL_BUILDING $(PQ_CFLAGS) -c $< -o $@

build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_support.h $(FUZZ_OBJECTS)
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Ilib $(PQ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJECTS) \
		$(DEP_LIBS)

# The CLI's target runs the CLI's own code: cli/*.c built for fuzzing, main renamed.
FUZZ_CLI_OBJECTS := $(CLI_SOURCES:cli/%.c=build/fuzz/cli/%.o)
build/fuzz/cli/%.o: cli/%.c cli/cli.h $(wildcard include/*.h include/loyal/*.h) | fuzz-deps
	@mkdir -p $(@D)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Dmain=loyal_cli_main -Wno-missing-prototypes -c $< -o $@

build/fuzz/fuzz_cli: tests/fuzz/fuzz_cli.c tests/fuzz/fuzz_support.h $(FUZZ_OBJECTS) \
		$(FUZZ_CLI_OBJECTS)
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CLI_OBJECTS) \
		$(FUZZ_OBJECTS) $(DEP_LIBS)

.PRECIOUS: build/fuzz/obj/%.o build/fuzz/cli/%.o
fuzz: $(FUZZ_TARGETS)

# Runs every target with the limit $(1) (-max_total_time=S or -runs=N).
define run_fuzzers
	@set -e; for t in $(FUZZ_TARGETS); do name=$$(basename $$t); \
		mkdir -p build/fuzz/found-$$name; echo "== $$name ($(1))"; \
		dict=tests/fuzz/dict/$$name.dict; [ -f $$dict ] && dict=-dict=$$dict || dict=; \
		ASAN_OPTIONS=detect_leaks=1 $$t $$dict $(1) -timeout=10 \
			-artifact_prefix=build/fuzz/$$name- \
			-print_final_stats=1 build/fuzz/found-$$name tests/fuzz/corpus/$$name \
			> build/fuzz/$$name.log 2>&1 || { tail -40 build/fuzz/$$name.log; exit 1; }; \
		grep -E '^Done|number_of_executed_units' build/fuzz/$$name.log; \
	done
endef

fuzz-run: fuzz
	$(call run_fuzzers,-max_total_time=$(FUZZ_SECONDS))

# Each target to FUZZ_RUNS executions (a long run, not CI's): `make fuzz-long FUZZ_RUNS=n`.
FUZZ_RUNS ?= 10000000
fuzz-long: fuzz
	$(call run_fuzzers,-runs=$(FUZZ_RUNS))

# The pkg-config files are written here, with the PREFIX (LIBDIR, INCLUDEDIR) given now.
install: $(SHARED) $(STATIC) $(CLI)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/loyal $(DESTDIR)$(BINDIR)
	install -m 644 include/loyal.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/loyal/*.h $(DESTDIR)$(INCLUDEDIR)/loyal/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHARED)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libloyal.so
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	$(call pc_file,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) > $(DESTDIR)$(LIBDIR)/pkgconfig/loyal.pc
	$(call pc_file,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) | $(static_pc) \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/loyal-static.pc
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/loyal

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/loyal.h $(DESTDIR)$(LIBDIR)/libloyal.* \
		$(DESTDIR)$(LIBDIR)/pkgconfig/loyal.pc $(DESTDIR)$(LIBDIR)/pkgconfig/loyal-static.pc \
		$(DESTDIR)$(BINDIR)/loyal
	rm -rf $(DESTDIR)$(INCLUDEDIR)/loyal

clean:
	rm -rf build
