// memory.c — a run's memory estimate and the check of a call's runs against the memory there is
// (memory.h).
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "memory.h"
#include "batches.h"
#include "../evaluate/evaluate.h"
#include "../io.h"
#include "../models/spec.h"

const char *const memory_part_names[MEM_PARTS] = {
    "parameters", "gradients", "optimizer state", "activations", "evaluation", "data", "checkpoint staging", "process"};

// The program itself before it allocates a run: code and data of moesim, libc, libm and libgomp
// (measured as moesim's peak on a tiny run, docs/PERFORMANCE.md), and what each OpenMP thread
// adds (its stack's touched pages and libgomp's per-thread state).
#define MEM_PROCESS_BYTES (3.25 * 1048576)
#define MEM_THREAD_BYTES (0.25 * 1048576)

int memory_estimate(const Config *c, int threads, int start, MemEstimate *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (threads <= 0) {
#ifdef _OPENMP
        threads = omp_get_max_threads();
#else
        threads = 1;
#endif
    }
    ModelSpec ms;
    model_spec_from_config(&ms, c);
    ModelSizes mz;
    ParamTable *table = malloc(sizeof *table);  // ~80 KB: not for the stack
    if (!table) return io_fail(err, errlen, "memory estimate: out of memory");
    char msg[IO_SHORT_MSG_MAX];
    if (model_sizes(&ms, &mz, table, msg, sizeof msg) != 0) {
        free(table);
        return io_fail(err, errlen, "%s", msg);
    }
    OptimConfig oc;
    optim_config_from_config(&oc, c);
    OptimSizes oz;
    int rc = optim_sizes(&oc, table, &oz, msg, sizeof msg);
    free(table);
    if (rc != 0) return io_fail(err, errlen, "%s", msg);
    EvalBytes eb;
    if (evaluator_bytes(c, ms.kind == MODEL_ROUTER ? 1 : ms.L, &eb) != 0)
        return io_fail(err, errlen, "memory estimate: out of memory");

    const double f = sizeof(float), r = sizeof(real);
    out->part[MEM_PARAMS] = r * (double)(mz.params + mz.bias);
    out->part[MEM_GRADS] = r * (double)mz.params;
    // Each state buffer is touched on its group's elements (AdamW's moments everywhere; Muon's
    // moments on its AdamW group, its momentum on its own), unless the state is written out
    // (train.save_model, checkpoints), which reads every buffer whole. The scratch of Muon,
    // Adafactor and SOAP: one slot per thread that runs a matrix.
    int saved = c->train_save_model || c->train_checkpoint_every > 0;
    double state = 0, state_len = 0;  // floats
    for (int s = 0; s < oz.n_state; s++) {
        state += (double)(saved ? oz.state[s].len : oz.state[s].touched);
        state_len += (double)oz.state[s].len;
    }
    int slots = oz.jobs < threads ? oz.jobs : threads;
    out->part[MEM_OPTIM] = f * state + (oz.jobs ? optim_slot_bytes(&oz) * slots : 0);
    out->part[MEM_ACTS] = (double)mz.slab * r + (double)mz.islab * sizeof(int32_t) +
                          (double)mz.dslab * sizeof(double);
    // The final evaluation adds, one after the other, its largest transient: truncation.csv's
    // Gram matrix, eigenvectors, the solver's copy and its divide-and-conquer workspace (about
    // 5 D²), 8 D² doubles; and with eval.prune_keep, pruning's rollouts: a decoder (every matrix
    // transposed, its KV cache and activations: decoder_sizes) and copies of the evaluation set.
    const double D = c->model_d_model;
    double final_eval = 8.0 * D * D * sizeof(double);
    if (c->eval_prune_keep > 0 && ms.kind == MODEL_DECODER) {
        size_t dr, di;
        decoder_sizes(&ms, &dr, &di);
        const double M = (double)c->data_domains * c->eval_sequences, T1 = c->model_seq_len + 1;
        double prune = sizeof(real) * ((double)mz.params + dr) + sizeof(int32_t) * (di + M * (2.5 * T1 + 2)) +
                       2 * M * sizeof(double);
        if (prune > final_eval) final_eval = prune;
    }
    out->part[MEM_EVAL] = eb.buffers + eb.scratch + final_eval;
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    out->part[MEM_DATA] = world_bytes(&ws) + batch_source_bytes(c);
    out->part[MEM_PROCESS] = MEM_PROCESS_BYTES + MEM_THREAD_BYTES * threads;
    for (int i = 0; i < MEM_PARTS; i++) out->total += out->part[i];
    // A resume or warm start reads the checkpoint whole into a staging copy before it replaces
    // anything (models/checkpoint.c), and frees it before the first step: then the parameters,
    // the optimizer arrays it fills, the data and the program are resident, the activations and
    // the evaluation caches not yet. The peak is the larger of that moment and the training.
    double staged = start == MEM_RESUMES ? state_len
                  : start == MEM_WARM_START && c->train_init_optimizer ? state_len : 0;  // floats
    if (start != MEM_FRESH) {
        out->part[MEM_CKPT] = f * ((double)mz.params + staged + (double)mz.bias);  // float files
        double at_read = out->part[MEM_PARAMS] + f * staged + out->part[MEM_DATA] +
                         out->part[MEM_PROCESS] + out->part[MEM_CKPT];
        if (at_read > out->total) out->total = at_read;
    }
    return 0;
}

