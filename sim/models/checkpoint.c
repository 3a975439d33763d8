// checkpoint.c — writing and reading model and checkpoint folders (format in checkpoint.h); the
// lists in state.json and their checks against a folder are file_list.c's.
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "checkpoint.h"
#include "checkpoint_internal.h"
#include "../io.h"
#include "spec.h"


const char *const ckpt_partial_names[CKPT_NPARTIAL] = {"metrics.csv", "layers.csv", "eval.csv", "experts.csv"};

// The folders under optim/ every checkpoint has made since before issue 25, even empty (an AdamW
// folder has always had an empty optim/mom/): kept, so those folders look as they did.
#define OPT_LEGACY_FOLDERS 3

static float *opt_array(const Optimizer *o, int which) { return optim_state_data(o, which); }

// The floats of the buffer of this kind the optimizer holds (0: none).
static size_t opt_len(const Optimizer *o, int which) {
    for (int s = 0; s < o->n_state; s++)
        if (o->state[s].kind == which) return o->state[s].len;
    return 0;
}

// The shape of one entry's slice of a state buffer in its .npy file, by the buffer's layout (the
// slice starts at optim_state_offset and has as many floats as the shape says).
int ckpt_state_npy_shape(int which, const ParamInfo *p, size_t *shape) {
    // a stack (count > 1 or experts) keeps its leading count dimension, as its parameter does
    const int stack = p->count > 1 || p->kind == PARAM_EXPERT, layout = optim_state_kinds[which].layout;
    const size_t count = (size_t)p->count, rows = (size_t)p->rows, cols = (size_t)p->cols;
    size_t *s = shape;
    if (layout == OPTIM_LAYOUT_PARAM || layout == OPTIM_LAYOUT_VECTOR) return param_npy_shape(p, shape);
    if (stack) *s++ = count;
    switch (layout) {
    case OPTIM_LAYOUT_ROWS: *s++ = rows; break;
    case OPTIM_LAYOUT_COLS: *s++ = cols; break;
    case OPTIM_LAYOUT_LEFT: *s++ = rows; *s++ = rows; break;
    case OPTIM_LAYOUT_RIGHT: *s++ = cols; *s++ = cols; break;
    default: break;
    }
    return (int)(s - shape);
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


// Fault injection for the tests (docs/EXPERIMENTS.md): MOESIM_CKPT_KILL=n kills the process with
// SIGKILL in the middle of its n-th checkpoint (parameters written, state.json not);
// MOESIM_CKPT_KILL_SWAP=n kills it between the two renames of its n-th checkpoint.
static int ckpt_writes;
static void maybe_die(const char *var) {
    const char *v = getenv(var);
    if (v && atoi(v) == ckpt_writes) raise(SIGKILL);
}

// ---- writing ----------------------------------------------------------------------------------

// state.json's "files": each file of the folder (already written) with its size and checksum.
static int write_file_list(JsonWriter *jw, const char *dir, const Model *m, const CkptWrite *w, char *err,
                           size_t errlen) {
    int opt[OPT_COUNT] = {0}, n = 0;
    for (int o = 0; w->optim && o < OPT_COUNT; o++) opt[o] = opt_array(w->optim, o) != NULL;
    FileSpec *fs = ckpt_file_specs(m, opt, w->partial[0] != NULL, &n);
    if (!fs) return io_fail(err, errlen, "%s: out of memory listing the files", dir);
    char p[IO_DEEP_PATH_MAX], hex[17];
    int rc = 0;
    json_key(jw, "files");
    json_array(jw);
    for (int i = 0; i < n && rc == 0; i++) {
        struct stat st;
        uint64_t h;
        if (!path_join(p, sizeof p, dir, fs[i].name) || stat(p, &st) != 0 || io_hash_file(p, &h) != 0) {
            rc = ckpt_fail_errno(err, errlen, "cannot read back", p);
            break;
        }
        io_hash_hex(h, hex);
        json_object_flat(jw);
        json_key(jw, "name"); json_str(jw, fs[i].name);
        if (fs[i].npy) {
            json_key(jw, "dtype"); json_str(jw, "<f4");
            json_key(jw, "shape");
            json_array_flat(jw);
            for (int k = 0; k < fs[i].nd; k++) json_uint(jw, fs[i].shape[k]);
            json_end(jw);
        }
        json_key(jw, "bytes"); json_uint(jw, (unsigned long long)st.st_size);
        json_key(jw, "fnv1a64"); json_str(jw, hex);
        json_end(jw);
    }
    json_end(jw);
    free(fs);
    return rc;
}

// The checksum of state.json's own values, which no file of the list covers and which decide how
// a run goes on: kind, step, optimizer, optimizer_t, batch_rng, layers and experts, as their text
// is written (json_field's form), each followed by a NUL. An edited "step" that no partial row
// contradicts (a step between two logged ones), "optimizer_t" or "batch_rng" would otherwise
// resume to other results while the run says ok.
// A text world's "corpus" record follows them when the folder has one (an empty one adds nothing,
// so the checksum of every other folder is what it was before the record existed).
static void state_hash(const char *const v[7], const char *corpus, char out[17]) {
    uint64_t h = IO_HASH_INIT;
    for (int i = 0; i < 7; i++) h = io_hash_bytes(h, v[i], strlen(v[i]) + 1);
    if (corpus && corpus[0]) h = io_hash_bytes(h, corpus, strlen(corpus) + 1);
    io_hash_hex(h, out);
}
static const char *const state_keys[7] = {"kind", "step", "optimizer", "optimizer_t", "batch_rng", "layers", "experts"};

static int write_state_json(const char *dir, const Config *c, const Model *m, const CkptWrite *w, char *err,
                            size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "state.json"));
    if (!f) return ckpt_fail_errno(err, errlen, "cannot write", p);
    JsonWriter jw;
    json_begin(&jw, f);
    json_object(&jw);
    json_key(&jw, "format"); json_str(&jw, CKPT_FORMAT);
    json_key(&jw, "kind"); json_str(&jw, w->partial[0] ? "checkpoint" : "model");
    json_key(&jw, "step"); json_int(&jw, w->step);
    json_key(&jw, "optimizer"); json_str(&jw, optim_names[c->optim_name]);
    json_key(&jw, "optimizer_t"); json_int(&jw, w->optim ? w->optim->t : 0L);
    // the batch stream: xoshiro state as four 64-bit words in hex (exact; JSON numbers are doubles)
    char rng[4 * 17 + 1] = "";
    for (int i = 0; w->batch_rng && i < 4; i++)
        snprintf(rng + strlen(rng), sizeof rng - strlen(rng), "%s%016" PRIx64, i ? ":" : "", w->batch_rng->s[i]);
    json_key(&jw, "batch_rng"); json_str(&jw, rng);
    json_key(&jw, "layers"); json_int(&jw, m->spec.L);
    json_key(&jw, "experts"); json_int(&jw, m->spec.E);
    if (w->corpus && w->corpus[0]) { json_key(&jw, "corpus"); json_str(&jw, w->corpus); }
    char step[24], opt_t[24], layers[24], experts[24], sum[17];
    snprintf(step, sizeof step, "%d", w->step);
    snprintf(opt_t, sizeof opt_t, "%ld", w->optim ? w->optim->t : 0L);
    snprintf(layers, sizeof layers, "%d", m->spec.L);
    snprintf(experts, sizeof experts, "%d", m->spec.E);
    const char *vals[7] = {w->partial[0] ? "checkpoint" : "model", step, optim_names[c->optim_name],
                           opt_t, rng, layers, experts};
    state_hash(vals, w->corpus, sum);
    json_key(&jw, "state_fnv1a64"); json_str(&jw, sum);
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
    if (write_file_list(&jw, dir, m, w, err, errlen) != 0) {
        afile_abort(&a);
        return -1;
    }
    json_end(&jw);
    if (afile_commit(&a) != 0) return ckpt_fail_errno(err, errlen, "cannot write", p);
    return 0;
}

