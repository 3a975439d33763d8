// linalg_tridiag.c — Householder reduction of a symmetric matrix to tridiagonal form, blocked in
// the manner of LAPACK's dsytrd/dlatrd, and the back-transformation of eigenvectors by the
// Householder vectors (the first and last steps of linalg_eig_tql).
//
// The unblocked reduction reads and writes the whole trailing matrix twice per column (a
// product with it, then a rank-2 update): memory-bound. Here a panel of NB columns is reduced
// with the trailing matrix left as stored: each new row is first corrected by the panel's
// pending updates (A_true = A - V Wᵀ - W Vᵀ), and the product with the trailing matrix uses the
// stored matrix plus the corrections V (Wᵀ v) + W (Vᵀ v). After the panel one rank-2NB update
// through linalg_dgemm_tn (compute-bound). Only the upper triangle is read or kept up to date;
// the product with it (symv_upper) reads each element once.
//
// Determinism: the product's rows are split into a fixed number of chunks (fixed by the size,
// not by the threads), each with its own partial result, summed in chunk order; the update's
// row blocks are each owned by one thread. Results are bitwise the same for any thread count.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "linalg.h"
#include "linalg_internal.h"

enum { NB = 32, SYMV_CH = 16, UB = 64 };

// y = S x for the symmetric m x m S held in its upper triangle (row stride lda; the lower one is
// never read). Rows in SYMV_CH chunks of about equal area (for m >= 256; one chunk below); chunk
// t writes part[t] (m): the dot of each of its rows with x, plus each row's scatter
// S[i][c] x[i] into the entries c > i. part: SYMV_CH x m scratch. Threads only from m = 1024
// (one parallel region per column: below that, on a busy machine, the wait for a descheduled
// thread costs more than the product).
static void symv_upper(double *y, const double *S, size_t lda, const double *x, int m, double *part) {
    const int nch = m >= 256 ? SYMV_CH : 1;
    int bnd[SYMV_CH + 1];
    for (int t = 0; t <= nch; t++) bnd[t] = m - (int)lround(m * sqrt(1.0 - (double)t / nch));
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) if (m >= 1024)
#endif
    for (int t = 0; t < nch; t++) {
        double *p = part + (size_t)t * m;                  // entries bnd[t]..m-1 are written
        const int r0 = bnd[t], r1 = bnd[t + 1];
        memset(p + r0, 0, (size_t)(m - r0) * sizeof(double));
        for (int i = r0; i < r1; i++) {
            const double *a = S + (size_t)i * lda + i;     // row i from the diagonal: m - i
            p[i] += linalg_ddot(a, x + i, (size_t)(m - i));
            linalg_daxpy(p + i + 1, x[i], a + 1, (size_t)(m - i - 1));
        }
    }
    for (int c = 0; c < m; c++) {                          // chunks in order
        double s = 0.0;
        for (int t = 0; t < nch && bnd[t] <= c; t++) s += part[(size_t)t * m + c];
        y[c] = s;
    }
}

