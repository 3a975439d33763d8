// rollouts.c — rollouts compared by expert usage, over arrays (rollouts.h).
#include <math.h>
#include <stdlib.h>
#include "rollouts.h"
#include "metrics.h"

const char *const compare_kind_names[CMP_KINDS] = {"same_prompt_other_model", "other_prompt_same_model",
                                                   "same_prompt_same_model_other_sample",
                                                   "other_prompt_other_model"};

CompareKind compare_kind(RolloutId a, RolloutId b) {
    if (a.prompt == b.prompt) return a.model == b.model ? CMP_SAME_PROMPT_SAME_MODEL_OTHER_SAMPLE : CMP_SAME_PROMPT_OTHER_MODEL;
    return a.model == b.model ? CMP_OTHER_PROMPT_SAME_MODEL : CMP_OTHER_PROMPT_OTHER_MODEL;
}

void compare_freqs(double *freq, const int32_t *routes, int R, int L, int S, int K, int E, int from, int to) {
    for (int r = 0; r < R; r++)
        for (int l = 0; l < L; l++) {
            // rows [from, to) of this rollout's layer l: (to - from) x K choices
            const int32_t *rt = routes + (((size_t)r * L + l) * S + from) * K;
            metrics_freq(freq + ((size_t)r * L + l) * E, rt, (size_t)(to - from), K, E);
        }
}

void compare_layer(CompareStat *stats, const double *freq_l, size_t stride, const RolloutId *ids, int R, int E,
                   double top_p, ComparePairFn pair_fn, void *u) {
    double sum[CMP_KINDS] = {0}, sumsq[CMP_KINDS] = {0}, fsum[CMP_KINDS] = {0};
    long n[CMP_KINDS] = {0};
    for (int a = 0; a < R; a++)
        for (int b = a + 1; b < R; b++) {
            const double *fa = freq_l + (size_t)a * stride, *fb = freq_l + (size_t)b * stride;
            CompareKind k = compare_kind(ids[a], ids[b]);
            double ov = metrics_jaccard(fa, fb, E, top_p), fs = metrics_cosine(fa, fb, E);
            n[k]++;
            sum[k] += ov;
            sumsq[k] += ov * ov;
            fsum[k] += fs;
            if (pair_fn) pair_fn(u, a, b, k, ov, fs);
        }
    for (int k = 0; k < CMP_KINDS; k++) {
        stats[k].pairs = n[k];
        stats[k].overlap_mean = n[k] ? sum[k] / n[k] : NAN;
        stats[k].freqsim_mean = n[k] ? fsum[k] / n[k] : NAN;
        double var = n[k] > 1 ? (sumsq[k] - sum[k] * sum[k] / n[k]) / (n[k] - 1) : NAN;
        stats[k].overlap_sd = n[k] > 1 ? sqrt(var > 0 ? var : 0) : NAN;
    }
}

void compare_pool(double *pool, const float *hidden, int R, int L, int S, int D, int prompt_len) {
    for (int r = 0; r < R; r++)
        for (int l = 0; l < L; l++) {
            const float *h = hidden + ((size_t)r * L + l) * S * D;   // S x D: rollout r at layer l
            double *p = pool + ((size_t)r * L + l) * 2 * D;          // 2 x D: prompt, prompt + rollout
            metrics_pool(p, h, (size_t)prompt_len, D);
            metrics_pool(p + D, h, (size_t)S, D);
        }
}

// ---- prompt → rollout tracking (Fig. 7) ---------------------------------------------------------

const char *const track_kind_names[TRACK_KINDS] = {"same_domain", "cross_domain"};

void compare_track(TrackStat *stats, double *fs_prompt, double *fs_full, const int32_t *routes, const int *domain,
                   int P, int L, int S, int K, int E, int prompt_len, int layer, const int *ns, int nn) {
    double *fa = malloc(sizeof(double) * (size_t)E * 2);
    if (!fa) return;
    double *fb = fa + E;
    for (int i = 0; i < nn * TRACK_KINDS; i++) stats[i] = (TrackStat){0, 0, 0};
    long pair = 0;
    for (int a = 0; a < P; a++)
        for (int b = a + 1; b < P; b++, pair++) {
            int kind = domain[a] >= 0 && domain[a] == domain[b] ? TRACK_SAME_DOMAIN : TRACK_CROSS_DOMAIN;
            // rows of prompt a and b at this layer: positions [0, prompt_len + n) of S
            const int32_t *ra = routes + ((size_t)a * L + layer) * S * K, *rb = routes + ((size_t)b * L + layer) * S * K;
            for (int j = 0; j < nn; j++) {
                size_t len = (size_t)(prompt_len + ns[j]);
                metrics_freq(fa, ra, len, K, E);
                metrics_freq(fb, rb, len, K, E);
                double f = metrics_cosine(fa, fb, E);
                TrackStat *t = &stats[j * TRACK_KINDS + kind];
                t->pairs++;
                t->sum += f;
                t->sumsq += f * f;
                if (j == 0 && fs_prompt) fs_prompt[pair] = f;
                if (j == nn - 1 && fs_full) fs_full[pair] = f;
            }
        }
    free(fa);
}
