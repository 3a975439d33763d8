// test_config.c — the experiment-file parser and configuration: schema sanity and defaults, the
// choice enums, TOML numbers and recovery, bad fixtures with their exact `file:line: message`,
// good fixtures with their resolved dumps, dump -> reload round trips (fixtures and random
// configs), sweeps and run ids, shards, --set, the docs key table, and the files Python's
// tomllib must read. Run from the repository root (fixtures are found relative to it).
//
//   test_config                       run every test
//   test_config --print-resolved F    print what good/F.expected must hold (to update it on purpose)
//   test_config --print-key-table     print the key table of docs/EXPERIMENTS.md
// covers: sim/config/toml.c sim/config/load.c sim/config/values.c sim/config/checks.c
// covers: sim/config/points.c
#include "../sim/config/config.h"
#include "../sim/config/toml.h"
#include "../sim/evaluate/evaluate.h"
#include "harness.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAD_DIR "tests/fixtures/config/bad"
#define GOOD_DIR "tests/fixtures/config/good"
#define MAX_FILES 256

// Large structs live here, not on the stack.
static Experiment ex, ex2;
static CfgErrors errs, errs2;

// ---- helpers ----------------------------------------------------------------------------------

static int cmp_names(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

// Sorted names in dir ending with suffix; returns the count.
static int list_dir(const char *dir, const char *suffix, char names[][256]) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d)) && n < MAX_FILES;) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len > sl && len < 256 && !strcmp(e->d_name + len - sl, suffix)) snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 256, cmp_names);
    return n;
}

static char *read_all(const char *path, size_t *len) {
    char err[256];
    size_t l;
    char *b = toml_read_file(path, &l, err, sizeof err);
    if (len) *len = l;
    return b;
}

// The resolved view of an experiment: one "# run: id" line per point, then the base as TOML.
static char *resolved_text(const Experiment *x) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (long i = 0; i < x->npoints; i++) {
        char id[CFG_RUN_ID_MAX + 1];
        experiment_run_id(x, i, id, sizeof id);
        fprintf(f, "# run: %s\n", id);
    }
    config_write_toml(f, &x->base);
    fclose(f);
    return buf;
}

static char *dump_toml(const Config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_write_toml(f, c);
    fclose(f);
    return buf;
}

static int load_text(Experiment *x, const char *text, const char *const *sets, int nsets, CfgErrors *e) {
    e->n = 0;
    return experiment_load_buffer(x, "t.toml", text, strlen(text), sets, nsets, e);
}

// ---- the schema -------------------------------------------------------------------------------

static void test_schema(void) {
    char err[1024];
    for (int k = 0; k < CFG_NKEYS; k++) {
        const CfgKey *K = &cfg_keys[k];
        const char *dot = strchr(K->key, '.');
        CHECK_MSG(dot && dot > K->key && dot[1] && !strchr(dot + 1, '.'), "key %s is not table.name", K->key);
        for (const char *p = K->key; *p; p++)
            CHECK_MSG((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.',
                      "key %s has a character outside [a-z0-9_.]", K->key);
        CHECK_MSG(strncmp(K->key, "sweep.", 6) && strcmp(dot ? dot + 1 : K->key, "include"), "key %s is reserved", K->key);
        CHECK_MSG(config_find(K->key) == k, "key %s is defined twice", K->key);
        CHECK_MSG(K->help && K->help[0], "key %s has no help", K->key);
        if (K->type == CFG_INT || K->type == CFG_REAL || K->type == CFG_REALS)
            CHECK_MSG(K->lo <= K->hi, "key %s: lo > hi", K->key);
        if (K->type == CFG_INT) CHECK_MSG(K->lo >= -2147483647.0 && K->hi <= 2147483647.0, "key %s: range beyond int", K->key);
        CHECK_MSG((K->type == CFG_CHOICE) == (K->choices != NULL), "key %s: choices iff CHOICE", K->key);
        // Every default parses through the file parser and passes its own range.
        Config c;
        memset(&c, 0, sizeof c);
        int rc = config_set(&c, K->key, K->def, err, sizeof err);
        CHECK_MSG(rc == 0, "default of %s (%s) does not parse: %s", K->key, K->def, err);
    }
    Config d;
    CHECK(config_defaults(&d) == 0);
    errs.n = 0;
    CHECK_MSG(config_validate(&d, "defaults", &errs) == 0, "defaults fail a cross-field check: %s", errs.msg[0]);
    CHECK(d.model_top_k == 2 && d.model_experts == 8 && d.balance_scope == SCOPE_MICRO);
    CHECK(d.eval_removal.n == 2 && d.eval_removal.v[0] == 0.125 && d.eval_removal.v[1] == 0.25);
    CHECK(d.train_lr == 3e-3 && d.experiment_name[0] == '\0');
}

// ---- choice enums follow the choices strings --------------------------------------------------

static const struct { const char *key, *name; int value; } enum_map[] = {
    {"model.kind", "decoder", MODEL_DECODER}, {"model.kind", "router", MODEL_ROUTER},
    {"model.score", "softmax", SCORE_SOFTMAX}, {"model.score", "sigmoid", SCORE_SIGMOID},
    {"train.schedule", "constant", SCHEDULE_CONSTANT}, {"train.schedule", "cosine", SCHEDULE_COSINE},
    {"optim.name", "adamw", OPTIM_ADAMW}, {"optim.name", "muon", OPTIM_MUON},
    {"optim.name", "sgd", OPTIM_SGD}, {"optim.name", "lion", OPTIM_LION},
    {"optim.name", "adafactor", OPTIM_ADAFACTOR}, {"optim.name", "soap", OPTIM_SOAP},
    {"optim.muon_scale", "moonlight", MUON_SCALE_MOONLIGHT}, {"optim.muon_scale", "kj", MUON_SCALE_KJ},
    {"balance.method", "none", BAL_NONE}, {"balance.method", "switch", BAL_SWITCH},
    {"balance.method", "l2", BAL_L2}, {"balance.method", "auxfree", BAL_AUXFREE},
    {"balance.scope", "sequence", SCOPE_SEQUENCE}, {"balance.scope", "micro", SCOPE_MICRO},
    {"balance.scope", "global", SCOPE_GLOBAL}, {"balance.scope", "shuffle", SCOPE_SHUFFLE},
    {"balance.p_source", "full", PSRC_FULL}, {"balance.p_source", "topk", PSRC_TOPK},
    {"balance.bias_update", "sign", BIAS_SIGN}, {"balance.bias_update", "linear", BIAS_LINEAR},
    {"data.world", "domains", WORLD_DOMAINS}, {"data.world", "geometry", WORLD_GEOMETRY},
    {"data.world", "cyclic", WORLD_CYCLIC}, {"data.world", "text", WORLD_TEXT},
    {"data.mix", "mixed", MIX_MIXED}, {"data.mix", "homogeneous", MIX_HOMOGENEOUS},
    {"data.task", "none", TASK_NONE}, {"data.task", "cluster", TASK_CLUSTER},
    {"eval.transform", "none", TRANSFORM_NONE}, {"eval.transform", "reverse", TRANSFORM_REVERSE},
    {"eval.transform", "shuffle", TRANSFORM_SHUFFLE},
};

static void test_enums(void) {
    const int n = (int)(sizeof enum_map / sizeof enum_map[0]);
    for (int i = 0; i < n; i++) {
        int k = config_find(enum_map[i].key);
        CHECK_MSG(k >= 0, "no key %s", enum_map[i].key);
        CHECK_MSG(config_choice_index(k, enum_map[i].name) == enum_map[i].value, "%s: choice \"%s\" has index %d, enum %d",
                  enum_map[i].key, enum_map[i].name, config_choice_index(k, enum_map[i].name), enum_map[i].value);
        char buf[64];
        const char *nm = config_choice_name(k, enum_map[i].value, buf, sizeof buf);
        CHECK_MSG(nm && !strcmp(nm, enum_map[i].name), "%s: name of %d", enum_map[i].key, enum_map[i].value);
    }
    // Every CHOICE key and every one of its choices is mapped above.
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (cfg_keys[k].type != CFG_CHOICE) continue;
        int mapped = 0;
        for (int i = 0; i < n; i++) mapped += !strcmp(enum_map[i].key, cfg_keys[k].key);
        CHECK_MSG(mapped == config_choice_count(k), "choice key %s: %d choices, %d mapped to enums", cfg_keys[k].key,
                  config_choice_count(k), mapped);
    }
    char buf[64];
    CHECK(config_choice_name(config_find("model.score"), 2, buf, sizeof buf) == NULL);
    CHECK(config_choice_index(config_find("model.top_k"), "x") == -1);
}

