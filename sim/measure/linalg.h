// linalg.h — the dense linear algebra the measurements need: symmetric eigen-solvers, right
// singular vectors through Gram matrices, spectral norms, and double-precision kernels.
//
// Two kinds of eigen-solver live here:
//   * the REFERENCE: cyclic Jacobi (linalg_eig_sym, linalg_eig_psd; linalg.c), simple and
//     accurate to the last bits, O(n³) per sweep with a large constant (n = 512: ~1.3 s);
//   * the FAST ones the measurements use (linalg_eig.c, linalg_tridiag.c, linalg_dc.c):
//     Householder tridiagonalization + divide and conquer (linalg_eig_tql, every eigenpair;
//     n = 4096 in ~30 s on one core of a busy machine), and Lanczos with full
//     reorthogonalization (linalg_lanczos / linalg_eig_top, a few leading eigenpairs, also of
//     an operator such as v -> Xᵀ(X v) that is never formed). tests/test_linalg.c compares them
//     with Jacobi and with closed-form spectra.
//
// Conventions:
//   * Matrices are row-major. An n x n eigenvector matrix V holds eigenvector j in COLUMN j, so
//     its k-th component is V[k*n + j] (the usual A = V diag(w) Vᵀ).
//   * Everything is computed in double, whatever the input type, and every sum runs in a fixed
//     order (ascending index), so results are bitwise reproducible. No randomness anywhere.
//   * Threads own outputs and sums run in a fixed order, so results are bitwise the same for any
//     thread count (the kernels compiled for wider vectors may fuse multiply-adds: results may
//     differ between CPUs by rounding, never between runs on one machine).
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
// linalg_gram is blocked (linalg_dgemm_tn on chunks of rows converted to double); linalg_gram_ref
// is the plain loop it is tested against.
void linalg_gram(double *G, const float *X, size_t N, int D);
void linalg_gram_ref(double *G, const float *X, size_t N, int D);
// A = X Xᵀ (n x n) for X n x D float: the Gram matrix of the rows.
void linalg_gram_rows(double *A, const float *X, size_t n, int D);

// ---- fast solvers (linalg_eig.c, linalg_tridiag.c, linalg_dc.c) ---------------------------------

// A = V diag(w) Vᵀ for symmetric A (n x n, DESTROYED; only its upper triangle is read) by a
// blocked Householder tridiagonalization (linalg_tridiag.c), divide and conquer on the
// tridiagonal (linalg_dc.c: Cuppen's tears, deflation, the secular equation, Gu-Eisenstat
// eigenvectors; implicit QL on blocks <= 32) and the back-transformation; outputs as
// linalg_eig_sym (w descending, V column j). V may be NULL for eigenvalues only (implicit QL,
// O(n²) after the reduction). The name is historical (QL with rotations did the middle step).
// Cost ~ (4/3 + ~1 + 2) n³ flops, mostly in matrix products; the reduction's products with
// the trailing matrix (n³/6 elements read) are memory-bound. Returns 0; -1 if QL did not
// converge on a block (60 iterations for one eigenvalue); -2 if memory could not be allocated.
int linalg_eig_tql(double *w, double *V, double *A, int n);

// y = A x for a symmetric operator A of size n (x, y: n; y never aliases x).
typedef void (*LinalgOp)(double *y, const double *x, void *ctx);

// The k largest eigenvalues lam (descending) and unit eigenvectors (rows of Vk, k x n) of a
// symmetric operator, by Lanczos with full reorthogonalization from a fixed start vector, the
// Krylov basis capped at max(320, 8k + 80) vectors (explicit restarts beyond). Converged when
// every wanted Ritz pair has residual |β_m s_m| <= tol |θ|_max (an eigenvector is then within
// tol θ_max / gap of the true one), or the basis spans the space (exact). Invariant subspaces
// (rank-deficient operators) are handled: the search continues orthogonally to them. Returns the
// number of restarts (>= 0), -1 if not converged after 40 restarts (best estimates written),
// -2 if memory could not be allocated.
int linalg_lanczos(double *lam, double *Vk, int k, LinalgOp op, void *ctx, int n, double tol);

// The k leading eigenpairs (lam descending, rows of Vk) of an explicit symmetric n x n A (not
// modified): linalg_eig_tql for n <= 64 or k >= n/4, else Lanczos with tol 1e-12. Returns as
// linalg_lanczos / linalg_eig_tql.
int linalg_eig_top(double *lam, double *Vk, const double *A, int n, int k);

// ---- kernels (linalg_kernels.c) -----------------------------------------------------------------

// C[m][n] (+)= Σ_k A[k*lda + m] · B[k*ldb + n] for m < M, n < N, k < K ascending (C = Aᵀ B with A
// K x M and B K x N row-major); overwrites C unless accumulate. Register-blocked, threads own
// blocks of C; linalg_dgemm_tn_ref is the plain triple loop.
void linalg_dgemm_tn(double *C, size_t ldc, const double *A, size_t lda, const double *B, size_t ldb,
                     int M, int N, int K, int accumulate);
