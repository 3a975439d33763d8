// generate.c — autoregressive sampling with a KV cache and a restarting window (generate.h).
//
// Per chunk of R <= max_batch rows, all at the same length (rows advance in lockstep), through the
// model's decoder (nn/model.h, Decoder):
//   prefill  model_decode_prefill over each row's window (positions 0..w-1) → the keys and values
//            of every layer into the cache, the routing of the recorded positions, the logits at
//            position w-1;
//   step     model_decode_step: the newest token alone at position w, attending to the cache.
// Sampling runs serially over the rows between passes, each row with its own RNG.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "generate.h"
#include "../models/spec.h"
#include "../io.h"
#include "../worlds/world.h"

// ---- settings -----------------------------------------------------------------------------------

void gen_args_defaults(GenArgs *a) {
    memset(a, 0, sizeof *a);
    a->samples = 1;
    a->tokens = 64;
    a->temperature = 1.0;
    a->top_p = 1.0;
    a->seed = 1;
    a->prompt_domain = -1;
    a->duplicate = 1;
}

int gen_check_args(const GenArgs *a, char *err, size_t errlen) {
    if (!(a->temperature >= 0 && isfinite(a->temperature)))
        return io_fail(err, errlen, "--temperature %g: expected a number >= 0 (0 = greedy)", a->temperature);
    if (a->prompts < 0) return io_fail(err, errlen, "--prompts %d: expected an integer >= 1", a->prompts);
    if (a->samples < 1) return io_fail(err, errlen, "--samples %d: expected an integer >= 1", a->samples);
    if (a->prompt_len < 0) return io_fail(err, errlen, "--prompt-len %d: expected an integer >= 1", a->prompt_len);
    if (a->tokens < 1) return io_fail(err, errlen, "--tokens %d: expected an integer >= 1", a->tokens);
    if (a->duplicate < 1) return io_fail(err, errlen, "--duplicate %d: expected an integer >= 1", a->duplicate);
    if (a->prompt_domain < -1) return io_fail(err, errlen, "--prompt-domain %d: expected a domain index >= 0", a->prompt_domain);
    if (a->prompt_domain >= 0 && a->prompt_file)
        return io_fail(err, errlen, "--prompt-domain and --prompt-file: give one of them (a file's prompts have no domain)");
    if (a->per_domain < 0) return io_fail(err, errlen, "--prompts-per-domain %d: expected an integer >= 1", a->per_domain);
    if (a->per_domain > 0 && (a->prompts || a->prompt_domain >= 0 || a->prompt_file))
        return io_fail(err, errlen, "--prompts-per-domain: give it alone, without --prompts, --prompt-domain or --prompt-file");
    if (a->keep < 0) return io_fail(err, errlen, "keep %d: expected 0 (half the window) or 1..model.seq_len", a->keep);
    return 0;
}

// ---- prompts ------------------------------------------------------------------------------------

