// train.h — one training run: world → batches → model forward/backward → optimizer step →
// measurements → result files. A plain loop you can read top to bottom (train.c).
#ifndef MOESIM_TRAIN_H
#define MOESIM_TRAIN_H

#include <stdio.h>
#include "../config/schema.h"
#include "../../nn/model.h"
#include "../worlds/world.h"
#include "../../optim/optim.h"
#include "batches.h"
#include "step.h"

typedef enum { RUN_OK, RUN_DIVERGED, RUN_FAILED } RunStatus;

typedef struct {
    const char *run_id;    // shown in progress lines and the manifest
    int threads;           // OpenMP threads for this run (0: leave the default)
    int quiet;             // no progress output
    FILE *progress;        // where progress lines go (NULL: stderr)
    int tty;               // 1: one line updated in place (a terminal); 0: plain periodic lines
} TrainOptions;

typedef struct {
    RunStatus status;
    char reason[512];      // why a run diverged or failed
    int steps_done;
    double loss, ce;       // last training step
    double wall_s, tokens_per_s;
} RunResult;


// Translations from the config (the only place sim maps keys onto the lower layers' structs).
void model_spec_from_config(ModelSpec *s, const Config *c);
void world_spec_from_config(WorldSpec *w, const Config *c);
void optim_config_from_config(OptimConfig *o, const Config *c);

// Trains one run described by c and writes its files into dir (which must exist): metrics.csv,
// layers.csv, eval.csv, experts.csv, pairs.csv, config.toml and, last, manifest.json with the
// status. Returns 0 when the run finished (ok or diverged), -1 when it failed (r->reason says why).
int train_run(const Config *c, const char *dir, const TrainOptions *opt, RunResult *r);

#endif
