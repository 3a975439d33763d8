// config.c — the schema as a table, values, cross-field checks, experiment loading (include,
// [sweep], --set), sweep points and run ids, shards, and the dumps. See config.h for the contract
// and docs/EXPERIMENTS.md for the user's view.
#include "config.h"
#include "toml.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// ---- the schema as a table --------------------------------------------------------------------

const CfgKey cfg_keys[CFG_NKEYS] = {
#define CFG_ROW(key, field, type, def, lo, hi, choices, help) \
    {key, CFG_##type, def, lo, hi, choices, help, offsetof(Config, field)},
    MOESIM_SCHEMA(CFG_ROW)
#undef CFG_ROW
};

int config_find(const char *key) {
    for (int k = 0; k < CFG_NKEYS; k++)
        if (!strcmp(cfg_keys[k].key, key)) return k;
    return -1;
}

// "top_k" of "model.top_k".
static const char *last_part(const char *key) {
    const char *d = strrchr(key, '.');
    return d ? d + 1 : key;
}

// Length of the table part of a schema key ("model" of "model.top_k").
static size_t table_len(const char *key) {
    const char *d = strchr(key, '.');
    return d ? (size_t)(d - key) : 0;
}

// 1 if key k starts a new table in schema order (its table differs from every earlier key's).
static int first_of_table(int k) {
    size_t n = table_len(cfg_keys[k].key);
    for (int j = 0; j < k; j++)
        if (table_len(cfg_keys[j].key) == n && !strncmp(cfg_keys[j].key, cfg_keys[k].key, n)) return 0;
    return 1;
}

static int same_table(int a, int b) {
    size_t n = table_len(cfg_keys[a].key);
    return table_len(cfg_keys[b].key) == n && !strncmp(cfg_keys[a].key, cfg_keys[b].key, n);
}

// 1 if `name` is a schema table ("model").
static int table_known(const char *name) {
    size_t n = strlen(name);
    for (int k = 0; k < CFG_NKEYS; k++)
        if (table_len(cfg_keys[k].key) == n && !strncmp(cfg_keys[k].key, name, n)) return 1;
    return 0;
}

int config_choice_count(int k) {
    if (k < 0 || k >= CFG_NKEYS || cfg_keys[k].type != CFG_CHOICE) return 0;
    int n = 1;
    for (const char *s = cfg_keys[k].choices; *s; s++) n += *s == '|';
    return n;
}

const char *config_choice_name(int k, int index, char *buf, size_t cap) {
    if (k < 0 || k >= CFG_NKEYS || cfg_keys[k].type != CFG_CHOICE || index < 0) return NULL;
    const char *s = cfg_keys[k].choices;
    for (int i = 0; i < index; i++) {
        s = strchr(s, '|');
        if (!s) return NULL;
        s++;
    }
    size_t n = strcspn(s, "|");
    if (n >= cap) return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

int config_choice_index(int k, const char *name) {
    if (k < 0 || k >= CFG_NKEYS || cfg_keys[k].type != CFG_CHOICE) return -1;
    const char *s = cfg_keys[k].choices;
    size_t len = strlen(name);
    for (int i = 0;; i++) {
        size_t n = strcspn(s, "|");
        if (n == len && !strncmp(s, name, n)) return i;
        if (!s[n]) return -1;
        s += n + 1;
    }
}

// ---- values -----------------------------------------------------------------------------------

#define FIELD(c, k, T) ((T *)((char *)(c) + cfg_keys[k].offset))
#define CFIELD(c, k, T) ((const T *)((const char *)(c) + cfg_keys[k].offset))

// The shortest %g form that reads back as the same double, or the plain form when it is barely
// longer (10 rather than 1e+01).
static void fmt_real(double v, char *buf, size_t cap) {
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strchr(buf, 'e')) return;
    for (int q = p + 1; q <= 17; q++) {
        char plain[32];
        snprintf(plain, sizeof plain, "%.*g", q, v);
        if (!strchr(plain, 'e') && strtod(plain, NULL) == v && strlen(plain) <= strlen(buf) + 3) {
            snprintf(buf, cap, "%s", plain);
            return;
        }
    }
}

// fmt_real without the exponent's '+' and leading zeros (1e-4, 1e9): for run ids and ranges.
static void fmt_real_short(double v, char *buf, size_t cap) {
    char r[40], *e;
    fmt_real(v, r, sizeof r);
    if ((e = strchr(r, 'e'))) {
        char *d = e + 1;
        if (*d == '+') memmove(d, d + 1, strlen(d));
        if (*d == '-') d++;
        while (d[0] == '0' && d[1]) memmove(d, d + 1, strlen(d));
    }
    snprintf(buf, cap, "%s", r);
}

// A range bound of key k as a user reads it: integers in full, reals short.
static void fmt_bound(int k, double v, char *buf, size_t cap) {
    if (cfg_keys[k].type == CFG_INT) snprintf(buf, cap, "%.0f", v);
    else fmt_real_short(v, buf, cap);
}

// TOML needs a float to show a '.' or an exponent (so 8 is written 8.0).
static void fmt_real_toml(double v, char *buf, size_t cap) {
    fmt_real(v, buf, cap);
    if (!strpbrk(buf, ".eEn")) {
        size_t n = strlen(buf);
        if (n + 2 < cap) memcpy(buf + n, ".0", 3);
    }
}

int config_format_value(const Config *c, int k, int toml, char *buf, size_t cap) {
    char r[40];
    switch (cfg_keys[k].type) {
    case CFG_INT: return snprintf(buf, cap, "%d", *CFIELD(c, k, cfg_INT));
    case CFG_REAL:
        if (toml) fmt_real_toml(*CFIELD(c, k, cfg_REAL), r, sizeof r);
        else fmt_real(*CFIELD(c, k, cfg_REAL), r, sizeof r);
        return snprintf(buf, cap, "%s", r);
    case CFG_BOOL: return snprintf(buf, cap, "%s", *CFIELD(c, k, cfg_BOOL) ? "true" : "false");
    case CFG_CHOICE: {
        char name[64];
        if (!config_choice_name(k, *CFIELD(c, k, cfg_CHOICE), name, sizeof name)) strcpy(name, "?");
        return snprintf(buf, cap, toml ? "\"%s\"" : "%s", name);
    }
    case CFG_STR: {
        const char *s = *CFIELD(c, k, cfg_STR);
        return toml ? (int)toml_quote(buf, cap, s) : snprintf(buf, cap, "%s", s);
    }
    case CFG_REALS: {
        const cfg_REALS *a = CFIELD(c, k, cfg_REALS);
        size_t o = 0;
        o += (size_t)snprintf(buf, cap, "%s", toml ? "[" : "");
        for (int i = 0; i < a->n; i++) {
            if (toml) fmt_real_toml(a->v[i], r, sizeof r);
            else fmt_real(a->v[i], r, sizeof r);
            o += (size_t)snprintf(buf + (o < cap ? o : cap), o < cap ? cap - o : 0, "%s%s",
                                  i ? (toml ? ", " : " ") : "", r);
        }
        if (toml) o += (size_t)snprintf(buf + (o < cap ? o : cap), o < cap ? cap - o : 0, "]");
        return (int)o;
    }
    }
    return 0;
}

// "an integer in [1, 64]", 'one of "softmax", "sigmoid"', ... for "expected X" in messages.
static const char *expected_words(int k, char *buf, size_t cap) {
    const CfgKey *K = &cfg_keys[k];
    char lo[40], hi[40];
    fmt_bound(k, K->lo, lo, sizeof lo);
    fmt_bound(k, K->hi, hi, sizeof hi);
    switch (K->type) {
    case CFG_INT: snprintf(buf, cap, "an integer in [%s, %s]", lo, hi); break;
    case CFG_REAL: snprintf(buf, cap, "a number in [%s, %s]", lo, hi); break;
    case CFG_BOOL: snprintf(buf, cap, "true or false"); break;
    case CFG_STR: snprintf(buf, cap, "a string of at most %d bytes", CFG_STR_MAX - 1); break;
    case CFG_REALS:
        snprintf(buf, cap, "an array of at most %d numbers in [%s, %s]", CFG_REALS_MAX, lo, hi);
        break;
    case CFG_CHOICE: {
        size_t o = (size_t)snprintf(buf, cap, "one of ");
        char name[64];
        for (int i = 0; config_choice_name(k, i, name, sizeof name) && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%s\"%s\"", i ? ", " : "", name);
        break;
    }
    }
    return buf;
}

// A value as written, shortened for messages.
static const char *shown(const char *text, char *buf, size_t cap) {
    size_t n = strlen(text);
    if (n <= 60) snprintf(buf, cap, "%s", text);
    else snprintf(buf, cap, "%.57s...", text);
    return buf;
}

static void store_number(Config *c, int k, double v) {
    switch (cfg_keys[k].type) {
    case CFG_INT: *FIELD(c, k, cfg_INT) = (int)v; break;
    case CFG_REAL: *FIELD(c, k, cfg_REAL) = v; break;
    case CFG_BOOL: *FIELD(c, k, cfg_BOOL) = v != 0.0; break;
    case CFG_CHOICE: *FIELD(c, k, cfg_CHOICE) = (int)v; break;
    default: break;
    }
}

// Checks one scalar for a key of type INT, REAL, BOOL or CHOICE and gives it as a number (CHOICE:
// the index). `kname` names the key in the message. Returns 0, or -1 with the message in err.
static int scalar_number(int k, const TomlScalar *s, const char *kname, double *out, char *err, size_t cap) {
    const CfgKey *K = &cfg_keys[k];
    char exp[256], got[80];
    const char *hint = "";
    switch (K->type) {
    case CFG_INT:
        if (s->type == TOML_INT && (double)s->i >= K->lo && (double)s->i <= K->hi) { *out = (double)s->i; return 0; }
        if (s->type == TOML_FLOAT) hint = " (an integer has no decimal point or exponent)";
        break;
    case CFG_REAL:
        if ((s->type == TOML_INT || s->type == TOML_FLOAT) && s->f >= K->lo && s->f <= K->hi) {
            *out = s->f;
            return 0;
        }
        break;
    case CFG_BOOL:
        if (s->type == TOML_BOOL) { *out = s->b; return 0; }
        break;
    case CFG_CHOICE:
        if (s->type == TOML_STRING) {
            int i = config_choice_index(k, s->s);
            if (i >= 0) { *out = i; return 0; }
        }
        break;
    default: break;
    }
    snprintf(err, cap, "%s: expected %s, found %s%s", kname, expected_words(k, exp, sizeof exp),
             shown(s->text, got, sizeof got), hint);
    return -1;
}

// Checks a parsed value for key k and stores it into c. Returns 0, or -1 with the message in err.
static int set_value(Config *c, int k, const TomlValue *v, const char *kname, char *err, size_t cap) {
    const CfgKey *K = &cfg_keys[k];
    char exp[256], got[80];
    if (K->type == CFG_REALS) {
        if (v->type != TOML_ARRAY || v->n > CFG_REALS_MAX) {
            snprintf(err, cap, "%s: expected %s, found %s", kname, expected_words(k, exp, sizeof exp),
                     v->type == TOML_ARRAY ? "more elements" : shown(v->text, got, sizeof got));
            return -1;
        }
        cfg_REALS a = {0, {0}};
        for (int i = 0; i < v->n; i++) {
            const TomlScalar *s = &v->items[i];
            if ((s->type != TOML_INT && s->type != TOML_FLOAT) || s->f < K->lo || s->f > K->hi) {
                snprintf(err, cap, "%s: expected %s, found %s (element %d)", kname,
                         expected_words(k, exp, sizeof exp), shown(s->text, got, sizeof got), i + 1);
                return -1;
            }
            a.v[a.n++] = s->f;
        }
        *FIELD(c, k, cfg_REALS) = a;
        return 0;
    }
    if (v->type == TOML_ARRAY) {
        snprintf(err, cap, "%s: expected %s, found %s (to run several values, list them in [sweep])", kname,
                 expected_words(k, exp, sizeof exp), shown(v->text, got, sizeof got));
        return -1;
    }
    if (K->type == CFG_STR) {
        if (v->type != TOML_STRING || v->scalar.len >= CFG_STR_MAX) {
            char n[40];
            snprintf(n, sizeof n, "a string of %zu bytes", v->scalar.len);
            snprintf(err, cap, "%s: expected %s, found %s", kname, expected_words(k, exp, sizeof exp),
                     v->type == TOML_STRING ? n : shown(v->text, got, sizeof got));
            return -1;
        }
        memcpy(*FIELD(c, k, cfg_STR), v->scalar.s, v->scalar.len + 1);
        return 0;
    }
    double d;
    if (scalar_number(k, &v->scalar, kname, &d, err, cap)) return -1;
    store_number(c, k, d);
    return 0;
}

// config_set's handler: the parser's callbacks for one standalone value.
typedef struct {
    Config *c;
    int k;
    char *err;
    size_t cap;
    int failed;
} SetCtx;

static void set_on_value(void *u, const TomlKey *key, const TomlValue *v) {
    SetCtx *s = u;
    (void)key;
    if (set_value(s->c, s->k, v, cfg_keys[s->k].key, s->err, s->cap)) s->failed = 1;
}

static void set_on_error(void *u, int line, const char *msg) {
    SetCtx *s = u;
    (void)line;
    if (!s->failed) snprintf(s->err, s->cap, "%s", msg);
    s->failed = 1;
}

int config_set(Config *c, const char *key, const char *value, char *err, size_t errlen) {
    int k = config_find(key);
    if (k < 0) {
        snprintf(err, errlen, "unknown key '%s'", key);
        return -1;
    }
    SetCtx s = {c, k, err, errlen, 0};
    TomlHandler h = {NULL, set_on_value, set_on_error, &s};
    int n = toml_parse_value(value, key, &h);
    return n || s.failed ? -1 : 0;
}

int config_defaults(Config *c) {
    char err[TOML_MSG_MAX];
    int bad = 0;
    memset(c, 0, sizeof *c);
    for (int k = 0; k < CFG_NKEYS; k++) bad += config_set(c, cfg_keys[k].key, cfg_keys[k].def, err, sizeof err) != 0;
    return bad;
}

int config_equal(const Config *a, const Config *b) {
    for (int k = 0; k < CFG_NKEYS; k++) {
        switch (cfg_keys[k].type) {
        case CFG_INT: case CFG_BOOL: case CFG_CHOICE:
            if (*CFIELD(a, k, int) != *CFIELD(b, k, int)) return 0;
            break;
        case CFG_REAL:
            if (*CFIELD(a, k, cfg_REAL) != *CFIELD(b, k, cfg_REAL)) return 0;
            break;
        case CFG_STR:
            if (strcmp(*CFIELD(a, k, cfg_STR), *CFIELD(b, k, cfg_STR))) return 0;
            break;
        case CFG_REALS: {
            const cfg_REALS *x = CFIELD(a, k, cfg_REALS), *y = CFIELD(b, k, cfg_REALS);
            if (x->n != y->n) return 0;
            for (int i = 0; i < x->n; i++)
                if (x->v[i] != y->v[i]) return 0;
            break;
        }
        }
    }
    return 1;
}

// ---- errors -----------------------------------------------------------------------------------

static void err_addv(CfgErrors *e, const char *fmt, va_list ap) {
    if (e->n < CFG_ERRORS_MAX) vsnprintf(e->msg[e->n], CFG_ERROR_LEN, fmt, ap);
    e->n++;
}

static void err_add(CfgErrors *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err_addv(e, fmt, ap);
    va_end(ap);
}

void cfg_errors_print(const CfgErrors *e, FILE *f) {
    int kept = e->n < CFG_ERRORS_MAX ? e->n : CFG_ERRORS_MAX;
    for (int i = 0; i < kept; i++) fprintf(f, "%s\n", e->msg[i]);
    if (e->n > kept) fprintf(f, "... and %d more errors\n", e->n - kept);
}

// ---- suggestions ("did you mean") -------------------------------------------------------------

// Optimal string alignment distance (edits, with adjacent transpositions counting one), or 99
// when it is surely above `limit` (the lengths alone differ by more).
static int osa(const char *a, const char *b, int limit) {
    enum { M = 64 };
    size_t n = strlen(a), m = strlen(b);
    if (n >= M || m >= M || (n > m ? n - m : m - n) > (size_t)limit) return 99;
    int d[M][M];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

// The schema key closest to `given` (a full or partial dotted name): by whole-name distance, or
// by last-part distance (+1 when the table differs). Returns the key index, or -1 if none is close.
static int suggest_key(const char *given) {
    const char *glast = last_part(given);
    size_t gt = glast == given ? 0 : (size_t)(glast - given - 1);
    int best = -1, best_d = 99;
    for (int k = 0; k < CFG_NKEYS; k++) {
        const char *key = cfg_keys[k].key;
        int d = osa(given, key, best_d);
        int dl = osa(glast, last_part(key), best_d);
        int same = gt == table_len(key) && !strncmp(given, key, gt);
        if (dl + !same < d) d = dl + !same;
        if (d < best_d) { best_d = d; best = k; }
    }
    int limit = (int)strlen(glast) / 3;
    if (limit < 2) limit = 2;
    return best_d <= limit ? best : -1;
}

// " (did you mean [model]?)" or the list of tables, for an unknown table name.
static void suggest_table(const char *given, char *out, size_t cap) {
    int best = -1, best_d = 99;
    size_t o = 0;
    for (int k = 0; k <= CFG_NKEYS; k++) {
        if (k < CFG_NKEYS && !first_of_table(k)) continue;
        char t[64];
        if (k < CFG_NKEYS) snprintf(t, sizeof t, "%.*s", (int)table_len(cfg_keys[k].key), cfg_keys[k].key);
        else snprintf(t, sizeof t, "sweep");
        int d = osa(given, t, best_d);
        if (d < best_d) { best_d = d; best = k; }
    }
    if (best >= 0 && best_d <= 2) {
        if (best < CFG_NKEYS)
            snprintf(out, cap, " (did you mean [%.*s]?)", (int)table_len(cfg_keys[best].key), cfg_keys[best].key);
        else
            snprintf(out, cap, " (did you mean [sweep]?)");
        return;
    }
    o += (size_t)snprintf(out, cap, " (tables:");
    for (int k = 0; k < CFG_NKEYS && o < cap; k++)
        if (first_of_table(k))
            o += (size_t)snprintf(out + o, cap - o, " %.*s", (int)table_len(cfg_keys[k].key), cfg_keys[k].key);
    if (o < cap) snprintf(out + o, cap - o, " sweep)");
}

// ---- cross-field checks -----------------------------------------------------------------------

// A failed check calls fail with the keys it involves (their values are in the message); the
// caller locates the error at the most recently assigned of them.
typedef void (*FailFn)(void *u, const int *keys, int nkeys, const char *msg);

typedef struct {
    FailFn fail;
    void *u;
    int n;
} Checks;

static void xfail(Checks *x, int k1, int k2, int k3, const char *fmt, ...) {
    int keys[3], n = 0;
    if (k1 >= 0) keys[n++] = k1;
    if (k2 >= 0) keys[n++] = k2;
    if (k3 >= 0) keys[n++] = k3;
    char msg[TOML_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->fail(x->u, keys, n, msg);
    x->n++;
}

static const char *choice(const Config *c, int k, char *buf, size_t cap) {
    if (!config_choice_name(k, *CFIELD(c, k, cfg_CHOICE), buf, cap)) snprintf(buf, cap, "?");
    return buf;
}

// The combinations a user can get wrong, each naming every key it involves.
static int run_checks(const Config *c, FailFn fail, void *u) {
    Checks x = {fail, u, 0};
    char a[64];
    if (c->model_top_k > c->model_experts)
        xfail(&x, CFGK_model_top_k, CFGK_model_experts, -1, "model.top_k = %d must be at most model.experts = %d",
              c->model_top_k, c->model_experts);
    if (c->train_micro_batch > 0 && c->train_batch % c->train_micro_batch != 0)
        xfail(&x, CFGK_train_micro_batch, CFGK_train_batch, -1,
              "train.micro_batch = %d must divide train.batch = %d", c->train_micro_batch, c->train_batch);
    if (c->model_kind == MODEL_DECODER && c->model_attention && c->model_d_model % c->model_heads != 0)
        xfail(&x, CFGK_model_heads, CFGK_model_d_model, -1, "model.heads = %d must divide model.d_model = %d",
              c->model_heads, c->model_d_model);
    if (c->model_kind == MODEL_ROUTER && c->data_world != WORLD_GEOMETRY)
        xfail(&x, CFGK_model_kind, CFGK_data_world, -1,
              "model.kind = \"router\" requires data.world = \"geometry\", found \"%s\"",
              choice(c, CFGK_data_world, a, sizeof a));
    if (c->data_world == WORLD_GEOMETRY && c->model_kind != MODEL_ROUTER)
        xfail(&x, CFGK_data_world, CFGK_model_kind, -1,
              "data.world = \"geometry\" requires model.kind = \"router\", found \"%s\"",
              choice(c, CFGK_model_kind, a, sizeof a));
    if (c->train_warmup > c->train_steps)
        xfail(&x, CFGK_train_warmup, CFGK_train_steps, -1, "train.warmup = %d must be at most train.steps = %d",
              c->train_warmup, c->train_steps);
    if (c->optim_name == OPTIM_MUON && c->model_kind == MODEL_ROUTER && !c->optim_muon_router)
        xfail(&x, CFGK_optim_name, CFGK_optim_muon_router, CFGK_model_kind,
              "optim.name = \"muon\" has no matrix to update: with model.kind = \"router\" the router is the "
              "only matrix, and optim.muon_router = false");
    if ((long long)c->eval_sequences * c->data_domains > 100000000LL)
        xfail(&x, CFGK_eval_sequences, CFGK_data_domains, -1,
              "eval.sequences = %d times data.domains = %d is more than 1e8 evaluation sequences",
              c->eval_sequences, c->data_domains);
    if (c->data_world == WORLD_DOMAINS) {
        const int S = c->data_shared_vocab, K = c->data_domains, V = c->model_vocab, b = c->data_branching;
        const double sp = c->data_shared_prob;
        if ((long long)S + K > V) {
            xfail(&x, CFGK_data_shared_vocab, CFGK_data_domains, CFGK_model_vocab,
                  "data.shared_vocab = %d plus data.domains = %d must be at most model.vocab = %d (each domain "
                  "needs at least one private token)", S, K, V);
        } else if (sp > 0 && S == 0) {
            xfail(&x, CFGK_data_shared_prob, CFGK_data_shared_vocab, -1,
                  "data.shared_prob = %g needs shared tokens, but data.shared_vocab = 0", sp);
        } else {
            const int P = (V - S) / K, reach = sp == 0 ? P : sp == 1 ? S : S + P;
            const long long A = S + P, states = c->data_order == 1 ? A : A * A;
            if (b > reach)
                xfail(&x, CFGK_data_branching, CFGK_data_shared_vocab, CFGK_data_domains,
                      "data.branching = %d must be at most %d, the distinct tokens a state can reach "
                      "(data.shared_vocab = %d, private block (model.vocab - data.shared_vocab) / data.domains "
                      "= %d, data.shared_prob = %g)", b, reach, S, P, sp);
            else if ((double)K * (double)states * b > (double)WORLD_MAX_SLOTS)
                xfail(&x, CFGK_data_domains, CFGK_data_branching, CFGK_data_order,
                      "the domains world needs %.0f successor slots (data.domains = %d x %lld states "
                      "(data.order = %d) x data.branching = %d), over the limit of %zu: lower model.vocab, "
                      "data.domains, data.branching or data.order",
                      (double)K * (double)states * b, K, states, c->data_order, b, (size_t)WORLD_MAX_SLOTS);
        }
    }
    if (c->data_world == WORLD_CYCLIC && c->data_domains > c->model_vocab)
        xfail(&x, CFGK_data_domains, CFGK_model_vocab, -1,
              "data.domains = %d must be at most model.vocab = %d (the cyclic world gives each domain "
              "model.vocab / data.domains tokens)", c->data_domains, c->model_vocab);
    // The name becomes a directory: results/<name>/.
    const char *nm = c->experiment_name;
    int ok = nm[0] != '.';
    for (const char *p = nm; *p; p++)
        ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.';
    if (!ok)
        xfail(&x, CFGK_experiment_name, -1, -1,
              "experiment.name = \"%.60s\": use only letters, digits, '_', '-' and '.' (not first); it names "
              "the results folder", nm);
    return x.n;
}

typedef struct {
    CfgErrors *e;
    const char *where;
} ValidateCtx;

static void validate_fail(void *u, const int *keys, int nkeys, const char *msg) {
    ValidateCtx *v = u;
    (void)keys; (void)nkeys;
    if (v->where) err_add(v->e, "%s: %s", v->where, msg);
    else err_add(v->e, "%s", msg);
}

int config_validate(const Config *c, const char *where, CfgErrors *e) {
    ValidateCtx v = {e, where};
    return run_checks(c, validate_fail, &v);
}

// ---- loading ----------------------------------------------------------------------------------

typedef struct {
    Experiment *ex;
    CfgErrors *e;
    int nerr;                       // errors added by this load
    int seq;                        // assignments so far (CfgOrigin.seq)
    int allow_include;
    unsigned char bad[CFG_NKEYS];   // the last assignment of the key failed: skip its checks
} Ctx;

enum { T_KNOWN, T_UNKNOWN, T_SWEEP };

// One file being loaded (or one --set argument, src CFG_SRC_SET).
typedef struct File {
    Ctx *x;
    int src;
    int has_id;                     // dev/ino identify the file, for cycle detection
    dev_t dev;
    ino_t ino;
    const struct File *parent;      // the file that includes this one
    int depth;
    int seen;                       // a table or key came first (include must be first)
    int table;                      // T_* of the current [table]
    int set_line[CFG_NKEYS];        // line where this file sets the key (0: it does not)
    int swept_line[CFG_NKEYS];      // line where this file sweeps it
} File;

static void lerr(Ctx *x, int src, int line, const char *fmt, ...) {
    char msg[CFG_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (src == CFG_SRC_SET) err_add(x->e, "--set: %s", msg);
    else if (src == CFG_SRC_DEFAULT) err_add(x->e, "(defaults): %s", msg);
    else err_add(x->e, "%s:%d: %s", x->ex->files[src], line, msg);
    x->nerr++;
}

static int axis_of(const Experiment *ex, int k) {
    for (int a = 0; a < ex->naxes; a++)
        if (ex->axes[a].key == k) return a;
    return -1;
}

static void remove_axis(Experiment *ex, int k) {
    int a = axis_of(ex, k);
    if (a < 0) return;
    memmove(&ex->axes[a], &ex->axes[a + 1], (size_t)(ex->naxes - a - 1) * sizeof ex->axes[0]);
    ex->naxes--;
}

// Joins parts[from..n) with '.' (the schema's spelling of a key).
static void join_parts(const TomlKey *k, int from, char *out, size_t cap) {
    size_t o = 0;
    out[0] = '\0';
    for (int i = from; i < k->nparts && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i > from ? "." : "", k->parts[i]);
}

static void unknown_key(File *f, int line, const char *shown_name, const char *joined, const char *where) {
    int s = f->x->e->n < CFG_ERRORS_MAX ? suggest_key(joined) : -1;  // an error only counted needs none
    if (s >= 0) lerr(f->x, f->src, line, "unknown key '%s'%s (did you mean '%s'?)", shown_name, where, cfg_keys[s].key);
    else lerr(f->x, f->src, line, "unknown key '%s'%s (moesim help lists every key)", shown_name, where);
}

// key = value for schema key k.
static void apply(File *f, int k, int line, const TomlValue *v) {
    Ctx *x = f->x;
    char err[CFG_ERROR_LEN];
    if (set_value(&x->ex->base, k, v, cfg_keys[k].key, err, sizeof err)) {
        lerr(x, f->src, line, "%s", err);
        x->bad[k] = 1;
        return;
    }
    x->bad[k] = 0;
    x->ex->origin[k] = (CfgOrigin){f->src, line, ++x->seq};
    if (f->swept_line[k])
        lerr(x, f->src, line, "%s: also swept at line %d; a key is either set or swept", cfg_keys[k].key,
             f->swept_line[k]);
    f->set_line[k] = line;
    remove_axis(x->ex, k);  // overrides a sweep of the key inherited from an included file
}

// "key" = [values] in [sweep].
static void sweep_entry(File *f, const char *name, const TomlKey *key, const TomlValue *v) {
    Ctx *x = f->x;
    Experiment *ex = x->ex;
    const int line = key->line;
    int k = config_find(name);
    if (k < 0) {
        unknown_key(f, line, name, name, " in [sweep]");
        return;
    }
    char kn[96], err[CFG_ERROR_LEN], got[80];
    snprintf(kn, sizeof kn, "%s (in [sweep])", cfg_keys[k].key);
    const CfgType t = cfg_keys[k].type;
    if (t == CFG_STR || t == CFG_REALS) {
        lerr(x, f->src, line, "%s: cannot be swept (only integer, real, boolean and choice keys can)", kn);
        return;
    }
    if (f->swept_line[k]) {
        lerr(x, f->src, line, "%s: swept twice (first at line %d)", kn, f->swept_line[k]);
        return;
    }
    f->swept_line[k] = line;
    if (f->set_line[k]) {
        lerr(x, f->src, line, "%s: also set at line %d; a key is either set or swept", kn, f->set_line[k]);
        return;
    }
    if (v->type != TOML_ARRAY) {
        lerr(x, f->src, line, "%s: expected an array of values to sweep, found %s", kn,
             shown(v->text, got, sizeof got));
        x->bad[k] = 1;
        return;
    }
    if (v->n == 0 || v->n > CFG_SWEEP_VALUES_MAX) {
        lerr(x, f->src, line, "%s: expected 1 to %d values, found %d", kn, CFG_SWEEP_VALUES_MAX, v->n);
        x->bad[k] = 1;
        return;
    }
    SweepAxis ax;
    memset(&ax, 0, sizeof ax);
    ax.key = k;
    ax.src = f->src;
    int ok = 1;
    for (int i = 0; i < v->n; i++) {
        const TomlScalar *s = &v->items[i];
        double d;
        if (scalar_number(k, s, kn, &d, err, sizeof err)) {
            lerr(x, f->src, s->line, "%s", err);
            ok = 0;
            continue;
        }
        int dup = -1;
        for (int j = 0; j < ax.n; j++)
            if (ax.v[j] == d) dup = j;
        if (dup >= 0) {
            lerr(x, f->src, s->line, "%s: duplicate value %s (also at line %d)", kn, shown(s->text, got, sizeof got),
                 ax.at[dup].line);
            ok = 0;
            continue;
        }
        ax.v[ax.n] = d;
        ax.at[ax.n] = (CfgOrigin){f->src, s->line, ++x->seq};
        ax.n++;
    }
    x->bad[k] = !ok;
    if (!ok) return;
    int a = axis_of(ex, k);
    if (a >= 0) { ex->axes[a] = ax; return; }  // replaces an included file's sweep of the key
    if (ex->naxes == CFG_SWEEP_KEYS_MAX) {
        lerr(x, f->src, line, "[sweep]: more than %d swept keys", CFG_SWEEP_KEYS_MAX);
        return;
    }
    ex->axes[ex->naxes++] = ax;
}

static void load_file(Ctx *x, const char *path, const File *parent, int line);

// Lexically normalizes a path: drops "." and empty parts, resolves "x/..".
static int normalize(const char *in, char *out, size_t cap) {
    size_t o = 0;
    int abs = in[0] == '/';
    size_t starts[CFG_PATH_MAX];
    int n = 0;
    if (strlen(in) >= cap) return -1;
    if (abs) out[o++] = '/';
    for (const char *p = in; *p;) {
        while (*p == '/') p++;
        if (!*p) break;
        size_t len = strcspn(p, "/");
        if (len == 1 && p[0] == '.') { p += len; continue; }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            int last_dotdot = n > 0 && o - starts[n - 1] == 2 && !strncmp(out + starts[n - 1], "..", 2);
            if (n > 0 && !last_dotdot) {
                o = starts[--n];
                if (o > (size_t)abs) o--;  // the '/' before it
                p += len;
                continue;
            }
            if (abs) { p += len; continue; }
        }
        if (o > (size_t)abs) out[o++] = '/';
        starts[n++] = o;
        memcpy(out + o, p, len);
        o += len;
        p += len;
    }
    if (o == 0) out[o++] = '.';
    out[o] = '\0';
    return 0;
}

static void include_entry(File *f, const TomlKey *key, const TomlValue *v) {
    Ctx *x = f->x;
    char got[80];
    if (f->seen) {
        lerr(x, f->src, key->line, "include: must come first, before any table or key");
        return;
    }
    if (v->type != TOML_STRING) {
        lerr(x, f->src, key->line, "include: expected a string (a path relative to this file), found %s",
             shown(v->text, got, sizeof got));
        return;
    }
    if (!x->allow_include) {
        lerr(x, f->src, key->line, "include: not allowed here (only in experiment files)");
        return;
    }
    if (f->depth + 1 >= CFG_INCLUDE_DEPTH) {
        lerr(x, f->src, key->line, "include: more than %d files in the include chain", CFG_INCLUDE_DEPTH);
        return;
    }
    // Relative to the including file's folder.
    char joined[2 * CFG_PATH_MAX], path[CFG_PATH_MAX];
    const char *me = x->ex->files[f->src], *slash = strrchr(me, '/');
    if (v->scalar.s[0] == '/' || !slash) snprintf(joined, sizeof joined, "%s", v->scalar.s);
    else snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - me), me, v->scalar.s);
    if (v->scalar.s[0] == '\0' || normalize(joined, path, sizeof path)) {
        lerr(x, f->src, key->line, "include: expected a path of 1 to %d bytes, found %s", CFG_PATH_MAX - 1,
             shown(v->text, got, sizeof got));
        return;
    }
    load_file(x, path, f, key->line);
}

static void f_on_error(void *u, int line, const char *msg) {
    File *f = u;
    lerr(f->x, f->src, line, "%s", msg);
}

static void f_on_table(void *u, const TomlKey *t) {
    File *f = u;
    char name[512], hint[1200];
    f->seen = 1;
    if (!strcmp(t->parts[0], "sweep") && (t->nparts == 1 || (t->nparts == 2 && table_known(t->parts[1])))) {
        f->table = T_SWEEP;
        return;
    }
    if (t->nparts == 1 && table_known(t->parts[0])) {
        f->table = T_KNOWN;
        return;
    }
    f->table = T_UNKNOWN;  // its keys are skipped: one error for the header is enough
    join_parts(t, 0, name, sizeof name);
    int k = config_find(name);
    if (k >= 0)
        snprintf(hint, sizeof hint, " (%s is a key: write %s = ... under [%.*s])", name, last_part(name),
                 (int)table_len(name), name);
    else
        suggest_table(name, hint, sizeof hint);
    lerr(f->x, f->src, t->line, "unknown table [%s]%s", t->name, hint);
}

static void f_on_value(void *u, const TomlKey *key, const TomlValue *v) {
    File *f = u;
    char name[512];
    if (key->ntable == 0 && key->nparts == 1 && !strcmp(key->parts[0], "include")) {
        include_entry(f, key, v);
        f->seen = 1;
        return;
    }
    f->seen = 1;
    if (key->ntable > 0 && f->table == T_UNKNOWN) return;
    if (!strcmp(key->parts[0], "sweep")) {
        if (key->nparts == 1) {
            lerr(f->x, f->src, key->line, "sweep: expected a [sweep] table of key = [values], found a value");
            return;
        }
        join_parts(key, 1, name, sizeof name);
        sweep_entry(f, name, key, v);
        return;
    }
    if (!strcmp(key->parts[key->nparts - 1], "include")) {
        lerr(f->x, f->src, key->line, "include: must come first, before any table or key");
        return;
    }
    join_parts(key, 0, name, sizeof name);
    int k = key->nparts == 2 ? config_find(name) : -1;
    if (k >= 0) {
        apply(f, k, key->line, v);
        return;
    }
    if (config_find(name) >= 0)  // "model.top_k" = 1: a quoted name with dots is one TOML key
        lerr(f->x, f->src, key->line, "unknown key '%s' (a quoted name is one key; write %s without quotes)",
             key->name, name);
    else
        unknown_key(f, key->line, key->name, name, "");
}

static void file_init(File *f, Ctx *x, int src, const File *parent) {
    memset(f, 0, sizeof *f);
    f->x = x;
    f->src = src;
    f->parent = parent;
    f->depth = parent ? parent->depth + 1 : 0;
}

static int add_source(Ctx *x, const char *path) {
    Experiment *ex = x->ex;
    if (ex->nfiles == CFG_INCLUDE_DEPTH) return -1;
    snprintf(ex->files[ex->nfiles], CFG_PATH_MAX, "%s", path);
    return ex->nfiles++;
}

// Reads and applies one file; `parent` and `line` locate its include (NULL for the experiment).
static void load_file(Ctx *x, const char *path, const File *parent, int line) {
    char why[256];
    size_t len;
    char *buf = toml_read_file(path, &len, why, sizeof why);
    if (!buf) {
        if (parent) lerr(x, parent->src, line, "include: cannot read '%s': %s", path, why);
        else { err_add(x->e, "%s: cannot read: %s", path, why); x->nerr++; }
        return;
    }
    struct stat st;
    const int has_id = stat(path, &st) == 0;
    for (const File *p = parent; p; p = p->parent) {
        if (!has_id || !p->has_id || st.st_dev != p->dev || st.st_ino != p->ino) continue;
        // The chain from the experiment down to this include, closing the loop.
        const File *chain[CFG_INCLUDE_DEPTH];
        int n = 0;
        for (const File *q = parent; q && n < CFG_INCLUDE_DEPTH; q = q->parent) chain[n++] = q;
        char msg[CFG_ERROR_LEN];
        size_t o = 0;
        for (int i = n - 1; i >= 0 && o < sizeof msg; i--)
            o += (size_t)snprintf(msg + o, sizeof msg - o, "%s -> ", x->ex->files[chain[i]->src]);
        if (o < sizeof msg) snprintf(msg + o, sizeof msg - o, "%s", path);
        lerr(x, parent->src, line, "include: cycle %s", msg);
        free(buf);
        return;
    }
    int src = add_source(x, path);
    if (src < 0) {
        lerr(x, parent ? parent->src : 0, line, "include: more than %d files", CFG_INCLUDE_DEPTH);
        free(buf);
        return;
    }
    File f;
    file_init(&f, x, src, parent);
    f.has_id = has_id;
    if (has_id) { f.dev = st.st_dev; f.ino = st.st_ino; }
    TomlHandler h = {f_on_table, f_on_value, f_on_error, &f};
    toml_parse_buffer(buf, len, &h);
    free(buf);
}

// --set key=value: the value parsed like a file's; for choice and string keys an unquoted word is
// taken as the string itself (--set balance.scope=global), a convenience for the shell.
typedef struct {
    File *f;
    int k;
} SetArg;

static void s_on_value(void *u, const TomlKey *key, const TomlValue *v) {
    SetArg *s = u;
    apply(s->f, s->k, key->line, v);
}

static void s_on_error(void *u, int line, const char *msg) {
    SetArg *s = u;
    (void)line;
    lerr(s->f->x, CFG_SRC_SET, 0, "%s", msg);
}

static void apply_set(Ctx *x, const char *arg) {
    char key[256];
    const char *eq = strchr(arg, '=');
    File f;
    file_init(&f, x, CFG_SRC_SET, NULL);
    if (!eq) {
        lerr(x, CFG_SRC_SET, 0, "expected key=value, found '%.200s'", arg);
        return;
    }
    const char *a = arg, *b = eq;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    snprintf(key, sizeof key, "%.*s", (int)(b - a), a);
    const char *val = eq + 1;
    while (*val == ' ' || *val == '\t') val++;
    int k = config_find(key);
    if (k < 0) {
        int s = suggest_key(key);
        if (s >= 0) lerr(x, CFG_SRC_SET, 0, "unknown key '%s' (did you mean '%s'?)", key, cfg_keys[s].key);
        else lerr(x, CFG_SRC_SET, 0, "unknown key '%s' (moesim help lists every key)", key);
        return;
    }
    const CfgType t = cfg_keys[k].type;
    if ((t == CFG_CHOICE || t == CFG_STR) && *val != '"' && *val != '\'') {
        TomlValue v;
        memset(&v, 0, sizeof v);
        v.type = v.scalar.type = TOML_STRING;
        v.line = v.scalar.line = 0;
        v.text = v.scalar.text = v.scalar.s = val;
        v.scalar.len = strlen(val);
        apply(&f, k, 0, &v);
        return;
    }
    SetArg s = {&f, k};
    TomlHandler h = {NULL, s_on_value, s_on_error, &s};
    toml_parse_value(val, key, &h);
}

// ---- sweep points -----------------------------------------------------------------------------

static void point_indices(const Experiment *ex, long i, int *idx) {
    for (int a = ex->naxes - 1; a >= 0; a--) {
        idx[a] = (int)(i % ex->axes[a].n);
        i /= ex->axes[a].n;
    }
}

void experiment_point(const Experiment *ex, long i, Config *out) {
    int idx[CFG_SWEEP_KEYS_MAX];
    *out = ex->base;
    point_indices(ex, i, idx);
    for (int a = 0; a < ex->naxes; a++) store_number(out, ex->axes[a].key, ex->axes[a].v[idx[a]]);
}

CfgOrigin experiment_origin(const Experiment *ex, long i, int key) {
    int idx[CFG_SWEEP_KEYS_MAX];
    int a = axis_of(ex, key);
    if (a < 0) return ex->origin[key];
    point_indices(ex, i, idx);
    return ex->axes[a].at[idx[a]];
}

// One swept value as it appears in run ids: 1e-4 rather than 1e-04, no '+'.
static void id_value(const SweepAxis *ax, int j, char *buf, size_t cap) {
    const double v = ax->v[j];
    switch (cfg_keys[ax->key].type) {
    case CFG_INT: snprintf(buf, cap, "%d", (int)v); break;
    case CFG_BOOL: snprintf(buf, cap, "%s", v != 0.0 ? "true" : "false"); break;
    case CFG_CHOICE:
        if (!config_choice_name(ax->key, (int)v, buf, cap)) snprintf(buf, cap, "?");
        break;
    default: fmt_real_short(v, buf, cap);
    }
}

void experiment_run_id(const Experiment *ex, long i, char *buf, size_t cap) {
    int idx[CFG_SWEEP_KEYS_MAX];
    size_t o = 0;
    if (cap == 0) return;
    if (ex->naxes == 0) { snprintf(buf, cap, "run"); return; }
    point_indices(ex, i, idx);
    buf[0] = '\0';
    for (int a = 0; a < ex->naxes && o < cap; a++) {
        char v[64];
        id_value(&ex->axes[a], idx[a], v, sizeof v);
        o += (size_t)snprintf(buf + o, cap - o, "%s%s=%s", a ? "-" : "", ex->axes[a].label, v);
    }
    // Filesystem-safe whatever a value holds.
    for (char *p = buf; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '='))
            *p = '_';
}