// ---- the TOML parser --------------------------------------------------------------------------

typedef struct {
    int nv, ne;
    char err[8][TOML_MSG_MAX];
    int err_line[8];
    char key[8][128];
    TomlValue v;          // the last value (scalar fields copied; strings into s)
    char s[256];
    int n;                // array length of the last value
    TomlType types[8];
    double nums[8];
} Cap;

static void cap_value(void *u, const TomlKey *k, const TomlValue *v) {
    Cap *c = u;
    if (c->nv < 8) snprintf(c->key[c->nv], sizeof c->key[0], "%s", k->name);
    c->nv++;
    c->v = *v;
    c->n = v->n;
    if (v->type == TOML_STRING) snprintf(c->s, sizeof c->s, "%s", v->scalar.s);
    for (int i = 0; i < v->n && i < 8; i++) { c->types[i] = v->items[i].type; c->nums[i] = v->items[i].f; }
}

static void cap_error(void *u, int line, const char *msg) {
    Cap *c = u;
    if (c->ne < 8) { snprintf(c->err[c->ne], TOML_MSG_MAX, "%s", msg); c->err_line[c->ne] = line; }
    c->ne++;
}

static Cap cap_value_text(const char *text) {
    Cap c;
    memset(&c, 0, sizeof c);
    TomlHandler h = {NULL, cap_value, cap_error, &c};
    toml_parse_value(text, "v", &h);
    return c;
}

static Cap cap_doc(const char *text, size_t len) {
    Cap c;
    memset(&c, 0, sizeof c);
    TomlHandler h = {NULL, cap_value, cap_error, &c};
    int n = toml_parse_buffer(text, len, &h);
    CHECK(n == c.ne);
    return c;
}

static void check_value_error(const char *text, const char *msg) {
    Cap c = cap_value_text(text);
    CHECK_MSG(c.nv == 0 && c.ne == 1 && !strcmp(c.err[0], msg), "value [%s]\n  expected: %s\n  got:      %s (%d errors)",
              text, msg, c.ne ? c.err[0] : "(none)", c.ne);
}

