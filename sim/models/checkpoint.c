// checkpoint.c — writing and reading model and checkpoint folders (format in checkpoint.h).
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "checkpoint.h"
#include "../io.h"
#include "spec.h"

#define CKPT_FORMAT "moesim-checkpoint-1"

const char *const ckpt_partial_names[CKPT_NPARTIAL] = {"metrics.csv", "layers.csv", "eval.csv", "experts.csv"};

// The optimizer arrays a folder may hold, by subfolder of optim/.
enum { OPT_M, OPT_V, OPT_MOM, OPT_COUNT };
static const char *const opt_names[OPT_COUNT] = {"m", "v", "mom"};

static float *opt_array(const Optimizer *o, int which) {
    return which == OPT_M ? o->m : which == OPT_V ? o->v : o->mom;
}

int param_npy_shape(const ParamInfo *p, size_t *shape) {
    if (p->kind == PARAM_GAIN) { shape[0] = (size_t)p->cols; return 1; }
    if (p->count > 1 || p->kind == PARAM_EXPERT) {
        shape[0] = (size_t)p->count; shape[1] = (size_t)p->rows; shape[2] = (size_t)p->cols;
        return 3;
    }
    shape[0] = (size_t)p->rows; shape[1] = (size_t)p->cols;
    return 2;
}

// io_fail with the reason errno gives.
static int fail_errno(char *err, size_t errlen, const char *what, const char *path) {
    return io_fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

// Fault injection for the tests (docs/EXPERIMENTS.md): MOESIM_CKPT_KILL=n kills the process with
// SIGKILL in the middle of its n-th checkpoint (parameters written, state.json not);
// MOESIM_CKPT_KILL_SWAP=n kills it between the two renames of its n-th checkpoint.
static int ckpt_writes;
static void maybe_die(const char *var) {
    const char *v = getenv(var);
    if (v && atoi(v) == ckpt_writes) raise(SIGKILL);
}

// ---- writing ----------------------------------------------------------------------------------

static int write_state_json(const char *dir, const Config *c, const Model *m, const CkptWrite *w, char *err,
                            size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "state.json"));
    if (!f) return fail_errno(err, errlen, "cannot write", p);
    JsonWriter jw;
    json_begin(&jw, f);
    json_object(&jw);
    json_key(&jw, "format"); json_str(&jw, CKPT_FORMAT);
    json_key(&jw, "kind"); json_str(&jw, w->partial[0] ? "checkpoint" : "model");
    json_key(&jw, "step"); json_int(&jw, w->step);
    json_key(&jw, "optimizer"); json_str(&jw, c->optim_name == OPTIM_MUON ? "muon" : "adamw");
    json_key(&jw, "optimizer_t"); json_int(&jw, w->optim ? w->optim->t : 0L);
    // the batch stream: xoshiro state as four 64-bit words in hex (exact; JSON numbers are doubles)
    char rng[4 * 17 + 1] = "";
    for (int i = 0; w->batch_rng && i < 4; i++)
        snprintf(rng + strlen(rng), sizeof rng - strlen(rng), "%s%016" PRIx64, i ? ":" : "", w->batch_rng->s[i]);
    json_key(&jw, "batch_rng"); json_str(&jw, rng);
    json_key(&jw, "layers"); json_int(&jw, m->spec.L);
    json_key(&jw, "experts"); json_int(&jw, m->spec.E);
    json_key(&jw, "parameters");
    json_array(&jw);
    size_t shape[3];
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *pi = &m->table.info[i];
        int nd = param_npy_shape(pi, shape);
        json_object_flat(&jw);
        json_key(&jw, "name"); json_str(&jw, pi->name);
        json_key(&jw, "shape");
        json_array_flat(&jw);
        for (int k = 0; k < nd; k++) json_uint(&jw, shape[k]);
        json_end(&jw);
        json_end(&jw);
    }
    json_end(&jw);
    json_end(&jw);
    if (afile_commit(&a) != 0) return fail_errno(err, errlen, "cannot write", p);
    return 0;
}

