// muon.c — Muon (Jordan et al.) on one table entry: momentum, then each matrix's update replaced
// by its Newton–Schulz orthogonalization, scaled per matrix shape. An expert stack (count > 1) is
// count separate matrices: each expert is orthogonalized on its own, never the stack as one.
#include <math.h>
#include <stddef.h>
#include "optim.h"

// Below this many elements a parallel element-wise loop costs more than it saves.
#define MUON_OMP_MIN 32768

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

void muon_update(float *w, const float *g, float *buf, const ParamInfo *p,
                 const OptimConfig *cfg, double lr, float *scratch) {
    const int rows = p->rows, cols = p->cols;
    const size_t mn = (size_t)rows * (size_t)cols;  // one matrix
    const float mom = (float)cfg->momentum;
    const float keep = p->decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
    const float step = (float)(lr * muon_scale(cfg->muon_scale, rows, cols));
    float *u = scratch, *ns = scratch + mn;

    for (int e = 0; e < p->count; e++) {  // count matrices (experts), each rows x cols
        const size_t off = (size_t)e * mn;
        float *we = w + off, *be = buf + off;
        const float *ge = g + off;
        // Momentum; Nesterov looks one step ahead along it.
#ifdef _OPENMP
#pragma omp parallel for if (mn >= MUON_OMP_MIN)
#endif
        for (long long i = 0; i < (long long)mn; i++) {  // rows x cols (signed index for OpenMP)
            be[i] = mom * be[i] + ge[i];
            u[i] = cfg->nesterov ? ge[i] + mom * be[i] : be[i];
        }
        newton_schulz(u, rows, cols, cfg->ns_steps, ns);  // u ← O ≈ U·Vᵀ of u
        // Decoupled decay, then the orthogonalized step.
#ifdef _OPENMP
#pragma omp parallel for if (mn >= MUON_OMP_MIN)
#endif
        for (long long i = 0; i < (long long)mn; i++)  // rows x cols
            we[i] = we[i] * keep - step * u[i];
    }
}
