// train.h — one training run: world → batches → model forward/backward → optimizer step →
// evaluations (evaluate/) → result files. The loop is train_run in train.c, top to bottom; its
// own files (metrics.csv, layers.csv, manifest.json) are written by results.c.
#ifndef MOESIM_TRAIN_H
#define MOESIM_TRAIN_H

#include "../evaluate/evaluate.h"
#include "batches.h"
#include "step.h"
#include "../models/checkpoint.h"

#include <signal.h>

typedef enum { RUN_OK, RUN_DIVERGED, RUN_FAILED, RUN_INTERRUPTED } RunStatus;

// Set (to the signal's number) by the SIGTERM/SIGINT handler of the sweep (sweep.c). A run checks
// it after every step: it finishes that step, writes a checkpoint, removes its temporary files,
// records "status": "interrupted" and returns RUN_INTERRUPTED.
extern volatile sig_atomic_t train_stop_signal;

// RunOptions: evaluate.h (eval_saved takes them too).

typedef struct {
    RunStatus status;
    char reason[IO_REASON_MAX];     // why a run diverged, failed or stopped
    int steps_done;
    double loss, ce;       // last training step
    double wall_s, tokens_per_s;
} RunResult;

// Trains one run described by c and writes its files into dir (which must exist): metrics.csv,
// layers.csv, eval.csv, experts.csv, pairs.csv, config.toml, model/ (train.save_model),
// checkpoint/ (train.checkpoint_every, or on a signal) and, last, manifest.json with the status.
// With opt->resume and a checkpoint in dir, it continues from the checkpoint's step, and its files
// end byte-identical to an uninterrupted run's (apart from the timing columns). With
// train.init_from, it starts from that saved model (and its optimizer state unless
// train.init_optimizer = false). Returns 0 when the run finished (ok or diverged) or was
// interrupted (r->status says which), -1 when it failed (r->reason says why).
int train_run(const Config *c, const char *dir, const RunOptions *opt, RunResult *r);

// The two checks of a run's saved state, written once: train_run makes them as it starts, and the
// sweep makes them for every point before any work (so a bad point stops the sweep with exit 2).
// The checkpoint in run_dir a run resumes from: 0 none, 1 found (its folder in found, its config in
// *saved) and of this experiment c, -1 unreadable or of another experiment (err says which).
int train_resume_check(const char *run_dir, const Config *c, Config *saved, char *found, size_t cap, char *err,
                       size_t errlen);
// The saved model train.init_from names: it exists and its shapes fit c. 0 (its folder in found, its
// config in *saved), or -1 with err.
int train_init_from_check(const Config *c, Config *saved, char *found, size_t cap, char *err, size_t errlen);

// (saved_state.c) Reads the checkpoint found (of config c) into m, o and batch_rng, and its partial
// rows into partial[] (NULL: none), after checking all of it (ckpt_read with the partial CSVs' rules)
// and its step against train.steps. Returns 0, or -1 with err saying the checkpoint is damaged and
// how to start the run over.
int train_resume_read(const char *found, const Config *c, Model *m, Optimizer *o, Rng *batch_rng,
                      FILE *const partial[CKPT_NPARTIAL], int *step, char *err, size_t errlen);
// Reads the saved model found (train_init_from_check) into m, and its optimizer state into o unless
// o is NULL, after checking all of it. Returns 0, or -1 with err naming the file.
int train_init_from_read(const char *found, Model *m, Optimizer *o, char *err, size_t errlen);
// Everything above for one point before any work: the checkpoint in run_dir (when resume) is read
// whole into scratch objects and thrown away, and so is the model of train.init_from (when set).
// Returns 0, or -1 with err ("cannot resume RUN_DIR: ..." or "train.init_from: ...").
int run_check_saved(const Config *c, const char *run_dir, int resume, char *err, size_t errlen);

#endif
