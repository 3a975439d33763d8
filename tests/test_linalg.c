// test_linalg.c — the linear algebra of sim/measure/linalg.h: sim/measure/linalg.c,
// linalg_kernels.c, linalg_eig.c, linalg_tridiag.c and linalg_dc.c, against the Jacobi reference
// and against closed-form spectra:
//   * dgemm, Gram, dot kernels against their plain references (awkward shapes);
//   * linalg_eig_tql against linalg_eig_sym (indefinite random matrices) and against
//     A = H diag(λ) H / n with H a Sylvester-Hadamard matrix (known eigenpairs, both signs);
//   * Lanczos (linalg_eig_top, linalg_svd_top) against the same closed forms, on ranks below k,
//     and against linalg_svd_top_ref (Jacobi);
//   * linalg_svd_right and linalg_svd_top at D = 1024 on X whose rows are s_i h_i / 32 (h_i rows
//     of a Hadamard matrix: singular values s_i and right singular vectors h_i / 32 exactly,
//     every entry exact in float): 1e-6 relative on the leading values and vectors (the issue's
//     target; the errors reached are printed);
//   * divide and conquer's hard cases (linalg_eig_tql): many equal eigenvalues (heavy
//     deflation), tight clusters, a low-rank Gram matrix, Wilkinson and glued Wilkinson
//     matrices, zeros on the off-diagonal at the cuts, diagonal and zero matrices, sizes around
//     the block sizes, a graded spectrum: eigenvalues, residual and orthogonality to 1e-14 n;
//   * 1 thread vs 2 threads bitwise (the full decomposition also past n = 1024);
//   * the Jacobi solver itself (linalg_eig_sym), linalg_eig_psd, linalg_svd_right,
//     linalg_spectral_norm and linalg_svd_top's two routes on matrices built from chosen
//     orthonormal vectors (Householder reflectors) and spectra.
// The large sizes (D = 4096, 7168) run in the benchmark (`make bench`, group analyze).
// Under ASan+UBSan (SAN=1, ~10x slower) the closed-form tests use D = 256 instead of 1024.
// covers: sim/measure/linalg.c sim/measure/linalg_eig.c sim/measure/linalg_tridiag.c
// covers: sim/measure/linalg_dc.c sim/measure/linalg_kernels.c
// covers: nn/jacobi_psd.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../nn/nn.h"
#include "../sim/measure/linalg.h"
#include "bases.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define BIG_D 256      // sanitizers: ~10x slower; the same tests at a smaller width
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_D 256
#endif
#endif
#ifndef BIG_D
#define BIG_D 1024
#endif
// The full decomposition (every eigenpair) is O(D³), its reduction memory-bound: D = 512 here
// keeps the suite fast; D = 1024 and beyond run in the benchmark.
#define FULL_D (BIG_D / 2)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static unsigned long long rng_state = 12345;
static double urand(void) {   // uniform in [-1, 1)
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static int hadamard(int i, int j) { return __builtin_popcount((unsigned)(i & j)) & 1 ? -1 : 1; }

// 1 - |cos| between two vectors (0 for the same direction, either sign).
static double angle_err(const double *a, const double *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    return 1.0 - fabs(ab) / sqrt(aa * bb);
}

static void test_kernels(void) {
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 8, 1}, {17, 33, 65}, {64, 256, 300}, {70, 260, 513}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        double *A = malloc(sizeof(double) * K * M), *B = malloc(sizeof(double) * K * N);
        double *C1 = malloc(sizeof(double) * M * N), *C2 = malloc(sizeof(double) * M * N);
        for (int i = 0; i < K * M; i++) A[i] = urand();
        for (int i = 0; i < K * N; i++) B[i] = urand();
        for (int acc = 0; acc < 2; acc++) {
            for (int i = 0; i < M * N; i++) C1[i] = C2[i] = urand();
            linalg_dgemm_tn(C1, N, A, M, B, N, M, N, K, acc);
            linalg_dgemm_tn_ref(C2, N, A, M, B, N, M, N, K, acc);
            double worst = 0;
            for (int i = 0; i < M * N; i++) worst = fmax(worst, fabs(C1[i] - C2[i]));
            CHECK_MSG(worst <= 1e-12 * K, "dgemm %dx%dx%d acc=%d: max diff %g", M, N, K, acc, worst);
        }
        free(A); free(B); free(C1); free(C2);
    }
    // Gram: blocked vs plain, and the row Gram vs dot products
    const int N = 1100, D = 70;
    float *X = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++) X[i] = (float)urand();
    double *G1 = malloc(sizeof(double) * D * D), *G2 = malloc(sizeof(double) * D * D);
    linalg_gram(G1, X, N, D);
    linalg_gram_ref(G2, X, N, D);
    double worst = 0;
    for (int i = 0; i < D * D; i++) worst = fmax(worst, fabs(G1[i] - G2[i]) / (1 + fabs(G2[i])));
    CHECK_MSG(worst < 1e-13, "gram: max rel diff %g", worst);
    double *R = malloc(sizeof(double) * 40 * 40);
    linalg_gram_rows(R, X, 40, D);
    worst = 0;
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 40; j++) {
            double t = 0;
            for (int a = 0; a < D; a++) t += (double)X[i * D + a] * X[j * D + a];
            worst = fmax(worst, fabs(R[i * 40 + j] - t));
        }
    CHECK_MSG(worst < 1e-12, "gram_rows: max diff %g", worst);
    // dots and the implicit operator against plain loops
    double v[70], y[70], yr[70];
    for (int a = 0; a < D; a++) v[a] = urand();
    double *scr = malloc(sizeof(double) * linalg_gram_apply_scratch(N, D));
    linalg_gram_apply(y, v, X, N, D, 0, scr);
    for (int a = 0; a < D; a++) yr[a] = linalg_dot(G2 + (size_t)a * D, v, D);
    worst = 0;
    for (int a = 0; a < D; a++) worst = fmax(worst, fabs(y[a] - yr[a]) / (1 + fabs(yr[a])));
    CHECK_MSG(worst < 1e-12, "gram_apply: max rel diff %g", worst);
    double *u = malloc(sizeof(double) * N), *yu = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) u[i] = urand();
    linalg_gram_apply(yu, u, X, N, D, 1, scr);
    double t[70] = {0};
    for (int i = 0; i < N; i++) for (int a = 0; a < D; a++) t[a] += u[i] * X[i * D + a];
    worst = 0;
    for (int i = 0; i < N; i++) {
        double r = 0;
        for (int a = 0; a < D; a++) r += t[a] * X[i * D + a];
        worst = fmax(worst, fabs(yu[i] - r) / (1 + fabs(r)));
    }
    CHECK_MSG(worst < 1e-11, "gram_apply rows: max rel diff %g", worst);
    free(X); free(G1); free(G2); free(R); free(scr); free(u); free(yu);
}

