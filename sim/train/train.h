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

#include <signal.h>

typedef enum { RUN_OK, RUN_DIVERGED, RUN_FAILED, RUN_INTERRUPTED } RunStatus;

// Set (to the signal's number) by the SIGTERM/SIGINT handler of the sweep (sweep.c). A run checks
// it after every step: it finishes that step, writes a checkpoint, removes its temporary files,
// records "status": "interrupted" and returns RUN_INTERRUPTED.
extern volatile sig_atomic_t train_stop_signal;

typedef struct {
    const char *run_id;    // shown in progress lines and the manifest
    int threads;           // OpenMP threads for this run (0: leave the default)
    int quiet;             // no progress output
    FILE *progress;        // where progress lines go (NULL: stderr)
    int tty;               // 1: one line updated in place (a terminal); 0: plain periodic lines
    int resume;            // 1: continue from <dir>/checkpoint/ when there is one
} TrainOptions;

typedef struct {
    RunStatus status;
    char reason[2048];     // why a run diverged, failed or stopped
    int steps_done;
    double loss, ce;       // last training step
    double wall_s, tokens_per_s;
} RunResult;


// Translations from the config (the only place sim maps keys onto the lower layers' structs).
void model_spec_from_config(ModelSpec *s, const Config *c);
void world_spec_from_config(WorldSpec *w, const Config *c);
void optim_config_from_config(OptimConfig *o, const Config *c);

// Trains one run described by c and writes its files into dir (which must exist): metrics.csv,
// layers.csv, eval.csv, experts.csv, pairs.csv, config.toml, model/ (train.save_model),
// checkpoint/ (train.checkpoint_every, or on a signal) and, last, manifest.json with the status.
// With opt->resume and a checkpoint in dir, it continues from the checkpoint's step, and its files
// end byte-identical to an uninterrupted run's (apart from the timing columns). With
// train.init_from, it starts from that saved model (and its optimizer state unless
// train.init_optimizer = false). Returns 0 when the run finished (ok or diverged) or was
// interrupted (r->status says which), -1 when it failed (r->reason says why).
int train_run(const Config *c, const char *dir, const TrainOptions *opt, RunResult *r);

// `moesim eval`: the evaluation of the model saved in model_dir (a model or checkpoint folder) on
// the world of c (the saved run's config, with any data.* / eval.* overrides), written into out
// (which must exist): eval.csv and experts.csv (rows of the model's step), pairs.csv, removal.csv,
// config.toml, and dump/ when eval.dump is set. With no overrides, eval.csv equals the final rows
// of the run's own eval.csv. Returns 0, or -1 with err naming the file and the reason.
int eval_saved(const Config *c, const char *model_dir, const char *out, const TrainOptions *opt, char *err, size_t errlen);

#endif