static void test_toml(void) {
    Cap c;
    c = cap_value_text("1_000");
    CHECK(c.nv == 1 && c.v.type == TOML_INT && c.v.scalar.i == 1000 && c.v.scalar.f == 1000.0);
    c = cap_value_text("-9223372036854775808");
    CHECK(c.nv == 1 && c.v.scalar.i == INT64_MIN);
    c = cap_value_text("0xff_FF");
    CHECK(c.nv == 1 && c.v.scalar.i == 0xffff);
    c = cap_value_text("0o17");
    CHECK(c.nv == 1 && c.v.scalar.i == 15);
    c = cap_value_text("0b101");
    CHECK(c.nv == 1 && c.v.scalar.i == 5);
    c = cap_value_text("3e-4");
    CHECK(c.nv == 1 && c.v.type == TOML_FLOAT && c.v.scalar.f == 3e-4);
    c = cap_value_text("+1.0e2 # a comment");
    CHECK(c.nv == 1 && c.v.type == TOML_FLOAT && c.v.scalar.f == 100.0);
    c = cap_value_text("-0.5E-1_0");
    CHECK(c.nv == 1 && c.v.scalar.f == -0.5e-10);
    c = cap_value_text("false");
    CHECK(c.nv == 1 && c.v.type == TOML_BOOL && c.v.scalar.b == 0);
    c = cap_value_text("\"a\\tb\\\"\\\\\\u00e9\\U0001F600\"");
    CHECK(c.nv == 1 && c.v.type == TOML_STRING && !strcmp(c.s, "a\tb\"\\\xc3\xa9\xf0\x9f\x98\x80"));
    c = cap_value_text("'C:\\path'");
    CHECK(c.nv == 1 && !strcmp(c.s, "C:\\path"));
    c = cap_value_text("[1, 2.5, \"x\", true, ]");
    CHECK(c.nv == 1 && c.v.type == TOML_ARRAY && c.n == 4 && c.types[0] == TOML_INT && c.types[1] == TOML_FLOAT &&
          c.types[2] == TOML_STRING && c.types[3] == TOML_BOOL && c.nums[1] == 2.5);
    c = cap_value_text("[]");
    CHECK(c.nv == 1 && c.v.type == TOML_ARRAY && c.n == 0);

    check_value_error("1e", "v: malformed number '1e': the exponent has no digits");
    check_value_error("1e+", "v: malformed number '1e+': the exponent has no digits");
    check_value_error("8 0", "v: malformed number '8 0': spaces are not allowed inside a number");
    check_value_error("1.", "v: malformed number '1.': a digit must follow the decimal point");
    check_value_error(".5", "v: malformed number '.5': a digit must come before the decimal point");
    check_value_error("0x", "v: malformed number '0x': no digits after '0x'");
    check_value_error("0xg", "v: malformed number '0xg': not a hexadecimal digit after '0x'");
    check_value_error("+0x1", "v: malformed number '+0x1': a sign is not allowed before 0x, 0o or 0b");
    check_value_error("01", "v: malformed number '01': leading zeros are not allowed");
    check_value_error("1__0", "v: malformed number '1__0': '_' must stand between two digits");
    check_value_error("1_", "v: malformed number '1_': '_' must stand between two digits");
    check_value_error("1.2.3", "v: malformed number '1.2.3': more than one decimal point");
    check_value_error("-", "v: malformed number '-': a sign needs digits after it");
    check_value_error("12abc", "v: malformed number '12abc': unexpected character in a number");
    check_value_error("2024-01-01", "v: malformed number '2024-01-01': dates and times are not supported");
    check_value_error("9223372036854775808", "v: malformed number '9223372036854775808': does not fit in a 64-bit integer");
    check_value_error("1e999", "v: malformed number '1e999': out of the range of a double");
    check_value_error("inf", "v: inf and nan are not allowed, found 'inf'");
    check_value_error("-nan", "v: inf and nan are not allowed, found '-nan'");
    check_value_error("True", "v: expected a value, found 'True' (booleans are lowercase: true, false)");
    check_value_error("micro", "v: expected a value, found 'micro' (a string needs double quotes: \"micro\")");
    check_value_error("\"abc", "v: unterminated string (missing closing \")");
    check_value_error("\"a\\qb\"",
                      "v: invalid escape '\\q' in a string (allowed: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)");
    check_value_error("\"\\u00\"", "v: \\u needs 4 hexadecimal digits");
    check_value_error("\"\\ud800\"", "v: \\uD800 is not an allowed character");
    check_value_error("\"\\u0000\"", "v: \\u0000 is not an allowed character");
    check_value_error("\"\"\"x\"\"\"", "v: multi-line strings (\"\"\") are not supported");
    check_value_error("{a = 1}", "v: inline tables are not supported (write a [table] or dotted keys)");
    check_value_error("[[1], [2]]", "v: arrays inside arrays are not supported (arrays hold numbers, strings or booleans)");
    check_value_error("[1 2]", "v: malformed number '1 2': spaces are not allowed inside a number");
    check_value_error("[1, \"a\" \"b\"]", "v: expected ',' or ']' after an array element, found '\"'");
    check_value_error("[1, 2", "v: unterminated array (missing ']')");
    check_value_error("", "v: missing value after '='");
    check_value_error("1 x", "unexpected 'x' after the value of v (expected the end of the line)");
    check_value_error("\"\xff\"", "v: invalid UTF-8 in a string");

    // A document: every error with its line; the parser resynchronizes and goes on.
    const char *doc = "a = 1e\n"
                      "b = 2\n"
                      "c = [1,\n"
                      "  2\n"
                      "d = \"x\n"
                      "[t]\n"
                      "e = 1 # ok\r\n"
                      "e = 2\n"
                      "[t]\n"
                      "f.g = 1\n"
                      "f = 3\n";
    c = cap_doc(doc, strlen(doc));
    CHECK(c.ne == 6 && c.nv == 3);
    CHECK(c.err_line[0] == 1 && !strcmp(c.err[0], "a: malformed number '1e': the exponent has no digits"));
    CHECK(c.err_line[1] == 3 && !strcmp(c.err[1], "c: unterminated array (missing ']')"));
    CHECK(c.err_line[2] == 5 && !strcmp(c.err[2], "d: unterminated string (missing closing \")"));
    CHECK(c.err_line[3] == 8 && !strcmp(c.err[3], "duplicate key 't.e' (first defined at line 7)"));
    CHECK(c.err_line[4] == 9 && !strcmp(c.err[4], "duplicate table [t] (first defined at line 6)"));
    CHECK(c.err_line[5] == 11 && !strcmp(c.err[5], "duplicate key 't.f' (first defined at line 10)"));
    CHECK(!strcmp(c.key[0], "b") && !strcmp(c.key[1], "t.e"));
    // Keys: dotted, quoted, spaces around dots; the display name quotes what is not bare.
    const char *keys = "[ sweep ]\n\"balance.scope\" = [\"micro\"]\nmodel . top_k = [1]\n'x y'.z = 1\n";
    c = cap_doc(keys, strlen(keys));
    CHECK(c.ne == 0 && c.nv == 3);
    CHECK(!strcmp(c.key[0], "sweep.\"balance.scope\"") && !strcmp(c.key[1], "sweep.model.top_k") &&
          !strcmp(c.key[2], "sweep.\"x y\".z"));
    // NUL bytes and lone carriage returns are errors, not the end of the text.
    c = cap_doc("a = 1\n\0b = 2\n", 13);
    CHECK(c.ne == 1 && c.err_line[0] == 2 && !strcmp(c.err[0], "control character 0x00"));
    c = cap_doc("a = 1\rb = 2\n", 12);
    CHECK(c.ne == 1 && c.err_line[0] == 1);
    c = cap_doc("[[t]]\n[t\nx = 1\n", 15);
    CHECK(c.ne == 2 && !strcmp(c.err[0], "arrays of tables ([[...]]) are not supported") && c.nv == 0);
    // TOML's table rules.
    c = cap_doc("a.b = 1\n[a]\n", 12);
    CHECK(c.ne == 1 && !strcmp(c.err[0], "table [a] was already defined by dotted keys at line 1"));
    c = cap_doc("[a.b]\nx = 1\n[a]\ny = 1\n", 22);
    CHECK(c.ne == 0 && c.nv == 2);
    c = cap_doc("[a.b]\n[a]\nb.c = 1\n", 18);
    CHECK(c.ne == 1 && !strcmp(c.err[0], "a.b.c: table [a.b] was defined at line 1; a dotted key cannot add to it "
                                         "(write the key under [a.b])"));
    c = cap_doc("a = 1\na.b = 2\n", 14);
    CHECK(c.ne == 1 && !strcmp(c.err[0], "a.b: 'a' is already a key with a value (line 1)"));
    // toml_quote writes strings that read back unchanged.
    const char *tricky = "q\"b\\t\tn\nc\x01" "d\x7f" "\xc3\xa9";
    char quoted[128];
    toml_quote(quoted, sizeof quoted, tricky);
    c = cap_value_text(quoted);
    CHECK(c.nv == 1 && !strcmp(c.s, tricky));
}

