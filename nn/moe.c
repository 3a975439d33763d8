// moe.c — router, top-K, gates, dispatch, experts and combine (see moe.h for the data flow).
#include <math.h>
#include <string.h>
#include "moe.h"
#include "gemm.h"
#include "layers.h"
#include "model_types.h"
#include "reduce.h"

// ---- router scores ----------------------------------------------------------------------------

void router_scores_forward(real *s, real *p, const real *z, int N, int E, int score) {
    // z, s, p: N x E
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 1024)
#endif
    for (int n = 0; n < N; n++) {
        const real *zr = z + (size_t)n * E;
        real *sr = s + (size_t)n * E, *pr = p + (size_t)n * E;
        if (score == SCORE_SOFTMAX) {
            real mx = zr[0];
            for (int e = 1; e < E; e++) mx = zr[e] > mx ? zr[e] : mx;
            real sum = 0;
            for (int e = 0; e < E; e++) sr[e] = softmax_exp(zr[e] - mx);
            for (int e = 0; e < E; e++) sum += sr[e];
            for (int e = 0; e < E; e++) { sr[e] /= sum; pr[e] = sr[e]; }
        } else {
            real sum = 0;
            for (int e = 0; e < E; e++) sr[e] = 1 / (1 + softmax_exp(-zr[e]));
            for (int e = 0; e < E; e++) sum += sr[e];
            for (int e = 0; e < E; e++) pr[e] = sr[e] / sum;
        }
    }
}

void router_scores_backward(real *dz, const real *ds, const real *dp, const real *s, const real *p,
                            int N, int E, int score) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 1024)
#endif
    for (int n = 0; n < N; n++) {
        const real *sr = s + (size_t)n * E, *pr = p + (size_t)n * E, *dsr = ds + (size_t)n * E;
        const real *dpr = dp ? dp + (size_t)n * E : NULL;
        real *dzr = dz + (size_t)n * E;
        if (score == SCORE_SOFTMAX) {
            // p = s: one softmax Jacobian for both: dz = s ⊙ (g − Σ g⊙s)
            real dot = 0;
            for (int e = 0; e < E; e++) dot += (dsr[e] + (dpr ? dpr[e] : 0)) * sr[e];
            for (int e = 0; e < E; e++) dzr[e] += sr[e] * (dsr[e] + (dpr ? dpr[e] : 0) - dot);
        } else {
            // p = s / Σs: ∂L/∂s_j += (dp_j − Σ_i dp_i p_i) / Σs; then σ' = s(1 − s)
            real sum = 0, dot = 0;
            for (int e = 0; e < E; e++) sum += sr[e];
            if (dpr) for (int e = 0; e < E; e++) dot += dpr[e] * pr[e];
            for (int e = 0; e < E; e++) {
                real g = dsr[e] + (dpr ? (dpr[e] - dot) / sum : 0);
                dzr[e] += g * sr[e] * (1 - sr[e]);
            }
        }
    }
}

// ---- top-K ------------------------------------------------------------------------------------

// The common case (nothing masked, K <= 8): one pass keeping the K best so far in order. A new
// value enters only if strictly greater than a kept one, so on ties the lower index stays ahead,
// exactly as the repeated argmax below. Returns 0 on a NaN score (a diverging run): the caller
// then takes the argmax path, whose choice is always valid.
static int topk_one_pass(int32_t *out, const real *sr, const real *bias, int E, int K) {
    real best[8];
    int idx[8];
    int have = 0;
    for (int e = 0; e < E; e++) {
        real v = sr[e] + (bias ? bias[e] : 0);
        if (v != v) return 0;
        int j = have;                          // v's place among the kept values
        while (j > 0 && v > best[j - 1]) j--;
        if (j >= K) continue;
        int last = have < K ? have : K - 1;    // shift the smaller ones down by one
        for (int t = last; t > j; t--) { best[t] = best[t - 1]; idx[t] = idx[t - 1]; }
        best[j] = v; idx[j] = e;
        if (have < K) have++;
    }
    if (have < K) return 0;
    for (int k = 0; k < K; k++) out[k] = idx[k];
    return 1;
}

void router_topk(int32_t *topk, const real *s, const real *bias, int N, int E, int K, int skip) {
    router_topk_allowed(topk, s, bias, NULL, N, E, K, skip);
}

