// test_export.c — `moesim export`'s library (sim/tools/export.c) on a tiny model: every file is
// the array the model holds or computes, bit for bit (parameters at initialization, gradients of
// one forward/backward on the first training batch, that batch's tokens, the router's inputs,
// logits and choices, the biases), in the table's shapes; the files agree among themselves as a
// numpy user would check them (logits = router_in · routerᵀ, choices = the K largest logits); the
// manifest's step-0 loss; the router kind writes hidden.npy instead of tokens.npy; a folder that
// cannot be created is named. (The gradients against float64 finite differences:
// tests/verify_export.c, run by e2e_cli.sh.)
// covers: sim/tools/export.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "../nn/model.h"
#include "../sim/config/config.h"
#include "../sim/io.h"
#include "../sim/models/checkpoint.h"
#include "../sim/models/spec.h"
#include "../sim/tools/export.h"
#include "../sim/train/batches.h"
#include "../sim/worlds/world.h"

static char tmpdir[256];

#include "set_key.h"

static void tiny(Config *c) {
    tiny_decoder(c, "32");
    set(c, "train.batch", "4");
    set(c, "train.seed", "7");
}

// Reads DIR/name as float32 with the given shape; returns the data (malloc'ed) or NULL with a failed check.
static float *read_f(const char *dir, const char *name, int nd, const size_t *shape) {
    char p[800], err[900];
    float *x = NULL;
    int ndim;
    size_t sh[3];
    path_join(p, sizeof p, dir, name);
    if (npy_read_float(p, &x, &ndim, sh, err, sizeof err) != 0) { CHECK_MSG(0, "%s", err); return NULL; }
    int same = ndim == nd;
    for (int k = 0; k < nd && same; k++) same = sh[k] == shape[k];
    CHECK_MSG(same, "%s: shape differs from the table's", p);
    if (!same) { free(x); return NULL; }
    return x;
}

static int32_t *read_i(const char *dir, const char *name, size_t count) {
    char p[800], err[900];
    void *x = NULL;
    int ndim;
    size_t sh[NPY_MAX_DIMS];
    path_join(p, sizeof p, dir, name);
    if (npy_read_array(p, NPY_WANT_INT, NULL, &x, &ndim, sh, err, sizeof err) != 0) { CHECK_MSG(0, "%s", err); return NULL; }
    size_t n = 1;
    for (int k = 0; k < ndim; k++) n *= sh[k];
    CHECK_MSG(n == count, "%s: %zu elements, expected %zu", p, n, count);
    if (n != count) { free(x); return NULL; }
    return x;
}

