// loss.c — softmax cross-entropy, row-wise.
#include <math.h>
#include "layers.h"

double crossentropy_forward(real *probs, const real *logits, const int32_t *target, int N, int C) {
    // probs, logits: N x C; target: N
    double total = 0;
    for (int n = 0; n < N; n++) {
        const real *z = logits + (size_t)n * C;
        real *p = probs + (size_t)n * C;
        real mx = z[0];
        for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
        double sum = 0;
        for (int c = 0; c < C; c++) { p[c] = rexp(z[c] - mx); sum += p[c]; }
        real inv = (real)(1.0 / sum);
        for (int c = 0; c < C; c++) p[c] *= inv;
        int32_t y = target[n];
        if (y >= 0) total += -(z[y] - mx - log(sum));  // log-softmax, no log(0)
    }
    return total;
}

void crossentropy_backward(real *dlogits, const real *probs, const int32_t *target,
                           int N, int C, real scale) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 256)
#endif
    for (int n = 0; n < N; n++) {
        int32_t y = target[n];
        if (y < 0) continue;
        const real *p = probs + (size_t)n * C;
        real *d = dlogits + (size_t)n * C;
        for (int c = 0; c < C; c++) d[c] += scale * (p[c] - (c == y));
    }
}
