// bench.c — the performance benchmark of issue 7 (`make bench`). It prints one table and writes
// the same rows to results/bench/bench.csv (atomically; columns name, threads, metric, value,
// unit, spread_lo, spread_hi, target, status):
//   std      V=256 D=128 L=4 H=4 E=16 K=2 F=256 T=64, batch 32 (2,048 tokens/step), attention,
//            switch balancing (alpha 0.01, scope global), clip 1.0; AdamW and Muon, 1 and 2 threads:
//            tokens/s, step time, the 2-thread speed-up, where the time goes (median ms per phase
//            of the step) and where the memory goes (bytes allocated per owner); and a whole run
//            of it (2 steps with its evaluations, as `moesim run`): its peak RSS against the
//            estimate `moesim run --dry-run` prints (sim/train/memory.h; target within 25 %);
//            (issue 26) the share of our gemm peak over the whole AdamW step at the most threads:
//            the step's matrix FLOPs (step_matmul_flops: 11.0 GFLOP) / step time / the peak
//   experts  std with E = 8, 16, 64 (2 threads): tokens/s and the ratio E=64 / E=8
//   topk     std with K = 1, 2, 4 (2 threads): tokens/s
//   kernels  gemm GFLOP/s at the model's shapes (forward and both backward products of qkv, the
//            expert matrices and the head), 1 and 2 threads, their mix as one std step weights
//            them, and Newton–Schulz (5 steps) on one 256 x 128 expert matrix; (issue 26) the peak:
//            the best rate over four large products (1024^3 and three tall ones), the rate the
//            step shares are taken of
//   router   the router-only model (N = 4,096 hidden states, D = 64, E = 8, K = 2): steps/s
//   analyze  (issue 16) every measurement of one layer at D = 4096, E = 64, 16 x 512 tokens
//            (target <= 5 s) and D = 7168, E = 256, 16 x 256 (< 30 s): wall and CPU seconds,
//            peak memory
//   busy     (issue 21) std AdamW on 2 threads beside two busy loops (processes that spin on both
//            cores): tokens/s and the slowdown against the quiet std figure (target <= 3x). The
//            program waits passively (sim/cli/wait_policy.c) unless OMP_WAIT_POLICY says otherwise;
//            `OMP_WAIT_POLICY=active make bench` shows what spinning costs.
//   optimizers (issue 25) std with each optimizer (adamw, muon, sgd, lion, adafactor, soap) at the
//            most threads: tokens/s, median and mean step time, the optimizer phase, peak memory
//            and the optimizer state allocated
//   shapes   (issue 26) at the most threads: std with train.recompute (peak memory, target
//            <= 100 MiB; its tokens/s against std's); "text std" (V=256 D=256 L=6 H=8 T=256 E=32
//            K=4 F=256, batch 16 = 4,096 tokens a step, AdamW, switch balancing; 2 warm-up and at
//            most 10 timed steps) with and without recompute (peak memory against 1.5 x its fp32
//            AdamW floor); the fine-grained E=128 K=8 F=64 at std's width, against std; text std at
//            T = 1024 (batch 4; 1 warm-up, 5 timed steps), against T = 256 (target >= 0.6); and
//            a whole run of std with recompute: its peak RSS against --dry-run's estimate; text std's
//            share of our gemm peak (138.1 GFLOP a step; target >= 60 %)
//   spectrum (issue 16) closed-form accuracy of the leading singular values and vectors at
//            D = 4096 and 7168 (target 1e-6), every eigenpair of a D x D Gram matrix (D = 2048,
//            4096), and Fig. 24's truncation table for one layer (D = 4096)
// Then `make bench` runs tests/bench_numpy.py, which times numpy (with the machine's LAPACK) on
// the same decompositions and prints them beside these rows (skipped without numpy), and
// tests/bench_torch.py, which trains tests/torch_moe.py's PyTorch model on std and text std and
// prints issue 26's table, ours beside PyTorch (the PyTorch column says why when it is missing).
// and, for every configuration, its peak resident memory, the minor page faults per timed step
// (0 when a step allocates nothing), the CPU cores it actually got and how often it was preempted
// (a busy machine shows there; the footer names the configurations hit).
// E=16 in experts and K=2 in topk are the std AdamW 2-thread measurement itself (not rerun).
//
// Method. A step is the trainer's own train_step (sim/train/step.c: batch → zero grads → forward →
// NaN check → backward → grad norm → NaN check → clip factor → optimizer step, which applies the
// clip as it reads the gradients → aux-free bias), without files or evaluations; the training loss
// after the last step equals `moesim run` of the same config.
// Each configuration runs a few warm-up steps, then the timed ones; figures are the median with
// the interquartile range (p25–p75) as spread, since these machines are noisy and shared. Every
// configuration runs in a child process of its own (fork; results come back through a pipe), so
// its peak RSS (ru_maxrss from wait4) is its own and not the largest so far. The parent never
// enters an OpenMP region: libgomp's thread pool does not survive fork, so every thread count is
// set inside the child. Without OpenMP everything runs on 1 thread and the targets apply there.
//
// Targets (issue 7, 2 threads on a 2-core machine) appear as a PASS/MISS column: std AdamW
// >= 20,000 tok/s; std Muon >= 12,000 tok/s; E=64 >= 0.8 x E=8; 2 threads >= 1.7 x 1 thread;
// matrix products >= 70 GFLOP/s per core (so >= 140 with 2 threads); peak memory of std <= 64 MiB.
// A missed target is not an error: the exit status is 1 only when a measurement could not run
// (child failure, bad config, divergence) or the CSV could not be written, 2 on a bad command line.
//
// One file on purpose: a benchmark is read top to bottom next to the numbers it prints, and
// every group shares the child-process harness and the table above.
//
// Usage: bench [--quick] [--only NAME[,NAME...]] [--steps N] [--csv PATH]
//   --quick   1 warm-up and 3 timed steps, fewer kernel samples: a smoke run, not a measurement
//   --only    run only these groups: std, experts, topk, kernels, router, analyze, spectrum, busy,
//             optimizers, shapes
//   --steps   timed steps per training configuration (default 30; the router runs 10x as many)
//   --csv     where to write the CSV (default results/bench/bench.csv)
// MOESIM_SIMD=sse|avx2 caps the vector width (nn/simd.h); the path used is printed at the top.
#define _DEFAULT_SOURCE  // wait4 and getloadavg (per-child resource usage)
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../nn/gemm.h"
#include "../nn/layers.h"
#include "../nn/model.h"
#include "../optim/optim.h"
#include "../sim/config/config.h"
#include "../sim/cli/wait_policy.h"
#include "../sim/io.h"
#include "../sim/measure/linalg.h"
#include "../sim/measure/metrics.h"
#include "../sim/measure/truncation.h"
#include "../sim/tools/analyze.h"
#include "../sim/models/spec.h"
#include "../sim/train/memory.h"
#include "../sim/train/train.h"
#include "../sim/worlds/world.h"

// ---- settings ---------------------------------------------------------------------------------

enum { G_STD = 1, G_EXPERTS = 2, G_TOPK = 4, G_KERNELS = 8, G_ROUTER = 16, G_ANALYZE = 32, G_SPECTRUM = 64, G_BUSY = 128,
       G_OPTIM = 256, G_SHAPES = 512, G_ALL = 1023 };
static const struct { const char *name; int bit; } groups[] = {
    {"std", G_STD}, {"experts", G_EXPERTS}, {"topk", G_TOPK}, {"kernels", G_KERNELS}, {"router", G_ROUTER}, {"analyze", G_ANALYZE},
    {"spectrum", G_SPECTRUM}, {"busy", G_BUSY}, {"optimizers", G_OPTIM}, {"shapes", G_SHAPES}};

typedef struct {
    int quick;
    int only;          // G_* mask of the groups to run
    int warmup, steps; // training configurations: untimed, then timed steps
    int router_mult;   // the router model's steps are this many times more (each is ~1 ms)
    int kern_samples;  // samples per gemm shape / Newton–Schulz
    double kern_min_s; // each gemm sample repeats the product until it lasts this long
    const char *csv;
    int tmax;          // the largest thread count measured: 2 with OpenMP, else 1
} Opts;

// Issue 7's targets.
#define TARGET_ADAMW_TPS 20000.0
#define TARGET_MUON_TPS 12000.0
#define TARGET_EXPERT_RATIO 0.8
#define TARGET_SPEEDUP 1.7
#define TARGET_GFLOPS_PER_CORE 70.0
#define TARGET_STD_MIB 64.0
// Issue 26's.
#define TARGET_RECOMPUTE_STD_MIB 100.0
#define TARGET_RECOMPUTE_TEXT_FLOOR 1.5
#define TARGET_LONG_RATIO 0.6
#define TARGET_STD_SHARE 65.0   // % of our gemm peak over the whole step (std_step_flops)
#define TARGET_TEXT_SHARE 60.0
// Issue 21's: 2 threads beside two busy processes take at most this many times their quiet time.
#define TARGET_BUSY_SLOWDOWN 3.0
#define BUSY_LOOPS 2

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// ---- statistics -------------------------------------------------------------------------------

typedef struct { double med, p25, p75, min, max, mean; int n; } Stats;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Quantile q of sorted v[0..n) by linear interpolation between order statistics.
static double quantile(const double *v, int n, double q) {
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i >= n - 1) return v[n - 1];
    return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static Stats stats_of(const double *x, int n) {
    Stats s = {NAN, NAN, NAN, NAN, NAN, NAN, n};
    if (n <= 0) return s;
    double *v = malloc(sizeof(double) * (size_t)n);
    if (!v) return s;
    memcpy(v, x, sizeof(double) * (size_t)n);
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    s.med = quantile(v, n, 0.5); s.p25 = quantile(v, n, 0.25); s.p75 = quantile(v, n, 0.75);
    s.min = v[0]; s.max = v[n - 1];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    s.mean = sum / n;
    free(v);
    return s;
}

// ---- child processes --------------------------------------------------------------------------
// A child fills one ChildOut (fixed size, no pointers) and writes it to a pipe; the parent reads it
// whole, then reaps the child with wait4 for its peak RSS.

#define MAX_SAMPLES 512
#define MAX_SERIES 32

typedef struct {
    char name[48];
    double flops;              // per sample (kernels), 0 for times
    int weight;                // products of this shape per training step (kernels)
    int n;
    double v[MAX_SAMPLES];     // seconds
} Series;

typedef struct {
    int ok;
    char err[256];
    double loss;               // last training loss (a sanity check that the run trained)
    double alloc[4];           // training: bytes allocated for ALLOC_* (RSS counts touched pages)
    double faults_per_step;    // training: minor page faults per timed step (0 = no allocation)
    int nseries;
    Series s[MAX_SERIES];
} ChildOut;

typedef int (*ChildFn)(const void *arg, const Opts *o, ChildOut *out);

