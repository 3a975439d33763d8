// linalg_kernels.c — the double-precision kernels behind the fast solvers (linalg.h): a
// register-blocked product C (+)= Aᵀ·B beside its plain reference, vectorizable dot products,
// and the products with a float matrix X that the implicit Gram operator needs.
//
// Determinism: every output element is produced by one thread, summed over its inner index in
// increasing order (the dgemm) or in a fixed lane pattern (the dots: 8 partial sums, lane j
// takes indices ≡ j mod 8, combined in a fixed tree), so the result is the same for every
// thread count. The copies compiled for wider vectors (nn/simd.h) may fuse multiply-adds, so
// results differ between CPUs by rounding, never between runs on one machine.
#include <stdlib.h>
#include <string.h>
#include "../../nn/simd.h"
#include "linalg.h"

// ---- dot products -----------------------------------------------------------------------------

// Σ a[i] b[i] with 8 lane sums (vectorizable without reassociating anything: each lane is its
// own chain), then ((l0+l4)+(l1+l5))+((l2+l6)+(l3+l7)), then the tail in order.
static inline __attribute__((always_inline)) double ddot_body(const double *a, const double *b, size_t n) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) l[j] += a[i + j] * b[i + j];
    double s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// The same with a float first operand (a row of the caller's data).
