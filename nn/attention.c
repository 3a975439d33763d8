// attention.c — causal multi-head self-attention on a fused qkv matrix (no biases). The
// projections around it (Wqkv, Wo) are plain matmuls done by the block. Each (sequence, head)
// pair is one iteration that owns its outputs; its products go through gemm (single-threaded
// inside the parallel loop).
//
// Blocked over the queries: ATT_ROWS query rows at a time, their scores against the keys up to
// the block's last row only (the causal mask: the keys after it are all masked), the softmax,
// and P·V while the rows are in cache; the backward likewise. Every kept element is the same sum
// in the same order as in the full T x T square (attention_forward_ref, below): the scores'
// product runs the kernel the full width would (gemm_cols), and the products over keys or
// queries only leave out terms whose probability is exactly 0, so the bits are the same (up to
// the sign of an exact zero sum). It also nearly halves the products' work
// (5/8 of the square at T = 256, 17/32 at T = 1024).
#include <math.h>
#include <string.h>
#include "layers.h"
#include "gemm.h"

// 64 rows x T = 1024 keys of probabilities and of their gradient: 2 x 256 KiB, within a 1 MiB L2.
// A block's keys end at a multiple of it, as gemm_cols needs (or at T).
#define ATT_ROWS 64
_Static_assert(ATT_ROWS % GEMM_COLS_STEP == 0, "attention's blocks end where gemm_cols keeps the bits");

static int att_rows(int T) { return T < ATT_ROWS ? T : ATT_ROWS; }

size_t attention_scratch(int B, int T, int D, int H) {
    // per (b, h): a block of rows of the scores' gradient, and Kᵀ or Vᵀ
    return (size_t)B * H * ((size_t)att_rows(T) * T + (size_t)(D / H) * T);
}

double attention_work_fraction(int T) {
    double kept = 0;  // Σ over the blocks: rows × keys up to the block's end
    for (int t0 = 0; t0 < T; t0 += att_rows(T)) {
        int t1 = t0 + att_rows(T) < T ? t0 + att_rows(T) : T;
        kept += (double)(t1 - t0) * t1;
    }
    return T > 0 ? kept / ((double)T * T) : 0;
}

size_t attention_scratch_ref(int B, int T, int D, int H) {
    return (size_t)B * H * ((size_t)T * T + (size_t)(D / H) * T);
}

// kt[Dh x T] = the head's columns of rows 0..T-1 (stride 3D), transposed
static void transpose_head(real *kt, const real *x, int T, int D, int Dh) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < Dh; i++) kt[(size_t)i * T + t] = x[(size_t)t * 3 * D + i];
}

// Row t of the scores (keys 0..t) → probabilities, in place; keys t+1..n-1 set to 0.
static inline void softmax_row(real *row, int t, int n, real scale) {
    real mx = -INFINITY, sum = 0;
    for (int s = 0; s <= t; s++) { row[s] *= scale; mx = row[s] > mx ? row[s] : mx; }
    for (int s = 0; s <= t; s++) row[s] = softmax_exp(row[s] - mx);
    for (int s = 0; s <= t; s++) sum += row[s];
    real inv = 1 / sum;
    for (int s = 0; s <= t; s++) row[s] *= inv;
    for (int s = t + 1; s < n; s++) row[s] = 0;  // causal mask
}

// Row t of dL/dP (keys 0..t) → dL/dS, scaled, in place; keys t+1..n-1 set to 0.
static inline void softmax_row_backward(real *row, const real *prow, int t, int n, real scale) {
    real dot = 0;
    for (int s = 0; s <= t; s++) dot += prow[s] * row[s];
    for (int s = 0; s <= t; s++) row[s] = prow[s] * (row[s] - dot) * scale;
    for (int s = t + 1; s < n; s++) row[s] = 0;
}

void attention_forward(real *o, real *p, const real *qkv, real *scratch, int B, int T, int D, int H) {
    // qkv: N x 3D; p: B x H x T x T (row t holds keys s <= t, 0 up to its block's last row, and
    // the keys after that are not written); o: N x D
    int Dh = D / H, R = att_rows(T);
    real scale = (real)(1.0 / sqrt((double)Dh));
    size_t per = (size_t)R * T + (size_t)Dh * T;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B * H > 1)
#endif
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *q = qkv + (size_t)b * T * 3 * D + h * Dh, *k = q + D, *v = q + 2 * D;
        real *pr = p + (size_t)bh * T * T;                     // T x T scores, then probabilities
        real *kt = scratch + (size_t)bh * per + (size_t)R * T; // Dh x T
        transpose_head(kt, k, T, D, Dh);
        for (int t0 = 0; t0 < T; t0 += R) {
            int t1 = t0 + R < T ? t0 + R : T, rows = t1 - t0;  // queries t0..t1-1 see keys 0..t1-1
            real *pb = pr + (size_t)t0 * T;
            gemm_cols(pb, (size_t)T, q + (size_t)t0 * 3 * D, (size_t)3 * D, 1, kt, (size_t)T, rows, t1, Dh, 0, T);
            for (int t = t0; t < t1; t++) softmax_row(pr + (size_t)t * T, t, t1, scale);
            gemm(o + ((size_t)b * T + t0) * D + h * Dh, (size_t)D, pb, (size_t)T, 1, v, (size_t)3 * D,
                 rows, Dh, t1, 0);                                                      // O = P·V
        }
    }
}

