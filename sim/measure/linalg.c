// linalg.c — the cyclic Jacobi eigen-solvers (the reference), and the Gram-based SVDs and spectral
// norms in two versions: *_ref on Jacobi, the production ones on the fast solvers of linalg_eig.c.
// See linalg.h.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "linalg.h"
#include "../../nn/jacobi_psd.h"

// ---- vector helpers ---------------------------------------------------------------------------

double linalg_dot(const double *a, const double *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

double linalg_norm(const double *a, int n) { return sqrt(linalg_dot(a, a, n)); }

void linalg_matvec(double *y, const double *A, const double *x, int m, int n) {
    for (int i = 0; i < m; i++) y[i] = linalg_dot(A + (size_t)i * n, x, n);  // row i · x
}

// ---- Jacobi -----------------------------------------------------------------------------------

// Squared Frobenius norm and absolute sum of the strict upper triangle (what Jacobi drives to 0).
static void off_diag(double *sq, double *abs_sum, const double *A, int n) {
    double s = 0.0, a = 0.0;
    for (int p = 0; p < n; p++)
        for (int q = p + 1; q < n; q++) { double x = A[(size_t)p * n + q]; s += x * x; a += fabs(x); }
    *sq = s;
    *abs_sum = a;
}

// Sorts eigenvalues w descending (stable insertion sort: ties keep the lower index first) and
// writes V's column j = row order[j] of Vt (eigenvectors stored as rows). Returns 0 or -2.
static int sort_eigen(double *w, double *V, const double *Vt, int n) {
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!order) return -2;
    for (int i = 0; i < n; i++) {
        double d = w[i];
        int j = i;
        while (j > 0 && w[j - 1] < d) { w[j] = w[j - 1]; order[j] = order[j - 1]; j--; }
        w[j] = d;
        order[j] = i;
    }
    for (int k = 0; k < n; k++)
        for (int j = 0; j < n; j++) V[(size_t)k * n + j] = Vt[(size_t)order[j] * n + k];
    free(order);
    return 0;
}

