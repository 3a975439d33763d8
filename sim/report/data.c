// data.c — what the report reads: summary.csv into runs and variants (a variant is a run's swept
// values other than the seeds), each run's CSVs, and the statistics over a variant's seeds (means,
// curves, heatmaps) that the figures and tables show.
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  // open_memstream
#endif
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

// The measurements each figure and table shows (summary.csv / eval.csv column names). A name that
// is NaN in every run is left out where it would be shown.
const char *const KEY_MEAS[] = {"eval_ce", "freqsim_cross_domain", "nmi_domain_expert",
                                       "maxvio", "router_confidence", "suppression_rho",
                                       "energy_first", "retained_energy_first", "topk_score_sum"};
const char *const TRAIN_MEAS[] = {"eval_ce", "suppression_rho", "freqsim_cross_domain",
                                         "nmi_domain_expert", "maxvio", "router_confidence"};
const char *const LAYER_MEAS[] = {"energy_first", "cosine_hidden", "router_confidence",
                                         "freqsim_cross_domain", "suppression_rho", "nmi_domain_expert"};
const char *const TABLE_MEAS[] = {"ce", "eval_ce", "freqsim_cross_domain", "nmi_domain_expert",
                                         "maxvio", "router_confidence", "suppression_rho"};

int report_fail(Report *R, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->err, R->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

// Zeroed memory owned by the report (freed by report_free). NULL when out of memory.
void *ralloc(Report *R, size_t bytes) {
    if (R->nmem == R->capmem) {
        size_t nc = R->capmem ? R->capmem * 2 : 64;
        void **p = realloc(R->mem, nc * sizeof *p);
        if (!p) return NULL;
        R->mem = p;
        R->capmem = nc;
    }
    void *q = calloc(bytes ? bytes : 1, 1);
    if (q) R->mem[R->nmem++] = q;
    return q;
}

char *rstrdup(Report *R, const char *s) {
    char *d = ralloc(R, strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

void report_free(Report *R) {
    csv_free(&R->sum);
    for (int i = 0; R->runs && i < R->nruns; i++) {
        csv_free(&R->runs[i].metrics);
        csv_free(&R->runs[i].eval);
        csv_free(&R->runs[i].experts);
    }
    for (int i = 0; i < R->nplots; i++) free(R->plots[i].svg);
    for (size_t i = 0; i < R->nmem; i++) free(R->mem[i]);
    free(R->mem);
    free(R->ex);
}

int report_mean_sd(const double *x, int n, double *mean, double *sd) {
    int m = 0;
    double s = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) { s += x[i]; m++; }
    if (m == 0) { *mean = NAN; *sd = NAN; return 0; }
    double mu = s / m, ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - mu) * (x[i] - mu);
    *mean = mu;
    *sd = m > 1 ? sqrt(ss / (m - 1)) : NAN;
    return m;
}

// ---- reading ------------------------------------------------------------------------------------

static int is_seed_key(const char *k) { return !strcmp(k, "train.seed") || !strcmp(k, "data.seed"); }

static const char *last_part(const char *k) {
    const char *d = strrchr(k, '.');
    return d ? d + 1 : k;
}

// summary.csv: runs, swept keys and variants. Everything else needs only this.
int load_summary(Report *R) {
    char p[IO_CHILD_PATH_MAX];
    if (!path_join(p, sizeof p, R->dir, "summary.csv")) return report_fail(R, "%s: %s", p, strerror(ENAMETOOLONG));
    if (csv_read(&R->sum, p, R->err, R->errlen) != 0) return -1;
    const Csv *S = &R->sum;
    if (strcmp(S->names[0], "run") != 0) return report_fail(R, "%s: the first column must be 'run', found '%s'", p, S->names[0]);
    R->c_status = csv_col(S, "status");
    R->c_steps = csv_col(S, "steps_done");
    if (R->c_status < 0) return report_fail(R, "%s: no 'status' column", p);
    if (S->nrows == 0) return report_fail(R, "%s: no runs (the header only)", p);
    // The swept keys are the columns between run and status.
    R->nkeys = R->c_status - 1;
    if (R->nkeys > MAX_KEYS) return report_fail(R, "%s: %d swept keys, at most %d supported", p, R->nkeys, MAX_KEYS);
    for (int k = 0; k < R->nkeys; k++) {
        Key *K = &R->keys[k];
        K->col = k + 1;
        K->key = S->names[k + 1];
        K->seed = is_seed_key(K->key);
        snprintf(K->label, sizeof K->label, "%s", last_part(K->key));
        K->vals = ralloc(R, S->nrows * sizeof *K->vals);
        if (!K->vals) return report_fail(R, "out of memory");
    }
    for (int a = 0; a < R->nkeys; a++)
        for (int b = 0; b < R->nkeys; b++)
            if (a != b && !strcmp(last_part(R->keys[a].key), last_part(R->keys[b].key)))
                snprintf(R->keys[a].label, sizeof R->keys[a].label, "%s", R->keys[a].key);
    // Layers: the largest i of the l<i>. columns.
    for (int c = 0; c < S->ncols; c++) {
        int l, n = 0;
        if (sscanf(S->names[c], "l%d.%n", &l, &n) == 1 && n > 0 && l >= 0 && l < 4096 && l + 1 > R->nlayers)
            R->nlayers = l + 1;
    }
    R->nruns = (int)S->nrows;
    R->runs = ralloc(R, (size_t)R->nruns * sizeof *R->runs);
    R->vars = ralloc(R, (size_t)R->nruns * sizeof *R->vars);
    if (!R->runs || !R->vars) return report_fail(R, "out of memory");
    for (int r = 0; r < R->nruns; r++) {
        ReportRun *U = &R->runs[r];
        U->id = csv_cell(S, (size_t)r, 0);
        U->status = csv_cell(S, (size_t)r, R->c_status);
        U->ok = !strcmp(U->status, "ok");
        U->last_layer = -1;
        if (!*U->id || strchr(U->id, '/') || !strcmp(U->id, ".") || !strcmp(U->id, ".."))
            return report_fail(R, "%s:%d: '%s' is not a run id", p, r + 2, U->id);
        // The run's value index for every key, and its variant (the non-seed indices).
        int val[MAX_KEYS] = {0};
        for (int k = 0; k < R->nkeys; k++) {
            Key *K = &R->keys[k];
            const char *v = csv_cell(S, (size_t)r, K->col);
            int i = 0;
            while (i < K->nvals && strcmp(K->vals[i], v)) i++;
            if (i == K->nvals) K->vals[K->nvals++] = v;
            val[k] = K->seed ? -1 : i;
        }
        int v = 0;
        while (v < R->nvars && memcmp(R->vars[v].val, val, sizeof(int) * (size_t)R->nkeys)) v++;
        if (v == R->nvars) {
            Variant *V = &R->vars[R->nvars++];
            memcpy(V->val, val, sizeof val);
            svg_color(v, V->color);
            V->runs = ralloc(R, (size_t)R->nruns * sizeof(int));
            V->used = ralloc(R, (size_t)R->nruns * sizeof(int));
            if (!V->runs || !V->used) return report_fail(R, "out of memory");
            size_t o = 0;
            for (int k = 0; k < R->nkeys; k++) {
                if (R->keys[k].seed) continue;
                o += (size_t)snprintf(V->label + o, o < sizeof V->label ? sizeof V->label - o : 0, "%s%s=%s",
                                      o ? ", " : "", R->keys[k].label, R->keys[k].vals[val[k]]);
                if (o >= sizeof V->label) o = sizeof V->label - 1;
            }
        }
        R->vars[v].runs[R->vars[v].nruns++] = r;
        U->variant = v;
    }
    for (int v = 0; v < R->nvars; v++) {
        Variant *V = &R->vars[v];
        if (!V->label[0]) snprintf(V->label, sizeof V->label, "%s", V->nruns > 1 ? "all runs" : R->runs[V->runs[0]].id);
        for (int i = 0; i < V->nruns; i++)
            if (R->runs[V->runs[i]].ok) V->used[V->nused++] = V->runs[i];
        if (V->nused == 0) {
            memcpy(V->used, V->runs, sizeof(int) * (size_t)V->nruns);
            V->nused = V->nruns;
        }
    }
    return 0;
}

// Reads DIR/<run>/<name>; required files of ok runs are errors when missing, others stay empty.
int load_run_file(Report *R, const ReportRun *U, const char *name, Csv *t, int required) {
    char p[IO_DEEP_PATH_MAX], sub[IO_CHILD_PATH_MAX];
    if (!path_join(sub, sizeof sub, R->dir, U->id)) return report_fail(R, "%s: %s", sub, strerror(ENAMETOOLONG));
    if (!path_join(p, sizeof p, sub, name)) return report_fail(R, "%s: %s", p, strerror(ENAMETOOLONG));
    char e[IO_MSG_MAX];
    if (csv_read(t, p, e, sizeof e) == 0) return 0;
    if (required) return report_fail(R, "%s (run '%s' has status ok)", e, U->id);
    return 0;
}

int load_runs(Report *R) {
    for (int r = 0; r < R->nruns; r++) {
        ReportRun *U = &R->runs[r];
        if (load_run_file(R, U, "metrics.csv", &U->metrics, U->ok) ||
            load_run_file(R, U, "eval.csv", &U->eval, U->ok) ||
            load_run_file(R, U, "experts.csv", &U->experts, U->ok))
            return -1;
        int cl = csv_col(&U->eval, "layer");
        for (size_t i = 0; cl >= 0 && i < U->eval.nrows; i++) {
            double l = csv_num(&U->eval, i, cl);
            if (isfinite(l) && l > U->last_layer) U->last_layer = (int)l;
        }
    }
    return 0;
}

// ---- statistics over a variant's seeds ------------------------------------------------------------

// Mean ± sd over the variant's used runs of summary column col.
int var_stat(const Report *R, const Variant *V, int col, double *mean, double *sd) {
    double x[512];
    int n = 0;
    for (int i = 0; i < V->nused && n < 512; i++) x[n++] = csv_num(&R->sum, (size_t)V->used[i], col);
    return report_mean_sd(x, n, mean, sd);
}

// 1 if summary column `name` exists and has a finite value in some run.
int col_has_data(const Report *R, const char *name) {
    int c = csv_col(&R->sum, name);
    for (size_t i = 0; c >= 0 && i < R->sum.nrows; i++)
        if (isfinite(csv_num(&R->sum, i, c))) return 1;
    return 0;
}


static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The table of run U a curve comes from: 0 metrics.csv, 1 eval.csv (rows of its last layer).
static const Csv *curve_table(const ReportRun *U, int which) { return which ? &U->eval : &U->metrics; }

// Mean ± sd over the variant's used runs of column ycol against column "step", at every step any
// run has. Returns 0 (a curve with n = 0 when no run has the column), -1 when out of memory.
int var_curve(Report *R, const Variant *V, int which, const char *ycol, Curve *out) {
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (int i = 0; i < V->nused; i++) total += curve_table(&R->runs[V->used[i]], which)->nrows;
    double *xs = ralloc(R, (total + 1) * sizeof *xs);
    if (!xs) return report_fail(R, "out of memory");
    size_t nx = 0;
    for (int i = 0; i < V->nused; i++) {
        const ReportRun *U = &R->runs[V->used[i]];
        const Csv *t = curve_table(U, which);
        int cs = csv_col(t, "step"), cy = csv_col(t, ycol), cl = csv_col(t, "layer");
        if (cs < 0 || cy < 0) continue;
        for (size_t r = 0; r < t->nrows; r++) {
            if (which && csv_num(t, r, cl) != U->last_layer) continue;
            double s = csv_num(t, r, cs);
            if (isfinite(s)) xs[nx++] = s;
        }
    }
    qsort(xs, nx, sizeof *xs, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < nx; i++)
        if (u == 0 || xs[i] != xs[u - 1]) xs[u++] = xs[i];
    if (u == 0) return 0;
    // vals: u steps x nused runs, NaN where a run has no value.
    int nr = V->nused;
    double *vals = malloc(u * (size_t)nr * sizeof *vals);
    out->y = ralloc(R, u * sizeof(double));
    out->sd = ralloc(R, u * sizeof(double));
    out->count = ralloc(R, u * sizeof(int));
    if (!vals || !out->y || !out->sd || !out->count) { free(vals); return report_fail(R, "out of memory"); }
    for (size_t i = 0; i < u * (size_t)nr; i++) vals[i] = NAN;
    for (int i = 0; i < nr; i++) {
        const ReportRun *U = &R->runs[V->used[i]];
        const Csv *t = curve_table(U, which);
        int cs = csv_col(t, "step"), cy = csv_col(t, ycol), cl = csv_col(t, "layer");
        if (cs < 0 || cy < 0) continue;
        for (size_t r = 0; r < t->nrows; r++) {
            if (which && csv_num(t, r, cl) != U->last_layer) continue;
            double s = csv_num(t, r, cs);
            const double *hit = bsearch(&s, xs, u, sizeof *xs, cmp_double);
            if (hit) vals[(size_t)(hit - xs) * nr + i] = csv_num(t, r, cy);
        }
    }
    for (size_t k = 0; k < u; k++)
        out->count[k] = report_mean_sd(vals + k * nr, nr, &out->y[k], &out->sd[k]);
    free(vals);
    out->n = u;
    out->x = xs;
    return 0;
}

// Domain x expert frequencies of the last step and last layer of a run's experts.csv. Returns the
// matrix (rows x cols, owned by the report; unknown cells NaN), or NULL when there are none.
double *run_heatmap(Report *R, const ReportRun *U, int *rows, int *cols, double *step, int *layer) {
    const Csv *t = &U->experts;
    int cs = csv_col(t, "step"), cl = csv_col(t, "layer"), cd = csv_col(t, "domain"),
        ce = csv_col(t, "expert"), cf = csv_col(t, "frequency");
    if (cs < 0 || cl < 0 || cd < 0 || ce < 0 || cf < 0 || t->nrows == 0) return NULL;
    double smax = -INFINITY, lmax = -INFINITY;
    for (size_t r = 0; r < t->nrows; r++) smax = fmax(smax, csv_num(t, r, cs));
    for (size_t r = 0; r < t->nrows; r++)
        if (csv_num(t, r, cs) == smax) lmax = fmax(lmax, csv_num(t, r, cl));
    int D = 0, E = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        if (csv_num(t, r, cs) != smax || csv_num(t, r, cl) != lmax) continue;
        double d = csv_num(t, r, cd), e = csv_num(t, r, ce);
        if (d >= 0 && d < 4096 && d + 1 > D) D = (int)d + 1;
        if (e >= 0 && e < 4096 && e + 1 > E) E = (int)e + 1;
    }
    if (D == 0 || E == 0) return NULL;
    double *M = ralloc(R, (size_t)D * E * sizeof *M);
    if (!M) return NULL;
    for (size_t i = 0; i < (size_t)D * E; i++) M[i] = NAN;
    for (size_t r = 0; r < t->nrows; r++) {
        if (csv_num(t, r, cs) != smax || csv_num(t, r, cl) != lmax) continue;
        double d = csv_num(t, r, cd), e = csv_num(t, r, ce);
        if (d >= 0 && d < D && e >= 0 && e < E) M[(size_t)d * E + (size_t)e] = csv_num(t, r, cf);
    }
    *rows = D;
    *cols = E;
    *step = smax;
    *layer = (int)lmax;
    return M;
}

// The variant's first used run that has expert frequencies (for its heatmap), or -1.
int heatmap_run(const Report *R, const Variant *V) {
    for (int i = 0; i < V->nused; i++)
        if (R->runs[V->used[i]].experts.nrows > 0) return V->used[i];
    return -1;
}
