// linalg_dc.c — every eigenpair of a symmetric tridiagonal matrix by divide and conquer (Cuppen;
// the scheme of LAPACK's dstedc / dlaed0..dlaed4): linalg_eig_tql's middle step for large n.
//
//   * Tear: T = diag(T1, T2) + |β| u uᵀ, u = e_m + sign(β) e_{m+1}, β the off-diagonal entry at
//     the cut (|β| taken off the two diagonal entries there), recursively, down to leaves of
//     <= LEAF solved by QL.
//   * Merge: with T1 = Q1 D1 Q1ᵀ, T2 = Q2 D2 Q2ᵀ, the eigenproblem of D + ρ z zᵀ (z = the last
//     row of Q1 and ± the first row of Q2). Deflation first: a tiny ρ|z_j| leaves d_j as it is;
//     two close poles are rotated (Givens) until one weight is zero. The remaining roots solve
//     the secular equation 1 + ρ Σ z_j² / (d_j - λ) = 0, each in its bracket between two poles,
//     with the origin at the nearer pole (so d_j - λ is computed to full relative accuracy), by
//     a two-pole rational model safeguarded by bisection. The weights are then recomputed from
//     the roots (Gu & Eisenstat's Löwner formula), which makes the eigenvectors z_j / (d_j - λ)
//     orthogonal to working precision however close the roots. Finally the new eigenvectors
//     are Q times these, by linalg_dgemm_tn, skipping Q's zero blocks.
//
// Eigenvectors are ROWS here (row i of Z = the eigenvector of d[i], in the coordinates of the
// block), as in the rest of linalg_eig. Determinism: roots and vectors are each computed by one
// thread from fixed sums; the products are linalg_dgemm_tn's (fixed order per element).
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "linalg.h"
#include "linalg_internal.h"

enum { LEAF = 32 };
static const double EPS = DBL_EPSILON / 2;          // unit roundoff, LAPACK's dlamch('E')

// A leaf: QL on a copy of e (the last entry of this block's e is a cut, not ours), then the pairs
// sorted ascending (stable) into the rows of Z (m x m at row stride ldz).
static int dc_leaf(double *d, const double *e, double *Z, size_t ldz, int m) {
    double ee[LEAF], T[LEAF * LEAF], rc[16 * LEAF], rs[16 * LEAF], w[LEAF];
    int ri[16 * LEAF], ord[LEAF];
    for (int i = 0; i < m; i++) ee[i] = i + 1 < m ? e[i] : 0.0;
    memset(T, 0, sizeof T);
    for (int i = 0; i < m; i++) T[i * m + i] = 1.0;
    int rc_ = eig_tql(d, ee, T, m, m, ri, rc, rs, 16 * LEAF);
    for (int i = 0; i < m; i++) {                       // insertion sort, ties keep their order
        int j = i;
        while (j > 0 && d[ord[j - 1]] > d[i]) { ord[j] = ord[j - 1]; j--; }
        ord[j] = i;
    }
    for (int i = 0; i < m; i++) {
        w[i] = d[ord[i]];
        memcpy(Z + (size_t)i * ldz, T + ord[i] * m, (size_t)m * sizeof(double));
    }
    memcpy(d, w, (size_t)m * sizeof(double));
    return rc_;
}