static int write_contents(const char *dir, const Config *c, const Model *m, const CkptWrite *w, char *err,
                          size_t errlen) {
    char p[IO_DEEP_PATH_MAX], name[300];
    const char *subs[] = {"params", "state", "optim", "partial"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (i == 2 && !w->optim) continue;
        if (i == 3 && !w->partial[0]) continue;
        if (mkdir_p(path_join(p, sizeof p, dir, subs[i])) != 0) return ckpt_fail_errno(err, errlen, "cannot create", p);
    }
    for (int o = 0; w->optim && o < OPT_COUNT; o++) {
        if (o >= OPT_LEGACY_FOLDERS && !opt_array(w->optim, o)) continue;
        snprintf(name, sizeof name, "optim/%s", opt_name(o));
        if (mkdir_p(path_join(p, sizeof p, dir, name)) != 0) return ckpt_fail_errno(err, errlen, "cannot create", p);
    }
    size_t shape[3];
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *pi = &m->table.info[i];
        int nd = param_npy_shape(pi, shape);
        snprintf(name, sizeof name, "params/%s.npy", pi->name);
        if (npy_write(path_join(p, sizeof p, dir, name), "<f4", m->params + pi->offset, nd, shape) != 0)
            return ckpt_fail_errno(err, errlen, "cannot write", p);
        for (int o = 0; w->optim && o < OPT_COUNT; o++) {
            const float *arr = opt_array(w->optim, o);
            if (!arr || !optim_state_numel(o, pi)) continue;  // no slice: no file
            size_t sshape[3], soff = optim_state_offset(o, &m->table, i);
            int snd = ckpt_state_npy_shape(o, pi, sshape);
            snprintf(name, sizeof name, "optim/%s/%s.npy", opt_name(o), pi->name);
            if (npy_write(path_join(p, sizeof p, dir, name), "<f4", arr + soff, snd, sshape) != 0)
                return ckpt_fail_errno(err, errlen, "cannot write", p);
        }
    }
    size_t sb[1] = {(size_t)m->spec.E};
    for (int l = 0; l < m->spec.L; l++) {
        snprintf(name, sizeof name, "state/blocks.%d.bias.npy", l);
        if (npy_write(path_join(p, sizeof p, dir, name), "<f4", m->bias + (size_t)l * m->spec.E, 1, sb) != 0)
            return ckpt_fail_errno(err, errlen, "cannot write", p);
    }
    for (int i = 0; i < CKPT_NPARTIAL && w->partial[0]; i++) {
        snprintf(name, sizeof name, "partial/%s", ckpt_partial_names[i]);
        AtomicFile a;
        FILE *f = afile_open(&a, path_join(p, sizeof p, dir, name));
        if (!f) return ckpt_fail_errno(err, errlen, "cannot write", p);
        if (copy_file_into(f, w->partial[i]) != 0) {
            int e = errno;
            afile_abort(&a);
            errno = e;
            return ckpt_fail_errno(err, errlen, "cannot copy the rows written so far into", p);
        }
        if (afile_commit(&a) != 0) return ckpt_fail_errno(err, errlen, "cannot write", p);
    }
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "config.toml"));
    if (!f) return ckpt_fail_errno(err, errlen, "cannot write", p);
    config_write_toml(f, c);
    if (afile_commit(&a) != 0) return ckpt_fail_errno(err, errlen, "cannot write", p);
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
        return ckpt_fail_errno(err, errlen, "cannot write", dir);
    }
    remove_tree(tmp);
    if (write_contents(tmp, c, m, w, err, errlen) != 0) {
        remove_tree(tmp);
        return -1;
    }
    // swap: the old folder steps aside (as .prev) before the new one takes its name
    if (file_exists(dir)) {
        remove_tree(prev);
        if (rename(dir, prev) != 0) { ckpt_fail_errno(err, errlen, "cannot move aside", dir); remove_tree(tmp); return -1; }
    }
    if (w->partial[0]) maybe_die("MOESIM_CKPT_KILL_SWAP");
    if (rename(tmp, dir) != 0) { ckpt_fail_errno(err, errlen, "cannot rename into place", tmp); remove_tree(tmp); return -1; }
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

