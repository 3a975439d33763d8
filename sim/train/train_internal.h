// train_internal.h — the state of one training run, shared by the loop (train.c) and the writers
// of its files (results.c). Not for use outside sim/train/.
#ifndef MOESIM_TRAIN_INTERNAL_H
#define MOESIM_TRAIN_INTERNAL_H

#include "train.h"
#include "../models/checkpoint.h"

// Everything allocated once in run_setup.
typedef struct {
    Evaluator ev;                   // the model, its world, the evaluation set, eval.csv, experts.csv
    const RunOptions *opt;
    Optimizer optim;
    int optim_ok;
    BatchSource batches;            // the training batches
    int batches_ok;
    AtomicFile f_metrics, f_layers;
    int resumed_from;               // step of the checkpoint this run resumed from, -1: none
    char corpus[CKPT_CORPUS_MAX];   // the text world's corpus record its saved models keep ("": none)
} TrainRun;

// results.c
int setfail(RunResult *r, const char *what, const char *msg);
void iso_time(char *buf, size_t n);
// The four files that grow during the run (ckpt_partial_names' order), opened as temporary files.
AtomicFile *growing_file(TrainRun *R, int i);
int open_outputs(TrainRun *R, RunResult *res);
void write_headers(TrainRun *R);
// The header lines of metrics.csv (its columns depend on the balance keys) and layers.csv (E
// experts), newline included; ckpt_partial_rules (saved_state.c) checks a checkpoint's against them.
void metrics_csv_header(FILE *f, const Config *c);
void layers_csv_header(FILE *f, int E);
// One row of metrics.csv and L rows of layers.csv after step `done`.
void write_log_rows(TrainRun *R, int done, const Losses *l, double lr, double gn, double tps);
int write_manifest(const TrainRun *R, const RunResult *res, const char *start, double wall);
void abort_outputs(TrainRun *R);

#endif