// ---- fixtures ---------------------------------------------------------------------------------

static void test_bad_fixtures(void) {
    static char names[MAX_FILES][256];
    int n = list_dir(BAD_DIR, ".toml", names);
    CHECK_MSG(n >= 40, "only %d bad fixtures in " BAD_DIR, n);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, BAD_DIR "/%.255s", names[i]);
        char *text = read_all(path, NULL);
        CHECK_MSG(text, "cannot read %s", path);
        if (!text) continue;
        // The leading "# expect: " lines: "LINE: message" in this file, or a full "PATH:LINE: message".
        char expect[16][CFG_ERROR_LEN];
        int nexp = 0;
        for (char *p = text; !strncmp(p, "# expect: ", 10) && nexp < 16;) {
            char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) - 10 : strlen(p) - 10;
            if (p[10] >= '0' && p[10] <= '9') snprintf(expect[nexp++], CFG_ERROR_LEN, "%s:%.*s", path, (int)len, p + 10);
            else snprintf(expect[nexp++], CFG_ERROR_LEN, "%.*s", (int)len, p + 10);
            if (!e) break;
            p = e + 1;
        }
        free(text);
        CHECK_MSG(nexp > 0, "%s does not start with '# expect: '", path);
        errs.n = 0;
        int got = experiment_load(&ex, path, NULL, 0, &errs);
        CHECK_MSG(got == nexp && errs.n == nexp, "%s: %d errors, expected %d (first: %s)", path, got, nexp,
                  errs.n ? errs.msg[0] : "(none)");
        for (int j = 0; j < nexp && j < errs.n; j++)
            CHECK_MSG(!strcmp(errs.msg[j], expect[j]), "\n  expected: %s\n  got:      %s", expect[j], errs.msg[j]);
    }
}

// dump -> reload gives an equal Config, for every point of a loaded experiment.
static void check_roundtrip(const Experiment *x, const char *what) {
    for (long i = 0; i < x->npoints; i++) {
        Config c;
        experiment_point(x, i, &c);
        char *text = dump_toml(&c);
        int n = load_text(&ex2, text, NULL, 0, &errs2);
        CHECK_MSG(n == 0 && ex2.npoints == 1 && config_equal(&ex2.base, &c), "%s point %ld: dump does not reload (%s)",
                  what, i, n ? errs2.msg[0] : "values differ");
        free(text);
    }
}

static void test_good_fixtures(void) {
    static char names[MAX_FILES][256];
    int n = list_dir(GOOD_DIR, ".toml", names);
    CHECK_MSG(n >= 5, "only %d good fixtures in " GOOD_DIR, n);
    for (int i = 0; i < n; i++) {
        char path[512], exp_path[512];
        snprintf(path, sizeof path, GOOD_DIR "/%.255s", names[i]);
        snprintf(exp_path, sizeof exp_path, GOOD_DIR "/%.*s.expected", (int)strlen(names[i]) - 5, names[i]);
        errs.n = 0;
        int got = experiment_load(&ex, path, NULL, 0, &errs);
        CHECK_MSG(got == 0, "%s: %d errors (first: %s)", path, got, errs.n ? errs.msg[0] : "");
        if (got) continue;
        char *want = read_all(exp_path, NULL), *have = resolved_text(&ex);
        CHECK_MSG(want && !strcmp(want, have), "%s: resolved config differs from %s; to update it on purpose: "
                  "test_config --print-resolved %s > %s", path, exp_path, path, exp_path);
        free(want);
        free(have);
        check_roundtrip(&ex, path);
    }
    // A few values, checked by hand.
    errs.n = 0;
    CHECK(experiment_load(&ex, GOOD_DIR "/minimal.toml", NULL, 0, &errs) == 0);
    CHECK(!strcmp(ex.base.experiment_name, "minimal") && ex.npoints == 1);
    CHECK(experiment_load(&ex, GOOD_DIR "/full.toml", NULL, 0, &errs) == 0);
    CHECK(ex.base.optim_name == OPTIM_MUON && ex.base.optim_muon_scale == MUON_SCALE_KJ && ex.base.optim_beta2 == 0.98);
    CHECK(ex.base.model_vocab == 1024 && ex.base.model_top_k == 4 && ex.base.model_score == SCORE_SIGMOID);
    CHECK(ex.base.train_lr == 3e-4 && ex.base.balance_z_alpha == 1e-3 && ex.base.data_order == 2);
    CHECK(ex.base.eval_removal.n == 3 && ex.base.eval_removal.v[2] == 0.5);
    CHECK(!strcmp(ex.base.experiment_expect, "literal strings keep \\backslashes"));
    CfgOrigin o = experiment_origin(&ex, 0, CFGK_model_top_k);
    CHECK(o.src == 0 && o.line == 21);
    CHECK(experiment_origin(&ex, 0, CFGK_optim_eps).src == CFG_SRC_DEFAULT);
}

// ---- sweeps, ids, includes, --set, shards -----------------------------------------------------

static void run_id(long i, char *buf) { experiment_run_id(&ex, i, buf, CFG_RUN_ID_MAX + 1); }

