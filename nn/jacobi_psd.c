// jacobi_psd.c — one-sided (Hestenes) cyclic Jacobi for symmetric positive semi-definite
// matrices (jacobi_psd.h). Moved here from sim/measure/linalg.c (issue 25) so that optim/ may
// call it too; linalg_eig_psd is now a wrapper that allocates the workspace and calls this.
#include <math.h>
#include "jacobi_psd.h"

size_t jacobi_psd_work(int n) { return (size_t)n * (size_t)n + (size_t)n; }

static double dot(const double *a, const double *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

int jacobi_psd(double *w, double *V, double *A, int n, double *work, int *order) {
    // Rotate pairs of rows of W = Vt A (W starts as A, Vt as I) until all rows of W are mutually
    // orthogonal. Then W Wᵀ = Vt A² Vtᵀ is diagonal, so the rows of Vt are eigenvectors of A² and,
    // A being positive semi-definite, of A. Every rotation reads and writes four contiguous rows,
    // so unlike the two-sided sweep it never walks a column.
    double *Vt = work, *nrm = work + (size_t)n * n;  // n x n, then n
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) Vt[(size_t)i * n + j] = (i == j) ? 1.0 : 0.0;
    double fro_sq = 0.0;
    for (size_t i = 0; i < (size_t)n * n; i++) fro_sq += A[i] * A[i];
    double *W = A;  // n x n, row j = (A v_j)ᵀ

    int sweeps = 0, rotating = 0, converged = (n <= 1 || fro_sq == 0.0);
    while (!converged && sweeps < 100) {
        sweeps++;
        long rotations = 0;
        for (int i = 0; i < n; i++) nrm[i] = dot(W + (size_t)i * n, W + (size_t)i * n, n);
        for (int p = 0; p < n - 1; p++) {
            double *wp = W + (size_t)p * n, *vp = Vt + (size_t)p * n;  // rows p: n each
            for (int q = p + 1; q < n; q++) {
                double *wq = W + (size_t)q * n, *vq = Vt + (size_t)q * n;
                double a = nrm[p], b = nrm[q], g = dot(wp, wq, n);
                // Orthogonal to working precision, or a coupling far below anything that could
                // move an eigenvector (rows of the null space are rounding noise; without the
                // absolute floor they would rotate among themselves forever).
                if (fabs(g) <= 1e-15 * sqrt(a * b) || fabs(g) <= 1e-30 * fro_sq) continue;
                rotations++;
                double zeta = (b - a) / (2.0 * g);
                double t = fabs(zeta) > 1e150 ? 0.5 / fabs(zeta)
                                              : 1.0 / (fabs(zeta) + sqrt(zeta * zeta + 1.0));
                if (zeta < 0.0) t = -t;
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; k++) {
                    double x = wp[k], y = wq[k];
                    wp[k] = c * x - s * y;
                    wq[k] = s * x + c * y;
                }
                for (int k = 0; k < n; k++) {
                    double x = vp[k], y = vq[k];
                    vp[k] = c * x - s * y;
                    vq[k] = s * x + c * y;
                }
                nrm[p] = a - t * g;  // exact for this t; refreshed every sweep
                nrm[q] = b + t * g;
            }
        }
        if (rotations == 0) converged = 1;
        else rotating++;
    }
    for (int j = 0; j < n; j++) w[j] = dot(Vt + (size_t)j * n, W + (size_t)j * n, n);
    // Sort descending (stable insertion sort), V's column j = row order[j] of Vt.
    for (int i = 0; i < n; i++) {
        double d = w[i];
        int j = i;
        while (j > 0 && w[j - 1] < d) { w[j] = w[j - 1]; order[j] = order[j - 1]; j--; }
        w[j] = d;
        order[j] = i;
    }
    for (int k = 0; k < n; k++)
        for (int j = 0; j < n; j++) V[(size_t)k * n + j] = Vt[(size_t)order[j] * n + k];
    return converged ? rotating : -1;
}