int linalg_eig_sym(double *w, double *V, double *A, int n) {
    // Eigenvectors are accumulated as ROWS of Vt (row j = eigenvector j) so a rotation updates
    // two contiguous rows; they are transposed into V's columns at the end. Vt starts as I and
    // each rotation J does A <- Jᵀ A J, Vt <- Jᵀ Vt.
    double *Vt = malloc((size_t)n * n * sizeof(double));
    if (!Vt) return -2;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) Vt[(size_t)i * n + j] = (i == j) ? 1.0 : 0.0;
    double fro_sq = 0.0;
    for (size_t i = 0; i < (size_t)n * n; i++) fro_sq += A[i] * A[i];
    const double fro = sqrt(fro_sq);

    int sweeps = 0, converged = (n <= 1 || fro_sq == 0.0);
    double prev_off = INFINITY;
    while (!converged && sweeps < 100) {
        double off_sq, off_abs;
        off_diag(&off_sq, &off_abs, A, n);
        double off = sqrt(off_sq);
        if (off <= 1e-15 * fro) { converged = 1; break; }
        // At the rounding floor a sweep no longer reduces the off-diagonal part much; stop rather
        // than spin (quadratic convergence would otherwise cut it by orders of magnitude).
        if (off <= 1e-12 * fro && off > 0.25 * prev_off) { converged = 1; break; }
        prev_off = off;
        sweeps++;
        // Rutishauser's threshold: in the first three sweeps skip the small elements, rotating
        // only those above a fifth of the mean off-diagonal magnitude (fewer, more useful
        // rotations); afterwards rotate everything.
        const double thresh = sweeps <= 3 ? 0.2 * off_abs / ((double)n * n) : 0.0;
        for (int p = 0; p < n - 1; p++) {             // one cyclic sweep over pairs p < q
            double *ap = A + (size_t)p * n;           // row p of A: n
            for (int q = p + 1; q < n; q++) {
                double *aq = A + (size_t)q * n;       // row q of A: n
                double apq = ap[q];
                if (fabs(apq) <= thresh) continue;
                double app = ap[p], aqq = aq[q];
                // After the early sweeps an element below the last bits of both diagonal entries
                // changes nothing: zero it instead of rotating.
                if (sweeps > 3 && fabs(app) + 100.0 * fabs(apq) == fabs(app)
                    && fabs(aqq) + 100.0 * fabs(apq) == fabs(aqq)) {
                    ap[q] = aq[p] = 0.0;
                    continue;
                }
                // Rotation angle that zeroes A[p][q]; t = tan(phi) is the smaller root, so the
                // rotation is at most 45 degrees (the stable choice).
                double theta = (aqq - app) / (2.0 * apq);
                double t = fabs(theta) > 1e150 ? 0.5 / fabs(theta)   // theta² would overflow
                                               : 1.0 / (fabs(theta) + sqrt(theta * theta + 1.0));
                if (theta < 0.0) t = -t;
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                // Rows p and q (contiguous), then the same values into columns p and q: for
                // k != p, q the new A[k][p] equals the new A[p][k] by symmetry.
                for (int k = 0; k < n; k++) {
                    double akp = ap[k], akq = aq[k];
                    ap[k] = c * akp - s * akq;
                    aq[k] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    if (k == p || k == q) continue;
                    A[(size_t)k * n + p] = ap[k];
                    A[(size_t)k * n + q] = aq[k];
                }
                ap[p] = app - t * apq;
                aq[q] = aqq + t * apq;
                ap[q] = aq[p] = 0.0;
                double *vp = Vt + (size_t)p * n, *vq = Vt + (size_t)q * n;
                for (int k = 0; k < n; k++) {
                    double x = vp[k], y = vq[k];
                    vp[k] = c * x - s * y;
                    vq[k] = s * x + c * y;
                }
            }
        }
    }
    if (!converged) {  // the loop ran out of sweeps; check the last one once more
        double off_sq, off_abs;
        off_diag(&off_sq, &off_abs, A, n);
        converged = sqrt(off_sq) <= 1e-12 * fro;
    }

    for (int i = 0; i < n; i++) w[i] = A[(size_t)i * n + i];   // eigenvalues: the diagonal
    int rc = sort_eigen(w, V, Vt, n);
    free(Vt);
    return rc ? rc : converged ? sweeps : -1;
}

int linalg_eig_psd(double *w, double *V, double *A, int n) {
    // The solver lives in nn/jacobi_psd.c, below optim/ and measure/ (optim/ calls it too, without
    // allocating); here its workspace is allocated per call.
    double *work = malloc(jacobi_psd_work(n > 0 ? n : 1) * sizeof(double));
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!work || !order) { free(work); free(order); return -2; }
    int rc = jacobi_psd(w, V, A, n, work, order);
    free(work); free(order);
    return rc;
}

// ---- Gram, SVD, spectral norm -------------------------------------------------------------

int linalg_svd_right_ref(double *s, double *V, double *G, const float *X, size_t N, int D) {
    double *A = malloc((size_t)D * D * sizeof(double));   // D x D Gram, destroyed by Jacobi
    if (!A) return -2;
    linalg_gram_ref(A, X, N, D);
    if (G) memcpy(G, A, (size_t)D * D * sizeof(double));
    int rc = linalg_eig_psd(s, V, A, D);
    for (int k = 0; k < D; k++) s[k] = sqrt(s[k] > 0.0 ? s[k] : 0.0);  // λ = σ² (clip rounding)
    free(A);
    return rc;
}