static int prompts_from_file(GenPrompts *p, const GenArgs *a, const Config *c, char *err, size_t errlen) {
    const char *f = a->prompt_file;
    int32_t *data = NULL;
    int nd = 0;
    size_t sh[3];
    char e[IO_MSG_MAX];
    if (npy_read_int32(f, &data, &nd, sh, e, sizeof e) != 0) return io_fail(err, errlen, "--prompt-file: %s", e);
    if (nd != 2 || sh[0] < 1 || sh[1] < 1) {
        free(data);
        if (nd == 2)  // an empty array: the dimensions are right, a count is 0
            return io_fail(err, errlen, "--prompt-file %s: %zu prompts of %zu tokens; expected at least one of each",
                           f, sh[0], sh[1]);
        return io_fail(err, errlen, "--prompt-file %s: expected a 2-D int32 array N x n (prompts x tokens), "
                    "got %d dimension%s", f, nd, nd == 1 ? "" : "s");
    }
    if (sh[0] > 1000000 || sh[1] > (size_t)c->model_seq_len) {
        free(data);
        if (sh[0] > 1000000) return io_fail(err, errlen, "--prompt-file %s: %zu prompts, at most 1000000", f, sh[0]);
        return io_fail(err, errlen, "--prompt-file %s: prompts of %zu tokens exceed model.seq_len = %d, the positions "
                    "the model learned", f, sh[1], c->model_seq_len);
    }
    int N = (int)sh[0], n = (int)sh[1];
    if (a->prompts && a->prompts != N) {
        free(data);
        return io_fail(err, errlen, "--prompts %d does not match --prompt-file %s, which holds %d prompts", a->prompts, f, N);
    }
    if (a->prompt_len && a->prompt_len != n) {
        free(data);
        return io_fail(err, errlen, "--prompt-len %d does not match --prompt-file %s, whose prompts have %d tokens",
                    a->prompt_len, f, n);
    }
    for (size_t i = 0; i < (size_t)N * n; i++)
        if (data[i] < 0 || data[i] >= c->model_vocab) {
            int v = data[i];
            free(data);
            return io_fail(err, errlen, "--prompt-file %s: row %zu, column %zu holds token %d, outside 0..%d "
                        "(model.vocab = %d)", f, i / n, i % n, v, c->model_vocab - 1, c->model_vocab);
        }
    p->N = N; p->n = n; p->tokens = data;
    p->domain = malloc(sizeof(int32_t) * N);
    if (!p->domain) { gen_prompts_free(p); return io_fail(err, errlen, "prompts: out of memory"); }
    for (int i = 0; i < N; i++) p->domain[i] = -1;
    return 0;
}

void gen_repeat_rows(int32_t *out /* N x (k*n) */, const int32_t *in /* N x n */, int N, int n, int k) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < k * n; j++) out[(size_t)i * k * n + j] = in[(size_t)i * n + j % n];
}

static int prompts_build(GenPrompts *p, const GenArgs *a, const Config *c, char *err, size_t errlen);

int gen_prompts(GenPrompts *p, const GenArgs *a, const Config *c, char *err, size_t errlen) {
    if (prompts_build(p, a, c, err, errlen) != 0) return -1;
    p->content = p->n;
    const int k = a->duplicate > 1 ? a->duplicate : 1;
    if (k == 1) return 0;
    if ((long long)k * p->n > c->model_seq_len) {
        int n = p->n;
        gen_prompts_free(p);
        return io_fail(err, errlen, "--duplicate %d copies of prompts of %d tokens need %lld positions, more than "
                    "model.seq_len = %d (the positions the model learned): lower --duplicate or --prompt-len",
                    k, n, (long long)k * n, c->model_seq_len);
    }
    int32_t *rep = malloc(sizeof(int32_t) * (size_t)p->N * k * p->n);
    if (!rep) { gen_prompts_free(p); return io_fail(err, errlen, "prompts: out of memory"); }
    gen_repeat_rows(rep, p->tokens, p->N, p->n, k);
    free(p->tokens);
    p->tokens = rep;
    p->n *= k;
    return 0;
}

