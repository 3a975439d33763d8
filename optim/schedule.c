// schedule.c — the learning-rate schedule and global gradient-norm clipping.
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "../nn/simd.h"

// pi, spelled out: M_PI is not part of C11.
#define SCHED_PI 3.14159265358979323846

double schedule_lr(int schedule, double lr, int step, int steps, int warmup, double min_ratio) {
    if (schedule == SCHEDULE_CONSTANT) return lr;
    // An unknown schedule returns NaN rather than a guess: the trainer's NaN guard stops the run
    // at once instead of training with a made-up learning rate (the config validator rejects
    // such values before this point anyway).
    if (schedule != SCHEDULE_COSINE) return NAN;
    // Linear warm-up: lr/warmup, 2·lr/warmup, ..., lr at step warmup - 1 (never 0 at step 0).
    if (step < warmup) return lr * (double)(step + 1) / (double)warmup;
    // Cosine from lr at step `warmup` to lr*min_ratio at the last step, steps - 1.
    const double floor_lr = lr * min_ratio;
    const int span = steps - 1 - warmup;
    double progress = span > 0 ? (double)(step - warmup) / (double)span : 1.0;
    if (progress > 1.0) progress = 1.0;  // steps past the end stay on the floor
    return floor_lr + 0.5 * (lr - floor_lr) * (1.0 + cos(SCHED_PI * progress));
}

// Fixed-size chunks, each summed in double over GN_LANES interleaved partial sums (lane j takes
// elements j, j + GN_LANES, ...; the lanes are then added in lane order), chunk sums added in
// chunk order: the grouping depends only on n, never on the thread count or the vector width the
// loop compiles to, so the norm is the same bits for any OMP_NUM_THREADS. The lanes break the
// chain of dependent additions a single running sum would wait on. Chunks are processed GN_BATCH
// at a time so the partial sums fit on the stack (no allocation).
#define GN_CHUNK 4096
#define GN_BATCH 64
#define GN_LANES 8

static inline void chunk_sumsq_body(double *out, const float *g, size_t n) {
    double acc[GN_LANES] = {0};
    size_t i = 0;
    for (; i + GN_LANES <= n; i += GN_LANES)
        for (int j = 0; j < GN_LANES; j++) acc[j] += (double)g[i + j] * (double)g[i + j];
    for (int j = 0; i + (size_t)j < n; j++) acc[j] += (double)g[i + j] * (double)g[i + j];
    double s = 0.0;
    for (int j = 0; j < GN_LANES; j++) s += acc[j];
    *out = s;
}
SIMD_VARIANTS(chunk_sumsq, (double *out, const float *g, size_t n), (out, g, n))

double grad_norm(const float *g, size_t n) {
    const size_t nchunks = (n + GN_CHUNK - 1) / GN_CHUNK;
    double total = 0.0;
    for (size_t c0 = 0; c0 < nchunks; c0 += GN_BATCH) {
        double part[GN_BATCH];
        const int nb = (int)(nchunks - c0 < GN_BATCH ? nchunks - c0 : GN_BATCH);
#ifdef _OPENMP
#pragma omp parallel for if (nb > 1)
#endif
        for (int b = 0; b < nb; b++) {  // chunks of this batch; each thread owns part[b]
            const size_t lo = (c0 + (size_t)b) * GN_CHUNK;
            const size_t hi = lo + GN_CHUNK < n ? lo + GN_CHUNK : n;
            chunk_sumsq(&part[b], g + lo, hi - lo);
        }
        for (int b = 0; b < nb; b++) total += part[b];  // chunk order
    }
    return sqrt(total);
}

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
