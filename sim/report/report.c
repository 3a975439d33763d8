// report.c — plots, report.html and the terminal heatmaps of a results folder (see report.h).
//
// The flow: read summary.csv into runs and variants (load_summary), read each run's CSVs
// (load_runs), build every figure into memory (plot_*: one function per figure, each filling an
// SvgFigure for svg.c), then write plots/*.svg and report.html, each atomically.
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  // open_memstream
#endif
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "../config/config.h"
#include "csv.h"
#include "../io.h"
#include "../measure/metrics.h"
#include "report.h"
#include "svg.h"

#define MAX_KEYS CFG_SWEEP_KEYS_MAX
#define MAX_PLOTS 24
#define MAX_NOTES 8
#define PAGE_W 1036.0  // figures are laid out for this width (the page's column)

// The measurements each figure and table shows (summary.csv / eval.csv column names). A name that
// is NaN in every run is left out where it would be shown.
static const char *const KEY_MEAS[] = {"eval_ce", "freqsim_cross_domain", "nmi_domain_expert",
                                       "maxvio", "router_confidence", "suppression_rho",
                                       "energy_first", "retained_energy_first", "topk_score_sum"};
static const char *const TRAIN_MEAS[] = {"eval_ce", "suppression_rho", "freqsim_cross_domain",
                                         "nmi_domain_expert", "maxvio", "router_confidence"};
static const char *const LAYER_MEAS[] = {"energy_first", "cosine_hidden", "router_confidence",
                                         "freqsim_cross_domain", "suppression_rho", "nmi_domain_expert"};