static Series *add_series(ChildOut *out, const char *name) {
    if (out->nseries >= MAX_SERIES) return NULL;
    Series *s = &out->s[out->nseries++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

// Copies s into d[n], truncated (snprintf("%s") would draw GCC's truncation warning).
static void scopy(char *d, size_t n, const char *s) {
    size_t k = strnlen(s, n - 1);
    memcpy(d, s, k);
    d[k] = '\0';
}

static int child_fail(ChildOut *out, const char *what, const char *msg) {
    size_t n = sizeof out->err, k;
    scopy(out->err, n, what);
    k = strlen(out->err);
    scopy(out->err + k, n - k, ": ");
    k = strlen(out->err);
    scopy(out->err + k, n - k, msg);
    return -1;
}

static void set_threads(int threads) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

// What wait4 tells about a child: its peak RSS, and how much of its wall time it actually got a
// CPU. On a shared machine the involuntary context switches (preemptions) show contention: every
// OpenMP region must wait for both threads to be scheduled, so 2-thread figures suffer most.
typedef struct {
    double rss_mib;   // peak resident set
    double cpu_s;     // user + system CPU seconds
    double wall_s;    // fork to reap
    double preempt;   // involuntary context switches
} ChildStat;

// Runs fn in a child; fills *out and *st. Returns 0, or -1 with out->err set (the child failed
// or died).
static int run_child(ChildFn fn, const void *arg, const Opts *o, ChildOut *out, ChildStat *st) {
    memset(out, 0, sizeof *out);
    st->rss_mib = st->cpu_s = st->wall_s = st->preempt = NAN;
    double t0 = now_s();
    int fd[2];
    if (pipe(fd) != 0) return child_fail(out, "pipe", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]); close(fd[1]);
        return child_fail(out, "fork", strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        ChildOut *res = calloc(1, sizeof *res);
        if (!res) _exit(3);
        res->ok = fn(arg, o, res) == 0;
        const char *p = (const char *)res;
        size_t left = sizeof *res;
        while (left > 0) {
            ssize_t w = write(fd[1], p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(4);
            p += w; left -= (size_t)w;
        }
        close(fd[1]);
        _exit(0);  // not exit(): the parent's stdio buffers must not be flushed twice
    }
    close(fd[1]);
    char *p = (char *)out;
    size_t got = 0;
    while (got < sizeof *out) {
        ssize_t r = read(fd[0], p + got, sizeof *out - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) return child_fail(out, "wait4", strerror(errno));
    st->wall_s = now_s() - t0;
    st->rss_mib = (double)ru.ru_maxrss / 1024.0;  // Linux reports KiB
    st->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec * 1e-6;
    st->preempt = (double)ru.ru_nivcsw;
    if (WIFSIGNALED(status)) {
        char msg[64];
        snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(status));
        memset(out, 0, sizeof *out);
        return child_fail(out, "child", msg);
    }
    if (got != sizeof *out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[80];
        snprintf(msg, sizeof msg, "exited with status %d after sending %zu of %zu bytes",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, got, sizeof *out);
        memset(out, 0, sizeof *out);
        return child_fail(out, "child", msg);
    }
    return out->ok ? 0 : -1;
}

// ---- training configurations -------------------------------------------------------------------

typedef struct {
    int router;    // 0: the std decoder family; 1: the router-only model
    int muon;
    int E, K;      // decoder only
    int threads;
    int busy;      // busy-loop processes running beside the measurement (group busy)
    const char *optim;  // optim.name (group optimizers); NULL: muon says
    int recompute;      // train.recompute (group shapes)
    int shape;          // SHAPE_*: std's width, or text std's (group shapes)
    int T;              // text std only: model.seq_len (0: 256); the batch keeps 4,096 tokens a step
    int F;              // model.d_ff (0: 256, both shapes')
} TrainCase;

// text std (issue 26): the text world's model size, V=256 D=256 L=6 H=8 T=256 E=32 K=4 F=256,
// batch 16 (4,096 tokens a step). Its tokens come from the domains world: a step's time does not
// depend on which tokens it sees.
enum { SHAPE_STD, SHAPE_TEXT };
#define TEXT_TOKENS 4096
#define TEXT_STEPS 10  // timed steps at most (and 2 warm-up); T = 1024: half (and 1)

// What a training configuration allocates, by owner (reported for std, to show where memory goes).
enum { ALLOC_PARAMS, ALLOC_GRADS, ALLOC_OPTIM, ALLOC_ACTS, ALLOC_COUNT };
static const char *alloc_names[ALLOC_COUNT] = {"params", "grads", "optim_state", "activations"};

// The phases of one step are step.h's PHASE_* (series 1.. of a training child; series 0 is the step).

// The configuration of a case as config keys, through the same setter a file uses.
static int case_config(const TrainCase *tc, Config *c, char *err, size_t errlen) {
    char e[16], k[16], f[16];
    snprintf(f, sizeof f, "%d", tc->F ? tc->F : 256);
    snprintf(e, sizeof e, "%d", tc->E);
    snprintf(k, sizeof k, "%d", tc->K);
    const char *common[][2] = {
        {"balance.method", "\"switch\""}, {"balance.alpha", "0.01"}, {"balance.scope", "\"global\""},
        {"train.clip", "1.0"}, {"optim.name", tc->optim ? tc->optim : tc->muon ? "\"muon\"" : "\"adamw\""}};
    const char *decoder[][2] = {
        {"model.vocab", "256"}, {"model.d_model", "128"}, {"model.layers", "4"}, {"model.heads", "4"},
        {"model.experts", e}, {"model.top_k", k}, {"model.d_ff", f}, {"model.seq_len", "64"},
        {"model.attention", "true"}, {"train.batch", "32"}, {"data.world", "\"domains\""}};
    char tT[16], tB[16];
    const int T = tc->T ? tc->T : 256;
    snprintf(tT, sizeof tT, "%d", T);
    snprintf(tB, sizeof tB, "%d", TEXT_TOKENS / T);
    const char *text[][2] = {
        {"model.d_model", "256"}, {"model.layers", "6"}, {"model.heads", "8"},
        {"model.seq_len", tT}, {"train.batch", tB}};
    const char *router[][2] = {
        {"model.kind", "\"router\""}, {"model.d_model", "64"}, {"model.experts", "8"}, {"model.top_k", "2"},
        {"model.seq_len", "64"}, {"train.batch", "64"}, {"data.world", "\"geometry\""}};
    if (config_defaults(c) != 0) { snprintf(err, errlen, "config: the schema's defaults do not parse"); return -1; }
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        if (config_set(c, common[i][0], common[i][1], err, errlen) != 0) return -1;
    if (tc->router) {
        for (size_t i = 0; i < sizeof router / sizeof router[0]; i++)
            if (config_set(c, router[i][0], router[i][1], err, errlen) != 0) return -1;
    } else {
        for (size_t i = 0; i < sizeof decoder / sizeof decoder[0]; i++)
            if (config_set(c, decoder[i][0], decoder[i][1], err, errlen) != 0) return -1;
        if (tc->shape == SHAPE_TEXT)
            for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
                if (config_set(c, text[i][0], text[i][1], err, errlen) != 0) return -1;
        if (config_set(c, "train.recompute", tc->recompute ? "true" : "false", err, errlen) != 0) return -1;
    }
    CfgErrors *ce = calloc(1, sizeof *ce);
    if (!ce) { snprintf(err, errlen, "config: out of memory"); return -1; }
    int bad = config_validate(c, NULL, ce);
    if (bad) snprintf(err, errlen, "%s", ce->msg[0]);
    free(ce);
    return bad ? -1 : 0;
}

// Minor page faults of this process so far: a step that allocates (or first touches memory)
// shows up here, one that reuses its buffers does not.
static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

// Child: build everything (as train.c's run_setup, minus the evaluation set), then warm-up and
// timed steps of train.c's loop. Series 0: step seconds; 1..PHASE_COUNT: the phases.
static int train_child(const void *arg, const Opts *o, ChildOut *out) {
    const TrainCase *tc = arg;
    set_threads(tc->threads);
    char err[CFG_ERROR_LEN];
    Config *c = calloc(1, sizeof *c);
    if (!c) return child_fail(out, "config", "out of memory");
    if (case_config(tc, c, err, sizeof err) != 0) { free(c); return child_fail(out, "config", err); }

    World world;
    Model model, *m = &model;
    Optimizer opt;
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    if (world_build(&world, &ws, err, sizeof err) != 0) { free(c); return child_fail(out, "world", err); }
    ModelSpec ms;
    model_spec_from_config(&ms, c);
    ms.recompute = c->train_recompute;  // as the trainer's model (evaluator_setup)
    if (model_build(m, &ms, err, sizeof err) != 0) { world_free(&world); free(c); return child_fail(out, "model", err); }
    model_init_params(m, (uint64_t)c->train_seed, c->model_init_std, c->model_embed_shared);
    OptimConfig oc;
    optim_config_from_config(&oc, c);
    if (optim_init(&opt, &oc, &m->table, err, sizeof err) != 0) {
        model_free(m); world_free(&world); free(c);
        return child_fail(out, "optim", err);
    }
    out->alloc[ALLOC_PARAMS] = (double)m->table.total * sizeof(real);
    out->alloc[ALLOC_GRADS] = (double)m->table.total * sizeof(real);
    // the state buffers and every thread's scratch slot (Muon, Adafactor, SOAP)
    double state_floats = 0;
    for (int k = 0; k < opt.n_state; k++) state_floats += (double)opt.state[k].len;
    out->alloc[ALLOC_OPTIM] = (double)sizeof(float) * state_floats +
                              (double)opt.scratch_slots * ((double)opt.scratch_len * sizeof(float) +
                                                           (double)opt.dscratch_len * sizeof(double) +
                                                           (double)opt.iscratch_len * sizeof(int));
    out->alloc[ALLOC_ACTS] = (double)m->slab_len * sizeof(real) + (double)m->islab_len * sizeof(int32_t) +
                             (double)m->dslab_len * sizeof(double);
    int router = c->model_kind == MODEL_ROUTER;
    BatchSource src;  // the training loop's own batches (stream 2 of train.seed)
    int rc = 0, src_ok = batch_source_init(&src, c, &world) == 0;
    if (!src_ok) rc = child_fail(out, "memory", "batch buffers");

    Series *ss[1 + PHASE_COUNT];
    ss[0] = add_series(out, "step");
    for (int p = 0; p < PHASE_COUNT; p++) ss[1 + p] = add_series(out, step_phase_names[p]);
    int mult = router ? o->router_mult : 1;
    int warmup = o->warmup * mult, timed = o->steps * mult;
    if (timed > MAX_SAMPLES) timed = MAX_SAMPLES;
    if (tc->shape == SHAPE_TEXT) {  // ~0.7 s a step (T = 1024: ~2 s): fewer, so the bench stays in minutes
        const int most = tc->T > 256 ? TEXT_STEPS / 2 : TEXT_STEPS;
        if (timed > most) timed = most;
        if (warmup > (tc->T > 256 ? 1 : 2)) warmup = tc->T > 256 ? 1 : 2;
    }
    int steps = warmup + timed;

    // ---- the trainer's own step (sim/train/step.c), timed by phase; no files, no evaluations ----
    StepResult sr = {0};
    long faults0 = 0;
    for (int step = 0; step < steps && rc == 0; step++) {
        if (step == warmup) faults0 = minor_faults();
        double ph[PHASE_COUNT];
        StepStatus st = train_step(m, &opt, &src, c, step, steps, &sr, ph);
        if (st == STEP_BAD_BATCH) { rc = child_fail(out, "batch", sr.reason); break; }
        if (st == STEP_DIVERGED) { rc = child_fail(out, "diverged", sr.reason); break; }
        if (step >= warmup) {
            double total = 0;
            for (int p = 0; p < PHASE_COUNT; p++) { ss[1 + p]->v[ss[1 + p]->n++] = ph[p]; total += ph[p]; }
            ss[0]->v[ss[0]->n++] = total;
        }
    }
    Losses l = sr.losses;
    out->loss = l.loss;
    out->faults_per_step = (double)(minor_faults() - faults0) / timed;
    if (src_ok) batch_source_free(&src);
    optim_free(&opt);
    model_free(m);
    world_free(&world);
    free(c);
    return rc;
}

// ---- kernels ----------------------------------------------------------------------------------
// gemm called exactly as nn/gemm.c's matmul_* call it for the std model's layers:
//   forward          gemm(out, in[M x Kd], Wᵀ[Kd x Nc])           M = rows, Nc = out, Kd = in
//   backward input   gemm(din += dout[M x Kd] · W[Kd x Nc])        M = rows, Nc = in,  Kd = out
//   backward weight  gemm(dW += doutᵀ[M x Kd] · in[Kd x Nc])       M = out,  Nc = in,  Kd = rows
// Expert products see N*K/E rows on average (256 in std); qkv and the head see all N = 2,048.

typedef struct { const char *name; int M, Nc, Kd, trans_a, acc, weight, mix; } Shape;

// The two step mixes: the products of one std step, and of one text std step
enum { MIX_STD, MIX_TEXT, NMIX };
static const char *mix_names[NMIX] = {"std step mix", "text std step mix"};

#define STD_N 2048
#define STD_D 128
#define STD_F 256
#define STD_V 256
#define STD_L 4
#define STD_E 16
#define STD_K 2
#define STD_NE (STD_N * STD_K / STD_E)
// text std: V = 256, D = 256, L = 6, E = 32, K = 4, F = 256, 4,096 tokens a step
#define TXT_N TEXT_TOKENS
#define TXT_D 256
#define TXT_F 256
#define TXT_V 256
#define TXT_L 6
#define TXT_E 32
#define TXT_K 4
#define TXT_NE (TXT_N * TXT_K / TXT_E)

// Neither mix has attention's own products (Q·Kᵀ and P·V per sequence and head: their shapes
// follow the blocking in nn/attention.c; 7.3 % of std's matrix FLOPs over the full square, 14.0 %
// of text std's) or the router's (0.9 % and 1.0 %): the "matmul_gflop" row of each mix says what
// it covers.
static const Shape shapes[] = {
    {"qkv fwd N x D -> 3D",  STD_N, 3 * STD_D, STD_D, 0, 0, STD_L, MIX_STD},
    {"qkv bwd-in",           STD_N, STD_D, 3 * STD_D, 0, 1, STD_L, MIX_STD},
    {"qkv bwd-w",            3 * STD_D, STD_D, STD_N, 1, 1, STD_L, MIX_STD},
    {"proj fwd N x D -> D",  STD_N, STD_D, STD_D, 0, 0, STD_L, MIX_STD},
    {"proj bwd-in",          STD_N, STD_D, STD_D, 0, 1, STD_L, MIX_STD},
    {"proj bwd-w",           STD_D, STD_D, STD_N, 1, 1, STD_L, MIX_STD},
    {"w1 fwd n x D -> F",    STD_NE, STD_F, STD_D, 0, 0, STD_L * STD_E, MIX_STD},
    {"w1 bwd-in",            STD_NE, STD_D, STD_F, 0, 1, STD_L * STD_E, MIX_STD},
    {"w1 bwd-w",             STD_F, STD_D, STD_NE, 1, 1, STD_L * STD_E, MIX_STD},
    {"w2 fwd n x F -> D",    STD_NE, STD_D, STD_F, 0, 0, STD_L * STD_E, MIX_STD},
    {"w2 bwd-in",            STD_NE, STD_F, STD_D, 0, 1, STD_L * STD_E, MIX_STD},
    {"w2 bwd-w",             STD_D, STD_F, STD_NE, 1, 1, STD_L * STD_E, MIX_STD},
    {"head fwd N x D -> V",  STD_N, STD_V, STD_D, 0, 0, 1, MIX_STD},
    {"head bwd-in",          STD_N, STD_D, STD_V, 0, 1, 1, MIX_STD},
    {"head bwd-w",           STD_V, STD_D, STD_N, 1, 1, 1, MIX_STD},
    {"text qkv fwd N x D -> 3D", TXT_N, 3 * TXT_D, TXT_D, 0, 0, TXT_L, MIX_TEXT},
    {"text qkv bwd-in",      TXT_N, TXT_D, 3 * TXT_D, 0, 1, TXT_L, MIX_TEXT},
    {"text qkv bwd-w",       3 * TXT_D, TXT_D, TXT_N, 1, 1, TXT_L, MIX_TEXT},
    {"text proj fwd N x D -> D", TXT_N, TXT_D, TXT_D, 0, 0, TXT_L, MIX_TEXT},
    {"text proj bwd-in",     TXT_N, TXT_D, TXT_D, 0, 1, TXT_L, MIX_TEXT},
    {"text proj bwd-w",      TXT_D, TXT_D, TXT_N, 1, 1, TXT_L, MIX_TEXT},
    {"text w1 fwd n x D -> F", TXT_NE, TXT_F, TXT_D, 0, 0, TXT_L * TXT_E, MIX_TEXT},
    {"text w1 bwd-in",       TXT_NE, TXT_D, TXT_F, 0, 1, TXT_L * TXT_E, MIX_TEXT},
    {"text w1 bwd-w",        TXT_F, TXT_D, TXT_NE, 1, 1, TXT_L * TXT_E, MIX_TEXT},
    {"text w2 fwd n x F -> D", TXT_NE, TXT_D, TXT_F, 0, 0, TXT_L * TXT_E, MIX_TEXT},
    {"text w2 bwd-in",       TXT_NE, TXT_F, TXT_D, 0, 1, TXT_L * TXT_E, MIX_TEXT},
    {"text w2 bwd-w",        TXT_D, TXT_F, TXT_NE, 1, 1, TXT_L * TXT_E, MIX_TEXT},
    {"text head fwd N x D -> V", TXT_N, TXT_V, TXT_D, 0, 0, 1, MIX_TEXT},
    {"text head bwd-in",     TXT_N, TXT_D, TXT_V, 0, 1, 1, MIX_TEXT},
    {"text head bwd-w",      TXT_V, TXT_D, TXT_N, 1, 1, 1, MIX_TEXT},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static void fill_uniform(float *x, size_t n, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

// Child: series i = shape i, each sample the time of `reps` products (flops counts all of them).
static int kernels_child(const void *arg, const Opts *o, ChildOut *out) {
    int threads = *(const int *)arg;
    set_threads(threads);
    size_t amax = 0, bmax = 0, cmax = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const Shape *s = &shapes[i];
        size_t a = (size_t)s->M * s->Kd, b = (size_t)s->Kd * s->Nc, c = (size_t)s->M * s->Nc;
        amax = a > amax ? a : amax; bmax = b > bmax ? b : bmax; cmax = c > cmax ? c : cmax;
    }
    float *A = malloc(sizeof(float) * amax), *Bm = malloc(sizeof(float) * bmax), *C = malloc(sizeof(float) * cmax);
    if (!A || !Bm || !C) { free(A); free(Bm); free(C); return child_fail(out, "memory", "kernel buffers"); }
    Rng rng;
    rng_seed(&rng, 7, 0xBE4C);
    fill_uniform(A, amax, &rng);
    fill_uniform(Bm, bmax, &rng);
    memset(C, 0, sizeof(float) * cmax);
    for (int i = 0; i < NSHAPES; i++) {
        const Shape *s = &shapes[i];
        Series *se = add_series(out, s->name);
        // A(m, k) = A[m*a_rs + k*a_cs]: plain (a_rs = Kd) or stored transposed (a_cs = M)
        size_t a_rs = s->trans_a ? 1 : (size_t)s->Kd, a_cs = s->trans_a ? (size_t)s->M : 1;
        double f1 = 2.0 * s->M * s->Nc * s->Kd;
        // calibrate: repetitions per sample so one sample lasts about kern_min_s
        int reps = 1;
        for (;;) {
            double t0 = now_s();
            for (int r = 0; r < reps; r++) gemm(C, (size_t)s->Nc, A, a_rs, a_cs, Bm, (size_t)s->Nc, s->M, s->Nc, s->Kd, s->acc);
            double dt = now_s() - t0;
            if (dt >= o->kern_min_s || reps >= (1 << 20)) break;
            reps = dt <= 0 ? reps * 16 : (int)(reps * (o->kern_min_s / dt) * 1.2) + 1;
        }
        se->flops = f1 * reps;
        se->weight = s->weight;
        for (int k = 0; k < o->kern_samples && k < MAX_SAMPLES; k++) {
            double t0 = now_s();
            for (int r = 0; r < reps; r++) gemm(C, (size_t)s->Nc, A, a_rs, a_cs, Bm, (size_t)s->Nc, s->M, s->Nc, s->Kd, s->acc);
            se->v[se->n++] = now_s() - t0;
        }
    }
    double cs = 0;  // keep the products observable
    for (size_t i = 0; i < cmax; i++) cs += C[i];
    out->loss = cs;
    free(A); free(Bm); free(C);
    return 0;
}

// Newton–Schulz on the std expert matrix w1 (F x D = 256 x 128; tall, so it runs on the 128 x 256
// transpose). Flops are the nominal ones of 5 full iterations, r = 128, c = 256:
// A = X·Xᵀ (2r²c) + A·A (2r³) + B·X (2r²c). The kernel exploits A's symmetry, so this is an
// effective rate.
#define NS_ROWS STD_F
#define NS_COLS STD_D
#define NS_STEPS 5

static double ns_flops(void) {
    double r = NS_ROWS < NS_COLS ? NS_ROWS : NS_COLS, c = NS_ROWS < NS_COLS ? NS_COLS : NS_ROWS;
    return NS_STEPS * (4.0 * r * r * c + 2.0 * r * r * r);
}

static int ns_child(const void *arg, const Opts *o, ChildOut *out) {
    int threads = *(const int *)arg;
    set_threads(threads);
    size_t n = (size_t)NS_ROWS * NS_COLS;
    float *G0 = malloc(sizeof(float) * n), *G = malloc(sizeof(float) * n);
    float *scratch = malloc(sizeof(float) * newton_schulz_scratch(NS_ROWS, NS_COLS));
    if (!G0 || !G || !scratch) { free(G0); free(G); free(scratch); return child_fail(out, "memory", "NS buffers"); }
    Rng rng;
    rng_seed(&rng, 11, 0x45);
    fill_uniform(G0, n, &rng);
    Series *se = add_series(out, "newton-schulz 256x128");
    se->flops = ns_flops();
    int samples = o->kern_samples * 2;
    for (int k = -2; k < samples && se->n < MAX_SAMPLES; k++) {  // two untimed warm-up calls
        memcpy(G, G0, sizeof(float) * n);
        double t0 = now_s();
        newton_schulz(G, NS_ROWS, NS_COLS, NS_STEPS, scratch);
        double dt = now_s() - t0;
        if (k >= 0) se->v[se->n++] = dt;
    }
    out->loss = G[0];
    free(G0); free(G); free(scratch);
    return 0;
}

// ---- issue 26: the matrix FLOPs of a step, and our gemm's peak -------------------------------------
// The matrix-product FLOPs of one training step (forward and backward, 2 per multiply-add),
// counted from the shape. Per token and block, the forward computes
//   q|k|v = a·Wqkvᵀ  2·D·3D,  the output projection  2·D·D                      8·D²
//   router logits u·Pᵀ                                                          2·D·E
//   attention: S = Q·Kᵀ and O = P·V over the full T x T square of each (sequence, head) (gemm
//     computes every entry; the mask is applied after): 2·T·T·Dh each per (sequence, head),
//     i.e. 2·2·T·Dh·H / token                                                   4·T·D
//   the experts: K rows per token, each through W1 (2·D·F) and W2 (2·F·D)        4·K·D·F
// and once per token the head, 2·D·V. The backward makes two products of the same size for each
// forward one (the input and the weight gradient; attention's dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = dS·K,
// dK = dSᵀ·Q for its two), so a step is 3 forwards:
//   flops = 3·N·(L·(8·D² + 2·D·E + 4·T·D + 4·K·D·F) + 2·D·V)
// std (N = 2,048, D = 128, L = 4, E = 16, T = 64, K = 2, F = 256, V = 256):
//   3·2,048·(4·(131,072 + 4,096 + 32,768 + 262,144) + 65,536) = 10,972,299,264 ≈ 11.0 GFLOP;
// text std (N = 4,096, D = 256, L = 6, E = 32, T = 256, K = 4, F = 256, V = 256): 138.1 GFLOP.
// Not counted: the embedding (a lookup), the element-wise work (norms, softmaxes, GELU, the
// combine), the optimizer, and train.recompute's second forward (the measure is the model's work,
// not what recomputation adds). PyTorch's profiler counts the same for tests/torch_moe.py's model
// (tests/bench_torch.py prints both).
#define STD_STEP_FLOPS 10972299264.0  // the hand count above; main() checks the function against it

// att: the share of attention's T x T square counted: 1 for the model's count (what PyTorch's
// profiler counts), attention_work_fraction(T) for what our blocked attention executes (it
// skips the masked blocks: 5/8 of the square at T = 256; all of it at std's T = 64).
static double step_matmul_flops_att(double N, double V, double D, double L, double T, double E, double K, double F,
                                    double att) {
    return 3 * N * (L * (8 * D * D + 2 * D * E + 4 * T * D * att + 4 * K * D * F) + 2 * D * V);
}
static double step_matmul_flops(double N, double V, double D, double L, double T, double E, double K, double F) {
    return step_matmul_flops_att(N, V, D, L, T, E, K, F, 1);
}
static double std_step_flops(void) { return step_matmul_flops(STD_N, STD_V, STD_D, STD_L, 64, STD_E, STD_K, STD_F); }
static double text_step_flops(void) { return step_matmul_flops(TXT_N, TXT_V, TXT_D, TXT_L, 256, TXT_E, TXT_K, TXT_F); }
// What our step executes, for the share of our peak (the share would otherwise credit our
// products with the masked blocks they skip): std 10.972 GFLOP (T = 64 is one block), text std
// 130.86 GFLOP.
static double std_step_flops_run(void) {
    return step_matmul_flops_att(STD_N, STD_V, STD_D, STD_L, 64, STD_E, STD_K, STD_F, attention_work_fraction(64));
}
static double text_step_flops_run(void) {
    return step_matmul_flops_att(TXT_N, TXT_V, TXT_D, TXT_L, 256, TXT_E, TXT_K, TXT_F, attention_work_fraction(256));
}

// Our gemm's peak: the best rate over a few large products (M x Nc x Kd: rows x columns x inner),
// each the median of kern_samples samples (a sample repeats the product for >= kern_min_s). The
// kernel's rate depends on the shape (how its panels fit the caches), so the peak is the best of
// a square one and the tall ones of a token-major training step. A step's share of it is its
// matrix FLOPs / step time / this rate.
static const int peak_shapes[][3] = {{1024, 1024, 1024}, {2048, 512, 512}, {4096, 256, 256}, {2048, 512, 128}};
#define NPEAK ((int)(sizeof peak_shapes / sizeof peak_shapes[0]))

static int peak_child(const void *arg, const Opts *o, ChildOut *out) {
    int threads = *(const int *)arg;
    set_threads(threads);
    size_t amax = 0, bmax = 0, cmax = 0;
    for (int i = 0; i < NPEAK; i++) {
        size_t M = (size_t)peak_shapes[i][0], Nc = (size_t)peak_shapes[i][1], Kd = (size_t)peak_shapes[i][2];
        amax = M * Kd > amax ? M * Kd : amax; bmax = Kd * Nc > bmax ? Kd * Nc : bmax; cmax = M * Nc > cmax ? M * Nc : cmax;
    }
    float *A = malloc(sizeof(float) * amax), *Bm = malloc(sizeof(float) * bmax), *C = malloc(sizeof(float) * cmax);
    if (!A || !Bm || !C) { free(A); free(Bm); free(C); return child_fail(out, "memory", "peak buffers"); }
    Rng rng;
    rng_seed(&rng, 7, 0x9EA4);
    fill_uniform(A, amax, &rng);
    fill_uniform(Bm, bmax, &rng);
    for (int i = 0; i < NPEAK; i++) {
        int M = peak_shapes[i][0], Nc = peak_shapes[i][1], Kd = peak_shapes[i][2];
        char nm[48];
        snprintf(nm, sizeof nm, "%dx%dx%d", M, Nc, Kd);
        Series *se = add_series(out, nm);
        int reps = 1;
        for (;;) {  // calibrate, as kernels_child
            double t0 = now_s();
            for (int r = 0; r < reps; r++) gemm(C, (size_t)Nc, A, (size_t)Kd, 1, Bm, (size_t)Nc, M, Nc, Kd, 0);
            double dt = now_s() - t0;
            if (dt >= o->kern_min_s || reps >= 4096) break;
            reps = dt <= 0 ? reps * 16 : (int)(reps * (o->kern_min_s / dt) * 1.2) + 1;
        }
        se->flops = 2.0 * M * Nc * Kd * reps;
        for (int k = 0; k < o->kern_samples && k < MAX_SAMPLES; k++) {
            double t0 = now_s();
            for (int r = 0; r < reps; r++) gemm(C, (size_t)Nc, A, (size_t)Kd, 1, Bm, (size_t)Nc, M, Nc, Kd, 0);
            se->v[se->n++] = now_s() - t0;
        }
    }
    out->loss = C[0];
    free(A); free(Bm); free(C);
    return 0;
}

static int empty_child(const void *arg, const Opts *o, ChildOut *out) {
    (void)arg; (void)o; (void)out;
    return 0;
}

// ---- the table --------------------------------------------------------------------------------

typedef struct {
    char name[48];
    int threads;
    char metric[24];
    double value, lo, hi;  // lo, hi: the spread (p25–p75 unless noted); NaN when not measured
    char unit[12];
    char target[24];
    char status[8];        // PASS | MISS | - (no target) | ERROR
} Row;

static Row *rows;
static int nrows, caprows;
static int nerrors;

static Row *add_row(const char *name, int threads, const char *metric, double value, double lo, double hi,
                    const char *unit) {
    if (nrows == caprows) {
        int cap = caprows ? 2 * caprows : 64;
        Row *r = realloc(rows, sizeof(Row) * (size_t)cap);
        if (!r) { fprintf(stderr, "bench: out of memory\n"); exit(1); }
        rows = r; caprows = cap;
    }
    Row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->threads = threads;
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    r->value = value; r->lo = lo; r->hi = hi;
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    snprintf(r->status, sizeof r->status, "%s", isfinite(value) ? "-" : "ERROR");
    return r;
}

// Attaches a target "value >= goal" (ge = 1) or "value <= goal" (ge = 0) to a row.
static void set_target(Row *r, int ge, double goal) {
    snprintf(r->target, sizeof r->target, "%s%g", ge ? ">=" : "<=", goal);
    if (!isfinite(r->value)) return;
    int pass = ge ? r->value >= goal : r->value <= goal;
    snprintf(r->status, sizeof r->status, "%s", pass ? "PASS" : "MISS");
}

static void error_row(const char *name, int threads, const char *metric, const char *err) {
    add_row(name, threads, metric, NAN, NAN, NAN, "");
    fprintf(stderr, "bench: %s (%d thread%s): %s\n", name, threads, threads == 1 ? "" : "s", err);
    nerrors++;
}

// Contention indicators of one child: CPU cores it got on average, and preemptions per second.
// A configuration preempted often (CONTENDED_PER_S) ran on a busy machine; the footer names it.
#define CONTENDED_PER_S 20.0
static char contended[1024];

static void stat_rows(const char *name, int threads, const ChildStat *st) {
    if (!(st->wall_s > 0)) return;
    double cores = st->cpu_s / st->wall_s, pps = st->preempt / st->wall_s;
    add_row(name, threads, "cpu_cores", cores, cores, cores, "cores");
    add_row(name, threads, "preempt_rate", pps, pps, pps, "1/s");
    if (pps > CONTENDED_PER_S) {
        char item[96];
        snprintf(item, sizeof item, "%s%s (%d thr)", contended[0] ? ", " : "", name, threads);
        size_t k = strlen(contended);
        scopy(contended + k, sizeof contended - k, item);
    }
}

static void fmt_num(char *buf, size_t n, double v) {
    if (!isfinite(v)) snprintf(buf, n, "-");
    else if (fabs(v) >= 1e5) snprintf(buf, n, "%.0f", v);
    else if (fabs(v) >= 100) snprintf(buf, n, "%.1f", v);
    else snprintf(buf, n, "%.3g", v);
}

static void print_table(void) {
    printf("\n%-38s %3s  %-13s %11s  %-23s %-8s %-9s %s\n", "name", "thr", "metric", "median", "spread (p25-p75)",
           "unit", "target", "status");
    for (int i = 0; i < 38 + 4 + 15 + 12 + 25 + 9 + 10 + 6; i++) putchar('-');
    putchar('\n');
    const char *last = "";
    for (int i = 0; i < nrows; i++) {
        const Row *r = &rows[i];
        char v[32], lo[32], hi[32], spread[80];
        fmt_num(v, sizeof v, r->value);
        fmt_num(lo, sizeof lo, r->lo);
        fmt_num(hi, sizeof hi, r->hi);
        if (isfinite(r->lo) && isfinite(r->hi) && (r->lo != r->value || r->hi != r->value))
            snprintf(spread, sizeof spread, "%s - %s", lo, hi);
        else
            spread[0] = '\0';
        // the first word of the name is the group: a blank line between groups
        size_t g = strcspn(r->name, " ");
        if (i > 0 && (strncmp(r->name, last, g) != 0 || last[g] != ' ')) putchar('\n');
        last = r->name;
        printf("%-38s %3d  %-13s %11s  %-23s %-8s %-9s %s\n", r->name, r->threads, r->metric, v, spread, r->unit,
               r->target[0] ? r->target : "-", r->status);
    }
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
}

static int write_csv(const char *path) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir) != 0) { fprintf(stderr, "bench: cannot create %s: %s\n", dir, strerror(errno)); return -1; }
    }
    AtomicFile a;
    FILE *f = afile_open(&a, path);
    if (!f) { fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno)); return -1; }
    fprintf(f, "name,threads,metric,value,unit,spread_lo,spread_hi,target,status\n");
    for (int i = 0; i < nrows; i++) {
        const Row *r = &rows[i];
        fprintf(f, "%s,%d,%s,", r->name, r->threads, r->metric);
        csv_num(f, r->value);
        fprintf(f, ",%s,", r->unit);
        csv_num(f, r->lo);
        fputc(',', f);
        csv_num(f, r->hi);
        fprintf(f, ",%s,%s\n", r->target, r->status);
    }
    if (afile_commit(&a) != 0) { fprintf(stderr, "bench: cannot write %s\n", path); return -1; }
    return 0;
}

