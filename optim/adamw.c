// adamw.c — AdamW (Loshchilov & Hutter) on one slice of the flat arrays: decoupled weight decay,
// bias-corrected first and second moments. Element-wise, in fixed spans through the copy of the
// loop compiled for this CPU's vector width (nn/simd.h), so any thread split gives the same bits.
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "../nn/simd.h"

#define ADAMW_SPAN 8192
#define ADAMW_OMP_MIN 32768  // below this many elements a parallel loop costs more than it saves

// The per-step constants, folded once: w ← w·keep − step·m / (√v·inv_sqrt_bc2 + eps) is
// w·keep − lr·(m/bc1) / (√(v/bc2) + eps) with the bias corrections moved out of the loop.
// gscale: the gradient clipping factor, applied as the gradient is read.
typedef struct { float b1, one_minus_b1, b2, one_minus_b2, keep, step, inv_sqrt_bc2, eps, gscale; } AdamwCoef;

static inline void adamw_span_body(float *w, const float *g, float *m, float *v, size_t n, const AdamwCoef *cp) {
    const AdamwCoef c = *cp;  // a local copy: stores through w cannot alias it
    for (size_t i = 0; i < n; i++) {  // n
        const float gi = g[i] * c.gscale;
        const float mi = c.b1 * m[i] + c.one_minus_b1 * gi;
        const float vi = c.b2 * v[i] + c.one_minus_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * c.keep - c.step * mi / (sqrtf(vi) * c.inv_sqrt_bc2 + c.eps);
    }
}
SIMD_VARIANTS(adamw_span, (float *w, const float *g, float *m, float *v, size_t n, const AdamwCoef *c),
              (w, g, m, v, n, c))

void adamw_update(float *w, const float *g, float *m, float *v, size_t n,
                  const OptimConfig *cfg, double lr, long t, int decay) {
    adamw_update_scaled(w, g, m, v, n, cfg, lr, t, decay, 1.0f);
}

void adamw_update_scaled(float *w, const float *g, float *m, float *v, size_t n,
                         const OptimConfig *cfg, double lr, long t, int decay, float gscale) {
    const double b1 = cfg->beta1, b2 = cfg->beta2;
    // Bias correction: m and v start at zero, so early averages are shrunk by 1 - beta^t.
    const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    // Decoupled decay multiplies the weight itself; it never passes through the moments.
    const AdamwCoef c = {(float)b1, (float)(1.0 - b1), (float)b2, (float)(1.0 - b2),
                         decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f, (float)(lr / bc1),
                         (float)(1.0 / sqrt(bc2)), (float)cfg->eps, gscale};
    const long long spans = (long long)((n + ADAMW_SPAN - 1) / ADAMW_SPAN);  // signed for OpenMP
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= ADAMW_OMP_MIN)
#endif
    for (long long s = 0; s < spans; s++) {
        const size_t i0 = (size_t)s * ADAMW_SPAN, len = n - i0 < ADAMW_SPAN ? n - i0 : ADAMW_SPAN;
        adamw_span(w + i0, g + i0, m + i0, v + i0, len, &c);
    }
}