// Labels, point count and run-id length, once every axis is final.
static void finish_axes(Ctx *x) {
    Experiment *ex = x->ex;
    for (int a = 0; a < ex->naxes; a++) {
        const char *key = cfg_keys[ex->axes[a].key].key;
        int clash = 0;
        for (int b = 0; b < ex->naxes; b++)
            clash |= b != a && !strcmp(last_part(key), last_part(cfg_keys[ex->axes[b].key].key));
        snprintf(ex->axes[a].label, sizeof ex->axes[a].label, "%s", clash ? key : last_part(key));
    }
    ex->npoints = 1;
    size_t idlen = 0;
    for (int a = 0; a < ex->naxes; a++) {
        const SweepAxis *ax = &ex->axes[a];
        if (ex->npoints > CFG_POINTS_MAX / ax->n) {
            lerr(x, ax->at[0].src, ax->at[0].line, "[sweep]: more than %d points", CFG_POINTS_MAX);
            ex->npoints = 0;
            return;
        }
        ex->npoints *= ax->n;
        size_t longest = 0;
        for (int j = 0; j < ax->n; j++) {
            char v[64];
            id_value(ax, j, v, sizeof v);
            if (strlen(v) > longest) longest = strlen(v);
        }
        idlen += (a ? 1 : 0) + strlen(ax->label) + 1 + longest;
    }
    if (idlen > CFG_RUN_ID_MAX) {
        lerr(x, ex->axes[0].at[0].src, ex->axes[0].at[0].line,
             "[sweep]: run ids would be up to %zu characters, more than %d (sweep fewer keys)", idlen, CFG_RUN_ID_MAX);
        ex->npoints = 0;
    }
}