// ---- busy loops: the other jobs of a shared machine ----------------------------------------------

// Starts n processes that spin until killed (at most BUSY_LOOPS). Returns how many started.
static int start_busy_loops(pid_t *pids, int n) {
    int started = 0;
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < n && i < BUSY_LOOPS; i++) {
        pid_t pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            volatile unsigned long spin = 0;
            for (;;) spin++;
        }
        pids[started++] = pid;
    }
    return started;
}

static void stop_busy_loops(const pid_t *pids, int n) {
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++)
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {}
}

// ---- training measurements, memoized (E=16 and K=2 are std itself) ----------------------------

typedef struct {
    TrainCase tc;
    int ok;
    char err[256];
    Stats step;              // seconds
    Stats phase[PHASE_COUNT];   // seconds
    ChildStat st;
    double loss;
    double alloc[ALLOC_COUNT];  // bytes
    double faults_per_step;  // minor page faults per timed step
    int tokens;              // per step
} TrainResult;

static TrainResult memo[32];
static int nmemo;
static ChildOut child_buf;  // large: one, reused

static const TrainResult *measure_train(const TrainCase *tc, const Opts *o) {
    for (int i = 0; i < nmemo; i++)
        if (memcmp(&memo[i].tc, tc, sizeof *tc) == 0) return &memo[i];
    TrainResult *r = &memo[nmemo < 31 ? nmemo++ : 31];
    memset(r, 0, sizeof *r);
    r->tc = *tc;
    r->tokens = tc->router ? 64 * 64 : tc->shape == SHAPE_TEXT ? TEXT_TOKENS : 32 * 64;
    ChildOut *out = &child_buf;
    double t0 = now_s();
    pid_t loops[BUSY_LOOPS];
    int nloops = start_busy_loops(loops, tc->busy);
    int rc = run_child(train_child, tc, o, out, &r->st);
    stop_busy_loops(loops, nloops);
    if (rc != 0 || out->nseries < 1 + PHASE_COUNT || out->s[0].n == 0) {
        scopy(r->err, sizeof r->err, out->err[0] ? out->err : "no samples");
        return r;
    }
    r->ok = 1;
    r->loss = out->loss;
    r->faults_per_step = out->faults_per_step;
    memcpy(r->alloc, out->alloc, sizeof r->alloc);
    r->step = stats_of(out->s[0].v, out->s[0].n);
    for (int p = 0; p < PHASE_COUNT; p++) r->phase[p] = stats_of(out->s[1 + p].v, out->s[1 + p].n);
    fprintf(stderr, "bench: %-6s%s %s E=%d K=%d %d thread%s: %.1f ms/step = fwd %.1f + bwd %.1f + norm %.1f + "
            "opt %.1f (%d steps, %.1f s, loss %.3f)\n",
            tc->router ? "router" : tc->shape == SHAPE_TEXT ? "text" : "std", tc->recompute ? " recompute" : "", tc->optim ? tc->optim : tc->muon ? "muon " : "adamw", tc->router ? 8 : tc->E,
            tc->router ? 2 : tc->K, tc->threads, tc->threads == 1 ? "" : "s", r->step.med * 1e3,
            r->phase[PHASE_FORWARD].med * 1e3, r->phase[PHASE_BACKWARD].med * 1e3, r->phase[PHASE_NORM].med * 1e3,
            r->phase[PHASE_OPTIM].med * 1e3, r->step.n, now_s() - t0, r->loss);
    return r;
}

