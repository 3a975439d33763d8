// muon.c — Muon (Jordan et al.) on one matrix: momentum, then the update replaced
// by its Newton–Schulz orthogonalization, scaled per matrix shape. An expert stack (count > 1) is
// count separate matrices (optim_step runs them in parallel), never the stack as one.
#include <math.h>
#include <stddef.h>
#include "optim.h"

double muon_scale(int which, int rows, int cols) {
    if (which == MUON_SCALE_KJ) {
        // Keller Jordan's: tall matrices get sqrt(rows/cols), wide ones 1.
        double ratio = (double)rows / (double)cols;
        return sqrt(ratio > 1.0 ? ratio : 1.0);
    }
    // Moonlight's: matches the update RMS of AdamW (~0.2), so its lr and weight decay carry over.
    return 0.2 * sqrt((double)(rows > cols ? rows : cols));
}

// u (rows x cols) first, then Newton–Schulz's own workspace.
size_t muon_scratch(int rows, int cols) {
    return (size_t)rows * (size_t)cols + newton_schulz_scratch(rows, cols);
}

void muon_update_matrix(float *w, const float *g, float *buf, int rows, int cols, int decay,
                        const OptimConfig *cfg, double lr, float *scratch, float gscale) {
    const size_t mn = (size_t)rows * (size_t)cols;
    const float mom = (float)cfg->momentum;
    const float keep = decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
    const float step = (float)(lr * muon_scale(cfg->muon_scale, rows, cols));
    float *u = scratch, *ns = scratch + mn;
    // Momentum; Nesterov looks one step ahead along it.
    for (size_t i = 0; i < mn; i++) {  // rows x cols
        const float gi = g[i] * gscale;
        buf[i] = mom * buf[i] + gi;
        u[i] = cfg->nesterov ? gi + mom * buf[i] : buf[i];
    }
    newton_schulz(u, rows, cols, cfg->ns_steps, ns);  // u ← O ≈ U·Vᵀ of u
    // Decoupled decay, then the orthogonalized step.
    for (size_t i = 0; i < mn; i++) w[i] = w[i] * keep - step * u[i];  // rows x cols
}