static int prompts_build(GenPrompts *p, const GenArgs *a, const Config *c, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    if (c->model_kind != MODEL_DECODER)
        return io_fail(err, errlen, "the model is a router alone (model.kind = \"router\"): it has no tokens to generate");
    if (c->data_world == WORLD_GEOMETRY && !a->prompt_file)
        return io_fail(err, errlen, "the run's world (data.world = \"geometry\") has no token sequences to take prompts "
                    "from: give --prompt-file");
    const int T = c->model_seq_len;
    if (a->keep > T) return io_fail(err, errlen, "keep %d exceeds model.seq_len = %d", a->keep, T);
    if (a->prompt_file) return prompts_from_file(p, a, c, err, errlen);
    int N = a->prompts ? a->prompts : 16;
    int n = a->prompt_len ? a->prompt_len : (T < 16 ? T : 16);
    if (n > T)
        return io_fail(err, errlen, "--prompt-len %d exceeds model.seq_len = %d, the positions the model learned", n, T);
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    if (a->prompt_domain >= 0 && a->prompt_domain >= ws.domains)
        return io_fail(err, errlen, "--prompt-domain %d: the world has data.domains = %d (domains 0..%d)",
                    a->prompt_domain, ws.domains, ws.domains - 1);
    // A domain's evaluation sequences come from its own stream, so asking for more than
    // eval.sequences extends the run's set instead of redrawing it.
    if (a->prompt_domain >= 0 && N > ws.eval_sequences) ws.eval_sequences = N;
    if (a->per_domain > 0) {  // N prompts of every domain, domain by domain
        if (a->per_domain > ws.eval_sequences) ws.eval_sequences = a->per_domain;
        N = a->per_domain * ws.domains;
    }
    World w;
    char e[400];
    if (world_build(&w, &ws, e, sizeof e) != 0) return io_fail(err, errlen, "the run's world: %s", e);
    int M = world_eval_count(&w), per = ws.eval_sequences;
    if (a->prompt_domain < 0 && N > M) {
        world_free(&w);
        return io_fail(err, errlen, "--prompts %d: the run's evaluation set has %d sequences (eval.sequences = %d x "
                    "data.domains = %d); ask for at most %d, or for one domain's with --prompt-domain "
                    "(extended as needed)", N, M, per, ws.domains, M);
    }
    int32_t *set = malloc(sizeof(int32_t) * (size_t)M * (T + 1)), *dom = malloc(sizeof(int32_t) * (size_t)M);
    p->tokens = malloc(sizeof(int32_t) * (size_t)N * n);
    p->domain = malloc(sizeof(int32_t) * (size_t)N);
    if (!set || !dom || !p->tokens || !p->domain) {
        free(set); free(dom); world_free(&w); gen_prompts_free(p);
        return io_fail(err, errlen, "prompts: out of memory (%d evaluation sequences)", M);
    }
    world_eval_set(&w, set, dom);  // domain-major: domain 0's sequences first
    int first = a->prompt_domain >= 0 ? a->prompt_domain * per : 0;
    for (int i = 0; i < N; i++) {
        // --prompts-per-domain: prompt i is sequence i mod N' of domain i / N' (set is domain-major)
        int src = a->per_domain > 0 ? (i / a->per_domain) * per + i % a->per_domain : first + i;
        memcpy(p->tokens + (size_t)i * n, set + (size_t)src * (T + 1), sizeof(int32_t) * n);
        p->domain[i] = dom[src];
    }
    p->N = N; p->n = n;
    free(set); free(dom); world_free(&w);
    return 0;
}

void gen_prompts_free(GenPrompts *p) {
    free(p->tokens); free(p->domain);
    memset(p, 0, sizeof *p);
}

// ---- sampling -----------------------------------------------------------------------------------

uint64_t gen_row_seed(uint64_t seed, int row) {
    uint64_t x = seed ^ (0x9E3779B97F4A7C15ull * ((uint64_t)row + 1));
    rng_splitmix64(&x);
    return rng_splitmix64(&x);
}

// Decreasing probability, ties to the lower token: a total order, so qsort's result is unique.
static int pick_cmp(const void *a, const void *b) {
    const GenPick *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int argmax(const real *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[best]) best = i;  // strict: ties keep the lower index
    return best;
}

int gen_sample(const real *logits, int V, double temperature, double top_p, Rng *r, GenPick *pk) {
    if (temperature == 0) return argmax(logits, V);
    double mx = logits[argmax(logits, V)], sum = 0;
    for (int v = 0; v < V; v++) {
        pk[v].p = exp(((double)logits[v] - mx) / temperature);  // V: unnormalized probabilities
        pk[v].i = v;
        sum += pk[v].p;
    }
    if (!(sum > 0 && isfinite(sum))) return argmax(logits, V);  // NaN logits: nothing to sample
    int count = V;
    double mass = sum;
    if (top_p < 1) {
        qsort(pk, (size_t)V, sizeof *pk, pick_cmp);
        double need = top_p * sum, cum = 0;
        for (count = 0; count < V;) {
            cum += pk[count++].p;
            if (cum >= need) break;
        }
        mass = cum;
    }
    double u = rng_uniform(r) * mass, cum = 0;
    for (int j = 0; j < count; j++) {
        cum += pk[j].p;
        if (u < cum) return pk[j].i;
    }
    return pk[count - 1].i;  // u within rounding of the total
}

