// gelu.c — GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
#include <math.h>
#include "layers.h"

void gelu_forward(real *y, const real *x, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
    for (size_t i = 0; i < n; i++) {
        real v = x[i];
        y[i] = (real)0.5 * v * (1 + rtanh((real)GELU_C * (v + (real)0.044715 * v * v * v)));
    }
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