static void test_sweep(void) {
    char id[CFG_RUN_ID_MAX + 1];
    Config c;
    const char *grid = "[model]\nexperts = 8\n[sweep]\n\"balance.scope\" = [\"micro\", \"global\"]\n"
                       "train.seed = [1, 2, 3]\n";
    CHECK(load_text(&ex, grid, NULL, 0, &errs) == 0 && ex.npoints == 6 && ex.naxes == 2);
    static const char *const ids[] = {"scope=micro-seed=1", "scope=micro-seed=2", "scope=micro-seed=3",
                                      "scope=global-seed=1", "scope=global-seed=2", "scope=global-seed=3"};
    for (long i = 0; i < 6; i++) {
        run_id(i, id);
        CHECK_MSG(!strcmp(id, ids[i]), "point %ld: id %s, expected %s", i, id, ids[i]);
        experiment_point(&ex, i, &c);
        CHECK(c.balance_scope == (i < 3 ? SCOPE_MICRO : SCOPE_GLOBAL) && c.train_seed == 1 + i % 3);
        CHECK(c.model_experts == 8);
        CHECK(experiment_origin(&ex, i, CFGK_train_seed).line == 5);
    }
    // Without a sweep: one point, id "run".
    CHECK(load_text(&ex, "", NULL, 0, &errs) == 0 && ex.npoints == 1);
    run_id(0, id);
    CHECK(!strcmp(id, "run"));
    // Reals in ids: the shortest form that reads back, exponents without '+' or leading zeros.
    CHECK(load_text(&ex, "[sweep]\n\"train.clip\" = [1e9, 0.1, 0.30000000000000004, 2.5e-7, 3]\n", NULL, 0, &errs) == 0);
    static const char *const clip[] = {"clip=1e9", "clip=0.1", "clip=0.30000000000000004", "clip=2.5e-7", "clip=3"};
    for (long i = 0; i < 5; i++) {
        run_id(i, id);
        CHECK_MSG(!strcmp(id, clip[i]), "id %s, expected %s", id, clip[i]);
    }
    // Booleans and a shared last name: the colliding keys use their full names.
    CHECK(load_text(&ex, "[sweep]\n\"model.attention\" = [true, false]\n\"train.seed\" = [1]\n\"data.seed\" = [4]\n",
                    NULL, 0, &errs) == 0);
    run_id(1, id);
    CHECK(!strcmp(id, "attention=false-train.seed=1-data.seed=4"));
    // [sweep.table] sub-tables are the same as dotted names.
    CHECK(load_text(&ex, "[sweep.model]\ntop_k = [1, 2]\n", NULL, 0, &errs) == 0 && ex.npoints == 2);
    run_id(1, id);
    CHECK(!strcmp(id, "top_k=2"));
    // --set pins a swept key (it leaves the sweep) and overrides a file's value.
    const char *sets[] = {"train.seed=5", "balance.scope=global", " model.experts = 16 ", "train.lr=1e-3"};
    CHECK(load_text(&ex, grid, sets, 4, &errs) == 0 && ex.npoints == 1);
    CHECK(ex.base.train_seed == 5 && ex.base.balance_scope == SCOPE_GLOBAL && ex.base.model_experts == 16 &&
          ex.base.train_lr == 1e-3);
    CHECK(ex.origin[CFGK_train_seed].src == CFG_SRC_SET);
    // Cross-field failures on some points: reported once with the first failing point and a count.
    const char *pts = "[model]\ntop_k = 4\n[sweep]\n\"model.experts\" = [8, 2, 3]\n\"train.seed\" = [1, 2]\n";
    CHECK(load_text(&ex, pts, NULL, 0, &errs) == 2);
    CHECK(!strcmp(errs.msg[0], "t.toml:4: point 'experts=2-seed=1' and 1 more: model.top_k = 4 must be at most model.experts = 2"));
    CHECK(!strcmp(errs.msg[1], "t.toml:4: point 'experts=3-seed=1' and 1 more: model.top_k = 4 must be at most model.experts = 3"));
    // A failure that involves no swept key is the same everywhere: reported once, no point id.
    CHECK(load_text(&ex, "[train]\nbatch = 10\nmicro_batch = 4\n[sweep]\n\"train.seed\" = [1, 2, 3]\n", NULL, 0, &errs) == 1);
    CHECK(!strcmp(errs.msg[0], "t.toml:3: train.micro_batch = 4 must divide train.batch = 10"));
    // Limits.
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big, "[sweep]\n\"train.seed\" = [");
    for (int v = 0; v < 65; v++) o += (size_t)snprintf(big + o, sizeof big - o, "%d, ", v);
    snprintf(big + o, sizeof big - o, "]\n");
    CHECK(load_text(&ex, big, NULL, 0, &errs) == 1);
    CHECK(!strcmp(errs.msg[0], "t.toml:2: train.seed (in [sweep]): expected 1 to 64 values, found 65"));
    const char *huge = "[sweep]\n\"train.seed\" = [1,2,3,4,5,6,7,8,9,10]\n\"data.seed\" = [1,2,3,4,5,6,7,8,9,10]\n"
                       "\"model.experts\" = [1,2,3,4,5,6,7,8,9,10]\n\"model.d_ff\" = [1,2,3,4,5,6,7,8,9,10]\n"
                       "\"model.d_model\" = [1,2,3,4,5,6,7,8,9,10,11]\n";
    CHECK(load_text(&ex, huge, NULL, 0, &errs) == 1);
    CHECK(!strcmp(errs.msg[0], "t.toml:6: [sweep]: more than 100000 points"));
    // include is only for files; in a buffer it is an error.
    CHECK(load_text(&ex, "include = \"x.toml\"\n", NULL, 0, &errs) == 1);
    CHECK(!strcmp(errs.msg[0], "t.toml:1: include: not allowed here (only in experiment files)"));
}

static void test_include(void) {
    // The including file overrides a key, pins a swept key with a plain value and replaces the
    // values of another swept key (which keeps its place in the grid).
    errs.n = 0;
    CHECK(experiment_load(&ex, GOOD_DIR "/include_child.toml", NULL, 0, &errs) == 0);
    CHECK(ex.nfiles == 2 && !strcmp(ex.files[1], GOOD_DIR "/inc/base.toml"));
    CHECK(ex.base.model_experts == 16 && ex.base.model_top_k == 2 && ex.base.train_steps == 50 && ex.base.train_seed == 9);
    CHECK(ex.npoints == 2 && ex.naxes == 1 && ex.axes[0].key == CFGK_balance_scope);
    CHECK(ex.origin[CFGK_model_top_k].src == 1 && ex.origin[CFGK_model_top_k].line == 4);
    CHECK(ex.origin[CFGK_model_experts].src == 0);
    // --set on top of an include chain.
    const char *sets[] = {"balance.scope=\"global\""};
    errs.n = 0;
    CHECK(experiment_load(&ex, GOOD_DIR "/include_child.toml", sets, 1, &errs) == 0);
    CHECK(ex.npoints == 1 && ex.base.balance_scope == SCOPE_GLOBAL);
    // A missing experiment file.
    errs.n = 0;
    CHECK(experiment_load(&ex, "tests/fixtures/config/no_such_file.toml", NULL, 0, &errs) == 1);
    CHECK(!strcmp(errs.msg[0], "tests/fixtures/config/no_such_file.toml: cannot read: No such file or directory"));
}

static void check_set_error(const char *arg, const char *msg) {
    const char *sets[] = {arg};
    int n = load_text(&ex, "", sets, 1, &errs);
    CHECK_MSG(n == 1 && !strcmp(errs.msg[0], msg), "--set %s\n  expected: %s\n  got:      %s", arg, msg,
              errs.n ? errs.msg[0] : "(none)");
}