// eig_tql vs Jacobi on random symmetric (indefinite) matrices, and the eigenvector equation.
static void test_tql_vs_jacobi(void) {
    const int sizes[] = {1, 2, 3, 10, 65, 200};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        double *A = malloc(sizeof(double) * n * n), *A1 = malloc(sizeof(double) * n * n), *A2 = malloc(sizeof(double) * n * n);
        double *w1 = malloc(sizeof(double) * n), *w2 = malloc(sizeof(double) * n);
        double *V1 = malloc(sizeof(double) * n * n), *V2 = malloc(sizeof(double) * n * n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = urand();
        memcpy(A1, A, sizeof(double) * n * n);
        memcpy(A2, A, sizeof(double) * n * n);
        CHECK(linalg_eig_tql(w1, V1, A1, n) == 0);
        CHECK(linalg_eig_sym(w2, V2, A2, n) >= 0);
        double we = 0, res = 0, orth = 0;
        for (int j = 0; j < n; j++) {
            we = fmax(we, fabs(w1[j] - w2[j]));
            for (int i = 0; i < n; i++) {               // |A v - w v|
                double t = 0;
                for (int k = 0; k < n; k++) t += A[i * n + k] * V1[k * n + j];
                res = fmax(res, fabs(t - w1[j] * V1[i * n + j]));
            }
            for (int l = 0; l <= j; l++) {
                double t = 0;
                for (int k = 0; k < n; k++) t += V1[k * n + j] * V1[k * n + l];
                orth = fmax(orth, fabs(t - (l == j)));
            }
        }
        CHECK_MSG(we < 1e-12 * n && res < 1e-12 * n && orth < 1e-12 * n,
                  "eig_tql n=%d: eigenvalues %g from Jacobi, residual %g, orthogonality %g", n, we, res, orth);
        free(A); free(A1); free(A2); free(w1); free(w2); free(V1); free(V2);
    }
    double w[2], V[4], Z[4] = {0, 0, 0, 0};
    CHECK(linalg_eig_tql(w, V, Z, 2) == 0 && w[0] == 0.0 && w[1] == 0.0);
}

// A = H diag(λ) H / n: eigenvalue λ_i with eigenvector h_i / sqrt(n) (Sylvester Hadamard H).
static void test_closed_form_sym(int n) {
    double *A = malloc(sizeof(double) * n * n), *lam = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) lam[i] = (i % 3 == 2 ? -1.0 : 1.0) * 10.0 * exp(-i / 40.0);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double t = 0;
            for (int i = 0; i < n; i++) t += hadamard(a, i) * lam[i] * hadamard(i, b);
            A[a * n + b] = t / n;
        }
    // sorted true eigenvalues (descending) with their Hadamard index
    int *idx = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && lam[idx[j]] > lam[idx[j - 1]]; j--) { int t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t; }
    double *B = malloc(sizeof(double) * n * n), *w = malloc(sizeof(double) * n), *V = malloc(sizeof(double) * n * n);
    double *h = malloc(sizeof(double) * n), *v = malloc(sizeof(double) * n);
    memcpy(B, A, sizeof(double) * n * n);
    double t0 = now_s();
    CHECK(linalg_eig_tql(w, V, B, n) == 0);
    double t_full = now_s() - t0;
    double we = 0, ve = 0;
    for (int j = 0; j < 10; j++) {
        we = fmax(we, fabs(w[j] - lam[idx[j]]) / fabs(lam[idx[j]]));
        for (int a = 0; a < n; a++) { h[a] = hadamard(a, idx[j]); v[a] = V[a * n + j]; }
        ve = fmax(ve, angle_err(v, h, n));
    }
    CHECK_MSG(we < 1e-10 && ve < 1e-10, "eig_tql closed form n=%d: value %g, vector %g", n, we, ve);
    printf("  eig_tql n=%d: %.2f s; leading 10: eigenvalue rel err %.1e, vector 1-|cos| %.1e\n", n, t_full, we, ve);
    // Lanczos, top 5 (the largest algebraic values)
    double lk[5], *Vk = malloc(sizeof(double) * 5 * n);
    t0 = now_s();
    CHECK(linalg_eig_top(lk, Vk, A, n, 5) >= 0);
    double t_top = now_s() - t0;
    we = ve = 0;
    for (int j = 0; j < 5; j++) {
        we = fmax(we, fabs(lk[j] - lam[idx[j]]) / fabs(lam[idx[j]]));
        for (int a = 0; a < n; a++) h[a] = hadamard(a, idx[j]);
        ve = fmax(ve, angle_err(Vk + (size_t)j * n, h, n));
    }
    CHECK_MSG(we < 1e-10 && ve < 1e-10, "eig_top closed form n=%d: value %g, vector %g", n, we, ve);
    printf("  eig_top (Lanczos) n=%d k=5: %.3f s; eigenvalue rel err %.1e, vector 1-|cos| %.1e\n", n, t_top, we, ve);
    free(A); free(lam); free(idx); free(B); free(w); free(V); free(h); free(v); free(Vk);
}

