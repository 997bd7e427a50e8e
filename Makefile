# SPDX-License-Identifier: ISC
# Makefile -- builds the netthreads library, its programs, tests and helpers.
#
#   make                      programs into build/plain/bin
#   make SANITIZER=address,undefined   into build/asan
#   make SANITIZER=thread     into build/tsan
#   make check                deps, then every test under all three builds
#   make fuzz [FUZZ_SECONDS=N]   libFuzzer targets into build/fuzz (clang);
#                             with N, each is run for N seconds
#   make demo | bench | install | clean
#   make package              the Debian package, into build/deb
#
# New files need no edits here: src/lib/*.c and src/lib/*/*.c (a module's
# backends in its own folder) form the library, each
# src/bin/X.c is program X, each tests/unit/test_X.c a unit test, each
# tests/helpers/X.c a helper.

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
COMPDIR   ?= $(PREFIX)/share/bash-completion/completions
DESTDIR   ?=
VERSION   := 0.1.0
comma     := ,

CC        ?= cc
OPT       ?= -O2
WARN      := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
             -Wpointer-arith -Wwrite-strings -Wformat=2 -Wundef
ifeq ($(WERROR),1)
WARN      += -Werror
endif

ifeq ($(SANITIZER),)
VARIANT   := plain
SANFLAGS  :=
else ifeq ($(SANITIZER),thread)
VARIANT   := tsan
SANFLAGS  := -fsanitize=thread
else ifeq ($(SANITIZER),address,undefined)
VARIANT   := asan
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
else
VARIANT   := $(subst $(comma),-,$(SANITIZER))
SANFLAGS  := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
endif

O         ?= build/$(VARIANT)
PKGS      := libcurl libcrypto liburing
PKGCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || \
             echo -lcurl -lcrypto -luring)

# What the build needs from the system, as pkg-config:header:Debian package;
# "-" when there is no pkg-config name to ask. Checked before the first
# compile, so a machine without them hears which packages to install
# rather than a compiler error about a missing header.
NEEDS     := libcurl:curl/curl.h:libcurl4-openssl-dev \
             libcrypto:openssl/evp.h:libssl-dev \
             liburing:liburing.h:liburing-dev
TEST_NEEDS := -:cmocka.h:libcmocka-dev

CPPFLAGS  += -D_GNU_SOURCE -DNT_VERSION=\"$(VERSION)\" -Isrc/lib $(PKGCFLAGS)
CFLAGS    += -std=c11 $(OPT) -g -pthread $(WARN) $(SANFLAGS) -MMD -MP
LDFLAGS   += -pthread $(SANFLAGS)
LDLIBS    += $(PKGLIBS) -lm

LIB_SRC   := $(sort $(wildcard src/lib/*.c src/lib/*/*.c))
LIB_OBJ   := $(LIB_SRC:src/lib/%.c=$(O)/obj/lib/%.o)
LIB       := $(O)/libnetthreads.a