static int write_contents(const char *dir, const Config *c, const Model *m, const CkptWrite *w, char *err,
                          size_t errlen) {
    char p[IO_DEEP_PATH_MAX], name[300];
    const char *subs[] = {"params", "state", "optim", "optim/m", "optim/v", "optim/mom", "partial"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (i >= 2 && i <= 5 && !w->optim) continue;
        if (i == 6 && !w->partial[0]) continue;
        if (mkdir_p(path_join(p, sizeof p, dir, subs[i])) != 0) return fail_errno(err, errlen, "cannot create", p);
    }
    size_t shape[3];
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *pi = &m->table.info[i];
        int nd = param_npy_shape(pi, shape);
        snprintf(name, sizeof name, "params/%s.npy", pi->name);
        if (npy_write(path_join(p, sizeof p, dir, name), "<f4", m->params + pi->offset, nd, shape) != 0)
            return fail_errno(err, errlen, "cannot write", p);
        for (int o = 0; w->optim && o < OPT_COUNT; o++) {
            const float *arr = opt_array(w->optim, o);
            if (!arr) continue;
            snprintf(name, sizeof name, "optim/%s/%s.npy", opt_names[o], pi->name);
            if (npy_write(path_join(p, sizeof p, dir, name), "<f4", arr + pi->offset, nd, shape) != 0)
                return fail_errno(err, errlen, "cannot write", p);
        }
    }
    size_t sb[1] = {(size_t)m->spec.E};
    for (int l = 0; l < m->spec.L; l++) {
        snprintf(name, sizeof name, "state/blocks.%d.bias.npy", l);
        if (npy_write(path_join(p, sizeof p, dir, name), "<f4", m->bias + (size_t)l * m->spec.E, 1, sb) != 0)
            return fail_errno(err, errlen, "cannot write", p);
    }
    for (int i = 0; i < CKPT_NPARTIAL && w->partial[0]; i++) {
        snprintf(name, sizeof name, "partial/%s", ckpt_partial_names[i]);
        AtomicFile a;
        FILE *f = afile_open(&a, path_join(p, sizeof p, dir, name));
        if (!f) return fail_errno(err, errlen, "cannot write", p);
        if (copy_file_into(f, w->partial[i]) != 0) {
            int e = errno;
            afile_abort(&a);
            errno = e;
            return fail_errno(err, errlen, "cannot copy the rows written so far into", p);
        }
        if (afile_commit(&a) != 0) return fail_errno(err, errlen, "cannot write", p);
    }
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "config.toml"));
    if (!f) return fail_errno(err, errlen, "cannot write", p);
    config_write_toml(f, c);
    if (afile_commit(&a) != 0) return fail_errno(err, errlen, "cannot write", p);
    if (w->partial[0]) maybe_die("MOESIM_CKPT_KILL");
    // state.json last: a folder without it is not a checkpoint
    return write_state_json(dir, c, m, w, err, errlen);
}

int ckpt_write(const char *dir, const Config *c, const Model *m, const CkptWrite *w, char *err, size_t errlen) {
    char tmp[IO_DEEP_PATH_MAX], prev[IO_DEEP_PATH_MAX];
    if (w->partial[0]) ckpt_writes++;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid()) >= sizeof tmp ||
        (size_t)snprintf(prev, sizeof prev, "%s.prev", dir) >= sizeof prev) {
        errno = ENAMETOOLONG;
        return fail_errno(err, errlen, "cannot write", dir);
    }
    remove_tree(tmp);
    if (write_contents(tmp, c, m, w, err, errlen) != 0) {
        remove_tree(tmp);
        return -1;
    }
    // swap: the old folder steps aside (as .prev) before the new one takes its name
    if (file_exists(dir)) {
        remove_tree(prev);
        if (rename(dir, prev) != 0) { fail_errno(err, errlen, "cannot move aside", dir); remove_tree(tmp); return -1; }
    }
    if (w->partial[0]) maybe_die("MOESIM_CKPT_KILL_SWAP");
    if (rename(tmp, dir) != 0) { fail_errno(err, errlen, "cannot rename into place", tmp); remove_tree(tmp); return -1; }
    remove_tree(prev);
    return 0;
}

// ---- finding and reading ------------------------------------------------------------------------

static int has_state(const char *dir) {
    char p[IO_DEEP_PATH_MAX];
    return file_exists(path_join(p, sizeof p, dir, "state.json"));
}

// dir itself, or its .prev when a swap was cut short. 1 when found (into out).
static int complete_folder(const char *dir, char *out, size_t cap) {
    char prev[IO_DEEP_PATH_MAX];
    int prev_fits = (size_t)snprintf(prev, sizeof prev, "%s.prev", dir) < sizeof prev;
    const char *found = has_state(dir) ? dir : prev_fits && has_state(prev) ? prev : NULL;
    return found && (size_t)snprintf(out, cap, "%s", found) < cap;  // a path that does not fit is not found
}

