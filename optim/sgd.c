// sgd.c — SGD with momentum, optionally Nesterov, with decoupled weight decay, on one slice of the
// flat arrays. Element-wise in fixed spans, so any thread split gives the same bits.
#include <stddef.h>
#include "optim.h"

#define SGD_SPAN 8192
#define SGD_OMP_MIN 32768  // below this many elements a parallel loop costs more than it saves

void sgd_update(float *w, const float *g, float *buf, size_t n, const OptimConfig *cfg, double lr, int decay,
                float gscale) {
    const float mu = (float)cfg->sgd_momentum, step = (float)lr;
    const float keep = decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
    const int nesterov = cfg->sgd_nesterov;
    const long long spans = (long long)((n + SGD_SPAN - 1) / SGD_SPAN);  // signed for OpenMP
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= SGD_OMP_MIN)
#endif
    for (long long s = 0; s < spans; s++) {
        const size_t i0 = (size_t)s * SGD_SPAN, i1 = n - i0 < SGD_SPAN ? n : i0 + SGD_SPAN;
        for (size_t i = i0; i < i1; i++) {
            const float gi = g[i] * gscale;
            const float b = mu * buf[i] + gi;
            buf[i] = b;
            // Nesterov looks one step ahead along the momentum
            const float u = nesterov ? gi + mu * b : b;
            w[i] = w[i] * keep - step * u;
        }
    }
}
