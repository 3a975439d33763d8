// train.c — one training run, top to bottom: build the world, the model and the optimizer (all
// memory allocated here, before the first step), then per step: batch → zero grads → forward →
// NaN check → backward → gradient norm → NaN check → clip → optimizer step → aux-free bias →
// log; evaluations at step 0, every eval.every steps and at the end. Files are written
// atomically; manifest.json comes last and is what marks a run as done.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "train.h"
#include "checkpoint.h"
#include "prune.h"
#include "../config/config.h"
#include "../io.h"
#include "../measure/metrics.h"
#include "../measure/truncation.h"
#include "../../nn/layers.h"
#include "../../optim/optim.h"

#ifndef MOESIM_VERSION
#define MOESIM_VERSION "0.1.0"
#endif
#ifndef MOESIM_BUILD_FLAGS
#define MOESIM_BUILD_FLAGS "unknown"
#endif

volatile sig_atomic_t train_stop_signal = 0;

// ---- config → lower layers --------------------------------------------------------------------

void model_spec_from_config(ModelSpec *s, const Config *c) {
    memset(s, 0, sizeof *s);
    s->kind = c->model_kind;
    s->V = c->model_vocab; s->D = c->model_d_model; s->L = c->model_layers; s->H = c->model_heads;
    s->attention = c->model_attention; s->T = c->model_seq_len;
    s->E = c->model_experts; s->K = c->model_top_k; s->F = c->model_d_ff; s->S = c->model_shared_experts;
    s->score = c->model_score; s->gate_norm = c->model_gate_norm;
    s->max_batch = c->train_batch;
    s->bal_method = c->balance_method; s->bal_scope = c->balance_scope; s->p_source = c->balance_p_source;
    s->alpha = c->balance_alpha; s->z_alpha = c->balance_z_alpha; s->seq_alpha = c->balance_seq_alpha;
    s->bias_rate = c->balance_bias_rate; s->bias_update = c->balance_bias_update; s->bias_center = c->balance_bias_center;
}

void world_spec_from_config(WorldSpec *w, const Config *c) {
    memset(w, 0, sizeof *w);
    w->kind = c->data_world; w->V = c->model_vocab; w->T = c->model_seq_len; w->domains = c->data_domains;
    w->mix = c->data_mix; w->seed = (uint64_t)c->data_seed;
    w->shared_vocab = c->data_shared_vocab; w->shared_prob = c->data_shared_prob; w->branching = c->data_branching;
    w->zipf = c->data_zipf; w->order = c->data_order;
    w->repeat_prob = c->data_repeat_prob; w->repeat_len = c->data_repeat_len;
    w->D = c->model_d_model; w->shared_norm = c->data_shared_norm; w->cluster_norm = c->data_cluster_norm;
    w->noise = c->data_noise; w->task = c->data_task; w->E = c->model_experts;
    w->eval_sequences = c->eval_sequences; w->eval_duplicate = c->eval_duplicate;
    w->eval_content = c->eval_duplicate_content; w->eval_transform = c->eval_transform;
}

void optim_config_from_config(OptimConfig *o, const Config *c) {
    memset(o, 0, sizeof *o);
    o->name = c->optim_name; o->beta1 = c->optim_beta1; o->beta2 = c->optim_beta2; o->eps = c->optim_eps;
    o->weight_decay = c->optim_weight_decay; o->momentum = c->optim_momentum; o->nesterov = c->optim_nesterov;
    o->ns_steps = c->optim_ns_steps; o->muon_scale = c->optim_muon_scale; o->muon_router = c->optim_muon_router;
}

// ---- the run's state: everything allocated once in run_setup ------------------------------------