static const char *const TABLE_MEAS[] = {"ce", "eval_ce", "freqsim_cross_domain", "nmi_domain_expert",
                                         "maxvio", "router_confidence", "suppression_rho"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// ---- the data -----------------------------------------------------------------------------------

typedef struct {
    const char *id;       // run id (a summary.csv cell)
    const char *status;   // ok | diverged | failed: reason
    int ok, variant;
    Csv metrics, eval, experts;  // empty (0 columns) when absent
    int last_layer;       // largest layer in eval.csv (-1: none)
} Run;

typedef struct {
    char label[400];      // "scope=micro, alpha=0.1"
    char color[8];
    int nruns, *runs;     // its runs (seeds), in summary order
    int nused, *used;     // the ok ones, or all of them when none is ok
    int val[MAX_KEYS];    // index of its value of each swept key (seed keys: -1)
} Variant;

typedef struct {
    int col;              // column in summary.csv
    const char *key;      // full dotted name
    char label[80];       // its last part, or the whole key when two last parts collide
    int seed;             // train.seed or data.seed: runs differing only here are seeds
    int nvals;
    const char **vals;    // distinct values in order of first appearance
} Key;

typedef struct {
    char name[96];        // file name without ".svg"
    char *caption;
    char *svg;
    size_t len;
} Plot;

typedef struct {
    const char *dir;
    Experiment *ex;       // NULL when only the summary is needed
    Csv sum;
    int c_status, c_steps;
    int nkeys;
    Key keys[MAX_KEYS];
    int nruns;
    Run *runs;
    int nvars;
    Variant *vars;
    int nlayers;          // from the l<i>. columns of the summary
    int nplots;
    Plot plots[MAX_PLOTS];
    char notes[MAX_NOTES][300];  // figures left out, and why
    int nnotes;
    void **mem;           // every allocation of the report, freed together
    size_t nmem, capmem;
    char *err;
    size_t errlen;
} Report;

static int fail(Report *R, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->err, R->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

// Zeroed memory owned by the report (freed by report_free). NULL when out of memory.
static void *ralloc(Report *R, size_t bytes) {
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

static char *rstrdup(Report *R, const char *s) {
    char *d = ralloc(R, strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static void report_free(Report *R) {
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
static int load_summary(Report *R) {
    char p[1100];
    path_join(p, sizeof p, R->dir, "summary.csv");
    if (csv_read(&R->sum, p, R->err, R->errlen) != 0) return -1;
    const Csv *S = &R->sum;
    if (strcmp(S->names[0], "run") != 0) return fail(R, "%s: the first column must be 'run', found '%s'", p, S->names[0]);
    R->c_status = csv_col(S, "status");
    R->c_steps = csv_col(S, "steps_done");
    if (R->c_status < 0) return fail(R, "%s: no 'status' column", p);
    if (S->nrows == 0) return fail(R, "%s: no runs (the header only)", p);
    // The swept keys are the columns between run and status.
    R->nkeys = R->c_status - 1;
    if (R->nkeys > MAX_KEYS) return fail(R, "%s: %d swept keys, at most %d supported", p, R->nkeys, MAX_KEYS);
    for (int k = 0; k < R->nkeys; k++) {
        Key *K = &R->keys[k];
        K->col = k + 1;
        K->key = S->names[k + 1];
        K->seed = is_seed_key(K->key);
        snprintf(K->label, sizeof K->label, "%s", last_part(K->key));
        K->vals = ralloc(R, S->nrows * sizeof *K->vals);
        if (!K->vals) return fail(R, "out of memory");
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
    if (!R->runs || !R->vars) return fail(R, "out of memory");
    for (int r = 0; r < R->nruns; r++) {
        Run *U = &R->runs[r];
        U->id = csv_cell(S, (size_t)r, 0);
        U->status = csv_cell(S, (size_t)r, R->c_status);
        U->ok = !strcmp(U->status, "ok");
        U->last_layer = -1;
        if (!*U->id || strchr(U->id, '/') || !strcmp(U->id, ".") || !strcmp(U->id, ".."))
            return fail(R, "%s:%d: '%s' is not a run id", p, r + 2, U->id);
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
            if (!V->runs || !V->used) return fail(R, "out of memory");
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
static int load_run_file(Report *R, const Run *U, const char *name, Csv *t, int required) {
    char p[1400], sub[1100];
    path_join(sub, sizeof sub, R->dir, U->id);
    path_join(p, sizeof p, sub, name);
    char e[1500];
    if (csv_read(t, p, e, sizeof e) == 0) return 0;
    if (required) return fail(R, "%s (run '%s' has status ok)", e, U->id);
    return 0;
}

static int load_runs(Report *R) {
    for (int r = 0; r < R->nruns; r++) {
        Run *U = &R->runs[r];
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
static int var_stat(const Report *R, const Variant *V, int col, double *mean, double *sd) {
    double x[512];
    int n = 0;
    for (int i = 0; i < V->nused && n < 512; i++) x[n++] = csv_num(&R->sum, (size_t)V->used[i], col);
    return report_mean_sd(x, n, mean, sd);
}

// 1 if summary column `name` exists and has a finite value in some run.
static int col_has_data(const Report *R, const char *name) {
    int c = csv_col(&R->sum, name);
    for (size_t i = 0; c >= 0 && i < R->sum.nrows; i++)
        if (isfinite(csv_num(&R->sum, i, c))) return 1;
    return 0;
}

typedef struct {
    size_t n;
    double *x, *y, *sd;
    int *count;
} Curve;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The table of run U a curve comes from: 0 metrics.csv, 1 eval.csv (rows of its last layer).
static const Csv *curve_table(const Run *U, int which) { return which ? &U->eval : &U->metrics; }

// Mean ± sd over the variant's used runs of column ycol against column "step", at every step any
// run has. Returns 0 (a curve with n = 0 when no run has the column), -1 when out of memory.
static int var_curve(Report *R, const Variant *V, int which, const char *ycol, Curve *out) {
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (int i = 0; i < V->nused; i++) total += curve_table(&R->runs[V->used[i]], which)->nrows;
    double *xs = ralloc(R, (total + 1) * sizeof *xs);
    if (!xs) return fail(R, "out of memory");
    size_t nx = 0;
    for (int i = 0; i < V->nused; i++) {
        const Run *U = &R->runs[V->used[i]];
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
    if (!vals || !out->y || !out->sd || !out->count) { free(vals); return fail(R, "out of memory"); }
    for (size_t i = 0; i < u * (size_t)nr; i++) vals[i] = NAN;
    for (int i = 0; i < nr; i++) {
        const Run *U = &R->runs[V->used[i]];
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
static double *run_heatmap(Report *R, const Run *U, int *rows, int *cols, double *step, int *layer) {
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
static int heatmap_run(const Report *R, const Variant *V) {
    for (int i = 0; i < V->nused; i++)
        if (R->runs[V->used[i]].experts.nrows > 0) return V->used[i];
    return -1;
}

// ---- figures ------------------------------------------------------------------------------------

// Renders a figure into memory and keeps it with its caption.
static int emit(Report *R, const char *name, const SvgFigure *fig, const char *fmt, ...) {
    if (R->nplots == MAX_PLOTS) return fail(R, "too many plots");
    Plot *P = &R->plots[R->nplots];
    memset(P, 0, sizeof *P);
    snprintf(P->name, sizeof P->name, "%s", name);
    FILE *m = open_memstream(&P->svg, &P->len);
    if (!m) return fail(R, "out of memory");
    int bad = svg_figure(m, fig);
    if (fclose(m) != 0) bad = -1;
    if (bad) { free(P->svg); P->svg = NULL; return fail(R, "cannot render %s.svg", name); }
    char cap[2000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cap, sizeof cap, fmt, ap);
    va_end(ap);
    P->caption = rstrdup(R, cap);
    if (!P->caption) { free(P->svg); P->svg = NULL; return fail(R, "out of memory"); }
    R->nplots++;
    return 0;
}

// The legend of variants, in variant order.
static void variant_legend(Report *R, SvgFigure *fig, int style) {
    if (R->nvars < 2) return;
    const char **names = ralloc(R, (size_t)R->nvars * sizeof *names);
    const char **cols = ralloc(R, (size_t)R->nvars * sizeof *cols);
    int *st = ralloc(R, (size_t)R->nvars * sizeof *st);
    if (!names || !cols || !st) return;
    for (int v = 0; v < R->nvars; v++) { names[v] = R->vars[v].label; cols[v] = R->vars[v].color; st[v] = style; }
    fig->nlegend = R->nvars;
    fig->legend_names = names;
    fig->legend_colors = cols;
    fig->legend_style = st;
}

static int grid_cols(int npanels, int max_cols) { return npanels < max_cols ? (npanels > 0 ? npanels : 1) : max_cols; }

// Training curves: ce (and loss when balancing terms exist) vs step, mean ± sd over seeds.
static int plot_loss(Report *R) {
    int has_terms = 0;
    for (int r = 0; r < R->nruns; r++)
        if (csv_col(&R->runs[r].metrics, "aux") >= 0 || csv_col(&R->runs[r].metrics, "z") >= 0 ||
            csv_col(&R->runs[r].metrics, "seq_aux") >= 0)
            has_terms = 1;
    const char *cols[2] = {"ce", "loss"};
    const char *titles[2] = {"training cross-entropy (ce)", "training loss (ce + balancing terms)"};
    int np = has_terms ? 2 : 1;
    SvgPanel panels[2];
    memset(panels, 0, sizeof panels);
    int log_y = 0;
    for (int k = 0; k < np; k++) {
        SvgSeries *S = ralloc(R, (size_t)R->nvars * sizeof *S);
        if (!S) return fail(R, "out of memory");
        for (int v = 0; v < R->nvars; v++) {
            Curve c;
            if (var_curve(R, &R->vars[v], 0, cols[k], &c) != 0) return -1;
            S[v] = (SvgSeries){.name = R->vars[v].label, .color = R->vars[v].color, .style = SVG_LINE,
                               .n = c.n, .x = c.x, .y = c.y, .sd = c.sd, .count = c.count};
        }
        // Losses spanning more than 30x (a run blowing up) go on a log axis; else a linear one,
        // cut at a robust upper limit.
        double lo = INFINITY, hi = 0;
        for (int v = 0; v < R->nvars; v++)
            for (size_t i = 0; i < S[v].n; i++)
                if (isfinite(S[v].y[i]) && S[v].y[i] > 0) { lo = fmin(lo, S[v].y[i]); hi = fmax(hi, S[v].y[i]); }
        int lg = hi > 30 * lo;
        log_y |= lg;
        panels[k] = (SvgPanel){.kind = SVG_PANEL_XY, .title = titles[k], .xlabel = "step",
                               .ylabel = lg ? "nats (log scale)" : "nats", .nseries = R->nvars, .series = S,
                               .robust_y = !lg, .log_y = lg};
    }
    int any = 0;
    for (int k = 0; k < np; k++)
        for (int v = 0; v < R->nvars; v++)
            for (size_t i = 0; i < panels[k].series[v].n; i++) any |= isfinite(panels[k].series[v].y[i]);
    if (!any) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No training curves: no run has a metrics.csv with values.");
        return 0;
    }
    SvgFigure fig = {.title = "Training loss", .subtitle = "mean over seeds; band: \xc2\xb1 1 sd",
                     .npanels = np, .panels = panels, .cols = np, .panel_w = np == 2 ? 400 : 620,
                     .panel_h = 260};
    variant_legend(R, &fig, SVG_LINE);
    return emit(R, "loss", &fig,
                "Training cross-entropy%s against the optimizer step, one line per variant: the mean over "
                "its seeds (ok runs only when it has any), with a band of \xc2\xb1 1 standard deviation.%s",
                has_terms ? " and the total loss (cross-entropy plus the active balancing terms)" : "",
                log_y ? " The losses span more than a factor of 30, so the y axis is logarithmic."
                      : " A curve that diverges is cut at the top of the range.");
}

// Final measurements against one swept key (k >= 0) or against the variants (k < 0, no key).
static int plot_by_key(Report *R, int k) {
    // Categories: the key's values, or the variants. Groups (series): the combinations of the
    // other non-seed keys; with a single key each variant is its own one-point group.
    int ncat = k >= 0 ? R->keys[k].nvals : R->nvars;
    const char **cat = ralloc(R, (size_t)(ncat > 0 ? ncat : 1) * sizeof *cat);
    int *group = ralloc(R, (size_t)R->nvars * sizeof *group), *first = ralloc(R, (size_t)R->nvars * sizeof *first);
    if (!cat || !group || !first) return fail(R, "out of memory");
    for (int i = 0; i < ncat; i++) cat[i] = k >= 0 ? R->keys[k].vals[i] : R->vars[i].label;
    int others = 0;
    for (int j = 0; j < R->nkeys; j++)
        if (j != k && !R->keys[j].seed) others++;
    int ng = 0;
    for (int v = 0; v < R->nvars; v++) {
        int g = 0;
        if (others == 0) g = ng;  // every variant its own group
        else {
            while (g < ng) {
                int same = 1;
                for (int j = 0; j < R->nkeys; j++)
                    if (j != k && !R->keys[j].seed && R->vars[first[g]].val[j] != R->vars[v].val[j]) same = 0;
                if (same) break;
                g++;
            }
        }
        if (g == ng) first[ng++] = v;
        group[v] = g;
    }
    // Group names: the other keys' values.
    const char **gname = ralloc(R, (size_t)ng * sizeof *gname);
    const char **gcolor = ralloc(R, (size_t)ng * sizeof *gcolor);
    int *gstyle = ralloc(R, (size_t)ng * sizeof *gstyle);
    if (!gname || !gcolor || !gstyle) return fail(R, "out of memory");
    for (int g = 0; g < ng; g++) {
        char buf[400];
        size_t o = 0;
        buf[0] = '\0';
        for (int j = 0; j < R->nkeys; j++) {
            if (j == k || R->keys[j].seed) continue;
            o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, "%s%s=%s", o ? ", " : "",
                                  R->keys[j].label, R->keys[j].vals[R->vars[first[g]].val[j]]);
            if (o >= sizeof buf) o = sizeof buf - 1;
        }
        gname[g] = rstrdup(R, others ? buf : R->vars[first[g]].label);
        gcolor[g] = R->vars[first[g]].color;
        gstyle[g] = SVG_LINE_MARKERS;
        if (!gname[g]) return fail(R, "out of memory");
    }
    SvgPanel panels[COUNT(KEY_MEAS)];
    int np = 0;
    char skipped[600] = "";
    for (int m = 0; m < COUNT(KEY_MEAS); m++) {
        int col = csv_col(&R->sum, KEY_MEAS[m]);
        if (!col_has_data(R, KEY_MEAS[m])) {
            size_t o = strlen(skipped);
            snprintf(skipped + o, sizeof skipped - o, "%s%s", o ? ", " : "", KEY_MEAS[m]);
            continue;
        }
        // Per group: means at each category; per variant: its seeds as hollow circles.
        SvgSeries *S = ralloc(R, (size_t)(ng + R->nvars) * sizeof *S);
        if (!S) return fail(R, "out of memory");
        for (int g = 0; g < ng; g++) {
            double *x = ralloc(R, (size_t)ncat * sizeof *x), *y = ralloc(R, (size_t)ncat * sizeof *y);
            double *sd = ralloc(R, (size_t)ncat * sizeof *sd);
            int *cnt = ralloc(R, (size_t)ncat * sizeof *cnt);
            if (!x || !y || !sd || !cnt) return fail(R, "out of memory");
            size_t n = 0;
            for (int v = 0; v < R->nvars; v++) {
                if (group[v] != g) continue;
                x[n] = k >= 0 ? R->vars[v].val[k] : v;
                cnt[n] = var_stat(R, &R->vars[v], col, &y[n], &sd[n]);
                n++;
            }
            S[g] = (SvgSeries){.name = gname[g], .color = gcolor[g],
                               .style = others ? SVG_LINE_MARKERS : SVG_MARKERS, .n = n, .x = x, .y = y,
                               .sd = sd, .count = cnt, .slot = others ? g : 0};
        }
        for (int v = 0; v < R->nvars; v++) {
            const Variant *V = &R->vars[v];
            double *x = ralloc(R, (size_t)V->nused * sizeof *x), *y = ralloc(R, (size_t)V->nused * sizeof *y);
            if (!x || !y) return fail(R, "out of memory");
            for (int i = 0; i < V->nused; i++) {
                x[i] = k >= 0 ? V->val[k] : v;
                y[i] = csv_num(&R->sum, (size_t)V->used[i], col);
            }
            S[ng + v] = (SvgSeries){.color = others ? gcolor[group[v]] : V->color, .style = SVG_HOLLOW,
                                    .n = (size_t)V->nused, .x = x, .y = y, .slot = others ? group[v] : 0};
        }
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_XY, .title = KEY_MEAS[m],
                                  .xlabel = k >= 0 ? R->keys[k].label : "variant", .nseries = ng + R->nvars,
                                  .series = S, .ncat = ncat, .cat = cat, .dodge = others ? ng : 0};
    }
    if (np == 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No final measurements to plot: every one is nan.");
        return 0;
    }
    char title[200], name[120];
    if (k >= 0) {
        snprintf(title, sizeof title, "Final measurements vs %s", R->keys[k].key);
        size_t o = snprintf(name, sizeof name, "by_");
        for (const char *s = R->keys[k].label; *s && o + 1 < sizeof name; s++)
            name[o++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ? *s : '_');
        name[o] = '\0';
    } else {
        snprintf(title, sizeof title, "Final measurements");
        snprintf(name, sizeof name, "measurements");
    }
    SvgFigure fig = {.title = title,
                     .subtitle = "last layer, final evaluation; dot and bar: mean \xc2\xb1 1 sd over seeds; circles: single seeds",
                     .npanels = np, .panels = panels, .cols = grid_cols(np, 3), .panel_w = 255, .panel_h = 170};
    if (others) {
        fig.nlegend = ng;
        fig.legend_names = gname;
        fig.legend_colors = gcolor;
        fig.legend_style = gstyle;
    }
    char skip[700] = "";
    if (skipped[0]) snprintf(skip, sizeof skip, " Not shown (nan in every run): %s.", skipped);
    if (k >= 0)
        return emit(R, name, &fig,
                    "Final measurements of the last layer against %s%s: each dot is the mean over a variant's "
                    "seeds (ok runs only when it has any), the bar \xc2\xb1 1 standard deviation, the small "
                    "circles beside it the individual seeds.%s%s",
                    R->keys[k].key, others ? " (one line per combination of the other swept keys)" : "",
                    others ? " Colours here follow those combinations." : "", skip);
    return emit(R, name, &fig,
                "Final measurements of the last layer: the mean over the seeds (dot), \xc2\xb1 1 standard "
                "deviation (bar), and each seed (small circles).%s", skip);
}

// Measurements of the last layer over training (eval.csv), one line per variant.
static int plot_training(Report *R) {
    SvgPanel panels[COUNT(TRAIN_MEAS)];
    int np = 0;
    for (int m = 0; m < COUNT(TRAIN_MEAS); m++) {
        SvgSeries *S = ralloc(R, (size_t)R->nvars * sizeof *S);
        if (!S) return fail(R, "out of memory");
        int any = 0;
        for (int v = 0; v < R->nvars; v++) {
            Curve c;
            if (var_curve(R, &R->vars[v], 1, TRAIN_MEAS[m], &c) != 0) return -1;
            for (size_t i = 0; i < c.n; i++) any |= isfinite(c.y[i]);
            S[v] = (SvgSeries){.name = R->vars[v].label, .color = R->vars[v].color, .style = SVG_LINE_MARKERS,
                               .n = c.n, .x = c.x, .y = c.y, .count = c.count};
        }
        if (!any) continue;
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_XY, .title = TRAIN_MEAS[m], .xlabel = "step",
                                  .nseries = R->nvars, .series = S};
    }
    if (np == 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No measurements over training: eval.csv has no finite values.");
        return 0;
    }
    SvgFigure fig = {.title = "Measurements over training",
                     .subtitle = "last layer, at each evaluation; mean over seeds",
                     .npanels = np, .panels = panels, .cols = grid_cols(np, 3), .panel_w = 255, .panel_h = 170};
    variant_legend(R, &fig, SVG_LINE_MARKERS);
    return emit(R, "training", &fig,
                "Measurements of the last MoE layer on the evaluation set at every evaluation (step 0, every "
                "eval.every steps, and the end), one line per variant: the mean over its seeds.");
}

// Domain x expert heatmaps of each variant's first run, on one colour scale.
static int plot_heatmaps(Report *R) {
    SvgPanel *panels = ralloc(R, (size_t)R->nvars * sizeof *panels);
    if (!panels) return fail(R, "out of memory");
    int np = 0, maxD = 1, maxE = 1;
    double vmax = 0, step = 0;
    int layer = 0;
    char runs[1200] = "";
    for (int v = 0; v < R->nvars; v++) {
        int r = heatmap_run(R, &R->vars[v]);
        if (r < 0) continue;
        int D, E;
        double *M = run_heatmap(R, &R->runs[r], &D, &E, &step, &layer);
        if (!M) continue;
        for (size_t i = 0; i < (size_t)D * E; i++)
            if (isfinite(M[i])) vmax = fmax(vmax, M[i]);
        maxD = D > maxD ? D : maxD;
        maxE = E > maxE ? E : maxE;
        char *title = rstrdup(R, R->nvars > 1 ? R->vars[v].label : R->runs[r].id);
        if (!title) return fail(R, "out of memory");
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_HEATMAP, .title = title, .xlabel = "expert", .ylabel = "domain",
                                  .rows = D, .cols = E, .values = M, .row_prefix = "d", .col_prefix = "",
                                  .vmin = 0};
        size_t o = strlen(runs);
        snprintf(runs + o, sizeof runs - o, "%s%s", o ? ", " : "", R->runs[r].id);
    }
    if (np == 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No domain \xc3\x97 expert heatmaps: no run has an experts.csv with rows.");
        return 0;
    }
    // One scale for all: 0 up to the largest frequency, rounded up to a tenth.
    vmax = fmin(1, fmax(0.1, ceil(vmax * 10 - 1e-9) / 10));
    for (int i = 0; i < np; i++) panels[i].vmax = vmax;
    // Up to 3 panels a row (4 when they are narrow), cells as large as that allows.
    int cols = np < 3 ? np : 3;
    if (np >= 4 && maxE <= 8) cols = 4;
    double cell = floor(fmin(fmin(((PAGE_W - 24) / cols - 70) / maxE, 220.0 / maxD), 28));
    if (cell < 4) cell = 4;
    double pw = cell * maxE, ph = cell * maxD;
    SvgFigure fig = {.title = "Domain \xc3\x97 expert selection frequency",
                     .subtitle = "first seed of each variant, final evaluation, last layer",
                     .npanels = np, .panels = panels, .cols = cols,
                     .panel_w = pw, .panel_h = ph, .colorbar_label = "frequency", .vmin = 0, .vmax = vmax};
    return emit(R, "heatmaps", &fig,
                "For each variant, the share of each domain's evaluation tokens whose top-k choices include "
                "each expert (rows: domains, columns: experts; each row sums to k), at the final evaluation "
                "of the last layer, from its first seed (runs: %s). One colour scale for all panels, from 0 to "
                "%.1f. A specialized layer shows a few bright cells per row that differ between rows; a "
                "collapsed one shows the same columns in every row.",
                runs, vmax);
}

// The Proposition 1 scatter of the first ok run with a pairs.csv.
static int plot_prop1(Report *R) {
    Csv t = {0};
    int r = -1;
    char p[1400], sub[1100], e[1500];
    for (int i = 0; i < R->nruns && r < 0; i++) {
        if (!R->runs[i].ok) continue;
        path_join(sub, sizeof sub, R->dir, R->runs[i].id);
        path_join(p, sizeof p, sub, "pairs.csv");
        if (!file_exists(p)) continue;
        if (csv_read(&t, p, e, sizeof e) != 0) return fail(R, "%s", e);
        r = i;
    }
    if (r < 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0],
                 "No Proposition 1 scatter: no ok run has a pairs.csv.");
        return 0;
    }
    int ch = csv_col(&t, "rms_hidden"), cz = csv_col(&t, "rms_logits"), cl = csv_col(&t, "prop1_lhs"),
        cr = csv_col(&t, "prop1_rhs");
    if (ch < 0 || cz < 0) {
        csv_free(&t);
        return fail(R, "%s: needs columns rms_hidden and rms_logits", p);
    }
    size_t n = t.nrows, nh = 0, nv = 0;
    double *hx = ralloc(R, (n + 1) * sizeof *hx), *hy = ralloc(R, (n + 1) * sizeof *hy);
    double *vx = ralloc(R, (n + 1) * sizeof *vx), *vy = ralloc(R, (n + 1) * sizeof *vy);
    if (!hx || !hy || !vx || !vy) { csv_free(&t); return fail(R, "out of memory"); }
    for (size_t i = 0; i < n; i++) {
        double x = csv_num(&t, i, ch), y = csv_num(&t, i, cz);
        double lhs = csv_num(&t, i, cl), rhs = csv_num(&t, i, cr);
        // The bound with the relative slack the measurement uses (metrics.h).
        if (cl >= 0 && cr >= 0 && lhs > rhs * (1 + 1e-5)) { vx[nv] = x; vy[nv++] = y; }
        else { hx[nh] = x; hy[nh++] = y; }
    }
    csv_free(&t);
    int bound = cl >= 0 && cr >= 0;
    char lh[80], lv[80];
    snprintf(lh, sizeof lh, bound ? "bound holds (%zu pair%s)" : "token pairs (%zu)", nh, nh == 1 ? "" : "s");
    snprintf(lv, sizeof lv, "bound violated (%zu pair%s)", nv, nv == 1 ? "" : "s");
    SvgSeries S[2] = {{.name = lh, .color = "#0072b2", .style = SVG_DOTS, .n = nh, .x = hx, .y = hy},
                      {.name = lv, .color = "#d55e00", .style = SVG_DOTS, .n = nv, .x = vx, .y = vy, .emphasis = 1}};
    SvgPanel panel = {.kind = SVG_PANEL_XY, .title = "token pairs", .xlabel = "RMS distance of hidden states (Eq. 5)",
                      .ylabel = "RMS distance of router logits", .nseries = nv ? 2 : 1, .series = S,
                      .zero_x = 1, .zero_y = 1};
    const char *names[2] = {lh, lv}, *colors[2] = {"#0072b2", "#d55e00"};
    int styles[2] = {SVG_DOTS, SVG_DOTS};
    char sub2[400];
    snprintf(sub2, sizeof sub2, "run %s, last layer, final evaluation", R->runs[r].id);
    SvgFigure fig = {.title = "Proposition 1: similar hidden states, similar router logits", .subtitle = sub2,
                     .npanels = 1, .panels = &panel, .cols = 1, .panel_w = 620, .panel_h = 400,
                     .nlegend = bound ? (nv ? 2 : 1) : 0, .legend_names = names, .legend_colors = colors,
                     .legend_style = styles};
    return emit(R, "prop1", &fig,
                "Proposition 1 (paper Fig. 1): for %zu sampled pairs of evaluation tokens of run %s (last "
                "layer, final evaluation), the RMS distance of their hidden states (x) against that of their "
                "router logits (y). Proposition 1 bounds the logit distance by the hidden-state distance "
                "along the top singular directions plus the rest; pairs are coloured by whether the bound "
                "holds (relative slack 1e-5).",
                nh + nv, R->runs[r].id);
}

// Measurements against depth, from the summary's l<i>. columns.
static int plot_layers(Report *R) {
    if (R->nlayers < 2) return 0;
    SvgPanel panels[COUNT(LAYER_MEAS)];
    int np = 0, L = R->nlayers;
    for (int m = 0; m < COUNT(LAYER_MEAS); m++) {
        int *cols = ralloc(R, (size_t)L * sizeof *cols);
        if (!cols) return fail(R, "out of memory");
        int any = 0;
        for (int l = 0; l < L; l++) {
            char name[160];
            snprintf(name, sizeof name, "l%d.%s", l, LAYER_MEAS[m]);
            cols[l] = csv_col(&R->sum, name);
            any |= col_has_data(R, name);
        }
        if (!any) continue;
        SvgSeries *S = ralloc(R, (size_t)R->nvars * sizeof *S);
        if (!S) return fail(R, "out of memory");
        for (int v = 0; v < R->nvars; v++) {
            double *x = ralloc(R, (size_t)L * sizeof *x), *y = ralloc(R, (size_t)L * sizeof *y);
            double *sd = ralloc(R, (size_t)L * sizeof *sd);
            int *cnt = ralloc(R, (size_t)L * sizeof *cnt);
            if (!x || !y || !sd || !cnt) return fail(R, "out of memory");
            for (int l = 0; l < L; l++) {
                x[l] = l;
                cnt[l] = var_stat(R, &R->vars[v], cols[l], &y[l], &sd[l]);
            }
            S[v] = (SvgSeries){.name = R->vars[v].label, .color = R->vars[v].color, .style = SVG_LINE_MARKERS,
                               .n = (size_t)L, .x = x, .y = y, .sd = sd, .count = cnt, .slot = v};
        }
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_XY, .title = LAYER_MEAS[m], .xlabel = "layer",
                                  .nseries = R->nvars, .series = S, .integer_x = 1, .dodge = R->nvars};
    }
    if (np == 0) return 0;
    SvgFigure fig = {.title = "Measurements by layer", .subtitle = "final evaluation; mean \xc2\xb1 1 sd over seeds",
                     .npanels = np, .panels = panels, .cols = grid_cols(np, 3), .panel_w = 255, .panel_h = 170};
    variant_legend(R, &fig, SVG_LINE_MARKERS);
    return emit(R, "layers", &fig,
                "Final measurements of every MoE layer (0 = first) against depth, one line per variant: the "
                "mean over its seeds with \xc2\xb1 1 standard deviation as bars.");
}

// ---- report.html --------------------------------------------------------------------------------

static void esc(FILE *f, const char *s) { svg_escape(f, s); }

// A column header: underscores and dots may break the line (<wbr/>), so long names stay narrow.
static void esc_header(FILE *f, const char *s) {
    int long_name = strlen(s) > 12;
    for (; *s; s++) {
        char c[2] = {*s, 0};
        esc(f, c);
        if (long_name && (*s == '_' || *s == '.') && s[1]) fputs("<wbr/>", f);
    }
}

static void num_cell(FILE *f, double v) {
    char b[40];
    svg_num(b, sizeof b, v, 4);
    fprintf(f, "<td class=\"n\">%s</td>", b);
}

static void mean_sd_cell(FILE *f, double m, double sd, int n) {
    char a[40], b[40];
    svg_num(a, sizeof a, m, 4);
    if (n > 1 && isfinite(sd)) {
        svg_num(b, sizeof b, sd, 2);
        fprintf(f, "<td class=\"n\">%s \xc2\xb1 %s</td>", a, b);
    } else fprintf(f, "<td class=\"n\">%s</td>", a);
}

static const char *CSS =
    "body{margin:0;background:#eef0f2;color:#1d1d1f;font:15px/1.5 \"DejaVu Sans\",Helvetica,Arial,sans-serif}\n"
    "main{max-width:1100px;margin:0 auto;padding:28px 32px 56px;background:#fff;box-shadow:0 0 12px rgba(0,0,0,.08)}\n"
    "h1{font-size:26px;margin:0 0 12px}\n"
    "h2{font-size:19px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid #ddd}\n"
    ".lead{background:#f6f8fa;border-left:4px solid #0072b2;padding:10px 14px;margin:0 0 12px}\n"
    ".lead p{margin:4px 0}\n"
    ".meta{color:#555;font-size:14px}\n"
    "nav{font-size:14px}nav a{margin-right:14px}\n"
    "a{color:#0b5fa5}\n"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
    "th,td{border:1px solid #d8dadd;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:#f2f3f5;font-weight:600}\n"
    "td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    "tr.bad td{background:#fdecea}\n"
    "td.id{white-space:nowrap}\n"
    ".bad-status{color:#b00020;font-weight:bold}\n"
    "tr.group th{background:#e8ecf0;text-align:left}\n"
    "tr.changed td{background:#fffbe6}\n"
    ".scroll{overflow-x:auto}\n"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;vertical-align:-1px}\n"
    "figure{margin:20px 0 34px}\n"
    "figure svg{max-width:100%;height:auto;display:block}\n"
    "figcaption{font-size:13.5px;color:#333;margin-top:6px;max-width:980px}\n"
    "code{font-family:\"DejaVu Sans Mono\",Menlo,monospace;font-size:13px}\n"

    "details{margin-top:10px}summary{cursor:pointer;color:#0b5fa5}\n";

// The swept values of key k as "a, b, c".
static void swept_values(const Report *R, int k, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < R->keys[k].nvals; i++) {
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s", i ? ", " : "", R->keys[k].vals[i]);
        if (o >= cap) return;
    }
}

static int swept_index(const Report *R, const char *key) {
    for (int k = 0; k < R->nkeys; k++)
        if (!strcmp(R->keys[k].key, key)) return k;
    return -1;
}

static void settings_row(FILE *f, const Report *R, const Config *def, int k, int show_help) {
    char v[1024], d[CFG_STR_MAX * 2];
    config_format_value(&R->ex->base, k, 0, v, sizeof v);
    config_format_value(def, k, 0, d, sizeof d);
    int s = swept_index(R, cfg_keys[k].key);
    if (s >= 0) {
        char sv[600];
        swept_values(R, s, sv, sizeof sv);
        snprintf(v, sizeof v, "swept: %s", sv);
    }
    int changed = s >= 0 || strcmp(v, d) != 0;
    fprintf(f, "<tr%s><td><code>", changed ? " class=\"changed\"" : "");
    esc(f, cfg_keys[k].key);
    fputs("</code></td><td><code>", f);
    esc(f, v);
    fputs("</code></td><td><code>", f);
    esc(f, d);
    fputs("</code></td>", f);
    if (show_help) {
        fputs("<td>", f);
        esc(f, cfg_keys[k].help);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

static void write_settings(FILE *f, const Report *R) {
    Config def;
    config_defaults(&def);
    fputs("<h2 id=\"settings\">Settings</h2>\n<p>The experiment's base configuration "
          "(<code>experiment.toml</code>): the keys that differ from the defaults or are swept.</p>\n"
          "<div class=\"scroll\"><table>\n<tr><th>key</th><th>value</th><th>default</th><th>meaning</th></tr>\n", f);
    int n = 0;
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (!strncmp(cfg_keys[k].key, "experiment.", 11)) continue;
        char v[CFG_STR_MAX * 2], d[CFG_STR_MAX * 2];
        config_format_value(&R->ex->base, k, 0, v, sizeof v);
        config_format_value(&def, k, 0, d, sizeof d);
        if (swept_index(R, cfg_keys[k].key) < 0 && !strcmp(v, d)) continue;
        settings_row(f, R, &def, k, 1);
        n++;
    }
    if (n == 0) fputs("<tr><td colspan=\"4\">every key at its default</td></tr>\n", f);
    fputs("</table></div>\n<details><summary>All settings, by table</summary>\n<div class=\"scroll\"><table>\n"
          "<tr><th>key</th><th>value</th><th>default</th></tr>\n", f);
    const char *prev = "";
    size_t plen = 0;
    for (int k = 0; k < CFG_NKEYS; k++) {
        const char *key = cfg_keys[k].key, *dot = strchr(key, '.');
        size_t tl = dot ? (size_t)(dot - key) : 0;
        if (tl != plen || strncmp(key, prev, tl)) {
            fputs("<tr class=\"group\"><th colspan=\"3\">[", f);
            char t[64];
            snprintf(t, sizeof t, "%.*s", (int)tl, key);
            esc(f, t);
            fputs("]</th></tr>\n", f);
            prev = key;
            plen = tl;
        }
        settings_row(f, R, &def, k, 0);
    }
    fputs("</table></div>\n</details>\n", f);
}

static void write_tables(FILE *f, const Report *R) {
    int show[COUNT(TABLE_MEAS)], cols[COUNT(TABLE_MEAS)];
    for (int m = 0; m < COUNT(TABLE_MEAS); m++) {
        cols[m] = csv_col(&R->sum, TABLE_MEAS[m]);
        show[m] = col_has_data(R, TABLE_MEAS[m]);
    }
    // Variants: mean ± sd over seeds.
    fputs("<h2 id=\"variants\">Variants</h2>\n<p>Final values (last layer), mean \xc2\xb1 sd over each variant's "
          "ok seeds.</p>\n<div class=\"scroll\"><table>\n<tr><th>variant</th><th>ok / runs</th>", f);
    for (int m = 0; m < COUNT(TABLE_MEAS); m++)
        if (show[m]) { fputs("<th>", f); esc_header(f, TABLE_MEAS[m]); fputs("</th>", f); }
    fputs("</tr>\n", f);
    for (int v = 0; v < R->nvars; v++) {
        const Variant *V = &R->vars[v];
        int ok = 0;
        for (int i = 0; i < V->nruns; i++) ok += R->runs[V->runs[i]].ok;
        fprintf(f, "<tr%s><td class=\"id\"><span class=\"sw\" style=\"background:%s\"></span>", ok ? "" : " class=\"bad\"", V->color);
        esc(f, V->label);
        fprintf(f, "</td><td class=\"n\">%d / %d</td>", ok, V->nruns);
        for (int m = 0; m < COUNT(TABLE_MEAS); m++) {
            if (!show[m]) continue;
            double mean, sd;
            int n = var_stat(R, V, cols[m], &mean, &sd);
            mean_sd_cell(f, mean, sd, n);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
    // Runs: every row of summary.csv.
    fputs("<h2 id=\"runs\">Runs</h2>\n<p>One row per run (<code>summary.csv</code>); diverged and failed runs "
          "are marked in red and left out of the means.</p>\n<div class=\"scroll\"><table>\n<tr><th>run</th>", f);
    for (int k = 0; k < R->nkeys; k++) { fputs("<th>", f); esc_header(f, R->keys[k].key); fputs("</th>", f); }
    fputs("<th>status</th><th>steps</th>", f);
    for (int m = 0; m < COUNT(TABLE_MEAS); m++)
        if (show[m]) { fputs("<th>", f); esc_header(f, TABLE_MEAS[m]); fputs("</th>", f); }
    fputs("</tr>\n", f);
    for (int r = 0; r < R->nruns; r++) {
        const Run *U = &R->runs[r];
        fprintf(f, "<tr%s><td class=\"id\"><span class=\"sw\" style=\"background:%s\"></span><code>", U->ok ? "" : " class=\"bad\"",
                R->vars[U->variant].color);
        esc(f, U->id);
        fputs("</code></td>", f);
        for (int k = 0; k < R->nkeys; k++) {
            fputs("<td>", f);
            esc(f, csv_cell(&R->sum, (size_t)r, R->keys[k].col));
            fputs("</td>", f);
        }
        fprintf(f, "<td%s>", U->ok ? "" : " class=\"bad-status\"");
        esc(f, U->status);
        fputs("</td>", f);
        num_cell(f, csv_num(&R->sum, (size_t)r, R->c_steps));
        for (int m = 0; m < COUNT(TABLE_MEAS); m++)
            if (show[m]) num_cell(f, csv_num(&R->sum, (size_t)r, cols[m]));
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void write_glossary(FILE *f) {
    const char *names[METRICS_NSCALARS], *help[METRICS_NSCALARS];
    LayerMetrics dummy;
    memset(&dummy, 0, sizeof dummy);
    metrics_list(names, help, NULL, &dummy);
    fputs("<h2 id=\"glossary\">Measurements</h2>\n<p>The columns of <code>summary.csv</code> and "
          "<code>eval.csv</code> (docs/METRICS.md gives each formula).</p>\n<table>\n"
          "<tr><th>name</th><th>meaning</th></tr>\n"
          "<tr><td><code>ce</code>, <code>loss</code></td><td>training cross-entropy of the last step "
          "(nats); loss adds the active balancing terms</td></tr>\n"
          "<tr><td><code>eval_ce</code></td><td>cross-entropy on the evaluation set (nats)</td></tr>\n", f);
    for (int i = 0; i < METRICS_NSCALARS; i++) {
        fputs("<tr><td><code>", f);
        esc(f, names[i]);
        fputs("</code></td><td>", f);
        esc(f, help[i]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int write_html(Report *R) {
    char p[1100];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "report.html"));
    if (!f) return fail(R, "%s: cannot create", p);
    const Config *c = &R->ex->base;
    int ok = 0, div = 0, failed = 0;
    for (int r = 0; r < R->nruns; r++) {
        if (R->runs[r].ok) ok++;
        else if (!strcmp(R->runs[r].status, "diverged")) div++;
        else failed++;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>", f);
    esc(f, c->experiment_name);
    fputs(" \xe2\x80\x94 moesim report</title>\n<style>\n", f);
    fputs(CSS, f);
    fputs("</style>\n</head>\n<body>\n<main>\n<h1>", f);
    esc(f, c->experiment_name);
    fputs("</h1>\n<div class=\"lead\">\n", f);
    fputs("<p><b>Question.</b> ", f);
    esc(f, c->experiment_question[0] ? c->experiment_question : "(none given: set experiment.question)");
    fputs("</p>\n<p><b>Expected.</b> ", f);
    esc(f, c->experiment_expect[0] ? c->experiment_expect : "(none given: set experiment.expect)");
    fputs("</p>\n</div>\n", f);
    int seeds = 0;
    for (int v = 0; v < R->nvars; v++) seeds = R->vars[v].nruns > seeds ? R->vars[v].nruns : seeds;
    fprintf(f, "<p class=\"meta\">%d run%s: %d ok, %d diverged, %d failed \xe2\x80\x94 %d variant%s, up to %d seed%s each.",
            R->nruns, R->nruns == 1 ? "" : "s", ok, div, failed, R->nvars, R->nvars == 1 ? "" : "s", seeds,
            seeds == 1 ? "" : "s");
    if (R->nkeys > 0) {
        fputs(" Swept: ", f);
        for (int k = 0; k < R->nkeys; k++) {
            char sv[600];
            swept_values(R, k, sv, sizeof sv);
            fputs(k ? "; <code>" : "<code>", f);
            esc(f, R->keys[k].key);
            fputs("</code> = ", f);
            esc(f, sv);
        }
        fputs(".", f);
    }
    fputs("</p>\n<nav><a href=\"#variants\">Variants</a><a href=\"#runs\">Runs</a><a href=\"#plots\">Plots</a>"
          "<a href=\"#settings\">Settings</a><a href=\"#glossary\">Measurements</a></nav>\n", f);
    write_tables(f, R);
    fputs("<h2 id=\"plots\">Plots</h2>\n", f);
    for (int i = 0; i < R->nnotes && i < MAX_NOTES; i++) {
        fputs("<p class=\"meta\">", f);
        esc(f, R->notes[i]);
        fputs("</p>\n", f);
    }
    for (int i = 0; i < R->nplots; i++) {
        const Plot *P = &R->plots[i];
        fprintf(f, "<figure id=\"fig-%s\">\n", P->name);
        fwrite(P->svg, 1, P->len, f);
        fprintf(f, "<figcaption><b>Figure %d.</b> ", i + 1);
        esc(f, P->caption);
        fprintf(f, " <a href=\"plots/%s.svg\">plots/%s.svg</a></figcaption>\n</figure>\n", P->name, P->name);
    }
    write_settings(f, R);
    write_glossary(f);
    fputs("<p class=\"meta\">Written by <code>moesim report</code> from the CSV files of this folder; rebuild "
          "it with <code>./moesim report DIR</code>.</p>\n</main>\n</body>\n</html>\n", f);
    if (afile_commit(&a) != 0) return fail(R, "%s: cannot write", p);
    return 0;
}

// ---- the entry points -----------------------------------------------------------------------------

static int build(Report *R) {
    char p[1100];
    path_join(p, sizeof p, R->dir, "experiment.toml");
    R->ex = malloc(sizeof *R->ex);
    CfgErrors *e = malloc(sizeof *e);
    if (!R->ex || !e) { free(e); return fail(R, "out of memory"); }
    memset(e, 0, sizeof *e);
    if (!file_exists(p)) { free(e); return fail(R, "%s: no such file (the experiment's resolved configuration)", p); }
    if (experiment_load(R->ex, p, NULL, 0, e) != 0) {
        fail(R, "%s", e->n > 0 ? e->msg[0] : "cannot load");
        free(e);
        return -1;
    }
    free(e);
    if (load_summary(R) || load_runs(R)) return -1;
    if (plot_loss(R)) return -1;
    int nonseed = 0;
    for (int k = 0; k < R->nkeys; k++)
        if (!R->keys[k].seed) {
            nonseed++;
            if (plot_by_key(R, k)) return -1;
        }
    if (nonseed == 0 && plot_by_key(R, -1)) return -1;
    if (plot_training(R) || plot_heatmaps(R) || plot_prop1(R) || plot_layers(R)) return -1;
    // Files: plots first, the page that shows them last.
    char pd[1100];
    path_join(pd, sizeof pd, R->dir, "plots");
    if (mkdir_p(pd) != 0) return fail(R, "%s: cannot create the folder", pd);
    for (int i = 0; i < R->nplots; i++) {
        char name[200], path[1400];
        snprintf(name, sizeof name, "%s.svg", R->plots[i].name);
        AtomicFile a;
        FILE *f = afile_open(&a, path_join(path, sizeof path, pd, name));
        if (!f) return fail(R, "%s: cannot create", path);
        fwrite(R->plots[i].svg, 1, R->plots[i].len, f);
        if (afile_commit(&a) != 0) return fail(R, "%s: cannot write", path);
    }
    // plots/ belongs to the report: an .svg it did not write this time (a swept key renamed, a
    // figure with no data any more) is stale and goes, so the folder shows exactly this report.
    DIR *d = opendir(pd);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".svg") != 0) continue;
        int ours = 0;
        for (int i = 0; i < R->nplots && !ours; i++)
            ours = n - 4 == strlen(R->plots[i].name) && !strncmp(de->d_name, R->plots[i].name, n - 4);
        if (!ours) {
            char path[1400];
            remove(path_join(path, sizeof path, pd, de->d_name));
        }
    }
    if (d) closedir(d);
    return write_html(R);
}

int report_build(const char *dir, char *err, size_t errlen) {
    Report R;
    memset(&R, 0, sizeof R);
    R.dir = dir;
    R.err = err;
    R.errlen = errlen;
    int rc = build(&R);
    report_free(&R);
    return rc;
}

// ---- the terminal ---------------------------------------------------------------------------------

#define TERM_W 80
static const char SHADES[] = " .:-=+*#%@";

// Appends up to cap-1 bytes of formatted text to a line.
static void lput(char *line, size_t cap, const char *fmt, ...) {
    size_t o = strlen(line);
    if (o + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + o, cap - o, fmt, ap);
    va_end(ap);
}

// Display columns of UTF-8 text (continuation bytes take none).
static int ucols(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void fmt_mean_sd(char *buf, size_t cap, double m, double sd, int n) {
    char a[40], b[40];
    svg_num(a, sizeof a, m, 4);
    if (n > 1 && isfinite(sd)) {
        svg_num(b, sizeof b, sd, 2);
        snprintf(buf, cap, "%s \xc2\xb1 %s (%d seeds)", a, b, n);
    } else snprintf(buf, cap, "%s (%d seed%s)", a, n, n == 1 ? "" : "s");
}

static int terminal(Report *R, FILE *f, const char *metric) {
    if (load_summary(R) != 0) return -1;
    int col = csv_col(&R->sum, metric);
    if (col < 0) return fail(R, "%s/summary.csv: no column '%s'", R->dir, metric);
    // Each variant's heatmap (experts.csv of its first run that has one).
    double **M = ralloc(R, (size_t)R->nvars * sizeof *M);
    int *D = ralloc(R, (size_t)R->nvars * sizeof *D), *E = ralloc(R, (size_t)R->nvars * sizeof *E);
    if (!M || !D || !E) return fail(R, "out of memory");
    double vmax = 0, step = 0;
    int layer = 0;
    for (int v = 0; v < R->nvars; v++) {
        Variant *V = &R->vars[v];
        for (int i = 0; i < V->nused && !M[v]; i++) {
            Run *U = &R->runs[V->used[i]];
            if (load_run_file(R, U, "experts.csv", &U->experts, 0) != 0) return -1;
            M[v] = run_heatmap(R, U, &D[v], &E[v], &step, &layer);
        }
        for (size_t i = 0; M[v] && i < (size_t)D[v] * E[v]; i++)
            if (isfinite(M[v][i])) vmax = fmax(vmax, M[v][i]);
    }
    if (vmax <= 0) vmax = 1;
    fprintf(f, "Domain \xc3\x97 expert selection frequency (final evaluation, last layer, first seed)\n");
    fprintf(f, "shade \" .:-=+*#%%@\": share of a domain's tokens that pick the expert, 0 to %.2f\n", vmax);
    fprintf(f, "under each map: %.40s, mean \xc2\xb1 sd over seeds\n\n", metric);
    // Blocks of text lines, placed side by side while they fit in TERM_W columns.
    int v0 = 0;
    while (v0 < R->nvars) {
        enum { LINES = 72, LW = 256 };
        char (*lines)[LINES][LW] = ralloc(R, 8 * sizeof *lines);
        if (!lines) return fail(R, "out of memory");
        int width[8], nl[8], nb = 0, used = 0;
        for (int v = v0; v < R->nvars && nb < 8; v++) {
            int e = M[v] ? E[v] : 0, d = M[v] ? D[v] : 0;
            int cw = e <= 16 ? 3 : e <= 26 ? 2 : 1;
            int w = 5 + cw * e;
            char val[120];
            double m, sd;
            int n = var_stat(R, &R->vars[v], col, &m, &sd);
            fmt_mean_sd(val, sizeof val, m, sd, n);
            int vw = 2 + ucols(val), lw = ucols(R->vars[v].label);
            if (vw > w) w = vw;
            if (lw > w) w = lw;
            if (w > TERM_W) w = TERM_W;
            if (nb > 0 && used + 3 + w > TERM_W) break;
            // Render block nb.
            int L = 0;
            char (*B)[LW] = lines[nb];
            snprintf(B[L++], LW, "%.200s", R->vars[v].label);
            if (!M[v]) {
                snprintf(B[L++], LW, "(no experts.csv)");
            } else {
                // Column header: expert numbers, each where it fits.
                B[L][0] = '\0';
                char hdr[LW];
                memset(hdr, ' ', sizeof hdr);
                int next = 0, end = 5;
                for (int x = 0; x < e; x++) {
                    char num[12];
                    int len = snprintf(num, sizeof num, "%d", x);
                    int pos = 5 + x * cw + cw - len;
                    if (pos < 5) pos = 5 + x * cw;
                    if (pos < next || pos + len > LW - 1) continue;
                    memcpy(hdr + pos, num, (size_t)len);
                    next = pos + len + 1;
                    end = pos + len;
                }
                memcpy(hdr, "exp", 3);
                hdr[end] = '\0';
                snprintf(B[L++], LW, "%s", hdr);
                for (int r = 0; r < d && L < LINES - 2; r++) {
                    char row[LW];
                    int o = snprintf(row, sizeof row, "d%-3d ", r);
                    for (int x = 0; x < e && o + cw < LW; x++) {
                        double q = M[v][(size_t)r * e + x];
                        int s = !(q > 0) ? 0 : 1 + (int)floor(q / vmax * 8.999);
                        if (s > 9) s = 9;
                        for (int c = 0; c < cw; c++) row[o++] = isfinite(q) ? SHADES[s] : '?';
                    }
                    row[o] = '\0';
                    snprintf(B[L++], LW, "%s", row);
                }
            }
            snprintf(B[L++], LW, "\xe2\x86\x92 %s", val);
            width[nb] = w;
            nl[nb] = L;
            used += (nb ? 3 : 0) + w;
            nb++;
        }
        int maxl = 0;
        for (int b = 0; b < nb; b++) maxl = nl[b] > maxl ? nl[b] : maxl;
        for (int l = 0; l < maxl; l++) {
            char out[1024] = "";
            for (int b = 0; b < nb; b++) {
                const char *s = l < nl[b] ? lines[b][l] : "";
                int cols = ucols(s);  // pad by display columns
                if (b + 1 < nb) lput(out, sizeof out, "%s%*s   ", s, width[b] - cols > 0 ? width[b] - cols : 0, "");
                else lput(out, sizeof out, "%s", s);
            }
            // No trailing spaces.
            size_t n = strlen(out);
            while (n > 0 && out[n - 1] == ' ') out[--n] = '\0';
            fprintf(f, "%s\n", out);
        }
        fputc('\n', f);
        v0 += nb;
    }
    // The one line that compares the variants: highest mean first, wrapped at TERM_W.
    int *order = ralloc(R, (size_t)R->nvars * sizeof *order);
    double *mean = ralloc(R, (size_t)R->nvars * sizeof *mean), *sdv = ralloc(R, (size_t)R->nvars * sizeof *sdv);
    int *cnt = ralloc(R, (size_t)R->nvars * sizeof *cnt);
    if (!order || !mean || !sdv || !cnt) return fail(R, "out of memory");
    for (int v = 0; v < R->nvars; v++) {
        order[v] = v;
        cnt[v] = var_stat(R, &R->vars[v], col, &mean[v], &sdv[v]);
    }
    for (int i = 1; i < R->nvars; i++)  // insertion sort, NaN last, ties keep variant order
        for (int j = i; j > 0; j--) {
            double a = mean[order[j - 1]], b = mean[order[j]];
            if (!(isnan(a) || (!isnan(b) && b > a))) break;
            if (isnan(a) && isnan(b)) break;
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    // Each variant's "label value±sd" is kept on one line where it fits: its spaces are written as
    // '\1' while wrapping and printed as spaces.
    char line[4096];
    snprintf(line, sizeof line, "%.60s, highest first: ", metric);
    for (int i = 0; i < R->nvars; i++) {
        int v = order[i];
        char a[40], b[40], item[600];
        svg_num(a, sizeof a, mean[v], 3);
        svg_num(b, sizeof b, sdv[v], 2);
        snprintf(item, sizeof item, "%.400s %s%s%s", R->vars[v].label, a,
                 cnt[v] > 1 && isfinite(sdv[v]) ? "\xc2\xb1" : "", cnt[v] > 1 && isfinite(sdv[v]) ? b : "");
        for (char *q = item; *q; q++)
            if (*q == ' ') *q = '\1';
        lput(line, sizeof line, "%s%s", i ? " > " : "", item);
    }
    // Wrap at spaces so no printed line exceeds TERM_W columns.
    const char *s = line;
    int first = 1;
    while (*s) {
        int indent = first ? 0 : 4, room = TERM_W - indent, cols = 0;
        const char *q = s, *brk = NULL;
        while (*q && cols < room) {
            if (*q == ' ') brk = q;
            cols += ((unsigned char)*q & 0xc0) != 0x80;
            q++;
        }
        while (*q && ((unsigned char)*q & 0xc0) == 0x80) q++;
        const char *end = !*q ? q : (brk && brk > s ? brk : q);
        fprintf(f, "%*s", indent, "");
        for (const char *c = s; c < end; c++) fputc(*c == '\1' ? ' ' : *c, f);
        fputc('\n', f);
        s = end;
        while (*s == ' ') s++;
        first = 0;
    }
    return 0;
}

int report_print_terminal(FILE *f, const char *dir, const char *metric, char *err, size_t errlen) {
    Report R;
    memset(&R, 0, sizeof R);
    R.dir = dir;
    R.err = err;
    R.errlen = errlen;
    int rc = terminal(&R, f, metric);
    report_free(&R);
    return rc;
}
