// attention.c — causal multi-head self-attention on a fused qkv matrix (no biases). The
// projections around it (Wqkv, Wo) are plain matmuls done by the block. Each (sequence, head)
// pair is one iteration that owns its outputs; its four products go through gemm (single-
// threaded inside the parallel loop), computing the full T x T square and masking the future.
#include <math.h>
#include <string.h>
#include "layers.h"
#include "gemm.h"

size_t attention_scratch(int B, int T, int D, int H) {
    return (size_t)B * H * ((size_t)T * T + (size_t)(D / H) * T);
}

// kt[Dh x T] = the head's columns of rows 0..T-1 (stride 3D), transposed
static void transpose_head(real *kt, const real *x, int T, int D, int Dh) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < Dh; i++) kt[(size_t)i * T + t] = x[(size_t)t * 3 * D + i];
}

void attention_forward(real *o, real *p, const real *qkv, real *scratch, int B, int T, int D, int H) {
    // qkv: N x 3D; p: B x H x T x T (row t holds s <= t, the rest 0); o: N x D
    int Dh = D / H;
    real scale = (real)(1.0 / sqrt((double)Dh));
    size_t per = (size_t)T * T + (size_t)Dh * T;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B * H > 1)
#endif
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *q = qkv + (size_t)b * T * 3 * D + h * Dh, *k = q + D, *v = q + 2 * D;
        real *pr = p + (size_t)bh * T * T;                     // T x T scores, then probabilities
        real *kt = scratch + (size_t)bh * per + (size_t)T * T; // Dh x T
        transpose_head(kt, k, T, D, Dh);
        gemm(pr, (size_t)T, q, (size_t)3 * D, 1, kt, (size_t)T, T, T, Dh, 0);   // S = Q·Kᵀ
        for (int t = 0; t < T; t++) {
            real *row = pr + (size_t)t * T, mx = -INFINITY, sum = 0;
            for (int s = 0; s <= t; s++) { row[s] *= scale; mx = row[s] > mx ? row[s] : mx; }
            for (int s = 0; s <= t; s++) row[s] = softmax_exp(row[s] - mx);
            for (int s = 0; s <= t; s++) sum += row[s];
            real inv = 1 / sum;
            for (int s = 0; s <= t; s++) row[s] *= inv;
            for (int s = t + 1; s < T; s++) row[s] = 0;          // causal mask
        }
        gemm(o + (size_t)b * T * D + h * Dh, (size_t)D, pr, (size_t)T, 1, v, (size_t)3 * D, T, Dh, T, 0);  // O = P·V
    }
}

void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *p, real *scratch,
                        int B, int T, int D, int H) {
    int Dh = D / H;
    real scale = (real)(1.0 / sqrt((double)Dh));
    size_t per = (size_t)T * T + (size_t)Dh * T;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B * H > 1)
#endif
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *q = qkv + (size_t)b * T * 3 * D + h * Dh, *k = q + D, *v = q + 2 * D;
        real *dq = dqkv + (size_t)b * T * 3 * D + h * Dh, *dk = dq + D, *dv = dq + 2 * D;
        const real *go = dout + (size_t)b * T * D + h * Dh;      // T x Dh, row stride D
        const real *pr = p + (size_t)bh * T * T;
        real *ds = scratch + (size_t)bh * per;                  // T x T: dL/dP, then dL/dS
        real *vt = ds + (size_t)T * T;                          // Dh x T
        transpose_head(vt, v, T, D, Dh);
        gemm(ds, (size_t)T, go, (size_t)D, 1, vt, (size_t)T, T, T, Dh, 0);           // dP = dO·Vᵀ
        gemm(dv, (size_t)3 * D, pr, 1, (size_t)T, go, (size_t)D, T, Dh, T, 1);       // dV += Pᵀ·dO
        for (int t = 0; t < T; t++) {                           // softmax backward, scaled
            const real *prow = pr + (size_t)t * T;
            real *row = ds + (size_t)t * T, dot = 0;
            for (int s = 0; s <= t; s++) dot += prow[s] * row[s];
            for (int s = 0; s <= t; s++) row[s] = prow[s] * (row[s] - dot) * scale;
            for (int s = t + 1; s < T; s++) row[s] = 0;
        }
        gemm(dq, (size_t)3 * D, ds, (size_t)T, 1, k, (size_t)3 * D, T, Dh, T, 1);    // dQ += dS·K
        gemm(dk, (size_t)3 * D, ds, 1, (size_t)T, q, (size_t)3 * D, T, Dh, T, 1);    // dK += dSᵀ·Q
    }
}