typedef struct {
    const Config *c;
    const TrainOptions *opt;
    ModelSpec ms;
    World world;
    Model model;
    Optimizer optim;
    int world_ok, model_ok, optim_ok;
    int router;                 // model.kind = router
    int B, T, N, L, D, E, K;
    BatchSource batches;            // the training batches
    int batches_ok;
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
    float *chunk_hidden;                     // N x D padded chunk (router kind)
    LayerMetrics *lm;                        // L
    double *domain_freq;                     // L x Dom x E
    MetricsArrays arrays;                    // token pairs of the last layer evaluated (final)
    MetricsScratch scratch;                  // metrics_layer's scratch, sized once at setup
    double ev_ce;
    // files
    AtomicFile f_metrics, f_layers, f_eval, f_experts;
    char dir[1024];
    int resumed_from;               // step of the checkpoint this run resumed from, -1: none
} Run;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void iso_time(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int setfail(RunResult *r, const char *what, const char *msg) {
    r->status = RUN_FAILED;
    snprintf(r->reason, sizeof r->reason, "%s: %s", what, msg);
    return -1;
}

static void *xcalloc(size_t n, size_t size, int *bad) {
    void *p = calloc(n ? n : 1, size);
    if (!p) *bad = 1;
    return p;
}

static int run_setup(Run *R, RunResult *res) {
    const Config *c = R->c;
    char err[256];
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    if (world_build(&R->world, &ws, err, sizeof err) != 0) return setfail(res, "world", err);
    R->world_ok = 1;
    model_spec_from_config(&R->ms, c);
    if (model_build(&R->model, &R->ms, err, sizeof err) != 0) return setfail(res, "model", err);
    R->model_ok = 1;
    model_init_params(&R->model, (uint64_t)c->train_seed, c->model_init_std, c->model_embed_shared);
    OptimConfig oc;
    optim_config_from_config(&oc, c);
    if (optim_init(&R->optim, &oc, &R->model.table, err, sizeof err) != 0) return setfail(res, "optim", err);
    R->optim_ok = 1;

    R->router = c->model_kind == MODEL_ROUTER;
    R->B = c->train_batch; R->T = c->model_seq_len; R->N = R->B * R->T;
    R->L = R->model.spec.L; R->D = c->model_d_model; R->E = c->model_experts; R->K = c->model_top_k;
    int bad = 0, L = R->L, D = R->D, E = R->E, K = R->K, T = R->T;
    if (batch_source_init(&R->batches, c, &R->world) != 0) bad = 1;
    else R->batches_ok = 1;
    if (R->router) R->chunk_hidden = xcalloc((size_t)R->N * D, sizeof(float), &bad);
    int M = world_eval_count(&R->world);
    if (R->router) {
        R->ev_from = 0; R->ev_len = T;
        R->ev_n = (size_t)M;
        R->ev_seqs = (M + T - 1) / T;
        R->ev_hidden = xcalloc((size_t)M * D, sizeof(float), &bad);
        R->ev_target = xcalloc((size_t)M, sizeof(int32_t), &bad);
        R->ev_cluster = xcalloc((size_t)M, sizeof(int32_t), &bad);
    } else {
        R->ev_seqs = M;
        world_eval_window(&R->world, &R->ev_from, &R->ev_len);
        R->ev_n = (size_t)M * R->ev_len;
        R->ev_tokens = xcalloc((size_t)M * (T + 1), sizeof(int32_t), &bad);
        R->ev_seq_domain = xcalloc((size_t)M, sizeof(int32_t), &bad);
    }
    R->ev_tok_domain = xcalloc(R->ev_n, sizeof(int32_t), &bad);
    R->ev_tok_id = xcalloc(R->ev_n, sizeof(int32_t), &bad);
    R->ev_u = xcalloc((size_t)L * R->ev_n * D, sizeof(float), &bad);
    R->ev_z = xcalloc((size_t)L * R->ev_n * E, sizeof(float), &bad);
    R->ev_resid = xcalloc((size_t)L * R->ev_n, sizeof(float), &bad);
    R->ev_topk = xcalloc((size_t)L * R->ev_n * K, sizeof(int32_t), &bad);
    R->lm = xcalloc((size_t)L, sizeof(LayerMetrics), &bad);
    R->domain_freq = xcalloc((size_t)L * R->world.domains * E, sizeof(double), &bad);
    int P = c->eval_pairs;
    R->arrays.pairs = xcalloc((size_t)P * 2, sizeof(int32_t), &bad);
    R->arrays.rms_hidden = xcalloc((size_t)P, sizeof(double), &bad);
    R->arrays.rms_logits = xcalloc((size_t)P, sizeof(double), &bad);
    R->arrays.prop1_lhs = xcalloc((size_t)P, sizeof(double), &bad);
    R->arrays.prop1_rhs = xcalloc((size_t)P, sizeof(double), &bad);
    MetricsOptions mo;                       // metrics_layer's scratch, for the shape of every
                                             // layer eval_measure measures
    metrics_default_options(&mo);
    mo.pairs = P;
    LayerData shape_of = {.N = R->ev_n, .D = D, .E = E, .T = R->ev_len, .domain = R->ev_tok_domain,
                          .n_domains = R->world.domains};
    MetricsShape shape = metrics_shape(&shape_of, &mo);
    if (metrics_scratch_init(&R->scratch, &shape) != 0) bad = 1;
    if (bad) return setfail(res, "memory", "cannot allocate the run's buffers");
    // the evaluation set, fixed by data.seed
    if (R->router) {
        world_eval_hidden(&R->world, R->ev_hidden, R->ev_target, R->ev_cluster);
        for (size_t i = 0; i < R->ev_n; i++) { R->ev_tok_domain[i] = R->ev_cluster[i]; R->ev_tok_id[i] = -1; }
    } else {
        world_eval_set(&R->world, R->ev_tokens, R->ev_seq_domain);
        const int from = R->ev_from, len = R->ev_len;
        for (int s = 0; s < M; s++)
            for (int t = 0; t < len; t++) {  // the measured positions from .. from+len-1
                R->ev_tok_domain[(size_t)s * len + t] = R->ev_seq_domain[s];
                R->ev_tok_id[(size_t)s * len + t] = R->ev_tokens[(size_t)s * (T + 1) + from + t];
            }
    }
    return 0;
}

static void run_teardown(Run *R) {
    if (R->optim_ok) optim_free(&R->optim);
    if (R->model_ok) model_free(&R->model);
    if (R->world_ok) world_free(&R->world);
    if (R->batches_ok) batch_source_free(&R->batches);
    free(R->chunk_hidden);
    free(R->ev_tokens); free(R->ev_seq_domain); free(R->ev_hidden); free(R->ev_target); free(R->ev_cluster);
    free(R->ev_tok_domain); free(R->ev_tok_id); free(R->ev_u); free(R->ev_z); free(R->ev_resid); free(R->ev_topk);
    free(R->lm); free(R->domain_freq);
    free(R->arrays.pairs); free(R->arrays.rms_hidden); free(R->arrays.rms_logits);
    free(R->arrays.prop1_lhs); free(R->arrays.prop1_rhs);
    metrics_scratch_free(&R->scratch);
}

// ---- evaluation -------------------------------------------------------------------------------

// The next-token cross-entropy of the window's m - 1 predictions inside each sequence's measured
// copy (eval.duplicate_content): inputs from .. from+len-2 of the nb sequences of the batch just
// run, from the model's logits (B*T x V), summed in double in row order.
static double window_nll_sum(const Model *m, const int32_t *tokens /* nb x (T+1) */, int nb, int from, int len) {
    const int T = m->spec.T, V = m->spec.V;
    double sum = 0;
    for (int s = 0; s < nb; s++)
        for (int t = from; t < from + len - 1; t++) {  // the target x[t+1] is in the same copy
            sum += crossentropy_row(m->logits + ((size_t)s * T + t) * V, V, tokens[(size_t)s * (T + 1) + t + 1]);
        }
    return sum;
}

// One forward pass over the evaluation set in chunks of at most train.batch sequences, copying
// each layer's router input, logits and choices at the measured positions (R->ev_from, R->ev_len
// of each sequence) out of the model's caches. R->ev_ce: the loss over all T positions, or with
// eval.duplicate_content over the measured copy's m - 1 predictions (window_nll_sum).
static void eval_forward(Run *R) {
    Model *m = &R->model;
    int T = R->T, D = R->D, E = R->E, K = R->K;
    const int from = R->ev_from, len = R->ev_len, window = !R->router && R->c->eval_duplicate_content > 0;
    double ce_sum = 0;
    size_t done = 0;
    for (int s0 = 0; s0 < R->ev_seqs; s0 += R->B) {
        int nb = R->ev_seqs - s0 < R->B ? R->ev_seqs - s0 : R->B;
        Batch b = {.B = nb, .micro = nb, .shuffle_seed = 1};
        size_t rows = (size_t)nb * T;
        if (R->router) {
            // points beyond the set (the last chunk's padding) are zeros and are not copied out
            size_t have = R->ev_n - done < rows ? R->ev_n - done : rows;
            memset(R->chunk_hidden, 0, sizeof(float) * rows * D);
            memcpy(R->chunk_hidden, R->ev_hidden + done * D, sizeof(float) * have * D);
            b.hidden = R->chunk_hidden;
            rows = have;
        } else {
            b.tokens = R->ev_tokens + (size_t)s0 * (T + 1);
        }
        Losses l;
        model_forward(m, &b, &l);
        if (window) ce_sum += window_nll_sum(m, b.tokens, nb, from, len);
        else ce_sum += l.ce * rows;
        // the measured rows: every row of the chunk, or len rows from `from` of each sequence
        const int parts = window ? nb : 1;
        const size_t take = window ? (size_t)len : rows;
        for (int s = 0; s < parts; s++) {
            const size_t src = window ? (size_t)s * T + from : 0;  // first row in the model's caches
            for (int layer = 0; layer < R->L; layer++) {
                const BlockActs *a = &m->blocks[layer];
                memcpy(R->ev_u + ((size_t)layer * R->ev_n + done) * D, a->u + src * D, sizeof(float) * take * D);
                memcpy(R->ev_z + ((size_t)layer * R->ev_n + done) * E, a->z + src * E, sizeof(float) * take * E);
                memcpy(R->ev_topk + ((size_t)layer * R->ev_n + done) * K, a->topk + src * K, sizeof(int32_t) * take * K);
                // the residual stream the router's norm sees (router kind: the given hidden state)
                const real *h = (R->router ? a->u : a->h_mid) + src * D;
                float *rn = R->ev_resid + (size_t)layer * R->ev_n + done;
                for (size_t i = 0; i < take; i++) {
                    double ss = 0;
                    for (int j = 0; j < D; j++) ss += (double)h[i * D + j] * h[i * D + j];
                    rn[i] = (float)sqrt(ss);
                }
            }
            done += take;
        }
    }
    R->ev_ce = window ? ce_sum / ((double)R->ev_seqs * (len - 1)) : ce_sum / (double)R->ev_n;
}

static LayerData layer_data(const Run *R, int l) {
    LayerData d = {0};
    d.N = R->ev_n; d.D = R->D; d.E = R->E; d.K = R->K; d.T = R->ev_len;  // a sequence: its measured rows
    d.H = R->ev_u + (size_t)l * R->ev_n * R->D;
    d.P = R->model.params + R->model.table.info[R->model.bp[l].router].offset;
    d.Z = R->ev_z + (size_t)l * R->ev_n * R->E;
    d.topk = R->ev_topk + (size_t)l * R->ev_n * R->K;
    d.domain = R->ev_tok_domain;
    d.n_domains = R->world.domains;
    d.token = R->router ? NULL : R->ev_tok_id;
    d.resid_norm = R->ev_resid + (size_t)l * R->ev_n;
    return d;
}

static void eval_measure(Run *R, int step, int final) {
    eval_forward(R);
    MetricsOptions mo;
    metrics_default_options(&mo);
    mo.pairs = R->c->eval_pairs;
    mo.top_p = R->c->eval_top_p;
    FILE *f = R->f_eval.f, *fx = R->f_experts.f;
    const char *names[METRICS_NSCALARS];
    double values[METRICS_NSCALARS];
    for (int l = 0; l < R->L; l++) {
        LayerData d = layer_data(R, l);
        Rng rng;
        rng_seed(&rng, (uint64_t)R->c->data_seed, 0xE7A1 + l);  // same pairs at every evaluation
        double *dfreq = R->domain_freq + (size_t)l * R->world.domains * R->E;
        MetricsArrays arr = {0};
        arr.domain_freq = dfreq;
        if (final && l == R->L - 1) { arr = R->arrays; arr.domain_freq = dfreq; }
        char err[256];
        if (metrics_layer(&R->lm[l], &arr, &d, &mo, &R->scratch, &rng, err, sizeof err) != 0)
            fprintf(stderr, "moesim: evaluation at step %d, layer %d: %s\n", step, l, err);
        int n = metrics_list(names, NULL, values, &R->lm[l]);
        fprintf(f, "%d,%d,%.9g", step, l, R->ev_ce);
        for (int i = 0; i < n; i++) fprintf(f, ",%.9g", values[i]);
        fputc('\n', f);
        for (int dom = 0; dom < R->world.domains; dom++)
            for (int e = 0; e < R->E; e++) fprintf(fx, "%d,%d,%d,%d,%.6g\n", step, l, dom, e, dfreq[(size_t)dom * R->E + e]);
    }
}

// ---- files ------------------------------------------------------------------------------------

// The four files that grow during the run, opened as temporary files. Their header rows are
// written by write_headers on a fresh start; a resumed run copies the checkpoint's rows instead.
static AtomicFile *growing_file(Run *R, int i) {
    AtomicFile *files[CKPT_NPARTIAL] = {&R->f_metrics, &R->f_layers, &R->f_eval, &R->f_experts};
    return files[i];
}

static int open_outputs(Run *R, RunResult *res) {
    char p[1100];
    for (int i = 0; i < CKPT_NPARTIAL; i++)
        if (!afile_open(growing_file(R, i), path_join(p, sizeof p, R->dir, ckpt_partial_names[i]))) {
            char msg[1300];
            snprintf(msg, sizeof msg, "cannot create %s: %s", growing_file(R, i)->tmp, strerror(errno));
            return setfail(res, "output", msg);
        }
    return 0;
}

static void write_headers(Run *R) {
    const Config *c = R->c;
    fprintf(R->f_metrics.f, "step,loss,ce");
    if (c->balance_method == BAL_SWITCH || c->balance_method == BAL_L2) fprintf(R->f_metrics.f, ",aux");
    if (c->balance_z_alpha > 0) fprintf(R->f_metrics.f, ",z");
    if (c->balance_seq_alpha > 0) fprintf(R->f_metrics.f, ",seq_aux");
    fprintf(R->f_metrics.f, ",lr,grad_norm,maxvio_batch,tokens_per_s\n");
    fprintf(R->f_layers.f, "step,layer,aux,z,seq_aux,maxvio_batch,bias_min,bias_max");
    for (int e = 0; e < R->E; e++) fprintf(R->f_layers.f, ",load_%d", e);
    fputc('\n', R->f_layers.f);
    const char *names[METRICS_NSCALARS];
    LayerMetrics dummy = {0};
    int n = metrics_list(names, NULL, NULL, &dummy);
    fprintf(R->f_eval.f, "step,layer,eval_ce");
    for (int i = 0; i < n; i++) fprintf(R->f_eval.f, ",%s", names[i]);
    fputc('\n', R->f_eval.f);
    fprintf(R->f_experts.f, "step,layer,domain,expert,frequency\n");
}

static int write_pairs(const Run *R) {
    char p[1100];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "pairs.csv"));
    if (!f) return -1;
    fprintf(f, "layer,i,j,rms_hidden,rms_logits,prop1_lhs,prop1_rhs\n");
    for (int i = 0; i < R->c->eval_pairs; i++)
        fprintf(f, "%d,%d,%d,%.6g,%.6g,%.6g,%.6g\n", R->L - 1, R->arrays.pairs[2 * i], R->arrays.pairs[2 * i + 1],
                R->arrays.rms_hidden[i], R->arrays.rms_logits[i], R->arrays.prop1_lhs[i], R->arrays.prop1_rhs[i]);
    return afile_commit(&a);
}