// Point failures, merged by message: the message shows the values that fail, so points with the
// same message fail for the same reason and are reported once, with how many more there are.
typedef struct {
    char msg[TOML_MSG_MAX];
    char id[CFG_RUN_ID_MAX + 1];
    CfgOrigin at;
    long count;
} PointFail;

typedef struct {
    Ctx *x;
    long i;
    char id[CFG_RUN_ID_MAX + 1];
    int nfails;
    PointFail *fails;  // CFG_ERRORS_MAX, allocated at the first failure
} PointCtx;

// A failed check on one point: located at the latest assignment among its keys. A failure that
// involves no swept key is the same at every point, so it is reported once, without a point id.
static void point_fail(void *u, const int *keys, int nkeys, const char *msg) {
    PointCtx *pc = u;
    Ctx *x = pc->x;
    int swept = 0;
    CfgOrigin at = {CFG_SRC_DEFAULT, 0, -1};
    for (int j = 0; j < nkeys; j++) {
        if (x->bad[keys[j]]) return;  // its own error is already reported
        swept |= axis_of(x->ex, keys[j]) >= 0;
        CfgOrigin o = experiment_origin(x->ex, pc->i, keys[j]);
        if (o.seq > at.seq) at = o;
    }
    if (!swept) {
        if (pc->i == 0) lerr(x, at.src, at.line, "%s", msg);
        return;
    }
    for (int j = 0; j < pc->nfails; j++)
        if (!strcmp(pc->fails[j].msg, msg)) { pc->fails[j].count++; return; }
    if (!pc->fails) pc->fails = malloc(CFG_ERRORS_MAX * sizeof *pc->fails);
    if (!pc->fails || pc->nfails == CFG_ERRORS_MAX) {
        lerr(x, at.src, at.line, "point '%s': %s", pc->id, msg);
        return;
    }
    PointFail *pf = &pc->fails[pc->nfails++];
    snprintf(pf->msg, sizeof pf->msg, "%s", msg);
    memcpy(pf->id, pc->id, sizeof pf->id);
    pf->at = at;
    pf->count = 1;
}

