// options.c — the option parser of options.h: one walk over argv, one wording for every error.
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int opt_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "moesim: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static const Option *find_long(const Option *opts, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (opts[i].name && strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

static const Option *find_short(const Option *opts, int n, char c) {
    for (int i = 0; i < n; i++)
        if (opts[i].short_name && opts[i].short_name == c) return &opts[i];
    return NULL;
}

static const Option *find_args(const Option *opts, int n) {
    for (int i = 0; i < n; i++)
        if (opts[i].kind == OPT_ARGS) return &opts[i];
    return NULL;
}

// How many values an OPT_LIST / OPT_ARGS holds: its count, or (no count, cap 1) whether the slot
// is set (the caller starts it at NULL).
static int used(const Option *o) {
    return o->count ? *o->count : ((const char **)o->dst)[0] != NULL;
}

static void push(const Option *o, const char *v) {
    ((const char **)o->dst)[used(o)] = v;
    if (o->count) (*o->count)++;
}

// A value as it appears in messages: as given, or quoted when empty or when it holds a space.
static const char *shown(const char *v, char *buf, size_t cap) {
    if (*v && !strchr(v, ' ')) return v;
    snprintf(buf, cap, "'%s'", v);
    return buf;
}

// "(0, 1]", ">= 0", "1..1000000": the range of an OPT_INT / OPT_DOUBLE in words.
static void range_words(const Option *o, char *buf, size_t cap) {
    int open = (o->flags & OPT_LO_OPEN) != 0;
    if (o->kind == OPT_INT) {
        if (o->hi >= 2147483647.0) snprintf(buf, cap, "an integer >= %.0f", o->lo);
        else snprintf(buf, cap, "an integer in %.0f..%.0f", o->lo, o->hi);
    } else if (isinf(o->hi)) snprintf(buf, cap, "a number %s %g", open ? ">" : ">=", o->lo);
    else snprintf(buf, cap, "a number in %s%g, %g]", open ? "(" : "[", o->lo, o->hi);
}

// A number is read whole: no leading space (strtol would skip it), no trailing junk.
static int starts_number(const char *v) {
    const char *p = v + (*v == '-' || *v == '+');
    return (*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9');
}

// Stores value v of option o (named as `name` in messages); a message into err on a bad value.
static void set_value(const Option *o, const char *name, const char *v, char *err, size_t errlen) {
    char q[CLI_PATH_MAX + 8], words[120];
    char *end = NULL;
    switch (o->kind) {
    case OPT_PATH:
    case OPT_LIST:
    case OPT_ARGS:
        if (o->kind != OPT_PATH && used(o) >= (int)o->hi) {
            if (o->kind == OPT_ARGS && o->hi == 1) snprintf(err, errlen, "unexpected argument %s (one %s only)", shown(v, q, sizeof q), o->meta);
            else snprintf(err, errlen, "too many %s (at most %.0f)", o->kind == OPT_LIST ? o->name : o->meta, o->hi);
            return;
        }
        if (o->kind != OPT_LIST) {  // paths: never empty, never truncated later
            if (*v == '\0') { snprintf(err, errlen, "%s '': expected a path", name); return; }
            if (strlen(v) >= CLI_PATH_MAX) {
                snprintf(err, errlen, "%s %.60s...: path longer than %d bytes", name, v, CLI_PATH_MAX - 1);
                return;
            }
        }
        if (o->kind == OPT_PATH) *(const char **)o->dst = v;
        else push(o, v);
        return;
    case OPT_INT: {
        errno = 0;
        long x = starts_number(v) ? strtol(v, &end, 10) : 0;
        if (!end || *end || errno || x < o->lo || x > o->hi) {
            range_words(o, words, sizeof words);
            snprintf(err, errlen, "%s %s: expected %s", name, shown(v, q, sizeof q), words);
            return;
        }
        *(int *)o->dst = (int)x;
        return;
    }
    case OPT_U64: {
        errno = 0;
        unsigned long long x = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
        if (!end || *end || errno) { snprintf(err, errlen, "%s %s: expected an integer >= 0", name, shown(v, q, sizeof q)); return; }
        *(unsigned long long *)o->dst = x;
        return;
    }
    case OPT_DOUBLE: {
        double x = starts_number(v) ? strtod(v, &end) : 0;
        int open = (o->flags & OPT_LO_OPEN) != 0;
        if (!end || *end || !isfinite(x) || x < o->lo || (open && x == o->lo) || x > o->hi) {
            range_words(o, words, sizeof words);
            snprintf(err, errlen, "%s %s: expected %s", name, shown(v, q, sizeof q), words);
            return;
        }
        *(double *)o->dst = x;
        return;
    }
    case OPT_CHOICE: {
        // "a|b|c": the index of v among them, else "expected a, b or c"
        int k = 0, n = 1;
        for (const char *p = o->choices;; k++) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (strlen(v) == len && strncmp(p, v, len) == 0) { *(int *)o->dst = k; return; }
            if (!bar) break;
            p = bar + 1;
            n++;
        }
        size_t w = 0;
        words[0] = '\0';
        const char *p = o->choices;
        for (int i = 0; i < n && w < sizeof words; i++) {
            const char *bar = strchr(p, '|');
            int len = bar ? (int)(bar - p) : (int)strlen(p);
            w += (size_t)snprintf(words + w, sizeof words - w, "%s%.*s", i == 0 ? "" : i == n - 1 ? " or " : ", ", len, p);
            if (bar) p = bar + 1;
        }
        snprintf(err, errlen, "%s %s: expected %s", name, shown(v, q, sizeof q), words);
        return;
    }
    case OPT_CUSTOM: {
        if (o->parse(v, o->dst, err, errlen) != 0 && !err[0]) snprintf(err, errlen, "%s %s: invalid", name, shown(v, q, sizeof q));
        return;
    }
    case OPT_FLAG:
        *(int *)o->dst = 1;
        return;
    }
}