// X (N x D float): row i = t_i h_{p(i)}, D a power of two, entries ±t_i exact in float (t_i has a
// 12-bit mantissa). Singular values t_i sqrt(D), right vectors h_{p(i)} / sqrt(D).
static float *hadamard_rows(int N, int D, double *s, const int *p) {
    float *X = malloc(sizeof(float) * (size_t)N * D);
    for (int i = 0; i < N; i++) {
        for (int a = 0; a < D; a++) X[(size_t)i * D + a] = (float)(s[i] * hadamard(p[i], a));
        s[i] *= sqrt((double)D);                       // now the singular value
    }
    return X;
}

static void test_closed_form_svd(int D, int full) {
    const int N = D;
    double *s = malloc(sizeof(double) * N);
    int *p = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) {
        // distinct values with 12-bit mantissas (exact in float times ±1/32), decaying like a real
        // spectrum; rows in a scrambled order
        s[i] = ldexp(floor(ldexp(64.0 * exp(-i / 60.0), 12 - (int)ceil(log2(64.0 * exp(-i / 60.0) + 1e-300)))),
                     (int)ceil(log2(64.0 * exp(-i / 60.0) + 1e-300)) - 12);
        p[i] = (int)(((unsigned)i * 2654435761u) % (unsigned)D);
    }
    // make p a permutation: i * odd mod D is one when D is a power of two
    for (int i = 0; i < N; i++) p[i] = (int)(((unsigned)i * 40503u) & (unsigned)(D - 1));
    float *X = hadamard_rows(N, D, s, p);
    double *sv = malloc(sizeof(double) * D), *V = malloc(sizeof(double) * D * D), *h = malloc(sizeof(double) * D);
    double *v = malloc(sizeof(double) * D);
    double t0 = now_s(), t_full = 0, se = 0, ve = 0;
    if (full) {
    CHECK(linalg_svd_right(sv, V, NULL, X, N, D) >= 0);
    t_full = now_s() - t0;
    for (int j = 0; j < 16; j++) {                     // s is descending; row j has index p[j]
        se = fmax(se, fabs(sv[j] - s[j]) / s[j]);
        for (int a = 0; a < D; a++) { h[a] = hadamard(p[j], a); v[a] = V[(size_t)a * D + j]; }
        ve = fmax(ve, angle_err(v, h, D));
    }
    CHECK_MSG(se < 1e-6 && ve < 1e-6, "svd_right closed form D=%d: value %g, vector %g", D, se, ve);
    printf("  svd_right D=%d N=%d (Gram + tridiagonal + divide and conquer): %.2f s; leading 16: singular value rel err %.1e, vector 1-|cos| %.1e\n",
           D, N, t_full, se, ve);
    }
    // svd_top on both routes: all N rows (n = D: the D side) and the first D/4 rows (n < D)
    for (int route = 0; route < 2; route++) {
        size_t n = route ? (size_t)D / 4 : (size_t)N;
        double lam[3], Vk[3 * 1024 + 3], fro2;
        double *Vt = D <= 1024 ? Vk : malloc(sizeof(double) * 3 * D);
        t0 = now_s();
        CHECK(linalg_svd_top(lam, Vt, &fro2, X, n, D, 3) >= 0);
        double t_top = now_s() - t0;
        se = ve = 0;
        for (int j = 0; j < 3; j++) {
            se = fmax(se, fabs(sqrt(lam[j]) - s[j]) / s[j]);
            for (int a = 0; a < D; a++) h[a] = hadamard(p[j], a);
            ve = fmax(ve, angle_err(Vt + (size_t)j * D, h, D));
        }
        double f2 = 0;
        for (size_t i = 0; i < n; i++) f2 += s[i] * s[i];
        CHECK_NEAR(fro2, f2, 0, 1e-12);
        CHECK_MSG(se < 1e-6 && ve < 1e-6, "svd_top closed form n=%zu D=%d: value %g, vector %g", n, D, se, ve);
        printf("  svd_top n=%zu D=%d k=3 (Lanczos): %.3f s; singular value rel err %.1e, vector 1-|cos| %.1e\n",
               n, D, t_top, se, ve);
        if (Vt != Vk) free(Vt);
    }
    free(s); free(p); free(X); free(sv); free(V); free(h); free(v);
}

