// linalg_internal.h — the pieces the files of the fast eigen-solver share (linalg_eig.c,
// linalg_tridiag.c, linalg_dc.c); not part of linalg.h's interface.
#ifndef MOESIM_LINALG_INTERNAL_H
#define MOESIM_LINALG_INTERNAL_H

// Householder reduction of symmetric A (n x n, row-major; only the upper triangle is read) to
// the tridiagonal T = Qᵀ A Q: d (n) its diagonal, e (n) its off-diagonal (e[i] = T[i][i+1],
// e[n-1] = 0). Q = H_0 H_1 ... H_{n-3}, H_k = I - tau[k] v vᵀ acting on indices k+1..n-1, with
// v = A[k][k+1..n-1] (v[0] = 1 stored). Blocked (linalg_tridiag.c). Returns 0 or -2 (memory).
int eig_tridiagonalize(double *d, double *e, double *tau, double *A, int n);
// Z (n x ncol, column j a vector in T's coordinates) becomes Q Z: blocked, compact WY
// (linalg_tridiag.c). Returns 0 or -2 (memory).
int eig_back_transform(double *Z, int ncol, const double *A, const double *tau, int n);
// Implicit QL on the tridiagonal (d, e) of size n, rotations applied to the rows of Zt
// (n x ncol, may be NULL); eigenvalues unsorted in d. Scratch: ri, rc, rs of cap >= n entries.
// Returns 0 or -1 (no convergence) (linalg_eig.c).
int eig_tql(double *d, double *e, double *Zt, int n, int ncol, int *ri, double *rc, double *rs, int cap);
// Every eigenpair of the tridiagonal (d, e) by divide and conquer (linalg_dc.c): d (n) becomes
// the eigenvalues ascending, Zt (n x n) row i the unit eigenvector of d[i]; e is destroyed.
// Returns 0, -1 (QL failed on a leaf) or -2 (memory).
int eig_dc(double *d, double *e, double *Zt, int n);

#endif
