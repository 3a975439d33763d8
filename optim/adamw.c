// adamw.c — AdamW (Loshchilov & Hutter) on one slice of the flat arrays: decoupled weight decay,
// bias-corrected first and second moments. Element-wise, so any thread split gives the same bits.
#include <math.h>
#include <stddef.h>
#include "optim.h"

// Below this many elements a parallel loop costs more than it saves.
#define ADAMW_OMP_MIN 32768

void adamw_update(float *w, const float *g, float *m, float *v, size_t n,
                  const OptimConfig *cfg, double lr, long t, int decay) {
    const double b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    // Bias correction: m and v start at zero, so early averages are shrunk by 1 - beta^t.
    const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    // Decoupled decay multiplies the weight itself; it never passes through the moments.
    const double keep = decay ? 1.0 - lr * cfg->weight_decay : 1.0;
    const long long nn = (long long)n;  // OpenMP wants a signed loop index
#ifdef _OPENMP
#pragma omp parallel for if (n >= ADAMW_OMP_MIN)
#endif
    for (long long i = 0; i < nn; i++) {  // n
        // Per element in double: the cost is nothing next to the model, and it keeps small
        // steps (lr·m̂/√v̂ ~ 1e-4 of w) from drowning in float rounding before the final store.
        const double gi = g[i];
        const double mi = b1 * m[i] + (1.0 - b1) * gi;
        const double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        m[i] = (float)mi;
        v[i] = (float)vi;
        w[i] = (float)(w[i] * keep - lr * (mi / bc1) / (sqrt(vi / bc2) + eps));
    }
}
