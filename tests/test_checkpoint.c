// test_checkpoint.c — model and checkpoint folders on their own (sim/models/checkpoint.c): a small
// model with its optimizer state and the batch RNG written and read back bit for bit (parameters,
// aux-free biases, AdamW moments, Muon momentum, optimizer t, step); a model folder against a
// checkpoint folder (partial rows, kind); resolving a run folder (model/, checkpoint/, .prev);
// and the errors — missing file, wrong shape, a saved config of another shape, another
// optimizer, a foreign state.json, a truncated tensor — each naming the file, the model untouched;
// the file list of state.json (a flipped byte, an edited config.toml, an unknown tensor, a size,
// the parameter list), non-finite arrays, a folder of the earlier format, and the partial CSVs' rules.
// covers: sim/models/checkpoint.c sim/models/file_list.c sim/models/partial_csv.c sim/io.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "../nn/model.h"
#include "../optim/optim.h"
#include "../sim/config/config.h"
#include "../sim/io.h"
#include "../sim/models/checkpoint.h"
#include "../sim/models/spec.h"

static char tmpdir[256];

#include "set_key.h"
#include "file_edits.h"

static void small_config(Config *c, const char *optimizer) {
    tiny_decoder(c, "16");
    set(c, "optim.name", optimizer);
    set(c, "optim.adafactor_beta1", "0.9");  // Adafactor with its momentum buffer too (others ignore it)
}

typedef struct { Model m; Optimizer o; } Saved;

static int build(Saved *s, const Config *c) {
    char err[300];
    ModelSpec ms;
    OptimConfig oc;
    model_spec_from_config(&ms, c);
    optim_config_from_config(&oc, c);
    int rc = model_build(&s->m, &ms, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc != 0) return -1;
    rc = optim_init(&s->o, &oc, &s->m.table, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc != 0) { model_free(&s->m); return -1; }
    return 0;
}

static void saved_free(Saved *s) { optim_free(&s->o); model_free(&s->m); }

// Every float of the state distinct and non-trivial (a reader that drops, swaps or zeroes an array
// cannot match by chance): uniform in [-1, 1) from a stream per array.
static void fill(float *x, size_t n, uint64_t stream) {
    Rng r;
    rng_seed(&r, 77, stream);
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * rng_uniform(&r) - 1);
}

static void fill_state(Saved *s, uint64_t salt) {
    fill(s->m.params, s->m.table.total, 1 + salt);
    fill(s->m.bias, (size_t)s->m.spec.L * s->m.spec.E, 2 + salt);
    for (int k = 0; k < s->o.n_state; k++) fill(s->o.state[k].data, s->o.state[k].len, 3 + (uint64_t)k + salt);
    s->o.t = 37 + (long)salt;
}

static int same_floats(const float *a, const float *b, size_t n) {
    if (!a || !b) return a == b;
    return memcmp(a, b, n * sizeof(float)) == 0;
}

// The same buffers (kinds, lengths) with the same floats.
static int same_optim_state(const Optimizer *a, const Optimizer *b) {
    if (a->n_state != b->n_state) return 0;
    for (int k = 0; k < a->n_state; k++)
        if (a->state[k].kind != b->state[k].kind || a->state[k].len != b->state[k].len ||
            !same_floats(a->state[k].data, b->state[k].data, a->state[k].len))
            return 0;
    return 1;
}