// Cross-field checks on every point, before any work.
static void check_points(Ctx *x) {
    Experiment *ex = x->ex;
    PointCtx pc;
    pc.x = x;
    pc.nfails = 0;
    pc.fails = NULL;
    for (pc.i = 0; pc.i < ex->npoints; pc.i++) {
        Config c;
        experiment_point(ex, pc.i, &c);
        experiment_run_id(ex, pc.i, pc.id, sizeof pc.id);
        run_checks(&c, point_fail, &pc);
    }
    for (int j = 0; j < pc.nfails; j++) {
        const PointFail *pf = &pc.fails[j];
        if (pf->count == 1) lerr(x, pf->at.src, pf->at.line, "point '%s': %s", pf->id, pf->msg);
        else lerr(x, pf->at.src, pf->at.line, "point '%s' and %ld more: %s", pf->id, pf->count - 1, pf->msg);
    }
    free(pc.fails);
}

static int load(Experiment *ex, const char *path, const char *buf, size_t len, const char *const *sets,
                int nsets, CfgErrors *e) {
    Ctx x;
    memset(&x, 0, sizeof x);
    memset(ex, 0, sizeof *ex);
    x.ex = ex;
    x.e = e;
    x.allow_include = buf == NULL;
    snprintf(ex->path, sizeof ex->path, "%s", path);
    if (strlen(path) >= CFG_PATH_MAX) {
        err_add(e, "%.100s...: path longer than %d bytes", path, CFG_PATH_MAX - 1);
        return 1;
    }
    if (config_defaults(&ex->base)) lerr(&x, CFG_SRC_DEFAULT, 0, "a schema default does not parse (sim/config/schema.h)");
    for (int k = 0; k < CFG_NKEYS; k++) ex->origin[k] = (CfgOrigin){CFG_SRC_DEFAULT, 0, 0};
    if (buf) {
        File f;
        file_init(&f, &x, add_source(&x, path), NULL);
        TomlHandler h = {f_on_table, f_on_value, f_on_error, &f};
        toml_parse_buffer(buf, len, &h);
    } else {
        load_file(&x, path, NULL, 0);
    }
    for (int i = 0; i < nsets; i++) apply_set(&x, sets[i]);
    // An empty experiment.name means the file's name without ".toml" (made filesystem-safe).
    if (!ex->base.experiment_name[0]) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        if (n > 5 && !strcmp(base + n - 5, ".toml")) n -= 5;
        if (n >= CFG_STR_MAX) n = CFG_STR_MAX - 1;
        char *nm = ex->base.experiment_name;
        for (size_t i = 0; i < n; i++) {
            char c = base[i];
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || (c == '.' && i > 0);
            nm[i] = ok ? c : '_';
        }
        nm[n] = '\0';
    }
    finish_axes(&x);
    check_points(&x);
    return x.nerr;
}