// ---- the generator's buffers, allocated once ------------------------------------------------------

typedef struct {
    Decoder d;             // the KV cache and the decoder's activations (nn/model.h)
    int R;                 // rows per chunk (spec.max_batch)
    Rng *rng;              // R
    GenPick *pick;         // V
} Gen;

static void gen_free(Gen *g) {
    decoder_free(&g->d);
    free(g->rng); free(g->pick);
    memset(g, 0, sizeof *g);
}

static int gen_init(Gen *g, const Model *m) {
    memset(g, 0, sizeof *g);
    g->R = m->spec.max_batch;
    g->rng = calloc((size_t)g->R, sizeof(Rng));
    g->pick = calloc((size_t)m->spec.V, sizeof(GenPick));
    if (decoder_build(&g->d, m) != 0 || !g->rng || !g->pick) { gen_free(g); return -1; }
    return 0;
}

// The largest softmax probability of one token's router logits z (E), in double as metrics.c.
static float confidence_of(const real *z, int E) {
    double mx = z[0], s = 0;
    for (int e = 1; e < E; e++) if (z[e] > mx) mx = z[e];
    for (int e = 0; e < E; e++) s += exp((double)z[e] - mx);
    return (float)(1.0 / s);  // the largest term is exp(0) = 1
}

// Copies the routing of the last decoder call at window position t of chunk row i (every layer)
// into row `row`, position `pos` of the outputs.
static void record(GenOutput *o, const Gen *g, const Model *m, int i, int t, int row, int pos) {
    int K = o->K, E = m->spec.E;
    for (int l = 0; l < o->L; l++) {
        DecodeRoute rt = decoder_route(&g->d, m, l, i, t);
        size_t at = ((size_t)row * o->L + l) * o->len + pos;  // rows x L x len
        for (int k = 0; k < K; k++) {
            o->routes[at * K + k] = rt.topk[k];
            o->gates[at * K + k] = (float)rt.gate[k];
        }
        o->confidence[at] = confidence_of(rt.z, E);
    }
}

// The window o->tokens[row][start .. start+w-1] of each chunk row at positions 0..w-1 through
// model_decode_prefill; records positions rec_from..w-1 of the window.
static int prefill(Gen *g, Model *m, GenOutput *o, const ForwardSwitches *sw, int r0, int nr, int start, int w,
                   int rec_from) {
    if (model_decode_prefill(m, &g->d, o->tokens + (size_t)r0 * o->len + start, (size_t)o->len, nr, w, sw) != 0)
        return -1;
    for (int i = 0; i < nr; i++)
        for (int t = rec_from; t < w; t++) record(o, g, m, i, t, r0 + i, start + t);
    return 0;
}

// The newest token of each chunk row (o->tokens[row][pos]) at window position w through
// model_decode_step; records its routing at pos.
static int step(Gen *g, const Model *m, GenOutput *o, const ForwardSwitches *sw, int r0, int nr, int w, int pos) {
    if (model_decode_step(m, &g->d, o->tokens + (size_t)r0 * o->len + pos, (size_t)o->len, nr, w, sw) != 0)
        return -1;
    for (int i = 0; i < nr; i++) record(o, g, m, i, w, r0 + i, pos);
    return 0;
}

void gen_output_free(GenOutput *o) {
    free(o->tokens); free(o->routes); free(o->gates); free(o->confidence); free(o->row_seed);
    memset(o, 0, sizeof *o);
}

