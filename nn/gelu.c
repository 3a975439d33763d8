// gelu.c — GELU, tanh approximation (see layers.h for the formula and its evaluation).
//
// The loops run over fixed spans of GELU_SPAN elements, each span through the copy of the body
// compiled for this CPU's vector width (simd.h). Spans, not threads, decide where vector code
// and scalar remainders meet, so the bits never depend on the thread count.
#include <math.h>
#include "layers.h"
#include "simd.h"

#define GELU_SPAN 4096
#define GELU_OMP_MIN 65536  // below this a parallel loop costs more than it saves

static inline void gelu_fwd_span_body(real *y, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = gelu_value(x[i]);
}
static inline void gelu_bwd_span_body(real *dx, const real *dy, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * gelu_grad(x[i]);
}
static inline void gelu_bwd_inplace_span_body(real *d, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] *= gelu_grad(x[i]);
}
SIMD_VARIANTS(gelu_fwd_span, (real *y, const real *x, size_t n), (y, x, n))
SIMD_VARIANTS(gelu_bwd_span, (real *dx, const real *dy, const real *x, size_t n), (dx, dy, x, n))
SIMD_VARIANTS(gelu_bwd_inplace_span, (real *d, const real *x, size_t n), (d, x, n))

static size_t span_len(size_t n, size_t s) { return n - s * GELU_SPAN < GELU_SPAN ? n - s * GELU_SPAN : GELU_SPAN; }

void gelu_forward(real *y, const real *x, size_t n) {
    const size_t spans = (n + GELU_SPAN - 1) / GELU_SPAN;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > GELU_OMP_MIN)
#endif
    for (size_t s = 0; s < spans; s++)
        gelu_fwd_span(y + s * GELU_SPAN, x + s * GELU_SPAN, span_len(n, s));
}

void gelu_backward(real *dx, const real *dy, const real *x, size_t n) {
    const size_t spans = (n + GELU_SPAN - 1) / GELU_SPAN;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > GELU_OMP_MIN)
#endif
    for (size_t s = 0; s < spans; s++)
        gelu_bwd_span(dx + s * GELU_SPAN, dy + s * GELU_SPAN, x + s * GELU_SPAN, span_len(n, s));
}

void gelu_backward_inplace(real *d, const real *x, size_t n) {
    const size_t spans = (n + GELU_SPAN - 1) / GELU_SPAN;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > GELU_OMP_MIN)
#endif
    for (size_t s = 0; s < spans; s++)
        gelu_bwd_inplace_span(d + s * GELU_SPAN, x + s * GELU_SPAN, span_len(n, s));
}
