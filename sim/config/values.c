// values.c — the schema as a table (cfg_keys), typed values (formatting, parsing one value with its
// type and range, defaults, equality), and what is generated from the table: the resolved-config
// dump (TOML; the JSON one is json_config in evaluate/writers.c), `moesim help` and the docs' key
// table. See config.h for the contract.
#include "config.h"
#include "config_internal.h"
#include "toml.h"

#include <stdarg.h>
#include <stdio.h>
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
const char *last_part(const char *key) {
    const char *d = strrchr(key, '.');
    return d ? d + 1 : key;
}

// Length of the table part of a schema key ("model" of "model.top_k").
size_t table_len(const char *key) {
    const char *d = strchr(key, '.');
    return d ? (size_t)(d - key) : 0;
}

// 1 if key k starts a new table in schema order (its table differs from every earlier key's).
int first_of_table(int k) {
    size_t n = table_len(cfg_keys[k].key);
    for (int j = 0; j < k; j++)
        if (table_len(cfg_keys[j].key) == n && !strncmp(cfg_keys[j].key, cfg_keys[k].key, n)) return 0;
    return 1;
}

int same_table(int a, int b) {
    size_t n = table_len(cfg_keys[a].key);
    return table_len(cfg_keys[b].key) == n && !strncmp(cfg_keys[a].key, cfg_keys[b].key, n);
}

// 1 if `name` is a schema table ("model").
int table_known(const char *name) {
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
void fmt_real_short(double v, char *buf, size_t cap) {
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
    case CFG_STRS: {
        // toml: ["a", "b"]; plain: the strings separated by spaces (for labels and CSV cells)
        const cfg_STRS *a = CFIELD(c, k, cfg_STRS);
        size_t o = 0;
#define AT (o < cap ? buf + o : buf + (cap ? cap - 1 : 0)), (o < cap ? cap - o : (cap ? 1 : 0))
        o += (size_t)snprintf(AT, "%s", toml ? "[" : "");
        for (int i = 0; i < a->n; i++) {
            o += (size_t)snprintf(AT, "%s", i ? (toml ? ", " : " ") : "");
            if (toml) o += toml_quote(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, a->s[i]);
            else o += (size_t)snprintf(AT, "%s", a->s[i]);
        }
        if (toml) o += (size_t)snprintf(AT, "]");
#undef AT
        if (cap > 0 && o >= cap) buf[cap - 1] = '\0';
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
    case CFG_STRS:
        snprintf(buf, cap, "an array of at most %d strings of at most %d bytes each", CFG_STRS_MAX, CFG_STR_MAX - 1);
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
const char *shown(const char *text, char *buf, size_t cap) {
    size_t n = strlen(text);
    if (n <= 60) snprintf(buf, cap, "%s", text);
    else snprintf(buf, cap, "%.57s...", text);
    return buf;
}

void store_number(Config *c, int k, double v) {
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
int scalar_number(int k, const TomlScalar *s, const char *kname, double *out, char *err, size_t cap) {
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
int set_value(Config *c, int k, const TomlValue *v, const char *kname, char *err, size_t cap) {
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
    if (K->type == CFG_STRS) {
        if (v->type != TOML_ARRAY || v->n > CFG_STRS_MAX) {
            snprintf(err, cap, "%s: expected %s, found %s", kname, expected_words(k, exp, sizeof exp),
                     v->type == TOML_ARRAY ? "more elements" : shown(v->text, got, sizeof got));
            return -1;
        }
        cfg_STRS *a = FIELD(c, k, cfg_STRS);
        for (int i = 0; i < v->n; i++) {
            const TomlScalar *s = &v->items[i];
            if (s->type != TOML_STRING || s->len >= CFG_STR_MAX) {
                snprintf(err, cap, "%s: expected %s, found %s (element %d)", kname,
                         expected_words(k, exp, sizeof exp), shown(s->text, got, sizeof got), i + 1);
                return -1;
            }
        }
        memset(a, 0, sizeof *a);
        for (int i = 0; i < v->n; i++) memcpy(a->s[a->n++], v->items[i].s, v->items[i].len + 1);
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
        case CFG_STRS: {
            const cfg_STRS *x = CFIELD(a, k, cfg_STRS), *y = CFIELD(b, k, cfg_STRS);
            if (x->n != y->n) return 0;
            for (int i = 0; i < x->n; i++)
                if (strcmp(x->s[i], y->s[i])) return 0;
            break;
        }
        }
    }
    return 1;
}

// ---- dumps and help ---------------------------------------------------------------------------

void config_write_toml(FILE *f, const Config *c) {
    char v[CFG_VALUE_MAX];
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

static const char *type_name(CfgType t) {
    static const char *const names[] = {"integer", "real", "boolean", "choice", "string", "reals", "strings"};
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
    else if (K->type == CFG_STRS) snprintf(buf, cap, "up to %d strings", CFG_STRS_MAX);
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
