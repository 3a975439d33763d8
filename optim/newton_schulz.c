// newton_schulz.c — Muon's orthogonalization of one matrix: the quintic Newton–Schulz iteration.
//
// On a matrix with singular values σ, X ← a·X + b·(X·Xᵀ)·X + c·(X·Xᵀ)²·X maps every σ to
// p(σ) = a·σ + b·σ³ + c·σ⁵ and keeps the singular vectors, so a few steps from a Frobenius-
// normalized start (all σ ≤ 1) push every σ into a band around 1 (about 0.68–1.14 for the
// coefficients below): an approximate U·Vᵀ without an SVD.
//
// Work happens on the wide orientation (r <= c, transposing tall inputs), so the Gram matrix
// A = X·Xᵀ is the small r x r one. Sums run in float over k ascending, in the same order for any
// thread count; the OpenMP loops split output rows only.
#include <math.h>
#include <stddef.h>
#include "optim.h"

#define NS_A 3.4445f
#define NS_B (-4.7750f)
#define NS_C 2.0315f
#define NS_EPS 1e-7

// Parallelize a product only when it is big enough to pay for the fork (rows*cols elements).
#define NS_OMP_MIN 4096

// Scratch layout for the wide orientation r x c (r = min, c = max):
//   X r x c | Y r x c (next X) | XT c x r | A r x r | B r x r
size_t newton_schulz_scratch(int rows, int cols) {
    size_t r = (size_t)(rows < cols ? rows : cols), c = (size_t)(rows < cols ? cols : rows);
    return 3 * r * c + 2 * r * r;
}

// Copies G (rows x cols) into X in the wide orientation, scaled by 1/(‖G‖_F + 1e-7).
static void ns_load(float *X, const float *G, int rows, int cols) {
    size_t n = (size_t)rows * (size_t)cols;
    double ss = 0.0;  // the norm in double, in index order: one number, no need for float here
    for (size_t i = 0; i < n; i++) ss += (double)G[i] * (double)G[i];
    float d = (float)(sqrt(ss) + NS_EPS);
    if (rows <= cols) {
        for (size_t i = 0; i < n; i++) X[i] = G[i] / d;
    } else {
        // X is cols x rows: X[j][i] = G[i][j]
        for (int i = 0; i < rows; i++)          // rows
            for (int j = 0; j < cols; j++)      // cols
                X[(size_t)j * rows + i] = G[(size_t)i * cols + j] / d;
    }
}

// Writes X (wide orientation) back into G (rows x cols).
static void ns_store(float *G, const float *X, int rows, int cols) {
    size_t n = (size_t)rows * (size_t)cols;
    if (rows <= cols) {
        for (size_t i = 0; i < n; i++) G[i] = X[i];
    } else {
        for (int i = 0; i < rows; i++)          // rows
            for (int j = 0; j < cols; j++)      // cols
                G[(size_t)i * cols + j] = X[(size_t)j * rows + i];
    }
}

// y[0..n) += Σ_k a[k]·x_k[0..n) over k = 0..m-1 in order, with x_k = x + k·ldx: the inner part
// of every i-k-j product. Four k at a time per pass over y (four times fewer loads and stores of
// y) and eight j per iteration, written out so GCC's -O2 vectorizer (whose "very cheap" cost
// model skips loops of unknown length) still packs it into SIMD. Each y[j] receives the same
// multiplies and adds in the same k order as the textbook loop (so, unless the compiler fuses
// them into FMAs differently, the same bits), and never depends on the thread count.
static void axpy_rows(float *restrict y, const float *restrict a, const float *restrict x,
                      size_t ldx, int m, int n) {
    int k = 0;
    for (; k + 4 <= m; k += 4) {
        const float a0 = a[k], a1 = a[k + 1], a2 = a[k + 2], a3 = a[k + 3];
        const float *x0 = x + (size_t)k * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            float t[8];
            for (int q = 0; q < 8; q++) t[q] = y[j + q];
            for (int q = 0; q < 8; q++) t[q] += a0 * x0[j + q];
            for (int q = 0; q < 8; q++) t[q] += a1 * x1[j + q];
            for (int q = 0; q < 8; q++) t[q] += a2 * x2[j + q];
            for (int q = 0; q < 8; q++) t[q] += a3 * x3[j + q];
            for (int q = 0; q < 8; q++) y[j + q] = t[q];
        }
        for (; j < n; j++) {
            float t = y[j];
            t += a0 * x0[j];
            t += a1 * x1[j];
            t += a2 * x2[j];
            t += a3 * x3[j];
            y[j] = t;
        }
    }
    for (; k < m; k++) {  // the last m mod 4
        const float ak = a[k], *xk = x + (size_t)k * ldx;
        for (int j = 0; j < n; j++) y[j] += ak * xk[j];
    }
}