// Root i (0-based) of g(λ) = 1 + Σ_j w_j / (p_j - λ), w_j = ρ z_j² > 0, p ascending strictly
// (k poles): λ_i in (p_i, p_{i+1}), the last in (p_{k-1}, p_{k-1} + Σ w]. The origin K is the
// nearer pole (decided by the sign of g at the midpoint) and λ = p_K + τ; writes
// delta[j] = (p_j - p_K) - τ = p_j - λ_i for every j and returns λ_i.
static double secular_root(double *delta, const double *p, const double *w, int k, int i, double wsum) {
    int K;
    double lo, hi;                                     // the bracket of τ; g(lo) < 0 < g(hi)
    if (i < k - 1) {
        const double gap = p[i + 1] - p[i], mid = 0.5 * gap;
        double g = 1.0;
        for (int j = 0; j < k; j++) g += w[j] / ((p[j] - p[i]) - mid);
        if (g > 0.0) { K = i; lo = 0.0; hi = mid; }   // root left of the midpoint
        else { K = i + 1; lo = mid - gap; hi = 0.0; }
    } else {
        K = k - 1; lo = 0.0; hi = wsum;
    }
    for (int j = 0; j < k; j++) delta[j] = p[j] - p[K];
    double tau = 0.5 * (lo + hi);
    for (int it = 0; it < 400; it++) {
        // ψ: the poles left of the root (j <= i), φ: right of it; values and derivatives
        double psi = 0.0, dpsi = 0.0, phi = 0.0, dphi = 0.0, err = 1.0;
        for (int j = 0; j <= i; j++) {
            const double r = 1.0 / (delta[j] - tau), t = w[j] * r;
            psi += t; dpsi += t * r; err -= t;          // t < 0 here
        }
        for (int j = i + 1; j < k; j++) {
            const double r = 1.0 / (delta[j] - tau), t = w[j] * r;
            phi += t; dphi += t * r; err += t;
        }
        const double g = 1.0 + psi + phi;
        if (g > 0.0) hi = tau; else lo = tau;
        if (fabs(g) <= 8.0 * EPS * err) break;         // at the rounding level of g itself
        // the next τ from the model c + s/(δ_i - x) + S/(δ_{i+1} - x) (ψ and φ each matched in
        // value and slope at τ), the root between the two poles; bisection if it leaves the bracket
        double nt;
        if (i < k - 1) {
            const double dl = delta[i] - tau, dr = delta[i + 1] - tau;
            const double s = dpsi * dl * dl, S = dphi * dr * dr, c = g - dpsi * dl - dphi * dr;
            const double b = -(c * (dl + dr) + s + S), c0 = dl * dr * g;   // c η² + b η + c0 = 0
            double eta = NAN;
            if (c == 0.0) eta = -c0 / b;
            else {
                const double disc = b * b - 4.0 * c * c0;
                if (disc >= 0.0) {
                    const double q = -0.5 * (b + copysign(sqrt(disc), b));
                    const double e1 = q / c, e2 = q != 0.0 ? c0 / q : NAN;
                    eta = e1 > dl && e1 < dr ? e1 : e2;
                }
            }
            nt = tau + eta;
        } else {
            const double dl = delta[i] - tau, s = dpsi * dl * dl, c = g - dpsi * dl;
            nt = tau + dl + s / c;
        }
        if (!(nt > lo && nt < hi) || it >= 60) nt = 0.5 * (lo + hi);
        if (nt == tau || !(nt > lo && nt < hi)) break;    // the bracket is down to adjacent doubles
        tau = nt;
    }
    for (int j = 0; j < k; j++) delta[j] -= tau;
    return p[K] + tau;
}

// Out[t][i] = U[i][list[t]] for t < cnt, i < k (the transposed rows of the listed poles), in
// tiles so both sides stay in cache.
static void gather_t(double *Out, const double *U, int k, const int *list, int cnt) {
    enum { TB = 32 };
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)cnt * k > 1e6)
#endif
    for (int t0 = 0; t0 < cnt; t0 += TB)
        for (int i0 = 0; i0 < k; i0 += TB)
            for (int t = t0; t < t0 + TB && t < cnt; t++)
                for (int i = i0; i < i0 + TB && i < k; i++) Out[(size_t)t * k + i] = U[(size_t)i * k + list[t]];
}

