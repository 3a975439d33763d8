// params.c — building and querying the parameter table.
#include <stdio.h>
#include <string.h>
#include "params.h"

int param_add(ParamTable *t, const char *name, ParamKind kind, int count, int rows, int cols) {
    if (t->n >= PARAM_MAX) return -1;
    ParamInfo *p = &t->info[t->n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->offset = t->total;
    p->count = count;
    p->rows = rows;
    p->cols = cols;
    p->decay = kind != PARAM_GAIN;
    p->group = OPT_GROUP_NONE;
    t->total += param_numel(p);
    return t->n++;
}

size_t param_numel(const ParamInfo *p) { return (size_t)p->count * (size_t)p->rows * (size_t)p->cols; }

const ParamInfo *param_find(const ParamTable *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->info[i].name, name) == 0) return &t->info[i];
    return NULL;
}

const char *param_kind_name(ParamKind k) {
    static const char *names[PARAM_KIND_COUNT] = {"embed", "pos", "gain", "attn", "router", "expert", "head"};
    return (k >= 0 && k < PARAM_KIND_COUNT) ? names[k] : "?";
}