static int same_state(const Saved *a, const Saved *b) {
    return same_floats(a->m.params, b->m.params, a->m.table.total) &&
           same_floats(a->m.bias, b->m.bias, (size_t)a->m.spec.L * a->m.spec.E) &&
           same_optim_state(&a->o, &b->o) && a->o.t == b->o.t;
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

// ---- round trip -------------------------------------------------------------------------------

static void test_round_trip(const char *optimizer, const char *tag) {
    Config c;
    small_config(&c, optimizer);
    Saved a, b;
    if (build(&a, &c) != 0) return;
    if (build(&b, &c) != 0) { saved_free(&a); return; }
    fill_state(&a, 0);
    fill_state(&b, 100);  // b starts elsewhere, so a field left unread shows
    CHECK(!same_state(&a, &b));
    Rng rng, rng_back;
    rng_seed(&rng, 5, 3);
    for (int i = 0; i < 7; i++) rng_next(&rng);  // mid-stream, not a fresh seed
    rng_seed(&rng_back, 1, 1);
    char dir[512], err[1500] = "";
    snprintf(dir, sizeof dir, "%s/%s/model", tmpdir, tag);
    CkptWrite w = {.step = 123, .optim = &a.o, .batch_rng = &rng};
    CHECK_MSG(ckpt_write(dir, &c, &a.m, &w, err, sizeof err) == 0, "%s", err);
    int step = -1;
    CkptRead r = {.optim = &b.o, .batch_rng = &rng_back, .step = &step};
    CHECK_MSG(ckpt_read(dir, &b.m, &r, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(same_floats(a.m.params, b.m.params, a.m.table.total), "%s: parameters differ", tag);
    CHECK_MSG(same_floats(a.m.bias, b.m.bias, (size_t)a.m.spec.L * a.m.spec.E), "%s: biases differ", tag);
    CHECK_MSG(same_optim_state(&a.o, &b.o), "%s: optimizer state differs", tag);
    CHECK(b.o.t == a.o.t);
    CHECK(step == 123);
    CHECK(memcmp(rng.s, rng_back.s, sizeof rng.s) == 0);
    CHECK(rng_next(&rng) == rng_next(&rng_back));
    // each case really carries its optimizer's buffers, and the folder holds their files: one per
    // entry that has a slice (Adafactor's row statistics for the router, a matrix, and none for
    // the gain final_norm, whose full second moment is in af_v; SOAP's bases for the router only)
    static const struct { const char *tag; int kinds[8]; } want[] = {
        {"adamw", {OPTIM_STATE_M, OPTIM_STATE_V, -1}}, {"muon", {OPTIM_STATE_M, OPTIM_STATE_V, OPTIM_STATE_MOM, -1}},
        {"sgd", {OPTIM_STATE_SGD_MOM, -1}}, {"lion", {OPTIM_STATE_LION_M, -1}},
        {"adafactor", {OPTIM_STATE_AF_ROW, OPTIM_STATE_AF_COL, OPTIM_STATE_AF_V, OPTIM_STATE_AF_M, -1}},
        {"soap", {OPTIM_STATE_M, OPTIM_STATE_V, OPTIM_STATE_SOAP_M, OPTIM_STATE_SOAP_V, OPTIM_STATE_SOAP_L,
                  OPTIM_STATE_SOAP_R, OPTIM_STATE_SOAP_QL, OPTIM_STATE_SOAP_QR}}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (strcmp(tag, want[i].tag)) continue;
        int nk = 0;
        for (int k = 0; k < 8 && want[i].kinds[k] >= 0; k++, nk++) {
            const int kind = want[i].kinds[k];
            CHECK_MSG(optim_state_data(&a.o, kind) != NULL, "%s: no %s", tag, optim_state_kinds[kind].name);
            char f[700], rel[100], gain[100];
            const int vec = kind == OPTIM_STATE_AF_V;
            snprintf(rel, sizeof rel, "optim/%s/%s.npy", optim_state_kinds[kind].name, vec ? "final_norm" : "blocks.0.router");
            snprintf(gain, sizeof gain, "optim/%s/%s.npy", optim_state_kinds[kind].name, vec ? "blocks.0.router" : "final_norm");
            CHECK_MSG(file_exists(path_join(f, sizeof f, dir, rel)), "%s: no %s", tag, rel);
            const int layout = optim_state_kinds[kind].layout;
            // a packed layout has no file for an entry without a slice
            CHECK_MSG(file_exists(path_join(f, sizeof f, dir, gain)) == (layout == OPTIM_LAYOUT_PARAM), "%s: %s %s",
                      tag, gain, layout == OPTIM_LAYOUT_PARAM ? "missing" : "written for an entry without a slice");
        }
        CHECK_MSG(a.o.n_state == nk, "%s: %d buffers, want %d", tag, a.o.n_state, nk);
    }
    // the folder: state.json says what it is; config.toml rebuilds the same shapes
    char p[700];
    char *json = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    CHECK(json && contains(json, "\"kind\": \"model\"") && contains(json, "\"step\": 123"));
    free(json);
    Config back;
    CHECK_MSG(ckpt_read_config(dir, &back, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(ckpt_check_shapes(&back, &c, dir, err, sizeof err) == 0, "%s", err);
    // a NULL optimizer, RNG and step leave those alone and still load the model
    fill_state(&b, 200);
    float m0_before = b.o.state[0].data[0];
    CkptRead model_only = {0};
    CHECK_MSG(ckpt_read(dir, &b.m, &model_only, err, sizeof err) == 0, "%s", err);
    CHECK(same_floats(a.m.params, b.m.params, a.m.table.total));
    CHECK(b.o.t == 237 && b.o.state[0].data[0] == m0_before);
    // ckpt_open_model: resolve, read the config, build, load
    Config oc;
    Model om;
    int ostep = -1;
    CHECK_MSG(ckpt_open_model(dir, 0, &oc, &om, &ostep, err, sizeof err) == 0, "%s", err);
    if (om.params) {
        CHECK(om.table.total == a.m.table.total && same_floats(a.m.params, om.params, a.m.table.total));
        CHECK(ostep == 123);
        model_free(&om);
    }
    saved_free(&a);
    saved_free(&b);
}

// ---- model folder vs checkpoint folder; resolving a run folder ---------------------------------

static void test_kinds_and_resolve(void) {
    Config c;
    small_config(&c, "\"adamw\"");
    Saved a;
    if (build(&a, &c) != 0) return;
    fill_state(&a, 0);
    char run[512], model[600], ckpt[600], p[800], err[1500] = "", out[1100];
    snprintf(run, sizeof run, "%s/kinds", tmpdir);
    path_join(model, sizeof model, run, "model");
    path_join(ckpt, sizeof ckpt, run, "checkpoint");
    CHECK(mkdir_p(run) == 0);
    // the result rows so far, one file per partial name
    const char *partial_src[CKPT_NPARTIAL];
    char partial_paths[CKPT_NPARTIAL][700];
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        path_join(partial_paths[i], sizeof partial_paths[i], run, ckpt_partial_names[i]);
        char text[100];
        snprintf(text, sizeof text, "step,x\n%d,%d.5\n", i, i);
        write_text(partial_paths[i], text);
        partial_src[i] = partial_paths[i];
    }
    CkptWrite wm = {.step = 10, .optim = &a.o};
    CHECK_MSG(ckpt_write(model, &c, &a.m, &wm, err, sizeof err) == 0, "%s", err);
    CkptWrite wc = {.step = 7, .optim = &a.o};
    memcpy(wc.partial, partial_src, sizeof wc.partial);
    CHECK_MSG(ckpt_write(ckpt, &c, &a.m, &wc, err, sizeof err) == 0, "%s", err);
    char *json = read_text_file(path_join(p, sizeof p, ckpt, "state.json"));
    CHECK(json && contains(json, "\"kind\": \"checkpoint\""));
    free(json);
    CHECK(!file_exists(path_join(p, sizeof p, model, "partial")));
    // the checkpoint's partial rows come back byte for byte
    FILE *got[CKPT_NPARTIAL];
    CkptRead r = {0};
    int step = -1;
    r.step = &step;
    for (int i = 0; i < CKPT_NPARTIAL; i++) r.partial[i] = got[i] = tmpfile();
    CHECK_MSG(ckpt_read(ckpt, &a.m, &r, err, sizeof err) == 0, "%s", err);
    CHECK(step == 7);
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        char buf[200] = "", want[100];
        snprintf(want, sizeof want, "step,x\n%d,%d.5\n", i, i);
        rewind(got[i]);
        size_t n = fread(buf, 1, sizeof buf - 1, got[i]);
        buf[n] = 0;
        CHECK_MSG(strcmp(buf, want) == 0, "partial %s: got \"%s\"", ckpt_partial_names[i], buf);
    }
    // a model folder has no rows to resume
    for (int i = 0; i < CKPT_NPARTIAL; i++) rewind(got[i]);
    err[0] = 0;
    CHECK(ckpt_read(model, &a.m, &r, err, sizeof err) != 0);
    CHECK_MSG(contains(err, model) && contains(err, "not a checkpoint"), "%s", err);
    for (int i = 0; i < CKPT_NPARTIAL; i++) fclose(got[i]);
    // resolve: a run folder means its model (or, asked, its checkpoint); a folder itself is itself
    CHECK(ckpt_resolve(run, 0, out, sizeof out, err, sizeof err) == 0 && strcmp(out, model) == 0);
    CHECK(ckpt_resolve(run, 1, out, sizeof out, err, sizeof err) == 0 && strcmp(out, ckpt) == 0);
    CHECK(ckpt_resolve(ckpt, 0, out, sizeof out, err, sizeof err) == 0 && strcmp(out, ckpt) == 0);
    // a swap cut short leaves DIR.prev: the reader takes it
    char prev[700];
    snprintf(prev, sizeof prev, "%s.prev", ckpt);
    CHECK(rename(ckpt, prev) == 0);
    CHECK(ckpt_resolve(run, 1, out, sizeof out, err, sizeof err) == 0 && strcmp(out, prev) == 0);
    // rewriting over an existing folder replaces it and leaves no .prev or .tmp behind
    CHECK(rename(prev, ckpt) == 0);
    wc.step = 8;
    CHECK_MSG(ckpt_write(ckpt, &c, &a.m, &wc, err, sizeof err) == 0, "%s", err);
    CHECK(!file_exists(prev));
    json = read_text_file(path_join(p, sizeof p, ckpt, "state.json"));
    CHECK(json && contains(json, "\"step\": 8"));
    free(json);
    // without model/, a run folder falls back to its checkpoint; asked for a checkpoint, never a model
    CHECK(remove_tree(ckpt) == 0);
    CHECK(ckpt_resolve(run, 1, out, sizeof out, err, sizeof err) != 0);
    CHECK_MSG(contains(err, run) && contains(err, "no checkpoint"), "%s", err);
    CHECK(remove_tree(model) == 0);
    CHECK(ckpt_resolve(run, 0, out, sizeof out, err, sizeof err) != 0);
    CHECK_MSG(contains(err, "no saved model") && contains(err, "state.json"), "%s", err);
    snprintf(p, sizeof p, "%s/nowhere", tmpdir);
    CHECK(ckpt_resolve(p, 0, out, sizeof out, err, sizeof err) != 0);
    CHECK_MSG(contains(err, p) && contains(err, "no such folder"), "%s", err);
    saved_free(&a);
}

// ---- errors: each names the file, and leaves the model as it was --------------------------------

// Writes a fresh folder from a (state salt 0) into tmpdir/<tag>, returns its path in dir.
static void fresh(Saved *a, const Config *c, const char *tag, char *dir, size_t cap) {
    char err[1500] = "";
    snprintf(dir, cap, "%s/err_%s", tmpdir, tag);
    CkptWrite w = {.step = 3, .optim = &a->o};
    CHECK_MSG(ckpt_write(dir, c, &a->m, &w, err, sizeof err) == 0, "%s", err);
}

// Reads dir into b (state salt 100; with_optim 1: its optimizer too, 2: as a warm start does)
// expecting failure: the message holds `part1` and `part2`, and
// nothing of b changed.
static void expect_fail(Saved *b, const char *dir, int with_optim, const char *part1, const char *part2,
                        const char *what) {
    char err[1500] = "";
    fill_state(b, 100);
    size_t n = b->m.table.total, nb = (size_t)b->m.spec.L * b->m.spec.E;
    float *keep = malloc(sizeof(float) * (n + nb));
    memcpy(keep, b->m.params, sizeof(float) * n);
    memcpy(keep + n, b->m.bias, sizeof(float) * nb);
    int step = -1;
    CkptRead r = {.optim = with_optim ? &b->o : NULL, .step = &step,
                  .purpose = with_optim == 2 ? CKPT_FOR_WARM_START : CKPT_FOR_MODEL};
    int rc = ckpt_read(dir, &b->m, &r, err, sizeof err);
    CHECK_MSG(rc != 0, "%s: read succeeded", what);
    CHECK_MSG(contains(err, part1) && contains(err, part2), "%s: message \"%s\" lacks \"%s\" / \"%s\"", what, err,
              part1, part2);
    CHECK_MSG(memcmp(keep, b->m.params, sizeof(float) * n) == 0 && memcmp(keep + n, b->m.bias, sizeof(float) * nb) == 0,
              "%s: the model changed on a failed read", what);
    CHECK_MSG(step == -1 && b->o.t == 137, "%s: step or optimizer t changed on a failed read", what);
    free(keep);
}

// The two models the error tests need: a (saved, its state filled in) and b (read into), both of
// the small AdamW config c. Returns 0, or -1 (a build failed; nothing is left allocated).
static int build_pair(Config *c, Saved *a, Saved *b) {
    small_config(c, "\"adamw\"");
    if (build(a, c) != 0) return -1;
    if (build(b, c) != 0) { saved_free(a); return -1; }
    fill_state(a, 0);
    return 0;
}

static void test_errors(void) {
    Config c;
    Saved a, b;
    if (build_pair(&c, &a, &b) != 0) return;
    char dir[512], p[800], err[1500] = "";

    // a missing parameter file
    fresh(&a, &c, "missing", dir, sizeof dir);
    path_join(p, sizeof p, dir, "params/blocks.1.w1.npy");
    CHECK(unlink(p) == 0);
    expect_fail(&b, dir, 0, p, "", "missing parameter file");
    // a missing bias file
    fresh(&a, &c, "nobias", dir, sizeof dir);
    path_join(p, sizeof p, dir, "state/blocks.1.bias.npy");
    CHECK(unlink(p) == 0);
    expect_fail(&b, dir, 0, p, "", "missing bias file");
    // a missing state.json: not a checkpoint folder at all
    fresh(&a, &c, "nostate", dir, sizeof dir);
    path_join(p, sizeof p, dir, "state.json");
    CHECK(unlink(p) == 0);
    expect_fail(&b, dir, 0, p, "", "missing state.json");
    char out[1100];
    CHECK(ckpt_resolve(dir, 0, out, sizeof out, err, sizeof err) != 0);
    // a missing config.toml
    fresh(&a, &c, "noconfig", dir, sizeof dir);
    path_join(p, sizeof p, dir, "config.toml");
    CHECK(unlink(p) == 0);
    Config got;
    CHECK(ckpt_read_config(dir, &got, err, sizeof err) != 0);
    CHECK_MSG(contains(err, p) && contains(err, "missing"), "%s", err);

    // a truncated tensor file
    fresh(&a, &c, "trunc", dir, sizeof dir);
    path_join(p, sizeof p, dir, "params/blocks.0.router.npy");
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f) { fseek(f, 0, SEEK_END); long len = ftell(f); fclose(f); CHECK(truncate(p, len - 6) == 0); }
    expect_fail(&b, dir, 0, p, "", "truncated tensor");
    // a truncated moment: the folder is damaged, whether or not the optimizer is asked for
    fresh(&a, &c, "trunc_m", dir, sizeof dir);
    path_join(p, sizeof p, dir, "optim/v/wte.npy");
    CHECK(truncate(p, 40) == 0);
    expect_fail(&b, dir, 1, p, "40 bytes", "truncated moment");
    expect_fail(&b, dir, 0, p, "40 bytes", "truncated moment, optimizer not asked for");

    // a state.json that is another program's, or has a bad step or RNG
    fresh(&a, &c, "format", dir, sizeof dir);
    path_join(p, sizeof p, dir, "state.json");
    write_text(p, "{\n  \"format\": \"other-1\",\n  \"step\": 3,\n  \"optimizer_t\": 1\n}\n");
    expect_fail(&b, dir, 0, "state.json", "not a moesim checkpoint", "foreign state.json");
    write_text(p, "{\n  \"format\": \"moesim-checkpoint-1\",\n  \"step\": -4,\n  \"optimizer_t\": 1\n}\n");
    expect_fail(&b, dir, 0, "state.json", "\"step\"", "negative step");
    write_text(p, "{\n  \"format\": \"moesim-checkpoint-1\",\n  \"step\": 4,\n  \"optimizer_t\": 1,\n"
                  "  \"batch_rng\": \"12:zz\"\n}\n");
    expect_fail(&b, dir, 0, "state.json", "batch_rng", "bad batch_rng");

    // a model of another shape: the tensor's shape is named against the expected one
    Config wide;
    small_config(&wide, "\"adamw\"");
    set(&wide, "model.d_ff", "12");
    Saved w;
    if (build(&w, &wide) == 0) {
        fill_state(&w, 0);
        fresh(&w, &wide, "shape", dir, sizeof dir);
        // state.json's parameter list is checked against the model first
        expect_fail(&b, dir, 0, "state.json: parameter blocks.0.w1 has shape 4x12x16", "4x8x16", "wrong shape");
        // and its config.toml names the key that differs
        CHECK_MSG(ckpt_read_config(dir, &got, err, sizeof err) == 0, "%s", err);
        CHECK(ckpt_check_shapes(&got, &c, dir, err, sizeof err) != 0);
        CHECK_MSG(contains(err, dir) && contains(err, "model.d_ff = 12") && contains(err, "model.d_ff = 8"), "%s", err);
        saved_free(&w);
    }
    // a state.json and config.toml naming another config: the shapes check refuses it by key
    Config other;
    small_config(&other, "\"adamw\"");
    set(&other, "model.experts", "8");
    CHECK(ckpt_check_shapes(&other, &c, "somewhere", err, sizeof err) != 0);
    CHECK_MSG(contains(err, "somewhere") && contains(err, "model.experts"), "%s", err);
    Config same_shape = c;
    set(&same_shape, "train.lr", "0.5");  // not a shape: accepted
    CHECK_MSG(ckpt_check_shapes(&same_shape, &c, "x", err, sizeof err) == 0, "%s", err);

    // saved by AdamW, read by Muon: the momentum is missing, and the message says how to go on
    Config mc;
    small_config(&mc, "\"muon\"");
    Saved m;
    if (build(&m, &mc) == 0) {
        fresh(&a, &c, "optimizer", dir, sizeof dir);
        expect_fail(&m, dir, 2, "optim/mom/", "train.init_optimizer = false", "another optimizer");
        saved_free(&m);
    }
    saved_free(&a);
    saved_free(&b);
}


// ---- the file list (format 2): every file against state.json, before anything is loaded -------------

static void flip_last_byte(const char *path) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, -1, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -1, SEEK_END);
    fputc(ch ^ 0x40, f);
    fclose(f);
}