void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *p, real *scratch,
                        int B, int T, int D, int H) {
    int Dh = D / H, R = att_rows(T);
    real scale = (real)(1.0 / sqrt((double)Dh));
    size_t per = (size_t)R * T + (size_t)Dh * T;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B * H > 1)
#endif
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *q = qkv + (size_t)b * T * 3 * D + h * Dh, *k = q + D, *v = q + 2 * D;
        real *dq = dqkv + (size_t)b * T * 3 * D + h * Dh, *dk = dq + D, *dv = dq + 2 * D;
        const real *go = dout + (size_t)b * T * D + h * Dh;      // T x Dh, row stride D
        const real *pr = p + (size_t)bh * T * T;
        real *ds = scratch + (size_t)bh * per;                  // R x T: dL/dP, then dL/dS
        real *vt = ds + (size_t)R * T;                          // Dh x T
        transpose_head(vt, v, T, D, Dh);
        for (int t0 = 0; t0 < T; t0 += R) {
            int t1 = t0 + R < T ? t0 + R : T, rows = t1 - t0;
            const real *pb = pr + (size_t)t0 * T, *gob = go + (size_t)t0 * D, *qb = q + (size_t)t0 * 3 * D;
            gemm_cols(ds, (size_t)T, gob, (size_t)D, 1, vt, (size_t)T, rows, t1, Dh, 0, T);  // dP = dO·Vᵀ
            gemm(dv, (size_t)3 * D, pb, 1, (size_t)T, gob, (size_t)D, t1, Dh, rows, 1);      // dV += Pᵀ·dO
            for (int t = t0; t < t1; t++)                        // softmax backward, scaled
                softmax_row_backward(ds + (size_t)(t - t0) * T, pr + (size_t)t * T, t, t1, scale);
            gemm(dq + (size_t)t0 * 3 * D, (size_t)3 * D, ds, (size_t)T, 1, k, (size_t)3 * D, rows, Dh, t1, 1); // dQ += dS·K
            gemm(dk, (size_t)3 * D, ds, 1, (size_t)T, qb, (size_t)3 * D, t1, Dh, rows, 1);    // dK += dSᵀ·Q
        }
    }
}

// ---- the plain references: the full T x T square, masked afterwards (the tests compare bits) ----

void attention_forward_ref(real *o, real *p, const real *qkv, real *scratch, int B, int T, int D, int H) {
    int Dh = D / H;
    real scale = (real)(1.0 / sqrt((double)Dh));
    size_t per = (size_t)T * T + (size_t)Dh * T;
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *q = qkv + (size_t)b * T * 3 * D + h * Dh, *k = q + D, *v = q + 2 * D;
        real *pr = p + (size_t)bh * T * T;
        real *kt = scratch + (size_t)bh * per + (size_t)T * T;
        transpose_head(kt, k, T, D, Dh);
        gemm(pr, (size_t)T, q, (size_t)3 * D, 1, kt, (size_t)T, T, T, Dh, 0);   // S = Q·Kᵀ
        for (int t = 0; t < T; t++) softmax_row(pr + (size_t)t * T, t, T, scale);
        gemm(o + (size_t)b * T * D + h * Dh, (size_t)D, pr, (size_t)T, 1, v, (size_t)3 * D, T, Dh, T, 0);  // O = P·V
    }
}

void attention_backward_ref(real *dqkv, const real *dout, const real *qkv, const real *p, real *scratch,
                            int B, int T, int D, int H) {
    int Dh = D / H;
    real scale = (real)(1.0 / sqrt((double)Dh));
    size_t per = (size_t)T * T + (size_t)Dh * T;
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        const real *q = qkv + (size_t)b * T * 3 * D + h * Dh, *k = q + D, *v = q + 2 * D;
        real *dq = dqkv + (size_t)b * T * 3 * D + h * Dh, *dk = dq + D, *dv = dq + 2 * D;
        const real *go = dout + (size_t)b * T * D + h * Dh;
        const real *pr = p + (size_t)bh * T * T;
        real *ds = scratch + (size_t)bh * per;
        real *vt = ds + (size_t)T * T;
        transpose_head(vt, v, T, D, Dh);
        gemm(ds, (size_t)T, go, (size_t)D, 1, vt, (size_t)T, T, T, Dh, 0);           // dP = dO·Vᵀ
        gemm(dv, (size_t)3 * D, pr, 1, (size_t)T, go, (size_t)D, T, Dh, T, 1);       // dV += Pᵀ·dO
        for (int t = 0; t < T; t++) softmax_row_backward(ds + (size_t)t * T, pr + (size_t)t * T, t, T, scale);
        gemm(dq, (size_t)3 * D, ds, (size_t)T, 1, k, (size_t)3 * D, T, Dh, T, 1);    // dQ += dS·K
        gemm(dk, (size_t)3 * D, ds, 1, (size_t)T, q, (size_t)3 * D, T, Dh, T, 1);    // dK += dSᵀ·Q
    }
}
