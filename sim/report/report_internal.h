// report_internal.h — what the files of sim/report/ share: the report's data (runs, variants,
// swept keys, figures in memory), its allocator, and the lists of measurements each view shows.
// The flow: read summary.csv into runs and variants (data.c), read each run's CSVs, build every
// figure into memory (plots_*.c: one function per figure, each filling an SvgFigure for svg.c),
// then write plots/*.svg and report.html (html.c), each atomically; terminal.c prints the heatmaps.
#ifndef MOESIM_REPORT_INTERNAL_H
#define MOESIM_REPORT_INTERNAL_H

#include <stdio.h>
#include "../config/config.h"
#include "../io.h"
#include "../measure/metrics.h"
#include "csv.h"
#include "report.h"
#include "svg.h"

#define MAX_KEYS CFG_SWEEP_KEYS_MAX
#define MAX_PLOTS 24
#define MAX_NOTES 8
#define PAGE_W 1036.0  // figures are laid out for this width (the page's column)
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// The measurements each figure and table shows (summary.csv / eval.csv column names; data.c). A
// name that is NaN in every run is left out where it would be shown.
extern const char *const KEY_MEAS[9], *const TRAIN_MEAS[6], *const LAYER_MEAS[6], *const TABLE_MEAS[7];

// ---- the data -----------------------------------------------------------------------------------

typedef struct {
    const char *id;       // run id (a summary.csv cell)
    const char *status;   // ok | diverged | failed: reason
    int ok, variant;
    Csv metrics, eval, experts;  // empty (0 columns) when absent
    int last_layer;       // largest layer in eval.csv (-1: none)
} ReportRun;

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
    ReportRun *runs;
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

typedef struct {
    size_t n;
    double *x, *y, *sd;
    int *count;
} Curve;


// ---- data.c ----
int report_fail(Report *R, const char *fmt, ...);
// Zeroed memory owned by the report (freed by report_free). NULL when out of memory.
void *ralloc(Report *R, size_t bytes);
char *rstrdup(Report *R, const char *s);
void report_free(Report *R);
// summary.csv: runs, swept keys and variants. Everything else needs only this.
int load_summary(Report *R);
// Reads DIR/<run>/<name>; required files of ok runs are errors when missing, others stay empty.
int load_run_file(Report *R, const ReportRun *U, const char *name, Csv *t, int required);
int load_runs(Report *R);
// Mean ± sd over the variant's used runs of summary column col.
int var_stat(const Report *R, const Variant *V, int col, double *mean, double *sd);
// 1 if summary column `name` exists and has a finite value in some run.
int col_has_data(const Report *R, const char *name);
// Mean ± sd over the variant's used runs of column ycol against column "step", at every step any
// run has. Returns 0 (a curve with n = 0 when no run has the column), -1 when out of memory.
int var_curve(Report *R, const Variant *V, int which, const char *ycol, Curve *out);
// Domain x expert frequencies of the last step and last layer of a run's experts.csv. Returns the
// matrix (rows x cols, owned by the report; unknown cells NaN), or NULL when there are none.
double *run_heatmap(Report *R, const ReportRun *U, int *rows, int *cols, double *step, int *layer);
// The variant's first used run that has expert frequencies (for its heatmap), or -1.
int heatmap_run(const Report *R, const Variant *V);

// ---- plots_training.c ----
// Renders a figure into memory and keeps it with its caption.
int report_emit(Report *R, const char *name, const SvgFigure *fig, const char *fmt, ...);
// The legend of variants, in variant order.
void variant_legend(Report *R, SvgFigure *fig, int style);
int grid_cols(int npanels, int max_cols);
// Training curves: ce (and loss when balancing terms exist) vs step, mean ± sd over seeds.
int plot_loss(Report *R);
// Final measurements against one swept key (k >= 0) or against the variants (k < 0, no key).
int plot_by_key(Report *R, int k);
// Measurements of the last layer over training (eval.csv), one line per variant.
int plot_training(Report *R);

// ---- plots_layers.c ----
int plot_heatmaps(Report *R);
// The Proposition 1 scatter of the first ok run with a pairs.csv.
int plot_prop1(Report *R);
// Measurements against depth, from the summary's l<i>. columns.
int plot_layers(Report *R);

// text_world.c. The text world's domain names in order (data.corpus's distinct names, cut to 63
// bytes) into names; returns their count (0 for other worlds).
int text_world_names(const Config *c, char names[][64], int max);
// The text world's section of report.html: the corpus table with the baselines (nothing for other
// worlds).
void write_text_world(FILE *f, const Report *R);

// ---- html_timeline.c, html_tokens.c: report.html's sections drawn by inline scripts ----
// "Over training": the step slider over every evaluation. Returns 0, or -1 (report_fail).
int html_timeline(FILE *f, Report *R);
// "Tokens by expert": the runs' routes.json. Returns 0.
int html_tokens(FILE *f, Report *R);

#endif