int gen_run(GenOutput *o, Model *m, const GenPrompts *p, const GenArgs *a, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    const ModelSpec *sp = &m->spec;
    if (sp->kind != MODEL_DECODER) return io_fail(err, errlen, "generate: the model is not a decoder");
    int T = sp->T, n = p->n, Tn = a->tokens, M = a->samples;
    if (n < 1 || n > T)
        return io_fail(err, errlen, "prompt length %d: expected 1..model.seq_len = %d", n, T);
    if (Tn < 1 || M < 1 || p->N < 1) return io_fail(err, errlen, "generate: tokens, samples and prompts must be >= 1");
    if (a->keep < 0 || a->keep > T) return io_fail(err, errlen, "keep %d: expected 0..model.seq_len = %d", a->keep, T);
    if ((long long)p->N * M > 100000000LL || (long long)n + Tn > 100000000LL)
        return io_fail(err, errlen, "generate: %d prompts x %d samples x %d tokens is too much", p->N, M, n + Tn);
    int keep = a->keep ? a->keep : (T / 2 > 0 ? T / 2 : 1);
    int rows = p->N * M, len = n + Tn, L = sp->L, K = sp->K, V = sp->V;
    o->rows = rows; o->len = len; o->L = L; o->K = K;
    size_t cells = (size_t)rows * L * len;
    o->tokens = calloc((size_t)rows * len, sizeof(int32_t));
    o->routes = calloc(cells * K, sizeof(int32_t));
    o->gates = calloc(cells * K, sizeof(float));
    o->confidence = calloc(cells, sizeof(float));
    o->row_seed = calloc((size_t)rows, sizeof(uint64_t));
    const ForwardSwitches *sw = &a->switches;
    Gen g;
    int g_ok = 0;
    if (o->tokens && o->routes && o->gates && o->confidence && o->row_seed) g_ok = gen_init(&g, m) == 0;
    if (!g_ok) {
        gen_output_free(o);
        return io_fail(err, errlen, "generate: out of memory (%d rows x %d layers x %d positions)", rows, L, len);
    }
    for (int r = 0; r < rows; r++) {
        memcpy(o->tokens + (size_t)r * len, p->tokens + (size_t)(r / M) * n, sizeof(int32_t) * n);
        o->row_seed[r] = gen_row_seed(a->seed, r);
    }
    double t0 = io_now_s(), shown = t0;
    FILE *live = a->progress && isatty(fileno(a->progress)) ? a->progress : NULL;  // a log gets no \r lines
    int rc = 0;
    for (int r0 = 0; r0 < rows && rc == 0; r0 += g.R) {
        int nr = rows - r0 < g.R ? rows - r0 : g.R;
        for (int i = 0; i < nr; i++) rng_seed(&g.rng[i], o->row_seed[r0 + i], GEN_STREAM);
        if (prefill(&g, m, o, sw, r0, nr, 0, n, 0) != 0) { rc = -1; break; }
        int w = n;  // tokens in the window (the cache)
        for (int t = 0; t < Tn; t++) {
            int pos = n + t;
            for (int i = 0; i < nr; i++)
                o->tokens[(size_t)(r0 + i) * len + pos] =
                    gen_sample(g.d.logits + (size_t)i * V, V, a->temperature, a->top_p, &g.rng[i], g.pick);
            if (w == T) {  // full: restart from the last `keep` tokens, the new one last
                if (prefill(&g, m, o, sw, r0, nr, pos + 1 - keep, keep, keep - 1) != 0) { rc = -1; break; }
                w = keep;
            } else {
                // One position per row is too little work to share: with two threads the kernels'
                // parallel regions cost more than they save (measured: 64 x 256 tokens on the std
                // model take 2.1 s on one thread, 9.9 s on two). The bits do not depend on it.
#ifdef _OPENMP
                int threads = omp_get_max_threads();
                omp_set_num_threads(1);
#endif
                int bad = step(&g, m, o, sw, r0, nr, w, pos) != 0;
#ifdef _OPENMP
                omp_set_num_threads(threads);
#endif
                if (bad) { rc = -1; break; }
                w++;
            }
            double now = io_now_s();
            if (live && now - shown > 0.25) {
                shown = now;
                double done = (double)r0 * Tn + (double)nr * (t + 1);
                fprintf(live, "\rgenerate: rows %d-%d of %d, token %d/%d, %.0f tokens/s   ", r0 + 1, r0 + nr,
                        rows, t + 1, Tn, done / (now - t0));
                fflush(live);
            }
        }
    }
    if (live && shown > t0) { fputc('\n', live); fflush(live); }
    o->seconds = io_now_s() - t0;
    gen_free(&g);
    if (rc != 0) {
        gen_output_free(o);
        return io_fail(err, errlen, "generate: the decoder refused a window (a token outside the vocabulary?)");
    }
    return 0;
}

