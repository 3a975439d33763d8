// live.h — the live view of a results folder (`moesim run --live`, `moesim watch DIR`): what the
// runs have written so far, read from their CSV files as they grow, and drawn as text that fits a
// terminal of W x H cells. Reading and drawing only: the loop, the terminal and the end of the
// runs are tools/watch.c's. Nothing here writes a file or touches a run, so the view cannot change
// a result.
//
// Per run (a sub-folder holding eval.csv or experts.csv, or their growing "<name>.tmp.<pid>"
// files): the last evaluation's domain x expert frequencies of the last layer (experts.csv), its
// step, the last logged loss (metrics.csv), and freqsim_cross_domain of the last layer at every
// evaluation so far (eval.csv).
#ifndef MOESIM_LIVE_H
#define MOESIM_LIVE_H

#include <stddef.h>

#define LIVE_MAX_RUNS 64
#define LIVE_MAX_EVALS 512   // freqsim history kept per run (the newest)
#define LIVE_NAME_MAX 128

typedef struct {
    char name[LIVE_NAME_MAX];   // the run's folder name ("scope=micro")
    char status[32];            // "running", "ok", "diverged", "failed", "waiting"
    int step;                   // step of the evaluation shown (-1: none yet)
    int log_step;               // last step of metrics.csv (-1: none)
    double loss;                // its loss (NaN: none)
    int layer;                  // the layer shown (the last one)
    int D, E;                   // heatmap size (0: none yet)
    double *heat;               // D x E frequencies (malloc'ed, owned)
    int nhist;                  // evaluations in hist
    double hist[LIVE_MAX_EVALS];  // freqsim_cross_domain of the last layer per evaluation, oldest first
    unsigned long long sig;     // its files' sizes and times when last read (0: never)
} LiveRun;

typedef struct {
    int nruns;
    int more;                   // run folders past LIVE_MAX_RUNS, not read
    LiveRun runs[LIVE_MAX_RUNS];
} LiveView;

// Reads what the runs of dir have written so far. Returns 0, or -1 with err (dir cannot be read).
// Runs are in the experiment's point order (dir/experiment.toml), others after them by name. Call live_free after.
int live_scan(LiveView *v, const char *dir, char *err, size_t errlen);
void live_free(LiveView *v);

// 1 if dir looks like a results folder of `moesim run` (experiment.toml, summary.csv, a lock file
// or a run folder), else 0.
int live_is_results_dir(const char *dir);

// The freqsim history as a sparkline of at most `width` cells (the newest values), each one of
// "▁▂▃▄▅▆▇█" for a value in [0, 1] (level floor(v * 8), clamped to 0..7; NaN is "·"). UTF-8 into
// out (up to 3 bytes a cell). Returns the cells written.
int live_sparkline(const double *x, int n, int width, char *out, size_t cap);

// Draws the view into buf as at most H lines of at most W display columns each, '\n'-terminated,
// no escape codes. title: the first line (cut to W). Returns the number of lines.
int live_render(const LiveView *v, const char *title, int W, int H, char *buf, size_t cap);

// Display columns of UTF-8 text (continuation bytes take none).
int live_cols(const char *s, size_t n);

#endif