// Expert-removal sensitivity (DeepSeekMoE): the evaluation cross-entropy when every token's
// round(r·E) best experts are masked in every layer and the top K re-picked, for each r of
// eval.removal. Decoder only (the router kind has no language-model loss).
static int write_removal(Run *R) {
    char p[1100];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "removal.csv"));
    if (!f) return -1;
    fprintf(f, "r,masked_experts,eval_ce,delta_ce\n");
    double base = R->ev_ce;
    fprintf(f, "0,0,%.9g,0\n", base);
    for (int i = 0; i < R->c->eval_removal.n && !R->router; i++) {
        double r = R->c->eval_removal.v[i];
        int masked = (int)floor(r * R->E + 0.5);
        if (masked < 1 || masked + R->K > R->E) continue;
        R->model.mask_top = masked;
        eval_forward(R);
        fprintf(f, "%g,%d,%.9g,%.9g\n", r, masked, R->ev_ce, R->ev_ce - base);
    }
    R->model.mask_top = 0;
    eval_forward(R);  // leave the caches as the unmasked model has them
    return afile_commit(&a);
}

// Fig. 24: per layer, the share of evaluation tokens whose m-th expert by logit survives keeping
// only the top-r right singular directions of the router inputs (measure/truncation.h).
static int write_truncation(const Run *R) {
    char p[1100];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "truncation.csv"));
    if (!f) return -1;
    fprintf(f, "layer,rank,m,agreement\n");
    int rs[24], nr = truncation_ranks(rs, R->D);
    double *agree = malloc(sizeof(double) * (size_t)nr * R->K);
    int bad = !agree;
    for (int l = 0; l < R->L && !bad; l++) {
        LayerData d = layer_data(R, l);
        bad = truncation_agreement(agree, d.H, d.P, d.N, d.D, d.E, d.K, rs, nr) != 0;
        for (int i = 0; i < nr && !bad; i++)
            for (int m = 0; m < R->K; m++) fprintf(f, "%d,%d,%d,%.6f\n", l, rs[i], m + 1, agree[(size_t)i * R->K + m]);
    }
    free(agree);
    if (bad) { afile_abort(&a); errno = ENOMEM; return -1; }
    return afile_commit(&a);
}