static void test_set(void) {
    const char *ok[] = {"experiment.name=abc", "experiment.question=\"Why? \\\"quoted\\\"\"", "eval.removal=[0.5, 1]",
                        "model.score = sigmoid", "optim.eps=1e-10", "model.gate_norm=true"};
    CHECK(load_text(&ex, "[model]\nexperts = 4\n", ok, 6, &errs) == 0);
    CHECK(!strcmp(ex.base.experiment_name, "abc") && !strcmp(ex.base.experiment_question, "Why? \"quoted\""));
    CHECK(ex.base.eval_removal.n == 2 && ex.base.eval_removal.v[1] == 1.0 && ex.base.model_score == SCORE_SIGMOID);
    CHECK(ex.base.optim_eps == 1e-10 && ex.base.model_gate_norm == 1 && ex.base.model_experts == 4);
    check_set_error("model.topk=2", "--set: unknown key 'model.topk' (did you mean 'model.top_k'?)");
    check_set_error("model.top_k", "--set: expected key=value, found 'model.top_k'");
    check_set_error("model.top_k=1e", "--set: model.top_k: malformed number '1e': the exponent has no digits");
    check_set_error("model.top_k=100", "--set: model.top_k: expected an integer in [1, 64], found 100");
    check_set_error("model.top_k=", "--set: model.top_k: missing value after '='");
    check_set_error("balance.scope=local",
                    "--set: balance.scope: expected one of \"sequence\", \"micro\", \"global\", \"shuffle\", found local");
    check_set_error("model.top_k=9", "--set: model.top_k = 9 must be at most model.experts = 8");
    check_set_error("train.lr=8 0", "--set: train.lr: malformed number '8 0': spaces are not allowed inside a number");
    check_set_error("sweep.train.seed=[1]", "--set: unknown key 'sweep.train.seed' (did you mean 'train.seed'?)");
    // config_set: the same parsing and checks for one key.
    Config c;
    char err[512];
    config_defaults(&c);
    CHECK(config_set(&c, "model.top_k", "4", err, sizeof err) == 0 && c.model_top_k == 4);
    CHECK(config_set(&c, "model.top_k", "0", err, sizeof err) == -1 &&
          !strcmp(err, "model.top_k: expected an integer in [1, 64], found 0"));
    CHECK(config_set(&c, "model.nope", "1", err, sizeof err) == -1 && !strcmp(err, "unknown key 'model.nope'"));
    CHECK(config_set(&c, "experiment.name", "\"x\" \"y\"", err, sizeof err) == -1);
}

static void test_shards(void) {
    int I, N;
    char err[256];
    CHECK(experiment_shard_parse("1/1", &I, &N, err, sizeof err) == 0 && I == 1 && N == 1);
    CHECK(experiment_shard_parse("3/4", &I, &N, err, sizeof err) == 0 && I == 3 && N == 4);
    const char *bad[] = {"0/4", "5/4", "a/b", "1/", "/4", "1/4x", " 1/4", "-1/4", "", "1", "1/0", "99999999/99999999"};
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++)
        CHECK_MSG(experiment_shard_parse(bad[i], &I, &N, err, sizeof err) == -1, "shard '%s' accepted", bad[i]);
    experiment_shard_parse("5/4", &I, &N, err, sizeof err);
    CHECK(!strcmp(err, "--shard: expected I/N with 1 <= I <= N <= 1000000 (e.g. 2/4), found '5/4'"));
    // Disjoint and covering, for several shard counts.
    for (int count = 1; count <= 7; count++)
        for (long p = 0; p < 13; p++) {
            int owners = 0;
            for (int index = 1; index <= count; index++) owners += experiment_in_shard(p, index, count);
            CHECK_MSG(owners == 1, "point %ld in %d of %d shards", p, owners, count);
        }
}

// ---- dumps, help, docs ------------------------------------------------------------------------

// A random valid value for every key (within range; strings with quotes, escapes and UTF-8).
static void random_config(Config *c, Rng *r) {
    static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "\t", "\n", "\x01", "\x7f", "#", "=", "[",
                                         "'", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    config_defaults(c);
    for (int k = 0; k < CFG_NKEYS; k++) {
        const CfgKey *K = &cfg_keys[k];
        char *field = (char *)c + K->offset;
        double u = rng_uniform(r);
        switch (K->type) {
        case CFG_INT: {
            long span = (long)(K->hi - K->lo) + 1;
            int v = (int)K->lo + (int)(rng_next(r) % (uint64_t)span);
            if (u < 0.2) v = (int)K->lo;
            else if (u < 0.4) v = (int)K->hi;
            *(int *)field = v;
            break;
        }
        case CFG_REAL: {
            double v = K->lo + rng_uniform(r) * (K->hi - K->lo);
            if (u < 0.15) v = K->lo;
            else if (u < 0.3) v = K->hi;
            else if (u < 0.45) v = K->lo + pow(rng_uniform(r), 40) * (K->hi - K->lo);
            *(double *)field = v;
            break;
        }
        case CFG_BOOL: *(int *)field = u < 0.5; break;
        case CFG_CHOICE: *(int *)field = (int)(rng_next(r) % (uint64_t)config_choice_count(k)); break;
        case CFG_STR: {
            size_t o = 0;
            int n = (int)(rng_next(r) % 60);
            for (int i = 0; i < n; i++) {
                const char *p = pieces[rng_next(r) % (sizeof pieces / sizeof pieces[0])];
                if (o + strlen(p) >= CFG_STR_MAX) break;
                memcpy(field + o, p, strlen(p));
                o += strlen(p);
            }
            field[o] = '\0';
            break;
        }
        case CFG_STRS: {
            cfg_STRS *a = (cfg_STRS *)field;
            memset(a, 0, sizeof *a);
            a->n = (int)(rng_next(r) % 4);
            for (int i = 0; i < a->n; i++) {
                size_t o = 0;
                int n = (int)(rng_next(r) % 20);
                for (int j = 0; j < n; j++) {
                    const char *p = pieces[rng_next(r) % (sizeof pieces / sizeof pieces[0])];
                    if (o + strlen(p) >= CFG_STR_MAX) break;
                    memcpy(a->s[i] + o, p, strlen(p));
                    o += strlen(p);
                }
            }
            break;
        }
        case CFG_REALS: {
            cfg_REALS *a = (cfg_REALS *)field;
            a->n = (int)(rng_next(r) % (CFG_REALS_MAX + 1));
            for (int i = 0; i < a->n; i++) a->v[i] = K->lo + rng_uniform(r) * (K->hi - K->lo);
            break;
        }
        }
    }
    if (!c->experiment_name[0]) strcpy(c->experiment_name, "x");  // empty means "derive it"
}

