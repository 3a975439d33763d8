// metrics_internal.h — the two helpers the files of the measurements share (metrics.c,
// geometry.c, usage.c); not part of metrics.h's interface.
#ifndef MOESIM_METRICS_INTERNAL_H
#define MOESIM_METRICS_INTERNAL_H

#include <stdint.h>

// Indices of the K largest of x[0..E) by decreasing value, ties to the lower index, skipping
// (and then marking) entries already flagged in taken. Repeated argmax: O(K E), fine for E <= 1024.
void metrics_select_top(int32_t *idx, const double *x, int E, int K, uint8_t *taken);
// |A ∩ B| / |A ∪ B| of two E-flag sets (1 if both are empty).
double metrics_jaccard_sets(const uint8_t *a, const uint8_t *b, int E);

#endif