// svd_top vs its Jacobi reference on random data (both routes), a rank below k, zero data.
static void test_svd_top_vs_ref(void) {
    const int D = 96;
    const size_t ns[] = {20, 80, 200};
    float *X = malloc(sizeof(float) * 200 * D);
    for (int i = 0; i < 200 * D; i++) X[i] = (float)(urand() + (i % D == 3 ? 2.0 : 0.0));   // a shared direction
    for (size_t t = 0; t < 3; t++) {
        double l1[3], l2[3], V1[3 * D], V2[3 * D], f1, f2;
        CHECK(linalg_svd_top(l1, V1, &f1, X, ns[t], D, 3) >= 0);
        CHECK(linalg_svd_top_ref(l2, V2, &f2, X, ns[t], D, 3) >= 0);
        double le = 0, ve = 0;
        for (int j = 0; j < 3; j++) { le = fmax(le, fabs(l1[j] - l2[j]) / l2[0]); ve = fmax(ve, angle_err(V1 + j * D, V2 + j * D, D)); }
        CHECK_MSG(le < 1e-12 && ve < 1e-8 && f1 == f2, "svd_top vs Jacobi n=%zu: values %g, vectors %g", ns[t], le, ve);
    }
    // rank 2 (rows are combinations of two vectors): the third direction is undefined (zeros)
    float R[50 * D];
    for (int i = 0; i < 50; i++)
        for (int a = 0; a < D; a++) R[i * D + a] = (float)((i % 7) * (a % 5 == 0) + (i % 3) * (a % 2));
    double l[3], Vk[3 * D];
    CHECK(linalg_svd_top(l, Vk, NULL, R, 50, D, 3) >= 0);
    double z = 0;
    for (int a = 0; a < D; a++) z += fabs(Vk[2 * D + a]);
    CHECK(l[0] > 0 && l[1] > 0 && l[2] <= 1e-12 * l[0] && z == 0.0);
    float Z0[10 * D];
    memset(Z0, 0, sizeof Z0);
    CHECK(linalg_svd_top(l, Vk, NULL, Z0, 10, D, 3) >= 0 && l[0] == 0.0);
    // spectral norms: fast vs Jacobi, both sides
    double A[30 * 17];
    for (int i = 0; i < 30 * 17; i++) A[i] = urand();
    CHECK_NEAR(linalg_spectral_norm(A, 30, 17), linalg_spectral_norm_ref(A, 30, 17), 0, 1e-12);
    CHECK_NEAR(linalg_spectral_norm(A, 17, 30), linalg_spectral_norm_ref(A, 17, 30), 0, 1e-12);
    double *P = malloc(sizeof(double) * 100 * 300);
    for (int i = 0; i < 100 * 300; i++) P[i] = urand() + 0.1;
    CHECK_NEAR(linalg_spectral_norm(P, 100, 300), linalg_spectral_norm_ref(P, 100, 300), 0, 1e-10);
    free(P);
    free(X);
}

// ---- divide and conquer: the hard cases ---------------------------------------------------------

// linalg_eig_tql on A (n x n, not modified) against reference eigenvalues wref (descending; NULL:
// Jacobi's): eigenvalue error, residual max|A V - V diag(w)| and orthogonality max|VᵀV - I|, the
// first two relative to ‖A‖∞. tol scales with n. Returns the worst of the three.
static double check_eig(const char *name, const double *A, int n, const double *wref, double tol) {
    double *B = malloc(sizeof(double) * n * n), *w = malloc(sizeof(double) * n), *V = malloc(sizeof(double) * n * n);
    double *wr = malloc(sizeof(double) * n), *Vr = malloc(sizeof(double) * n * n);
    memcpy(B, A, sizeof(double) * n * n);
    CHECK(linalg_eig_tql(w, V, B, n) == 0);
    if (wref) memcpy(wr, wref, sizeof(double) * n);
    else { memcpy(B, A, sizeof(double) * n * n); CHECK(linalg_eig_sym(wr, Vr, B, n) >= 0); }
    double an = 0, we = 0, res = 0, orth = 0;
    int sorted = 1;
    for (int i = 0; i < n; i++) {
        double r = 0;
        for (int j = 0; j < n; j++) r += fabs(A[(size_t)i * n + j]);
        an = fmax(an, r);
    }
    if (an == 0) an = 1;
    for (int j = 0; j < n; j++) {
        we = fmax(we, fabs(w[j] - wr[j]) / an);
        if (j > 0 && w[j] > w[j - 1]) sorted = 0;
    }
    for (int i = 0; i < n; i++) {                       // rows of A V and VᵀV, entry by entry
        for (int j = 0; j < n; j++) {
            double t = 0, o = 0;
            for (int k = 0; k < n; k++) {
                t += A[(size_t)i * n + k] * V[(size_t)k * n + j];
                o += V[(size_t)k * n + i] * V[(size_t)k * n + j];
            }
            res = fmax(res, fabs(t - w[j] * V[(size_t)i * n + j]) / an);
            orth = fmax(orth, fabs(o - (i == j)));
        }
    }
    const double lim = tol * n;
    CHECK_MSG(sorted && we <= lim && res <= lim && orth <= lim,
              "%s n=%d: eigenvalue error %.2g, residual %.2g, orthogonality %.2g (limit %.2g), sorted %d",
              name, n, we, res, orth, lim, sorted);
    free(B); free(w); free(V); free(wr); free(Vr);
    return fmax(we, fmax(res, orth)) / n;
}