int linalg_svd_top_ref(double *lam, double *Vk, double *fro2, const float *X, size_t n, int D, int k) {
    const int small = n < (size_t)D;                   // n < D: the n x n Gram X Xᵀ is smaller
    const int m = small ? (int)n : D;                   // side of the Gram matrix
    double *A = malloc((size_t)(m > 0 ? m : 1) * (m > 0 ? m : 1) * sizeof(double));   // m x m
    double *V = malloc((size_t)(m > 0 ? m : 1) * (m > 0 ? m : 1) * sizeof(double));   // m x m
    double *w = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));                     // m
    if (!A || !V || !w) { free(A); free(V); free(w); return -2; }
    double f2 = 0.0;
    for (size_t i = 0; i < n * (size_t)D; i++) f2 += (double)X[i] * X[i];
    if (fro2) *fro2 = f2;
    if (small) {                                        // A = X Xᵀ: row dot products
        for (int i = 0; i < m; i++)
            for (int j = i; j < m; j++) {
                const float *xi = X + (size_t)i * D, *xj = X + (size_t)j * D;
                double t = 0.0;
                for (int a = 0; a < D; a++) t += (double)xi[a] * xj[a];
                A[(size_t)i * m + j] = A[(size_t)j * m + i] = t;
            }
    } else {
        linalg_gram(A, X, n, D);
    }
    int rc = m > 0 ? linalg_eig_psd(w, V, A, m) : 0;
    if (rc != -2) {
        double top = m > 0 && w[0] > 0.0 ? w[0] : 0.0;
        for (int j = 0; j < k; j++) {
            double *v = Vk + (size_t)j * D;             // v: D, row j of Vk
            lam[j] = j < m && w[j] > 0.0 ? w[j] : 0.0;
            memset(v, 0, (size_t)D * sizeof(double));
            if (!(top > 0.0) || lam[j] <= 1e-12 * top) continue;   // undefined direction
            if (small) {                                // v = Xᵀ u_j, then normalized
                for (size_t i = 0; i < n; i++) {
                    double u = V[i * (size_t)m + j];
                    const float *x = X + i * (size_t)D;
                    for (int a = 0; a < D; a++) v[a] += u * x[a];
                }
                double nv = linalg_norm(v, D);
                if (nv > 0.0) for (int a = 0; a < D; a++) v[a] /= nv;
            } else {
                for (int a = 0; a < D; a++) v[a] = V[(size_t)a * m + j];   // column j
            }
        }
    }
    free(A); free(V); free(w);
    return rc;
}

// ---- production versions on the fast solvers ---------------------------------------------------

int linalg_svd_right(double *s, double *V, double *G, const float *X, size_t N, int D) {
    double *A = malloc((size_t)D * D * sizeof(double));   // D x D Gram, destroyed by the solver
    if (!A) return -2;
    linalg_gram(A, X, N, D);
    if (G) memcpy(G, A, (size_t)D * D * sizeof(double));
    int rc = linalg_eig_tql(s, V, A, D);
    for (int k = 0; k < D; k++) s[k] = sqrt(s[k] > 0.0 ? s[k] : 0.0);  // λ = σ² (clip rounding)
    free(A);
    return rc;
}

// The implicit Gram operator of linalg_svd_top: v -> X(Xᵀv) (rows) or Xᵀ(Xv).
typedef struct { const float *X; size_t n; int D, rows; double *scratch; } GramCtx;
static void gram_op(double *y, const double *x, void *ctx) {
    const GramCtx *g = ctx;
    linalg_gram_apply(y, x, g->X, g->n, g->D, g->rows, g->scratch);
}