static inline __attribute__((always_inline)) double fdot_body(const float *a, const double *b, size_t n) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) l[j] += (double)a[i + j] * b[i + j];
    double s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
    for (; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static inline __attribute__((always_inline)) void ddot_v_body(double *out, const double *a, const double *b, size_t n) {
    *out = ddot_body(a, b, n);
}
static inline __attribute__((always_inline)) void fdot_v_body(double *out, const float *a, const double *b, size_t n) {
    *out = fdot_body(a, b, n);
}
// y += alpha x (double), y += alpha x (float x)
static inline __attribute__((always_inline)) void daxpy_v_body(double *y, double alpha, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
static inline __attribute__((always_inline)) void faxpy_v_body(double *y, double alpha, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * (double)x[i];
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
SIMD_VARIANTS(ddot_v, (double *out, const double *a, const double *b, size_t n), (out, a, b, n))
SIMD_VARIANTS(fdot_v, (double *out, const float *a, const double *b, size_t n), (out, a, b, n))
SIMD_VARIANTS(daxpy_v, (double *y, double alpha, const double *x, size_t n), (y, alpha, x, n))
SIMD_VARIANTS(faxpy_v, (double *y, double alpha, const float *x, size_t n), (y, alpha, x, n))

double linalg_ddot(const double *a, const double *b, size_t n) { double s; ddot_v(&s, a, b, n); return s; }
double linalg_fdot(const float *a, const double *b, size_t n) { double s; fdot_v(&s, a, b, n); return s; }
void linalg_daxpy(double *y, double alpha, const double *x, size_t n) { daxpy_v(y, alpha, x, n); }
void linalg_faxpy(double *y, double alpha, const float *x, size_t n) { faxpy_v(y, alpha, x, n); }

// ---- C (+)= Aᵀ B ------------------------------------------------------------------------------

void linalg_dgemm_tn_ref(double *C, size_t ldc, const double *A, size_t lda, const double *B, size_t ldb,
                         int M, int N, int K, int accumulate) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double acc = accumulate ? C[(size_t)m * ldc + n] : 0.0;
            for (int k = 0; k < K; k++) acc += A[(size_t)k * lda + m] * B[(size_t)k * ldb + n];
            C[(size_t)m * ldc + n] = acc;
        }
}

// DKERNEL(NAME, VB, ATTR): rows [m0, m0 + R) (R <= 4) and columns [n0, n1) of C over k in
// [k0, k1); `first` = the block starts the sum (C is overwritten unless accumulate).
// Tiles of R rows x 2 vectors keep their sums in registers; then 1 vector; then scalars.
#define DKERNEL(NAME, VB, ATTR)                                                                      \
    typedef double NAME##_v __attribute__((vector_size(VB)));                                       \
    typedef double NAME##_vu __attribute__((vector_size(VB), aligned(8), may_alias));               \
    ATTR static inline __attribute__((always_inline)) void NAME##_rows(                             \
        double *C, size_t ldc, const double *A, size_t lda, const double *B, size_t ldb, int m0,     \
        int n0, int n1, int k0, int k1, int load, const int R) {                                   \
        enum { L = (int)(VB / sizeof(double)) };                                                    \
        int n = n0;                                                                                 \
        for (; n + 2 * L <= n1; n += 2 * L) {                                                       \
            NAME##_v a0[4], a1[4];                                                                  \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                   \
                double *c = C + (size_t)(m0 + r) * ldc + n;                                         \
                a0[r] = load ? (NAME##_v)*(const NAME##_vu *)c : (NAME##_v){0};                     \
                a1[r] = load ? (NAME##_v)*(const NAME##_vu *)(c + L) : (NAME##_v){0};               \
            }                                                                                       \
            for (int k = k0; k < k1; k++) {                                                         \
                const double *b = B + (size_t)k * ldb + n;                                          \
                const double *a = A + (size_t)k * lda + m0;                                         \
                NAME##_v b0 = *(const NAME##_vu *)b, b1 = *(const NAME##_vu *)(b + L);              \
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                               \
                    a0[r] += a[r] * b0;                                                             \
                    a1[r] += a[r] * b1;                                                             \
                }                                                                                   \
            }                                                                                       \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                   \
                double *c = C + (size_t)(m0 + r) * ldc + n;                                         \
                *(NAME##_vu *)c = a0[r];                                                            \
                *(NAME##_vu *)(c + L) = a1[r];                                                      \
            }                                                                                       \
        }                                                                                           \
        for (int r = 0; r < R; r++) {                                                               \
            double *c = C + (size_t)(m0 + r) * ldc;                                                 \
            for (int j = n; j < n1; j++) {                                                          \
                double acc = load ? c[j] : 0.0;                                                     \
                for (int k = k0; k < k1; k++) acc += A[(size_t)k * lda + m0 + r] * B[(size_t)k * ldb + j]; \
                c[j] = acc;                                                                         \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    ATTR static void NAME(double *C, size_t ldc, const double *A, size_t lda, const double *B,     \
                          size_t ldb, int m0, int R, int n0, int n1, int k0, int k1, int load) {    \
        switch (R) {                                                                                \
        case 1: NAME##_rows(C, ldc, A, lda, B, ldb, m0, n0, n1, k0, k1, load, 1); break;            \
        case 2: NAME##_rows(C, ldc, A, lda, B, ldb, m0, n0, n1, k0, k1, load, 2); break;            \
        case 3: NAME##_rows(C, ldc, A, lda, B, ldb, m0, n0, n1, k0, k1, load, 3); break;            \
        default: NAME##_rows(C, ldc, A, lda, B, ldb, m0, n0, n1, k0, k1, load, 4); break;           \
        }                                                                                           \
    }

typedef void (*DBlockFn)(double *C, size_t ldc, const double *A, size_t lda, const double *B,
                         size_t ldb, int m0, int R, int n0, int n1, int k0, int k1, int load);
DKERNEL(dblock_sse, 16, )
#if SIMD_MULTI
DKERNEL(dblock_avx2, 32, SIMD_AVX2_ATTR)
DKERNEL(dblock_avx512, 64, SIMD_AVX512_ATTR)
#endif

static DBlockFn dblock_fn(void) {
#if SIMD_MULTI
    switch (simd_level()) {
    case SIMD_AVX512: return dblock_avx512;
    case SIMD_AVX2: return dblock_avx2;
    default: break;
    }
#endif
    return dblock_sse;
}

void linalg_dgemm_tn(double *C, size_t ldc, const double *A, size_t lda, const double *B, size_t ldb,
                     int M, int N, int K, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int m = 0; m < M; m++) memset(C + (size_t)m * ldc, 0, (size_t)N * sizeof(double));
        return;
    }
    DBlockFn fn = dblock_fn();
    // Blocks of MB rows x NB columns of C, each owned by one thread; inside, k in chunks of KC so
    // the panels of A (KC x MB) and B (KC x NB) stay in cache. Summation order per element: k
    // ascending, whatever the blocking.
    enum { MB = 64, NB = 256, KC = 256 };
    const int mblocks = (M + MB - 1) / MB, nblocks = (N + NB - 1) / NB;
    const int tasks = mblocks * nblocks;
    const double work = (double)M * N * K;
    (void)work;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) if (work > 2e6 && tasks > 1)
#endif
    for (int t = 0; t < tasks; t++) {
        const int mb = t / nblocks, nb = t % nblocks;
        const int m0 = mb * MB, m1 = m0 + MB < M ? m0 + MB : M;
        const int n0 = nb * NB, n1 = n0 + NB < N ? n0 + NB : N;
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int k1 = k0 + KC < K ? k0 + KC : K;
            for (int m = m0; m < m1; m += 4)
                fn(C, ldc, A, lda, B, ldb, m, m + 4 <= m1 ? 4 : m1 - m, n0, n1, k0, k1, accumulate || k0 > 0);
        }
    }
}