// Reads one float32 array of exactly the given shape into dst, every element finite.
static int read_exact(const char *path, int nd, const size_t *shape, float *dst, char *err, size_t errlen) {
    float *data = NULL;
    int ndim;
    size_t sh[3];
    if (npy_read_float(path, &data, &ndim, sh, err, errlen) != 0) return -1;
    int same = ndim == nd;
    size_t count = 1;
    for (int k = 0; k < nd && same; k++) { same = sh[k] == shape[k]; count *= shape[k]; }
    if (!same) {
        char want[64], got[64];
        ckpt_shape_text(want, sizeof want, nd, shape);
        ckpt_shape_text(got, sizeof got, ndim < 3 ? ndim : 3, sh);
        snprintf(err, errlen, "%s: shape %s, expected %s", path, got, want);
        free(data);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        if (!isfinite(data[i])) {
            snprintf(err, errlen, "%s: element %zu is %s (a non-finite value: the model diverged before it was "
                     "saved, or the file was changed)", path, i, isnan(data[i]) ? "NaN" : "Inf");
            free(data);
            return -1;
        }
    memcpy(dst, data, count * sizeof(float));
    free(data);
    return 0;
}

// state.json's own values against its "state_fnv1a64" (format 2; a folder written before the
// checksum was added, on 2026-12-06, has none and is read as before). Returns 0, or -1 with err.
static int check_state_values(const char *dir, const char *json, char *err, size_t errlen) {
    char got[7][128], sum[17], want[32];
    const char *vals[7];
    if (!json_field(json, "state_fnv1a64", want, sizeof want)) return 0;
    for (int i = 0; i < 7; i++) vals[i] = json_field(json, state_keys[i], got[i], sizeof got[i]) ? got[i] : "";
    char corpus[CKPT_CORPUS_MAX] = "";
    json_field(json, "corpus", corpus, sizeof corpus);
    state_hash(vals, corpus, sum);
    if (strcmp(want, sum) == 0) return 0;
    return io_fail(err, errlen, "%s/state.json: its values (kind, step, optimizer, optimizer_t, batch_rng, layers, "
                   "experts, corpus) do not match its \"state_fnv1a64\" %s (they give %s: the file was changed after it was "
                   "saved)", dir, want, sum);
}

// Returns the format's version (1 or 2), or -1 with err.
static int parse_state(const char *dir, const char *json, int *step, long *opt_t, uint64_t rng[4], char *err,
                       size_t errlen) {
    char v[128];
    int version = 0;
    if (json_field(json, "format", v, sizeof v))
        version = strcmp(v, CKPT_FORMAT) == 0 ? 2 : strcmp(v, CKPT_FORMAT_1) == 0 ? 1 : 0;
    if (!version) {
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
    return version;
}

int ckpt_read_corpus(const char *dir, char *out, size_t cap, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    char *json = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    if (!json) return ckpt_fail_errno(err, errlen, "cannot read", p);
    if (cap) out[0] = '\0';
    json_field(json, "corpus", out, cap);
    free(json);
    return 0;
}

// ---- partial CSVs -------------------------------------------------------------------------------------

static int check_partials(const char *dir, const CkptCsvRule *rules, int step, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX], name[CKPT_NAME_MAX];
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        snprintf(name, sizeof name, "partial/%s", ckpt_partial_names[i]);
        char *text = read_text_file(path_join(p, sizeof p, dir, name));
        if (!text) return ckpt_fail_errno(err, errlen, "cannot read", p);
        int rc = ckpt_check_csv(p, text, &rules[i], step, err, errlen);
        free(text);
        if (rc != 0) return -1;
    }
    return 0;
}