int ckpt_resolve(const char *path, int prefer_checkpoint, char *out, size_t cap, char *err, size_t errlen) {
    char a[IO_DEEP_PATH_MAX], b[IO_DEEP_PATH_MAX];
    if (complete_folder(path, out, cap)) return 0;
    if (!path_join(a, sizeof a, path, prefer_checkpoint ? "checkpoint" : "model") ||
        !path_join(b, sizeof b, path, prefer_checkpoint ? "model" : "checkpoint"))
        return io_fail(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
    if (complete_folder(a, out, cap)) return 0;
    if (!prefer_checkpoint && complete_folder(b, out, cap)) return 0;
    if (!file_exists(path)) snprintf(err, errlen, "%s: no such folder", path);
    else if (prefer_checkpoint)
        snprintf(err, errlen, "%s: no checkpoint here (expected %s/state.json; a run writes one when "
                 "train.checkpoint_every > 0 or when it is interrupted)", path, a);
    else
        snprintf(err, errlen, "%s: no saved model here (expected %s/state.json or %s/state.json; a finished "
                 "run saves its model unless train.save_model = false)", path, a, b);
    return -1;
}

int ckpt_read_config(const char *dir, Config *c, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    if (!path_join(p, sizeof p, dir, "config.toml")) return io_fail(err, errlen, "%s: %s", p, strerror(ENAMETOOLONG));
    if (!file_exists(p)) { snprintf(err, errlen, "%s: missing", p); return -1; }
    Experiment *ex = calloc(1, sizeof *ex);
    CfgErrors *e = calloc(1, sizeof *e);
    int rc = -1;
    if (!ex || !e) snprintf(err, errlen, "%s: out of memory", p);
    else if (experiment_load(ex, p, NULL, 0, e) != 0) snprintf(err, errlen, "%s", e->msg[0]);
    else { *c = ex->base; rc = 0; }
    free(ex);
    free(e);
    return rc;
}

int ckpt_check_shapes(const Config *saved, const Config *want, const char *dir, char *err, size_t errlen) {
    static const char *const keys[] = {"model.kind", "model.vocab", "model.d_model", "model.layers", "model.heads",
                                       "model.attention", "model.experts", "model.top_k", "model.d_ff",
                                       "model.seq_len", "model.shared_experts"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int k = config_find(keys[i]);
        char a[64], b[64];
        config_format_value(saved, k, 1, a, sizeof a);
        config_format_value(want, k, 1, b, sizeof b);
        if (strcmp(a, b) != 0) {
            snprintf(err, errlen, "%s: the saved model has %s = %s, this run has %s = %s", dir, keys[i], a, keys[i], b);
            return -1;
        }
    }
    return 0;
}

// Reads one float32 array of exactly `count` elements with the given shape into dst.
static int read_exact(const char *path, int nd, const size_t *shape, float *dst, char *err, size_t errlen) {
    float *data = NULL;
    int ndim;
    size_t sh[3];
    if (npy_read_float(path, &data, &ndim, sh, err, errlen) != 0) return -1;
    int same = ndim == nd;
    size_t count = 1;
    for (int k = 0; k < nd && same; k++) { same = sh[k] == shape[k]; count *= shape[k]; }
    if (!same) {
        char want[64] = "", got[64] = "";
        for (int k = 0; k < nd; k++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%zu", k ? "x" : "", shape[k]);
        for (int k = 0; k < ndim && k < 3; k++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu", k ? "x" : "", sh[k]);
        snprintf(err, errlen, "%s: shape %s, expected %s", path, got, want);
        free(data);
        return -1;
    }
    memcpy(dst, data, count * sizeof(float));
    free(data);
    return 0;
}

static int parse_state(const char *dir, const char *json, int *step, long *opt_t, uint64_t rng[4], char *err,
                       size_t errlen) {
    char v[128];
    if (!json_field(json, "format", v, sizeof v) || strcmp(v, CKPT_FORMAT) != 0) {
        snprintf(err, errlen, "%s/state.json: not a moesim checkpoint (expected \"format\": \"%s\")", dir, CKPT_FORMAT);
        return -1;
    }
    char *end;
    if (!json_field(json, "step", v, sizeof v) || (*step = (int)strtol(v, &end, 10), end == v || *step < 0)) {
        snprintf(err, errlen, "%s/state.json: missing or bad \"step\"", dir);
        return -1;
    }
    if (!json_field(json, "optimizer_t", v, sizeof v) || (*opt_t = strtol(v, &end, 10), end == v || *opt_t < 0)) {
        snprintf(err, errlen, "%s/state.json: missing or bad \"optimizer_t\"", dir);
        return -1;
    }
    memset(rng, 0, 4 * sizeof rng[0]);
    if (json_field(json, "batch_rng", v, sizeof v) && v[0]) {
        const char *q = v;
        for (int i = 0; i < 4; i++) {
            rng[i] = (uint64_t)strtoull(q, &end, 16);
            if (end == q || (i < 3 && *end != ':')) {
                snprintf(err, errlen, "%s/state.json: bad \"batch_rng\" (expected four hex words a:b:c:d)", dir);
                return -1;
            }
            q = end + 1;
        }
    }
    return 0;
}

int ckpt_read(const char *dir, Model *m, const CkptRead *r, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX], name[300];
    char *json = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    if (!json) return fail_errno(err, errlen, "cannot read", p);
    int step;
    long opt_t;
    uint64_t rng[4];
    int rc = parse_state(dir, json, &step, &opt_t, rng, err, errlen);
    char kind[32] = "";
    json_field(json, "kind", kind, sizeof kind);
    free(json);
    if (rc != 0) return -1;
    // every array is read into staging first: nothing of the model changes unless all of it reads
    size_t total = m->table.total, bias_n = (size_t)m->spec.L * m->spec.E;
    int nopt = 0, want_opt[OPT_COUNT] = {0};
    for (int o = 0; r->optim && o < OPT_COUNT; o++) {
        want_opt[o] = opt_array(r->optim, o) != NULL;
        nopt += want_opt[o];
    }
    float *stage = malloc(sizeof(float) * (total * (1 + (size_t)nopt) + bias_n + 1));
    if (!stage) { snprintf(err, errlen, "%s: out of memory reading the checkpoint", dir); return -1; }
    float *sp = stage, *sbias = stage + total, *sopt = sbias + bias_n;
    size_t shape[3];
    rc = 0;
    for (int i = 0; i < m->table.n && rc == 0; i++) {
        const ParamInfo *pi = &m->table.info[i];
        int nd = param_npy_shape(pi, shape);
        snprintf(name, sizeof name, "params/%s.npy", pi->name);
        rc = read_exact(path_join(p, sizeof p, dir, name), nd, shape, sp + pi->offset, err, errlen);
        float *so = sopt;
        for (int o = 0; o < OPT_COUNT && rc == 0; o++) {
            if (!want_opt[o]) continue;
            snprintf(name, sizeof name, "optim/%s/%s.npy", opt_names[o], pi->name);
            path_join(p, sizeof p, dir, name);
            if (!file_exists(p)) {
                snprintf(err, errlen, "%s: missing (the saved optimizer is not this run's %s; set "
                         "train.init_optimizer = false to start the optimizer afresh)", p,
                         r->optim->cfg.name == OPTIM_MUON ? "muon" : "adamw");
                rc = -1;
            } else {
                rc = read_exact(p, nd, shape, so + pi->offset, err, errlen);
            }
            so += total;
        }
    }
    size_t sb[1] = {(size_t)m->spec.E};
    for (int l = 0; l < m->spec.L && rc == 0; l++) {
        snprintf(name, sizeof name, "state/blocks.%d.bias.npy", l);
        rc = read_exact(path_join(p, sizeof p, dir, name), 1, sb, sbias + (size_t)l * m->spec.E, err, errlen);
    }
    for (int i = 0; i < CKPT_NPARTIAL && rc == 0; i++) {
        if (!r->partial[i]) continue;
        snprintf(name, sizeof name, "partial/%s", ckpt_partial_names[i]);
        path_join(p, sizeof p, dir, name);
        if (strcmp(kind, "checkpoint") != 0) {
            snprintf(err, errlen, "%s: a %s folder, not a checkpoint (it has no result rows to resume)", dir, kind);
            rc = -1;
        } else if (copy_file_into(r->partial[i], p) != 0) {
            rc = fail_errno(err, errlen, "cannot read", p);
        }
    }
    if (rc == 0) {
        memcpy(m->params, sp, sizeof(float) * total);
        memcpy(m->bias, sbias, sizeof(float) * bias_n);
        float *so = sopt;
        for (int o = 0; o < OPT_COUNT; o++)
            if (want_opt[o]) { memcpy(opt_array(r->optim, o), so, sizeof(float) * total); so += total; }
        if (r->optim) r->optim->t = opt_t;
        if (r->batch_rng) memcpy(r->batch_rng->s, rng, sizeof rng[0] * 4);
        if (r->step) *r->step = step;
    }
    free(stage);
    return rc;
}

int ckpt_open_model(const char *path, int prefer_checkpoint, Config *c, Model *m, int *step, char *err,
                    size_t errlen) {
    char dir[IO_DEEP_PATH_MAX];
    if (ckpt_resolve(path, prefer_checkpoint, dir, sizeof dir, err, errlen) != 0) return -1;
    if (ckpt_read_config(dir, c, err, errlen) != 0) return -1;
    ModelSpec ms;
    model_spec_from_config(&ms, c);
    if (model_build(m, &ms, err, errlen) != 0) return -1;
    CkptRead r = {.step = step};
    if (ckpt_read(dir, m, &r, err, errlen) != 0) { model_free(m); return -1; }
    return 0;
}
