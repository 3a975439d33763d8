// bases.h — known orthonormal bases for the linear-algebra and measurement tests (test_linalg.c,
// test_metrics.c): a Householder reflector's columns, and the |cosine| between two matrices'
// columns to compare eigen- or singular vectors up to sign.
#ifndef MOESIM_TEST_BASES_H
#define MOESIM_TEST_BASES_H

#include <math.h>

// Householder reflector Q = I - 2 u uᵀ / (uᵀu): symmetric and orthogonal, so its columns are a
// known orthonormal basis. Q: n x n.
static inline void householder(double *Q, const double *u, int n) {
    double uu = 0.0;
    for (int i = 0; i < n; i++) uu += u[i] * u[i];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) Q[i * n + j] = (i == j) - 2.0 * u[i] * u[j] / uu;
}

// |cosine| between column a of X (n x n) and column b of Y (n x n).
static inline double col_abs_cos(const double *X, int a, const double *Y, int b, int n) {
    double xy = 0, xx = 0, yy = 0;
    for (int i = 0; i < n; i++) {
        xy += X[i * n + a] * Y[i * n + b]; xx += X[i * n + a] * X[i * n + a]; yy += Y[i * n + b] * Y[i * n + b];
    }
    return fabs(xy) / sqrt(xx * yy);
}

#endif
