// attention.c — causal multi-head self-attention on a fused qkv matrix (no biases). The
// projections around it (Wqkv, Wo) are plain matmuls done by the block.
#include <math.h>
#include "layers.h"

void attention_forward(real *o, real *p, const real *qkv, int B, int T, int D, int H) {
    // qkv: N x 3D; p: B x H x T x T (row t holds s <= t, the rest 0); o: N x D
    int Dh = D / H;
    real scale = (real)(1.0 / sqrt((double)Dh));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B * H > 1)
#endif
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *base = qkv + (size_t)b * T * 3 * D;
        for (int t = 0; t < T; t++) {
            const real *q = base + (size_t)t * 3 * D + h * Dh;
            real *pr = p + ((size_t)bh * T + t) * T;
            real mx = -INFINITY;
            for (int s = 0; s <= t; s++) {
                const real *k = base + (size_t)s * 3 * D + D + h * Dh;
                real dot = 0;
                for (int i = 0; i < Dh; i++) dot += q[i] * k[i];
                pr[s] = dot * scale;
                if (pr[s] > mx) mx = pr[s];
            }
            real sum = 0;
            for (int s = 0; s <= t; s++) { pr[s] = rexp(pr[s] - mx); sum += pr[s]; }
            real inv = 1 / sum;
            for (int s = 0; s <= t; s++) pr[s] *= inv;
            for (int s = t + 1; s < T; s++) pr[s] = 0;
            real *out = o + ((size_t)b * T + t) * D + h * Dh;
            for (int i = 0; i < Dh; i++) out[i] = 0;
            for (int s = 0; s <= t; s++) {
                const real *v = base + (size_t)s * 3 * D + 2 * D + h * Dh;
                for (int i = 0; i < Dh; i++) out[i] += pr[s] * v[i];
            }
        }
    }
}

void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *p, real *dp_row,
                        int B, int T, int D, int H) {
    // Each (b, h) pair owns its slice of dqkv (its sequence's rows, its head's columns).
    int Dh = D / H;
    real scale = (real)(1.0 / sqrt((double)Dh));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B * H > 1)
#endif
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *base = qkv + (size_t)b * T * 3 * D;
        real *dbase = dqkv + (size_t)b * T * 3 * D;
        real *dp = dp_row + (size_t)bh * T;                      // T: dL/dp for one query row
        for (int t = 0; t < T; t++) {
            const real *pr = p + ((size_t)bh * T + t) * T;
            const real *go = dout + ((size_t)b * T + t) * D + h * Dh;
            const real *q = base + (size_t)t * 3 * D + h * Dh;
            real *dq = dbase + (size_t)t * 3 * D + h * Dh;
            // dp_s = go·v_s;  dv_s += p_s go
            real pdp = 0;
            for (int s = 0; s <= t; s++) {
                const real *v = base + (size_t)s * 3 * D + 2 * D + h * Dh;
                real *dv = dbase + (size_t)s * 3 * D + 2 * D + h * Dh;
                real d = 0;
                for (int i = 0; i < Dh; i++) { d += go[i] * v[i]; dv[i] += pr[s] * go[i]; }
                dp[s] = d;
                pdp += pr[s] * d;
            }
            // softmax backward, then the score's two inputs
            for (int s = 0; s <= t; s++) {
                real ds = pr[s] * (dp[s] - pdp) * scale;
                const real *k = base + (size_t)s * 3 * D + D + h * Dh;
                real *dk = dbase + (size_t)s * 3 * D + D + h * Dh;
                for (int i = 0; i < Dh; i++) { dq[i] += ds * k[i]; dk[i] += ds * q[i]; }
            }
        }
    }
}
