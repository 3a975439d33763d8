// schedule.c — the learning-rate schedule and global gradient-norm clipping.
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "../nn/reduce.h"

// pi, spelled out: M_PI is not part of C11.
#define SCHED_PI 3.14159265358979323846

double schedule_lr(int schedule, double lr, int step, int steps, int warmup, double min_ratio) {
    // An unknown schedule returns NaN rather than a guess: the trainer's NaN guard stops the run
    // at once instead of training with a made-up learning rate (the config validator rejects
    // such values before this point anyway).
    if (schedule != SCHEDULE_CONSTANT && schedule != SCHEDULE_COSINE) return NAN;
    // Linear warm-up, before either schedule: lr/warmup, 2·lr/warmup, ..., lr at step warmup - 1
    // (never 0 at step 0).
    if (step < warmup) return lr * (double)(step + 1) / (double)warmup;
    if (schedule == SCHEDULE_CONSTANT) return lr;
    // Cosine from lr at step `warmup` to lr*min_ratio at the last step, steps - 1.
    const double floor_lr = lr * min_ratio;
    const int span = steps - 1 - warmup;
    double progress = span > 0 ? (double)(step - warmup) / (double)span : 1.0;
    if (progress > 1.0) progress = 1.0;  // steps past the end stay on the floor
    return floor_lr + 0.5 * (lr - floor_lr) * (1.0 + cos(SCHED_PI * progress));
}

// In a fixed order, so the same bits for any OMP_NUM_THREADS (nn/reduce.c).
double grad_norm(const float *g, size_t n) { return sqrt(sum_squares(g, n)); }

double clip_factor(double norm, double max_norm) {
    // !(norm > max_norm) also leaves a NaN norm alone: the trainer reports NaN as divergence,
    // and scaling by NaN would only hide where it came from.
    if (max_norm <= 0 || !(norm > max_norm)) return 1.0;
    // The 1e-6 (as in PyTorch) keeps the clipped norm at or just below max_norm despite rounding.
    return max_norm / (norm + 1e-6);
}

double clip_grad(float *g, size_t n, double norm, double max_norm) {
    const double f = clip_factor(norm, max_norm);
    if (f == 1.0) return f;
    const float ff = (float)f;
    const long long nn = (long long)n;  // signed for OpenMP
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= 65536)
#endif
    for (long long i = 0; i < nn; i++) g[i] *= ff;  // n
    return f;
}