// ---- products with a float matrix --------------------------------------------------------------

void linalg_xt_chunk(double *Xt, const float *X, size_t n, int D) {
    for (size_t i = 0; i < n; i++)
        for (int a = 0; a < D; a++) Xt[(size_t)a * n + i] = X[i * (size_t)D + a];
}

void linalg_gram(double *G, const float *X, size_t N, int D) {
    // G = Σ over chunks of rows Xcᵀ Xc, each chunk converted to double once (RC x D); only the
    // block upper triangle is computed, then mirrored. Every entry sums its rows in ascending
    // order (chunks in order, rows in order within a chunk).
    enum { RC = 1024 };
    double *Xc = malloc((size_t)RC * D * sizeof(double));
    if (!Xc) { linalg_gram_ref(G, X, N, D); return; }
    if (N == 0) memset(G, 0, (size_t)D * D * sizeof(double));
    for (size_t r0 = 0; r0 < N; r0 += RC) {
        const size_t nc = r0 + RC < N ? RC : N - r0;
        for (size_t i = 0; i < nc * (size_t)D; i++) Xc[i] = X[r0 * (size_t)D + i];
        // row blocks of 64: columns from the block's first row on (the upper triangle and a bit)
        const int nb = (D + 63) / 64;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) if ((double)nc * D * D > 4e6)
#endif
        for (int b = 0; b < nb; b++) {
            const int m0 = b * 64, m1 = m0 + 64 < D ? m0 + 64 : D;
            linalg_dgemm_tn(G + (size_t)m0 * D + m0, (size_t)D, Xc + m0, (size_t)D, Xc + m0, (size_t)D,
                            m1 - m0, D - m0, (int)nc, r0 > 0);
        }
    }
    free(Xc);
    for (int a = 0; a < D; a++)                       // mirror the upper triangle
        for (int b = 0; b < a; b++) G[(size_t)a * D + b] = G[(size_t)b * D + a];
}

void linalg_gram_ref(double *G, const float *X, size_t N, int D) {
    memset(G, 0, (size_t)D * D * sizeof(double));
    for (size_t i = 0; i < N; i++) {                   // rows in order: fixed summation order
        const float *x = X + i * (size_t)D;            // x: D
        for (int a = 0; a < D; a++) {
            double xa = x[a];
            double *g = G + (size_t)a * D;
            for (int b = a; b < D; b++) g[b] += xa * (double)x[b];   // upper triangle
        }
    }
    for (int a = 0; a < D; a++)                        // mirror to the lower triangle
        for (int b = 0; b < a; b++) G[(size_t)a * D + b] = G[(size_t)b * D + a];
}

void linalg_gram_rows(double *A, const float *X, size_t n, int D) {
    // A = X Xᵀ (n x n): Xᵀ in double (D x n) once, then Aᵀ... = (Xᵀ)ᵀ(Xᵀ) by the dgemm.
    double *Xt = calloc(n * (size_t)D + 1, sizeof(double));
    if (!Xt) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i; j < n; j++) {
                double t = 0.0;
                for (int a = 0; a < D; a++) t += (double)X[i * D + a] * X[j * D + a];
                A[i * n + j] = A[j * n + i] = t;
            }
        return;
    }
    linalg_xt_chunk(Xt, X, n, D);
    linalg_dgemm_tn(A, n, Xt, n, Xt, n, (int)n, (int)n, D, 0);
    free(Xt);
    for (size_t i = 0; i < n; i++)                     // exact symmetry (the sums are the same
        for (size_t j = 0; j < i; j++) A[i * n + j] = A[j * n + i];   // terms, maybe fused differently)
}