// Rows for one training result: tokens/s (median, spread from the step-time quartiles), step
// time and peak memory. Returns the tokens/s row (NULL on error) for a target.
static Row *train_rows(const char *name, const TrainResult *r, int with_time) {
    int th = r->tc.threads;
    if (!r->ok) { error_row(name, th, "tokens_per_s", r->err); return NULL; }
    Row *tps = add_row(name, th, "tokens_per_s", r->tokens / r->step.med, r->tokens / r->step.p75,
                       r->tokens / r->step.p25, "tok/s");
    if (with_time) add_row(name, th, "step_time", r->step.med * 1e3, r->step.p25 * 1e3, r->step.p75 * 1e3, "ms");
    add_row(name, th, "peak_rss", r->st.rss_mib, r->st.rss_mib, r->st.rss_mib, "MiB");
    add_row(name, th, "page_faults", r->faults_per_step, r->faults_per_step, r->faults_per_step, "1/step");
    stat_rows(name, th, &r->st);
    return tps;
}

static Row *find_row(const char *name, int threads, const char *metric) {
    for (int i = 0; i < nrows; i++)
        if (strcmp(rows[i].name, name) == 0 && rows[i].threads == threads && strcmp(rows[i].metric, metric) == 0)
            return &rows[i];
    return NULL;
}