static int write_config(const Run *R) {
    char p[1100];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "config.toml"));
    if (!f) return -1;
    config_write_toml(f, R->c);
    return afile_commit(&a);
}

static int write_dumps(const Run *R) {
    char p[1100], name[128];
    snprintf(p, sizeof p, "%s/dump", R->dir);
    if (mkdir_p(p) != 0) return -1;
    int bad = 0;
    for (int l = 0; l < R->L; l++) {
        LayerData d = layer_data(R, l);
        size_t sh[2] = {R->ev_n, (size_t)R->D};
        snprintf(name, sizeof name, "dump/blocks.%d.hidden.npy", l);
        bad |= npy_write(path_join(p, sizeof p, R->dir, name), "<f4", d.H, 2, sh);
        size_t shp[2] = {(size_t)R->E, (size_t)R->D};
        snprintf(name, sizeof name, "dump/blocks.%d.router.npy", l);
        bad |= npy_write(path_join(p, sizeof p, R->dir, name), "<f4", d.P, 2, shp);
    }
    size_t sh1[1] = {R->ev_n};
    bad |= npy_write(path_join(p, sizeof p, R->dir, "dump/domains.npy"), "<i4", R->ev_tok_domain, 1, sh1);
    return bad ? -1 : 0;
}

// The files of the final evaluation beside eval.csv, shared by a finished run and `moesim eval`:
// pairs.csv, removal.csv, prune.csv (eval.prune_keep > 0), truncation.csv, dump/ (eval.dump).
// Returns 0, or -1 with err naming the first file that could not be written and why.
static int write_final_evaluation(Run *R, char *err, size_t errlen) {
    const char *name = NULL;
    if (write_pairs(R) != 0) name = "pairs.csv";
    else if (write_removal(R) != 0) name = "removal.csv";
    else if (prune_write(R->c, &R->model, &R->world, R->dir, err, errlen) != 0) return -1;
    else if (write_truncation(R) != 0) name = "truncation.csv";
    else if (R->c->eval_dump && write_dumps(R) != 0) name = "dump/";
    if (!name) return 0;
    snprintf(err, errlen, "cannot write %s/%s: %s", R->dir, name, strerror(errno));
    return -1;
}

