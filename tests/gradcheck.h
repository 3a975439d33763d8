// gradcheck.h — central finite differences in double precision (tests/dtest_*.c only).
// A check passes when |analytic − numeric| <= atol + rtol·max(|analytic|, |numeric|) at every
// sampled coordinate, AND the numeric gradient is not ~0 everywhere (a zero gradient cannot pass).
#ifndef MOESIM_GRADCHECK_H
#define MOESIM_GRADCHECK_H

#include <math.h>
#include <stdio.h>
#include "harness.h"
#include "../nn/nn.h"

#define GC_EPS 1e-5
#define GC_RTOL 1e-6
#define GC_ATOL 1e-9
#define GC_FLOOR 1e-6

typedef double (*GcLoss)(void *ctx);

// Checks grad[i] against f's central difference for `samples` coordinates spread over x[0..n).
static void gradcheck(const char *what, real *x, const real *grad, size_t n, GcLoss f, void *ctx, int samples) {
    double max_num = 0, worst = 0;
    size_t worst_i = 0, stride = n > (size_t)samples ? n / samples : 1;
    int bad = 0;
    for (size_t i = (n > 1 ? stride / 2 : 0); i < n; i += stride) {
        real keep = x[i];
        x[i] = keep + GC_EPS; double fp = f(ctx);
        x[i] = keep - GC_EPS; double fm = f(ctx);
        x[i] = keep;
        double num = (fp - fm) / (2 * GC_EPS), ana = grad[i];
        double err = fabs(num - ana), tol = GC_ATOL + GC_RTOL * fmax(fabs(num), fabs(ana));
        if (fabs(num) > max_num) max_num = fabs(num);
        if (err > tol) bad++;
        if (err / (tol) > worst) { worst = err / tol; worst_i = i; }
    }
    CHECK_MSG(bad == 0, "%s: %d coordinates off (worst at %zu: error/tolerance %.3g)", what, bad, worst_i, worst);
    CHECK_MSG(max_num > GC_FLOOR, "%s: numeric gradient ~0 everywhere (max %.3g): the check would be vacuous", what, max_num);
}

#endif