// Ratio a/b of two step-time medians as a throughput ratio: tps(a)/tps(b) = step(b)/step(a). The
// spread pairs the quartiles conservatively: [b.p25/a.p75, b.p75/a.p25]. goal <= 0: no target.
static void ratio_row(const char *name, int threads, const char *metric, const TrainResult *a, const TrainResult *b,
                      double goal) {
    if (!a->ok || !b->ok) { error_row(name, threads, metric, "a configuration it compares failed"); return; }
    // throughput ratio tps(a)/tps(b) with tokens per step possibly differing (they do not here)
    double ka = a->tokens, kb = b->tokens;
    Row *r = add_row(name, threads, metric, (ka / a->step.med) / (kb / b->step.med), (ka / a->step.p75) / (kb / b->step.p25),
                     (ka / a->step.p25) / (kb / b->step.p75), "x");
    if (goal > 0) set_target(r, 1, goal);
}

// ---- memory: the estimate of `moesim run --dry-run` against a whole run's measured peak ----------
// A child runs the trainer's whole run (train_run: world, model, optimizer, evaluations at step 0
// and the end, the final evaluation's files, the saved model) for 2 steps in a scratch folder;
// its peak RSS is compared with sim/train/memory.c's estimate of the same config (issue 21:
// within 25 %).

typedef struct { int muon, threads, recompute; char dir[256]; } RunCase;

static int run_case_config(const RunCase *rc, Config *c, char *err, size_t errlen) {
    TrainCase tc = {0, rc->muon, STD_E, STD_K, rc->threads, 0, NULL, rc->recompute, 0, 0, 0};
    if (case_config(&tc, c, err, errlen) != 0) return -1;
    return config_set(c, "train.steps", "2", err, errlen);
}

static int whole_run_child(const void *arg, const Opts *o, ChildOut *out) {
    (void)o;
    const RunCase *rc = arg;
    set_threads(rc->threads);
    char err[CFG_ERROR_LEN];
    Config *c = calloc(1, sizeof *c);
    if (!c) return child_fail(out, "config", "out of memory");
    if (run_case_config(rc, c, err, sizeof err) != 0) { free(c); return child_fail(out, "config", err); }
    RunOptions ro = {.run_id = "std", .threads = rc->threads, .quiet = 1};
    RunResult res;
    int ok = train_run(c, rc->dir, &ro, &res) == 0 && res.status == RUN_OK;
    out->loss = res.loss;
    free(c);
    return ok ? 0 : child_fail(out, "run", res.reason);
}

static void memory_rows(const char *name, int muon, int threads, int recompute, const Opts *o) {
    RunCase rc = {muon, threads, recompute, ""};
    snprintf(rc.dir, sizeof rc.dir, "/tmp/moesim_bench_mem.XXXXXX");
    char err[CFG_ERROR_LEN];
    Config *c = calloc(1, sizeof *c);
    MemEstimate e;
    if (!c || !mkdtemp(rc.dir) || run_case_config(&rc, c, err, sizeof err) != 0 ||
        memory_estimate(c, threads, MEM_FRESH, &e, err, sizeof err) != 0) {
        error_row(name, threads, "mem_estimate", c ? err : "out of memory");
        free(c);
        return;
    }
    free(c);
    ChildStat st;
    int rcode = run_child(whole_run_child, &rc, o, &child_buf, &st);
    remove_tree(rc.dir);
    if (rcode != 0) { error_row(name, threads, "mem_estimate", child_buf.err); return; }
    double est = e.total / 1048576, err_pct = 100 * (est - st.rss_mib) / st.rss_mib;
    add_row(name, threads, "mem_estimate", est, est, est, "MiB");
    add_row(name, threads, "mem_measured", st.rss_mib, st.rss_mib, st.rss_mib, "MiB");
    Row *r = add_row(name, threads, "mem_est_error", err_pct, err_pct, err_pct, "%");
    snprintf(r->target, sizeof r->target, "|x|<=25");
    snprintf(r->status, sizeof r->status, "%s", fabs(err_pct) <= 25 ? "PASS" : "MISS");
    char bd[600];
    memory_breakdown(bd, sizeof bd, &e);
    fprintf(stderr, "bench: %s (whole run, 2 steps, %d thread%s): estimate %.1f MiB, measured peak %.1f MiB (%+.1f %%): %s\n",
            name, threads, threads == 1 ? "" : "s", est, st.rss_mib, err_pct, bd);
}

// ---- issue 26: the step's share of our gemm peak --------------------------------------------------

// The peak at `threads` threads, measured once per bench run (its rows are added then: each
// shape's rate and the best); NaN if it could not run.
static double gemm_peak(const Opts *o, int threads) {
    static double peak[3];
    static int done[3];
    if (threads < 1 || threads > 2) return NAN;
    if (done[threads]) return peak[threads];
    done[threads] = 1;
    peak[threads] = NAN;
    ChildStat cs;
    if (run_child(peak_child, &threads, o, &child_buf, &cs) != 0 || child_buf.nseries != NPEAK) {
        error_row("kernels gemm peak", threads, "gflops", child_buf.err[0] ? child_buf.err : "no samples");
        return NAN;
    }
    double best = 0, lo = 0, hi = 0;
    for (int i = 0; i < NPEAK; i++) {
        const Series *se = &child_buf.s[i];
        Stats st = stats_of(se->v, se->n);
        char nm[64];
        snprintf(nm, sizeof nm, "kernels gemm peak shape %s", se->name);
        Row *r = add_row(nm, threads, "gflops", se->flops / st.med * 1e-9, se->flops / st.p75 * 1e-9,
                         se->flops / st.p25 * 1e-9, "GFLOP/s");
        if (r->value > best) { best = r->value; lo = r->lo; hi = r->hi; }
    }
    add_row("kernels gemm peak", threads, "gflops", best, lo, hi, "GFLOP/s");
    peak[threads] = best > 0 ? best : NAN;
    return peak[threads];
}

// A training configuration's matrix FLOPs per step and their share of our gemm peak over the
// whole step (median step; the spread from the step's quartiles), with issue 26's target.
// flops: the model's count (compared with PyTorch's profiler); run: what our products execute,
// the share's numerator.
static void share_rows(const char *name, const TrainResult *r, double flops, double run, double goal,
                       const Opts *o) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s step", name);
    add_row(nm, 0, "matmul_gflop", flops * 1e-9, flops * 1e-9, flops * 1e-9, "GFLOP");
    add_row(nm, 0, "matmul_gflop_run", run * 1e-9, run * 1e-9, run * 1e-9, "GFLOP");
    snprintf(nm, sizeof nm, "%s gemm share", name);
    const int th = r->tc.threads;
    if (!r->ok) { error_row(nm, th, "gemm_share", r->err); return; }
    double peak = gemm_peak(o, th) * 1e9;
    if (!isfinite(peak)) { error_row(nm, th, "gemm_share", "the gemm peak could not be measured"); return; }
    Row *s = add_row(nm, th, "gemm_share", 100 * run / r->step.med / peak, 100 * run / r->step.p75 / peak,
                     100 * run / r->step.p25 / peak, "%");
    set_target(s, 1, goal);
}

// ---- groups -----------------------------------------------------------------------------------

// Every optimizer on std at the most threads (issue 25): tokens/s, the median and the mean step
// (SOAP's basis refresh every optim.precondition_every = 10 steps shows in the mean, not the
// median), the optimizer phase, the peak RSS and the optimizer state allocated (Adafactor's
// factored statistics against AdamW's two moments). AdamW and Muon are std's own measurements.
static void group_optimizers(const Opts *o) {
    static const char *names[] = {"adamw", "muon", "sgd", "lion", "adafactor", "soap"};
    static const char *quoted[] = {"\"adamw\"", "\"muon\"", "\"sgd\"", "\"lion\"", "\"adafactor\"", "\"soap\""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        TrainCase tc = {0, i == 1, STD_E, STD_K, o->tmax, 0, i < 2 ? NULL : quoted[i], 0, 0, 0, 0};
        const TrainResult *r = measure_train(&tc, o);
        char nm[48];
        snprintf(nm, sizeof nm, "optim %s", names[i]);
        if (!train_rows(nm, r, 1)) continue;
        add_row(nm, o->tmax, "step_mean", r->step.mean * 1e3, r->step.min * 1e3, r->step.max * 1e3, "ms");
        add_row(nm, o->tmax, "optim_phase", r->phase[PHASE_OPTIM].med * 1e3, r->phase[PHASE_OPTIM].p25 * 1e3,
                r->phase[PHASE_OPTIM].p75 * 1e3, "ms");
        const double mib = r->alloc[ALLOC_OPTIM] / (1024.0 * 1024.0);
        add_row(nm, o->tmax, "optim_state", mib, mib, mib, "MiB");
    }
}

