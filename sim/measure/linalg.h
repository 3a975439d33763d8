// linalg.h — the small dense linear algebra the measurements need: a symmetric eigen-solver
// (two-sided cyclic Jacobi, and one-sided for Gram matrices), right singular vectors of a tall matrix through its Gram matrix, spectral
// norms, and a few double-precision vector helpers.
//
// Conventions:
//   * Matrices are row-major. An n x n eigenvector matrix V holds eigenvector j in COLUMN j, so
//     its k-th component is V[k*n + j] (the usual A = V diag(w) Vᵀ).
//   * Everything is computed in double, whatever the input type, and every sum runs in a fixed
//     order (ascending index), so results are bitwise reproducible. No randomness anywhere.
//   * Sizes here are small (D up to ~512, E up to ~1024): Jacobi is O(n³) per sweep and needs
//     about 10 sweeps at these sizes; a D = 128 Gram matrix takes ~20 ms, D = 512 ~1.3 s. Widths
//     of real pre-trained models (2048-7168) would take minutes: they need a tridiagonal QL or
//     a Lanczos solver for the top vectors, which this file does not have.
#ifndef MOESIM_LINALG_H
#define MOESIM_LINALG_H

#include <stddef.h>

// Symmetric eigen-decomposition A = V diag(w) Vᵀ by two-sided cyclic Jacobi rotations, for any
// symmetric A (eigenvalues of either sign).
//   w: n eigenvalues, sorted descending (ties: the lower diagonal position first);
//   V: n x n, column j the unit eigenvector of w[j];
//   A: n x n symmetric, DESTROYED (left nearly diagonal). Only symmetric input is meaningful.
// Rutishauser's thresholds skip small elements in the first three sweeps. Convergence: the
// off-diagonal Frobenius norm falls below 1e-15 of the matrix's, or stagnates at the rounding
// floor below 1e-12 of it. Returns the number of sweeps (>= 0); -1 if not converged after 100
// sweeps (w and V then hold the best estimate); -2 if memory could not be allocated.
// Each rotation also writes two columns of A, which is slow once A outgrows the cache (n = 512:
// ~7 s); for positive semi-definite matrices use linalg_eig_psd.
int linalg_eig_sym(double *w, double *V, double *A, int n);

// The same decomposition for a symmetric POSITIVE SEMI-DEFINITE A (a Gram matrix), by one-sided
// (Hestenes) cyclic Jacobi: rows of W = Vᵀ A are rotated in pairs until mutually orthogonal;
// eigenvalue j is the Rayleigh quotient v_jᵀ A v_j. Every rotation touches four contiguous rows
// only: about 5x faster than linalg_eig_sym at n = 512 (~1.3 s), 3x at n = 256. A pair counts as
// converged when |w_p·w_q| <= 1e-15 |w_p||w_q| or <= 1e-30 |A|_F² (null-space rows are rounding
// noise). On an indefinite A it may mix the eigenvectors of eigenvalues λ and -λ. Outputs and
// return values as linalg_eig_sym (A is destroyed; sweeps counted are those that rotated).
int linalg_eig_psd(double *w, double *V, double *A, int n);

// G = Xᵀ X, the D x D Gram matrix of the columns of a row-major N x D float matrix, accumulated
// in double over rows in ascending order (each entry sums the same terms in the same order).
void linalg_gram(double *G, const float *X, size_t N, int D);

// Right singular vectors and singular values of X (N x D, row-major float) through the
// eigen-decomposition of XᵀX (linalg_eig_psd): s[k] = sqrt(max(λ_k, 0)) descending (D values,
// ~0 past the rank), V: D x D with column k the right singular vector of s[k]. Optional G
// (D x D, may be NULL): receives the Gram matrix XᵀX itself (callers reuse it for energies).
// Note: squaring the matrix loses the accuracy of the SMALL singular values (relative error
// ~ eps·s1²/s_k²); the leading ones, which is what the measurements use, are accurate.
// Returns as linalg_eig_psd.
int linalg_svd_right(double *s, double *V, double *G, const float *X, size_t N, int D);

// The k leading right singular directions of a short or tall X (n x D, row-major float), for
// the per-sequence measurements: through the SMALLER Gram matrix, X Xᵀ (n x n) when n < D (then
// v_j = Xᵀu_j / ‖Xᵀu_j‖ from its eigenvector u_j), else XᵀX (D x D).
//   lam:  k values σ_j² descending (0 past min(n, D));
//   Vk:   k x D, row j the unit right singular vector of σ_j (sign arbitrary), or all zeros where
//         σ_j² <= 1e-12 σ_1² (the rank is below j + 1, or X = 0: the direction is undefined;
//         float inputs carry ~1e-7 relative noise, so a direction 10⁶ times weaker than the first
//         is not a property of the data);
//   fro2: ‖X‖_F² = Σ_j σ_j², summed directly from the entries (may be NULL).
// 1 <= k <= D. Returns as linalg_eig_psd.
int linalg_svd_top(double *lam, double *Vk, double *fro2, const float *X, size_t n, int D, int k);

// Spectral norm ‖A‖₂ (largest singular value) of an m x n row-major double matrix, computed as
// the square root of the largest eigenvalue of the smaller Gram matrix (A Aᵀ if m <= n, else
// AᵀA). Returns -1 on allocation failure; 0 for an empty matrix.
double linalg_spectral_norm(const double *A, int m, int n);

// Small helpers in double, summed in ascending index order.
double linalg_dot(const double *a, const double *b, int n);
double linalg_norm(const double *a, int n);

// y = A x for an m x n row-major double matrix A (y has m entries).
void linalg_matvec(double *y, const double *A, const double *x, int m, int n);

#endif
