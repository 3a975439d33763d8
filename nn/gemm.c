// gemm.c — a register-blocked matrix product in portable C (GCC/Clang vector extensions), beside
// its plain reference. The kernel keeps an MR x NR tile of C in vector registers and streams k:
// for each k it broadcasts MR values of A and loads NR values of B's row k. Every C element is
// accumulated over k in increasing order, like the reference, so the two differ only by the
// rounding of fused multiply-adds.
//
// One kernel body is compiled for three vector widths: 16 bytes (SSE2, every x86-64 and the
// portable fallback), 32 bytes with FMA (AVX2) and 64 bytes (AVX-512). gemm() runs the widest that
// simd_level() allows (simd.h) and the shape fills; the choice never depends on the thread count,
// so results stay bitwise reproducible on a machine. MOESIM_SIMD=sse|avx2 caps it (tests, bench).
#include <stdlib.h>
#include <string.h>
#include "gemm.h"
#include "simd.h"
#ifdef _OPENMP
#include <omp.h>
#endif

void gemm_ref(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
              int M, int Nc, int Kd, int accumulate) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < Nc; n++) {
            real acc = accumulate ? C[(size_t)m * ldc + n] : 0;
            for (int k = 0; k < Kd; k++) acc += A[m * a_rs + k * a_cs] * B[(size_t)k * ldb + n];
            C[(size_t)m * ldc + n] = acc;
        }
}

typedef void (*BlockFn)(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B,
                        size_t ldb, int m0, int m1, int Nc, int Kd, int accumulate);

