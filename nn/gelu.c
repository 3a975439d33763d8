// gelu.c — GELU, tanh approximation (see layers.h for the formula and its evaluation).
#include <math.h>
#include "layers.h"

void gelu_forward(real *y, const real *x, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
    for (size_t i = 0; i < n; i++) y[i] = gelu_value(x[i]);
}

void gelu_backward(real *dx, const real *dy, const real *x, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * gelu_grad(x[i]);
}

void gelu_backward_inplace(real *d, const real *x, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
    for (size_t i = 0; i < n; i++) d[i] *= gelu_grad(x[i]);
}
