// report.h — what a person reads after a sweep: SVG plots, one self-contained report.html, and the
// terminal heatmaps of `make run`, all rebuilt from the CSV files of a results folder.
//
// Input: a results folder DIR as the sweep runner and the training loop write it:
//   DIR/experiment.toml        the resolved base configuration (experiment_load reads it)
//   DIR/summary.csv            one row per run: run, the swept keys, status, steps_done, loss, ce,
//                              eval_ce, tokens_per_s, wall_s, the METRICS_SCALARS of the last
//                              layer, then l<i>.<name> for every layer i
//   DIR/<run>/metrics.csv      training curves (step, loss, ce, ...)
//   DIR/<run>/eval.csv         measurements per (evaluation step, layer)
//   DIR/<run>/experts.csv      domain x expert selection frequencies per (step, layer)
//   DIR/<run>/pairs.csv        the Proposition 1 token pairs of the final evaluation (optional)
// A run's *variant* is its swept values other than train.seed and data.seed; the runs of a variant
// are its seeds. Means and error bars are over a variant's ok runs (over all its runs when none is
// ok), ignoring NaN values. Each variant keeps one colour in every plot.
//
// Output (each file written to a temporary name and renamed): DIR/plots/*.svg and DIR/report.html.
// plots/ belongs to the report: other .svg files in it (left by an earlier build) are removed.
// The output depends only on the input files (no dates, no absolute paths), so rebuilding a
// report from the same CSVs gives identical bytes.
//
// Nothing here exits. Errors (a missing or malformed file, with its path) go to err.
#ifndef MOESIM_REPORT_H
#define MOESIM_REPORT_H

#include <stddef.h>
#include <stdio.h>

// Writes DIR/plots/*.svg and DIR/report.html. Returns 0, or -1 with a message naming the file.
//   plots/loss.svg        training cross-entropy (and the total loss with balancing terms) vs
//                         step, one line per variant (mean over seeds, band ± sd)
//   plots/by_<key>.svg    for each swept key but the seeds (measurements.svg when there is none):
//                         key measurements vs the key's values, mean ± sd over seeds as error
//                         bars, each seed as a small hollow circle
//   plots/training.svg    measurements of the last layer over training (from eval.csv)
//   plots/heatmaps.svg    domain x expert selection frequency of each variant's first run, final
//                         evaluation, last layer, on one colour scale
//   plots/prop1.svg       Proposition 1 scatter: RMS distance of hidden states vs of logits for
//                         the token pairs of the first ok run (when a pairs.csv exists)
//   plots/layers.svg      measurements vs layer from the summary (when there is more than one)
int report_build(const char *dir, char *err, size_t errlen);

// For `make run`: each variant's domain x expert heatmap in characters (" .:-=+*#%@", one shade
// scale for all), the value of `metric` (a summary.csv column, e.g. freqsim_cross_domain) as mean
// ± sd over its seeds under it, then one line ranking the variants by it. Fits 80 columns for up to
// 16 experts. Returns 0, or -1 with a message in err.
int report_print_terminal(FILE *f, const char *dir, const char *metric, char *err, size_t errlen);

// Mean and sample standard deviation (n - 1) of the finite values among x[0..n). Returns how many
// there were; with none both are NaN, with one the sd is NaN (one seed says nothing of spread).
int report_mean_sd(const double *x, int n, double *mean, double *sd);

#endif