// y = Xᵀ (X v) for X n x D float (v, y: D), or y = X (Xᵀ v) (v, y: n) when `rows`. Rows in fixed
// chunks of XCH, one partial sum per chunk, the partials added in chunk order: the same
// arithmetic for every thread count; X is read once.
enum { XCH = 256 };
void linalg_gram_apply(double *y, const double *v, const float *X, size_t n, int D, int rows, double *scratch) {
    const size_t nch = (n + XCH - 1) / XCH;
    if (!rows) {
        // partials: nch x D in scratch
        double *part = scratch;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)n * D > 1e6 && nch > 1)
#endif
        for (size_t c = 0; c < nch; c++) {
            double *p = part + c * (size_t)D;
            memset(p, 0, (size_t)D * sizeof(double));
            size_t hi = (c + 1) * XCH < n ? (c + 1) * XCH : n;
            for (size_t i = c * XCH; i < hi; i++) {
                double t = linalg_fdot(X + i * D, v, (size_t)D);   // (X v)_i
                if (t != 0.0) linalg_faxpy(p, t, X + i * D, (size_t)D);
            }
        }
        memcpy(y, part, (size_t)D * sizeof(double));
        for (size_t c = 1; c < nch; c++) linalg_daxpy(y, 1.0, part + c * (size_t)D, (size_t)D);
    } else {
        // u = Xᵀ v (D), partials per chunk of rows; then y_i = x_i · u
        double *part = scratch, *u = scratch + nch * (size_t)D;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)n * D > 1e6 && nch > 1)
#endif
        for (size_t c = 0; c < nch; c++) {
            double *p = part + c * (size_t)D;
            memset(p, 0, (size_t)D * sizeof(double));
            size_t hi = (c + 1) * XCH < n ? (c + 1) * XCH : n;
            for (size_t i = c * XCH; i < hi; i++)
                if (v[i] != 0.0) linalg_faxpy(p, v[i], X + i * D, (size_t)D);
        }
        memcpy(u, part, (size_t)D * sizeof(double));
        for (size_t c = 1; c < nch; c++) linalg_daxpy(u, 1.0, part + c * (size_t)D, (size_t)D);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((double)n * D > 1e6)
#endif
        for (size_t i = 0; i < n; i++) y[i] = linalg_fdot(X + i * D, u, (size_t)D);
    }
}

size_t linalg_gram_apply_scratch(size_t n, int D) { return ((n + XCH - 1) / XCH + 1) * (size_t)D; }

// ---- X W for a float X ----------------------------------------------------------------------------

enum { XWCH = 256 };   // rows per chunk: X's chunk in double (D x XWCH) stays a few MiB

int linalg_xw(double *C, const float *X, size_t n, int D, const double *Wt, int W) {
    double *Xt = malloc((size_t)D * XWCH * sizeof(double));
    if (!Xt) return -2;
    for (size_t r0 = 0; r0 < n; r0 += XWCH) {
        const size_t nc = r0 + XWCH < n ? XWCH : n - r0;
        linalg_xt_chunk(Xt, X + r0 * (size_t)D, nc, D);
        linalg_dgemm_tn(C + r0 * (size_t)W, (size_t)W, Xt, nc, Wt, (size_t)W, (int)nc, W, D, 0);
    }
    free(Xt);
    return 0;
}

int linalg_xw_sumsq(double sums[3], const float *X, size_t n, int D, const double *Wt, int W) {
    double *Xt = malloc((size_t)D * XWCH * sizeof(double)), *C = malloc((size_t)XWCH * W * sizeof(double));
    if (!Xt || !C) { free(Xt); free(C); return -2; }
    sums[0] = sums[1] = sums[2] = 0.0;
    for (size_t r0 = 0; r0 < n; r0 += XWCH) {
        const size_t nc = r0 + XWCH < n ? XWCH : n - r0;
        linalg_xt_chunk(Xt, X + r0 * (size_t)D, nc, D);
        linalg_dgemm_tn(C, (size_t)W, Xt, nc, Wt, (size_t)W, (int)nc, W, D, 0);
        for (size_t i = 0; i < nc; i++) {             // rows in order, columns in order
            const double *c = C + i * (size_t)W;
            sums[0] += c[0] * c[0];
            if (W > 1) sums[1] += c[1] * c[1];
            double t = 0.0;
            for (int j = 2; j < W; j++) t += c[j] * c[j];
            sums[2] += t;
        }
    }
    free(Xt); free(C);
    return 0;
}