// A tridiagonal matrix as a dense one (the reduction leaves it as it is).
static double *tridiag_dense(const double *d, const double *e, int n) {
    double *A = calloc((size_t)n * n, sizeof(double));
    for (int i = 0; i < n; i++) {
        A[(size_t)i * n + i] = d[i];
        if (i + 1 < n) A[(size_t)i * n + i + 1] = A[(size_t)(i + 1) * n + i] = e[i];
    }
    return A;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

// H diag(lam) H / n (n a power of two): eigenvalues lam exactly, sorted descending into wref.
static double *hadamard_sym(const double *lam, int n, double *wref) {
    double *A = malloc(sizeof(double) * n * n);
    for (int a = 0; a < n; a++)
        for (int b = 0; b <= a; b++) {
            double t = 0;
            for (int i = 0; i < n; i++) t += hadamard(a, i) * lam[i] * hadamard(i, b);
            A[a * n + b] = A[b * n + a] = t / n;
        }
    memcpy(wref, lam, sizeof(double) * n);
    qsort(wref, (size_t)n, sizeof(double), cmp_desc);
    return A;
}

static void test_dc_hard(void) {
    const double TOL = 1e-14;                           // x n: 2.6e-12 at n = 256
    double worst = 0;
    int n = 256;
    double *lam = malloc(sizeof(double) * n), *wref = malloc(sizeof(double) * n), *A;
    // 1. three eigenvalues, each ~85 times (every merge deflates nearly everything)
    for (int i = 0; i < n; i++) lam[i] = (double)(i % 3) - 1.0 + (i % 3 == 2 ? 1.5 : 0.0);
    A = hadamard_sym(lam, n, wref);
    worst = fmax(worst, check_eig("three distinct eigenvalues", A, n, wref, TOL));
    free(A);
    // 2. tight clusters: groups of 8 values 1e-13 apart (relative), the groups 1 apart
    for (int i = 0; i < n; i++) lam[i] = (double)(i / 8 % 5) * (i % 2 ? 1 : -1) + 1e-13 * (i % 8);
    A = hadamard_sym(lam, n, wref);
    worst = fmax(worst, check_eig("tight clusters", A, n, wref, TOL));
    free(A);
    // 3. a low-rank Gram matrix XᵀX (X: 4 x 200, rank 4): 196 zeros
    n = 200;
    double *X = malloc(sizeof(double) * 4 * n);
    for (int i = 0; i < 4 * n; i++) X[i] = urand();
    A = malloc(sizeof(double) * n * n);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double t = 0;
            for (int r = 0; r < 4; r++) t += X[r * n + a] * X[r * n + b];
            A[a * n + b] = t;
        }
    worst = fmax(worst, check_eig("rank-4 Gram matrix", A, n, NULL, TOL));
    free(A); free(X);
    // 4. Wilkinson W(2m+1) (d_i = |m - i|, e = 1: pairs of eigenvalues equal to many digits),
    //    and five W(21) glued by 1e-10 (clusters of five nearly equal values)
    double d[200], e[200];
    for (int m = 20; m <= 50; m += 30) {
        n = 2 * m + 1;
        for (int i = 0; i < n; i++) { d[i] = fabs((double)(m - i)); e[i] = 1.0; }
        A = tridiag_dense(d, e, n);
        worst = fmax(worst, check_eig("Wilkinson", A, n, NULL, TOL));
        free(A);
    }
    n = 105;
    for (int i = 0; i < n; i++) { d[i] = fabs((double)(10 - i % 21)); e[i] = i % 21 == 20 ? 1e-10 : 1.0; }
    A = tridiag_dense(d, e, n);
    worst = fmax(worst, check_eig("glued Wilkinson", A, n, NULL, TOL));
    free(A);
    // 5. zeros on the off-diagonal, among them the cuts of the first two levels (n = 100: 49, 24)
    n = 100;
    for (int i = 0; i < n; i++) { d[i] = urand(); e[i] = (i == 49 || i == 24 || i == 10 || i == 77) ? 0.0 : urand(); }
    A = tridiag_dense(d, e, n);
    worst = fmax(worst, check_eig("split tridiagonal", A, n, NULL, TOL));
    free(A);
    // 6. a diagonal matrix with repeated entries (every merge deflates all), and zero
    for (int i = 0; i < n; i++) { d[i] = (double)((i * 37) % 11) - 5.0; e[i] = 0.0; }
    A = tridiag_dense(d, e, n);
    for (int i = 0; i < n; i++) wref[i] = d[i];
    qsort(wref, (size_t)n, sizeof(double), cmp_desc);
    worst = fmax(worst, check_eig("diagonal", A, n, wref, TOL));
    memset(A, 0, sizeof(double) * n * n);
    memset(wref, 0, sizeof(double) * n);
    worst = fmax(worst, check_eig("zero", A, n, wref, TOL));
    free(A);
    // 7. random symmetric at sizes around the block sizes (leaf 32, panel 32): one level of
    //    merging, odd sizes, a prime
    const int sizes[] = {1, 2, 3, 33, 64, 97, 131};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        n = sizes[s];
        A = malloc(sizeof(double) * n * n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = urand();
        worst = fmax(worst, check_eig("random", A, n, NULL, TOL));
        free(A);
    }
    // 8. a graded matrix: entries spanning 1e-8..1 (the scaling and the tolerances)
    n = 128;
    for (int i = 0; i < n; i++) lam[i] = pow(10.0, -8.0 * i / n) * (i % 2 ? -1 : 1);
    A = hadamard_sym(lam, n, wref);
    worst = fmax(worst, check_eig("graded", A, n, wref, TOL));
    free(A);
    printf("  divide and conquer, hard cases: worst error / n %.1e (limit %.0e)\n", worst, TOL);
    free(lam); free(wref);
}