static int write_manifest(const Run *R, const RunResult *res, const char *start, double wall) {
    char p[1100], end[64];
    iso_time(end, sizeof end);
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "manifest.json"));
    if (!f) return -1;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    fprintf(f, "{\n  \"run\": ");
    json_string(f, R->opt->run_id ? R->opt->run_id : "run");
    fprintf(f, ",\n  \"status\": ");
    char status[2100];
    if (res->status == RUN_OK) snprintf(status, sizeof status, "ok");
    else if (res->status == RUN_DIVERGED) snprintf(status, sizeof status, "diverged");
    else if (res->status == RUN_INTERRUPTED) snprintf(status, sizeof status, "interrupted");
    else snprintf(status, sizeof status, "failed: %s", res->reason);
    json_string(f, status);
    fprintf(f, ",\n  \"reason\": ");
    json_string(f, res->reason);
    if (R->resumed_from >= 0) fprintf(f, ",\n  \"resumed_from\": %d", R->resumed_from);
    else fprintf(f, ",\n  \"resumed_from\": null");
    fprintf(f, ",\n  \"seed\": %d,\n  \"data_seed\": %d,\n  \"version\": ", R->c->train_seed, R->c->data_seed);
    json_string(f, MOESIM_VERSION);
    fprintf(f, ",\n  \"build_flags\": ");
    json_string(f, MOESIM_BUILD_FLAGS);
