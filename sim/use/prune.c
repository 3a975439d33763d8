// prune.c — expert pruning by usage (see prune.h for the protocol and what each number is).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prune.h"
#include "generate.h"
#include "../io.h"
#include "../../nn/layers.h"

// Expert e's place in layer usage u (E): how many experts are used more, or as much with a lower
// index. 0 = most used; the keep experts of rank < keep are kept.
static int usage_rank(const int64_t *u, int E, int e) {
    int r = 0;
    for (int j = 0; j < E; j++) r += u[j] > u[e] || (u[j] == u[e] && j < e);
    return r;
}

void prune_mask(uint8_t *allowed, const int64_t *usage, int L, int E, int first, int keep) {
    for (int l = 0; l < L; l++)
        for (int e = 0; e < E; e++)
            allowed[(size_t)l * E + e] = l < first || usage_rank(usage + (size_t)l * E, E, e) < keep;
}

// row_sum[i] = Σ_{t = from}^{T-1} −ln p(x_i[t+1] | x_i[0..t]) under m with the experts of allowed
// (L x E, or NULL: every expert), for the R rows of tok (R x (T+1)), in chunks of at most max_batch sequences. The
// log-softmax is taken in double from the model's logits; every sum runs in position order.
static int score_rows(Model *m, const uint8_t *allowed, const int32_t *tok, int R, int from, double *row_sum) {
    const ForwardSwitches sw = {.allowed = allowed};
    const int T = m->spec.T, V = m->spec.V, Bmax = m->spec.max_batch;
    for (int s0 = 0; s0 < R; s0 += Bmax) {
        int nb = R - s0 < Bmax ? R - s0 : Bmax;
        Batch b = {.B = nb, .micro = nb, .tokens = tok + (size_t)s0 * (T + 1), .shuffle_seed = 1};
        Losses l;
        if (model_forward(m, &b, &sw, &l) != 0) return -1;
        for (int i = 0; i < nb; i++) {
            const int32_t *x = tok + (size_t)(s0 + i) * (T + 1);
            double sum = 0;
            for (int t = from; t < T; t++) {
                sum += crossentropy_row(m->logits + ((size_t)i * T + t) * V, V, x[t + 1]);   // [V] logits at t
            }
            row_sum[s0 + i] = sum;
        }
    }
    return 0;
}

// Adds rows of one set into r: per domain and over all, the full and pruned sums, then turns the
// sums into means. per_row: scored positions per row.
static void tally(PruneResult *r, int set, const int32_t *dom, int R, int per_row, const double *full,
                  const double *pruned) {
    const int A = r->domains;
    for (int d = 0; d <= A; d++) {
        PRUNE_NLL(r, set, 0, d) = PRUNE_NLL(r, set, 1, d) = 0;
        PRUNE_AT(r, tokens, set, d) = 0;
        PRUNE_AT(r, rows, set, d) = 0;
    }
    for (int i = 0; i < R; i++) {
        int d = dom[i] >= 0 && dom[i] < A ? dom[i] : A;  // an unknown domain counts in "all" only
        int ds[2] = {d, A};
        for (int j = 0; j < (d == A ? 1 : 2); j++) {
            PRUNE_NLL(r, set, 0, ds[j]) += full[i];
            PRUNE_NLL(r, set, 1, ds[j]) += pruned[i];
            PRUNE_AT(r, tokens, set, ds[j]) += per_row;
            PRUNE_AT(r, rows, set, ds[j]) += 1;
        }
    }
    for (int d = 0; d <= A; d++) {
        double n = (double)PRUNE_AT(r, tokens, set, d);
        PRUNE_NLL(r, set, 0, d) = n > 0 ? PRUNE_NLL(r, set, 0, d) / n : NAN;
        PRUNE_NLL(r, set, 1, d) = n > 0 ? PRUNE_NLL(r, set, 1, d) / n : NAN;
    }
}

// Generates with m restricted to gen_mask (L x E, or NULL: the full model) from prompts p, then scores the generated positions
// under the full model and under the pruned one.
static int rollouts(PruneResult *r, int set, Model *m, const GenPrompts *p, const GenArgs *a,
                    const uint8_t *gen_mask, double *full, double *pruned, char *err, size_t errlen) {
    GenOutput o;
    GenArgs ga = *a;
    ga.switches.allowed = gen_mask;
    if (gen_run(&o, m, p, &ga, err, errlen) != 0) return -1;
    int rc = 0;
    rc |= score_rows(m, NULL, o.tokens, o.rows, p->n - 1, full);
    rc |= score_rows(m, r->allowed, o.tokens, o.rows, p->n - 1, pruned);
    gen_output_free(&o);
    if (rc) return io_fail(err, errlen, "pruning: model_forward refused a generated row");
    tally(r, set, p->domain, p->N, r->T - (p->n - 1), full, pruned);
    return 0;
}

