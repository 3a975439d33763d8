// loss.c — softmax cross-entropy, row-wise.
#include <math.h>
#include "layers.h"

// Rows in batches of CE_BATCH over the threads: each row's loss lands in its own slot, and the
// slots are added in row order, so the total is the same bits for any thread count.
#define CE_BATCH 256

double crossentropy_forward(real *probs, const real *logits, const int32_t *target, int N, int C) {
    // probs, logits: N x C; target: N
    double total = 0;
    for (int n0 = 0; n0 < N; n0 += CE_BATCH) {
        double part[CE_BATCH];
        const int nb = N - n0 < CE_BATCH ? N - n0 : CE_BATCH;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nb > 64 && C >= 64)
#endif
        for (int r = 0; r < nb; r++) {
            const int n = n0 + r;
            const real *z = logits + (size_t)n * C;
            real *p = probs + (size_t)n * C;
            real mx = z[0];
            for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
            for (int c = 0; c < C; c++) p[c] = softmax_exp(z[c] - mx);
            double sum = 0;
            for (int c = 0; c < C; c++) sum += p[c];
            real inv = (real)(1.0 / sum);
            for (int c = 0; c < C; c++) p[c] *= inv;
            int32_t y = target[n];
            part[r] = y >= 0 ? -(z[y] - mx - log(sum)) : 0;  // log-softmax, no log(0)
        }
        for (int r = 0; r < nb; r++) total += part[r];  // row order
    }
    return total;
}

double crossentropy_row(const real *z, int C, int32_t y) {
    double mx = z[0], se = 0;
    for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
    for (int c = 0; c < C; c++) se += exp((double)z[c] - mx);
    return log(se) - ((double)z[y] - mx);
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