void newton_schulz(float *G, int rows, int cols, int steps, float *scratch) {
    const int r = rows < cols ? rows : cols, c = rows < cols ? cols : rows;
    const size_t rc = (size_t)r * c, rr = (size_t)r * r;
    float *X = scratch, *Y = X + rc, *XT = Y + rc, *A = XT + rc, *B = A + rr;
    ns_load(X, G, rows, cols);
    const int par = rc >= NS_OMP_MIN;
    (void)par;  // used only by the OpenMP if() clauses

    for (int s = 0; s < steps; s++) {
        // XT = Xᵀ (c x r), so the Gram product below reads contiguous rows.
        for (int i = 0; i < r; i++)
            for (int k = 0; k < c; k++) XT[(size_t)k * r + i] = X[(size_t)i * c + k];

        // A = X·Xᵀ (r x r), upper triangle: A[i][j] = Σ_k X[i][k]·X[j][k], k ascending (i-k-j).
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1) if (par)
#endif
        for (int i = 0; i < r; i++) {
            float *Ai = A + (size_t)i * r;
            for (int j = i; j < r; j++) Ai[j] = 0.0f;
            axpy_rows(Ai + i, X + (size_t)i * c, XT + i, (size_t)r, c, r - i);  // Σ_k X[i][k]·XT[k][j]
        }
        // Mirror: A[i][j] for j < i is A[j][i]. The same products in the same order, so the
        // result equals the full product bit for bit. Each row i writes only its own row.
#ifdef _OPENMP
#pragma omp parallel for if (par)
#endif
        for (int i = 0; i < r; i++)
            for (int j = 0; j < i; j++) A[(size_t)i * r + j] = A[(size_t)j * r + i];

        // B = b·A + c·A·A (r x r, symmetric): upper triangle by i-k-j, then the mirror.
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1) if (par)
#endif
        for (int i = 0; i < r; i++) {
            float *Bi = B + (size_t)i * r;
            const float *Ai = A + (size_t)i * r;
            for (int j = i; j < r; j++) Bi[j] = 0.0f;
            axpy_rows(Bi + i, Ai, A + i, (size_t)r, r, r - i);  // Σ_k A[i][k]·A[k][j]
            for (int j = i; j < r; j++) Bi[j] = NS_B * Ai[j] + NS_C * Bi[j];
        }
#ifdef _OPENMP
#pragma omp parallel for if (par)
#endif
        for (int i = 0; i < r; i++)
            for (int j = 0; j < i; j++) B[(size_t)i * r + j] = B[(size_t)j * r + i];

        // Y = a·X + B·X (r x c), i-k-j over contiguous rows of X.
#ifdef _OPENMP
#pragma omp parallel for if (par)
#endif
        for (int i = 0; i < r; i++) {
            float *Yi = Y + (size_t)i * c;
            const float *Bi = B + (size_t)i * r, *Xi = X + (size_t)i * c;
            for (int j = 0; j < c; j++) Yi[j] = 0.0f;
            axpy_rows(Yi, Bi, X, (size_t)c, r, c);  // Σ_k B[i][k]·X[k][j]
            for (int j = 0; j < c; j++) Yi[j] = NS_A * Xi[j] + Yi[j];
        }
        float *t = X; X = Y; Y = t;  // the new X
    }
    ns_store(G, X, rows, cols);
}

// The plain reference: every product in full with textbook loops, one thread.
void newton_schulz_ref(float *G, int rows, int cols, int steps, float *scratch) {
    const int r = rows < cols ? rows : cols, c = rows < cols ? cols : rows;
    const size_t rc = (size_t)r * c, rr = (size_t)r * r;
    float *X = scratch, *Y = X + rc, *A = Y + rc, *B = A + rr;
    ns_load(X, G, rows, cols);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < r; i++)             // A = X·Xᵀ (r x r)
            for (int j = 0; j < r; j++) {
                float acc = 0.0f;
                for (int k = 0; k < c; k++) acc += X[(size_t)i * c + k] * X[(size_t)j * c + k];
                A[(size_t)i * r + j] = acc;
            }
        for (int i = 0; i < r; i++)             // B = b·A + c·A·A (r x r)
            for (int j = 0; j < r; j++) {
                float acc = 0.0f;
                for (int k = 0; k < r; k++) acc += A[(size_t)i * r + k] * A[(size_t)k * r + j];
                B[(size_t)i * r + j] = NS_B * A[(size_t)i * r + j] + NS_C * acc;
            }
        for (int i = 0; i < r; i++)             // Y = a·X + B·X (r x c)
            for (int j = 0; j < c; j++) {
                float acc = 0.0f;
                for (int k = 0; k < r; k++) acc += B[(size_t)i * r + k] * X[(size_t)k * c + j];
                Y[(size_t)i * c + j] = NS_A * X[(size_t)i * c + j] + acc;
            }
        float *t = X; X = Y; Y = t;
    }
    ns_store(G, X, rows, cols);
}