int opt_parse(const char *cmd, const char *usage, const Option *opts, int nopts, int argc, char **argv) {
    char err[2 * CLI_PATH_MAX + 400] = "";
    int only_args = 0;  // after "--"
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            fputs(usage, stdout);
            return 0;
        }
        if (err[0]) continue;  // after the first error, only -h/--help still counts
        if (!only_args && strcmp(a, "--") == 0) { only_args = 1; continue; }
        if (only_args || a[0] != '-' || a[1] == '\0') {
            const Option *p = find_args(opts, nopts);
            char q[CLI_PATH_MAX + 8];
            if (!p) snprintf(err, sizeof err, "unexpected argument %s (see moesim %s --help)", shown(a, q, sizeof q), cmd);
            else set_value(p, p->meta, a, err, sizeof err);
            continue;
        }
        const Option *o;
        const char *v = NULL;
        char name[64];
        if (a[1] == '-') {  // --name or --name=value
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            o = find_long(opts, nopts, a, len);
            if (o && eq) v = eq + 1;
        } else {  // -j N or -jN
            o = find_short(opts, nopts, a[1]);
            if (o && a[2]) v = a + 2;
        }
        if (!o) { snprintf(err, sizeof err, "unknown option '%s' (see moesim %s --help)", a, cmd); continue; }
        if (a[1] == '-') snprintf(name, sizeof name, "%s", o->name);
        else snprintf(name, sizeof name, "-%c", o->short_name);
        if (o->kind == OPT_FLAG) {
            if (v) snprintf(err, sizeof err, "%s takes no value", name);
            else *(int *)o->dst = 1;
            continue;
        }
        if (!v) {  // the value is the next argument, unless there is none or it is an option
            if (i + 1 >= argc) {
                snprintf(err, sizeof err, "%s needs a value", name);
                continue;
            }
            if (strncmp(argv[i + 1], "--", 2) == 0) {  // `--out --quiet`: a forgotten value, not a folder
                if (a[1] == '-')
                    snprintf(err, sizeof err, "%s needs a value, found the option %.60s (a value that starts with \"--\" is given as %s=VALUE)",
                             name, argv[i + 1], name);
                else snprintf(err, sizeof err, "%s needs a value, found the option %.60s", name, argv[i + 1]);
                continue;
            }
            v = argv[++i];
        }
        set_value(o, name, v, err, sizeof err);
    }
    if (err[0]) return opt_fail(cmd, "%s", err);
    for (int i = 0; i < nopts; i++) {
        const Option *o = &opts[i];
        if (!(o->flags & OPT_REQUIRED)) continue;
        int missing = o->kind == OPT_PATH ? *(const char **)o->dst == NULL : used(o) == 0;
        if (!missing) continue;
        if (o->kind == OPT_ARGS) return opt_fail(cmd, "needs %s (see moesim %s --help)", o->meta, cmd);
        return opt_fail(cmd, "needs %s %s (see moesim %s --help)", o->name, o->meta, cmd);
    }
    return OPT_CONTINUE;
}