// A folder without the file list: said once per folder, since its files cannot be checked.
static void warn_unverified(const char *dir) {
    static char last[IO_DEEP_PATH_MAX];
    if (strcmp(last, dir) == 0) return;
    snprintf(last, sizeof last, "%s", dir);
    fprintf(stderr, "moesim: warning: %s/state.json is of the earlier format %s, which lists no files: their sizes "
            "and checksums cannot be verified (a folder written by this version can)\n", dir, CKPT_FORMAT_1);
}

int ckpt_read(const char *dir, Model *m, const CkptRead *r, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX], name[300];
    char *json = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    if (!json) return ckpt_fail_errno(err, errlen, "cannot read", p);
    int step;
    long opt_t;
    uint64_t rng[4];
    int version = parse_state(dir, json, &step, &opt_t, rng, err, errlen);
    char kind[32] = "";
    json_field(json, "kind", kind, sizeof kind);
    int checkpoint = strcmp(kind, "checkpoint") == 0;
    int opt_have[OPT_COUNT];
    for (int o = 0; o < OPT_COUNT; o++) opt_have[o] = 1;
    // the folder as a whole, before any array is read
    int rc = version < 0 ? -1 : 0;
    if (rc == 0 && (r->partial_rules || r->partial[0] || r->partial[1] || r->partial[2] || r->partial[3]) && !checkpoint)
        rc = io_fail(err, errlen, "%s: a %s folder, not a checkpoint (it has no result rows to resume)", dir, kind);
    if (rc == 0 && (version == 2 || strstr(json, "\n  \"parameters\": [")))
        rc = ckpt_check_parameters(dir, json, m, err, errlen);
    if (rc == 0 && version == 2) rc = ckpt_check_files(dir, json, m, checkpoint, opt_have, err, errlen);
    if (rc == 0 && version == 1) warn_unverified(dir);
    if (rc == 0 && r->partial_rules) rc = check_partials(dir, r->partial_rules, step, err, errlen);
    if (rc == 0 && version == 2) rc = check_state_values(dir, json, err, errlen);  // after the rows: they say more
    free(json);
    if (rc != 0) return -1;
    // every array is read into staging first: nothing of the model changes unless all of it reads
    size_t total = m->table.total, bias_n = (size_t)m->spec.L * m->spec.E;
    int want_opt[OPT_COUNT] = {0};
    size_t opt_floats = 0;  // every buffer the optimizer holds, whole
    for (int o = 0; r->optim && o < OPT_COUNT; o++) {
        want_opt[o] = opt_array(r->optim, o) != NULL;
        opt_floats += opt_len(r->optim, o);
    }
    float *stage = malloc(sizeof(float) * (total + opt_floats + bias_n + 1));
    if (!stage) { snprintf(err, errlen, "%s: out of memory reading the checkpoint", dir); return -1; }
    float *sp = stage, *sbias = stage + total, *sopt = sbias + bias_n;
    size_t shape[3];
    for (int i = 0; i < m->table.n && rc == 0; i++) {
        const ParamInfo *pi = &m->table.info[i];
        int nd = param_npy_shape(pi, shape);
        snprintf(name, sizeof name, "params/%s.npy", pi->name);
        rc = read_exact(path_join(p, sizeof p, dir, name), nd, shape, sp + pi->offset, err, errlen);
        float *so = sopt;
        for (int o = 0; o < OPT_COUNT && rc == 0; o++) {
            if (!want_opt[o]) continue;
            if (!optim_state_numel(o, pi)) {  // no slice: no file
                so += opt_len(r->optim, o);
                continue;
            }
            snprintf(name, sizeof name, "optim/%s/%s.npy", opt_name(o), pi->name);
            path_join(p, sizeof p, dir, name);
            if (!opt_have[o] || !file_exists(p)) {
                if (r->purpose == CKPT_FOR_WARM_START)
                    snprintf(err, errlen, "%s: missing (the saved optimizer is not this run's %s; set "
                             "train.init_optimizer = false to start the optimizer afresh)", p,
                             optim_names[r->optim->cfg.name]);
                else
                    snprintf(err, errlen, "%s: missing (the saved optimizer is not this run's %s)", p,
                             optim_names[r->optim->cfg.name]);
                rc = -1;
            } else {
                size_t sshape[3], soff = optim_state_offset(o, &m->table, i);
                int snd = ckpt_state_npy_shape(o, pi, sshape);
                rc = read_exact(p, snd, sshape, so + soff, err, errlen);
            }
            so += opt_len(r->optim, o);
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
        if (copy_file_into(r->partial[i], p) != 0) rc = ckpt_fail_errno(err, errlen, "cannot read", p);
    }
    if (rc == 0) {
        memcpy(m->params, sp, sizeof(float) * total);
        memcpy(m->bias, sbias, sizeof(float) * bias_n);
        float *so = sopt;
        for (int o = 0; o < OPT_COUNT; o++)
            if (want_opt[o]) {
                memcpy(opt_array(r->optim, o), so, sizeof(float) * opt_len(r->optim, o));
                so += opt_len(r->optim, o);
            }
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
