// evaluate.h — the one evaluator of moesim, used by the trainer (at step 0, every eval.every steps
// and at the end) and by `moesim eval` (a saved model): one forward pass over the world's fixed
// evaluation set (data.seed), the per-layer measurements of measure/, and the files they go to.
//
//   evaluate.c  the evaluation set, the forward pass over it, the measurements → eval.csv,
//               experts.csv rows
//   writers.c   eval.csv / experts.csv opened and headed; the final evaluation's files: pairs.csv,
//               removal.csv, prune.csv, truncation.csv, dump/; config.toml; the JSON of a
//               config and of a layer's scalars, and truncation.csv's rows (for tools/ too)
//   saved.c     eval_saved (`moesim eval`)
//
// The Evaluator owns the model it evaluates and the world it is measured on: the trainer builds
// them here (evaluator_setup) and trains the model in place.
#ifndef MOESIM_EVALUATE_H
#define MOESIM_EVALUATE_H

#include <stdio.h>
#include "../config/schema.h"
#include "../io.h"
#include "../measure/metrics.h"
#include "../worlds/world.h"
#include "../../nn/model.h"

// The options of a run of the trainer or the evaluator (train_run, eval_saved).
typedef struct {
    const char *run_id;    // shown in progress lines and the manifest
    int threads;           // OpenMP threads for this run (0: leave the default)
    int quiet;             // no progress output
    FILE *progress;        // where progress lines go (NULL: stderr)
    int tty;               // 1: one line updated in place (a terminal); 0: plain periodic lines
    int resume;            // 1: continue from <dir>/checkpoint/ when there is one
} RunOptions;

// Everything allocated once in evaluator_setup.
typedef struct {
    const Config *c;
    char dir[IO_CHILD_PATH_MAX];       // where the files go: a run's folder
    ModelSpec ms;
    World world;
    Model model;
    int world_ok, model_ok;
    int router;                 // model.kind = router
    int B, T, N, L, D, E, K;
    // the evaluation set and what one evaluation pass caches, per layer
    int ev_seqs;                    // sequences (router kind: chunks of T points)
    int ev_from, ev_len;            // the measured positions of each sequence (world_eval_window):
                                    // all T, or the last copy of eval.duplicate_content tokens
    size_t ev_n;                    // measured tokens (points): ev_seqs x ev_len
    int32_t *ev_tokens, *ev_seq_domain;
    float *ev_hidden; int32_t *ev_target, *ev_cluster;
    int32_t *ev_tok_domain, *ev_tok_id;      // ev_n
    float *ev_u, *ev_z;                      // L x ev_n x D, L x ev_n x E
    float *ev_resid;                         // L x ev_n norms of the residual stream at the router
    int32_t *ev_topk;                        // L x ev_n x K
    float *chunk_hidden;                     // min(ev_seqs, B) x T x D padded chunk (router kind)
    LayerMetrics *lm;                        // L
    double *domain_freq;                     // L x Dom x E
    MetricsArrays arrays;                    // token pairs of the last layer evaluated (final)
    MetricsScratch scratch;                  // metrics_layer's scratch, sized once at setup
    double ev_ce;
    double ev_out_norm, ev_out_maxp;         // output logits at the ev_ce positions: mean ‖z_t‖, mean
                                             // max_v softmax(z_t)_v (NaN for the router kind)
    // text world: the byte unigram and bigram cross-entropies of the evaluation set's predictions
    // (world_text_baselines): [d] per domain, [domains] over all
    int has_baselines;
    double base_uni[CFG_STRS_MAX + 1], base_bi[CFG_STRS_MAX + 1];
    // files
    AtomicFile f_eval, f_experts;
} Evaluator;

// Builds the world and the model of c (parameters not initialized) and the evaluation set, for
// files in dir. Returns 0, or -1 with err "world: ...", "model: ..." or "memory: ...". Call
// evaluator_teardown in either case.
int evaluator_setup(Evaluator *R, const Config *c, const char *dir, char *err, size_t errlen);
void evaluator_teardown(Evaluator *R);
// What evaluator_setup allocates beside the world and the model, for c and a model of L blocks,
// from the same buffer list, without allocating it (sim/train/memory.c's estimate). Returns 0, or
// -1 if even this small sizing could not run.
typedef struct {
    double buffers;    // bytes: the evaluation set and its per-layer caches (L x n x D router inputs, ...)
    double scratch;    // bytes: the measurements' scratch (metrics_scratch_bytes)
    size_t ev_n;       // measured tokens (points) n
} EvalBytes;
int evaluator_bytes(const Config *c, int L, EvalBytes *out);