// Merges the solved halves held in Z (m x m at row stride ldz: rows 0..m1-1 the eigenvectors of
// T1 in columns 0..m1-1, rows m1.. those of T2 in columns m1..; d ascending within each half)
// cut with weight beta into the eigenpairs of the whole block (d ascending, rows of Z).
// Work: ip (6m ints) and dv (8m + 5m² doubles), from eig_dc's one allocation for the top merge
// (reused by every merge: no page faults for fresh memory per merge).
static void dc_merge(double *d, double *Z, size_t ldz, int m1, int m2, double beta, int *ip, double *dv) {
    const int m = m1 + m2;
    int *idx = ip, *type = ip + m, *kp = ip + 2 * m, *df = ip + 3 * m, *lst = ip + 4 * m, *lst2 = ip + 5 * m;
    double *z = dv, *p = dv + m, *w = dv + 2 * m, *lam = dv + 3 * m, *zh = dv + 4 * m, *dd = dv + 5 * m;
    double *zk = dv + 6 * m, *nd_v = dv + 7 * m;
    // z: the last row of Q1 and sign(β) times the first row of Q2, over √2 (then ρ = 2|β|)
    const double sg = beta < 0.0 ? -1.0 : 1.0, rho = 2.0 * fabs(beta);
    for (int j = 0; j < m; j++) {
        z[j] = (j < m1 ? Z[(size_t)j * ldz + m1 - 1] : sg * Z[(size_t)j * ldz + m1]) * 0.70710678118654752440;
        type[j] = j < m1 ? 1 : 3;                    // 1: only T1's columns, 3: only T2's, 2: both
    }
    // the poles in ascending order (merge of the two sorted halves; ties: T1's first)
    for (int t = 0, a = 0, b = m1; t < m; t++) idx[t] = b >= m || (a < m1 && d[a] <= d[b]) ? a++ : b++;
    double dmax = 0.0, zmax = 0.0;
    for (int j = 0; j < m; j++) { dmax = fmax(dmax, fabs(d[j])); zmax = fmax(zmax, fabs(z[j])); }
    const double tol = 8.0 * EPS * fmax(dmax, zmax);
    // deflation, in ascending order of the poles: prev = the last pole kept so far
    int k = 0, nd = 0, prev = -1;
    for (int t = 0; t < m; t++) {
        const int j = idx[t];
        if (rho * fabs(z[j]) <= tol) { df[nd++] = j; continue; }   // no weight: d_j stays
        if (prev < 0) { prev = j; continue; }
        double c = z[j], s = z[prev];
        const double r = hypot(c, s), gap = d[j] - d[prev];
        c /= r; s = -s / r;
        if (fabs(gap * c * s) <= tol) {
            // close poles: rotate rows prev and j so that z_prev = 0, and deflate prev
            z[j] = r; z[prev] = 0.0;
            double *x = Z + (size_t)prev * ldz, *y = Z + (size_t)j * ldz;
            for (int a = 0; a < m; a++) { const double xa = x[a], ya = y[a]; x[a] = c * xa + s * ya; y[a] = c * ya - s * xa; }
            if (type[prev] != type[j]) type[j] = 2;
            const double dp = d[prev] * c * c + d[j] * s * s;
            d[j] = d[prev] * s * s + d[j] * c * c;
            d[prev] = dp;
            df[nd++] = prev;
        } else kp[k++] = prev;
        prev = j;
    }
    if (prev >= 0) kp[k++] = prev;
    // the secular equation over the kept poles; delta (k x k): row i = p_j - λ_i
    const size_t kk = (size_t)k * k;
    double *delta = dv + 8 * (size_t)m;                              // k x k
    double *A = delta + kk;                                          // gathered Uᵀ rows: k x k
    double *B = A + kk;                                              // gathered Z rows: k x m
    double *Zn = B + (size_t)k * m;                                  // the new kept rows: k x m
    double *Dz = Zn + (size_t)k * m;                                 // the deflated rows: nd x m
    double wsum = 0.0;
    for (int t = 0; t < k; t++) { p[t] = d[kp[t]]; zk[t] = z[kp[t]]; w[t] = rho * zk[t] * zk[t]; wsum += w[t]; }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 8) if ((double)k * k > 1e5)
