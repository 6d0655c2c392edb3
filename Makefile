# t2ibench -- build, test, demo, bench, fuzz, deps.
#   make              build build/t2ibench and build/libt2i.a
#   make test         build and run every tests/test_*.c (last line: "N passed, N failed")
#   make test-slurm   a real single-node Slurm: 3-task shard array + merge vs one process
#   make demo         CUB smoke suite on AttnGAN, DM-GAN, DF-GAN and a second AttnGAN card
#                     (hash weights): one table, HTML reports
#   make bench        speed of each network next to the PyTorch baseline measured in the same run
#                     (when /usr/bin/python3 has torch; BENCH_ROUNDS=N, BENCH_ARGS=... pass through)
#   make fuzz         libFuzzer targets (clang) for the loaders, seeds from the fixtures
#   make deps         install the Debian packages (as root), else print the apt-get line
#   make mutate       mutation testing: tests/mutants.txt applied one at a time in a scratch copy
#                     (MUTATE_ARGS="--only ID,ID" for a subset); not part of .ci/run
# Switches: SANITIZE=1 (ASan+UBSan, no recovery), DEBUG=1 (-O0), WERROR=1.

CC      ?= cc
PKGS    := libpng sqlite3 libcjson zlib libjpeg openblas libtiff-4 libwebp
DEB_PKGS := build-essential pkg-config libopenblas-dev libpng-dev libcjson-dev libsqlite3-dev \
            libjpeg62-turbo-dev zlib1g-dev clang libclang-rt-dev libtiff-dev libwebp-dev \
            protobuf-compiler python3-protobuf libleveldb-dev chromium \
            libxnnpack-dev libpthreadpool-dev libcpuinfo-dev \
            slurmctld slurmd slurm-client munge sqlite3

BUILD   := build
CFLAGS  ?= -O2 -g
ifeq ($(DEBUG),1)
CFLAGS  := -O0 -g
BUILD   := build/debug
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
BUILD   := build/san
endif
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla \
           -Wno-format-nonliteral -Wno-format-truncation
ifeq ($(WERROR),1)
WARN    += -Werror
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
GIT_DESCRIBE := $(shell git describe --always --dirty --tags 2>/dev/null || echo unknown)
ALL_CFLAGS = $(WARN) $(CFLAGS) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(ENGINE_INC) -Imetrics \
             -Iharness $(PKG_CFLAGS) -MMD -MP
ENGINE_DIRS := core formats ops nets text
ENGINE_INC := $(addprefix -Iengine/,$(ENGINE_DIRS))
# XNNPACK (NHWC convolutions) and its thread pool / CPU detection ship no pkg-config file.
XNN_LIBS := -lXNNPACK -lpthreadpool -lcpuinfo
LDLIBS  := $(PKG_LIBS) $(XNN_LIBS) -lpthread -lm

