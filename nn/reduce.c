// reduce.c — sums of squares in a fixed order (see reduce.h).
//
// n is cut into chunks of SQ_CHUNK; each chunk is summed over SQ_LANES interleaved partial sums
// (lane j takes elements j, j + SQ_LANES, ...; the lanes are then added in lane order), and the
// chunk sums are added in chunk order. The lanes break the chain of dependent additions a single
// running sum would wait on, and let the loop vectorize (the copy for this CPU's width, simd.h);
// the grouping never depends on the width or the thread count. Chunks run SQ_BATCH at a time so
// their partial sums fit on the stack (no allocation).
#include "reduce.h"
#include "simd.h"

#define SQ_CHUNK 4096
#define SQ_BATCH 64
#define SQ_LANES 8

static inline void chunk_sumsq_body(double *out, const real *x, size_t n) {
    double acc[SQ_LANES] = {0};
    size_t i = 0;
    for (; i + SQ_LANES <= n; i += SQ_LANES)
        for (int j = 0; j < SQ_LANES; j++) acc[j] += (double)x[i + j] * (double)x[i + j];
    for (int j = 0; i + (size_t)j < n; j++) acc[j] += (double)x[i + j] * (double)x[i + j];
    double s = 0.0;
    for (int j = 0; j < SQ_LANES; j++) s += acc[j];
    *out = s;
}
SIMD_VARIANTS(chunk_sumsq, (double *out, const real *x, size_t n), (out, x, n))

static double sum_squares_impl(const real *x, size_t n, int parallel) {
    const size_t nchunks = (n + SQ_CHUNK - 1) / SQ_CHUNK;
    double total = 0.0;
    for (size_t c0 = 0; c0 < nchunks; c0 += SQ_BATCH) {
        double part[SQ_BATCH];
        const int nb = (int)(nchunks - c0 < SQ_BATCH ? nchunks - c0 : SQ_BATCH);
#ifdef _OPENMP
#pragma omp parallel for if (parallel && nb > 1)
#endif
        for (int b = 0; b < nb; b++) {  // chunks of this batch; each thread owns part[b]
            const size_t lo = (c0 + (size_t)b) * SQ_CHUNK;
            const size_t hi = lo + SQ_CHUNK < n ? lo + SQ_CHUNK : n;
            chunk_sumsq(&part[b], x + lo, hi - lo);
        }
        for (int b = 0; b < nb; b++) total += part[b];  // chunk order
    }
    (void)parallel;
    return total;
}

double sum_squares(const real *x, size_t n) { return sum_squares_impl(x, n, 1); }
double sum_squares_serial(const real *x, size_t n) { return sum_squares_impl(x, n, 0); }
