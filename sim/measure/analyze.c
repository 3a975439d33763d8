// analyze.c — logits z = P·h and top-K choices from a user's arrays, then metrics_layer.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "../io.h"
#include "metrics.h"

// Why a key of analysis.json is null, for the "null_because" object: the input analyze lacks,
// or (for anything else) a quantity that is undefined on these data.
static const char *null_reason(const char *name, size_t S, int have_domains) {
    static const char *const seq_pair[] = {"freqsim_seq", "pooled_cosine_seq", "freqsim_pooled_corr", "jaccard_seq"};
    for (size_t i = 0; i < sizeof seq_pair / sizeof seq_pair[0]; i++)
        if (strcmp(name, seq_pair[i]) == 0 && S < 2)
            return "compares pairs of sequences, and there is one: give --seq-len T with T < N";
    if (strstr(name, "_seq_") && strstr(name, "_domain") && S < 2)
        return "compares pairs of sequences, and there is one: give --seq-len T with T < N";
    if (!have_domains && (strstr(name, "_domain") || strcmp(name, "nmi_domain_expert") == 0))
        return "needs domain labels: give --domains";
    if (strncmp(name, "token_", 6) == 0) return "needs token ids, which analyze does not take";
    if (strncmp(name, "resid_norm_", 11) == 0)
        return "needs the residual stream before the router's norm, which analyze does not take";
    if (strcmp(name, "retained_energy_dir2") == 0) return "v2 is undefined: every sequence has rank < 2";
    if (strcmp(name, "retained_energy_dir3") == 0) return "v3 is undefined: every sequence has rank < 3";
    return "undefined on these data (a zero denominator, e.g. a zero router or constant values)";
}

int analyze_files(const AnalyzeArgs *a, char *err, size_t errlen) {
    float *H = NULL, *P = NULL, *Z = NULL;
    int32_t *dom = NULL, *topk = NULL;
    int ndh, ndp, ndd, rc = -1;
    size_t sh[3] = {0, 0, 0}, sp[3] = {0, 0, 0}, sd[3] = {0, 0, 0};
    if (npy_read_float(a->hidden, &H, &ndh, sh, err, errlen) != 0) goto done;
    if (npy_read_float(a->router, &P, &ndp, sp, err, errlen) != 0) goto done;
    if (ndh != 2 || ndp != 2 || sh[1] != sp[1]) {
        snprintf(err, errlen, "%s and %s: expected N x D hidden states and an E x D router with the same D", a->hidden, a->router);
        goto done;
    }
    size_t N = sh[0];
    int D = (int)sh[1], E = (int)sp[0], K = a->top_k;
    if (K < 1 || K > E) { snprintf(err, errlen, "--top-k: expected 1..%d (the router's experts), found %d", E, K); goto done; }
    if (N < 2) { snprintf(err, errlen, "%s: need at least 2 hidden states", a->hidden); goto done; }
    // Without --seq-len the whole input is one sequence: the per-sequence keys (Eqs. 7, 8, 10-12)
    // are computed over all N rows at once, and the sequence-pair keys (Eqs. 14-19) are null.
    int T = a->seq_len > 0 && (size_t)a->seq_len < N ? a->seq_len : (int)N;
    size_t S = (N + (size_t)T - 1) / (size_t)T;
    int ndom = 0;
    if (a->domains) {
        if (npy_read_int32(a->domains, &dom, &ndd, sd, err, errlen) != 0) goto done;
        if (ndd != 1 || sd[0] != N) { snprintf(err, errlen, "%s: expected %zu int32 labels, one per hidden state", a->domains, N); goto done; }
        for (size_t i = 0; i < N; i++) {
            if (dom[i] < 0) { snprintf(err, errlen, "%s: label %zu is negative", a->domains, i); goto done; }
            if (dom[i] + 1 > ndom) ndom = dom[i] + 1;
        }
    }
    Z = malloc(sizeof(float) * N * E);
    topk = malloc(sizeof(int32_t) * N * K);
    if (!Z || !topk) { snprintf(err, errlen, "out of memory"); goto done; }
    for (size_t n = 0; n < N; n++) {
        // z = P·h, then the K largest logits (softmax is monotone), ties to the lower index
        for (int e = 0; e < E; e++) {
            double s = 0;
            for (int i = 0; i < D; i++) s += (double)P[(size_t)e * D + i] * H[n * D + i];
            Z[n * E + e] = (float)s;
        }
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int j = 0; j < k; j++) taken |= topk[n * K + j] == e;
                if (!taken && (best < 0 || Z[n * E + e] > Z[n * E + best])) best = e;
            }
            topk[n * K + k] = best;
        }
    }
    LayerData d = {.N = N, .D = D, .E = E, .K = K, .T = T, .H = H, .P = P, .Z = Z, .topk = topk,
                   .domain = dom, .n_domains = ndom, .token = NULL};
    MetricsOptions mo;
    metrics_default_options(&mo);
    if (a->pairs > 0) mo.pairs = a->pairs;
    if (a->top_p > 0) mo.top_p = a->top_p;
    Rng rng;
    rng_seed(&rng, 1, 0xA7A1);
    LayerMetrics lm;
    if (metrics_layer(&lm, NULL, &d, &mo, &rng, err, errlen) != 0) goto done;
    char p[1100];
    if (mkdir_p(a->out) != 0) { snprintf(err, errlen, "cannot create %s", a->out); goto done; }
    AtomicFile af;
    FILE *f = afile_open(&af, path_join(p, sizeof p, a->out, "analysis.json"));
    if (!f) { snprintf(err, errlen, "cannot write %s", p); goto done; }
    fprintf(f, "{\n  \"n\": %zu,\n  \"d\": %d,\n  \"experts\": %d,\n  \"top_k\": %d,\n  \"seq_len\": %d,\n  \"domains\": %d,\n",
            N, D, E, K, T, ndom);
    fprintf(f, "  \"sequences\": %zu,\n  \"sequences_from\": \"%s\",\n", S,
            a->seq_len > 0 ? "--seq-len: consecutive rows, the last sequence may be shorter"
                           : "the whole input: no --seq-len was given, so the N rows are one sequence");
    const char *names[METRICS_NSCALARS];
    double values[METRICS_NSCALARS];
    metrics_list(names, NULL, values, &lm);
    fprintf(f, "  \"null_because\": {");
    int nnull = 0;
    for (int i = 0; i < METRICS_NSCALARS; i++)
        if (!isfinite(values[i]))
            fprintf(f, "%s\n    \"%s\": \"%s\"", nnull++ ? "," : "", names[i], null_reason(names[i], S, ndom > 0));
    fprintf(f, "%s},\n", nnull ? "\n  " : "");
    metrics_write_json(f, &lm, "  ");
    fprintf(f, "\n}\n");
    if (afile_commit(&af) != 0) { snprintf(err, errlen, "cannot write %s", p); goto done; }
    rc = 0;
done:
    free(H); free(P); free(Z); free(dom); free(topk);
    return rc;
}
