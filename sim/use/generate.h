// generate.h — autoregressive sampling from a trained decoder: `moesim generate`. Prompts come from
// the run's evaluation set (or an int32 .npy), each prompt gets M samples, and every position of
// every row records the experts each layer chose, their gates and the router's confidence.
//
// Context past model.seq_len (T): a sliding window with a KV cache. The model has learned
// positions 0..T-1 only (wpe), so a window always starts at position 0. The model decodes
// (nn/model.h, Decoder); this file samples and records:
//   - the prompt (n <= T tokens) is run through model_decode_prefill (model_forward) at positions
//     0..n-1, filling the cache of every layer's keys and values;
//   - each new token is run alone at the next position by model_decode_step, attending to the
//     cache (no recompute);
//   - when the window is full (T tokens) and another token arrives, the window restarts from the
//     last `keep` tokens of the row (the new one last), recomputed by a prefill at positions
//     0..keep-1 (the positional embeddings shift: a kept token changes position). keep = T/2 by
//     default, so every token is predicted from between T/2 and T tokens of context; keep = T is
//     the exact sliding window of the last T tokens (a full forward per token, slow).
// While n + tokens <= T no restart happens, and the outputs equal one model_forward over each whole
// row (same logits and routing at every position, up to float rounding).
//
// What routes mean. Each position is recorded once, when its token was the newest position of the
// window it was processed in: prompt positions from the forward over the prompt, generated token t
// from the step that fed it (at its index in that window, which is n+t until the first restart).
// Causal attention makes that the routing every later forward over the same window would give it
// too. The last generated token is fed as well, only for its routes.
//
// Determinism. Row i (prompt i / M, sample i mod M) draws from its own RNG, seeded by
// gen_row_seed(seed, i): the same seed gives the same tokens and routes for any thread count and
// any chunking (every parallel loop owns its outputs, as in nn/).
#ifndef MOESIM_GENERATE_H
#define MOESIM_GENERATE_H

#include <stdint.h>
#include <stdio.h>
#include "diversity.h"
#include "../config/config.h"
#include "../../nn/model.h"

#define GEN_STREAM 0x47454E0000000000ull  // "GEN": the sampling stream of a row's seed

// The command's settings (each field names its flag; defaults from gen_args_defaults).
typedef struct {
    const char *run_dir;        // RUN_DIR
    const char *out;            // --out DIR
    int prompts;                // --prompts N (0: not given; default 16, or the file's rows)
    int samples;                // --samples M, default 1
    int prompt_len;             // --prompt-len n (0: not given; default 8, or the file's columns)
    int tokens;                 // --tokens T, default 32
    double temperature;         // --temperature t, default 1; 0 = greedy
    double top_p;               // --top-p p in (0, 1], default 1
    uint64_t seed;              // --seed s, default 1
    int prompt_domain;          // --prompt-domain d (-1: any)
    int per_domain;             // --prompts-per-domain N (0: not given): the first N of every domain
    const char *prompt_file;    // --prompt-file P.npy (NULL: the evaluation set)
    int keep;                   // tokens a restarted window keeps (0: seq_len/2); not a flag yet
    int duplicate;              // --duplicate N, default 1: each prompt repeated N whole times
    FILE *progress;             // one line updated in place when it is a terminal (NULL: quiet)
    ForwardSwitches switches;   // of every forward (zero: plain); not a flag: pruning's on-policy
                                // rollouts set allowed; freeze_selection is refused
} GenArgs;

void gen_args_defaults(GenArgs *a);
// The checks that need no model: temperature >= 0, counts >= 1, --prompt-domain and --prompt-file
// not both (--top-p's range is checked once, by the command line's option table). Returns 0, or -1 with err naming the flag and what was expected.
int gen_check_args(const GenArgs *a, char *err, size_t errlen);