int eig_tridiagonalize(double *d, double *e, double *tau, double *A, int n) {
    if (n <= 0) return 0;
    const size_t N = (size_t)n;
    double *W = malloc(NB * N * sizeof(double));           // NB x n: w_j, indexed by column
    double *P = malloc(2 * NB * N * sizeof(double));       // 2b x mt: [V; W] of the panel
    double *Q = malloc(2 * NB * N * sizeof(double));       // 2b x mt: -[W; V]
    double *part = malloc(SYMV_CH * N * sizeof(double));
    double cv[NB], cw[NB];
    if (!W || !P || !Q || !part) { free(W); free(P); free(Q); free(part); return -2; }
    for (int k0 = 0; k0 + 2 < n; k0 += NB) {
        const int b = k0 + NB < n - 2 ? NB : n - 2 - k0;   // reflectors k0..k0+b-1 (the last: n-3)
        for (int j = 0; j < b; j++) {
            const int k = k0 + j, m = n - k - 1;           // m: length of reflector k
            double *row = A + (size_t)k * N;               // row k, columns k..n-1 in use
            // row k of A_true = A - Σ_i (v_i w_iᵀ + w_i v_iᵀ) over the panel's earlier reflectors
            // (v_i = row k0+i of A right of its diagonal, w_i = row i of W; both by column)
            for (int i = 0; i < j; i++) {
                const double *vi = A + (size_t)(k0 + i) * N, *wi = W + (size_t)i * N;
                linalg_daxpy(row + k, -vi[k], wi + k, (size_t)(n - k));
                linalg_daxpy(row + k, -wi[k], vi + k, (size_t)(n - k));
            }
            d[k] = row[k];
            double *x = row + k + 1;                       // x: m, becomes v (v[0] = 1)
            double *w = W + (size_t)j * N + k + 1;         // w: m
            double alpha = x[0], xn2 = linalg_ddot(x + 1, x + 1, (size_t)(m - 1));
            if (xn2 == 0.0) {                              // already reduced: H_k = I
                tau[k] = 0.0; e[k] = alpha; x[0] = 1.0;
                memset(w, 0, (size_t)m * sizeof(double));
                continue;
            }
            double beta = -copysign(sqrt(alpha * alpha + xn2), alpha);
            const double t = (beta - alpha) / beta, sc = 1.0 / (alpha - beta);
            tau[k] = t;
            for (int i = 1; i < m; i++) x[i] *= sc;
            x[0] = 1.0;
            e[k] = beta;
            // w = A_true v = (stored trailing matrix) v - Σ_i v_i (w_i·v) - Σ_i w_i (v_i·v)
            symv_upper(w, A + (size_t)(k + 1) * N + k + 1, N, x, m, part);
            for (int i = 0; i < j; i++) {
                cw[i] = linalg_ddot(W + (size_t)i * N + k + 1, x, (size_t)m);
                cv[i] = linalg_ddot(A + (size_t)(k0 + i) * N + k + 1, x, (size_t)m);
            }
            for (int i = 0; i < j; i++) {
                linalg_daxpy(w, -cw[i], A + (size_t)(k0 + i) * N + k + 1, (size_t)m);
                linalg_daxpy(w, -cv[i], W + (size_t)i * N + k + 1, (size_t)m);
            }
            // w = tau p - (tau/2)(tau pᵀv) v with p = A_true v: then H A H = A - v wᵀ - w vᵀ
            for (int i = 0; i < m; i++) w[i] *= t;
            linalg_daxpy(w, -0.5 * t * linalg_ddot(w, x, (size_t)m), x, (size_t)m);
        }
        // the trailing matrix (rows and columns k1..n-1, upper triangle) -= V Wᵀ + W Vᵀ as
        // C += Pᵀ Q with P = [V; W], Q = -[W; V] (2b x mt), in row blocks of UB from the diagonal
        const int k1 = k0 + b, mt = n - k1;
        for (int i = 0; i < b; i++) {
            const double *vi = A + (size_t)(k0 + i) * N + k1, *wi = W + (size_t)i * N + k1;
            double *pv = P + (size_t)i * mt, *pw = P + (size_t)(b + i) * mt;
            double *qw = Q + (size_t)i * mt, *qv = Q + (size_t)(b + i) * mt;
            for (int c = 0; c < mt; c++) { pv[c] = vi[c]; pw[c] = wi[c]; qw[c] = -wi[c]; qv[c] = -vi[c]; }
        }
        const int nrb = (mt + UB - 1) / UB;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) if ((double)mt * mt * b > 2e6 && nrb > 1)
#endif
        for (int rb = 0; rb < nrb; rb++) {
            const int r0 = rb * UB, r1 = r0 + UB < mt ? r0 + UB : mt;
            linalg_dgemm_tn(A + (size_t)(k1 + r0) * N + k1 + r0, N, P + r0, (size_t)mt, Q + r0, (size_t)mt,
                            r1 - r0, mt - r0, 2 * b, 1);
        }
    }
    if (n >= 2) {
        d[n - 2] = A[(size_t)(n - 2) * N + n - 2];
        e[n - 2] = A[(size_t)(n - 2) * N + n - 1];
        if (n >= 3) tau[n - 2] = 0.0;
    }
    d[n - 1] = A[(size_t)(n - 1) * N + n - 1];
    e[n - 1] = 0.0;
    free(W); free(P); free(Q); free(part);
    return 0;
}