// Where a step's time goes: "<name> phase" rows, the median ms of each phase (step.h's PHASE_*).
static void phase_rows(const char *name, const TrainResult *r) {
    if (!r || !r->ok) return;
    char nm[64];
    snprintf(nm, sizeof nm, "%s phase", name);
    for (int p = 0; p < PHASE_COUNT; p++)
        add_row(nm, r->tc.threads, step_phase_names[p], r->phase[p].med * 1e3, r->phase[p].p25 * 1e3,
                r->phase[p].p75 * 1e3, "ms");
}

static void group_std(const Opts *o) {
    const char *names[2] = {"std adamw", "std muon"};
    const TrainResult *res[2][3] = {{0}};
    for (int mu = 0; mu < 2; mu++)
        for (int th = 1; th <= o->tmax; th++) {
            TrainCase tc = {0, mu, STD_E, STD_K, th, 0, NULL, 0, 0, 0, 0};
            res[mu][th] = measure_train(&tc, o);
            Row *tps = train_rows(names[mu], res[mu][th], 1);
            if (tps && th == o->tmax) set_target(tps, 1, mu ? TARGET_MUON_TPS : TARGET_ADAMW_TPS);
            if (!mu) {
                Row *mem = find_row(names[mu], th, "peak_rss");
                if (mem) set_target(mem, 0, TARGET_STD_MIB);
            }
        }
    share_rows("std adamw", res[0][o->tmax], std_step_flops(), std_step_flops_run(), TARGET_STD_SHARE, o);
    for (int mu = 0; mu < 2; mu++) {
        char nm[48];
        snprintf(nm, sizeof nm, "%s speed-up 2/1", mu ? "std muon" : "std adamw");
        if (o->tmax >= 2) {
            ratio_row(nm, 2, "speedup", res[mu][2], res[mu][1], mu ? 0 : TARGET_SPEEDUP);  // the target is std's
        } else {
            Row *r = add_row(nm, 1, "speedup", NAN, NAN, NAN, "x");
            snprintf(r->target, sizeof r->target, mu ? "" : ">=%g", TARGET_SPEEDUP);
            snprintf(r->status, sizeof r->status, "-");  // no OpenMP: not measurable, not an error
        }
    }
    // where the memory goes: what each owner allocates (the same at any thread count)
    for (int mu = 0; mu < 2; mu++) {
        const TrainResult *r = res[mu][1];
        if (!r || !r->ok) continue;
        char nm[48];
        snprintf(nm, sizeof nm, "%s alloc", names[mu]);
        for (int a = 0; a < ALLOC_COUNT; a++) {
            double mib = r->alloc[a] / (1024.0 * 1024.0);
            add_row(nm, 1, alloc_names[a], mib, mib, mib, "MiB");
        }
    }
    // a whole run's peak memory against its estimate (moesim run --dry-run's)
    for (int mu = 0; mu < 2; mu++) memory_rows(mu ? "std muon memory" : "std adamw memory", mu, o->tmax, 0, o);
    for (int mu = 0; mu < 2; mu++)
        for (int th = 1; th <= o->tmax; th++) phase_rows(names[mu], res[mu][th]);
}

// Issue 26: activation recomputation and the bigger shapes, at the most threads. std with
// train.recompute (its peak memory against <= 100 MiB, its time against std's); text std with and
// without it (peak memory against 1.5x its fp32 AdamW floor: parameters, gradients, two moments);
// the fine-grained experts E=128 K=8 F=64 at std's width (K*F = 512 as std's 2 x 256: the same
// expert FLOPs per token) against std; and text std at T = 1024 (batch 4, the same 4,096 tokens)
// against T = 256.
static void group_shapes(const Opts *o) {
    const int th = o->tmax;
    TrainCase std = {0, 0, STD_E, STD_K, th, 0, NULL, 0, SHAPE_STD, 0, 0};
    TrainCase std_rc = std, text = std, text_rc, fine = std, text_long;
    std_rc.recompute = 1;
    text.shape = SHAPE_TEXT; text.E = 32; text.K = 4;
    text_rc = text; text_rc.recompute = 1;
    text_long = text; text_long.T = 1024;
    fine.E = 128; fine.K = 8; fine.F = 64;
    const TrainResult *r_std = measure_train(&std, o), *r_std_rc = measure_train(&std_rc, o);
    if (!find_row("std adamw", th, "tokens_per_s")) {  // group std not run
        train_rows("std adamw", r_std, 1);
        share_rows("std adamw", r_std, std_step_flops(), std_step_flops_run(), TARGET_STD_SHARE, o);
    }
    train_rows("std adamw recompute", r_std_rc, 1);
    Row *mem = find_row("std adamw recompute", th, "peak_rss");
    if (mem) set_target(mem, 0, TARGET_RECOMPUTE_STD_MIB);
    ratio_row("std recompute/plain", th, "tps_ratio", r_std_rc, r_std, 0);
    memory_rows("std adamw recompute memory", 0, th, 1, o);  // --dry-run's estimate counts it
    const TrainResult *r_text = measure_train(&text, o), *r_text_rc = measure_train(&text_rc, o);
    train_rows("text std adamw", r_text, 1);
    phase_rows("text std adamw", r_text);
    share_rows("text std adamw", r_text, text_step_flops(), text_step_flops_run(), TARGET_TEXT_SHARE, o);
    train_rows("text std adamw recompute", r_text_rc, 1);
    ratio_row("text std recompute/plain", th, "tps_ratio", r_text_rc, r_text, 0);
    if (r_text_rc->ok) {  // the fp32 AdamW floor: parameters, gradients and two moments
        const double floor_mib = 4 * r_text_rc->alloc[ALLOC_PARAMS] / 1048576.0;
        add_row("text std adamw floor", th, "fp32_adamw_floor", floor_mib, floor_mib, floor_mib, "MiB");
        mem = find_row("text std adamw recompute", th, "peak_rss");
        if (mem) {
            const double x = mem->value / floor_mib;
            Row *r = add_row("text std recompute/floor", th, "mem_ratio", x, x, x, "x");
            set_target(r, 0, TARGET_RECOMPUTE_TEXT_FLOOR);
        }
    }
    const TrainResult *r_fine = measure_train(&fine, o);
    train_rows("fine E=128 K=8 F=64", r_fine, 1);
    ratio_row("fine/std", th, "tps_ratio", r_fine, r_std, 0);
    const TrainResult *r_long = measure_train(&text_long, o);
    train_rows("text std T=1024", r_long, 1);
    ratio_row("text std T=1024/T=256", th, "tps_ratio", r_long, r_text, TARGET_LONG_RATIO);
}

static void group_experts(const Opts *o) {
    static const int Es[] = {8, 16, 64};
    const TrainResult *res[3];
    for (int i = 0; i < 3; i++) {
        TrainCase tc = {0, 0, Es[i], STD_K, o->tmax, 0, NULL, 0, 0, 0, 0};
        res[i] = measure_train(&tc, o);
        char nm[48];
        snprintf(nm, sizeof nm, "experts E=%d", Es[i]);
        train_rows(nm, res[i], 0);
        // the phases and the parameters' size: what the optimizer's pass over memory reads
        phase_rows(nm, res[i]);
        if (res[i]->ok) {
            const double mib = res[i]->alloc[ALLOC_PARAMS] / 1048576.0;
            add_row(nm, o->tmax, "params", mib, mib, mib, "MiB");
        }
    }
    ratio_row("experts E=64/E=8", o->tmax, "tps_ratio", res[2], res[0], TARGET_EXPERT_RATIO);
}

static void group_topk(const Opts *o) {
    static const int Ks[] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        TrainCase tc = {0, 0, STD_E, Ks[i], o->tmax, 0, NULL, 0, 0, 0, 0};
        const TrainResult *r = measure_train(&tc, o);
        char nm[48];
        snprintf(nm, sizeof nm, "topk K=%d", Ks[i]);
        train_rows(nm, r, 0);
    }
}

// Synthetic hidden states like a model's: a strong shared direction, a decaying spectrum, noise.
static void synthetic_states(float *H, size_t N, int D, Rng *r) {
    float *mu = malloc(sizeof(float) * (size_t)D);
    if (!mu) return;
    fill_uniform(mu, (size_t)D, r);
    for (size_t i = 0; i < N; i++)
        for (int a = 0; a < D; a++)
            H[i * D + a] = 3.0f * mu[a] + (float)(rng_uniform(r) - 0.5) / sqrtf(1.0f + a / 8.0f);
    free(mu);
}

// ---- analyze (issue 16): every measurement of one layer at a real model's width ------------------
// Synthetic states like a model's (a strong shared direction, a decaying spectrum, noise), a random
// router; logits and top-K by the blocked product, then metrics_layer (per-sequence SVDs, whole-set
// direction, spectral norms, everything).
typedef struct { int D, E, K, B, T; } AnalyzeCase;
static int analyze_child(const void *arg, const Opts *o, ChildOut *out) {
    const AnalyzeCase *c = arg;
    const size_t N = (size_t)c->B * c->T;
    float *H = malloc(sizeof(float) * N * c->D), *P = malloc(sizeof(float) * (size_t)c->E * c->D);
    float *Z = malloc(sizeof(float) * N * c->E);
    double *Pt = malloc(sizeof(double) * (size_t)c->D * c->E), *Zd = malloc(sizeof(double) * N * c->E);
    int32_t *topk = malloc(sizeof(int32_t) * N * c->K);
    if (!H || !P || !Z || !Pt || !Zd || !topk) return child_fail(out, "analyze", "out of memory");
    Rng r;
    rng_seed(&r, 7, 1);
    synthetic_states(H, N, c->D, &r);
    fill_uniform(P, (size_t)c->E * c->D, &r);
    Series *sw = add_series(out, "wall"), *sc = add_series(out, "cpu");
    int samples = o->quick ? 1 : (c->D >= 7000 ? 1 : 3);
    for (int s = 0; s < samples && sw && sc; s++) {
        double t0 = now_s();
        clock_t c0 = clock();
        for (int e = 0; e < c->E; e++)
            for (int a = 0; a < c->D; a++) Pt[(size_t)a * c->E + e] = P[(size_t)e * c->D + a];
        linalg_xw(Zd, H, N, c->D, Pt, c->E);
        for (size_t i = 0; i < N * (size_t)c->E; i++) Z[i] = (float)Zd[i];
        for (size_t n = 0; n < N; n++) {             // the K largest logits, ties to the lower index
            const float *z = Z + n * c->E;
            int32_t *t = topk + n * c->K;
            for (int k = 0; k < c->K; k++) {
                int best = -1;
                for (int e = 0; e < c->E; e++) {
                    int taken = 0;
                    for (int j = 0; j < k; j++) taken |= t[j] == e;
                    if (!taken && (best < 0 || z[e] > z[best])) best = e;
                }
                t[k] = best;
            }
        }
        LayerData d = {.N = N, .D = c->D, .E = c->E, .K = c->K, .T = c->T, .H = H, .P = P, .Z = Z, .topk = topk};
        MetricsOptions mo;
        metrics_default_options(&mo);
        mo.alignment = c->D <= ANALYZE_COSTLY_MAX_D;    // every measurement analyze makes by default
        LayerMetrics lm;
        Rng rr;
        rng_seed(&rr, 1, 2);
        char err[256];
        MetricsShape shape = metrics_shape(&d, &mo);     // built once per input, as analyze does
        MetricsScratch scratch;
        if (metrics_scratch_init(&scratch, &shape) != 0) return child_fail(out, "analyze", "out of memory");
        int rc = metrics_layer(&lm, NULL, &d, &mo, &scratch, &rr, err, sizeof err);
        metrics_scratch_free(&scratch);
        if (rc != 0) return child_fail(out, "metrics_layer", err);
        sw->v[sw->n++] = now_s() - t0;
        sc->v[sc->n++] = (double)(clock() - c0) / CLOCKS_PER_SEC;
    }
    free(H); free(P); free(Z); free(Pt); free(Zd); free(topk);
    return 0;
}