void prune_result_free(PruneResult *r) {
    free(r->usage); free(r->allowed); free(r->nll); free(r->tokens); free(r->rows);
    memset(r, 0, sizeof *r);
}

int prune_run(PruneResult *r, const Config *c, Model *m, const World *w, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    const ModelSpec *sp = &m->spec;
    // Guards: config/checks.c rejects these settings with file:line before any work; a Config passed
    // in by hand (tests/test_prune.c) has not been through it.
    if (sp->kind != MODEL_DECODER) return io_fail(err, errlen, "pruning: the model is not a decoder");
    const int L = sp->L, E = sp->E, K = sp->K, T = sp->T, keep = c->eval_prune_keep;
    if (keep < K || keep > E)
        return io_fail(err, errlen, "eval.prune_keep = %d: expected model.top_k = %d .. model.experts = %d", keep, K, E);
    if (c->eval_prune_layers < 1 || c->eval_prune_layers > L)
        return io_fail(err, errlen, "eval.prune_layers = %d: expected 1 .. model.layers = %d", c->eval_prune_layers, L);
    int on_domain, on_index;
    if (config_prune_on(c->eval_prune_on, &on_domain, &on_index) != 0)
        return io_fail(err, errlen, "eval.prune_on = \"%s\": expected \"sequence:<i>\" or \"domain:<d>\"", c->eval_prune_on);
    const int M = world_eval_count(w), A = w->domains;
    if ((!on_domain && on_index >= M) || (on_domain && on_index >= A))
        return io_fail(err, errlen, "eval.prune_on = \"%s\": the evaluation set has %d sequences of %d domains",
                    c->eval_prune_on, M, A);
    const int n = T / 2 > 0 ? T / 2 : 1;  // prompt tokens; the rows are n + (T+1-n) = T+1 tokens
    r->L = L; r->E = E; r->K = K; r->T = T; r->keep = keep; r->first = L - c->eval_prune_layers;
    r->domains = A; r->prompt_len = n;

    // ---- every buffer, once
    const size_t S = (size_t)PRUNE_SETS * (A + 1);
    r->usage = calloc((size_t)L * E, sizeof *r->usage);
    r->allowed = calloc((size_t)L * E, sizeof *r->allowed);
    r->nll = calloc(2 * S, sizeof *r->nll);
    r->tokens = calloc(S, sizeof *r->tokens);
    r->rows = calloc(S, sizeof *r->rows);
    int32_t *set = malloc(sizeof(int32_t) * (size_t)M * (T + 1));   // M x (T+1) the evaluation set
    int32_t *dom = malloc(sizeof(int32_t) * (size_t)M);             // M         its domains
    int32_t *val = malloc(sizeof(int32_t) * (size_t)M * (T + 1));   // val_n x (T+1) validation rows
    double *full = malloc(sizeof(double) * (size_t)M), *pruned = malloc(sizeof(double) * (size_t)M);
    GenPrompts p = {.N = M, .n = n};
    p.tokens = malloc(sizeof(int32_t) * (size_t)M * n);              // M x n
    p.domain = malloc(sizeof(int32_t) * (size_t)M);
    int rc = -1;
    if (!r->usage || !r->allowed || !r->nll || !r->tokens || !r->rows || !set || !dom || !val || !full ||
        !pruned || !p.tokens || !p.domain) {
        io_fail(err, errlen, "pruning: out of memory (%d evaluation sequences)", M);
        goto done;
    }
    world_eval_set(w, set, dom);
    for (int i = 0; i < M; i++) {
        if (on_domain ? dom[i] == on_index : i == on_index)
            memcpy(val + (size_t)r->val_n++ * (T + 1), set + (size_t)i * (T + 1), sizeof(int32_t) * (T + 1));
        memcpy(p.tokens + (size_t)i * n, set + (size_t)i * (T + 1), sizeof(int32_t) * n);
        p.domain[i] = dom[i];
    }
    if (r->val_n == 0) { io_fail(err, errlen, "eval.prune_on = \"%s\": no evaluation sequence", c->eval_prune_on); goto done; }

    // ---- 1. usage on the validation set, full model; 2. the mask
    for (int s0 = 0; s0 < r->val_n; s0 += sp->max_batch) {
        int nb = r->val_n - s0 < sp->max_batch ? r->val_n - s0 : sp->max_batch;
        Batch b = {.B = nb, .micro = nb, .tokens = val + (size_t)s0 * (T + 1), .shuffle_seed = 1};
        Losses l;
        if (model_forward(m, &b, NULL, &l) != 0) { io_fail(err, errlen, "pruning: model_forward refused the validation set"); goto done; }
        for (int layer = 0; layer < L; layer++)
            for (size_t i = 0; i < (size_t)nb * T * K; i++) r->usage[(size_t)layer * E + m->blocks[layer].topk[i]]++;
    }
    prune_mask(r->allowed, r->usage, L, E, r->first, keep);

    // ---- 3. the prompts, teacher-forced, every position
    if (score_rows(m, NULL, set, M, 0, full) != 0) { io_fail(err, errlen, "pruning: model_forward refused the evaluation set"); goto done; }
    if (score_rows(m, r->allowed, set, M, 0, pruned) != 0) { io_fail(err, errlen, "pruning: model_forward refused the evaluation set"); goto done; }
    tally(r, PRUNE_PROMPTS, dom, M, T, full, pruned);

    // ---- the continuations: sampled by the full model (off-policy), then by the pruned one
    GenArgs a;
    gen_args_defaults(&a);
    a.prompts = M; a.samples = 1; a.prompt_len = n; a.tokens = T + 1 - n;
    a.temperature = 1; a.top_p = 1; a.seed = (uint64_t)c->train_seed; a.progress = NULL;
    if (rollouts(r, PRUNE_OFF_POLICY, m, &p, &a, NULL, full, pruned, err, errlen) != 0) goto done;
    if (rollouts(r, PRUNE_ON_POLICY, m, &p, &a, r->allowed, full, pruned, err, errlen) != 0) goto done;
    rc = 0;
done:
    free(set); free(dom); free(val); free(full); free(pruned);
    gen_prompts_free(&p);
    if (rc) prune_result_free(r);
    return rc;
}