void memory_breakdown(char *buf, size_t cap, const MemEstimate *e) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < MEM_PARTS && n < cap; i++) {
        if (e->part[i] <= 0) continue;
        char sz[32];
        int w = snprintf(buf + n, cap - n, "%s%s %s%s", n ? ", " : "", memory_part_names[i],
                         io_bytes_text(sz, sizeof sz, e->part[i]), i == MEM_CKPT ? " (before the first step)" : "");
        if (w < 0) break;
        n += (size_t)w;
    }
}

int memory_parse_size(const char *s, double *bytes, char *err, size_t errlen) {
    const char *p = s;
    double v = 0;
    int digits = 0, dot = 0;
    double scale = 1;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
            if (dot) { scale /= 10; v += (*p - '0') * scale; }
            else v = v * 10 + (*p - '0');
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    // the unit: K, M, G, T (1024^k) with an optional "B" or "iB", or "B" alone; any case
    double mult = 1;
    const char *u = p;
    const char *units = "kmgt";
    const char *k = *u ? strchr(units, tolower((unsigned char)*u)) : NULL;
    if (k) {
        mult = pow(1024.0, (double)(k - units) + 1);
        u++;
        if (tolower((unsigned char)u[0]) == 'i' && tolower((unsigned char)u[1]) == 'b') u += 2;
        else if (tolower((unsigned char)u[0]) == 'b') u++;
    } else if (tolower((unsigned char)*u) == 'b') {
        u++;
    }
    v *= mult;
    if (digits == 0 || *u != '\0' || !(v >= 1) || !isfinite(v))
        return io_fail(err, errlen, "--max-memory %s%.40s%s: expected a size of at least 1 byte, such as 512M, 2G, "
                       "1.5GiB or a number of bytes", *s ? "" : "'", s, *s ? "" : "'");
    *bytes = floor(v);
    return 0;
}

double memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "MemAvailable:", 13) == 0) {
            char *end;
            double v = strtod(line + 13, &end);
            if (end != line + 13 && v >= 0) kb = v;
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;  // "kB" in /proc/meminfo is KiB
}

// ---- the check of a call's runs -----------------------------------------------------------------

void memory_plan_begin(MemPlan *p, int jobs, double max_memory) {
    memset(p, 0, sizeof *p);
    p->jobs = jobs < 1 ? 1 : jobs > MEM_PLAN_JOBS ? MEM_PLAN_JOBS : jobs;
    p->max_memory = max_memory;
    p->available = memory_available();
}

void memory_plan_add(MemPlan *p, const char *run_id, const MemEstimate *e) {
    if (p->runs == 0 || e->total > p->largest.total) {
        p->largest = *e;
        snprintf(p->largest_id, sizeof p->largest_id, "%s", run_id);
    }
    long n = p->runs < p->jobs ? p->runs : p->jobs;  // entries of top so far
    p->runs++;
    if (n == p->jobs) {                              // full: the new one replaces the smallest
        if (e->total <= p->top[n - 1]) return;
        n--;
    }
    long i = n;                                      // insertion into the descending list
    while (i > 0 && p->top[i - 1] < e->total) { p->top[i] = p->top[i - 1]; i--; }
    p->top[i] = e->total;
}

