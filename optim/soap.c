// soap.c — SOAP (Vyas et al. 2024, "SOAP: Improving and Stabilizing Shampoo using Adam") on one
// matrix: Adam run in the eigenbasis of Shampoo's left and right statistics L = EMA(G Gᵀ) and
// R = EMA(Gᵀ G), the basis recomputed every precondition_every steps. An expert stack is count
// separate matrices, each with its own L, R and bases (optim_step runs them in parallel, one per
// thread, like Muon's). The products run through nn/gemm.c in float; the eigenbases come from the
// project's Jacobi solver (nn/jacobi_psd.c) in double. Nothing is allocated: the workspace is
// the optimizer's per-thread scratch slot.
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "../nn/gemm.h"
#include "../nn/jacobi_psd.h"

// floats: G, T, P (rows x cols each), S (n x n, n = max(rows, cols): QRᵀ, then G Gᵀ and Gᵀ G);
// doubles: soap_eigenbasis's; ints: n (the solver's sort order).
void soap_scratch(int rows, int cols, size_t *floats, size_t *doubles, size_t *ints) {
    const size_t r = (size_t)rows, c = (size_t)cols, n = r > c ? r : c;
    *floats = 3 * r * c + n * n;
    *doubles = 4 * n * n + n + jacobi_psd_work((int)n);
    *ints = n;
}

// C = Aᵀ B (trans_a) or A B for n x n double matrices, sums over k ascending.
static void dmul(double *C, const double *A, const double *B, int n, int trans_a) {
    for (int i = 0; i < n; i++) {
        double *ci = C + (size_t)i * n;
        for (int j = 0; j < n; j++) ci[j] = 0.0;
        for (int k = 0; k < n; k++) {
            const double a = trans_a ? A[(size_t)k * n + i] : A[(size_t)i * n + k];
            const double *bk = B + (size_t)k * n;
            for (int j = 0; j < n; j++) ci[j] += a * bk[j];
        }
    }
}

void soap_eigenbasis(float *Q, const float *S, int n, int warm, double *dscratch, int *iscratch) {
    const size_t nn = (size_t)n * (size_t)n;
    double *A = dscratch, *V = A + nn, *Qd = V + nn, *T = Qd + nn, *w = T + nn, *work = w + n;
    // symmetric to the last bit whatever rounding the float products left
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            A[(size_t)i * n + j] = 0.5 * ((double)S[(size_t)i * n + j] + (double)S[(size_t)j * n + i]);
    if (warm) {
        // In the previous basis S is nearly diagonal (the statistics moved little since), so
        // Jacobi needs a few sweeps instead of a dozen: S = Q (Qᵀ S Q) Qᵀ, and the eigenvectors of
        // S are Q times those of Qᵀ S Q.
        for (size_t k = 0; k < nn; k++) Qd[k] = (double)Q[k];
        dmul(T, A, Qd, n, 0);   // S Q
        dmul(A, Qd, T, n, 1);   // Qᵀ S Q
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                A[(size_t)i * n + j] = A[(size_t)j * n + i] = 0.5 * (A[(size_t)i * n + j] + A[(size_t)j * n + i]);
    }
    jacobi_psd(w, V, A, n, work, iscratch);  // not converged after 100 sweeps: its best estimate
    if (warm) {
        dmul(T, Qd, V, n, 0);  // Q V
        for (size_t k = 0; k < nn; k++) Q[k] = (float)T[k];
    } else {
        for (size_t k = 0; k < nn; k++) Q[k] = (float)V[k];
    }
}

void soap_update_matrix(float *w, const float *g, float *m, float *v, float *L, float *R, float *QL, float *QR,
                        int rows, int cols, int decay, const OptimConfig *cfg, double lr, long t, float *scratch,
                        double *dscratch, int *iscratch, float gscale) {
    const int r = rows, c = cols;
    const size_t mn = (size_t)r * (size_t)c;
    float *G = scratch, *T = G + mn, *P = T + mn, *S = P + mn;
    for (size_t k = 0; k < mn; k++) G[k] = g[k] * gscale;
    if (t > 1) {  // the first step only sets the bases up (below)
        const long s = t - 1;  // Adam's step
        const float b1 = (float)cfg->soap_beta1, b2 = (float)cfg->soap_beta2, eps = (float)cfg->eps;
        // G' = QLᵀ G QR (QLᵀ read by strides), into P; the moments: M in the parameter's basis,
        // V in the eigenbasis
        gemm(T, (size_t)c, QL, 1, (size_t)r, G, (size_t)c, r, c, r, 0);
        gemm(P, (size_t)c, T, (size_t)c, 1, QR, (size_t)c, r, c, c, 0);
        for (size_t k = 0; k < mn; k++) {
            m[k] = b1 * m[k] + (1.0f - b1) * G[k];
            v[k] = b2 * v[k] + (1.0f - b2) * P[k] * P[k];
        }
        // M' = QLᵀ M QR;  N' = M' / (√V + eps)
        gemm(T, (size_t)c, QL, 1, (size_t)r, m, (size_t)c, r, c, r, 0);
        gemm(P, (size_t)c, T, (size_t)c, 1, QR, (size_t)c, r, c, c, 0);
        for (size_t k = 0; k < mn; k++) P[k] = P[k] / (sqrtf(v[k]) + eps);
        // N = QL N' QRᵀ (QRᵀ copied: gemm reads its right operand plainly)
        gemm(T, (size_t)c, QL, (size_t)r, 1, P, (size_t)c, r, c, r, 0);
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++) S[(size_t)i * c + j] = QR[(size_t)j * c + i];
        gemm(P, (size_t)c, T, (size_t)c, 1, S, (size_t)c, r, c, c, 0);
        // Adam's bias corrections folded into the step (the official implementation's form)
        const float step = (float)(lr * sqrt(1.0 - pow(cfg->soap_beta2, (double)s)) / (1.0 - pow(cfg->soap_beta1, (double)s)));
        const float keep = decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
        for (size_t k = 0; k < mn; k++) w[k] = w[k] * keep - step * P[k];
    }
    // L = β L + (1-β) G Gᵀ;  R = β R + (1-β) Gᵀ G  (T = Gᵀ for the first product)
    const float be = (float)cfg->soap_beta2, one = 1.0f - be;
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) T[(size_t)j * r + i] = G[(size_t)i * c + j];
    gemm(S, (size_t)r, G, (size_t)c, 1, T, (size_t)r, r, r, c, 0);
    for (size_t k = 0; k < (size_t)r * r; k++) L[k] = be * L[k] + one * S[k];
    gemm(S, (size_t)c, G, 1, (size_t)c, G, (size_t)c, c, c, r, 0);
    for (size_t k = 0; k < (size_t)c * c; k++) R[k] = be * R[k] + one * S[k];
    // the bases: set up at the first step, then recomputed after every precondition_every-th
    // Adam step (they serve from the next step on), from the previous basis (warm)
    if (t == 1 || (t - 1) % cfg->precondition_every == 0) {
        soap_eigenbasis(QL, L, r, t > 1, dscratch, iscratch);
        soap_eigenbasis(QR, R, c, t > 1, dscratch, iscratch);
    }
}