#endif
    for (int i = 0; i < k; i++) lam[i] = secular_root(delta + (size_t)i * k, p, w, k, i, wsum);
    // Löwner: ẑ_j² ∝ Π_i (λ_i - p_j) / Π_{i≠j} (p_i - p_j), from the computed roots
    for (int j = 0; j < k; j++) zh[j] = delta[(size_t)j * k + j];
    for (int i = 0; i < k; i++) {
        const double *di = delta + (size_t)i * k;
        for (int j = 0; j < k; j++)
            if (j != i) zh[j] *= di[j] / (p[j] - p[i]);
    }
    for (int j = 0; j < k; j++) zh[j] = copysign(sqrt(fmax(-zh[j], 0.0)), zk[j]);
    // eigenvector i: ẑ_j / (p_j - λ_i), normalized (in place of delta's row i)
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)k * k > 1e5)
#endif
    for (int i = 0; i < k; i++) {
        double *u = delta + (size_t)i * k;
        for (int j = 0; j < k; j++) u[j] = zh[j] / u[j];
        const double nrm = sqrt(linalg_ddot(u, u, (size_t)k));
        for (int j = 0; j < k; j++) u[j] /= nrm;
    }
    // new row i = Σ_j u_ij (old row kp[j]): columns 0..m1-1 from the rows of type 1 and 2,
    // columns m1.. from those of type 2 and 3 (the others are zero there)
    for (int half = 0; half < 2; half++) {
        const int c0 = half ? m1 : 0, nc = half ? m2 : m1;
        int cnt = 0;
        for (int t = 0; t < k; t++)
            if (type[kp[t]] == 2 || type[kp[t]] == (half ? 3 : 1)) lst[cnt++] = t;
        for (int t = 0; t < cnt; t++) {
            lst2[t] = kp[lst[t]];
            memcpy(B + (size_t)t * nc, Z + (size_t)lst2[t] * ldz + c0, (size_t)nc * sizeof(double));
        }
        gather_t(A, delta, k, lst, cnt);                               // cnt x k
        linalg_dgemm_tn(Zn + c0, (size_t)m, A, (size_t)k, B, (size_t)nc, k, nc, cnt, 0);
    }
    for (int t = 0; t < nd; t++) {
        memcpy(Dz + (size_t)t * m, Z + (size_t)df[t] * ldz, (size_t)m * sizeof(double));
        nd_v[t] = d[df[t]];
    }
    // the deflated values ascending (insertion sort; nearly sorted already), with their rows
    for (int t = 0; t < nd; t++) lst[t] = t;
    for (int t = 1; t < nd; t++) {
        const int x = lst[t];
        int u = t;
        while (u > 0 && nd_v[lst[u - 1]] > nd_v[x]) { lst[u] = lst[u - 1]; u--; }
        lst[u] = x;
    }
    // merge the roots (ascending) and the deflated values into d and the rows of Z
    for (int t = 0, a = 0, b = 0; t < m; t++) {
        const double *src;
        if (b >= nd || (a < k && lam[a] <= nd_v[lst[b]])) { dd[t] = lam[a]; src = Zn + (size_t)a * m; a++; }
        else { dd[t] = nd_v[lst[b]]; src = Dz + (size_t)lst[b] * m; b++; }
        memcpy(Z + (size_t)t * ldz, src, (size_t)m * sizeof(double));
    }
    memcpy(d, dd, (size_t)m * sizeof(double));
}

// The eigenpairs of the block (d, e) of size m into Z (m x m at row stride ldz, zero outside its
// diagonal blocks on entry): cut in the middle, solve the halves, merge.
static int dc_rec(double *d, const double *e, double *Z, size_t ldz, int m, int *ip, double *dv) {
    if (m <= LEAF) return dc_leaf(d, e, Z, ldz, m);
    const int m1 = m / 2, m2 = m - m1;
    const double beta = e[m1 - 1];
    d[m1 - 1] -= fabs(beta);
    d[m1] -= fabs(beta);
    const int r1 = dc_rec(d, e, Z, ldz, m1, ip, dv);
    const int r2 = dc_rec(d + m1, e + m1, Z + (size_t)m1 * ldz + m1, ldz, m2, ip, dv);
    if (r1 || r2) return r1 < r2 ? r1 : r2;
    dc_merge(d, Z, ldz, m1, m2, beta, ip, dv);
    return 0;
}

int eig_dc(double *d, double *e, double *Zt, int n) {
    if (n <= 0) return 0;
    memset(Zt, 0, (size_t)n * n * sizeof(double));
    // scale to max |entry| in [1/2, 1) by a power of two (exact): the deflation tolerance
    // compares eigenvalues with the O(1) weights z
    double nrm = 0.0;
    for (int i = 0; i < n; i++) nrm = fmax(nrm, fabs(d[i]));
    for (int i = 0; i + 1 < n; i++) nrm = fmax(nrm, fabs(e[i]));
    if (nrm == 0.0) {
        for (int i = 0; i < n; i++) Zt[(size_t)i * n + i] = 1.0;
        return 0;
    }
    int ex;
    frexp(nrm, &ex);
    for (int i = 0; i < n; i++) { d[i] = ldexp(d[i], -ex); e[i] = ldexp(e[i], -ex); }
    int *ip = malloc((size_t)6 * n * sizeof(int));
    double *dv = malloc(((size_t)8 * n + (size_t)5 * n * n) * sizeof(double));
    const int rc = ip && dv ? dc_rec(d, e, Zt, (size_t)n, n, ip, dv) : -2;
    free(ip); free(dv);
    for (int i = 0; i < n; i++) d[i] = ldexp(d[i], ex);
    return rc;
}