// The prompts: N x n tokens, each row's domain (-1: unknown) and the resolved N and n. With
// --duplicate k, n = k x content, each row its content (the first `content` tokens) k times.
typedef struct {
    int N, n;
    int content;                // tokens of one copy (n without --duplicate)
    int32_t *tokens;            // N x n
    int32_t *domain;            // N
} GenPrompts;

// Builds the prompts for the model of config c: the first N evaluation sequences of the run's
// world (world_eval_set; with --prompt-domain d, the first N of domain d's evaluation stream,
// extended past eval.sequences if N asks for more), cut to n tokens; or the rows of
// --prompt-file (int32, 2-D, every value in 0..V-1). Checks n <= model.seq_len and everything
// that needs the model's config. --duplicate k then repeats every prompt k whole times (the paper's
// Fig. 29), checking k x n <= model.seq_len. Returns 0, or -1 with err naming the flag or file.
int gen_prompts(GenPrompts *p, const GenArgs *a, const Config *c, char *err, size_t errlen);
// out row i = in row i k times: out[i][j] = in[i][j mod n]. Exposed for tests.
void gen_repeat_rows(int32_t *out /* N x (k*n) */, const int32_t *in /* N x n */, int N, int n, int k);
void gen_prompts_free(GenPrompts *p);

// What generation produced. rows = N·M, len = n + tokens.
typedef struct {
    int rows, len, L, K;
    int32_t *tokens;            // rows x len
    int32_t *routes;            // rows x L x len x K   experts chosen (in top-K order)
    float *gates;               // rows x L x len x K   their gate weights (as the layer applied them)
    float *confidence;          // rows x L x len       largest softmax(router logits) probability
    uint64_t *row_seed;         // rows                 each row's sampling seed
    double seconds;             // wall time of the generation
} GenOutput;

// Row i's sampling seed; its draws are rng_seed(&r, gen_row_seed(seed, i), GEN_STREAM).
uint64_t gen_row_seed(uint64_t seed, int row);

// Samples a->tokens new tokens after every prompt, a->samples times each (rows ordered prompt by
// prompt), with the model m (a decoder; its activation caches are overwritten). Rows run in
// chunks of at most spec.max_batch. Allocates the outputs and every buffer before the loop.
// Returns 0, or -1 with err (bad settings, out of memory).
int gen_run(GenOutput *o, Model *m, const GenPrompts *p, const GenArgs *a, char *err, size_t errlen);
void gen_output_free(GenOutput *o);

// Writes tokens.npy, routes.npy, gates.npy, confidence.npy, diversity.csv (per prompt, the
// diversity of its samples' continuations: use/diversity.h), then generate.json (settings,
// prompt_len, the diversity's means over prompts, per row its prompt, sample, domain and seed),
// each atomically, into a->out (created if missing). step: the model's training step (recorded).
// Returns 0, or -1 with err naming the file and the system's reason.
int gen_write(const GenOutput *o, const GenPrompts *p, const GenArgs *a, const Config *c, int step,
              char *err, size_t errlen);

// Per prompt, the diversity of its `samples` continuations (positions p->n .. len-1 of its rows).
// div: p->N entries. Returns 0, or -1 if out of memory.
int gen_diversity(Diversity *div /* N */, const GenOutput *o, const GenPrompts *p, int samples);
// Their means over the N prompts (distinct continuations as a mean too).
void gen_diversity_mean(const Diversity *div /* N */, int N, double *distinct, double *entropy, double *share);

// One sampling decision from logits (V) at temperature t and nucleus top_p: t = 0 is the argmax
// (ties: lowest index) and draws nothing; otherwise softmax(logits / t) restricted to the
// smallest set of most probable tokens (ties: lower index first) whose mass reaches top_p, drawn
// with one uniform of r. scratch: V entries. Exposed for tests.
typedef struct { double p; int32_t i; } GenPick;
int gen_sample(const real *logits, int V, double temperature, double top_p, Rng *r, GenPick *scratch);

#endif
