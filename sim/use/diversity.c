// diversity.c — the diversity of several samples of one prompt (diversity.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diversity.h"

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void diversity_of(Diversity *out, const int32_t *rows /* M x len */, int M, int len, int start,
                  int32_t *scratch /* M */) {
    memset(out, 0, sizeof *out);
    const int n = len - start;  // continuation positions
    // distinct continuations: row r counts if no earlier row has the same continuation
    for (int r = 0; r < M; r++) {
        int seen = 0;
        for (int q = 0; q < r && !seen; q++)
            seen = memcmp(rows + (size_t)r * len + start, rows + (size_t)q * len + start, sizeof(int32_t) * n) == 0;
        out->distinct += !seen;
    }
    if (n <= 0) return;
    double ent = 0, share = 0;
    for (int t = start; t < len; t++) {
        for (int r = 0; r < M; r++) scratch[r] = rows[(size_t)r * len + t];  // M tokens at position t
        qsort(scratch, (size_t)M, sizeof *scratch, cmp_i32);
        int kinds = 0;
        for (int r = 0; r < M;) {  // runs of equal tokens: counts c_v
            int r2 = r;
            while (r2 < M && scratch[r2] == scratch[r]) r2++;
            double p = (double)(r2 - r) / M;
            ent -= p * log(p);
            kinds++;
            r = r2;
        }
        share += (double)kinds / M;
    }
    out->entropy = ent / n;
    out->share = share / n;
}
