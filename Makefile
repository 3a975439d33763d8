# moesim — a Mixture-of-Experts training simulator in C11 (libc + libm, OpenMP optional).
#
#   make            build ./moesim
#   make run        build and run the default experiment (experiments/demo.toml)
#   make test       build and run every unit test three times: normal, OMP=0, ASan+UBSan
#   make bench      build and run the benchmark (results/bench/bench.csv)
#   make reproduce  the confirmation run: every claim's experiment on fresh seeds (experiments/confirm/,
#                   judged by the rules frozen in experiments/claims/freeze.toml) into results/confirm/,
#                   then results/README.md; `make reproduce-explore` re-runs the exploration (seeds 1-3)
#   make fuzz       fuzz the experiment-file parser and the .npy reader for a bounded time (clang + libFuzzer)
#   make mutate     put each bug of tests/mutants.txt into a copy of the tree; every one must fail a test
#   make clean      remove build/ and ./moesim
#
# Switches: OMP=0 (no OpenMP), SAN=1 (AddressSanitizer + UBSan), NATIVE=1 (-march=native),
#           BUILD=dir (object folder; default build/rel).

CC      ?= cc
OMP     ?= 1
SAN     ?= 0
NATIVE  ?= 0
BUILD   ?= build/rel

# -ffp-contract=fast: -std=c11 would otherwise forbid fused multiply-adds (they are
# deterministic on a given machine; NaN checks are unaffected, unlike the fast-math options).
# -fno-trapping-math -fno-math-errno: we never read FP exception flags or errno, and without
# them GCC will not vectorize a clamp or a sqrtf; neither changes a single result bit.
CFLAGS  := -std=c11 -O3 -ffp-contract=fast -fno-trapping-math -fno-math-errno -Wall -Wextra -Werror -MMD -MP -D_POSIX_C_SOURCE=200809L
LDLIBS  := -lm

# OpenMP: a compile-and-link probe decides, so a compiler without it still builds.
ifeq ($(OMP),1)
OMP_OK := $(shell printf 'int main(void){return 0;}\n' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1)
ifeq ($(OMP_OK),1)
CFLAGS  += -fopenmp
LDLIBS  += -fopenmp
OMP_STATE := on
else
OMP_STATE := off (the compiler cannot build with -fopenmp)
endif
else
OMP_STATE := off (OMP=0)
endif
ifeq ($(SAN),1)
CFLAGS  := $(filter-out -O3,$(CFLAGS)) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDLIBS  += -fsanitize=address,undefined
endif
ifeq ($(NATIVE),1)
CFLAGS  += -march=native
endif
ifeq ($(MAKELEVEL),0)
$(info moesim: OpenMP $(OMP_STATE))
endif
BUILD_FLAGS := $(CFLAGS)

NN_SRC   := $(wildcard nn/*.c)
OPT_SRC  := $(wildcard optim/*.c)
SIM_SRC  := $(filter-out sim/main.c,$(wildcard sim/*.c sim/*/*.c))
LIB_SRC  := $(NN_SRC) $(OPT_SRC) $(SIM_SRC)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
DNN_OBJ  := $(NN_SRC:%.c=$(BUILD)/dbl/%.o)
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
DTESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/dtest_*.c))
BENCH    := $(BUILD)/tests/bench

.PHONY: all run test testbins bench reproduce reproduce-explore reproduce-check fuzz mutate clean
all: moesim

# The program at the repository root is always the normal build.
moesim: $(BUILD)/moesim
	rm -f $@ && cp $< $@

$(BUILD)/moesim: $(BUILD)/sim/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DMOESIM_BUILD_FLAGS='"$(strip $(BUILD_FLAGS))"' -c -o $@ $<

# nn compiled in double precision for the finite-difference gradient checks.
$(BUILD)/dbl/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DMOESIM_DOUBLE -c -o $@ $<

$(BUILD)/tests/test_%: tests/test_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BUILD)/tests/dtest_%: tests/dtest_%.c $(DNN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DMOESIM_DOUBLE -o $@ $< $(DNN_OBJ) $(LDLIBS)

# the double-precision verifier of `moesim export` (run by tests/e2e_cli.sh)
$(BUILD)/tests/verify_export: tests/verify_export.c $(DNN_OBJ) $(BUILD)/sim/io.o $(BUILD)/sim/npy_read.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DMOESIM_DOUBLE -o $@ $< $(DNN_OBJ) $(BUILD)/sim/io.o $(BUILD)/sim/npy_read.o $(LDLIBS)

# the ENOSPC fault shim of tests/e2e_enospc.sh (LD_PRELOAD; no sanitizers: it is loaded into any build)
$(BUILD)/tests/enospc.so: tests/fault/enospc.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl

$(BENCH): tests/bench.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

testbins: $(TESTS) $(DTESTS) $(BUILD)/moesim $(BUILD)/tests/verify_export $(BUILD)/tests/enospc.so

# The three builds, each in its own folder; the runner prints the final "N passed, M failed, K skipped".
test:
	@sh tests/run.sh

# On a terminal the runs are drawn while they train (--live); into a file or a pipe, plain lines.
run: moesim
	./moesim run experiments/demo.toml $$([ -t 1 ] && echo --live)

# Then numpy on the same decompositions, side by side (issue 16), with the first python3 that has
# numpy (Debian's python3-numpy is /usr/bin/python3); skipped, saying why, without one. Then
# PyTorch on std and text std (issue 26: tests/bench_torch.py, tests/torch_moe.py's model) with the
# first python3 that has torch, and issue 26's table, ours beside PyTorch; with no torch the table
# is printed all the same, its PyTorch column saying how to install it.
bench: $(BENCH)
	$(BENCH)
	@py=""; for p in python3 /usr/bin/python3; do \
	    if $$p -c 'import numpy' 2>/dev/null; then py=$$p; break; fi; done; \
	if [ -n "$$py" ]; then $$py tests/bench_numpy.py; \
	else echo "bench: numpy side by side skipped: no python3 with numpy (apt-get install python3-numpy)"; fi
	@py=""; for p in python3 /usr/bin/python3; do \
	    if $$p tests/torch_moe.py --probe >/dev/null 2>&1; then py=$$p; break; fi; done; \
	for p in python3 /usr/bin/python3; do [ -n "$$py" ] || ! command -v $$p >/dev/null || py=$$p; done; \
	if [ -n "$$py" ]; then $$py tests/bench_torch.py; \
	else echo "bench: issue 26's table skipped: no python3"; fi

reproduce: moesim
	sh experiments/reproduce.sh

reproduce-explore: moesim
	sh experiments/reproduce.sh --explore

reproduce-check: moesim
	sh experiments/reproduce.sh --check

fuzz:
	sh tests/fuzz/run.sh

# Mutation testing (not part of make test): killed / survived per mutant, totals and runtime.
mutate:
	sh tests/mutate.sh

clean:
	rm -rf build moesim

-include $(LIB_OBJ:.o=.d) $(DNN_OBJ:.o=.d) $(BUILD)/sim/main.d