// Q Z for Z (n x ncol, column j a vector in T's coordinates), Q = H_0 H_1 ... H_{n-3}: the
// reflectors in blocks of BB, the last block first, each block applied at once as
// I - V T Vᵀ (compact WY, LAPACK's dlarft + dlarfb): W = Vᵀ Z, W = T W, Z -= V W, the two
// products by linalg_dgemm_tn (threads own blocks of their outputs; T is formed serially).
int eig_back_transform(double *Z, int ncol, const double *A, const double *tau, int n) {
    enum { BB = 64 };
    const int nref = n - 2;                                 // reflectors 0..n-3
    if (nref <= 0 || ncol <= 0) return 0;
    const size_t N = (size_t)n;
    double *V = malloc(BB * N * sizeof(double));            // rows x b: v_{k0+i} in column i
    double *Vt = malloc(BB * N * sizeof(double));           // b x rows: -Vᵀ
    double *W = malloc(BB * (size_t)ncol * sizeof(double)); // b x ncol
    double *W2 = malloc(BB * (size_t)ncol * sizeof(double));
    double T[BB * BB], tmp[BB];
    if (!V || !Vt || !W || !W2) { free(V); free(Vt); free(W); free(W2); return -2; }
    for (int k0 = ((nref - 1) / BB) * BB; k0 >= 0; k0 -= BB) {
        const int b = k0 + BB < nref ? BB : nref - k0, rows = n - k0 - 1;   // indices k0+1..n-1
        int any = 0;
        for (int i = 0; i < b; i++) any |= tau[k0 + i] != 0.0;
        if (!any) continue;                                  // identities (T was tridiagonal already)
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < b; i++) {
                const double v = r < i ? 0.0 : A[(size_t)(k0 + i) * N + k0 + 1 + r];
                V[(size_t)r * b + i] = v;
                Vt[(size_t)i * rows + r] = -v;
            }
        // T (b x b upper): H_k0 ... H_{k0+b-1} = I - V T Vᵀ; column i: T[i][i] = tau_i,
        // T[0:i][i] = -tau_i T[0:i][0:i] (V[:, 0:i]ᵀ v_i)   (v_i is zero above row i)
        memset(T, 0, sizeof T);
        for (int i = 0; i < b; i++) {
            const double ti = tau[k0 + i];
            for (int j = 0; j < i; j++)
                tmp[j] = -ti * linalg_ddot(Vt + (size_t)j * rows + i, Vt + (size_t)i * rows + i, (size_t)(rows - i));
            for (int j = 0; j < i; j++) {
                double s = 0.0;
                for (int l = j; l < i; l++) s += T[j * BB + l] * tmp[l];
                T[j * BB + i] = s;
            }
            T[i * BB + i] = ti;
        }
        double *Zb = Z + (size_t)(k0 + 1) * ncol;           // rows x ncol
        linalg_dgemm_tn(W, (size_t)ncol, V, (size_t)b, Zb, (size_t)ncol, b, ncol, rows, 0);   // W = Vᵀ Z
        for (int i = 0; i < b; i++) {                        // W2 = T W
            double *w2 = W2 + (size_t)i * ncol;
            memset(w2, 0, (size_t)ncol * sizeof(double));
            for (int l = i; l < b; l++) linalg_daxpy(w2, T[i * BB + l], W + (size_t)l * ncol, (size_t)ncol);
        }
        linalg_dgemm_tn(Zb, (size_t)ncol, Vt, (size_t)rows, W2, (size_t)ncol, rows, ncol, b, 1);   // Z -= V W2
    }
    free(V); free(Vt); free(W); free(W2);
    return 0;
}