// KERNEL(NAME, VB, MR, ATTR): rows [m0, m1) of C (m1 - m0 <= MR), all Nc columns.
// Tiles are R rows x 2 vectors, R = the block's rows (MR, or fewer in the last block: each R
// gets its own unrolled copy, so a remainder block keeps its accumulators in registers too);
// then single vectors; then scalars.
#define KERNEL(NAME, VB, MR_, ATTR)                                                                 \
    typedef real NAME##_v __attribute__((vector_size(VB)));                                        \
    typedef real NAME##_vu __attribute__((vector_size(VB), aligned(sizeof(real)), may_alias));     \
    /* R x 2L tiles from column 0 while they fit; returns the first column left over */            \
    ATTR static inline __attribute__((always_inline)) int NAME##_tiles(                            \
        real *C, size_t ldc, const real *a, size_t a_rs, size_t a_cs, const real *B, size_t ldb,   \
        int m0, int Nc, int Kd, int accumulate, const int R) {                                     \
        enum { L = (int)(VB / sizeof(real)) };                                                     \
        int n = 0;                                                                                 \
        for (; n + 2 * L <= Nc; n += 2 * L) {                                                      \
            NAME##_v acc0[8], acc1[8];                                                             \
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                  \
                real *c = C + (size_t)(m0 + r) * ldc + n;                                          \
                acc0[r] = accumulate ? (NAME##_v)*(const NAME##_vu *)c : (NAME##_v){0};            \
                acc1[r] = accumulate ? (NAME##_v)*(const NAME##_vu *)(c + L) : (NAME##_v){0};      \
            }                                                                                      \
            for (int k = 0; k < Kd; k++) {                                                         \
                const real *b = B + (size_t)k * ldb + n;                                           \
                NAME##_v b0 = *(const NAME##_vu *)b, b1 = *(const NAME##_vu *)(b + L);             \
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                              \
                    real av = a[r * a_rs + k * a_cs];                                              \
                    acc0[r] += av * b0;                                                            \
                    acc1[r] += av * b1;                                                            \
                }                                                                                  \
            }                                                                                      \
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                  \
                real *c = C + (size_t)(m0 + r) * ldc + n;                                          \
                *(NAME##_vu *)c = acc0[r];                                                         \
                *(NAME##_vu *)(c + L) = acc1[r];                                                   \
            }                                                                                      \
        }                                                                                          \
        return n;                                                                                  \
    }                                                                                              \
    ATTR static void NAME(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs,            \
                          const real *B, size_t ldb, int m0, int m1, int Nc, int Kd, int accumulate) { \
        enum { L = (int)(VB / sizeof(real)), MR = MR_ };                                           \
        int rows = m1 - m0, n = 0;                                                                 \
        const real *a = A + (size_t)m0 * a_rs;                                                     \
        switch (rows) {                                                                            \
        case 1: n = NAME##_tiles(C, ldc, a, a_rs, a_cs, B, ldb, m0, Nc, Kd, accumulate, 1); break; \
        case 2: n = NAME##_tiles(C, ldc, a, a_rs, a_cs, B, ldb, m0, Nc, Kd, accumulate, 2); break; \
        case 3: n = NAME##_tiles(C, ldc, a, a_rs, a_cs, B, ldb, m0, Nc, Kd, accumulate, 3); break; \
        case 4: n = NAME##_tiles(C, ldc, a, a_rs, a_cs, B, ldb, m0, Nc, Kd, accumulate, 4); break; \
        case 5: if (MR >= 5) n = NAME##_tiles(C, ldc, a, a_rs, a_cs, B, ldb, m0, Nc, Kd, accumulate, 5); break; \
        case 6: if (MR >= 6) n = NAME##_tiles(C, ldc, a, a_rs, a_cs, B, ldb, m0, Nc, Kd, accumulate, 6); break; \
        default: break;                                                                            \
        }                                                                                          \
        for (int m = 0; m < rows; m++) {                                                           \
            const real *ar = a + (size_t)m * a_rs;                                                 \
            real *cr = C + (size_t)(m0 + m) * ldc;                                                 \
            int j = n;                                                                             \
            for (; j + L <= Nc; j += L) {                                                          \
                NAME##_v acc = accumulate ? (NAME##_v)*(const NAME##_vu *)(cr + j) : (NAME##_v){0}; \
                for (int k = 0; k < Kd; k++) acc += ar[k * a_cs] * *(const NAME##_vu *)(B + (size_t)k * ldb + j); \
                *(NAME##_vu *)(cr + j) = acc;                                                      \
            }                                                                                      \
            for (; j < Nc; j++) {                                                                  \
                real acc = accumulate ? cr[j] : 0;                                                 \
                for (int k = 0; k < Kd; k++) acc += ar[k * a_cs] * B[(size_t)k * ldb + j];         \
                cr[j] = acc;                                                                       \
            }                                                                                      \
        }                                                                                          \
    }

// GCC's note that 32/64-byte vectors change the ABI is moot: the vectors never cross a call.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define MR_SSE 4
#define MR_WIDE 6
KERNEL(block_sse, 16, MR_SSE, )
#if SIMD_MULTI
#define HAVE_WIDE 1
KERNEL(block_avx2, 32, MR_WIDE, SIMD_AVX2_ATTR)
KERNEL(block_avx512, 64, MR_WIDE, SIMD_AVX512_ATTR)
#else
#define HAVE_WIDE 0
#endif

// The kernels by SimdLevel: the portable one, then the wider ones where compiled.
typedef struct { BlockFn fn; int mr, lanes; } Kernel;
static const Kernel kernels[] = {
    {block_sse, MR_SSE, (int)(16 / sizeof(real))},
#if HAVE_WIDE
    {block_avx2, MR_WIDE, (int)(32 / sizeof(real))},
    {block_avx512, MR_WIDE, (int)(64 / sizeof(real))},
#endif
};

const char *gemm_path(void) { return simd_level_name(simd_level()); }

// The widest kernel whose full tile (2 vectors) fits a row of `width` columns; the choice
// depends on the shape and the CPU only, so it is the same for every thread count.
static const Kernel *kernel_for(int width) {
    int lv = (int)simd_level();
    while (lv > 0 && width < 2 * kernels[lv].lanes) lv--;
    return &kernels[lv];
}

// A stored transposed (a_rs = 1: the weight gradients' doutᵀ), usually with a long k (the
// tokens): a block's MR values for one k are contiguous, but consecutive k are a whole row of the
// stored matrix apart, so the kernel would touch a new cache line for every k once per tile of
// columns; and B's Kd x Nc rows (the layer's input) are larger than L2, so every
// block of rows would stream them from memory again. So k goes in chunks of PACK_K, the outer
// loop: each thread runs its own blocks of rows (the static schedule's) through one chunk before
// the next, so the chunk's B rows stay in L2; and a block's A values for the chunk are first
// copied into a contiguous panel (panel[k][r], on the stack: nothing allocated) that stays in L1
// while the kernel sweeps the columns. The panels hold the same values and each C element still
// sums k in increasing order (a chunk's partial sum goes through C exactly, as a float), so the
// bits are the same as the unpacked kernel's.
#define PACK_K 256
#define PACK_MIN_COLS 64
#define MR_MAX 6
_Static_assert(MR_SSE <= MR_MAX && MR_WIDE <= MR_MAX, "a packed panel holds a block's rows");

static void block_packed(BlockFn fn, real *C, size_t ldc, const real *A, size_t a_cs, const real *B,
                         size_t ldb, int m0, int m1, int Nc, int k0, int kc, int accumulate) {
    // k's row of the panel is MR_MAX long even for fewer rows, so the kernel's column stride is
    // never 1, as it never is for a stored transposed matrix either
    real panel[PACK_K * MR_MAX];
    const int R = m1 - m0;
    // a whole block's rows as a copy of fixed length, which the compiler inlines (a loop of R
    // became a memcpy call per k: 4 % of a text std step)
    if (R == MR_MAX)
        for (int k = 0; k < kc; k++) {
            const real *src = A + m0 + (size_t)(k0 + k) * a_cs;
            _Pragma("GCC unroll 6") for (int r = 0; r < MR_MAX; r++) panel[k * MR_MAX + r] = src[r];
        }
    else
        for (int k = 0; k < kc; k++) {
            const real *src = A + m0 + (size_t)(k0 + k) * a_cs;
            for (int r = 0; r < R; r++) panel[k * MR_MAX + r] = src[r];
        }
    fn(C + (size_t)m0 * ldc, ldc, panel, 1, MR_MAX, B + (size_t)k0 * ldb, ldb, 0, R, Nc, kc,
       accumulate || k0 > 0);
}

static void gemm_packed(const Kernel *kn, real *C, size_t ldc, const real *A, size_t a_cs, const real *B,
                        size_t ldb, int M, int Nc, int Kd, int accumulate) {
    int mr = kn->mr, mblocks = (M + mr - 1) / mr;
    double work = (double)M * Nc * Kd;
    (void)work;
#ifdef _OPENMP
#pragma omp parallel if (work > 65536.0 && mblocks > 1)
#endif
    {
        int lo = 0, hi = mblocks;
#ifdef _OPENMP
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        lo = (int)((long long)mblocks * id / nt);
        hi = (int)((long long)mblocks * (id + 1) / nt);
#endif
        for (int k0 = 0; k0 < Kd; k0 += PACK_K) {
            int kc = Kd - k0 < PACK_K ? Kd - k0 : PACK_K;
            for (int mb = lo; mb < hi; mb++) {
                int m0 = mb * mr, m1 = m0 + mr < M ? m0 + mr : M;
                block_packed(kn->fn, C, ldc, A, a_cs, B, ldb, m0, m1, Nc, k0, kc, accumulate);
            }
        }
    }
}

static void gemm_with(const Kernel *kn, real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs,
                      const real *B, size_t ldb, int M, int Nc, int Kd, int accumulate) {
    // packed where the panel is reused across columns: at least PACK_MIN_COLS (attention's Pᵀ·dO
    // and dSᵀ·Q have only Dh columns and k <= 64 a block: the copy cost as much as it saved); and
    // only rows of whole vectors: the scalar columns at a row's end are a loop whose rounding GCC
    // decides per layout (an in-order vector reduction without FMA, or scalar FMAs), and it came
    // out different for the panel's layout and chunks than for the stored matrix's (test_nn)
    if (a_rs == 1 && a_cs > 1 && Kd > 0 && Nc >= PACK_MIN_COLS && Nc % kn->lanes == 0) {
        gemm_packed(kn, C, ldc, A, a_cs, B, ldb, M, Nc, Kd, accumulate);
        return;
    }
    BlockFn fn = kn->fn;
    int mr = kn->mr, mblocks = (M + mr - 1) / mr;
    double work = (double)M * Nc * Kd;
    (void)work;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work > 65536.0 && mblocks > 1)
#endif
    for (int mb = 0; mb < mblocks; mb++) {
        int m0 = mb * mr, m1 = m0 + mr < M ? m0 + mr : M;
        fn(C, ldc, A, a_rs, a_cs, B, ldb, m0, m1, Nc, Kd, accumulate);
    }
}

void gemm(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
          int M, int Nc, int Kd, int accumulate) {
    gemm_with(kernel_for(Nc), C, ldc, A, a_rs, a_cs, B, ldb, M, Nc, Kd, accumulate);
}

void gemm_cols(real *C, size_t ldc, const real *A, size_t a_rs, size_t a_cs, const real *B, size_t ldb,
               int M, int Nc, int Kd, int accumulate, int Nc_full) {
    gemm_with(kernel_for(Nc_full), C, ldc, A, a_rs, a_cs, B, ldb, M, Nc, Kd, accumulate);
}

// wt[I x O] = W[O x I]ᵀ in 16 x 16 tiles: a tile's reads and writes each stay within 16 cache
// lines, where a plain column walk touches a new line on every write. W usually comes from
// memory (an expert's weights, read once per step), and 16 rows read a line at a time are more
// streams than the hardware prefetcher follows, so each tile asks for the same columns of the
// next 16 rows (measured: 7.3 → 5.2 ms for the 512 expert matrices of E = 64, one core).
static void transpose(real *wt, const real *W, int O, int I) {
    enum { TILE = 16 };
    for (int o0 = 0; o0 < O; o0 += TILE)
        for (int i0 = 0; i0 < I; i0 += TILE) {
            int o1 = o0 + TILE < O ? o0 + TILE : O, i1 = i0 + TILE < I ? i0 + TILE : I;
#if defined(__GNUC__)
            for (int o = o0 + TILE; o < o1 + TILE && o < O; o++) __builtin_prefetch(W + (size_t)o * I + i0);
#endif
            for (int o = o0; o < o1; o++)
                for (int i = i0; i < i1; i++) wt[(size_t)i * O + o] = W[(size_t)o * I + i];
        }
}

void matmul_forward(real *out, const real *in, const real *W, int N, int I, int O, real *wt) {
    // wt[I x O] = Wᵀ, so out[N x O] = in[N x I] · wt
    transpose(wt, W, O, I);
    matmul_forward_t(out, in, wt, N, I, O);
}

void matmul_forward_t(real *out, const real *in, const real *Wt, int N, int I, int O) {
    if (N > 0) gemm(out, (size_t)O, in, (size_t)I, 1, Wt, (size_t)O, N, O, I, 0);
}

void matmul_backward_input(real *din, const real *dout, const real *W, int N, int I, int O) {
    // din[N x I] += dout[N x O] · W[O x I]
    gemm(din, (size_t)I, dout, (size_t)O, 1, W, (size_t)I, N, I, O, 1);
}

void matmul_input_grad_set(real *din, const real *dout, const real *W, int N, int I, int O) {
    gemm(din, (size_t)I, dout, (size_t)O, 1, W, (size_t)I, N, I, O, 0);  // as above, C = instead of +=
}

void matmul_backward_weight(real *dW, const real *dout, const real *in, int N, int I, int O) {
    // dW[O x I] += doutᵀ[O x N] · in[N x I]; A(o, n) = dout[n*O + o]
    gemm(dW, (size_t)I, dout, 1, (size_t)O, in, (size_t)I, O, I, N, 1);
}

void matmul_weight_grad_set(real *dW, const real *dout, const real *in, int N, int I, int O) {
    gemm(dW, (size_t)I, dout, 1, (size_t)O, in, (size_t)I, O, I, N, 0);  // as above, C = instead of +=
}