static void test_roundtrip_random(void) {
    Rng r;
    rng_seed(&r, 12345, 0);
    for (int it = 0; it < 300; it++) {
        Config c;
        random_config(&c, &r);
        char *text = dump_toml(&c);
        // Cross-field failures are expected for random values; any other error is a round-trip bug.
        CfgErrors *cross = &errs2;
        cross->n = 0;
        int ncross = config_validate(&c, NULL, cross);
        int n = load_text(&ex, text, NULL, 0, &errs);
        CHECK_MSG(n == ncross && config_equal(&ex.base, &c), "iteration %d: %d errors (%d cross-field): %s", it, n,
                  ncross, errs.n ? errs.msg[0] : "values differ");
        free(text);
    }
}

static void test_dumps(void) {
    Config c;
    char buf[256];
    config_defaults(&c);
    config_format_value(&c, CFGK_train_lr, 1, buf, sizeof buf);
    CHECK(!strcmp(buf, "0.003"));
    config_format_value(&c, CFGK_data_shared_norm, 1, buf, sizeof buf);
    CHECK(!strcmp(buf, "8.0"));
    config_format_value(&c, CFGK_data_shared_norm, 0, buf, sizeof buf);
    CHECK(!strcmp(buf, "8"));
    config_format_value(&c, CFGK_balance_scope, 1, buf, sizeof buf);
    CHECK(!strcmp(buf, "\"micro\""));
    config_format_value(&c, CFGK_balance_scope, 0, buf, sizeof buf);
    CHECK(!strcmp(buf, "micro"));
    config_format_value(&c, CFGK_eval_removal, 1, buf, sizeof buf);
    CHECK(!strcmp(buf, "[0.125, 0.25]"));
    config_format_value(&c, CFGK_eval_removal, 0, buf, sizeof buf);
    CHECK(!strcmp(buf, "0.125 0.25"));
    config_format_value(&c, CFGK_optim_eps, 1, buf, sizeof buf);
    CHECK(!strcmp(buf, "1e-08"));
    // JSON (json_config, evaluate/writers.c): one object per table, every key.
    char *js = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&js, &len);
    JsonWriter w;
    json_begin(&w, f);
    json_config(&w, &c);
    fclose(f);
    CHECK(js[0] == '{' && !strcmp(js + len - 2, "}\n") && strstr(js, "\n  \"model\": {\n    \"kind\": \"decoder\",") &&
          strstr(js, "\"removal\": [0.125, 0.25]") && strstr(js, "\"attention\": true") && !strstr(js, "\"model.top_k\""));
    for (int k = 0; k < CFG_NKEYS; k++) {
        char key[80];
        snprintf(key, sizeof key, "\"%s\": ", strrchr(cfg_keys[k].key, '.') + 1);
        CHECK_MSG(strstr(js, key), "JSON lacks %s", cfg_keys[k].key);
    }
    free(js);
    // Help names every key with its default and help text.
    char *help = NULL;
    f = open_memstream(&help, &len);
    config_print_help(f);
    fclose(f);
    for (int k = 0; k < CFG_NKEYS; k++)
        CHECK_MSG(strstr(help, cfg_keys[k].key) && strstr(help, cfg_keys[k].help), "help lacks %s", cfg_keys[k].key);
    CHECK(strstr(help, "model.top_k            integer  default 2            1 to 64\n"));
    free(help);
    // The error list keeps the first CFG_ERRORS_MAX lines and counts the rest.
    char many[8192];
    size_t o = 0;
    for (int i = 0; i < 100; i++) o += (size_t)snprintf(many + o, sizeof many - o, "nokey%d = 1\n", i);
    CHECK(load_text(&ex, many, NULL, 0, &errs) == 100 && errs.n == 100);
    char *out = NULL;
    f = open_memstream(&out, &len);
    cfg_errors_print(&errs, f);
    fclose(f);
    CHECK(strstr(out, "t.toml:64: unknown key 'nokey63'") && strstr(out, "... and 36 more errors\n") &&
          !strstr(out, "nokey64"));
    free(out);
}

static char *key_table(void) {
    char *t = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&t, &len);
    config_write_markdown(f);
    fclose(f);
    return t;
}

static void test_docs(void) {
    char *doc = read_all("docs/EXPERIMENTS.md", NULL);
    CHECK_MSG(doc, "cannot read docs/EXPERIMENTS.md");
    if (!doc) return;
    for (int k = 0; k < CFG_NKEYS; k++) {
        char key[80];
        snprintf(key, sizeof key, "`%s`", cfg_keys[k].key);
        CHECK_MSG(strstr(doc, key), "docs/EXPERIMENTS.md does not document %s", cfg_keys[k].key);
    }
    const char *begin = strstr(doc, "<!-- keys:begin -->\n"), *end = strstr(doc, "<!-- keys:end -->");
    char *table = key_table();
    CHECK_MSG(begin && end && end > begin, "docs/EXPERIMENTS.md lacks the keys:begin / keys:end markers");
    if (begin && end && end > begin) {
        begin += strlen("<!-- keys:begin -->\n");
        CHECK_MSG((size_t)(end - begin) == strlen(table) && !strncmp(begin, table, strlen(table)),
                  "the key table in docs/EXPERIMENTS.md is out of date: regenerate it with "
                  "test_config --print-key-table");
    }
    free(table);
    free(doc);
}

// ---- files other tools must read: Python's tomllib (and json for the JSON dump) ---------------

