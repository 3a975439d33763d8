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

static void *xcalloc(size_t n, size_t size, int *bad) {
    void *p = calloc(n ? n : 1, size);
    if (!p) *bad = 1;
    return p;
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
    if (model_build(&R->model, &R->ms, msg, sizeof msg) != 0) return io_fail(err, errlen, "model: %s", msg);
    R->model_ok = 1;

    R->router = c->model_kind == MODEL_ROUTER;
    R->B = c->train_batch; R->T = c->model_seq_len; R->N = R->B * R->T;
    R->L = R->model.spec.L; R->D = c->model_d_model; R->E = c->model_experts; R->K = c->model_top_k;
    int bad = 0, L = R->L, D = R->D, E = R->E, K = R->K, T = R->T;
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
    if (bad) return io_fail(err, errlen, "memory: cannot allocate the run's buffers");
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

// One forward pass over the evaluation set in chunks of at most train.batch sequences, copying
// each layer's router input, logits and choices at the measured positions (R->ev_from, R->ev_len
// of each sequence) out of the model's caches. R->ev_ce: the loss over all T positions, or with
// eval.duplicate_content over the measured copy's m - 1 predictions (window_nll_sum).
double eval_forward(Evaluator *R, const ForwardSwitches *sw) {
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
        model_forward(m, &b, sw, &l);
        if (window) ce_sum += window_nll_sum(m, b.tokens, nb, from, len);
        else ce_sum += l.ce * rows;
        // the measured rows: every row of the chunk, or len rows from `from` of each sequence
        const int parts = window ? nb : 1;
        const size_t take = window ? (size_t)len : rows;
        for (int s = 0; s < parts; s++) {
            const size_t src = window ? (size_t)s * T + from : 0;  // first row in the model's caches
            for (int layer = 0; layer < R->L && !sw; layer++) {
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
    if (!sw) R->ev_ce = ce;
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
        fputc('\n', f);
        for (int dom = 0; dom < R->world.domains; dom++)
            for (int e = 0; e < R->E; e++) fprintf(fx, "%d,%d,%d,%d,%.6g\n", step, l, dom, e, dfreq[(size_t)dom * R->E + e]);
    }
}