static void group_analyze(const Opts *o) {
    static const AnalyzeCase cases[] = {{4096, 64, 8, 16, 512}, {7168, 256, 8, 16, 256}};
    static const double goal[] = {5.0, 30.0};
    for (int i = 0; i < 2; i++) {
        const AnalyzeCase *c = &cases[i];
        char name[48];
        snprintf(name, sizeof name, "analyze D=%d E=%d %dx%d", c->D, c->E, c->B, c->T);
        ChildStat st;
        if (run_child(analyze_child, c, o, &child_buf, &st) != 0 || !child_buf.ok) {
            error_row(name, o->tmax, "seconds", child_buf.err);
            continue;
        }
        Stats w = stats_of(child_buf.s[0].v, child_buf.s[0].n), cp = stats_of(child_buf.s[1].v, child_buf.s[1].n);
        set_target(add_row(name, o->tmax, "wall_s", w.med, w.p25, w.p75, "s"), 0, goal[i]);
        add_row(name, o->tmax, "cpu_s_all_threads", cp.med, cp.p25, cp.p75, "s");
        add_row(name, o->tmax, "peak_rss", st.rss_mib, st.rss_mib, st.rss_mib, "MiB");
        stat_rows(name, o->tmax, &st);
    }
}

// ---- spectrum (issue 16): the full decomposition and closed-form accuracy at real widths ---------
// Three measurements, each in a child of its own, 2 threads:
//   closed form  X (N x D float) whose rows are s_i u_{p(i)}, u_j orthonormal with entries exact in
//                float: the rows of a Sylvester–Hadamard matrix / sqrt(D) (D = 4096), or of
//                H_1024 ⊗ W / (32 · 2) with W the circulant weighing matrix W(7, 4) (W Wᵀ = 4 I; D =
//                7168); s_i distinct 12-bit numbers decaying like a real spectrum. So the singular
//                values are s_i and the right singular vectors u_{p(i)} exactly. The leading 3 by
//                linalg_svd_top on both routes (N = D: the D x D side; N = D/4: the N x N side), as
//                analyze uses it, and (D = 4096) the leading 16 of the full decomposition
//                (linalg_svd_right, what truncation.csv uses): the largest relative error of the
//                values and the largest ‖v̂ − v‖ (sign aligned) of the vectors; target 1e-6.
//   full eig     every eigenpair of the D x D Gram matrix of analyze's synthetic states (D = 2048,
//                4096): what the whole spectrum costs (numpy's eigh does the same in
//                tests/bench_numpy.py).
//   truncation   the paper's Fig. 24 for one layer (D = 4096, 16 x 512 tokens, E = 64, K = 8):
//                truncation_agreement, Gram matrix and projections included.

static int hadamard_sign(unsigned i, unsigned a) { return __builtin_parity(i & a) ? -1 : 1; }
static const int weighing7[7] = {-1, -1, 0, -1, 0, 0, 1};   // first row of the circulant W(7, 4)

// u_j[a] for D = Dh * Dw (Dw = 1: Hadamard; Dw = 7: H_Dh ⊗ W(7, 4)), unit norm, exact in float.
static double closed_form_entry(int j, int a, int Dh, int Dw) {
    if (Dw == 1) return hadamard_sign((unsigned)j, (unsigned)a) / sqrt((double)Dh);
    int jh = j / 7, jw = j % 7, ah = a / 7, aw = a % 7;
    return hadamard_sign((unsigned)jh, (unsigned)ah) * weighing7[(aw - jw + 7) % 7] / (2.0 * sqrt((double)Dh));
}

typedef struct { int D, Dh, Dw; } ClosedCase;
static int closed_form_child(const void *arg, const Opts *o, ChildOut *out) {
    (void)o;
    const ClosedCase *c = arg;
    const int D = c->D, N = D;
    set_threads(2);
    float *X = malloc(sizeof(float) * (size_t)N * D);
    double *s = malloc(sizeof(double) * N), *Vk = malloc(sizeof(double) * 3 * D), *u = malloc(sizeof(double) * D);
    int *p = malloc(sizeof(int) * N);
    if (!X || !s || !Vk || !u || !p) return child_fail(out, "closed form", "out of memory");
    for (int i = 0; i < N; i++) {
        double x = 64.0 * exp(-i / 60.0);
        int ex = (int)ceil(log2(x));
        s[i] = ldexp(floor(ldexp(x, 12 - ex)), ex - 12);            // 12 significant bits
        p[i] = (int)(((long long)i * 40503) % D);                    // odd, prime to 7: a permutation
        for (int a = 0; a < D; a++) X[(size_t)i * D + a] = (float)(s[i] * closed_form_entry(p[i], a, c->Dh, c->Dw));
    }
    Series *sv = add_series(out, "value_err"), *sw = add_series(out, "vector_err"), *st = add_series(out, "time");
    const int routes = D <= 4096 ? 3 : 2;               // the full decomposition too, up to 4096
    double *sfull = routes == 3 ? malloc(sizeof(double) * D) : NULL;
    double *Vfull = routes == 3 ? malloc(sizeof(double) * (size_t)D * D) : NULL;
    if (routes == 3 && (!sfull || !Vfull)) return child_fail(out, "closed form", "out of memory");
    for (int route = 0; route < routes && sv && sw && st; route++) {
        const int k = route == 2 ? 16 : 3;              // the leading values and vectors checked
        double lam[3], t0 = now_s();
        if (route < 2) {
            size_t n = route ? (size_t)D / 4 : (size_t)N;
            if (linalg_svd_top(lam, Vk, NULL, X, n, D, 3) < 0) return child_fail(out, "linalg_svd_top", "did not converge");
        } else if (linalg_svd_right(sfull, Vfull, NULL, X, (size_t)N, D) < 0) {
            return child_fail(out, "linalg_svd_right", "did not converge");
        }
        st->v[st->n++] = now_s() - t0;
        double ve = 0, we = 0;
        for (int j = 0; j < k; j++) {
            double sj = route < 2 ? sqrt(lam[j]) : sfull[j];
            ve = fmax(ve, fabs(sj - s[j]) / s[j]);
            double dm = 0, dp = 0;
            for (int a = 0; a < D; a++) {
                u[a] = closed_form_entry(p[j], a, c->Dh, c->Dw);
                double v = route < 2 ? Vk[(size_t)j * D + a] : Vfull[(size_t)a * D + j];   // Vfull: column j
                dm += (v - u[a]) * (v - u[a]); dp += (v + u[a]) * (v + u[a]);
            }
            we = fmax(we, sqrt(fmin(dm, dp)));
        }
        sv->v[sv->n++] = ve;
        sw->v[sw->n++] = we;
    }
    free(X); free(s); free(Vk); free(u); free(p); free(sfull); free(Vfull);
    return 0;
}

typedef struct { int kind, D, E, K, B, T; } SpectrumCase;   // kind 0: full eig, 1: truncation
static int spectrum_child(const void *arg, const Opts *o, ChildOut *out) {
    (void)o;
    const SpectrumCase *c = arg;
    const size_t N = (size_t)c->B * c->T;
    set_threads(2);
    float *H = malloc(sizeof(float) * N * c->D);
    if (!H) return child_fail(out, "spectrum", "out of memory");
    Rng r;
    rng_seed(&r, 7, 1);
    synthetic_states(H, N, c->D, &r);
    Series *sw = add_series(out, "wall"), *sg = add_series(out, "gram");
    if (!sw || !sg) return child_fail(out, "spectrum", "series");
    if (c->kind == 0) {
        double *G = malloc(sizeof(double) * (size_t)c->D * c->D), *V = malloc(sizeof(double) * (size_t)c->D * c->D);
        double *w = malloc(sizeof(double) * c->D);
        if (!G || !V || !w) return child_fail(out, "full eig", "out of memory");
        double t0 = now_s();
        linalg_gram(G, H, N, c->D);
        sg->v[sg->n++] = now_s() - t0;
        t0 = now_s();
        if (linalg_eig_tql(w, V, G, c->D) != 0) return child_fail(out, "linalg_eig_tql", "did not converge");
        sw->v[sw->n++] = now_s() - t0;
        free(G); free(V); free(w);
    } else {
        float *P = malloc(sizeof(float) * (size_t)c->E * c->D);
        int rs[24], nr = truncation_ranks(rs, c->D);
        double *agree = malloc(sizeof(double) * (size_t)nr * c->K);
        if (!P || !agree) return child_fail(out, "truncation", "out of memory");
        fill_uniform(P, (size_t)c->E * c->D, &r);
        double t0 = now_s();
        if (truncation_agreement(agree, H, P, N, c->D, c->E, c->K, rs, nr) != 0)
            return child_fail(out, "truncation_agreement", "failed");
        sw->v[sw->n++] = now_s() - t0;
        free(P); free(agree);
    }
    free(H);
    return 0;
}

static void group_spectrum(const Opts *o) {
    static const ClosedCase cc[] = {{4096, 4096, 1}, {7168, 1024, 7}};
    for (int i = 0; i < 2; i++) {
        char name[48];
        snprintf(name, sizeof name, "spectrum closed form D=%d", cc[i].D);
        ChildStat st;
        if (run_child(closed_form_child, &cc[i], o, &child_buf, &st) != 0 || !child_buf.ok) {
            error_row(name, 2, "value_rel_err", child_buf.err);
            continue;
        }
        static const char *route[3] = {"N=D", "N=D/4", "full N=D"};
        for (int k = 0; k < child_buf.s[0].n; k++) {
            char nm[64];
            snprintf(nm, sizeof nm, "%s %s", name, route[k]);
            double ve = child_buf.s[0].v[k], we = child_buf.s[1].v[k], t = child_buf.s[2].v[k];
            set_target(add_row(nm, 2, "value_rel_err", ve, ve, ve, ""), 0, 1e-6);
            set_target(add_row(nm, 2, "vector_err", we, we, we, ""), 0, 1e-6);
            add_row(nm, 2, "wall_s", t, t, t, "s");
        }
        add_row(name, 2, "peak_rss", st.rss_mib, st.rss_mib, st.rss_mib, "MiB");
    }
    static const SpectrumCase sc[] = {{0, 2048, 0, 0, 16, 512}, {0, 4096, 0, 0, 16, 512}, {1, 4096, 64, 8, 16, 512}};
    for (int i = 0; i < 3; i++) {
        const SpectrumCase *c = &sc[i];
        char name[48];
        if (c->kind == 0) snprintf(name, sizeof name, "spectrum full eig D=%d", c->D);
        else snprintf(name, sizeof name, "spectrum truncation D=%d %dx%d", c->D, c->B, c->T);
        ChildStat st;
        if (run_child(spectrum_child, c, o, &child_buf, &st) != 0 || !child_buf.ok) {
            error_row(name, 2, "wall_s", child_buf.err);
            continue;
        }
        double w = child_buf.s[0].v[0];
        add_row(name, 2, "wall_s", w, w, w, "s");
        if (c->kind == 0) add_row(name, 2, "gram_s", child_buf.s[1].v[0], child_buf.s[1].v[0], child_buf.s[1].v[0], "s");
        add_row(name, 2, "peak_rss", st.rss_mib, st.rss_mib, st.rss_mib, "MiB");
        stat_rows(name, 2, &st);
    }
}