static void test_file_list(void) {
    Config c;
    Saved a, b;
    if (build_pair(&c, &a, &b) != 0) return;
    char dir[512], p[800], err[1500] = "";

    // the list: every file with its size and checksum, arrays with dtype and shape
    fresh(&a, &c, "list", dir, sizeof dir);
    char *json = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    CHECK(json && contains(json, "\"format\": \"moesim-checkpoint-2\""));
    CHECK_MSG(json && contains(json, "{\"name\": \"params/wte.npy\", \"dtype\": \"<f4\", \"shape\": [") &&
              contains(json, "{\"name\": \"config.toml\", \"bytes\": ") && contains(json, "\"fnv1a64\": \"") &&
              contains(json, "\"name\": \"optim/v/wte.npy\"") && contains(json, "\"name\": \"state/blocks.1.bias.npy\""),
              "%s", json ? json : "(no state.json)");
    free(json);

    // a flipped byte in a parameter file: its checksum
    fresh(&a, &c, "flip", dir, sizeof dir);
    path_join(p, sizeof p, dir, "params/blocks.0.router.npy");
    flip_last_byte(p);
    expect_fail(&b, dir, 0, p, "checksum", "flipped byte");
    // an edited config.toml (top_k, score): the checksum, also through ckpt_open_model
    const char *edits[][2] = {{"top_k = 2", "top_k = 1"}, {"score = \"softmax\"", "score = \"sigmoid\""}};
    for (int e = 0; e < 2; e++) {
        fresh(&a, &c, e ? "score" : "topk", dir, sizeof dir);
        path_join(p, sizeof p, dir, "config.toml");
        CHECK_MSG(edit_file(p, edits[e][0], edits[e][1]), "config.toml has no \"%s\"", edits[e][0]);
        expect_fail(&b, dir, 0, p, "checksum", edits[e][0]);
        Config oc;
        Model om;
        int ostep;
        CHECK(ckpt_open_model(dir, 0, &oc, &om, &ostep, err, sizeof err) != 0);
        CHECK_MSG(contains(err, p) && contains(err, "checksum"), "%s", err);
    }
    // a file that is not in the list (an unknown tensor)
    fresh(&a, &c, "extra", dir, sizeof dir);
    path_join(p, sizeof p, dir, "params/blocks.9.w1.npy");
    size_t sh[1] = {4};
    float four[4] = {1, 2, 3, 4};
    CHECK(npy_write(p, "<f4", four, 1, sh) == 0);
    expect_fail(&b, dir, 0, p, "not in state.json's file list", "unknown tensor file");
    // a listed file of another name, size or shape than the model's
    fresh(&a, &c, "listname", dir, sizeof dir);
    path_join(p, sizeof p, dir, "state.json");
    CHECK(edit_file(p, "\"name\": \"params/wte.npy\"", "\"name\": \"params/wtx.npy\""));
    expect_fail(&b, dir, 0, "params/wtx.npy", "not a file of the model", "unknown listed tensor");
    fresh(&a, &c, "listbytes", dir, sizeof dir);
    path_join(p, sizeof p, dir, "params/wte.npy");
    CHECK(truncate(p, 100) == 0);
    expect_fail(&b, dir, 0, p, "100 bytes, state.json lists", "truncated parameter");
    // a file of the model left out of the list
    fresh(&a, &c, "unlisted", dir, sizeof dir);
    char *st = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    char *line = st ? strstr(st, "    {\"name\": \"params/blocks.0.w1.npy\"") : NULL;
    CHECK(line != NULL);
    if (line) {
        char *next = strchr(line, '\n') + 1;
        memmove(line, next, strlen(next) + 1);
        write_text(p, st);
    }
    free(st);
    expect_fail(&b, dir, 0, "params/blocks.0.w1.npy: not in state.json's file list", "", "a file left out of the list");
    // state.json's parameter list, against the model built from the config
    fresh(&a, &c, "params", dir, sizeof dir);
    path_join(p, sizeof p, dir, "state.json");
    CHECK(edit_file(p, "{\"name\": \"wte\"", "{\"name\": \"wtx\""));
    expect_fail(&b, dir, 0, "state.json: parameter 1 is wtx", "wte", "edited parameter list");

    // non-finite parameters: refused naming the tensor and the first bad element
    const ParamInfo *p0 = &a.m.table.info[1];
    a.m.params[p0->offset + 5] = NAN;
    fresh(&a, &c, "nan", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/params/%s.npy", dir, p0->name);
    expect_fail(&b, dir, 0, p, "element 5 is NaN", "NaN parameter");
    fill_state(&a, 0);
    a.m.bias[a.m.spec.E + 1] = INFINITY;
    fresh(&a, &c, "inf", dir, sizeof dir);
    path_join(p, sizeof p, dir, "state/blocks.1.bias.npy");
    expect_fail(&b, dir, 0, p, "element 1 is Inf", "Inf bias");
    // a folder of the earlier format (no list): read, with a warning, unverified; NaN still refused
    downgrade(dir);
    expect_fail(&b, dir, 0, p, "element 1 is Inf", "Inf bias, format 1");
    fill_state(&a, 0);
    fresh(&a, &c, "format1", dir, sizeof dir);
    downgrade(dir);
    path_join(p, sizeof p, dir, "params/blocks.0.router.npy");
    flip_last_byte(p);  // cannot be seen without a list
    CkptRead r = {.optim = &b.o};
    CHECK_MSG(ckpt_read(dir, &b.m, &r, err, sizeof err) == 0, "format 1: %s", err);
    saved_free(&a);
    saved_free(&b);
}

// ---- the partial CSVs' rules --------------------------------------------------------------------

static void expect_csv(const char *text, const CkptCsvRule *rule, int step, const char *part, const char *what) {
    char err[600] = "";
    int rc = ckpt_check_csv("x.csv", text, rule, step, err, sizeof err);
    if (!part) { CHECK_MSG(rc == 0, "%s: %s", what, err); return; }
    CHECK_MSG(rc != 0, "%s: accepted", what);
    CHECK_MSG(contains(err, "x.csv") && contains(err, part), "%s: message \"%s\" lacks \"%s\"", what, err, part);
}

static void test_csv_rules(void) {
    char header[] = "step,layer,v";
    // two rows (layers 0, 1) at steps 0, 2, 4, ...; and one row at steps 3, 6, ...
    CkptCsvRule ev = {.header = header, .first = 0, .every = 2, .nkeys = 1, .radix = {2}};
    CkptCsvRule log = {.header = header, .first = 3, .every = 3};
    const char *good = "step,layer,v\n0,0,1.5\n0,1,2\n2,0,3\n2,1,4\n4,0,5\n4,1,6\n";
    expect_csv(good, &ev, 4, NULL, "whole file");
    expect_csv(good, &ev, 5, NULL, "checkpoint between two evaluations");
    expect_csv("", &ev, 4, "empty", "emptied file");
    expect_csv("step,layer,v\n", &ev, 4, "before the rows of step 0", "header only");
    expect_csv("step,layer,v\n0,0,1.5\n0,1,2\n2,0,3\n2,1,4\n4,0,5\n4,1", &ev, 4, "line 7: cut short", "truncated");
    expect_csv("step,layer,v\n0,0,1.5\n0,1,2\n2,0,3\n2,1,4\n4,0,54,1,6\n", &ev, 4, "line 6: 5 fields, the header has 3",
               "two lines merged");
    expect_csv(good, &ev, 2, "line 6: a row of step 4 after the checkpoint's step 2", "step lowered");
    expect_csv(good, &ev, 6, "before the rows of step 6", "step raised");
    expect_csv("step,layer,v\n0,0,1.5\n0,1,2\n2,0,3\n2,1,4\n2,0,3\n2,1,4\n", &ev, 4, "line 6: step 2, expected step 4",
               "repeated rows");
    expect_csv("step,layer,v\n0,0,1.5\n0,0,2\n", &ev, 0, "line 3: field 2 should be 1", "layers out of order");
    expect_csv("step,layer,w\n0,0,1.5\n0,1,2\n", &ev, 0, "line 1: not the header", "another header");
    expect_csv("step,layer,v\nx,0,1\n", &ev, 0, "not a whole number", "a step that is no number");
    expect_csv("step,layer,v\n", &log, 2, NULL, "no row before the first log step");
    expect_csv("step,layer,v\n3,1,2\n", &log, 2, "after the checkpoint's step 2", "a row before its time");
    expect_csv("step,layer,v\n3,1,2\n6,0,1\n", &log, 8, NULL, "log rows");
    CkptCsvRule once = {.header = header, .first = 0, .every = 0, .nkeys = 1, .radix = {1}};
    expect_csv("step,layer,v\n0,0,1\n", &once, 9, NULL, "eval.every = 0: step 0 only");
    expect_csv("step,layer,v\n0,0,1\n0,0,1\n", &once, 9, "after the checkpoint's step 9", "eval.every = 0, a second row");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_checkpoint.%ld", (long)getpid());
    CHECK(mkdir_p(tmpdir) == 0);
    test_round_trip("\"adamw\"", "adamw");
    test_round_trip("\"muon\"", "muon");
    test_round_trip("\"sgd\"", "sgd");
    test_round_trip("\"lion\"", "lion");
    test_round_trip("\"adafactor\"", "adafactor");
    test_round_trip("\"soap\"", "soap");
    test_kinds_and_resolve();
    test_errors();
    test_file_list();
    test_csv_rules();
    if (!getenv("KEEP")) remove_tree(tmpdir);
    return test_summary("test_checkpoint");
}
