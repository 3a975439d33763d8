// evaluate.c — the evaluation pass (evaluate.h): the fixed evaluation set of the world, one forward
// pass over it in chunks of train.batch sequences that copies each layer's router inputs, logits
// and choices out of the model's caches, and the measurements of measure/metrics.h per layer.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "evaluate.h"
#include "../models/spec.h"
#include "../../nn/layers.h"

// The evaluator's buffers, in the order evaluator_setup allocates them. eval_buffers sizes them
// and evaluator_bytes sums the same sizes, so the memory estimate cannot drift from the allocation.
enum {
    EB_CHUNK_HIDDEN, EB_EV_HIDDEN, EB_EV_TARGET, EB_EV_CLUSTER, EB_EV_TOKENS, EB_EV_SEQ_DOMAIN,
    EB_TOK_DOMAIN, EB_TOK_ID, EB_EV_U, EB_EV_Z, EB_EV_RESID, EB_EV_TOPK, EB_LM, EB_DOMAIN_FREQ,
    EB_PAIRS, EB_RMS_HIDDEN, EB_RMS_LOGITS, EB_PROP1_LHS, EB_PROP1_RHS, EB_COUNT
};
typedef struct { int want; size_t n, size; const char *what; } EvalBuf;

// R's sizes (router, B, T, N, L, D, E, K and the evaluation set's ev_seqs, ev_from, ev_len, ev_n)
// from c, the model's L and the world's evaluation set.
static void eval_shape(Evaluator *R, const Config *c, int L, const World *w) {
    R->router = c->model_kind == MODEL_ROUTER;
    R->B = c->train_batch; R->T = c->model_seq_len; R->N = R->B * R->T;
    R->L = L; R->D = c->model_d_model; R->E = c->model_experts; R->K = c->model_top_k;
    int M = world_eval_count(w);
    if (R->router) {
        R->ev_from = 0; R->ev_len = R->T;
        R->ev_n = (size_t)M;
        R->ev_seqs = (M + R->T - 1) / R->T;
    } else {
        R->ev_seqs = M;
        world_eval_window(w, &R->ev_from, &R->ev_len);
        R->ev_n = (size_t)M * R->ev_len;
    }
}

// Every buffer of R's sizes (eval_shape): b[EB_*] (want 0: the model kind has none).
static void eval_buffers(const Evaluator *R, int n_domains, int pairs, EvalBuf b[EB_COUNT]) {
    const size_t L = (size_t)R->L, D = (size_t)R->D, E = (size_t)R->E, K = (size_t)R->K, n = R->ev_n;
    const size_t M = R->router ? R->ev_n : (size_t)R->ev_seqs, P = (size_t)pairs;  // sequences (router: points)
    const int r = R->router;
#define EB(i, w, count, type, name) b[i] = (EvalBuf){(w), (count), sizeof(type), (name)}
    // a chunk is at most train.batch sequences of the evaluation set: no more rows than it has
    const size_t chunk_rows = (size_t)(R->ev_seqs < R->B ? R->ev_seqs : R->B) * (size_t)R->T;
    EB(EB_CHUNK_HIDDEN, r, chunk_rows * D, float, "the evaluation chunk");
    EB(EB_EV_HIDDEN, r, M * D, float, "the evaluation hidden states");
    EB(EB_EV_TARGET, r, M, int32_t, "the evaluation targets");
    EB(EB_EV_CLUSTER, r, M, int32_t, "the evaluation clusters");
    EB(EB_EV_TOKENS, !r, M * (size_t)(R->T + 1), int32_t, "the evaluation sequences");
    EB(EB_EV_SEQ_DOMAIN, !r, M, int32_t, "the evaluation domains");
    EB(EB_TOK_DOMAIN, 1, n, int32_t, "the evaluation token domains");
    EB(EB_TOK_ID, 1, n, int32_t, "the evaluation token ids");
    EB(EB_EV_U, 1, L * n * D, float, "the evaluation router inputs");
    EB(EB_EV_Z, 1, L * n * E, float, "the evaluation router logits");
    EB(EB_EV_RESID, 1, L * n, float, "the evaluation residual norms");
    EB(EB_EV_TOPK, 1, L * n * K, int32_t, "the evaluation expert choices");
    EB(EB_LM, 1, L, LayerMetrics, "the layer measurements");
    EB(EB_DOMAIN_FREQ, 1, L * (size_t)n_domains * E, double, "the domain x expert frequencies");
    EB(EB_PAIRS, 1, P * 2, int32_t, "the token pairs");
    EB(EB_RMS_HIDDEN, 1, P, double, "the pair distances");
    EB(EB_RMS_LOGITS, 1, P, double, "the pair logit distances");
    EB(EB_PROP1_LHS, 1, P, double, "the Prop. 1 left sides");
    EB(EB_PROP1_RHS, 1, P, double, "the Prop. 1 right sides");
#undef EB
}

