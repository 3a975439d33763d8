// linalg_eig.c — the fast symmetric eigen-solvers of linalg.h: every eigenpair (linalg_eig_tql:
// the Householder reduction of linalg_tridiag.c, implicit QL with eigenvectors, the
// back-transformation), and Lanczos with full reorthogonalization (a few leading eigenpairs, of
// an explicit matrix or of an operator such as Xᵀ X never formed). The Jacobi solvers in
// linalg.c are the reference the tests compare these against.
//
// Threads own outputs everywhere (column chunks of the eigenvector matrix for the rotations, rows
// of the sorted output), and
// every sum runs in a fixed order, so results are bitwise the same for any thread count.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "linalg.h"
#include "linalg_internal.h"

// ---- implicit QL on the tridiagonal ---------------------------------------------------------------

// Applies rotations (i, c, s) in order to rows i, i+1 of Zt (rows x ncol): for each,
// row i+1 <- s row_i + c row_{i+1}, row i <- c row_i - s row_{i+1}. Columns are independent, so
// threads take fixed chunks of columns and apply every rotation to their chunk.
static void apply_rotations(double *Zt, int ncol, const int *ri, const double *rc, const double *rs, int nrot) {
    enum { CW = 64 };
    const int nch = (ncol + CW - 1) / CW;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)nrot * ncol > 4e6 && nch > 1)
#endif
    for (int ch = 0; ch < nch; ch++) {
        const int c0 = ch * CW, w = c0 + CW < ncol ? CW : ncol - c0;
        for (int t = 0; t < nrot; t++) {
            double *a = Zt + (size_t)ri[t] * ncol + c0, *b = a + ncol;
            const double c = rc[t], s = rs[t];
            for (int j = 0; j < w; j++) {
                double f = b[j], g = a[j];
                b[j] = s * g + c * f;
                a[j] = c * g - s * f;
            }
        }
    }
}

// Eigenvalues d (n) of the tridiagonal (d, e) by implicit QL with Wilkinson-like shifts
// (Numerical Recipes' tqli); the rotations are applied to the rows of Zt (n x ncol, may be NULL).
// Rotations depend on d and e only, so they are collected in batches of up to `cap` (>= n) and
// applied together, in order (one parallel region per batch, not per QL iteration: on a busy
// machine every region costs a scheduling round). Returns 0, or -1 if an eigenvalue needed more
// than 60 iterations.
int eig_tql(double *d, double *e, double *Zt, int n, int ncol, int *ri, double *rc, double *rs, int cap) {
    int rc_ = 0, nrot = 0;
    for (int l = 0; l < n; l++) {
        int iter = 0, m;
        do {
            for (m = l; m < n - 1; m++) {
                double dd = fabs(d[m]) + fabs(d[m + 1]);
                if (fabs(e[m]) + dd == dd) break;
            }
            if (m != l) {
                if (iter++ == 60) { rc_ = -1; break; }
                if (Zt && nrot + (m - l) > cap) { apply_rotations(Zt, ncol, ri, rc, rs, nrot); nrot = 0; }
                double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
                double r = hypot(g, 1.0);
                g = d[m] - d[l] + e[l] / (g + copysign(r, g));
                double s = 1.0, c = 1.0, p = 0.0;
                int i;
                for (i = m - 1; i >= l; i--) {
                    double f = s * e[i], b = c * e[i];
                    e[i + 1] = (r = hypot(f, g));
                    if (r == 0.0) { d[i + 1] -= p; e[m] = 0.0; break; }
                    s = f / r;
                    c = g / r;
                    g = d[i + 1] - p;
                    r = (d[i] - g) * s + 2.0 * c * b;
                    d[i + 1] = g + (p = s * r);
                    g = c * r - b;
                    if (Zt) { ri[nrot] = i; rc[nrot] = c; rs[nrot] = s; nrot++; }
                }
                if (r == 0.0 && i >= l) continue;
                d[l] -= p;
                e[l] = g;
                e[m] = 0.0;
            }
        } while (m != l);
    }
    if (Zt && nrot) apply_rotations(Zt, ncol, ri, rc, rs, nrot);
    return rc_;
}

// Sorts (w, rows of Zt) descending by w (stable), writing V column j = row order[j] of Zt.
static int sort_into(double *w, double *V, const double *Zt, int n) {
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    double *ws = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (!order || !ws) { free(order); free(ws); return -2; }
    for (int i = 0; i < n; i++) {
        double x = w[i];
        int j = i;
        while (j > 0 && ws[j - 1] < x) { ws[j] = ws[j - 1]; order[j] = order[j - 1]; j--; }
        ws[j] = x;
        order[j] = i;
    }
    memcpy(w, ws, (size_t)n * sizeof(double));
    if (V) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)n * n > 1e6)
#endif
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++) V[(size_t)k * n + j] = Zt[(size_t)order[j] * n + k];
    }
    free(order); free(ws);
    return 0;
}

