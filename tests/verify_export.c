// verify_export.c — verifies a `moesim export` folder: rebuilds the model in double precision from
// manifest.json, loads params/*.npy and tokens.npy, freezes routing to the exported acts/*topk.npy,
// and checks the exported float32 gradients against central finite differences of the float64
// loss along a random direction per parameter tensor. Used by tests/e2e_cli.sh.
// usage: verify_export DIR   (exit 0 when every tensor agrees)
// covers: sim/tools/export.c
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../nn/model.h"
#include "../sim/io.h"

// "key": value inside the object "table": {...} of the manifest's config.
static const char *field(const char *json, const char *table, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\": {", table);
    const char *t = strstr(json, pat);
    if (!t) return NULL;
    const char *end = strchr(t, '}');
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *k = strstr(t, pat);
    return k && k < end ? k + strlen(pat) : NULL;
}
static int ival(const char *json, const char *table, const char *key) {
    const char *v = field(json, table, key);
    return v ? atoi(v) : -1;
}
static double dval(const char *json, const char *table, const char *key) {
    const char *v = field(json, table, key);
    return v ? strtod(v, NULL) : 0;
}
static int choice(const char *json, const char *table, const char *key, const char *const *names, int n) {
    const char *v = field(json, table, key);
    for (int i = 0; v && i < n; i++) {
        size_t len = strlen(names[i]);
        if (v[0] == '"' && strncmp(v + 1, names[i], len) == 0 && v[1 + len] == '"') return i;
    }
    return -1;
}

// The loss with the routing kept as cached (the float run's, loaded into the model's topk).
static double loss_at(Model *m, const Batch *b) {
    Losses l;
    const ForwardSwitches frozen = {.freeze_selection = 1};
    model_forward(m, b, &frozen, &l);
    return l.loss;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: verify_export DIR\n"); return 2; }
    const char *dir = argv[1];
    char p[1200], err[300];
    char *js = read_text_file(path_join(p, sizeof p, dir, "manifest.json"));
    if (!js) { fprintf(stderr, "cannot read %s\n", p); return 2; }
    static const char *kinds[] = {"decoder", "router"}, *scores[] = {"softmax", "sigmoid"};
    static const char *methods[] = {"none", "switch", "l2", "auxfree"}, *scopes[] = {"sequence", "micro", "global", "shuffle"};
    static const char *psrc[] = {"full", "topk"};
    ModelSpec s = {0};
    s.kind = choice(js, "model", "kind", kinds, 2);
    s.V = ival(js, "model", "vocab"); s.D = ival(js, "model", "d_model"); s.L = ival(js, "model", "layers");
    s.H = ival(js, "model", "heads"); s.T = ival(js, "model", "seq_len"); s.E = ival(js, "model", "experts");
    s.K = ival(js, "model", "top_k"); s.F = ival(js, "model", "d_ff"); s.S = ival(js, "model", "shared_experts");
    s.attention = strncmp(field(js, "model", "attention"), "true", 4) == 0;
    s.score = choice(js, "model", "score", scores, 2);
    s.gate_norm = strncmp(field(js, "model", "gate_norm"), "true", 4) == 0;
    s.bal_method = choice(js, "balance", "method", methods, 4);
    s.bal_scope = choice(js, "balance", "scope", scopes, 4);
    s.p_source = choice(js, "balance", "p_source", psrc, 2);
    s.alpha = dval(js, "balance", "alpha"); s.z_alpha = dval(js, "balance", "z_alpha"); s.seq_alpha = dval(js, "balance", "seq_alpha");
    s.max_batch = ival(js, "batch", "sequences");
    int micro = ival(js, "batch", "micro_batch");
    if (s.kind != MODEL_DECODER || s.bal_scope == SCOPE_SHUFFLE) { fprintf(stderr, "verify_export: decoder, non-shuffle scopes only\n"); return 2; }
    Model m;
    if (model_build(&m, &s, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 2; }
    float *buf;
    int nd;
    size_t shape[3];
    real *exported = calloc(m.table.total, sizeof(real));
    for (int i = 0; i < m.table.n; i++) {
        const ParamInfo *pi = &m.table.info[i];
        size_t n = param_numel(pi);
        for (int which = 0; which < 2; which++) {
            snprintf(p, sizeof p, "%s/%s/%s.npy", dir, which ? "grads" : "params", pi->name);
            if (npy_read_float(p, &buf, &nd, shape, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 2; }
            if (shape[0] * shape[1] * shape[2] != n) { fprintf(stderr, "%s: %zu values, expected %zu\n", p, shape[0] * shape[1] * shape[2], n); return 2; }
            real *dst = (which ? exported : m.params) + pi->offset;
            for (size_t j = 0; j < n; j++) dst[j] = buf[j];
            free(buf);
        }
    }
    int32_t *tokens;
    if (npy_read_int32(path_join(p, sizeof p, dir, "tokens.npy"), &tokens, &nd, shape, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    for (int l = 0; l < s.L; l++) {
        int32_t *tk;
        snprintf(p, sizeof p, "%s/acts/blocks.%d.topk.npy", dir, l);
        if (npy_read_int32(p, &tk, &nd, shape, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 2; }
        memcpy(m.blocks[l].topk, tk, sizeof(int32_t) * shape[0] * shape[1]);
        free(tk);
    }
    Batch b = {.B = s.max_batch, .micro = micro, .tokens = tokens};
    int bad = 0, checked = 0;
    Rng rng;
    rng_seed(&rng, 5, 0);
    for (int i = 0; i < m.table.n; i++) {
        const ParamInfo *pi = &m.table.info[i];
        size_t n = param_numel(pi);
        real *x = m.params + pi->offset, *g = exported + pi->offset;
        real *dirv = malloc(sizeof(real) * n), *x0 = malloc(sizeof(real) * n);
        double ana = 0, gnorm = 0;
        for (size_t j = 0; j < n; j++) { dirv[j] = rng_normal(&rng); ana += dirv[j] * g[j]; gnorm += g[j] * g[j]; }
        memcpy(x0, x, sizeof(real) * n);
        const double eps = 1e-5;
        for (size_t j = 0; j < n; j++) x[j] = x0[j] + eps * dirv[j];
        double fp = loss_at(&m, &b);
        for (size_t j = 0; j < n; j++) x[j] = x0[j] - eps * dirv[j];
        double fm = loss_at(&m, &b);
        memcpy(x, x0, sizeof(real) * n);
        double num = (fp - fm) / (2 * eps);
        // float32 gradients carry ~1e-6 relative error per element; along a random direction the
        // scale of the error is |g|·1e-5 at most
        double tol = 1e-4 * fabs(num) + 1e-5 * sqrt(gnorm * n) + 1e-9;
        if (fabs(num - ana) > tol) {
            bad++;
            fprintf(stderr, "%s: exported gradient · d = %.9g, finite difference = %.9g\n", pi->name, ana, num);
        }
        checked++;
        free(dirv); free(x0);
    }
    printf("verify_export: %d tensors, %d disagree\n", checked, bad);
    free(js); free(exported); free(tokens);
    model_free(&m);
    return bad ? 1 : 0;
}