// ---- files --------------------------------------------------------------------------------------

static int write_npy(const char *dir, const char *name, const char *dtype, const void *data, int nd,
                     const size_t *shape, char *err, size_t errlen) {
    char path[IO_DEEP_PATH_MAX];
    if (!path_join(path, sizeof path, dir, name)) return io_fail(err, errlen, "cannot write %s: %s", path, strerror(ENAMETOOLONG));
    errno = 0;
    if (npy_write(path, dtype, data, nd, shape) != 0)
        return io_fail(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "write error");
    return 0;
}

int gen_diversity(Diversity *div /* N */, const GenOutput *o, const GenPrompts *p, int samples) {
    int32_t *scratch = malloc(sizeof(int32_t) * (size_t)samples);
    if (!scratch) return -1;
    for (int i = 0; i < p->N; i++)  // prompt i: rows i*M .. i*M + M-1, continuations from p->n
        diversity_of(&div[i], o->tokens + (size_t)i * samples * o->len, samples, o->len, p->n, scratch);
    free(scratch);
    return 0;
}

void gen_diversity_mean(const Diversity *div /* N */, int N, double *distinct, double *entropy, double *share) {
    *distinct = *entropy = *share = 0;
    for (int i = 0; i < N; i++) {
        *distinct += (double)div[i].distinct / N;
        *entropy += div[i].entropy / N;
        *share += div[i].share / N;
    }
}

static int write_all(const GenOutput *o, const GenPrompts *p, const GenArgs *a, const Config *c, int step,
                     const Diversity *div, char *err, size_t errlen);

// Opens DIR/NAME for an atomic write, path (IO_DEEP_PATH_MAX) holding its name; NULL with err
// naming the file and the system's reason (a path too long included).
static FILE *open_out(AtomicFile *af, char *path, const char *dir, const char *name, char *err, size_t errlen) {
    errno = 0;
    FILE *f = afile_open(af, path_join(path, IO_DEEP_PATH_MAX, dir, name));
    if (!f) io_fail(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "open error");
    return f;
}

// diversity.csv: one row per prompt.
static int write_diversity(const char *dir, const GenPrompts *p, int samples, const Diversity *div,
                           char *err, size_t errlen) {
    char path[IO_DEEP_PATH_MAX];
    AtomicFile af;
    FILE *f = open_out(&af, path, dir, "diversity.csv", err, errlen);
    if (!f) return -1;
    fprintf(f, "prompt,domain,samples,distinct_continuations,entropy_mean,distinct_share_mean\n");
    for (int i = 0; i < p->N; i++) {
        fprintf(f, "%d,", i);
        if (p->domain && p->domain[i] >= 0) fprintf(f, "%d", p->domain[i]);
        fprintf(f, ",%d,%d,%.6f,%.6f\n", samples, div[i].distinct, div[i].entropy, div[i].share);
    }
    errno = 0;
    if (afile_commit(&af) != 0) return io_fail(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "write error");
    return 0;
}