static void test_tomllib(void) {
    if (system("python3 -c 'import tomllib, json' >/dev/null 2>&1") != 0) {
        SKIP("python3 with tomllib (Python >= 3.11) not found: files not read by tomllib");
        return;
    }
    char dir[] = "/tmp/moesim_test_config_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static char names[MAX_FILES][256];
    static char cmd[65536];
    size_t o = (size_t)snprintf(cmd, sizeof cmd,
        "python3 -c '\nimport sys, json, tomllib\nbad = 0\na = sys.argv[1:]\ns = a.index(\"--\")\n"
        "for f in a[:s]:\n    try: tomllib.load(open(f, \"rb\"))\n"
        "    except Exception as e: print(f, \"tomllib:\", e); bad += 1\n"
        "for t, j in zip(a[s+1::2], a[s+2::2]):\n"
        "    if tomllib.load(open(t, \"rb\")) != json.load(open(j)): print(t, \"and\", j, \"differ\"); bad += 1\n"
        "print(\"test_config: tomllib read\", s, \"files; TOML and JSON dumps agree for\", (len(a) - s - 1) // 2)\nsys.exit(1 if bad else 0)\n'");
    const char *dirs[] = {GOOD_DIR, GOOD_DIR "/inc", "experiments"};
    const char *sufs[] = {".toml", ".expected"};
    int nfiles = 0;
    for (int d = 0; d < 3; d++)
        for (int s = 0; s < 2; s++) {
            int n = list_dir(dirs[d], sufs[s], names);
            for (int i = 0; i < n; i++) o += (size_t)snprintf(cmd + o, sizeof cmd - o, " %s/%s", dirs[d], names[i]), nfiles++;
        }
    o += (size_t)snprintf(cmd + o, sizeof cmd - o, " --");
    // Each good fixture's base as TOML and as JSON: the two must be the same document.
    int n = list_dir(GOOD_DIR, ".toml", names), npairs = 0;
    char paths[2][MAX_FILES][600];
    for (int i = 0; i < n && npairs < MAX_FILES; i++) {
        char path[512];
        snprintf(path, sizeof path, GOOD_DIR "/%.255s", names[i]);
        errs.n = 0;
        if (experiment_load(&ex, path, NULL, 0, &errs)) continue;
        snprintf(paths[0][npairs], 600, "%s/%d.toml", dir, i);
        snprintf(paths[1][npairs], 600, "%s/%d.json", dir, i);
        FILE *t = fopen(paths[0][npairs], "w"), *j = fopen(paths[1][npairs], "w");
        if (t) { config_write_toml(t, &ex.base); fclose(t); }
        if (j) {
            JsonWriter w;
            json_begin(&w, j);
            json_config(&w, &ex.base);
            fclose(j);
        }
        o += (size_t)snprintf(cmd + o, sizeof cmd - o, " %s %s", paths[0][npairs], paths[1][npairs]);
        npairs++;
    }
    CHECK(o < sizeof cmd && nfiles >= 10 && npairs >= 5);
    CHECK_MSG(system(cmd) == 0, "python3 tomllib/json check failed (see above)");
    for (int i = 0; i < npairs; i++) { unlink(paths[0][i]); unlink(paths[1][i]); }
    rmdir(dir);
}

// Every experiment the project ships loads without an error.
static void test_experiments(void) {
    static char names[MAX_FILES][256];
    int n = list_dir("experiments", ".toml", names);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "experiments/%.255s", names[i]);
        errs.n = 0;
        int got = experiment_load(&ex, path, NULL, 0, &errs);
        CHECK_MSG(got == 0, "%s: %d errors (first: %s)", path, got, errs.n ? errs.msg[0] : "");
        if (!got) check_roundtrip(&ex, path);
    }
}

// Random damage to the good fixtures must give errors or a valid config, never a crash (the
// sanitizer build catches memory errors); whatever loads must round-trip.
static void test_mutations(void) {
    static char names[MAX_FILES][256];
    int n = list_dir(GOOD_DIR, ".toml", names), loaded = 0, rejected = 0;
    Rng r;
    rng_seed(&r, 777, 0);
    static const char *const inserts[] = {"\n", "[", "]", "\"", "=", ".", "#", ",", "0", "e", "_", " ", "'", "\\",
                                          "\0", "\r", "{", "\xc3", "[sweep]\n", "1e", "inf"};
    for (int it = 0; it < 1500 && n > 0; it++) {
        char path[512];
        snprintf(path, sizeof path, GOOD_DIR "/%.255s", names[it % n]);
        size_t len;
        char *text = read_all(path, &len);
        if (!text) continue;
        char *buf = malloc(len + 64);
        memcpy(buf, text, len);
        for (int m = 0; m < 1 + (int)(rng_next(&r) % 3); m++) {
            size_t at = len ? (size_t)(rng_next(&r) % len) : 0;
            int op = (int)(rng_next(&r) % 3);
            if (op == 0 && len) memmove(buf + at, buf + at + 1, len - at - 1), len--;            // delete
            else if (op == 1 && len) buf[at] = (char)(rng_next(&r) & 0xff);                    // replace
            else {                                                                              // insert
                const char *s = inserts[rng_next(&r) % (sizeof inserts / sizeof inserts[0])];
                size_t sl = s[0] ? strlen(s) : 1;
                if (len + sl > len + 60) continue;
                memmove(buf + at + sl, buf + at, len - at);
                memcpy(buf + at, s, sl);
                len += sl;
            }
        }
        errs.n = 0;
        int got = experiment_load_buffer(&ex, "m.toml", buf, len, NULL, 0, &errs);
        if (got == 0) { loaded++; check_roundtrip(&ex, "mutation"); }
        else rejected++;
        free(buf);
        free(text);
    }
    CHECK(loaded > 10 && rejected > 100);  // not vacuous: both outcomes happen
}

// ---- the cross-field checks accept their boundary values ----
// Every fixture in bad/ is on the wrong side of a check; these sit exactly on the right side, so
// a check written with >= for > (or a stricter name rule) fails here: top_k = experts, a
// micro-batch of the whole batch, warm-up of every step, one head per model dimension, every
// token owned by some domain (shared + domains = vocab, one private token each), branching at
// the reach, one cyclic domain per token, a name with inner dots, dashes and underscores.
static void test_check_boundaries(void) {
    static const char *const ok[] = {
        "[model]\nexperts = 4\ntop_k = 4\n",
        "[train]\nbatch = 8\nmicro_batch = 8\n",
        "[train]\nsteps = 5\nwarmup = 5\n",
        "[model]\nd_model = 8\nheads = 8\n",
        "[model]\nvocab = 12\n[data]\nshared_vocab = 8\ndomains = 4\nbranching = 9\n",
        "[model]\nvocab = 48\n[data]\nshared_vocab = 4\ndomains = 4\nbranching = 15\n",
        "[model]\nvocab = 48\n[data]\nshared_vocab = 4\ndomains = 4\nshared_prob = 0\nbranching = 11\n",
        "[model]\nvocab = 16\n[data]\nworld = \"cyclic\"\ndomains = 16\n",
        "[experiment]\nname = \"a.b-c_D9.\"\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = load_text(&ex, ok[i], NULL, 0, &errs);
        CHECK_MSG(rc == 0 && errs.n == 0, "rejected on the boundary: %s  (%s)", ok[i], errs.n ? errs.msg[0] : "");
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--print-resolved")) {
        int n = experiment_load(&ex, argv[2], NULL, 0, &errs);
        if (n) { cfg_errors_print(&errs, stderr); return 2; }
        char *t = resolved_text(&ex);
        fputs(t, stdout);
        free(t);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--print-key-table")) {
        config_write_markdown(stdout);
        return 0;
    }
    test_schema();
    test_enums();
    test_toml();
    test_bad_fixtures();
    test_good_fixtures();
    test_sweep();
    test_include();
    test_set();
    test_shards();
    test_roundtrip_random();
    test_dumps();
    test_docs();
    test_tomllib();
    test_experiments();
    test_mutations();
    test_check_boundaries();
    return test_summary("test_config");
}