void linalg_dgemm_tn_ref(double *C, size_t ldc, const double *A, size_t lda, const double *B, size_t ldb,
                         int M, int N, int K, int accumulate);
// Xt (D x n, double) = the transpose of X (n x D, float).
void linalg_xt_chunk(double *Xt, const float *X, size_t n, int D);
// Dot products summed in 8 fixed lanes (vectorized, deterministic); y += alpha x.
double linalg_ddot(const double *a, const double *b, size_t n);
double linalg_fdot(const float *a, const double *b, size_t n);
void linalg_daxpy(double *y, double alpha, const double *x, size_t n);
void linalg_faxpy(double *y, double alpha, const float *x, size_t n);
// The implicit Gram operator of X (n x D float): y = Xᵀ(X v) (v, y: D) or, with `rows`,
// y = X(Xᵀ v) (v, y: n). X is read once per product; scratch holds
// linalg_gram_apply_scratch(n, D) doubles. The same arithmetic for every thread count.
void linalg_gram_apply(double *y, const double *v, const float *X, size_t n, int D, int rows, double *scratch);
size_t linalg_gram_apply_scratch(size_t n, int D);
// C = X Wt (n x W) for X n x D float and Wt D x W double, through chunks of X transposed to double
// and linalg_dgemm_tn. Returns 0 or -2 (memory).
int linalg_xw(double *C, const float *X, size_t n, int D, const double *Wt, int W);
// The same product, reduced on the fly (C never held): sums[0] = Σ_i c_i0², sums[1] = Σ_i c_i1²,
// sums[2] = Σ_i Σ_{j>=2} c_ij², rows summed in order. Returns 0 or -2.
int linalg_xw_sumsq(double sums[3], const float *X, size_t n, int D, const double *Wt, int W);

// Right singular vectors and singular values of X (N x D, row-major float) through the
// eigen-decomposition of XᵀX (linalg_eig_tql; linalg_svd_right_ref: the same with Jacobi,
// linalg_eig_psd): s[k] = sqrt(max(λ_k, 0)) descending (D values,
// ~0 past the rank), V: D x D with column k the right singular vector of s[k]. Optional G
// (D x D, may be NULL): receives the Gram matrix XᵀX itself (callers reuse it for energies).
// Note: squaring the matrix loses the accuracy of the SMALL singular values (relative error
// ~ eps·s1²/s_k²); the leading ones, which is what the measurements use, are accurate.
// Returns as linalg_eig_psd.
int linalg_svd_right(double *s, double *V, double *G, const float *X, size_t N, int D);
int linalg_svd_right_ref(double *s, double *V, double *G, const float *X, size_t N, int D);

// The k leading right singular directions of a short or tall X (n x D, row-major float), for
// the per-sequence measurements: through the SMALLER Gram matrix, X Xᵀ (n x n) when n < D (then
// v_j = Xᵀu_j / ‖Xᵀu_j‖ from its eigenvector u_j), else XᵀX (D x D).
//   lam:  k values σ_j² descending (0 past min(n, D));
//   Vk:   k x D, row j the unit right singular vector of σ_j (sign arbitrary), or all zeros where
//         σ_j² <= 1e-12 σ_1² (the rank is below j + 1, or X = 0: the direction is undefined;
//         float inputs carry ~1e-7 relative noise, so a direction 10⁶ times weaker than the first
//         is not a property of the data);
//   fro2: ‖X‖_F² = Σ_j σ_j², summed directly from the entries (may be NULL).
// The eigenpairs come from Lanczos on the implicit operator v -> X(Xᵀv) or Xᵀ(Xv) (the Gram
// matrix is never formed; X is read twice per step) when min(n, D) > 64, else from the explicit
// Gram matrix and linalg_eig_tql. linalg_svd_top_ref: the explicit Gram matrix and Jacobi.
// 1 <= k <= D. Returns as linalg_lanczos.
int linalg_svd_top_ref(double *lam, double *Vk, double *fro2, const float *X, size_t n, int D, int k);
int linalg_svd_top(double *lam, double *Vk, double *fro2, const float *X, size_t n, int D, int k);

// Spectral norm ‖A‖₂ (largest singular value) of an m x n row-major double matrix, computed as
// the square root of the largest eigenvalue of the smaller Gram matrix (A Aᵀ if m <= n, else
// AᵀA; for a router that is the E x E side P Pᵀ), by Lanczos (an accelerated power iteration;
// linalg_eig_top). Returns -1 on allocation failure; 0 for an empty matrix.
double linalg_spectral_norm(const double *A, int m, int n);
double linalg_spectral_norm_ref(const double *A, int m, int n);   // the same with Jacobi

// Small helpers in double, summed in ascending index order.
double linalg_dot(const double *a, const double *b, int n);
double linalg_norm(const double *a, int n);

// y = A x for an m x n row-major double matrix A (y has m entries).
void linalg_matvec(double *y, const double *A, const double *x, int m, int n);

#endif