BIN_SRC   := $(sort $(wildcard src/bin/*.c))
BINS      := $(BIN_SRC:src/bin/%.c=$(O)/bin/%)

UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)

HELP_SRC  := $(sort $(wildcard tests/helpers/*.c))
HELPERS   := $(HELP_SRC:tests/helpers/%.c=$(O)/helpers/%)

# Everything in bench/*.c is a benchmark-only program (it may need extra
# libraries, so it is built only by `make bench`).
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES   := $(BENCH_SRC:bench/%.c=$(O)/bench/%)

MANS      := $(sort $(wildcard docs/man/*.1))

.PHONY: all lib tests check check-one demo bench bench-progs install \
        uninstall clean deps format \
        package need need-tests
.DEFAULT_GOAL := all
# Objects are worth keeping between builds.
.SECONDARY:

all: $(BINS)

lib: $(LIB)

tests: $(BINS) $(UNITS) $(HELPERS)

# need_check LIST: fails with one line naming the missing packages.
define need_check
	@missing=; \
	command -v pkg-config >/dev/null 2>&1 || missing=" pkg-config"; \
	for n in $(1); do \
		pc=$${n%%:*}; rest=$${n#*:}; h=$${rest%%:*}; pkg=$${rest#*:}; \
		if { [ "$$pc" != - ] && \
		     ! pkg-config --exists "$$pc" 2>/dev/null; } || \
		   ! printf '#include <%s>\n' "$$h" | \
		     $(CC) $(CPPFLAGS) -E -x c -o /dev/null - \
			2>/dev/null; then \
			missing="$$missing $$pkg"; \
		fi; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "netthreads: missing Debian packages:$$missing;" \
		     "scripts/deps (or make deps) installs them" >&2; \
		exit 1; \
	fi
endef

need:
	$(call need_check,$(NEEDS))

need-tests:
	$(call need_check,$(TEST_NEEDS))

$(O)/obj/%.o: src/%.c | need
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/bin/%: $(O)/obj/bin/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(O)/obj/tests/%.o: tests/unit/%.c | need need-tests
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/tests/%: $(O)/obj/tests/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) -lcmocka $(LDLIBS)

$(O)/obj/helpers/%.o: tests/helpers/%.c | need
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/helpers/%: $(O)/obj/helpers/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(O)/obj/bench/%.o: bench/%.c | need
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/bench/%: $(O)/obj/bench/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) \
		$(shell pkg-config --libs libuv 2>/dev/null)

# The fuzz targets: each tests/fuzz/fuzz_X.c against the library built
# again by clang with coverage hooks and ASan+UBSan, in its own folder.
# The programs keep building with $(CC).
FUZZ_CC   ?= /usr/bin/clang
FUZZ_O    := build/fuzz
FUZZ_SAN  := address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
# Warnings stay warnings (clang reads -Wformat=2 more strictly than gcc),
# but those that mean a wrong call are errors.
FUZZ_CFLAGS := -std=c11 -O1 -g -pthread $(WARN) -MMD -MP \
             -Werror=incompatible-function-pointer-types \
             -Werror=implicit-function-declaration -Werror=int-conversion
FUZZ_LIB_OBJ := $(LIB_SRC:src/lib/%.c=$(FUZZ_O)/obj/lib/%.o)
FUZZ_LIB  := $(FUZZ_O)/libnetthreads.a
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/%)
FUZZ_SECONDS ?=

$(FUZZ_O)/obj/lib/%.o: src/lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_O)/obj/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) \
		-c -o $@ $<

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/obj/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) -pthread -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< \
		$(FUZZ_LIB) $(LDLIBS)

# The state file seeds come from accel_plan_save(), so a format change
# needs only `make fuzz-seeds` and a commit of what changed.
$(FUZZ_O)/seed_accel_state: $(FUZZ_O)/obj/fuzz/seed_accel_state.o $(FUZZ_LIB)
	$(FUZZ_CC) -pthread -fsanitize=$(FUZZ_SAN) -o $@ $< $(FUZZ_LIB) \
		$(LDLIBS)

$(FUZZ_O)/obj/fuzz/seed_%.o: tests/fuzz/seed_%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=$(FUZZ_SAN) \
		-c -o $@ $<

.PHONY: fuzz fuzz-seeds

fuzz-seeds: $(FUZZ_O)/seed_accel_state
	$(FUZZ_O)/seed_accel_state tests/fuzz/corpus/fuzz_accel_state

fuzz: $(FUZZERS)
ifneq ($(FUZZ_SECONDS),)
	tests/fuzz/run $(FUZZ_O) $(FUZZ_SECONDS)
endif

deps:
	scripts/deps

# One variant: build it and run every test against it.
check-one: tests
	tests/run $(O)

# All three variants, one closing line over all of them.
check: deps
	scripts/check

demo: deps all
	scripts/demo

bench:
	scripts/deps bench
	$(MAKE) all tests bench-progs
	bench/run $(O)

bench-progs: $(BENCHES)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MANS) $(DESTDIR)$(MANDIR)/man1
	install -d $(DESTDIR)$(COMPDIR)
	install -m 644 completion/netthreads.bash \
		$(DESTDIR)$(COMPDIR)/netthreads
	for p in $(notdir $(BINS)); do \
		ln -sf netthreads $(DESTDIR)$(COMPDIR)/$$p || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANS)))
	rm -f $(addprefix $(DESTDIR)$(COMPDIR)/,netthreads $(notdir $(BINS)))

# Built from a copy of the tree, so build/ and the tree stay as they are.
package: deps
	scripts/package build/deb

format:
	clang-format -i src/*/*.[ch] src/lib/*/*.[ch] tests/*/*.[ch] bench/*.c

clean:
	rm -rf build

-include $(wildcard $(O)/obj/*/*.d $(O)/obj/*/*/*.d)
-include $(wildcard $(FUZZ_O)/obj/*/*.d $(FUZZ_O)/obj/*/*/*.d)