int linalg_svd_top(double *lam, double *Vk, double *fro2, const float *X, size_t n, int D, int k) {
    const int small = n < (size_t)D;                   // n < D: work on the n side
    const int m = small ? (int)n : D;                  // side of the Gram matrix
    const int kk = k < m ? k : m;                      // eigenpairs that exist
    double *U = malloc((size_t)(kk > 0 ? kk : 1) * (m > 0 ? m : 1) * sizeof(double));   // kk x m
    double *w = malloc((size_t)(k > 0 ? k : 1) * sizeof(double));
    if (!U || !w) { free(U); free(w); return -2; }
    double f2 = 0.0;
    for (size_t i = 0; i < n * (size_t)D; i++) f2 += (double)X[i] * X[i];
    if (fro2) *fro2 = f2;
    int rc = 0;
    if (m > 0 && m <= 64) {                            // small: the explicit Gram matrix
        double *A = malloc((size_t)m * m * sizeof(double));
        if (!A) rc = -2;
        else {
            if (small) linalg_gram_rows(A, X, n, D);
            else linalg_gram(A, X, n, D);
            rc = linalg_eig_top(w, U, A, m, kk);
            free(A);
        }
    } else if (m > 0) {
        double *scr = malloc(linalg_gram_apply_scratch(n, D) * sizeof(double));
        if (!scr) rc = -2;
        else {
            GramCtx g = {X, n, D, small, scr};
            rc = linalg_lanczos(w, U, kk, gram_op, &g, m, 1e-12);
            free(scr);
        }
    }
    if (rc != -2) {
        double top = m > 0 && w[0] > 0.0 ? w[0] : 0.0;
        for (int j = 0; j < k; j++) {
            double *v = Vk + (size_t)j * D;             // v: D, row j of Vk
            lam[j] = j < kk && w[j] > 0.0 ? w[j] : 0.0;
            memset(v, 0, (size_t)D * sizeof(double));
            if (!(top > 0.0) || lam[j] <= 1e-12 * top) continue;   // undefined direction
            const double *u = U + (size_t)j * m;
            if (small) {                                // v = Xᵀ u_j, then normalized
                for (size_t i = 0; i < n; i++) if (u[i] != 0.0) linalg_faxpy(v, u[i], X + i * (size_t)D, (size_t)D);
                double nv = sqrt(linalg_ddot(v, v, (size_t)D));
                if (nv > 0.0) for (int a = 0; a < D; a++) v[a] /= nv;
            } else {
                memcpy(v, u, (size_t)D * sizeof(double));
            }
        }
    }
    free(U); free(w);
    return rc;
}

double linalg_spectral_norm(const double *A, int m, int n) {
    if (m <= 0 || n <= 0) return 0.0;
    int k = m <= n ? m : n;                            // side of the smaller Gram matrix
    double *B = malloc((size_t)k * k * sizeof(double)), *v = malloc((size_t)k * sizeof(double));
    if (!B || !v) { free(B); free(v); return -1.0; }
    if (m <= n) {                                      // B = A Aᵀ (m x m): row dot products
        for (int i = 0; i < m; i++)
            for (int j = i; j < m; j++)
                B[(size_t)i * m + j] = B[(size_t)j * m + i] = linalg_ddot(A + (size_t)i * n, A + (size_t)j * n, (size_t)n);
    } else {                                           // B = AᵀA (n x n): sum over rows in order
        linalg_dgemm_tn(B, (size_t)n, A, (size_t)n, A, (size_t)n, n, n, m, 0);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) B[(size_t)i * n + j] = B[(size_t)j * n + i];
    }
    double w = 0.0;
    // An unconverged result (-1) still has σ1² to rounding; only a failed allocation is fatal.
    double top = linalg_eig_top(&w, v, B, k, 1) == -2 ? -1.0 : w > 0.0 ? sqrt(w) : 0.0;
    free(B); free(v);
    return top;
}

double linalg_spectral_norm_ref(const double *A, int m, int n) {
    if (m <= 0 || n <= 0) return 0.0;
    int k = m <= n ? m : n;                            // side of the smaller Gram matrix
    double *B = malloc((size_t)k * k * sizeof(double)), *V = malloc((size_t)k * k * sizeof(double));
    double *w = malloc((size_t)k * sizeof(double));
    if (!B || !V || !w) { free(B); free(V); free(w); return -1.0; }
    if (m <= n) {                                      // B = A Aᵀ (m x m): row dot products
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                B[(size_t)i * m + j] = linalg_dot(A + (size_t)i * n, A + (size_t)j * n, n);
    } else {                                           // B = AᵀA (n x n): sum over rows in order
        memset(B, 0, (size_t)n * n * sizeof(double));
        for (int r = 0; r < m; r++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    B[(size_t)i * n + j] += A[(size_t)r * n + i] * A[(size_t)r * n + j];
    }
    // An unconverged result (-1) still has σ1² to rounding; only a failed allocation is fatal.
    double top = linalg_eig_psd(w, V, B, k) == -2 ? -1.0 : w[0] > 0.0 ? sqrt(w[0]) : 0.0;
    free(B); free(V); free(w);
    return top;
}