static void test_decoder(void) {
    Config c;
    tiny(&c);
    char dir[512], err[1200] = "";
    snprintf(dir, sizeof dir, "%s/x", tmpdir);
    CHECK_MSG(export_model(&c, dir, err, sizeof err) == 0, "%s", err);
    // the same pass here: the model as export builds it, the first batch as training draws it
    WorldSpec ws;
    World w;
    ModelSpec ms;
    Model m;
    world_spec_from_config(&ws, &c);
    model_spec_from_config(&ms, &c);
    if (world_build(&w, &ws, err, sizeof err) != 0 || model_build(&m, &ms, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s", err);
        return;
    }
    model_init_params(&m, (uint64_t)c.train_seed, c.model_init_std, c.model_embed_shared);
    BatchSource src;
    Batch b;
    CHECK(batch_source_init(&src, &c, &w) == 0);
    batch_source_next(&src, 0, &b);
    Losses l;
    model_zero_grads(&m);
    CHECK(model_forward(&m, &b, NULL, &l) == 0);
    model_backward(&m, &b);
    int B = c.train_batch, T = c.model_seq_len, N = B * T, D = m.spec.D, E = m.spec.E, K = m.spec.K;
    // parameters and gradients, by the table's names and shapes
    size_t shape[3];
    int params_same = 1, grads_same = 1, nonzero_grads = 0;
    for (int i = 0; i < m.table.n; i++) {
        const ParamInfo *pi = &m.table.info[i];
        int nd = param_npy_shape(pi, shape);
        size_t size = (size_t)pi->count * pi->rows * pi->cols;
        char name[300];
        snprintf(name, sizeof name, "params/%s.npy", pi->name);
        float *x = read_f(dir, name, nd, shape);
        params_same &= x && memcmp(x, m.params + pi->offset, sizeof(float) * size) == 0;
        free(x);
        snprintf(name, sizeof name, "grads/%s.npy", pi->name);
        x = read_f(dir, name, nd, shape);
        grads_same &= x && memcmp(x, m.grads + pi->offset, sizeof(float) * size) == 0;
        for (size_t k = 0; x && k < size; k++) nonzero_grads += x[k] != 0;
        free(x);
    }
    CHECK_MSG(params_same, "params/*.npy differ from the initialized model");
    CHECK_MSG(grads_same, "grads/*.npy differ from one forward/backward on the first batch");
    CHECK(nonzero_grads > 0);
    // the batch: B x (T+1) tokens, each a token of the vocabulary
    int32_t *tok = read_i(dir, "tokens.npy", (size_t)B * (T + 1));
    CHECK(tok && memcmp(tok, src.tokens, sizeof(int32_t) * B * (T + 1)) == 0);
    int in_vocab = 1;
    for (int i = 0; tok && i < B * (T + 1); i++) in_vocab &= tok[i] >= 0 && tok[i] < m.spec.V;
    CHECK(in_vocab);
    free(tok);
    // per layer: the router's view, and its consistency as a numpy user would check it
    for (int layer = 0; layer < m.spec.L; layer++) {
        char name[300];
        size_t su[2] = {(size_t)N, (size_t)D}, sz[2] = {(size_t)N, (size_t)E}, sr[2] = {(size_t)E, (size_t)D};
        size_t sb[1] = {(size_t)E};
        snprintf(name, sizeof name, "acts/blocks.%d.router_in.npy", layer);
        float *u = read_f(dir, name, 2, su);
        snprintf(name, sizeof name, "acts/blocks.%d.router_logits.npy", layer);
        float *z = read_f(dir, name, 2, sz);
        snprintf(name, sizeof name, "acts/blocks.%d.topk.npy", layer);
        int32_t *tk = read_i(dir, name, (size_t)N * K);
        snprintf(name, sizeof name, "params/blocks.%d.router.npy", layer);
        float *wr = read_f(dir, name, 2, sr);
        snprintf(name, sizeof name, "state/blocks.%d.bias.npy", layer);
        float *bias = read_f(dir, name, 1, sb);
        if (!u || !z || !tk || !wr || !bias) { free(u); free(z); free(tk); free(wr); free(bias); continue; }
        const BlockActs *a = &m.blocks[layer];
        CHECK(memcmp(u, a->u, sizeof(float) * N * D) == 0);
        CHECK(memcmp(z, a->z, sizeof(float) * N * E) == 0);
        CHECK(memcmp(tk, a->topk, sizeof(int32_t) * N * K) == 0);
        CHECK(memcmp(bias, m.bias + (size_t)layer * E, sizeof(float) * E) == 0);
        double worst = 0;
        int choices_ok = 1;
        for (int n = 0; n < N; n++) {
            for (int e = 0; e < E; e++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)u[n * D + d] * wr[e * D + d];
                worst = fmax(worst, fabs(s - z[n * E + e]) / (1e-3 + fabs(s)));
            }
            // the K chosen are the K largest z + bias: none left out is larger than one chosen
            for (int k = 0; k < K; k++) {
                int c1 = tk[n * K + k];
                for (int e = 0; e < E; e++) {
                    int chosen = 0;
                    for (int j = 0; j < K; j++) chosen |= tk[n * K + j] == e;
                    if (!chosen && z[n * E + e] + bias[e] > z[n * E + c1] + bias[c1]) choices_ok = 0;
                }
            }
        }
        CHECK_MSG(worst < 1e-4, "layer %d: router_logits vs router_in · routerᵀ: relative %g", layer, worst);
        CHECK_MSG(choices_ok, "layer %d: topk.npy is not the K largest logits + bias", layer);
        free(u); free(z); free(tk); free(wr); free(bias);
    }
    // the manifest: the step-0 loss of that pass, and the table
    char p[800], v[300];
    char *json = read_text_file(path_join(p, sizeof p, dir, "manifest.json"));
    CHECK(json != NULL);
    if (json) {
        const char *loss = json_field(json, "step0_loss", v, sizeof v) ? strstr(v, "\"loss\": ") : NULL;
        CHECK_MSG(loss && strtod(loss + 8, NULL) == l.loss, "manifest step0_loss: %s vs %.17g", v, l.loss);
        CHECK(strstr(json, "\"name\": \"blocks.1.w1\""));
        CHECK(strstr(json, "\"batch\": {\"sequences\": 4,"));
        free(json);
    }
    batch_source_free(&src);
    model_free(&m);
    world_free(&w);
}

static void test_router_kind_and_errors(void) {
    Config c;
    tiny(&c);
    set(&c, "model.kind", "\"router\"");
    set(&c, "data.world", "\"geometry\"");
    char dir[512], p[800], err[1200] = "";
    snprintf(dir, sizeof dir, "%s/r", tmpdir);
    CHECK_MSG(export_model(&c, dir, err, sizeof err) == 0, "%s", err);
    CHECK(file_exists(path_join(p, sizeof p, dir, "hidden.npy")));
    CHECK(!file_exists(path_join(p, sizeof p, dir, "tokens.npy")));
    CHECK(file_exists(path_join(p, sizeof p, dir, "manifest.json")));
    size_t sh[2] = {(size_t)c.train_batch * c.model_seq_len, (size_t)c.model_d_model};
    free(read_f(dir, "hidden.npy", 2, sh));
    // a folder under a regular file cannot be created: the message names it
    tiny(&c);
    snprintf(p, sizeof p, "%s/file", tmpdir);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    snprintf(dir, sizeof dir, "%s/file/x", tmpdir);
    err[0] = 0;
    CHECK(export_model(&c, dir, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, dir) != NULL, "%s", err);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_export.%ld", (long)getpid());
    CHECK(mkdir_p(tmpdir) == 0);
    test_decoder();
    test_router_kind_and_errors();
    if (!getenv("KEEP")) remove_tree(tmpdir);
    return test_summary("test_export");
}