// The same numbers for 1 and 2 threads, bit for bit.
static void test_threads(void) {
#ifdef _OPENMP
    const int N = 700, D = 300;
    float *X = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++) X[i] = (float)(urand() + (i % D == 7 ? 1.5 : 0.0));
    double *s[2], *V[2], lam[2][3], Vk[2][3 * 300];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        s[t] = malloc(sizeof(double) * D);
        V[t] = malloc(sizeof(double) * D * D);
        CHECK(linalg_svd_right(s[t], V[t], NULL, X, N, D) >= 0);
        CHECK(linalg_svd_top(lam[t], Vk[t], NULL, X, 200, D, 3) >= 0);
    }
    CHECK(memcmp(s[0], s[1], sizeof(double) * D) == 0);
    CHECK(memcmp(V[0], V[1], sizeof(double) * D * D) == 0);
    CHECK(memcmp(lam[0], lam[1], sizeof lam[0]) == 0 && memcmp(Vk[0], Vk[1], sizeof Vk[0]) == 0);
    for (int t = 0; t < 2; t++) { free(s[t]); free(V[t]); }
    free(X);
    // every eigenpair of a Gram matrix of rank n/2 at n = BIG_D + 100 (rel: past 1024, where the
    // reduction's symmetric product goes parallel; half the top merge deflates)
    const int n = BIG_D + 100;
    float *Y = malloc(sizeof(float) * (n / 2) * n);
    for (int i = 0; i < (n / 2) * n; i++) Y[i] = (float)urand();
    double *G = malloc(sizeof(double) * n * n), *B = malloc(sizeof(double) * n * n);
    linalg_gram(G, Y, (size_t)(n / 2), n);
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        s[t] = malloc(sizeof(double) * n);
        V[t] = malloc(sizeof(double) * n * n);
        memcpy(B, G, sizeof(double) * n * n);
        CHECK(linalg_eig_tql(s[t], V[t], B, n) == 0);
    }
    CHECK(memcmp(s[0], s[1], sizeof(double) * n) == 0 && memcmp(V[0], V[1], sizeof(double) * n * n) == 0);
    for (int t = 0; t < 2; t++) { free(s[t]); free(V[t]); }
    free(Y); free(G); free(B);
    omp_set_num_threads(2);
#else
    SKIP("built without OpenMP: one thread only");
#endif
}

// ---- Jacobi, eig_psd, svd_right, spectral norm, svd_top on chosen vectors and spectra ----------

static void test_jacobi_2x2(void) {
    // [[2,1],[1,2]]: eigenvalues 3 and 1, eigenvectors (1,1)/√2 and (1,-1)/√2.
    double A[4] = {2, 1, 1, 2}, w[2], V[4];
    CHECK(linalg_eig_sym(w, V, A, 2) >= 0);
    CHECK_NEAR(w[0], 3.0, 1e-14, 0);
    CHECK_NEAR(w[1], 1.0, 1e-14, 0);
    CHECK_NEAR(fabs(V[0 * 2 + 0]), 1 / sqrt(2.0), 1e-14, 0);
    CHECK_NEAR(V[0 * 2 + 0] * V[1 * 2 + 0], 0.5, 1e-14, 0);    // same sign: (1,1) direction
    CHECK_NEAR(V[0 * 2 + 1] * V[1 * 2 + 1], -0.5, 1e-14, 0);   // opposite signs: (1,-1)
    // The identity needs no rotation at all.
    double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, w3[3], V3[9];
    CHECK(linalg_eig_sym(w3, V3, I, 3) == 0);
    CHECK(w3[0] == 1.0 && w3[1] == 1.0 && w3[2] == 1.0);
}

static void test_jacobi_known_spectrum(void) {
    // A = Q diag(λ) Qᵀ with Q a Householder reflector and λ chosen (one negative, unsorted): the
    // solver must return λ sorted descending and Q's columns (up to sign) as eigenvectors.
    enum { n = 5 };
    const double u[n] = {1, 2, 3, 4, 5}, lam[n] = {2, 5, -1, 0.5, 3};
    const int order[n] = {1, 4, 0, 3, 2};                  // indices of λ sorted descending
    double Q[n * n], A[n * n], A0[n * n], w[n], V[n * n];
    householder(Q, u, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += Q[i * n + k] * lam[k] * Q[j * n + k];
            A[i * n + j] = A0[i * n + j] = s;
        }
    int sweeps = linalg_eig_sym(w, V, A, n);
    CHECK(sweeps >= 1 && sweeps < 20);
    for (int j = 0; j < n; j++) {
        CHECK_NEAR(w[j], lam[order[j]], 1e-12, 0);
        CHECK_NEAR(col_abs_cos(V, j, Q, order[j], n), 1.0, 1e-12, 0);
    }
    // Reconstruction A0 = V diag(w) Vᵀ and orthonormality VᵀV = I.
    double err = 0, orth = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, o = 0;
            for (int k = 0; k < n; k++) { s += V[i * n + k] * w[k] * V[j * n + k]; o += V[k * n + i] * V[k * n + j]; }
            err = fmax(err, fabs(s - A0[i * n + j]));
            orth = fmax(orth, fabs(o - (i == j)));
        }
    CHECK(err < 1e-12);
    CHECK(orth < 1e-12);
}

