// gemm.c — a register-blocked matrix product in portable C (GCC/Clang vector extensions), beside
// its plain reference. The blocked kernel keeps an MR x NR tile of C in vector registers and
// streams k: for each k it broadcasts MR values of A and loads NR values of B's row k. Every C
// element is accumulated over k in increasing order, exactly like the reference, so the two
// agree to rounding of FMA contraction only.
#include "gemm.h"

#define VBYTES 32
#define VL ((int)(VBYTES / sizeof(real)))   // lanes per vector: 8 floats or 4 doubles
typedef real vreal __attribute__((vector_size(VBYTES)));
// The same vector, readable at any real-aligned address (unaligned loads and stores).
typedef real vreal_u __attribute__((vector_size(VBYTES), aligned(sizeof(real)), may_alias));

#define MR 4            // rows of C per tile
#define NV 2            // vectors of C per tile row: NR = NV*VL columns

#define VLOAD(p) ((vreal)*(const vreal_u *)(p))
#define VSTORE(p, v) (*(vreal_u *)(p) = (v))

void gemm_ref(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
              int M, int Nc, int Kd, int accumulate) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < Nc; n++) {
            real acc = accumulate ? C[(size_t)m * ldc + n] : 0;
            for (int k = 0; k < Kd; k++) acc += A[m * a_rs + k * a_cs] * B[(size_t)k * ldb + n];
            C[(size_t)m * ldc + n] = acc;
        }
}

// One MR x (NV*VL) tile of C at rows m0.., columns n0.. (all in range).
static inline void tile_full(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs,
                             const real *B, size_t ldb, int m0, int n0, int Kd, int accumulate) {
    vreal acc[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = accumulate ? VLOAD(C + (size_t)(m0 + r) * ldc + n0 + v * VL) : (vreal){0};
    const real *a = A + (size_t)m0 * a_rs;
    for (int k = 0; k < Kd; k++) {
        const real *b = B + (size_t)k * ldb + n0;
        vreal bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = VLOAD(b + v * VL);
        for (int r = 0; r < MR; r++) {
            real av = a[r * a_rs + k * a_cs];
            for (int v = 0; v < NV; v++) acc[r][v] += av * bv[v];
        }
    }
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) VSTORE(C + (size_t)(m0 + r) * ldc + n0 + v * VL, acc[r][v]);
}

// Any rows [m0, m1) x columns [n0, n1): vector columns where a full vector fits, scalars after.
static void tile_edge(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs,
                      const real *B, size_t ldb, int m0, int m1, int n0, int n1, int Kd, int accumulate) {
    for (int m = m0; m < m1; m++) {
        int n = n0;
        for (; n + VL <= n1; n += VL) {
            vreal acc = accumulate ? VLOAD(C + (size_t)m * ldc + n) : (vreal){0};
            for (int k = 0; k < Kd; k++) acc += A[m * a_rs + k * a_cs] * VLOAD(B + (size_t)k * ldb + n);
            VSTORE(C + (size_t)m * ldc + n, acc);
        }
        for (; n < n1; n++) {
            real acc = accumulate ? C[(size_t)m * ldc + n] : 0;
            for (int k = 0; k < Kd; k++) acc += A[m * a_rs + k * a_cs] * B[(size_t)k * ldb + n];
            C[(size_t)m * ldc + n] = acc;
        }
    }
}

void gemm(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
          int M, int Nc, int Kd, int accumulate) {
    const int NR = NV * VL;
    int mblocks = (M + MR - 1) / MR;
    int nfull = Nc / NR * NR;
    double work = (double)M * Nc * Kd;
    (void)work;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work > 65536.0)
#endif
    for (int mb = 0; mb < mblocks; mb++) {
        int m0 = mb * MR, m1 = m0 + MR < M ? m0 + MR : M;
        if (m1 - m0 == MR) {
            for (int n0 = 0; n0 < nfull; n0 += NR) tile_full(C, ldc, A, a_rs, a_cs, B, ldb, m0, n0, Kd, accumulate);
            if (nfull < Nc) tile_edge(C, ldc, A, a_rs, a_cs, B, ldb, m0, m1, nfull, Nc, Kd, accumulate);
        } else {
            tile_edge(C, ldc, A, a_rs, a_cs, B, ldb, m0, m1, 0, Nc, Kd, accumulate);
        }
    }
}

void matmul_forward(real *out, const real *in, const real *W, int N, int I, int O, real *wt) {
    // wt[I x O] = Wᵀ, so out[N x O] = in[N x I] · wt
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) wt[(size_t)i * O + o] = W[(size_t)o * I + i];
    gemm(out, (size_t)O, in, (size_t)I, 1, wt, (size_t)O, N, O, I, 0);
}

void matmul_backward_input(real *din, const real *dout, const real *W, int N, int I, int O) {
    // din[N x I] += dout[N x O] · W[O x I]
    gemm(din, (size_t)I, dout, (size_t)O, 1, W, (size_t)I, N, I, O, 1);
}

void matmul_backward_weight(real *dW, const real *dout, const real *in, int N, int I, int O) {
    // dW[O x I] += doutᵀ[O x N] · in[N x I]; A(o, n) = dout[n*O + o]
    gemm(dW, (size_t)I, dout, 1, (size_t)O, in, (size_t)I, O, I, N, 1);
}
