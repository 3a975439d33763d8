// newton_schulz.c — Muon's orthogonalization of one matrix: the quintic Newton–Schulz iteration.
//
// On a matrix with singular values σ, X ← a·X + b·(X·Xᵀ)·X + c·(X·Xᵀ)²·X maps every σ to
// p(σ) = a·σ + b·σ³ + c·σ⁵ and keeps the singular vectors, so a few steps from a Frobenius-
// normalized start (all σ ≤ 1) push every σ into a band around 1 (about 0.68–1.14 for the
// coefficients below): an approximate U·Vᵀ without an SVD.
//
// Work happens on the tall orientation XT = Xᵀ (c x r, c = max(rows, cols), r = min), where
// every product is a plain gemm with no transposed copies: the Gram matrix A = X·Xᵀ = XTᵀ·XT
// (r x r; gemm reads XTᵀ by strides), B = b·A + c·A² is symmetric, so (B·X)ᵀ = XT·B, and the
// next XT = a·XT + XT·B. Sums in float over k ascending, threads own output rows: results do not
// depend on the thread count (Muon runs each matrix on one thread anyway, see optim.c).
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "../nn/gemm.h"

#define NS_A 3.4445f
#define NS_B (-4.7750f)
#define NS_C 2.0315f
#define NS_EPS 1e-7

// Scratch layout for the tall orientation c x r:  XT c x r | YT c x r | A r x r | B r x r
// (the reference uses the first 2rc + 2r² the same way, in the wide orientation).
size_t newton_schulz_scratch(int rows, int cols) {
    size_t r = (size_t)(rows < cols ? rows : cols), c = (size_t)(rows < cols ? cols : rows);
    return 2 * r * c + 2 * r * r;
}

static double frobenius(const float *G, size_t n) {
    double ss = 0.0;  // in double, in index order: one number, no need for float here
    for (size_t i = 0; i < n; i++) ss += (double)G[i] * (double)G[i];
    return sqrt(ss);
}

// Copies G (rows x cols) scaled by 1/(‖G‖_F + 1e-7) into X, in the tall orientation (tall = 1:
// X is c x r) or the wide one (tall = 0: X is r x c). A copy or a transpose, by G's shape.
static void ns_load(float *X, const float *G, int rows, int cols, int tall) {
    size_t n = (size_t)rows * (size_t)cols;
    float d = (float)(frobenius(G, n) + NS_EPS);
    if ((rows >= cols) == (tall != 0) || rows == cols) {
        for (size_t i = 0; i < n; i++) X[i] = G[i] / d;
    } else {
        // X is cols x rows: X[j][i] = G[i][j]
        for (int i = 0; i < rows; i++)          // rows
            for (int j = 0; j < cols; j++)      // cols
                X[(size_t)j * rows + i] = G[(size_t)i * cols + j] / d;
    }
}

// Writes X (the orientation ns_load chose) back into G (rows x cols).
static void ns_store(float *G, const float *X, int rows, int cols, int tall) {
    size_t n = (size_t)rows * (size_t)cols;
    if ((rows >= cols) == (tall != 0) || rows == cols) {
        for (size_t i = 0; i < n; i++) G[i] = X[i];
    } else {
        for (int i = 0; i < rows; i++)          // rows
            for (int j = 0; j < cols; j++)      // cols
                G[(size_t)i * cols + j] = X[(size_t)j * rows + i];
    }
}

void newton_schulz(float *G, int rows, int cols, int steps, float *scratch) {
    const int r = rows < cols ? rows : cols, c = rows < cols ? cols : rows;
    const size_t rc = (size_t)r * c, rr = (size_t)r * r;
    float *XT = scratch, *YT = XT + rc, *A = YT + rc, *B = A + rr;
    ns_load(XT, G, rows, cols, 1);
    for (int s = 0; s < steps; s++) {
        // A = XTᵀ·XT (r x r): gemm's left operand XTᵀ(m, k) = XT[k*r + m]
        gemm(A, (size_t)r, XT, 1, (size_t)r, XT, (size_t)r, r, r, c, 0);
        // B = b·A + c·A·A (r x r)
        gemm(B, (size_t)r, A, (size_t)r, 1, A, (size_t)r, r, r, r, 0);
        for (size_t i = 0; i < rr; i++) B[i] = NS_B * A[i] + NS_C * B[i];
        // YT = a·XT + XT·B (c x r)
        for (size_t i = 0; i < rc; i++) YT[i] = NS_A * XT[i];
        gemm(YT, (size_t)r, XT, (size_t)r, 1, B, (size_t)r, c, r, r, 1);
        float *t = XT; XT = YT; YT = t;  // the new XT
    }
    ns_store(G, XT, rows, cols, 1);
}

// The plain reference: every product in full with textbook loops, one thread.
void newton_schulz_ref(float *G, int rows, int cols, int steps, float *scratch) {
    const int r = rows < cols ? rows : cols, c = rows < cols ? cols : rows;
    const size_t rc = (size_t)r * c, rr = (size_t)r * r;
    float *X = scratch, *Y = X + rc, *A = Y + rc, *B = A + rr;
    ns_load(X, G, rows, cols, 0);
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
    ns_store(G, X, rows, cols, 0);
}