#ifdef _OPENMP
    fprintf(f, ",\n  \"openmp\": true");
#else
    fprintf(f, ",\n  \"openmp\": false");
#endif
    fprintf(f, ",\n  \"threads\": %d,\n  \"start\": ", threads);
    json_string(f, start);
    fprintf(f, ",\n  \"end\": ");
    json_string(f, end);
    fprintf(f, ",\n  \"wall_s\": %.3f,\n  \"steps_done\": %d,\n  \"final_loss\": ", wall, res->steps_done);
    json_number(f, res->loss);
    fprintf(f, ",\n  \"final_ce\": ");
    json_number(f, res->ce);
    fprintf(f, ",\n  \"eval_ce\": ");
    json_number(f, R->ev_ce);
    fprintf(f, ",\n  \"tokens_per_s\": %.1f,\n  \"parameters\": %zu,\n  \"final_eval\": [\n", res->tokens_per_s, R->model.table.total);
    for (int l = 0; l < R->L; l++) {
        fprintf(f, "    {\n      \"layer\": %d,\n", l);
        metrics_write_json(f, &R->lm[l], "      ");
        fprintf(f, "\n    }%s\n", l + 1 < R->L ? "," : "");
    }
    fprintf(f, "  ],\n  \"config\": ");
    config_write_json(f, R->c, 2);
    fprintf(f, "\n}\n");
    return afile_commit(&a);
}

// ---- the loop ---------------------------------------------------------------------------------

static void progress_line(const Run *R, int step, int steps, const Losses *l, double tps, double eta) {
    if (R->opt->quiet) return;
    FILE *out = R->opt->progress ? R->opt->progress : stderr;
    if (R->opt->tty) fputs("\r\033[K", out);  // rewrite the line in place
    fprintf(out, "%s step %d/%d  loss %.4f  ce %.4f", R->opt->run_id ? R->opt->run_id : "run", step, steps, l->loss, l->ce);
    if (R->c->balance_method == BAL_SWITCH || R->c->balance_method == BAL_L2) fprintf(out, "  aux %.4f", l->aux);
    fprintf(out, "  %.0f tok/s  ETA %.0fs", tps, eta);
    fputs(R->opt->tty && step < steps ? "" : "\n", out);
    fflush(out);
}

// Where the run starts: from a checkpoint of its own (resume), from a saved model (warm start),
// or afresh. Returns the first step to run, or -1 with res failed.
static int run_start(Run *R, RunResult *res) {
    const Config *c = R->c;
    char err[1400], found[1100], msg[1600];
    R->resumed_from = -1;
    if (R->opt->resume && ckpt_resolve(R->dir, 1, found, sizeof found, err, sizeof err) == 0) {
        Config saved;
        if (ckpt_read_config(found, &saved, err, sizeof err) != 0) return setfail(res, "checkpoint", err);
        if (!config_equal(&saved, c)) {
            snprintf(msg, sizeof msg, "%s/config.toml: the experiment changed since this checkpoint was written "
                     "(run with --force to start over)", found);
            return setfail(res, "checkpoint", msg);
        }
        int step = 0;
        CkptRead r = {.optim = &R->optim, .batches = &R->batches, .step = &step};
        for (int i = 0; i < CKPT_NPARTIAL; i++) r.partial[i] = growing_file(R, i)->f;
        if (ckpt_read(found, &R->model, &r, err, sizeof err) != 0) return setfail(res, "checkpoint", err);
        if (step > c->train_steps) {
            snprintf(msg, sizeof msg, "%s: checkpoint at step %d, beyond train.steps = %d", found, step, c->train_steps);
            return setfail(res, "checkpoint", msg);
        }
        R->resumed_from = step;
        if (!R->opt->quiet) fprintf(R->opt->progress ? R->opt->progress : stderr, "%s: resuming from step %d (%s)\n",
                                    R->opt->run_id ? R->opt->run_id : "run", step, found);
        return step;
    }
    write_headers(R);
    if (c->train_init_from[0]) {
        Config saved;
        if (ckpt_resolve(c->train_init_from, 0, found, sizeof found, err, sizeof err) != 0 ||
            ckpt_read_config(found, &saved, err, sizeof err) != 0 ||
            ckpt_check_shapes(&saved, c, found, err, sizeof err) != 0)
            return setfail(res, "train.init_from", err);
        CkptRead r = {.optim = c->train_init_optimizer ? &R->optim : NULL};
        if (ckpt_read(found, &R->model, &r, err, sizeof err) != 0) return setfail(res, "train.init_from", err);
    }
    eval_measure(R, 0, c->train_steps == 0);
    return 0;
}

