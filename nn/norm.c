// norm.c — RMSNorm with a learned gain.
#include <math.h>
#include "layers.h"

void rmsnorm_forward(real *y, real *rstd, const real *x, const real *g, int N, int D) {
    // y, x: N x D; rstd: N; g: D
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 256)
#endif
    for (int n = 0; n < N; n++) {
        const real *xr = x + (size_t)n * D;
        real *yr = y + (size_t)n * D;
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        real r = (real)(1.0 / sqrt(ss / D + RMSNORM_EPS));
        rstd[n] = r;
        for (int i = 0; i < D; i++) yr[i] = xr[i] * r * g[i];
    }
}

void rmsnorm_backward(real *dx, real *dg, const real *dy, const real *x, const real *g, const real *rstd, int N, int D) {
    // dx_i = r·(dy_i g_i − x_i · r² · mean_j(dy_j g_j x_j));  dg_i += Σ_n dy_i x_i r
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 256)
#endif
    for (int n = 0; n < N; n++) {
        const real *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
        real *dxr = dx + (size_t)n * D;
        real r = rstd[n];
        double dot = 0;
        for (int i = 0; i < D; i++) dot += (double)dyr[i] * g[i] * xr[i];
        real c = (real)(dot / D) * r * r;
        for (int i = 0; i < D; i++) dxr[i] += r * (dyr[i] * g[i] - xr[i] * c);
    }
    // the gain's gradient sums over tokens: serial over n so the order is fixed
    for (int n = 0; n < N; n++) {
        const real *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
        real r = rstd[n];
        for (int i = 0; i < D; i++) dg[i] += dyr[i] * xr[i] * r;
    }
}
