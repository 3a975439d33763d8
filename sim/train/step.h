// step.h — one training step, the only copy of it: the trainer (train.c) and the benchmark
// (tests/bench.c) both call train_step, so a change to the step is made once.
//   batch → zero grads → forward → NaN check → backward → gradient norm → NaN check →
//   clip factor → optimizer step (which applies the clip as it reads the gradients) → aux-free bias
// It allocates nothing: every buffer belongs to the model, the optimizer or the batch source.
#ifndef MOESIM_STEP_H
#define MOESIM_STEP_H

#include "../config/schema.h"
#include "../io.h"
#include "../../nn/model.h"
#include "../../optim/optim.h"
#include "batches.h"

typedef enum { STEP_OK, STEP_BAD_BATCH, STEP_DIVERGED } StepStatus;

// The phases of a step in loop order, for callers that time them (the benchmark).
enum { PHASE_BATCH, PHASE_FORWARD, PHASE_BACKWARD, PHASE_NORM, PHASE_OPTIM, PHASE_COUNT };
extern const char *const step_phase_names[PHASE_COUNT];  // "batch", "forward", "backward", "norm+clip", "optimizer"

typedef struct {
    Losses losses;         // of this step's forward pass
    double lr;             // the scheduled learning rate used
    double grad_norm;      // before clipping
    char reason[IO_SHORT_MSG_MAX];      // STEP_DIVERGED / STEP_BAD_BATCH: what happened, naming the step (1-based)
} StepResult;

// Runs step `step` (0-based) of a run of `steps` steps. phase_s, when not NULL, receives the
// seconds spent in each phase (PHASE_COUNT values). The model's parameters are untouched when
// the step diverges: the NaN checks come before the optimizer.
StepStatus train_step(Model *m, Optimizer *opt, BatchSource *src, const Config *c, int step, int steps,
                      StepResult *r, double *phase_s);

#endif