int linalg_eig_tql(double *w, double *V, double *A, int n) {
    if (n <= 0) return 0;
    double *e = malloc((size_t)n * sizeof(double)), *tau = malloc((size_t)n * sizeof(double));
    double *Zt = V ? malloc((size_t)n * n * sizeof(double)) : NULL;
    int rc_ = -2;
    if (!e || !tau || (V && !Zt)) goto done;
    if (eig_tridiagonalize(w, e, tau, A, n) != 0) goto done;
    // eigenvectors: divide and conquer (QL itself for n <= 32); eigenvalues only: QL
    rc_ = Zt ? eig_dc(w, e, Zt, n) : eig_tql(w, e, NULL, n, n, NULL, NULL, NULL, 0);
    if (rc_ != -2 && sort_into(w, V, Zt, n) != 0) rc_ = -2;
    if (V && rc_ != -2 && eig_back_transform(V, n, A, tau, n) != 0) rc_ = -2;
done:
    free(e); free(tau); free(Zt);
    return rc_;
}

// ---- Lanczos -------------------------------------------------------------------------------------

// The fixed start vector: a hash of the index, uniform in [-1, 1) (no RNG state; the same for
// every call of the same size).
static void start_vector(double *q, int n, unsigned salt) {
    for (int i = 0; i < n; i++) {
        unsigned long long x = (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ull + salt * 0xD1B54A32D192ED03ull;
        x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 29;
        q[i] = (double)(x >> 11) / 4503599627370496.0 - 1.0;   // 53-bit mantissa / 2^52 - 1
    }
}

// w -= Σ_{i<m} (q_i·w) q_i, twice (classical Gram-Schmidt, "twice is enough").
static void reorthogonalize(double *w, const double *Q, int m, int n, double *c) {
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < m; i++) c[i] = linalg_ddot(Q + (size_t)i * n, w, (size_t)n);
        for (int i = 0; i < m; i++) linalg_daxpy(w, -c[i], Q + (size_t)i * n, (size_t)n);
    }
}