static const char *set_names[PRUNE_SETS] = {"prompts", "off_policy", "on_policy"};

int prune_write_files(const PruneResult *r, const char *dir) {
    char path[IO_CHILD_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(path, sizeof path, dir, "prune.csv"));
    if (!f) return -1;
    fprintf(f, "set,domain,sequences,tokens,nll_full,nll_pruned,change\n");
    for (int s = 0; s < PRUNE_SETS; s++)
        for (int d = 0; d <= r->domains; d++) {
            double nf = PRUNE_NLL(r, s, 0, d), np = PRUNE_NLL(r, s, 1, d);
            if (d < r->domains) fprintf(f, "%s,%d,", set_names[s], d);
            else fprintf(f, "%s,all,", set_names[s]);
            fprintf(f, "%d,%lld,%.9g,%.9g,%.9g\n", PRUNE_AT(r, rows, s, d), (long long)PRUNE_AT(r, tokens, s, d),
                    nf, np, (np - nf) / nf);
        }
    if (afile_commit(&a) != 0) return -1;
    f = afile_open(&a, path_join(path, sizeof path, dir, "prune_experts.csv"));
    if (!f) return -1;
    fprintf(f, "layer,expert,usage,rank,kept\n");
    for (int l = 0; l < r->L; l++)
        for (int e = 0; e < r->E; e++)
            fprintf(f, "%d,%d,%lld,%d,%d\n", l, e, (long long)r->usage[(size_t)l * r->E + e],
                    usage_rank(r->usage + (size_t)l * r->E, r->E, e), r->allowed[(size_t)l * r->E + e]);
    return afile_commit(&a);
}

int prune_write(const Config *c, Model *m, const World *w, const char *dir, char *err, size_t errlen) {
    if (c->eval_prune_keep == 0 || m->spec.kind != MODEL_DECODER) return 0;
    PruneResult r;
    if (prune_run(&r, c, m, w, err, errlen) != 0) return -1;
    int rc = prune_write_files(&r, dir);
    if (rc != 0) io_fail(err, errlen, "cannot write prune.csv and prune_experts.csv in %s: %s", dir, strerror(errno));
    prune_result_free(&r);
    return rc;
}