// Writes <dir>/checkpoint/ with the rows written so far. Returns 0, or -1 with res failed.
static int write_checkpoint(Run *R, int step, RunResult *res) {
    char path[1100], err[1400];
    CkptWrite w = {.step = step, .optim = &R->optim, .batches = &R->batches};
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        AtomicFile *a = growing_file(R, i);
        if (fflush(a->f) != 0) {
            snprintf(err, sizeof err, "cannot write %s: %s", a->tmp, strerror(errno));
            return setfail(res, "output", err);
        }
        w.partial[i] = a->tmp;
    }
    if (ckpt_write(path_join(path, sizeof path, R->dir, "checkpoint"), R->c, &R->model, &w, err, sizeof err) != 0)
        return setfail(res, "checkpoint", err);
    return 0;
}

static void abort_outputs(Run *R) {
    for (int i = 0; i < CKPT_NPARTIAL; i++) afile_abort(growing_file(R, i));
}

int train_run(const Config *c, const char *dir, const TrainOptions *opt, RunResult *res) {
    Run R_, *R = &R_;
    memset(R, 0, sizeof *R);
    memset(res, 0, sizeof *res);
    R->c = c;
    R->opt = opt;
    R->resumed_from = -1;
    snprintf(R->dir, sizeof R->dir, "%s", dir);
#ifdef _OPENMP
    if (opt->threads > 0) omp_set_num_threads(opt->threads);
#endif
    char start[64];
    iso_time(start, sizeof start);
    double t0 = now_s();
    int step0 = -1;
    if (run_setup(R, res) != 0 || open_outputs(R, res) != 0 || (step0 = run_start(R, res)) < 0) {
        abort_outputs(R);
        write_manifest(R, res, start, now_s() - t0);
        run_teardown(R);
        return -1;
    }
    Model *m = &R->model;
    int steps = c->train_steps;
    int eval_every = c->eval_every;
    double t_log = now_s(), tps = 0;
    int tokens_since_log = 0;
    Losses l = {0};
    res->status = RUN_OK;
    res->steps_done = step0;
    // Fault injection for the tests (docs/EXPERIMENTS.md): MOESIM_INJECT_NAN=k puts a NaN into a
    // parameter before step k, so the real divergence path below is exercised end to end.
    const char *inject = getenv("MOESIM_INJECT_NAN");
    int inject_step = inject ? atoi(inject) : 0;
    for (int step = step0; step < steps; step++) {
        if (inject_step > 0 && step + 1 == inject_step) m->params[0] = NAN;
        StepResult sr;
        StepStatus st = train_step(m, &R->optim, &R->batches, c, step, steps, &sr, NULL);
        if (st == STEP_BAD_BATCH) { setfail(res, "batch", sr.reason); break; }
        if (st == STEP_DIVERGED) {
            res->status = RUN_DIVERGED;
            snprintf(res->reason, sizeof res->reason, "%s", sr.reason);
            break;
        }
        l = sr.losses;
        double lr = sr.lr, gn = sr.grad_norm;
        res->steps_done = step + 1;
        res->loss = l.loss;
        res->ce = l.ce;
        tokens_since_log += R->N;
        // log
        int done = step + 1;
        if (done % c->train_log_every == 0 || done == steps) {
            double t = now_s();
            tps = tokens_since_log / (t - t_log > 1e-9 ? t - t_log : 1e-9);
            t_log = t;
            tokens_since_log = 0;
            double maxvio = 0;
            for (int i = 0; i < R->L; i++) maxvio += m->blocks[i].maxvio / R->L;
            FILE *f = R->f_metrics.f;
            fprintf(f, "%d,%.9g,%.9g", done, l.loss, l.ce);
            if (c->balance_method == BAL_SWITCH || c->balance_method == BAL_L2) fprintf(f, ",%.9g", l.aux);
            if (c->balance_z_alpha > 0) fprintf(f, ",%.9g", l.z);
            if (c->balance_seq_alpha > 0) fprintf(f, ",%.9g", l.seq_aux);
            fprintf(f, ",%.6g,%.9g,%.6g,%.1f\n", lr, gn, maxvio, tps);
            for (int i = 0; i < R->L; i++) {
                const BlockActs *a = &m->blocks[i];
                const real *bias = m->bias + (size_t)i * R->E;
                real bmin = bias[0], bmax = bias[0];
                for (int e = 1; e < R->E; e++) { bmin = bias[e] < bmin ? bias[e] : bmin; bmax = bias[e] > bmax ? bias[e] : bmax; }
                fprintf(R->f_layers.f, "%d,%d,%.9g,%.9g,%.9g,%.6g,%.6g,%.6g", done, i, a->aux, a->zl, a->seq_aux, a->maxvio, bmin, bmax);
                for (int e = 0; e < R->E; e++) fprintf(R->f_layers.f, ",%d", a->load[e]);
                fputc('\n', R->f_layers.f);
            }
            double elapsed = t - t0, eta = elapsed / (done - step0) * (steps - done);
            progress_line(R, done, steps, &l, tps, eta);
        }
        if ((eval_every > 0 && done % eval_every == 0) || done == steps) eval_measure(R, done, done == steps);
        int stop = train_stop_signal != 0 && done < steps;
        if ((stop || (c->train_checkpoint_every > 0 && done % c->train_checkpoint_every == 0 && done < steps)) &&
            write_checkpoint(R, done, res) != 0)
            break;
        if (stop) {
            res->status = RUN_INTERRUPTED;
            snprintf(res->reason, sizeof res->reason, "signal %d after step %d; checkpoint in %s/checkpoint",
                     (int)train_stop_signal, done, R->dir);
            break;
        }
    }
    double wall = now_s() - t0;
    res->wall_s = wall;
    res->tokens_per_s = res->steps_done ? (double)res->steps_done * R->N / wall : 0;
    if (res->status == RUN_DIVERGED && !opt->quiet)
        fprintf(opt->progress ? opt->progress : stderr, "%s: diverged at %s\n", opt->run_id ? opt->run_id : "run", res->reason);
    if (res->status == RUN_INTERRUPTED || res->status == RUN_FAILED) {
        // the checkpoint holds the rows so far; nothing half-written stays behind
        abort_outputs(R);
        write_manifest(R, res, start, wall);
        run_teardown(R);
        return res->status == RUN_FAILED ? -1 : 0;
    }
    char err[1400], path[1100];
    const char *what = NULL;  // the first file that could not be written, and why
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        AtomicFile *a = growing_file(R, i);
        if (afile_commit(a) != 0 && !what) { snprintf(err, sizeof err, "cannot write %s: %s", a->path, strerror(errno)); what = err; }
    }
    if (res->status == RUN_OK && !what && write_final_evaluation(R, err, sizeof err) != 0) what = err;
    if (!what && write_config(R) != 0) { snprintf(err, sizeof err, "cannot write %s/config.toml: %s", R->dir, strerror(errno)); what = err; }
    if (res->status == RUN_OK && c->train_save_model && !what) {
        CkptWrite w = {.step = res->steps_done, .optim = &R->optim, .batches = &R->batches};
        if (ckpt_write(path_join(path, sizeof path, R->dir, "model"), c, m, &w, err, sizeof err) != 0) what = err;
    }
    if (what) setfail(res, "output", what);
    if (write_manifest(R, res, start, wall) != 0 && res->status != RUN_FAILED) {
        snprintf(err, sizeof err, "cannot write %s/manifest.json: %s", R->dir, strerror(errno));
        setfail(res, "output", err);
    }
    run_teardown(R);
    return res->status == RUN_FAILED ? -1 : 0;
}