static void test_jacobi_random(void) {
    // A random symmetric 64 x 64 matrix: reconstruction, orthonormality, trace, descending order.
    enum { n = 64 };
    static double A[n * n], A0[n * n], V[n * n], w[n];
    Rng r;
    rng_seed(&r, 7, 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = A0[i * n + j] = A0[j * n + i] = rng_normal(&r);
    double tr = 0;
    for (int i = 0; i < n; i++) tr += A0[i * n + i];
    CHECK(linalg_eig_sym(w, V, A, n) >= 0);
    double err = 0, orth = 0, sw = 0;
    int sorted = 1;
    for (int k = 0; k < n; k++) { sw += w[k]; if (k && w[k] > w[k - 1]) sorted = 0; }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, o = 0;
            for (int k = 0; k < n; k++) { s += V[i * n + k] * w[k] * V[j * n + k]; o += V[k * n + i] * V[k * n + j]; }
            err = fmax(err, fabs(s - A0[i * n + j]));
            orth = fmax(orth, fabs(o - (i == j)));
        }
    CHECK(sorted);
    CHECK_NEAR(sw, tr, 1e-10, 0);
    CHECK_MSG(err < 1e-11, "reconstruction error %g", err);
    CHECK_MSG(orth < 1e-12, "orthonormality error %g", orth);
}

static void test_eig_psd(void) {
    // Known PSD spectrum with a repeated and a zero eigenvalue: λ = (2, 4, 0, 2, 1) on a
    // Householder basis. Sorted: 4, 2, 2, 1, 0. The repeated pair only defines a plane, so check
    // the distinct ones' vectors and that A v = λ v for all.
    enum { n = 5 };
    const double u[n] = {2, -1, 1, 3, 1}, lam[n] = {2, 4, 0, 2, 1};
    double Q[n * n], A[n * n], A0[n * n], w[n], V[n * n];
    householder(Q, u, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += Q[i * n + k] * lam[k] * Q[j * n + k];
            A[i * n + j] = A0[i * n + j] = s;
        }
    CHECK(linalg_eig_psd(w, V, A, n) >= 1);
    const double want[n] = {4, 2, 2, 1, 0};
    for (int j = 0; j < n; j++) CHECK_NEAR(w[j], want[j], 1e-12, 0);
    CHECK_NEAR(col_abs_cos(V, 0, Q, 1, n), 1.0, 1e-12, 0);   // λ = 4 is Q's column 1
    CHECK_NEAR(col_abs_cos(V, 3, Q, 4, n), 1.0, 1e-12, 0);   // λ = 1 is Q's column 4
    CHECK_NEAR(col_abs_cos(V, 4, Q, 2, n), 1.0, 1e-12, 0);   // λ = 0 is Q's column 2
    double res = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += A0[i * n + k] * V[k * n + j];
            res = fmax(res, fabs(s - w[j] * V[i * n + j]));
        }
    CHECK_MSG(res < 1e-12, "residual %g", res);
    // The identity and the zero matrix need no rotation.
    double I[4] = {1, 0, 0, 1}, Z0[4] = {0, 0, 0, 0}, w2[2], V2[4];
    CHECK(linalg_eig_psd(w2, V2, I, 2) == 0 && w2[0] == 1.0 && w2[1] == 1.0);
    CHECK(linalg_eig_psd(w2, V2, Z0, 2) == 0 && w2[0] == 0.0 && w2[1] == 0.0);

    // A random Gram matrix of rank 5 in 40 dimensions (N = 5 < D): converges, and agrees with
    // the two-sided solver on the spectrum and the leading eigenvectors.
    enum { N = 5, D = 40 };
    static float X[N * D];
    static double G1[D * D], G2[D * D], wa[D], wb[D], Va[D * D], Vb[D * D];
    Rng r;
    rng_seed(&r, 13, 0);
    for (int i = 0; i < N * D; i++) X[i] = (float)rng_normal(&r);
    linalg_gram(G1, X, N, D);
    memcpy(G2, G1, sizeof G1);
    CHECK(linalg_eig_psd(wa, Va, G1, D) >= 0);
    CHECK(linalg_eig_sym(wb, Vb, G2, D) >= 0);
    double werr = 0;
    for (int j = 0; j < D; j++) werr = fmax(werr, fabs(wa[j] - wb[j]));
    CHECK_MSG(werr < 1e-10 * wb[0], "eigenvalue mismatch %g", werr);
    CHECK(wa[4] > 1.0 && fabs(wa[5]) < 1e-10 * wa[0]);     // five nonzero eigenvalues
    for (int j = 0; j < N; j++) CHECK_NEAR(col_abs_cos(Va, j, Vb, j, D), 1.0, 1e-10, 0);
}

