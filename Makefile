# SPDX-License-Identifier: GPL-2.0-or-later
# colo-proxy - top-level Makefile: a thin wrapper around meson/ninja.
#
#   make            configure and build; as root, first install the missing
#                   build dependencies (scripts/install-deps.sh build);
#                   as non-root a missing one is named, with its apt line
#   make check      build and run every test suite (unit, qtest, e2e); as
#                   root, first install the missing test tools
#                   (scripts/install-deps.sh test)
#   make colo-qemu  build the QEMU that runs COLO (once, cached)
#   make check-asan the whole suite under AddressSanitizer + UBSan
#   make demo       the live demo of a real COLO pair: two QEMU VMs (root)
#   make demo-netns the quick COLO demo with namespace "guests" (root)
#   make install    install the binary, man pages, bash completion, the
#                   systemd unit and the docs (DESTDIR= and PREFIX= are
#                   honoured; PREFIX defaults to configure's --prefix,
#                   /usr/local)
#   make docs       regenerate docs/qmp-reference.md from qapi/
#   make fuzz       run the libFuzzer targets for longer
#   make chaos      the chaos suite for longer (CHAOS_DURATION seconds,
#                   default 600; CHAOS_SEED=N replays a run); chaos-asan
#                   the same against the ASan+UBSan build
#   make clean

BUILD ?= build
MESON_TEST_ARGS ?=

# PREFIX=DIR reconfigures the install prefix (empty: keep configure's).
PREFIX ?=
# CI builds everything there is: warnings are errors, sd_notify required.
CI_MESON_ARGS = $(if $(filter true,$(CI)),-Dwerror=true -Dsystemd=enabled)

.PHONY: all deps test-deps demo-deps build check check-unit check-asan demo demo-netns install docs fuzz chaos chaos-asan clean colo-qemu

all: build

# The build group only: `make` and `make install` never pull test tools.
deps:
	@scripts/install-deps.sh build

# The test tools: as root installed, as non-root named (the tests that
# need a missing one then skip, saying so), except in CI where it fails.
test-deps:
	@scripts/install-deps.sh test || [ "$(CI)" != true ]

demo-deps:
	@scripts/install-deps.sh demo

$(BUILD)/build.ninja: | deps
	./configure --builddir=$(BUILD)

build: deps $(BUILD)/build.ninja
	meson setup --reconfigure $(BUILD) $(CI_MESON_ARGS) $(if $(PREFIX),--prefix=$(PREFIX)) >/dev/null
	ninja -C $(BUILD)

check: build test-deps colo-qemu
	scripts/run-tests.sh $(BUILD) $(MESON_TEST_ARGS)

# colo-qemu: QEMU 10.0.2 built from Debian's source with the two COLO
# fixes, once, into /var/cache/colo-proxy (scripts/build-colo-qemu.sh,
# docs/qemu.md).  In CI a failure stops here; elsewhere the real-COLO
# tests then skip with the script's one line.
colo-qemu: test-deps
	scripts/build-colo-qemu.sh || [ "$(CI)" != true ]

check-unit: build test-deps
	scripts/run-tests.sh $(BUILD) --suite unit

# check-asan: every suite against an ASan+UBSan build.  LeakSanitizer is on
# (C tests: at each forked test's exit; colo-proxy: at its SIGTERM exit),
# any report aborts, and tests/qtest/coloqtest.py fails a test whose
# colo-proxy printed one.  The quarantine is kept at 32 MiB and the
# garbage test's memory bound raised so that ASan's own memory does not
# trip the tests' RSS bounds (docs/reliability.md).
check-asan: deps test-deps colo-qemu
	[ -f $(BUILD)-asan/build.ninja ] || ./configure --builddir=$(BUILD)-asan --enable-asan --enable-ubsan
	meson setup --reconfigure $(BUILD)-asan $(CI_MESON_ARGS) >/dev/null
	ninja -C $(BUILD)-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=32 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	COLO_GARBAGE_RSS_MIB=256 \
		scripts/run-tests.sh $(BUILD)-asan $(MESON_TEST_ARGS)

CHAOS_DURATION ?= 600
CHAOS_SEED ?=
CHAOS_ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=32 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

chaos: build test-deps
	COLO_PROXY=$(CURDIR)/$(BUILD)/system/colo-proxy CHAOS_SEED=$(CHAOS_SEED) \
		python3 tests/chaos/chaos.py --duration $(CHAOS_DURATION)

chaos-asan: deps test-deps
	[ -f $(BUILD)-asan/build.ninja ] || ./configure --builddir=$(BUILD)-asan --enable-asan --enable-ubsan
	ninja -C $(BUILD)-asan
	$(CHAOS_ASAN_ENV) COLO_PROXY=$(CURDIR)/$(BUILD)-asan/system/colo-proxy \
		CHAOS_SEED=$(CHAOS_SEED) \
		python3 tests/chaos/chaos.py --duration $(CHAOS_DURATION)

# demo: a real COLO pair (scripts/colo-vm-demo.py, docs/colo-demo.md);
# it builds the COLO QEMU and the tiny guest the first time (cached).
# demo-netns: the quick variant whose "guests" are network namespaces.
demo: build demo-deps
	scripts/colo-vm-demo.py --build $(BUILD)

demo-netns: build demo-deps
	scripts/demo.sh $(BUILD)

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

docs: build
	cp $(BUILD)/qapi/qmp-reference.md docs/qmp-reference.md

fuzz: deps test-deps
	[ -f $(BUILD)-fuzz/build.ninja ] || ./configure --builddir=$(BUILD)-fuzz --enable-fuzzing
	ninja -C $(BUILD)-fuzz
	scripts/run-fuzz.sh $(BUILD)-fuzz 300

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