// std AdamW at the largest thread count, quiet (the std group's measurement, memoized) and beside
// BUSY_LOOPS spinning processes: the slowdown is quiet tokens/s over busy tokens/s.
static void group_busy(const Opts *o) {
    TrainCase quiet = {0, 0, STD_E, STD_K, o->tmax, 0, NULL, 0, 0, 0, 0};
    TrainCase busy = quiet;
    busy.busy = BUSY_LOOPS;
    const TrainResult *rq = measure_train(&quiet, o);
    const TrainResult *rb = measure_train(&busy, o);
    if (!(o->only & G_STD)) train_rows("std adamw", rq, 1);  // the quiet figure, unless std printed it
    char nm[64];
    snprintf(nm, sizeof nm, "std adamw beside %d busy loops", BUSY_LOOPS);
    train_rows(nm, rb, 1);
    snprintf(nm, sizeof nm, "std adamw busy slowdown");
    if (!rq->ok || !rb->ok) { error_row(nm, o->tmax, "slowdown", "a configuration it compares failed"); return; }
    // slowdown = busy time / quiet time over the timed steps (the mean step: a run's wall time is
    // the sum, and spinning shows as long outlier steps a median would hide); the spread is the
    // ratio of the medians and of the upper quartiles
    Row *r = add_row(nm, o->tmax, "slowdown", rb->step.mean / rq->step.mean, rb->step.med / rq->step.med,
                     rb->step.p75 / rq->step.p75, "x");
    set_target(r, 0, TARGET_BUSY_SLOWDOWN);
}

static void group_router(const Opts *o) {
    for (int th = 1; th <= o->tmax; th++) {
        TrainCase tc = {1, 0, 8, 2, th, 0, NULL, 0, 0, 0, 0};
        const TrainResult *r = measure_train(&tc, o);
        if (!r->ok) { error_row("router N=4096 D=64 E=8", th, "steps_per_s", r->err); continue; }
        add_row("router N=4096 D=64 E=8", th, "steps_per_s", 1.0 / r->step.med, 1.0 / r->step.p75, 1.0 / r->step.p25, "step/s");
        add_row("router N=4096 D=64 E=8", th, "step_time", r->step.med * 1e3, r->step.p25 * 1e3, r->step.p75 * 1e3, "ms");
        add_row("router N=4096 D=64 E=8", th, "peak_rss", r->st.rss_mib, r->st.rss_mib, r->st.rss_mib, "MiB");
        stat_rows("router N=4096 D=64 E=8", th, &r->st);
    }
}

static void group_kernels(const Opts *o) {
    ChildOut *out = &child_buf;
    for (int th = 1; th <= o->tmax; th++) {
        ChildStat cs;
        double goal = TARGET_GFLOPS_PER_CORE * th;  // per core: the 2-thread figure counts two cores
        if (run_child(kernels_child, &th, o, out, &cs) != 0 || out->nseries != NSHAPES) {
            error_row("kernels gemm", th, "gflops", out->err[0] ? out->err : "no samples");
        } else {
            // each step mix: one step's products of its shapes, each shape's time per product
            // (a sample times `reps` of them) times how many such products one training step makes
            // (forward and backward, all layers and experts); the rate is the mix's FLOPs over that
            int n = out->s[0].n;
            double *mix = calloc((size_t)n * NMIX, sizeof(double));
            double mix_flops[NMIX] = {0};
            for (int i = 0; i < NSHAPES; i++) {
                const Series *se = &out->s[i];
                const double f1 = 2.0 * shapes[i].M * shapes[i].Nc * shapes[i].Kd;  // one product
                Stats st = stats_of(se->v, se->n);
                char nm[64];
                snprintf(nm, sizeof nm, "kernels gemm %s", se->name);
                Row *r = add_row(nm, th, "gflops", se->flops / st.med * 1e-9, se->flops / st.p75 * 1e-9,
                                 se->flops / st.p25 * 1e-9, "GFLOP/s");
                set_target(r, 1, goal);
                mix_flops[shapes[i].mix] += se->weight * f1;
                for (int k = 0; k < n && k < se->n && mix; k++)
                    mix[(size_t)shapes[i].mix * n + k] += se->weight * se->v[k] * (f1 / se->flops);
            }
            for (int m = 0; m < NMIX && mix; m++) {
                Stats st = stats_of(mix + (size_t)m * n, n);
                char nm[64];
                snprintf(nm, sizeof nm, "kernels gemm %s", mix_names[m]);
                Row *r = add_row(nm, th, "gflops", mix_flops[m] / st.med * 1e-9, mix_flops[m] / st.p75 * 1e-9,
                                 mix_flops[m] / st.p25 * 1e-9, "GFLOP/s");
                set_target(r, 1, goal);
                // what the mix covers of a step's products (the rest: attention's, the router's)
                if (th == 1) add_row(nm, 0, "matmul_gflop", mix_flops[m] * 1e-9, mix_flops[m] * 1e-9, mix_flops[m] * 1e-9,
                                     "GFLOP");
            }
            free(mix);
            add_row("kernels gemm (process)", th, "peak_rss", cs.rss_mib, cs.rss_mib, cs.rss_mib, "MiB");
            stat_rows("kernels gemm (process)", th, &cs);
        }
        gemm_peak(o, th);  // the best of four large products: the peak the step shares are taken of
        if (run_child(ns_child, &th, o, out, &cs) != 0 || out->nseries != 1) {
            error_row("kernels newton-schulz 256x128", th, "gflops", out->err[0] ? out->err : "no samples");
        } else {
            const Series *se = &out->s[0];
            Stats st = stats_of(se->v, se->n);
            add_row("kernels newton-schulz 256x128", th, "gflops", se->flops / st.med * 1e-9, se->flops / st.p75 * 1e-9,
                    se->flops / st.p25 * 1e-9, "GFLOP/s");
            add_row("kernels newton-schulz 256x128", th, "call_time", st.med * 1e3, st.p25 * 1e3, st.p75 * 1e3, "ms");
            add_row("kernels newton-schulz (process)", th, "peak_rss", cs.rss_mib, cs.rss_mib, cs.rss_mib, "MiB");
            stat_rows("kernels newton-schulz (process)", th, &cs);
        }
    }
}

// ---- main -------------------------------------------------------------------------------------

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench [--quick] [--only NAME[,NAME...]] [--steps N] [--csv PATH]\n"
            "  --quick   1 warm-up and 3 timed steps, fewer kernel samples (a smoke run)\n"
            "  --only    run only these groups: std, experts, topk, kernels, router, analyze, spectrum, busy,\n"
            "            optimizers, shapes\n"
            "            (repeatable)\n"
            "  --steps   timed steps per training configuration (default 30)\n"
            "  --csv     output file (default results/bench/bench.csv)\n");
}

static int parse_only(const char *arg, int *mask) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int found = 0;
        for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
            if (strcmp(tok, groups[i].name) == 0) { *mask |= groups[i].bit; found = 1; }
        if (!found) { fprintf(stderr, "bench: --only: unknown group '%s'\n", tok); return -1; }
    }
    return 0;
}

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                p[strcspn(p, "\n")] = '\0';
                snprintf(buf, n, "%s", p);
            }
            break;
        }
    fclose(f);
}

int main(int argc, char **argv) {
    wait_policy_apply(argv);  // as moesim itself does: threads sleep while they wait
    Opts o = {0};
    o.warmup = 3; o.steps = 30; o.router_mult = 10; o.kern_samples = 15; o.kern_min_s = 0.02;
    o.csv = "results/bench/bench.csv";
    int steps_set = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) o.quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) { if (parse_only(argv[++i], &o.only) != 0) return 2; }
        else if (strncmp(argv[i], "--only=", 7) == 0) { if (parse_only(argv[i] + 7, &o.only) != 0) return 2; }
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > MAX_SAMPLES) { fprintf(stderr, "bench: --steps: expected 1..%d\n", MAX_SAMPLES); return 2; }
            o.steps = (int)v; steps_set = 1;
        } else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) o.csv = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { usage(stdout); return 0; }
        else { fprintf(stderr, "bench: unknown or incomplete option '%s'\n", argv[i]); usage(stderr); return 2; }
    }
    if (!o.only) o.only = G_ALL;
    if (o.quick) {
        o.warmup = 1; o.router_mult = 5; o.kern_samples = 5; o.kern_min_s = 0.005;
        if (!steps_set) o.steps = 3;
    }
#ifdef _OPENMP
    o.tmax = 2;
#else
    o.tmax = 1;
#endif

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    double load[3] = {NAN, NAN, NAN};
    getloadavg(load, 3);
    printf("moesim benchmark (issue 7)%s\n", o.quick ? "  [--quick: smoke run, not a measurement]" : "");
    printf("  cpu: %s, %ld online; load average %.2f %.2f %.2f\n", cpu, sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1],
           load[2]);
#ifdef _OPENMP
    printf("  OpenMP: on (threads 1 and 2, set per configuration; threads wait: %s)\n", wait_policy_name());
#else
    printf("  OpenMP: off (1 thread only)\n");
#endif
    const char *force = getenv("MOESIM_SIMD");
    printf("  vector path (gemm, element-wise kernels): %s", gemm_path());
    if (force) printf("  (MOESIM_SIMD=%s)", force);
    printf("\n");
    printf("  training: %d warm-up + %d timed steps (router x%d); kernels: %d samples of >= %.0f ms\n", o.warmup,
           o.steps, o.router_mult, o.kern_samples, o.kern_min_s * 1e3);
    printf("  std: V=256 D=128 L=4 H=4 E=16 K=2 F=256 T=64 batch 32 (2,048 tok/step), switch alpha 0.01 global, clip 1\n");
    printf("  figures: median over steps/samples; spread p25-p75; peak RSS per configuration (own process)\n");
    printf("  matrix FLOPs of a training step (forward + backward): std %.3f GFLOP, text std %.3f GFLOP;\n"
           "  executed (attention's masked blocks skipped; the gemm share's numerator): %.3f and %.3f\n",
           std_step_flops() * 1e-9, text_step_flops() * 1e-9, std_step_flops_run() * 1e-9, text_step_flops_run() * 1e-9);
    fflush(stdout);

    if (std_step_flops() != STD_STEP_FLOPS) {  // the formula against its comment's hand count
        fprintf(stderr, "bench: step_matmul_flops gives %.0f for std, the hand count is %.0f\n", std_step_flops(),
                STD_STEP_FLOPS);
        return 1;
    }
    // the machine's load when we start and end: the context for every figure (shared machines)
    add_row("env load average", 0, "start_1min", load[0], load[0], load[0], "");
    // a child that does nothing: the floor every peak_rss below includes
    {
        ChildStat st;
        if (run_child(empty_child, NULL, &o, &child_buf, &st) == 0)
            add_row("baseline empty child", 1, "peak_rss", st.rss_mib, st.rss_mib, st.rss_mib, "MiB");
    }
    double t0 = now_s();
    if (o.only & G_STD) group_std(&o);
    if (o.only & G_EXPERTS) group_experts(&o);
    if (o.only & G_TOPK) group_topk(&o);
    if (o.only & G_KERNELS) group_kernels(&o);
    if (o.only & G_ROUTER) group_router(&o);
    if (o.only & G_ANALYZE) group_analyze(&o);
    if (o.only & G_SPECTRUM) group_spectrum(&o);
    if (o.only & G_BUSY) group_busy(&o);
    if (o.only & G_OPTIM) group_optimizers(&o);
    if (o.only & G_SHAPES) group_shapes(&o);

    getloadavg(load, 3);
    add_row("env load average", 0, "end_1min", load[0], load[0], load[0], "");
    print_table();
    printf("\n  took %.0f s; load average at the end %.2f %.2f %.2f\n", now_s() - t0, load[0], load[1], load[2]);
    int csv_bad = write_csv(o.csv) != 0;
    if (!csv_bad) printf("  wrote %s (%d rows)\n", o.csv, nrows);
    if (contended[0])
        printf("  NOTE: preempted more than %.0f times/s (the machine was busy; its figures are pessimistic):\n"
               "        %s\n", CONTENDED_PER_S, contended);
    if (nerrors) printf("  %d measurement%s failed (see the messages above)\n", nerrors, nerrors == 1 ? "" : "s");
    free(rows);
    return nerrors || csv_bad ? 1 : 0;
}