int experiment_load(Experiment *ex, const char *path, const char *const *sets, int nsets, CfgErrors *e) {
    return load(ex, path, NULL, 0, sets, nsets, e);
}

int experiment_load_buffer(Experiment *ex, const char *name, const char *buf, size_t len,
                           const char *const *sets, int nsets, CfgErrors *e) {
    return load(ex, name ? name : "(memory)", buf ? buf : "", buf ? len : 0, sets, nsets, e);
}

// ---- shards -----------------------------------------------------------------------------------

int experiment_shard_parse(const char *s, int *index, int *count, char *err, size_t errlen) {
    long v[2] = {0, 0};
    const char *p = s;
    int ok = 1;
    for (int part = 0; part < 2 && ok; part++) {
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 8; p++, digits++) v[part] = v[part] * 10 + (*p - '0');
        ok = digits > 0 && (part == 0 ? *p++ == '/' : *p == '\0');
    }
    if (!ok || v[0] < 1 || v[0] > v[1] || v[1] > 1000000) {
        snprintf(err, errlen, "--shard: expected I/N with 1 <= I <= N <= 1000000 (e.g. 2/4), found '%.40s'", s);
        return -1;
    }
    *index = (int)v[0];
    *count = (int)v[1];
    return 0;
}

int experiment_in_shard(long i, int index, int count) {
    return count > 0 && i % count == index - 1;
}