static long plan_at_once(const MemPlan *p) { return p->runs < p->jobs ? p->runs : p->jobs; }

double memory_plan_peak(const MemPlan *p) {
    double sum = 0;
    for (long i = 0; i < plan_at_once(p); i++) sum += p->top[i];
    return sum;
}

// What to lower when part `i` is the largest.
static const char *advice(int i) {
    switch (i) {
    case MEM_PARAMS:
    case MEM_GRADS:
    case MEM_OPTIM:
        return "lower model.experts, model.d_ff, model.d_model, model.vocab or model.layers (parameters, "
               "gradients and optimizer state grow together)";
    case MEM_ACTS: return "lower train.batch, model.seq_len, model.top_k or model.d_ff (the activations grow with the tokens per step)";
    case MEM_EVAL: return "lower eval.sequences or data.domains (the evaluation set is kept per layer)";
    case MEM_DATA: return "lower data.branching, data.order or model.vocab (the world's chains)";
    case MEM_CKPT: return "resume or warm-start a smaller model (the checkpoint is staged in full before it is used)";
    default: return "";
    }
}

int memory_plan_check(const MemPlan *p, int dry_run, FILE *out) {
    if (p->runs == 0) return 0;
    char breakdown[600], peak[32], largest[32], limit[32] = "", avail[32] = "";
    memory_breakdown(breakdown, sizeof breakdown, &p->largest);
    const double need = memory_plan_peak(p);
    const long at_once = plan_at_once(p);
    io_bytes_text(peak, sizeof peak, need);
    io_bytes_text(largest, sizeof largest, p->largest.total);
    // the tighter of the two limits decides
    double cap = p->max_memory > 0 ? p->max_memory : -1;
    int cap_is_flag = cap > 0;
    if (p->available >= 0 && (cap < 0 || p->available < cap)) { cap = p->available; cap_is_flag = 0; }
    if (p->max_memory > 0) io_bytes_text(limit, sizeof limit, p->max_memory);
    if (p->available >= 0) io_bytes_text(avail, sizeof avail, p->available);
    if (dry_run) {
        fprintf(out, "memory: the largest run, %s, about %s: %s\n", p->largest_id, largest, breakdown);
        fprintf(out, "memory: about %s at once (%s)", peak,
                at_once > 1 ? "the largest runs of -j added" : "one run at a time");
        if (p->max_memory > 0) fprintf(out, "; --max-memory %s", limit);
        if (p->available >= 0) fprintf(out, "; %s available (MemAvailable)", avail);
        else fprintf(out, "; the available memory is unknown here (no MemAvailable in /proc/meminfo): not checked");
        fprintf(out, "; %s\n", cap < 0 || need <= cap ? "fits" : "too much: moesim run refuses it");
    }
    if (cap < 0 || need <= cap) return 0;
    char over[80];
    if (cap_is_flag) snprintf(over, sizeof over, "the limit --max-memory %s", limit);
    else snprintf(over, sizeof over, "the %s available (MemAvailable in /proc/meminfo)", avail);
    if (at_once > 1)
        fprintf(stderr, "moesim: run: not enough memory: the %ld runs at once (-j %d) need about %s together, over "
                "%s; nothing was run\n", at_once, p->jobs, peak, over);
    else
        fprintf(stderr, "moesim: run: not enough memory: run '%s' needs about %s, over %s; nothing was run\n",
                p->largest_id, peak, over);
    fprintf(stderr, "  estimate of %s: %s (total %s)\n", p->largest_id, breakdown, largest);
    int big = 0;
    for (int i = 1; i < MEM_PROCESS; i++)
        if (p->largest.part[i] > p->largest.part[big]) big = i;
    if (p->largest.total <= cap) {
        // one run fits: fewer at once
        long fit = 0;
        double sum = 0;
        while (fit < at_once && sum + p->top[fit] <= cap) sum += p->top[fit++];
        fprintf(stderr, "  what to do: run fewer at once (-j %ld fits)%s\n", fit,
                cap_is_flag ? ", or raise --max-memory" : "");
    } else {
        fprintf(stderr, "  what to do: the largest part is the %s: %s%s\n", memory_part_names[big], advice(big),
                cap_is_flag ? "; or raise --max-memory if the machine has the memory"
                                                           : "; or run on a machine with more memory");
    }
    return 2;
}