// The forward pass over the evaluation set. sw = NULL: fills the per-layer arrays and R->ev_ce.
// sw = the switches of an expert-removal pass: only returns its loss (R's arrays and R->ev_ce
// keep the plain evaluation). Returns the loss.
double eval_forward(Evaluator *R, const ForwardSwitches *sw);
// Fig. 29's "logit magnitude" on the output side (issue 22): over the positions whose next-token
// loss is measured (t = from .. from+count-1 of each of the nb sequences of T rows), adds the
// vocabulary logits' L2 norm ‖z_t‖ to *norm_sum and the next-token confidence max_v softmax(z_t)_v
// to *maxp_sum.
void output_logit_sums(const real *logits /* nb*T x V */, int T, int V, int nb, int from, int count,
                       double *norm_sum, double *maxp_sum);
// The measurement inputs of layer l, from the caches of the last eval_forward.
LayerData layer_data(const Evaluator *R, int l);
// eval_forward, then one row per layer into eval.csv and the domain × expert frequencies into
// experts.csv. final: also keeps the last layer's token pairs (R->arrays) for pairs.csv.
void eval_measure(Evaluator *R, int step, int final);

// writers.c. eval.csv and experts.csv as temporary files (committed by the caller): returns 0, or
// -1 with err "output: cannot create ...".
int eval_open_outputs(Evaluator *R, char *err, size_t errlen);
void eval_write_headers(Evaluator *R);
// The header lines of eval.csv and experts.csv, newline included (eval_write_headers writes them;
// a checkpoint's partial copies are checked against them).
void eval_csv_header(FILE *f);
void experts_csv_header(FILE *f);
// The files of the final evaluation beside eval.csv, shared by a finished run and `moesim eval`:
// pairs.csv, removal.csv, prune.csv (eval.prune_keep > 0), truncation.csv, dump/ (eval.dump).
// Returns 0, or -1 with err naming the first file that could not be written and why.
int write_final_evaluation(Evaluator *R, char *err, size_t errlen);
// <dir>/config.toml: the resolved config. Returns 0, or -1 with errno set.
int write_config(const Evaluator *R);

// The text world's record as members of the open object (manifest.json): "corpus", each domain's
// name, paths, files, documents (train, eval), bytes and content hash (fnv1a64), and "baselines",
// the unigram and bigram cross-entropies per byte beside the model's eval_ce, overall and per
// domain. Writes nothing for other worlds.
void json_text_world(JsonWriter *w, const Evaluator *R);

// The config as one JSON object {"model": {"top_k": 2, ...}, ...}, one member per schema key in
// schema order, one object per table (manifest.json's "config", export's manifest.json).
void json_config(JsonWriter *w, const Config *c);
// A layer's scalars as members "name": value of the open object, in metrics_list's order
// (%.17g, NaN and Inf as null): manifest.json's final_eval, analysis.json.
void json_metrics(JsonWriter *w, const LayerMetrics *m);

// truncation.csv, one layout for the trainer's evaluation and `moesim analyze`: the header, then
// per layer its rows layer,rank,m,agreement (ranks of truncation_ranks(D), m = 1..K).
#define TRUNCATION_CSV_HEADER "layer,rank,m,agreement\n"
// The rows of one layer (H: N x D hidden states, P: E x D router). Returns 0, or -1 with errno =
// ENOMEM.
int truncation_csv_layer(FILE *f, int layer, const float *H, const float *P, size_t N, int D, int E, int K);

// `moesim eval`: the evaluation of the model saved in model_dir (a model or checkpoint folder) on
// the world of c (the saved run's config, with any data.* / eval.* overrides), written into out
// (which must exist): eval.csv and experts.csv (rows of the model's step), pairs.csv, removal.csv,
// config.toml, and dump/ when eval.dump is set. With no overrides, eval.csv equals the final rows
// of the run's own eval.csv. Returns 0, or -1 with err naming the file and the reason.
int eval_saved(const Config *c, const char *model_dir, const char *out, const RunOptions *opt, char *err, size_t errlen);

// routes.json (eval.show_tokens = n > 0, token worlds): n evaluation sequences spread evenly over
// the set (sequence i * sequences / n), each with its domain, its T input tokens and, per layer and
// token, the top-K experts and their gates, from one forward pass of the model as it is. Written by
// write_final_evaluation. Returns 0, or -1 with errno set.
int write_routes(Evaluator *R);

#endif
