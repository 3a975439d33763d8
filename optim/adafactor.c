// adafactor.c — Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with
// Sublinear Memory Cost", Algorithms 4 and 5) on one matrix: the second moment of a matrix kept
// as its row and column sums (rows + cols floats instead of rows·cols), a vector's in full; the
// beta2 schedule 1 - t^(-c); update clipping by the RMS of the update; optional momentum. The
// learning rate is given (no relative step, so no parameter-scale term and no eps2).
// Sums in double in index order; optim_step runs one matrix per thread: any thread split gives
// the same bits.
#include <math.h>
#include <stddef.h>
#include "optim.h"

double adafactor_beta2(double decay_rate, long t) { return 1.0 - pow((double)t, -decay_rate); }

void adafactor_update_matrix(float *w, const float *g, float *row, float *col, float *v, float *m, int rows,
                             int cols, int decay, const OptimConfig *cfg, double lr, long t, double *dscratch,
                             float gscale) {
    const size_t R = (size_t)rows, C = (size_t)cols, n = R * C;
    const double b2 = adafactor_beta2(cfg->adafactor_decay_rate, t), eps1 = cfg->adafactor_eps;
    // The statistics, then the sum of U² for the clipping (U is not stored: it is recomputed in
    // the second pass from the same floats, so both passes see the same values).
    double ssq = 0.0, rsum = 0.0;
    if (row) {
        double *csum = dscratch;  // C: this step's column sums of g² + eps1
        for (size_t j = 0; j < C; j++) csum[j] = 0.0;
        for (size_t i = 0; i < R; i++) {
            double s = 0.0;
            for (size_t j = 0; j < C; j++) {
                const double gi = (double)(g[i * C + j] * gscale), q = gi * gi + eps1;
                s += q;
                csum[j] += q;
            }
            row[i] = (float)(b2 * row[i] + (1.0 - b2) * s);
        }
        for (size_t j = 0; j < C; j++) col[j] = (float)(b2 * col[j] + (1.0 - b2) * csum[j]);
        for (size_t i = 0; i < R; i++) rsum += row[i];
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++) {
                // V̂_ij = row_i col_j / Σ row: in double (row·col can underflow a float)
                const double vh = (double)row[i] * (double)col[j] / rsum, gi = (double)(g[i * C + j] * gscale);
                ssq += gi * gi / vh;
            }
    } else {
        for (size_t k = 0; k < n; k++) {
            const double gi = (double)(g[k] * gscale);
            v[k] = (float)(b2 * v[k] + (1.0 - b2) * (gi * gi + eps1));
            ssq += gi * gi / (double)v[k];
        }
    }
    // Update clipping: U / max(1, RMS(U)/d).
    const double rms = sqrt(ssq / (double)n), clip = rms / cfg->adafactor_clip > 1.0 ? rms / cfg->adafactor_clip : 1.0;
    const double b1 = cfg->adafactor_beta1, keep = decay ? 1.0 - lr * cfg->weight_decay : 1.0;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            const size_t k = i * C + j;
            const double vh = row ? (double)row[i] * (double)col[j] / rsum : (double)v[k];
            double u = (double)(g[k] * gscale) / sqrt(vh) / clip;
            if (m) {
                m[k] = (float)(b1 * m[k] + (1.0 - b1) * u);
                u = m[k];
            }
            w[k] = (float)(w[k] * keep - lr * u);
        }
}