// The measurements' scratch shape for R's sizes (every layer eval_measure measures has it).
static MetricsShape eval_metrics_shape(const Evaluator *R, int n_domains, int pairs) {
    MetricsOptions mo;
    metrics_default_options(&mo);
    mo.pairs = pairs;
    int32_t labels = 0;   // metrics_shape only asks whether there are domain labels
    LayerData shape_of = {.N = R->ev_n, .D = R->D, .E = R->E, .T = R->ev_len, .domain = &labels,
                          .n_domains = n_domains};
    return metrics_shape(&shape_of, &mo);
}

int evaluator_bytes(const Config *c, int L, EvalBytes *out) {
    memset(out, 0, sizeof *out);
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    World w = {.spec = ws, .domains = ws.domains};   // the evaluation set's size needs only the spec
    Evaluator *R = calloc(1, sizeof *R);             // holds a Model (its ~80 KB table)
    if (!R) return -1;
    eval_shape(R, c, L, &w);
    EvalBuf b[EB_COUNT];
    eval_buffers(R, w.domains, c->eval_pairs, b);
    for (int i = 0; i < EB_COUNT; i++)
        if (b[i].want) out->buffers += (double)(b[i].n ? b[i].n : 1) * b[i].size;
    MetricsShape shape = eval_metrics_shape(R, w.domains, c->eval_pairs);
    out->scratch = (double)metrics_scratch_bytes(&shape);
    out->ev_n = R->ev_n;
    free(R);
    return 0;
}

int evaluator_setup(Evaluator *R, const Config *c, const char *dir, char *err, size_t errlen) {
    memset(R, 0, sizeof *R);
    R->c = c;
    if ((size_t)snprintf(R->dir, sizeof R->dir, "%s", dir) >= sizeof R->dir)
        return io_fail(err, errlen, "%s: %s", dir, strerror(ENAMETOOLONG));
    char msg[IO_SHORT_MSG_MAX];
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    if (world_build(&R->world, &ws, msg, sizeof msg) != 0) return io_fail(err, errlen, "world: %s", msg);
    R->world_ok = 1;
    model_spec_from_config(&R->ms, c);
    R->ms.recompute = c->train_recompute;  // the trainer's model (generate's keeps every cache)
    if (model_build(&R->model, &R->ms, msg, sizeof msg) != 0) return io_fail(err, errlen, "%s", msg);  // "model: ..."
    R->model_ok = 1;

    eval_shape(R, c, R->model.spec.L, &R->world);
    EvalBuf b[EB_COUNT];
    int P = c->eval_pairs;
    eval_buffers(R, R->world.domains, P, b);
    void *p[EB_COUNT] = {0};
    for (int i = 0; i < EB_COUNT; i++) {
        if (!b[i].want) continue;
        p[i] = calloc(b[i].n ? b[i].n : 1, b[i].size);
        if (!p[i]) {
            char sz[32];
            io_fail(err, errlen, "memory: out of memory allocating %s (%s)", b[i].what,
                    io_bytes_text(sz, sizeof sz, (double)b[i].n * b[i].size));
            for (int j = 0; j < i; j++) free(p[j]);
            R->L = 0;  // nothing is measured: a failed run's manifest lists no layers (R->lm is NULL)
            return -1;
        }
    }
    R->chunk_hidden = p[EB_CHUNK_HIDDEN];
    R->ev_hidden = p[EB_EV_HIDDEN]; R->ev_target = p[EB_EV_TARGET]; R->ev_cluster = p[EB_EV_CLUSTER];
    R->ev_tokens = p[EB_EV_TOKENS]; R->ev_seq_domain = p[EB_EV_SEQ_DOMAIN];
    R->ev_tok_domain = p[EB_TOK_DOMAIN]; R->ev_tok_id = p[EB_TOK_ID];
    R->ev_u = p[EB_EV_U]; R->ev_z = p[EB_EV_Z]; R->ev_resid = p[EB_EV_RESID]; R->ev_topk = p[EB_EV_TOPK];
    R->lm = p[EB_LM]; R->domain_freq = p[EB_DOMAIN_FREQ];
    R->arrays.pairs = p[EB_PAIRS]; R->arrays.rms_hidden = p[EB_RMS_HIDDEN]; R->arrays.rms_logits = p[EB_RMS_LOGITS];
    R->arrays.prop1_lhs = p[EB_PROP1_LHS]; R->arrays.prop1_rhs = p[EB_PROP1_RHS];
    MetricsShape shape = eval_metrics_shape(R, R->world.domains, P);  // metrics_layer's scratch, for
    if (metrics_scratch_init(&R->scratch, &shape) != 0) {             // every layer eval_measure measures
        char sz[32];
        return io_fail(err, errlen, "memory: out of memory allocating the measurements' scratch (%s)",
                       io_bytes_text(sz, sizeof sz, (double)metrics_scratch_bytes(&shape)));
    }
    // the evaluation set, fixed by data.seed
    const int M = world_eval_count(&R->world), T = R->T;
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
        // the baselines score the predictions eval_ce scores: all T, or the m - 1 inside the copy
        const int npred = c->eval_duplicate_content > 0 ? len - 1 : T;
        R->has_baselines = world_text_baselines(&R->world, R->ev_tokens, R->ev_seq_domain, M, from, npred,
                                                R->base_uni, R->base_bi) == 0;
    }
    return 0;
}