static void test_svd_known(void) {
    // X = U diag(4,3,2,1) Vᵀ (8 x 4) from Householder bases; in float, so tolerances ~1e-6.
    enum { N = 8, D = 4 };
    const double u8[N] = {1, -1, 2, 0.5, 3, -2, 1, 1}, u4[D] = {1, 2, -1, 3}, sig[D] = {4, 3, 2, 1};
    double U[N * N], Vt[D * D], s[D], V[D * D], G[D * D];
    float X[N * D];
    householder(U, u8, N);
    householder(Vt, u4, D);                                // columns: the true right vectors
    for (int i = 0; i < N; i++)
        for (int a = 0; a < D; a++) {
            double t = 0;
            for (int k = 0; k < D; k++) t += U[i * N + k] * sig[k] * Vt[a * D + k];
            X[i * D + a] = (float)t;
        }
    CHECK(linalg_svd_right(s, V, G, X, N, D) >= 0);
    for (int k = 0; k < D; k++) {
        CHECK_NEAR(s[k], sig[k], 1e-5, 1e-6);
        CHECK_NEAR(col_abs_cos(V, k, Vt, k, D), 1.0, 1e-6, 0);
    }
    // G is XᵀX: its trace is the sum of squared singular values, 16 + 9 + 4 + 1 = 30.
    CHECK_NEAR(G[0] + G[5] + G[10] + G[15], 30.0, 1e-4, 0);
    // Rank 2: singular values (3, 1, 0, 0).
    const double sig2[D] = {3, 1, 0, 0};
    for (int i = 0; i < N; i++)
        for (int a = 0; a < D; a++) {
            double t = 0;
            for (int k = 0; k < D; k++) t += U[i * N + k] * sig2[k] * Vt[a * D + k];
            X[i * D + a] = (float)t;
        }
    CHECK(linalg_svd_right(s, V, NULL, X, N, D) >= 0);
    CHECK_NEAR(s[0], 3.0, 1e-5, 0);
    CHECK_NEAR(s[1], 1.0, 1e-5, 0);
    CHECK(s[2] < 1e-3 && s[3] < 1e-3 && s[3] >= 0.0);
}

static void test_spectral_norm(void) {
    const double a[6] = {3, 0, 0, 4, 0, 0};                // 3 x 2: diag(3, 4) over a zero row
    CHECK_NEAR(linalg_spectral_norm(a, 3, 2), 4.0, 1e-14, 0);
    const double b[4] = {1, 1, 1, 1};                       // rank 1, σ = |(1,1)|·|(1,1)| = 2
    CHECK_NEAR(linalg_spectral_norm(b, 2, 2), 2.0, 1e-14, 0);
    const double c[3] = {1, 2, 2};                          // a row vector: its length 3
    CHECK_NEAR(linalg_spectral_norm(c, 1, 3), 3.0, 1e-14, 0);
    CHECK_NEAR(linalg_spectral_norm(c, 3, 1), 3.0, 1e-14, 0);
}

static void test_svd_top(void) {
    // linalg_svd_top against linalg_svd_right (the D x D route) on both of its routes: n < D
    // (through X Xᵀ) and n >= D (through XᵀX). Same σ², same directions up to sign.
    enum { D = 8 };
    static float X[20 * D];
    Rng r;
    rng_seed(&r, 31, 0);
    for (int i = 0; i < 20 * D; i++) X[i] = (float)(rng_normal(&r) + (i % D == 1 ? 1.5 : 0.0));
    const int ns[2] = {5, 20};
    for (int c = 0; c < 2; c++) {
        int n = ns[c];
        double lam[3], Vk[3 * D], fro2, s[D], V[D * D];
        CHECK(linalg_svd_top(lam, Vk, &fro2, X, (size_t)n, D, 3) >= 0);
        CHECK(linalg_svd_right(s, V, NULL, X, (size_t)n, D) >= 0);
        double tr = 0;
        for (int i = 0; i < n * D; i++) tr += (double)X[i] * X[i];
        CHECK_NEAR(fro2, tr, 0, 1e-14);
        for (int j = 0; j < 3; j++) {
            CHECK_NEAR(lam[j], s[j] * s[j], 1e-10, 1e-10);
            double dot = 0;
            for (int a = 0; a < D; a++) dot += Vk[j * D + a] * V[a * D + j];
            CHECK_MSG(fabs(fabs(dot) - 1.0) < 1e-8, "n %d, direction %d: |cos| %g", n, j, fabs(dot));
        }
    }
    // Rank one: rows a·(0.6, 0.8, 0, ...). v1 = ±(0.6, 0.8, 0...) (to float rounding of the
    // entries); v2, v3 undefined -> zero rows, σ2² ~ 0.
    static float R[3 * D];
    const float a[3] = {1, -2, 4};
    for (int i = 0; i < 3; i++) { R[i * D] = 0.6f * a[i]; R[i * D + 1] = 0.8f * a[i]; }
    double lam[3], Vk[3 * D];
    CHECK(linalg_svd_top(lam, Vk, NULL, R, 3, D, 3) >= 0);
    CHECK_NEAR(fabs(Vk[0]), 0.6, 1e-7, 0);
    CHECK_NEAR(fabs(Vk[1]), 0.8, 1e-7, 0);
    CHECK_NEAR(lam[0], 21.0, 1e-5, 0);                        // (1 + 4 + 16)·|(0.6, 0.8)|²
    int zero = 1;
    for (int a2 = 0; a2 < 2 * D; a2++) zero &= Vk[D + a2] == 0.0;
    CHECK(zero);
}

int main(void) {
    double t0 = now_s();
    test_kernels();
    test_jacobi_2x2();
    test_jacobi_known_spectrum();
    test_jacobi_random();
    test_eig_psd();
    test_svd_known();
    test_spectral_norm();
    test_svd_top();
    test_tql_vs_jacobi();
    test_dc_hard();
    test_closed_form_sym(FULL_D);
    test_closed_form_svd(FULL_D, 1);
    test_closed_form_svd(BIG_D, 0);
    test_svd_top_vs_ref();
    test_threads();
    printf("  test_linalg: %.1f s\n", now_s() - t0);
    return test_summary("test_linalg");
}