// ---- evaluating a saved model -------------------------------------------------------------------

int eval_saved(const Config *c, const char *model_dir, const char *out, const TrainOptions *opt, char *err, size_t errlen) {
    Run R_, *R = &R_;
    memset(R, 0, sizeof *R);
    R->c = c;
    R->opt = opt;
    R->resumed_from = -1;
    snprintf(R->dir, sizeof R->dir, "%s", out);
#ifdef _OPENMP
    if (opt->threads > 0) omp_set_num_threads(opt->threads);
#endif
    RunResult res_, *res = &res_;
    memset(res, 0, sizeof *res);
    int step = 0, rc = -1;
    CkptRead r = {.step = &step};
    if (run_setup(R, res) != 0 || open_outputs(R, res) != 0) {
        snprintf(err, errlen, "%s", res->reason);
    } else if (ckpt_read(model_dir, &R->model, &r, err, errlen) == 0) {
        write_headers(R);
        eval_measure(R, step, 1);
        // metrics.csv and layers.csv are training files: an evaluation has none
        afile_abort(&R->f_metrics);
        afile_abort(&R->f_layers);
        rc = 0;
        if (afile_commit(&R->f_eval) != 0) { snprintf(err, errlen, "cannot write %s: %s", R->f_eval.path, strerror(errno)); rc = -1; }
        else if (afile_commit(&R->f_experts) != 0) { snprintf(err, errlen, "cannot write %s: %s", R->f_experts.path, strerror(errno)); rc = -1; }
        else if (write_final_evaluation(R, err, errlen) != 0) rc = -1;
        else if (write_config(R) != 0) { snprintf(err, errlen, "cannot write %s/config.toml: %s", out, strerror(errno)); rc = -1; }
    }
    abort_outputs(R);
    run_teardown(R);
    return rc;
}
