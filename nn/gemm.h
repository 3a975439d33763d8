// gemm.h — the matrix products every layer uses, each beside a plain reference version that the
// tests compare against on awkward shapes.
//
// All matrices are row-major. Weights are stored out x in (y = W·x):
//   forward          out[N x O]  = in[N x I] · W[O x I]ᵀ
//   backward input   din[N x I] += dout[N x O] · W[O x I]
//   backward weight  dW[O x I]  += dout[N x O]ᵀ · in[N x I]
// Each output element is summed over its inner index in increasing order, whatever the thread
// count (threads own whole output rows), so results are deterministic.
#ifndef MOESIM_GEMM_H
#define MOESIM_GEMM_H

#include <stddef.h>
#include "nn.h"

// General kernel: C[M x Nc] (=, or += when accumulate) A·B, where A(m,k) = A[m*a_rs + k*a_cs]
// (a_cs = 1: plain; a_rs = 1: A is stored transposed), B[k][n] = B[k*ldb + n], C[m][n] = C[m*ldc + n].
void gemm(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
          int M, int Nc, int Kd, int accumulate);
// gemm's bits for the first Nc columns of a product Nc_full columns wide, where Nc is Nc_full or
// a multiple of GEMM_COLS_STEP. gemm picks its kernel by the row's width, and kernels of
// different widths may round differently (with FMA or without); within a kernel, the columns
// its vectors cover get the same bits wherever they fall, but the scalar columns at a row's end
// may not (tests/test_nn.c). So a caller that computes only part of a product's columns
// (attention's causal rows, blocked) names the whole width, stops at a multiple of the widest
// vector, and gets the whole product's bits.
#define GEMM_COLS_STEP 16
void gemm_cols(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
               int M, int Nc, int Kd, int accumulate, int Nc_full);
void gemm_ref(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
              int M, int Nc, int Kd, int accumulate);

// out = in·Wᵀ. wt is scratch of I*O reals (W transposed so the kernel streams rows).
// The kernel gemm() uses on this CPU: "sse2", "avx2+fma" or "avx512".
const char *gemm_path(void);

void matmul_forward(real *out, const real *in, const real *W, int N, int I, int O, real *wt);
// out = in·Wᵀ with W given transposed (Wt: I x O), as a decoder keeps its weights: the same gemm
// call as matmul_forward's, so the same bits.
void matmul_forward_t(real *out, const real *in, const real *Wt, int N, int I, int O);
// din += dout·W
void matmul_backward_input(real *din, const real *dout, const real *W, int N, int I, int O);
// din = dout·W (overwrites: saves zeroing a buffer that only this product fills)
void matmul_input_grad_set(real *din, const real *dout, const real *W, int N, int I, int O);
// dW += doutᵀ·in
void matmul_backward_weight(real *dW, const real *dout, const real *in, int N, int I, int O);
// dW = doutᵀ·in (overwrites: for a weight with exactly one consumer, see experts_backward)
void matmul_weight_grad_set(real *dW, const real *dout, const real *in, int N, int I, int O);

#endif