LIB_SRCS  := $(wildcard engine/*/*.c metrics/*.c) $(filter-out harness/main.c,$(wildcard harness/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/buildinfo.o
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/%.c=build/fuzz/%)
comma := ,
# TESTS=test_loaders,test_npy runs a subset.
ifdef TESTS
RUN_BINS := $(addprefix $(BUILD)/tests/,$(subst $(comma), ,$(TESTS)))
else
RUN_BINS := $(TEST_BINS)
endif

.PHONY: all test test-slurm demo bench ab fuzz fuzz-run deps clean check-deps mutate
all: $(BUILD)/t2ibench $(BUILD)/libt2i.a
ifneq ($(BUILD),build)
	@mkdir -p build && ln -sf $(patsubst build/%,%,$(BUILD))/t2ibench build/t2ibench-$(notdir $(BUILD))
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Build information (git describe, CFLAGS) lives in one generated file, rewritten only when it
# changes, so that a stale object never reports another build's version.
.PHONY: FORCE
$(BUILD)/gen/buildinfo.c: FORCE
	@mkdir -p $(dir $@)
	@printf 'const char t2i_build_git[] = "%s";\nconst char t2i_build_cflags[] = "%s";\n' \
	    '$(GIT_DESCRIBE)' '$(strip $(CFLAGS))' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/gen/buildinfo.o: $(BUILD)/gen/buildinfo.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libt2i.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/t2ibench: $(BUILD)/harness/main.o $(BUILD)/libt2i.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libt2i.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: $(BUILD)/t2ibench $(TEST_BINS)
	@T2I_BIN=$(BUILD)/t2ibench tests/run_tests.sh $(RUN_BINS)

# A real single-node Slurm on localhost (state under a temp dir): a 3-task array of
# `run --shard slurm` and a dependent merge job, compared bit for bit with one process.
test-slurm: $(BUILD)/t2ibench
	@tests/slurm_test.sh $(BUILD)/t2ibench

demo: $(BUILD)/t2ibench
	$(BUILD)/t2ibench demo

# The PyTorch baseline (tools/torch_baseline.py) runs only where its interpreter has torch; it is
# measured in the same invocation, alternating with t2ibench network by network.
BENCH_ROUNDS ?= 2
BENCH_PYTHON ?= /usr/bin/python3
bench: $(BUILD)/t2ibench
	@if $(BENCH_PYTHON) -c 'import torch' 2>/dev/null; then \
	    echo "$(BUILD)/t2ibench bench all --rounds $(BENCH_ROUNDS) --pytorch tools/torch_baseline.py --python $(BENCH_PYTHON) $(BENCH_ARGS)"; \
	    $(BUILD)/t2ibench bench all --rounds $(BENCH_ROUNDS) --pytorch tools/torch_baseline.py --python $(BENCH_PYTHON) $(BENCH_ARGS); \
	else \
	    echo "$(BENCH_PYTHON) has no torch (python3-torch): t2ibench figures only, no PyTorch baseline"; \
	    $(BUILD)/t2ibench bench all --rounds $(BENCH_ROUNDS) $(BENCH_ARGS); \
	fi

# Developer tool: previous NCHW path vs NHWC XNNPACK path, interleaved (tools/xnn_ab.c).
$(BUILD)/tools/xnn_ab: tools/xnn_ab.c $(BUILD)/libt2i.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
ab: $(BUILD)/tools/xnn_ab
	$(BUILD)/tools/xnn_ab

# ---- fuzzing (clang + libFuzzer) -------------------------------------------------------------
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
               -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(ENGINE_INC) -Imetrics -Iharness $(PKG_CFLAGS) \
               -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_OBJS := $(LIB_SRCS:%.c=build/fuzz/obj/%.o) build/fuzz/obj/gen/buildinfo.o
build/fuzz/obj/gen/buildinfo.o:
	@mkdir -p $(dir $@)
	printf 'const char t2i_build_git[] = "fuzz";\nconst char t2i_build_cflags[] = "fuzz";\n' | \
	    clang -x c -c - -o $@
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/%: tests/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)
fuzz: $(FUZZ_BINS)

# FUZZ_SECONDS per target; corpora are seeded by tests/fuzz_seeds.sh.
FUZZ_SECONDS ?= 20
fuzz-run: fuzz
	@for f in $(FUZZ_BINS); do \
	    n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	    tests/fuzz_seeds.sh $$n build/fuzz/corpus/$$n; \
	    echo "== $$n ($(FUZZ_SECONDS)s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -max_len=4194304 -artifact_prefix=build/fuzz/$$n- \
	        -print_final_stats=1 build/fuzz/corpus/$$n > build/fuzz/$$n.log 2>&1; rc=$$?; \
	    tail -n 12 build/fuzz/$$n.log; [ $$rc -eq 0 ] || { echo "$$n failed (exit $$rc)"; exit 1; }; \
	done

# ---- mutation testing (slow; run before closing issues that touch engine/, metrics/, harness/) --
mutate:
	/usr/bin/python3 tools/mutate.py $(MUTATE_ARGS)

# ---- dependencies ----------------------------------------------------------------------------
deps:
	@if [ "$$(id -u)" = "0" ]; then \
	    if [ -z "$$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then apt-get update; fi; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS) \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS); }; \
	else \
	    echo "run as root:  apt-get update && apt-get install -y --no-install-recommends $(DEB_PKGS)"; \
	    exit 1; \
	fi

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(BUILD)/harness/main.d $(TEST_BINS:%=%.d) $(FUZZ_OBJS:.o=.d)
.SECONDARY:
