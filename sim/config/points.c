// points.c — sweep expansion: the grid's points, their run ids (filesystem-safe), the origin of
// each value, the per-point checks with merged messages, and shards of the grid.
#include "config.h"
#include "config_internal.h"
#include "toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
void finish_axes(Ctx *x) {
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
void check_points(Ctx *x) {
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
