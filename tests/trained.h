// trained.h — a model trained in-process the way train_run trains it (train_step over the run's
// batch source), for the tests that need a trained model (test_generate, test_prune). The caller
// fills t->c (config_defaults + config_set), then calls train; include after harness.h.
#ifndef MOESIM_TESTS_TRAINED_H
#define MOESIM_TESTS_TRAINED_H

#include "../nn/model.h"
#include "../optim/optim.h"
#include "../sim/config/config.h"
#include "../sim/train/batches.h"
#include "../sim/train/step.h"
#include "../sim/models/spec.h"
#include "../sim/train/train.h"
#include "../sim/worlds/world.h"

// t->ce: the training cross-entropy of the last step.
typedef struct { Config c; World w; Model m; Optimizer o; BatchSource bs; double ce; } Trained;

static void train(Trained *t, int steps) {
    char err[300];
    WorldSpec ws;
    ModelSpec ms;
    OptimConfig oc;
    world_spec_from_config(&ws, &t->c);
    model_spec_from_config(&ms, &t->c);
    optim_config_from_config(&oc, &t->c);
    CHECK_MSG(world_build(&t->w, &ws, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(model_build(&t->m, &ms, err, sizeof err) == 0, "%s", err);
    model_init_params(&t->m, (uint64_t)t->c.train_seed, t->c.model_init_std, 0);
    CHECK_MSG(optim_init(&t->o, &oc, &t->m.table, err, sizeof err) == 0, "%s", err);
    CHECK(batch_source_init(&t->bs, &t->c, &t->w) == 0);
    StepResult r = {0};
    for (int s = 0; s < steps; s++) {
        StepStatus st = train_step(&t->m, &t->o, &t->bs, &t->c, s, steps, &r, NULL);
        if (st != STEP_OK) { CHECK_MSG(st == STEP_OK, "%s", r.reason); break; }
    }
    t->ce = r.losses.ce;
}

static void trained_free(Trained *t) {
    batch_source_free(&t->bs); optim_free(&t->o); model_free(&t->m); world_free(&t->w);
}

#endif