// samples.txt (text world): each row's bytes as UTF-8 text (text_write_escaped: invalid bytes as
// \xNN), its prompt and its continuation under marker lines, the domain by its corpus name.
static int write_samples_text(const char *dir, const GenOutput *o, const GenPrompts *p, int samples,
                              const Config *c, char *err, size_t errlen) {
    char path[IO_DEEP_PATH_MAX];
    AtomicFile af;
    FILE *f = open_out(&af, path, dir, "samples.txt", err, errlen);
    if (!f) return -1;
    fprintf(f, "# moesim generate: %d rows (%d prompts x %d samples) of bytes as UTF-8 text. Each row: a line\n"
               "# \"=== row R: prompt P, sample S, domain NAME\", then \"--- prompt\" and the prompt's bytes, then\n"
               "# \"--- continuation\" and the generated bytes. Bytes that are not UTF-8 text, and control\n"
               "# characters other than newline and tab, are written \\xNN; a backslash is written \\\\.\n",
            o->rows, p->N, samples);
    for (int r = 0; r < o->rows; r++) {
        const int i = r / samples, d = p->domain ? p->domain[i] : -1;
        char name[TEXT_NAME_MAX] = "";
        for (int e = 0, k = 0; d >= 0 && e < c->data_corpus.n; e++) {  // the d-th distinct name
            char nm[TEXT_NAME_MAX];
            const char *path_part;
            if (text_entry_parse(c->data_corpus.s[e], nm, &path_part, NULL, 0) != 0) break;
            int seen = 0;
            for (int j = 0; j < e && !seen; j++) {
                char nj[TEXT_NAME_MAX];
                seen = text_entry_parse(c->data_corpus.s[j], nj, &path_part, NULL, 0) == 0 && !strcmp(nj, nm);
            }
            if (!seen && k++ == d) { memcpy(name, nm, sizeof name); break; }
        }
        fprintf(f, "=== row %d: prompt %d, sample %d, domain %s\n--- prompt\n", r, i, r % samples,
                name[0] ? name : "-");
        const int32_t *x = o->tokens + (size_t)r * o->len;
        text_write_escaped(f, x, p->n);
        fputs("\n--- continuation\n", f);
        text_write_escaped(f, x + p->n, o->len - p->n);
        fputs("\n\n", f);
    }
    errno = 0;
    if (afile_commit(&af) != 0) return io_fail(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "write error");
    return 0;
}

int gen_write(const GenOutput *o, const GenPrompts *p, const GenArgs *a, const Config *c, int step,
              char *err, size_t errlen) {
    Diversity *div = malloc(sizeof *div * (size_t)p->N);
    if (!div || gen_diversity(div, o, p, a->samples) != 0) {
        free(div);
        return io_fail(err, errlen, "diversity: out of memory");
    }
    int rc = write_all(o, p, a, c, step, div, err, errlen);
    free(div);
    return rc;
}

