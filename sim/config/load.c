// load.c — loading an experiment: the strict streaming read of a file and its include chain,
// [sweep] tables, --set overrides, "did you mean" suggestions, then the sweep points' checks
// (points.c). Every error is collected with its file:line; nothing is applied from a bad line.
#include "config.h"
#include "config_internal.h"
#include "toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

// ---- loading ----------------------------------------------------------------------------------


void lerr(Ctx *x, int src, int line, const char *fmt, ...) {
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

int axis_of(const Experiment *ex, int k) {
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
    if (t == CFG_STR || t == CFG_REALS || t == CFG_STRS) {
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
