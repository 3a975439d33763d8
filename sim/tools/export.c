// export.c — one forward/backward at initialization, written out for analysis in numpy.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "export.h"
#include "../config/config.h"
#include "../evaluate/evaluate.h"
#include "../io.h"
#include "../models/checkpoint.h"
#include "../models/spec.h"
#include "../train/batches.h"
#include "../../nn/model.h"

// Writes dir/name unless an earlier write failed; the first failure's file and reason go to err.
// Returns 1 when this or an earlier write failed.
static int put_npy(const char *dir, const char *name, const char *dtype, const void *data, int nd, const size_t *shape,
                   int bad, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    if (bad) return 1;
    errno = 0;
    if (npy_write(path_join(p, sizeof p, dir, name), dtype, data, nd, shape) == 0) return 0;
    io_fail(err, errlen, "cannot write %s: %s", p, errno ? strerror(errno) : "write error");
    return 1;
}

int export_model(const Config *c, const char *dir, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX], sub[IO_CHILD_PATH_MAX];
    const char *subs[] = {"params", "grads", "acts", "state"};
    for (int i = 0; i < 4; i++)
        if (mkdir_p(path_join(sub, sizeof sub, dir, subs[i])) != 0)
            return io_fail(err, errlen, "cannot create %s: %s", sub, strerror(errno));
    WorldSpec ws;
    World w;
    world_spec_from_config(&ws, c);
    if (world_build(&w, &ws, err, errlen) != 0) return -1;
    ModelSpec ms;
    Model m;
    model_spec_from_config(&ms, c);
    if (model_build(&m, &ms, err, errlen) != 0) { world_free(&w); return -1; }
    model_init_params(&m, (uint64_t)c->train_seed, c->model_init_std, c->model_embed_shared);
    // the first training batch, drawn exactly as the training loop draws it
    int B = c->train_batch, T = c->model_seq_len, N = B * T, D = c->model_d_model;
    int router = c->model_kind == MODEL_ROUTER;
    BatchSource src;
    Batch b;
    if (batch_source_init(&src, c, &w) != 0) {
        model_free(&m);
        world_free(&w);
        return io_fail(err, errlen, "out of memory exporting to %s", dir);
    }
    batch_source_next(&src, 0, &b);
    Losses l;
    model_zero_grads(&m);
    int rc = model_forward(&m, &b, NULL, &l);
    if (rc == 0) model_backward(&m, &b);
    int bad = rc != 0;
    if (bad) io_fail(err, errlen, "export: the step-0 forward pass failed");
    size_t shape[3];
    for (int i = 0; i < m.table.n && !bad; i++) {
        const ParamInfo *pi = &m.table.info[i];
        int nd = param_npy_shape(pi, shape);
        snprintf(sub, sizeof sub, "params/%s.npy", pi->name);
        bad = put_npy(dir, sub, "<f4", m.params + pi->offset, nd, shape, bad, err, errlen);
        snprintf(sub, sizeof sub, "grads/%s.npy", pi->name);
        bad = put_npy(dir, sub, "<f4", m.grads + pi->offset, nd, shape, bad, err, errlen);
    }
    if (router) {
        size_t sh[2] = {(size_t)N, (size_t)D};
        bad = put_npy(dir, "hidden.npy", "<f4", src.hidden, 2, sh, bad, err, errlen);
    } else {
        size_t sh[2] = {(size_t)B, (size_t)T + 1};
        bad = put_npy(dir, "tokens.npy", "<i4", src.tokens, 2, sh, bad, err, errlen);
    }
    for (int layer = 0; layer < m.spec.L && !bad; layer++) {
        model_layer_view(&m, layer);  // a model with recompute shares u and z between its layers
        const BlockActs *a = &m.blocks[layer];
        size_t su[2] = {(size_t)N, (size_t)D}, sz[2] = {(size_t)N, (size_t)m.spec.E}, sk[2] = {(size_t)N, (size_t)m.spec.K};
        size_t sb[1] = {(size_t)m.spec.E};
        snprintf(sub, sizeof sub, "acts/blocks.%d.router_in.npy", layer);
        bad = put_npy(dir, sub, "<f4", a->u, 2, su, bad, err, errlen);
        snprintf(sub, sizeof sub, "acts/blocks.%d.router_logits.npy", layer);
        bad = put_npy(dir, sub, "<f4", a->z, 2, sz, bad, err, errlen);
        snprintf(sub, sizeof sub, "acts/blocks.%d.topk.npy", layer);
        bad = put_npy(dir, sub, "<i4", a->topk, 2, sk, bad, err, errlen);
        snprintf(sub, sizeof sub, "state/blocks.%d.bias.npy", layer);
        bad = put_npy(dir, sub, "<f4", m.bias + (size_t)layer * m.spec.E, 1, sb, bad, err, errlen);
    }
    // the manifest last: config, parameter names and shapes, the step-0 loss in pieces
    AtomicFile af;
    errno = 0;
    FILE *f = bad ? NULL : afile_open(&af, path_join(p, sizeof p, dir, "manifest.json"));
    if (!f && !bad) bad = io_fail(err, errlen, "cannot write %s: %s", p, errno ? strerror(errno) : "open error") != 0;
    if (f) {
        JsonWriter w;
        json_begin(&w, f);
        json_object(&w);
        json_key(&w, "config"); json_config(&w, c);
        json_key(&w, "parameters");
        json_array(&w);
        for (int i = 0; i < m.table.n; i++) {
            const ParamInfo *pi = &m.table.info[i];
            int nd = param_npy_shape(pi, shape);
            json_object_flat(&w);
            json_key(&w, "name"); json_str(&w, pi->name);
            json_key(&w, "kind"); json_str(&w, param_kind_name(pi->kind));
            json_key(&w, "shape");
            json_array_flat(&w);
            for (int k = 0; k < nd; k++) json_uint(&w, shape[k]);
            json_end(&w);
            json_end(&w);
        }
        json_end(&w);
        json_key(&w, "batch");
        json_object_flat(&w);
        json_key(&w, "sequences"); json_int(&w, B);
        json_key(&w, "micro_batch"); json_int(&w, src.micro);
        json_key(&w, "tokens"); json_int(&w, N);
        json_end(&w);
        json_key(&w, "step0_loss");
        json_object_flat(&w);
        json_key(&w, "loss"); json_double(&w, l.loss);
        json_key(&w, "ce"); json_double(&w, l.ce);
        json_key(&w, "aux"); json_double(&w, l.aux);
        json_key(&w, "z"); json_double(&w, l.z);
        json_key(&w, "seq_aux"); json_double(&w, l.seq_aux);
        json_end(&w);
        json_end(&w);
        errno = 0;
        if (afile_commit(&af) != 0) bad = io_fail(err, errlen, "cannot write %s: %s", p, errno ? strerror(errno) : "write error") != 0;
    }
    batch_source_free(&src);
    model_free(&m);
    world_free(&w);
    return bad ? -1 : 0;
}