static int write_all(const GenOutput *o, const GenPrompts *p, const GenArgs *a, const Config *c, int step,
                     const Diversity *div, char *err, size_t errlen) {
    const char *dir = a->out;
    errno = 0;
    if (mkdir_p(dir) != 0)
        return io_fail(err, errlen, "cannot create the folder %s: %s", dir, errno ? strerror(errno) : "mkdir error");
    size_t sh_tok[2] = {(size_t)o->rows, (size_t)o->len};
    size_t sh_rt[4] = {(size_t)o->rows, (size_t)o->L, (size_t)o->len, (size_t)o->K};
    if (write_npy(dir, "tokens.npy", "<i4", o->tokens, 2, sh_tok, err, errlen) ||
        write_npy(dir, "routes.npy", "<i4", o->routes, 4, sh_rt, err, errlen) ||
        write_npy(dir, "gates.npy", "<f4", o->gates, 4, sh_rt, err, errlen) ||
        write_npy(dir, "confidence.npy", "<f4", o->confidence, 3, sh_rt, err, errlen) ||
        write_diversity(dir, p, a->samples, div, err, errlen) ||
        (c->data_world == WORLD_TEXT && write_samples_text(dir, o, p, a->samples, c, err, errlen)))
        return -1;
    char path[IO_DEEP_PATH_MAX];
    AtomicFile af;
    FILE *f = open_out(&af, path, dir, "generate.json", err, errlen);
    if (!f) return -1;
    int M = a->samples, T = c->model_seq_len;
    int keep = a->keep ? a->keep : (T / 2 > 0 ? T / 2 : 1);
    double md, me, ms;
    gen_diversity_mean(div, p->N, &md, &me, &ms);
    JsonWriter w;
    json_begin(&w, f);
    json_object(&w);
    json_key(&w, "format"); json_str(&w, "moesim-generate-1");
    json_key(&w, "run_dir"); json_str(&w, a->run_dir ? a->run_dir : "");
    json_key(&w, "model_step"); json_int(&w, step);
    json_key(&w, "settings");
    json_object_flat(&w);
    json_key(&w, "prompts"); json_int(&w, p->N);
    json_key(&w, "samples"); json_int(&w, M);
    json_key(&w, "prompt_len"); json_int(&w, p->n);
    json_key(&w, "tokens"); json_int(&w, a->tokens);
    json_key(&w, "temperature"); json_double(&w, a->temperature);
    json_key(&w, "top_p"); json_double(&w, a->top_p);
    json_key(&w, "seed"); json_uint(&w, (unsigned long long)a->seed);
    json_key(&w, "prompt_domain");
    if (a->prompt_domain >= 0) json_int(&w, a->prompt_domain); else json_null(&w);
    json_key(&w, "prompt_file");
    if (a->prompt_file) json_str(&w, a->prompt_file); else json_null(&w);
    json_key(&w, "duplicate"); json_int(&w, a->duplicate > 1 ? a->duplicate : 1);
    json_end(&w);
    json_key(&w, "prompt_len"); json_int(&w, p->n);
    json_key(&w, "content_len"); json_int(&w, p->content > 0 ? p->content : p->n);
    json_key(&w, "tokens"); json_int(&w, a->tokens);
    json_key(&w, "len"); json_int(&w, o->len);
    json_key(&w, "diversity");
    json_object_flat(&w);
    json_key(&w, "samples"); json_int(&w, M);
    json_key(&w, "distinct_continuations"); json_fixed(&w, md, 6);
    json_key(&w, "entropy_mean"); json_fixed(&w, me, 6);
    json_key(&w, "distinct_share_mean"); json_fixed(&w, ms, 6);
    json_key(&w, "rule"); json_str(&w, "means over prompts of diversity.csv (sim/use/diversity.h)");
    json_end(&w);
    json_key(&w, "context");
    json_object_flat(&w);
    json_key(&w, "seq_len"); json_int(&w, T);
    json_key(&w, "keep"); json_int(&w, keep);
    json_key(&w, "rule");
    json_str(&w, "sliding window with a KV cache: when seq_len tokens fill it, the window restarts at position 0 "
                 "from the last keep tokens");
    json_end(&w);
    json_key(&w, "layers"); json_int(&w, o->L);
    json_key(&w, "top_k"); json_int(&w, o->K);
    json_key(&w, "experts"); json_int(&w, c->model_experts);
    json_key(&w, "seconds"); json_double(&w, o->seconds);
    json_key(&w, "files");
    json_object_flat(&w);
    json_key(&w, "tokens.npy"); json_str(&w, "int32 rows x len");
    json_key(&w, "routes.npy"); json_str(&w, "int32 rows x layers x len x top_k");
    json_key(&w, "gates.npy"); json_str(&w, "float32 rows x layers x len x top_k");
    json_key(&w, "confidence.npy"); json_str(&w, "float32 rows x layers x len");
    if (c->data_world == WORLD_TEXT) { json_key(&w, "samples.txt"); json_str(&w, "the rows as UTF-8 text"); }
    json_end(&w);
    json_key(&w, "rows");
    json_array(&w);
    for (int r = 0; r < o->rows; r++) {
        int pi = r / M, d = p->domain ? p->domain[pi] : -1;
        // one row a line, `{"row": ` first: compare.c finds the rows by that text
        json_object_flat(&w);
        json_key(&w, "row"); json_int(&w, r);
        json_key(&w, "prompt"); json_int(&w, pi);
        json_key(&w, "sample"); json_int(&w, r % M);
        json_key(&w, "domain");
        if (d >= 0) json_int(&w, d); else json_null(&w);
        json_key(&w, "seed"); json_uint(&w, (unsigned long long)o->row_seed[r]);
        json_end(&w);
    }
    json_end(&w);
    json_end(&w);
    errno = 0;
    if (afile_commit(&af) != 0) return io_fail(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "write error");
    return 0;
}
