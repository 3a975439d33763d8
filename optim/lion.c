// lion.c — Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2)
// on one slice of the flat arrays: the update is the sign of an interpolation of momentum and
// gradient, so every element moves by exactly lr (or 0), whatever the gradient's scale.
// Element-wise in fixed spans, so any thread split gives the same bits.
#include <stddef.h>
#include "optim.h"

#define LION_SPAN 8192
#define LION_OMP_MIN 32768  // below this many elements a parallel loop costs more than it saves

void lion_update(float *w, const float *g, float *m, size_t n, const OptimConfig *cfg, double lr, int decay,
                 float gscale) {
    const float b1 = (float)cfg->lion_beta1, one_minus_b1 = (float)(1.0 - cfg->lion_beta1);
    const float b2 = (float)cfg->lion_beta2, one_minus_b2 = (float)(1.0 - cfg->lion_beta2);
    const float step = (float)lr, keep = decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
    const long long spans = (long long)((n + LION_SPAN - 1) / LION_SPAN);  // signed for OpenMP
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= LION_OMP_MIN)
#endif
    for (long long s = 0; s < spans; s++) {
        const size_t i0 = (size_t)s * LION_SPAN, i1 = n - i0 < LION_SPAN ? n : i0 + LION_SPAN;
        for (size_t i = i0; i < i1; i++) {
            const float gi = g[i] * gscale;
            const float c = b1 * m[i] + one_minus_b1 * gi;
            const float sign = (float)((c > 0.0f) - (c < 0.0f));  // sign(0) = 0: no step
            w[i] = w[i] * keep - step * sign;
            m[i] = b2 * m[i] + one_minus_b2 * gi;
        }
    }
}
