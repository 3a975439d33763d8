// jacobi_psd.h — the symmetric positive semi-definite eigen-solver the optimizer (SOAP's bases,
// optim/soap.c) and the measurements (sim/measure/linalg.c's linalg_eig_psd) share. A ground
// room below both: it includes nothing of the project and allocates nothing (the caller hands it
// its workspace, so an optimizer step can call it without allocating).
#ifndef MOESIM_JACOBI_PSD_H
#define MOESIM_JACOBI_PSD_H

#include <stddef.h>

// Doubles of workspace jacobi_psd needs for an n x n matrix: n² + n.
size_t jacobi_psd_work(int n);

// A = V diag(w) Vᵀ for a symmetric POSITIVE SEMI-DEFINITE A (n x n row-major, DESTROYED), by
// one-sided (Hestenes) cyclic Jacobi: rows of W = Vᵀ A are rotated in pairs until mutually
// orthogonal; eigenvalue j is the Rayleigh quotient v_j·(A v_j) = v_j·w_j. A pair counts as
// converged when |w_p·w_q| <= 1e-15 |w_p||w_q| or <= 1e-30 |A|_F².
//   w: n eigenvalues, sorted descending (a stable sort: ties keep the lower row first);
//   V: n x n, column j the unit eigenvector of w[j] (V[k*n + j] is its k-th component);
//   work: jacobi_psd_work(n) doubles; order: n ints.
// Every sum runs in ascending index order: bitwise reproducible, no threads, no allocation.
// Returns the number of sweeps that rotated (>= 0), or -1 if not converged after 100 sweeps (w
// and V then hold the best estimate).
int jacobi_psd(double *w, double *V, double *A, int n, double *work, int *order);

#endif