int linalg_lanczos(double *lam, double *Vk, int k, LinalgOp op, void *ctx, int n, double tol) {
    if (n <= 0 || k <= 0) return 0;
    if (k > n) k = n;
    int maxm = n < 320 ? n : (8 * k + 80 > 320 ? 8 * k + 80 : 320);
    if (maxm > n) maxm = n;
    double *Q = calloc((size_t)(maxm + 1) * n, sizeof(double));      // (maxm+1) x n Lanczos basis
    double *al = malloc((size_t)maxm * sizeof(double)), *be = malloc((size_t)(maxm + 1) * sizeof(double));
    double *d = malloc((size_t)maxm * sizeof(double)), *e = malloc((size_t)maxm * sizeof(double));
    double *S = malloc((size_t)maxm * maxm * sizeof(double));       // m x m: rows = Ritz coordinates
    double *c = malloc((size_t)(maxm + 1) * sizeof(double)), *rc = malloc((size_t)maxm * sizeof(double));
    double *rs = malloc((size_t)maxm * sizeof(double));
    int *ri = malloc((size_t)maxm * sizeof(int));
    int ret = -2;
    if (!Q || !al || !be || !d || !e || !S || !c || !rc || !rs || !ri) goto done;
    double *q0 = Q;
    start_vector(q0, n, 1);
    double nq = sqrt(linalg_ddot(q0, q0, (size_t)n));
    for (int i = 0; i < n; i++) q0[i] /= nq;
    int converged = 0, restarts = 0, m = 0;
    unsigned salt = 2;
    while (!converged) {
        int j;
        double anorm = 0.0;
        for (j = 0; j < maxm; j++) {
            double *q = Q + (size_t)j * n, *wv = Q + (size_t)(j + 1) * n;
            op(wv, q, ctx);
            al[j] = linalg_ddot(q, wv, (size_t)n);
            reorthogonalize(wv, Q, j + 1, n, c);       // removes α q_j and β q_{j-1} as well
            be[j] = sqrt(linalg_ddot(wv, wv, (size_t)n));
            if (fabs(al[j]) > anorm) anorm = fabs(al[j]);
            if (be[j] > anorm) anorm = be[j];
            m = j + 1;
            int breakdown = be[j] <= 1e-13 * anorm;
            if (breakdown && m < n && m < maxm) {
                // an invariant subspace: continue with a fresh vector orthogonal to it (β = 0
                // splits the tridiagonal, so the Ritz values of both parts are exact)
                start_vector(wv, n, salt++);
                reorthogonalize(wv, Q, m, n, c);
                double nw = sqrt(linalg_ddot(wv, wv, (size_t)n));
                if (nw == 0.0) break;
                for (int i = 0; i < n; i++) wv[i] /= nw;
                be[j] = 0.0;
                continue;
            }
            if (!breakdown) for (int i = 0; i < n; i++) wv[i] /= be[j];
            else be[j] = 0.0;
            int check = m == maxm || m == n || breakdown || (m >= k + 4 && m % 8 == 0);
            if (!check) continue;
            // Ritz values and vectors of the m x m tridiagonal
            for (int i = 0; i < m; i++) { d[i] = al[i]; e[i] = i + 1 < m ? be[i] : 0.0; }
            memset(S, 0, (size_t)m * m * sizeof(double));
            for (int i = 0; i < m; i++) S[(size_t)i * m + i] = 1.0;
            if (eig_tql(d, e, S, m, m, ri, rc, rs, maxm) != 0) continue;
            // S rows are eigenvectors of T_m; top k by value
            converged = 1;
            double top = 0.0;
            for (int i = 0; i < m; i++) if (fabs(d[i]) > top) top = fabs(d[i]);
            int want = k < m ? k : m;
            for (int t = 0; t < want; t++) {
                int best = -1;       // t-th largest
                for (int i = 0; i < m; i++) {
                    int rank = 0;
                    for (int u = 0; u < m; u++) rank += d[u] > d[i] || (d[u] == d[i] && u < i);
                    if (rank == t) { best = i; break; }
                }
                double res = fabs(be[j] * S[(size_t)best * m + m - 1]);
                if (res > tol * top) converged = 0;
            }
            if (m == n || breakdown) converged = 1;    // the whole space: exact
            if (converged || m == maxm) break;
        }
        if (m == 0) break;
        // Ritz vectors x_t = Σ_i S[best][i] q_i, written into Vk rows; eigenvalues into lam
        int want = k < m ? k : m;
        int *idx = ri;                                   // reuse: indices of the top values
        for (int t = 0; t < want; t++) {
            int best = -1;
            for (int i = 0; i < m; i++) {
                int rank = 0;
                for (int u = 0; u < m; u++) rank += d[u] > d[i] || (d[u] == d[i] && u < i);
                if (rank == t) { best = i; break; }
            }
            idx[t] = best;
        }
        for (int t = 0; t < want; t++) {
            double *x = Vk + (size_t)t * n;
            memset(x, 0, (size_t)n * sizeof(double));
            for (int i = 0; i < m; i++) linalg_daxpy(x, S[(size_t)idx[t] * m + i], Q + (size_t)i * n, (size_t)n);
            double nx = sqrt(linalg_ddot(x, x, (size_t)n));
            if (nx > 0.0) for (int i = 0; i < n; i++) x[i] /= nx;
            lam[t] = d[idx[t]];
        }
        for (int t = want; t < k; t++) { lam[t] = 0.0; memset(Vk + (size_t)t * n, 0, (size_t)n * sizeof(double)); }
        if (converged) break;
        if (++restarts > 40) { ret = -1; goto done; }
        // explicit restart from the sum of the wanted Ritz vectors, weighted to favour none
        memset(q0, 0, (size_t)n * sizeof(double));
        for (int t = 0; t < want; t++) linalg_daxpy(q0, 1.0, Vk + (size_t)t * n, (size_t)n);
        double nr = sqrt(linalg_ddot(q0, q0, (size_t)n));
        if (nr == 0.0) { ret = -1; goto done; }
        for (int i = 0; i < n; i++) q0[i] /= nr;
    }
    ret = restarts;
done:
    free(Q); free(al); free(be); free(d); free(e); free(S); free(c); free(rc); free(rs); free(ri);
    return ret;
}

// y = A x for an explicit symmetric matrix (rows owned by threads).
typedef struct { const double *A; int n; } DenseCtx;
static void dense_op(double *y, const double *x, void *ctx) {
    const DenseCtx *c = ctx;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)c->n * c->n > 1e6)
#endif
    for (int i = 0; i < c->n; i++) y[i] = linalg_ddot(c->A + (size_t)i * c->n, x, (size_t)c->n);
}

int linalg_eig_top(double *w, double *Vk, const double *A, int n, int k) {
    if (k > n) k = n;
    if (n <= 64 || 4 * k >= n) {                        // small: the full solver is cheaper
        double *B = malloc((size_t)n * n * sizeof(double) + 1), *V = malloc((size_t)n * n * sizeof(double) + 1);
        double *ww = malloc((size_t)n * sizeof(double) + 1);
        if (!B || !V || !ww) { free(B); free(V); free(ww); return -2; }
        memcpy(B, A, (size_t)n * n * sizeof(double));
        int rc = linalg_eig_tql(ww, V, B, n);
        for (int t = 0; t < k; t++) {
            w[t] = ww[t];
            for (int i = 0; i < n; i++) Vk[(size_t)t * n + i] = V[(size_t)i * n + t];
        }
        free(B); free(V); free(ww);
        return rc;
    }
    DenseCtx c = {A, n};
    return linalg_lanczos(w, Vk, k, dense_op, &c, n, 1e-12);
}