void router_topk_allowed(int32_t *topk, const real *s, const real *bias, const uint8_t *allowed, int N, int E,
                         int K, int skip) {
    // skip+K passes of an argmax; a strict '>' keeps the lower index on ties. The first `skip`
    // winners are only marked as taken (masked), the next K are the choice. A pruned expert
    // (allowed[e] == 0) is never a candidate, unless every allowed one is already taken: then the
    // lowest-index untaken expert fills the slot, so the output is always K distinct experts.
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 1024)
#endif
    for (int n = 0; n < N; n++) {
        const real *sr = s + (size_t)n * E;
        int32_t *out = topk + (size_t)n * K;
        if (skip == 0 && !allowed && K <= 8 && topk_one_pass(out, sr, bias, E, K)) continue;
        uint64_t masked[16] = {0};  // up to 1024 experts
        for (int k = 0; k < skip + K; k++) {
            int best = -1;
            real bv = 0;
            for (int e = 0; e < E; e++) {
                if (masked[e >> 6] >> (e & 63) & 1) continue;
                if (allowed && !allowed[e]) continue;
                real v = sr[e] + (bias ? bias[e] : 0);
                if (best < 0 || v > bv) { best = e; bv = v; }
            }
            for (int e = 0; best < 0 && e < E; e++)  // no allowed expert left
                if (!(masked[e >> 6] >> (e & 63) & 1)) best = e;
            masked[best >> 6] |= 1ull << (best & 63);
            if (k >= skip) out[k - skip] = best;
        }
    }
}

// ---- gates ------------------------------------------------------------------------------------

void router_gates_forward(real *gate, const real *s, const int32_t *topk, int N, int E, int K, int normalize) {
    for (int n = 0; n < N; n++) {
        const real *sr = s + (size_t)n * E;
        const int32_t *tk = topk + (size_t)n * K;
        real *g = gate + (size_t)n * K, sum = 0;
        for (int k = 0; k < K; k++) { g[k] = sr[tk[k]]; sum += g[k]; }
        if (normalize) for (int k = 0; k < K; k++) g[k] /= sum;
    }
}

void router_gates_backward(real *ds, const real *dgate, const real *s, const real *gate, const int32_t *topk,
                           int N, int E, int K, int normalize) {
    for (int n = 0; n < N; n++) {
        const real *sr = s + (size_t)n * E, *dg = dgate + (size_t)n * K, *g = gate + (size_t)n * K;
        const int32_t *tk = topk + (size_t)n * K;
        real *dsr = ds + (size_t)n * E;
        if (!normalize) {
            for (int k = 0; k < K; k++) dsr[tk[k]] += dg[k];
        } else {
            // g_k = s_k / Σ: ∂L/∂s_j = (dg_j − Σ_k dg_k g_k) / Σ
            real sum = 0, dot = 0;
            for (int k = 0; k < K; k++) { sum += sr[tk[k]]; dot += dg[k] * g[k]; }
            for (int k = 0; k < K; k++) dsr[tk[k]] += (dg[k] - dot) / sum;
        }
    }
}

// ---- dispatch ---------------------------------------------------------------------------------

void moe_dispatch(int32_t *expert_start, int32_t *row_token, int32_t *token_row, const int32_t *topk,
                  int N, int E, int K) {
    // expert_start[e+1] counts expert e's rows, then the prefix sum turns counts into starts
    for (int e = 0; e <= E; e++) expert_start[e] = 0;
    for (size_t i = 0; i < (size_t)N * K; i++) expert_start[topk[i] + 1]++;
    for (int e = 0; e < E; e++) expert_start[e + 1] += expert_start[e];
    // fill in token order with expert_start[e] as expert e's cursor; afterwards each cursor sits
    // at the next expert's start, so shifting by one restores the starts
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            int32_t row = expert_start[topk[(size_t)n * K + k]]++;
            row_token[row] = n;
            token_row[(size_t)n * K + k] = row;
        }
    for (int e = E; e > 0; e--) expert_start[e] = expert_start[e - 1];
    expert_start[0] = 0;
}

// ---- experts ----------------------------------------------------------------------------------

void ffn_forward(real *y, real *hpre, real *hact, const real *x, const real *w1, const real *w2,
                 const real *w1t, const real *w2t, int n, int D, int F, real *wt) {
    if (n == 0) return;
    if (w1t) matmul_forward_t(hpre, x, w1t, n, D, F);
    else matmul_forward(hpre, x, w1, n, D, F, wt);  // [n x F] = x[n x D]·W1[F x D]ᵀ
    gelu_forward(hact, hpre, (size_t)n * F);
    if (w2t) matmul_forward_t(y, hact, w2t, n, F, D);
    else matmul_forward(y, hact, w2, n, F, D, wt);  // [n x D] = hact[n x F]·W2[D x F]ᵀ
}

void ffn_backward(real *dx, real *dw1, real *dw2, const real *dy, const real *x, const real *hpre,
                  const real *w1, const real *w2, int n, int D, int F, real *dhid, int set_w) {
    if (n == 0) {
        if (set_w) {
            memset(dw1, 0, sizeof(real) * (size_t)F * D);
            memset(dw2, 0, sizeof(real) * (size_t)D * F);
        }
        return;
    }
    // gelu(hpre) again instead of keeping it from the forward: N*K*F floats a block saved, for
    // one cheap element-wise pass (the same bits: the same function on the same values)
    gelu_forward(dhid, hpre, (size_t)n * F);                     // hact[n x F], in dhid for now
    if (set_w) matmul_weight_grad_set(dw2, dy, dhid, n, F, D);  // dW2[D x F] = dyᵀ·hact
    else matmul_backward_weight(dw2, dy, dhid, n, F, D);        // dW2[D x F] += dyᵀ·hact
    matmul_input_grad_set(dhid, dy, w2, n, F, D);            // dhact[n x F] = dy·W2
    gelu_backward_inplace(dhid, hpre, (size_t)n * F);        // dhpre = dhact ⊙ gelu'(hpre)
    if (set_w) matmul_weight_grad_set(dw1, dhid, x, n, D, F);  // dW1[F x D] = dhpreᵀ·x
    else matmul_backward_weight(dw1, dhid, x, n, D, F);        // dW1[F x D] += dhpreᵀ·x
    matmul_backward_input(dx, dhid, w1, n, D, F);            // dx[n x D] += dhpre·W1
}