// ---- dumps and help ---------------------------------------------------------------------------

void config_write_toml(FILE *f, const Config *c) {
    char v[CFG_STR_MAX * 6 + 16];
    for (int t = 0; t < CFG_NKEYS; t++) {
        if (!first_of_table(t)) continue;
        fprintf(f, "%s[%.*s]\n", t ? "\n" : "", (int)table_len(cfg_keys[t].key), cfg_keys[t].key);
        for (int k = t; k < CFG_NKEYS; k++) {
            if (!same_table(t, k)) continue;
            config_format_value(c, k, 1, v, sizeof v);
            fprintf(f, "%s = %s\n", last_part(cfg_keys[k].key), v);
        }
    }
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void config_write_json(FILE *f, const Config *c, int indent) {
    char v[CFG_STR_MAX * 6 + 16];
    int first_table = 1;
    fputc('{', f);
    for (int t = 0; t < CFG_NKEYS; t++) {
        if (!first_of_table(t)) continue;
        fprintf(f, "%s\n%*s\"%.*s\": {", first_table ? "" : ",", indent + 2, "", (int)table_len(cfg_keys[t].key),
                cfg_keys[t].key);
        first_table = 0;
        int first = 1;
        for (int k = t; k < CFG_NKEYS; k++) {
            if (!same_table(t, k)) continue;
            fprintf(f, "%s\n%*s\"%s\": ", first ? "" : ",", indent + 4, "", last_part(cfg_keys[k].key));
            first = 0;
            const CfgType ty = cfg_keys[k].type;
            if (ty == CFG_STR || ty == CFG_CHOICE) {
                config_format_value(c, k, 0, v, sizeof v);
                json_string(f, v);
            } else {
                config_format_value(c, k, 1, v, sizeof v);  // TOML numbers, booleans, arrays are JSON
                fputs(v, f);
            }
        }
        fprintf(f, "\n%*s}", indent + 2, "");
    }
    fprintf(f, "\n%*s}", indent, "");
}

static const char *type_name(CfgType t) {
    static const char *const names[] = {"integer", "real", "boolean", "choice", "string", "reals"};
    return names[t];
}

// "[1, 64]", "softmax, sigmoid", ... the allowed values of a key, for help and the docs.
static void allowed(int k, char *buf, size_t cap, const char *quote) {
    const CfgKey *K = &cfg_keys[k];
    char lo[40], hi[40];
    fmt_bound(k, K->lo, lo, sizeof lo);
    fmt_bound(k, K->hi, hi, sizeof hi);
    buf[0] = '\0';
    if (K->type == CFG_INT || K->type == CFG_REAL) snprintf(buf, cap, "%s to %s", lo, hi);
    else if (K->type == CFG_REALS) snprintf(buf, cap, "up to %d numbers, each %s to %s", CFG_REALS_MAX, lo, hi);
    else if (K->type == CFG_BOOL) snprintf(buf, cap, "%strue%s, %sfalse%s", quote, quote, quote, quote);
    else if (K->type == CFG_CHOICE) {
        size_t o = 0;
        char name[64];
        for (int i = 0; config_choice_name(k, i, name, sizeof name) && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s%s%s", i ? ", " : "", quote, name, quote);
    }
}

void config_print_help(FILE *f) {
    char al[256];
    fprintf(f, "Experiment-file keys (docs/EXPERIMENTS.md describes the format). Write each one as\n"
               "`name = value` under its [table], or as `table.name = value` at the top.\n");
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (first_of_table(k))
            fprintf(f, "\n[%.*s]\n", (int)table_len(cfg_keys[k].key), cfg_keys[k].key);
        allowed(k, al, sizeof al, "");
        char line[512];
        int n = snprintf(line, sizeof line, "  %-22s %-8s default %-12s %s", cfg_keys[k].key,
                         type_name(cfg_keys[k].type), cfg_keys[k].def, al);
        while (n > 0 && line[n - 1] == ' ') line[--n] = '\0';
        fprintf(f, "%s\n      %s\n", line, cfg_keys[k].help);
    }
}

// Markdown table cell text: '|' would end the cell.
static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else fputc(*s, f);
    }
}

void config_write_markdown(FILE *f) {
    char al[512];
    fprintf(f, "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for (int k = 0; k < CFG_NKEYS; k++) {
        allowed(k, al, sizeof al, "`");
        fprintf(f, "| `%s` | %s | `", cfg_keys[k].key, type_name(cfg_keys[k].type));
        md_cell(f, cfg_keys[k].def);
        fputs("` | ", f);
        md_cell(f, al);
        fputs(" | ", f);
        md_cell(f, cfg_keys[k].help);
        fputs(" |\n", f);
    }
}
