// step.c — one training step (step.h). The trainer and the benchmark call this one function.
#include <math.h>
#include <stdio.h>
#include "step.h"
#include "../io.h"

const char *const step_phase_names[PHASE_COUNT] = {"batch", "forward", "backward", "norm+clip", "optimizer"};

// A NaN prints as "nan" or "-nan" by its sign bit, which says nothing here: messages show "nan".
static double unsigned_nan(double x) { return isnan(x) ? fabs(x) : x; }

StepStatus train_step(Model *m, Optimizer *opt, BatchSource *src, const Config *c, int step, int steps,
                      StepResult *r, double *phase_s) {
    double t[PHASE_COUNT + 1];
    int timed = phase_s != NULL;  // the clock is read only when someone asks for the phases
    r->reason[0] = '\0';
    r->grad_norm = 0;
    if (timed) t[0] = io_now_s();
    Batch b;
    batch_source_next(src, step, &b);
    r->lr = schedule_lr(c->train_schedule, c->train_lr, step, steps, c->train_warmup, c->train_min_lr_ratio);
    if (timed) t[1] = io_now_s();
    model_zero_grads(m);
    if (model_forward(m, &b, NULL, &r->losses) != 0) {
        snprintf(r->reason, sizeof r->reason, "step %d: invalid batch", step + 1);
        return STEP_BAD_BATCH;
    }
    if (!isfinite(r->losses.loss)) {
        snprintf(r->reason, sizeof r->reason, "step %d: loss is %g (ce %g)", step + 1, unsigned_nan(r->losses.loss),
                 unsigned_nan(r->losses.ce));
        return STEP_DIVERGED;
    }
    if (timed) t[2] = io_now_s();
    model_backward(m, &b);
    if (timed) t[3] = io_now_s();
    double gn = model_grad_norm(m);  // = grad_norm over m->grads, the experts' part taken in backward
    r->grad_norm = gn;
    if (!isfinite(gn)) {
        snprintf(r->reason, sizeof r->reason, "step %d: gradient norm is %g", step + 1, unsigned_nan(gn));
        return STEP_DIVERGED;
    }
    if (timed) t[4] = io_now_s();
    // clipping happens inside the optimizer's pass (bit for bit clip_grad's scaling)
    optim_step_scaled(opt, m->params, m->grads, r->lr, clip_factor(gn, c->train_clip));
    model_update_bias(m);
    if (timed) {
        t[5] = io_now_s();
        for (int p = 0; p < PHASE_COUNT; p++) phase_s[p] = t[p + 1] - t[p];
    }
    return STEP_OK;
}