void evaluator_teardown(Evaluator *R) {
    if (R->model_ok) model_free(&R->model);
    if (R->world_ok) world_free(&R->world);
    free(R->chunk_hidden);
    free(R->ev_tokens); free(R->ev_seq_domain); free(R->ev_hidden); free(R->ev_target); free(R->ev_cluster);
    free(R->ev_tok_domain); free(R->ev_tok_id); free(R->ev_u); free(R->ev_z); free(R->ev_resid); free(R->ev_topk);
    free(R->lm); free(R->domain_freq);
    free(R->arrays.pairs); free(R->arrays.rms_hidden); free(R->arrays.rms_logits);
    free(R->arrays.prop1_lhs); free(R->arrays.prop1_rhs);
    metrics_scratch_free(&R->scratch);
}

// ---- the pass ----------------------------------------------------------------------------------

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

void output_logit_sums(const real *logits /* nb*T x V */, int T, int V, int nb, int from, int count,
                       double *norm_sum, double *maxp_sum) {
    for (int s = 0; s < nb; s++)
        for (int t = from; t < from + count; t++) {
            const real *z = logits + ((size_t)s * T + t) * V;
            double ss = 0, zmax = z[0], denom = 0;
            for (int v = 0; v < V; v++) { ss += (double)z[v] * z[v]; if (z[v] > zmax) zmax = z[v]; }
            for (int v = 0; v < V; v++) denom += exp((double)z[v] - zmax);
            *norm_sum += sqrt(ss);
            *maxp_sum += 1.0 / denom;  // softmax at the argmax: e^0 / Σ_v e^(z_v - zmax)
        }
}

// One forward pass over the evaluation set in chunks of at most train.batch sequences, copying
// each layer's router input, logits and choices at the measured positions (R->ev_from, R->ev_len
// of each sequence) out of the model's caches. R->ev_ce: the loss over all T positions, or with
// eval.duplicate_content over the measured copy's m - 1 predictions (window_nll_sum).
double eval_forward(Evaluator *R, const ForwardSwitches *sw) {
    Model *m = &R->model;
    int T = R->T, D = R->D, E = R->E, K = R->K;
    const int from = R->ev_from, len = R->ev_len, window = !R->router && R->c->eval_duplicate_content > 0;
    double ce_sum = 0, out_norm = 0, out_maxp = 0;
    size_t done = 0, out_count = 0;
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
        model_forward(m, &b, sw, &l);
        if (window) ce_sum += window_nll_sum(m, b.tokens, nb, from, len);
        else ce_sum += l.ce * rows;
        if (!R->router && !sw) {
            const int out_from = window ? from : 0, out_len = window ? len - 1 : T;
            output_logit_sums(m->logits, T, m->spec.V, nb, out_from, out_len, &out_norm, &out_maxp);
            out_count += (size_t)nb * out_len;
        }
        // the measured rows: every row of the chunk, or len rows from `from` of each sequence
        const int parts = window ? nb : 1;
        const size_t take = window ? (size_t)len : rows;
        for (int s = 0; s < parts; s++) {
            const size_t src = window ? (size_t)s * T + from : 0;  // first row in the model's caches
            for (int layer = 0; layer < R->L && !sw; layer++) {
                model_layer_view(m, layer);  // with train.recompute the layers share u and z
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
    const double ce = window ? ce_sum / ((double)R->ev_seqs * (len - 1)) : ce_sum / (double)R->ev_n;
    if (!sw) {
        R->ev_ce = ce;
        R->ev_out_norm = out_count ? out_norm / (double)out_count : NAN;
        R->ev_out_maxp = out_count ? out_maxp / (double)out_count : NAN;
    }
    return ce;
}

LayerData layer_data(const Evaluator *R, int l) {
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

void eval_measure(Evaluator *R, int step, int final) {
    eval_forward(R, NULL);
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
        char err[IO_SHORT_MSG_MAX];
        if (metrics_layer(&R->lm[l], &arr, &d, &mo, &R->scratch, &rng, err, sizeof err) != 0)
            fprintf(stderr, "moesim: evaluation at step %d, layer %d: %s\n", step, l, err);
        int n = metrics_list(names, NULL, values, &R->lm[l]);
        fprintf(f, "%d,%d,%.9g", step, l, R->ev_ce);
        for (int i = 0; i < n; i++) fprintf(f, ",%.9g", values[i]);
        fprintf(f, ",%.9g,%.9g\n", R->ev_out_norm, R->ev_out_maxp);
        for (int dom = 0; dom < R->world.domains; dom++)
            for (int e = 0; e < R->E; e++) fprintf(fx, "%d,%d,%d,%d,%.6g\n", step, l, dom, e, dfreq[(size_t)dom * R->E + e]);
    }
}
