// newton_schulz.c — Muon's orthogonalization of one matrix: the quintic Newton–Schulz iteration.
//
// On a matrix with singular values σ, X ← a·X + b·(X·Xᵀ)·X + c·(X·Xᵀ)²·X maps every σ to
// p(σ) = a·σ + b·σ³ + c·σ⁵ and keeps the singular vectors, so a few steps from a Frobenius-
// normalized start (all σ ≤ 1) push every σ into a band around 1 (about 0.68–1.14 for the
// coefficients below): an approximate U·Vᵀ without an SVD.
//
// Work happens on the wide orientation (r <= c, transposing tall inputs), so the Gram matrix
// A = X·Xᵀ is the small r x r one. The three products go through nn/gemm.c's kernel: sums in
// float over k ascending, threads own output rows, so results do not depend on the thread count.
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "../nn/gemm.h"

#define NS_A 3.4445f
#define NS_B (-4.7750f)
#define NS_C 2.0315f
#define NS_EPS 1e-7


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

void newton_schulz(float *G, int rows, int cols, int steps, float *scratch) {
    const int r = rows < cols ? rows : cols, c = rows < cols ? cols : rows;
    const size_t rc = (size_t)r * c, rr = (size_t)r * r;
    float *X = scratch, *Y = X + rc, *XT = Y + rc, *A = XT + rc, *B = A + rr;
    ns_load(X, G, rows, cols);
    for (int s = 0; s < steps; s++) {
        // XT = Xᵀ (c x r), so the Gram product streams contiguous rows.
        for (int i = 0; i < r; i++)
            for (int k = 0; k < c; k++) XT[(size_t)k * r + i] = X[(size_t)i * c + k];
        // A = X·Xᵀ (r x r)
        gemm(A, (size_t)r, X, (size_t)c, 1, XT, (size_t)r, r, r, c, 0);
        // B = b·A + c·A·A (r x r)
        gemm(B, (size_t)r, A, (size_t)r, 1, A, (size_t)r, r, r, r, 0);
        for (size_t i = 0; i < rr; i++) B[i] = NS_B * A[i] + NS_C * B[i];
        // Y = a·X + B·X (r x c)
        gemm(Y, (size_t)c, B, (size_t)r, 1, X, (size_t)c, r, c, r, 0);
        for (size_t i = 0; i < rc; i++) Y[i] = NS_A * X[i] + Y[i];
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
