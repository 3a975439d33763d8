// reduce.h — sums of squares in a fixed order: the gradient norm, and the part of it the experts'
// backward computes while their weight gradients are still in cache.
#ifndef MOESIM_REDUCE_H
#define MOESIM_REDUCE_H

#include <stddef.h>
#include "nn.h"

// Σ x[i]², in double, over the threads when n is large. The grouping (fixed chunks, fixed lanes
// within a chunk, chunk sums in chunk order) depends only on n, so the result is the same bits
// for any thread count.
double sum_squares(const real *x, size_t n);
// The same grouping on one thread, for callers already inside a parallel loop.
double sum_squares_serial(const real *x, size_t n);

#endif