void moe_gather_rows(real *x_rows, const real *u, const int32_t *row_token, int rows, int D) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (rows > 256)
#endif
    for (int r = 0; r < rows; r++)
        memcpy(x_rows + (size_t)r * D, u + (size_t)row_token[r] * D, sizeof(real) * D);
}

void experts_forward(real *y, real *hpre, real *hact, real *x_rows, const real *u, const real *w1,
                     const real *w2, const real *w1t, const real *w2t, const int32_t *expert_start,
                     const int32_t *row_token, int E, int D, int F, real *wt) {
    int rows = expert_start[E];
    moe_gather_rows(x_rows, u, row_token, rows, D);
    // one expert per iteration: each owns its rows, its weights' gradients and its slice of the
    // scratch, and computes alone (the kernels inside run single-threaded when nested), so the
    // result does not depend on which thread takes which expert
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (rows > 256)
#endif
    for (int e = 0; e < E; e++) {
        size_t r0 = (size_t)expert_start[e];
        int n = expert_start[e + 1] - expert_start[e];
        size_t at = (size_t)e * F * D;  // expert e's matrices (and their transposes) in the stacks
        ffn_forward(y + r0 * D, hpre + r0 * F, hact + r0 * F, x_rows + r0 * D, w1 + at, w2 + at,
                    w1t ? w1t + at : NULL, w2t ? w2t + at : NULL, n, D, F, wt + at);
    }
}

void experts_backward(real *dx_rows, real *dw1, real *dw2, const real *dy_rows, const real *x_rows,
                      const real *hpre, const real *w1, const real *w2,
                      const int32_t *expert_start, int E, int D, int F, real *dhid, double *wsq) {
    int rows = expert_start[E];
    memset(dx_rows, 0, sizeof(real) * (size_t)rows * D);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (rows > 256)
#endif
    for (int e = 0; e < E; e++) {
        size_t r0 = (size_t)expert_start[e];
        int n = expert_start[e + 1] - expert_start[e];
        ffn_backward(dx_rows + r0 * D, dw1 + (size_t)e * F * D, dw2 + (size_t)e * D * F, dy_rows + r0 * D,
                     x_rows + r0 * D, hpre + r0 * F, w1 + (size_t)e * F * D,
                     w2 + (size_t)e * D * F, n, D, F, dhid + r0 * F, 1);
        if (wsq)
            wsq[e] = sum_squares_serial(dw1 + (size_t)e * F * D, (size_t)F * D) +
                     sum_squares_serial(dw2 + (size_t)e * D * F, (size_t)D * F);
    }
}

// ---- combine ----------------------------------------------------------------------------------

void moe_combine_forward(real *h, const real *y, const real *gate, const int32_t *token_row, int N, int D, int K) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 256)
#endif
    for (int n = 0; n < N; n++) {
        real *hr = h + (size_t)n * D;
        for (int k = 0; k < K; k++) {
            real g = gate[(size_t)n * K + k];
            const real *yr = y + (size_t)token_row[(size_t)n * K + k] * D;
            for (int i = 0; i < D; i++) hr[i] += g * yr[i];
        }
    }
}

void moe_combine_backward(real *dy_rows, real *dgate, const real *dh, const real *y, const real *gate,
                          const int32_t *token_row, int N, int D, int K) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 256)
#endif
    for (int n = 0; n < N; n++) {
        const real *dhr = dh + (size_t)n * D;
        for (int k = 0; k < K; k++) {
            size_t row = (size_t)token_row[(size_t)n * K + k];
            const real *yr = y + row * D;
            real *dyr = dy_rows + row * D;
            real g = gate[(size_t)n * K + k], dot = 0;
            for (int i = 0; i < D; i++) { dot += dhr[i] * yr[i]; dyr[i] = g * dhr[i]; }
            dgate[(size_t)n * K + k] = dot;
        }
    }
}

void moe_gather_backward(real *du, const real *dx_rows, const int32_t *token_row, int N, int D, int K) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N > 256)
#endif
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            const real *src = dx_rows + (size_t)token_row[(size_t)n * K + k] * D;
            real *dst = du + (size_t)n * D;
            for (int i = 0; i < D; i++) dst[i] += src[i];
        }
}
