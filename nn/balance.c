// balance.c — the balancing losses, their gradients, and the aux-free bias (see balance.h).
#include <math.h>
#include <string.h>
#include "balance.h"
#include "model_types.h"

void expert_load(int32_t *load, const int32_t *topk, int N, int E, int K) {
    memset(load, 0, sizeof(int32_t) * E);
    for (size_t i = 0; i < (size_t)N * K; i++) load[topk[i]]++;
}

double load_maxvio(const int32_t *load, int E, int NK) {
    double mean = (double)NK / E;
    int32_t mx = 0;
    for (int e = 0; e < E; e++) mx = load[e] > mx ? load[e] : mx;
    return (mx - mean) / mean;
}

// P[g][i] = mean over the group's tokens of pb (sums in token order: deterministic)
static void group_means(double *P, const real *pb, int N, int E, int gsize) {
    int G = N / gsize;
    for (int g = 0; g < G; g++) {
        double *Pg = P + (size_t)g * E;
        for (int i = 0; i < E; i++) Pg[i] = 0;
        for (int t = g * gsize; t < (g + 1) * gsize; t++)
            for (int i = 0; i < E; i++) Pg[i] += pb[(size_t)t * E + i];
        for (int i = 0; i < E; i++) Pg[i] /= gsize;
    }
}

// f[i] = count_i / (K·n) over the listed tokens (tokens == NULL: tokens first..first+n-1)
static void count_fraction(double *f, const int32_t *topk, const int32_t *tokens, int first, int n, int E, int K) {
    for (int i = 0; i < E; i++) f[i] = 0;
    for (int j = 0; j < n; j++) {
        int t = tokens ? tokens[j] : first + j;
        for (int k = 0; k < K; k++) f[topk[(size_t)t * K + k]] += 1;
    }
    for (int i = 0; i < E; i++) f[i] /= (double)K * n;
}

double switch_loss_forward(double *f, double *P, const real *pb, const int32_t *topk, int N, int E, int K,
                           int gsize, int f_from, uint64_t seed, int32_t *perm) {
    int G = N / gsize;
    group_means(P, pb, N, E, gsize);
    Rng rng;
    rng_seed(&rng, seed, 0x5EED);
    for (int g = 0; g < G; g++) {
        double *fg = f + (size_t)g * E;
        if (f_from == F_FROM_GROUP) {
            count_fraction(fg, topk, NULL, g * gsize, gsize, E, K);
        } else if (f_from == F_FROM_BATCH) {
            if (g == 0) count_fraction(fg, topk, NULL, 0, N, E, K);
            else memcpy(fg, f, sizeof(double) * E);
        } else {
            // a random gsize-token subset of the whole batch: partial Fisher–Yates
            for (int t = 0; t < N; t++) perm[t] = t;
            for (int j = 0; j < gsize; j++) {
                int r = j + (int)rng_below(&rng, (uint32_t)(N - j));
                int32_t tmp = perm[j]; perm[j] = perm[r]; perm[r] = tmp;
            }
            count_fraction(fg, topk, perm, 0, gsize, E, K);
        }
    }
    double loss = 0;
    for (int g = 0; g < G; g++) {
        double lg = 0;
        for (int i = 0; i < E; i++) lg += f[(size_t)g * E + i] * P[(size_t)g * E + i];
        loss += E * lg;
    }
    return loss / G;
}

void switch_loss_backward(real *dpb, const double *f, int N, int E, int gsize, double coef) {
    int G = N / gsize;
    double scale = coef * E / ((double)G * gsize);
    for (int t = 0; t < N; t++) {
        const double *fg = f + (size_t)(t / gsize) * E;
        for (int i = 0; i < E; i++) dpb[(size_t)t * E + i] += (real)(scale * fg[i]);
    }
}

double l2_loss_forward(double *P, const real *pb, int N, int E, int gsize) {
    int G = N / gsize;
    group_means(P, pb, N, E, gsize);
    double loss = 0;
    for (int g = 0; g < G; g++)
        for (int i = 0; i < E; i++) {
            double d = P[(size_t)g * E + i] - 1.0 / E;
            loss += d * d;
        }
    return loss / G;
}

void l2_loss_backward(real *dpb, const double *P, int N, int E, int gsize, double coef) {
    int G = N / gsize;
    double scale = coef * 2.0 / ((double)G * gsize);
    for (int t = 0; t < N; t++) {
        const double *Pg = P + (size_t)(t / gsize) * E;
        for (int i = 0; i < E; i++) dpb[(size_t)t * E + i] += (real)(scale * (Pg[i] - 1.0 / E));
    }
}

static double logsumexp(const real *z, int E) {
    double mx = z[0], sum = 0;
    for (int i = 1; i < E; i++) mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < E; i++) sum += exp(z[i] - mx);
    return mx + log(sum);
}

double zloss_forward(const real *z, int N, int E) {
    double total = 0;
    for (int t = 0; t < N; t++) {
        double l = logsumexp(z + (size_t)t * E, E);
        total += l * l;
    }
    return total / N;
}

void zloss_backward(real *dz, const real *z, int N, int E, double coef) {
    for (int t = 0; t < N; t++) {
        const real *zt = z + (size_t)t * E;
        double l = logsumexp(zt, E);
        for (int i = 0; i < E; i++) dz[(size_t)t * E + i] += (real)(coef * 2.0 * l * exp(zt[i] - l) / N);
    }
}

void topk_probs_forward(real *pb, const real *s, const int32_t *topk, int N, int E, int K) {
    for (int t = 0; t < N; t++) {
        const real *st = s + (size_t)t * E;
        const int32_t *tk = topk + (size_t)t * K;
        real *pt = pb + (size_t)t * E, sum = 0;
        for (int i = 0; i < E; i++) pt[i] = 0;
        for (int k = 0; k < K; k++) sum += st[tk[k]];
        for (int k = 0; k < K; k++) pt[tk[k]] = st[tk[k]] / sum;
    }
}

void topk_probs_backward(real *ds, const real *dpb, const real *s, const real *pb, const int32_t *topk,
                         int N, int E, int K) {
    // pb_j = s_j / Σ_chosen s: ∂L/∂s_j = (dpb_j − Σ_k dpb_k pb_k) / Σ, for chosen j
    for (int t = 0; t < N; t++) {
        const real *st = s + (size_t)t * E, *dp = dpb + (size_t)t * E, *pt = pb + (size_t)t * E;
        const int32_t *tk = topk + (size_t)t * K;
        real sum = 0, dot = 0;
        for (int k = 0; k < K; k++) { sum += st[tk[k]]; dot += dp[tk[k]] * pt[tk[k]]; }
        for (int k = 0; k < K; k++) ds[(size_t)t * E + tk[k]] += (dp[tk[k]] - dot) / sum;
    }
}

void auxfree_update(real *bias, const int32_t *load, int E, int NK, double rate, int mode, int center) {
    double mean = (double)NK / E;
    for (int i = 0; i < E; i++) {
        double err = mean - load[i];
        double step = mode == BIAS_SIGN ? (err > 0) - (err < 0) : err / mean;
        bias[i] += (real)(rate * step);
    }
    if (center) {
        double m = 0;
        for (int i = 0; i < E; i++) m += bias[i];
        m /= E;
        for (int i = 0; i < E; i++) bias[i] -= (real)m;
    }
}
