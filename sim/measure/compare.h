// compare.h — expert usage compared across rollouts of several models (the paper's §5, Figs. 6
// and 25): `moesim compare`. A model is one `moesim generate` output folder (one run), a question
// is one of the prompts they share, a solution is one sampled rollout. The unit is the rollout
// (model, prompt, sample): per layer, its expert-frequency vector (Eq. 13) over the generated
// tokens (prompt tokens too with --include-prompt). Every unordered pair of rollouts is one of
// four kinds, and per layer and kind we report the mean top-P overlap (Eq. 19's Jaccard of the
// top-P sets, Eq. 18) and the mean FreqSim (Eq. 14, the cosine of the frequency vectors).
//
// The pure part (compare_freqs, compare_kind, compare_layer) works on arrays; compare_dirs reads
// the folders (io.h) and writes compare.csv and compare_pairs.csv.
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CMP_SAME_PROMPT_OTHER_MODEL,             // two models, the same question
    CMP_OTHER_PROMPT_SAME_MODEL,             // one model, two different questions
    CMP_SAME_PROMPT_SAME_MODEL_OTHER_SAMPLE, // one model, one question, two samples
    CMP_OTHER_PROMPT_OTHER_MODEL,            // nothing shared
    CMP_KINDS
} CompareKind;

extern const char *const compare_kind_names[CMP_KINDS];

typedef struct { int model, prompt, sample; } RolloutId;

// The kind of the pair (a, b) of two distinct rollouts.
CompareKind compare_kind(RolloutId a, RolloutId b);

// Eq. 13 per rollout and layer: freq[(r L + l) E + e] = share of the (token, k) choices of rollout
// r at layer l, over positions [from, to), that picked expert e (sums to 1 over e).
// routes: R x L x S x K, as generate's routes.npy (S positions per row).
void compare_freqs(double *freq, const int32_t *routes, int R, int L, int S, int K, int E, int from, int to);

typedef struct {
    long pairs;                 // unordered pairs of this kind
    double overlap_mean, overlap_sd;   // Eq. 19 Jaccard of top-P sets: mean and sample sd
    double freqsim_mean;        // Eq. 14 cosine
} CompareStat;

// One layer: every unordered pair of the R rollouts, classified, with Eq. 19 at top_p and Eq. 14.
// stats: CMP_KINDS entries (a kind without pairs has pairs = 0 and NaN means). pair_fn, when not
// NULL, is called for every pair (a < b) with its kind and values (for the per-pair file).
typedef void (*ComparePairFn)(void *u, int a, int b, CompareKind kind, double overlap, double freqsim);
void compare_layer(CompareStat *stats, const double *freq_l, size_t stride, const RolloutId *ids, int R, int E,
                   double top_p, ComparePairFn pair_fn, void *u);

// Prompt → rollout tracking (the paper's Fig. 7): for pairs of prompts of one model (sample 0 of
// each), FreqSim (Eq. 14) of their expert-frequency vectors over the prompt plus the first n
// generated tokens, as n grows from 0 (the prompt alone).
typedef enum { TRACK_SAME_DOMAIN, TRACK_CROSS_DOMAIN, TRACK_KINDS } TrackKind;
extern const char *const track_kind_names[TRACK_KINDS];
typedef struct { long pairs; double sum, sumsq; } TrackStat;
// routes: P x L x S x K (one rollout per prompt), domain: P (-1 unknown: such pairs count as
// cross_domain only when the domains differ and are known; unknown ones go to cross_domain).
// For each j < nn, n = ns[j]: stats[j * TRACK_KINDS + kind] accumulates the pairs' FreqSim at
// `layer`. fs_prompt / fs_full (P(P-1)/2 each, may be NULL) receive each pair's FreqSim at ns[0]
// and at ns[nn-1], pairs in order (0,1), (0,2), ..., (1,2), ...
void compare_track(TrackStat *stats, double *fs_prompt, double *fs_full, const int32_t *routes, const int *domain,
                   int P, int L, int S, int K, int E, int prompt_len, int layer, const int *ns, int nn);

// Eqs. 15-16 per rollout and layer, over the prompt alone and over the prompt with its rollout
// (the paper's Fig. 14): pool[((r L + l) 2 + w) D + j], w = 0 for positions [0, prompt_len),
// w = 1 for [0, S); each token normalized, h / (|h| + eps), then the mean over the positions.
// hidden: R x L x S x D (route_tokens' router inputs). The pooled cosine of two rollouts (Eq. 17)
// is metrics_cosine of their pools.
void compare_pool(double *pool, const float *hidden, int R, int L, int S, int D, int prompt_len);

typedef struct {
    int ndirs;
    const char *const *dirs;    // GEN_DIR... (each one model)
    const char *out;            // --out DIR
    double top_p;               // --top-p P in (0, 1] (default 0.8, as the paper's Fig. 6; the
                                // command line's option table checks the range)
    int include_prompt;         // --include-prompt
    int experts;                // E (0: generate.json's "experts", else 1 + the largest expert seen;
                                // unused trailing experts change neither measure)
    // --route-with: when set, every folder's tokens are routed afresh by one analyzer model (as
    // the paper reads all models' solutions with one MoE, §5.1), instead of using each generating
    // model's own routes.npy. route() allocates *routes (rows x L x len x K) and *hidden (rows x
    // L x len x D: the analyzer's router inputs, for the pooled cosine of Fig. 14), and sets the
    // analyzer's L, K, E and D; returns 0, or -1 with err.
    int (*route)(void *ctx, const int32_t *tokens, int rows, int len, int32_t **routes, float **hidden, int *L, int *K,
                 int *E, int *D, char *err, size_t errlen);
    void *route_ctx;
} CompareArgs;

// Reads every GEN_DIR (generate.json, routes.npy, tokens.npy), checks they share their prompts,
// layers, top-k and lengths, and writes OUT/compare.csv (layer,kind,pairs,overlap_mean,
// overlap_sd,freqsim_mean), OUT/compare_pairs.csv (one row per pair and layer), and the Fig. 7
// tracking of each model's prompts: OUT/track.csv (model,layer,kind,n,pairs,freqsim_mean,
// freqsim_sd) and OUT/track_pairs.csv (model,layer,prompt_a,prompt_b,kind,freqsim_prompt,
// freqsim_full,pooled_prompt,pooled_full: FreqSim at n = 0 and at the full rollout; Eq. 17's
// pooled cosine of the analyzer's router inputs over the prompt alone and over prompt + rollout,
// Fig. 14, nan without route()). Input problems
// return 2 before anything is written; a failed write returns 1. The message, naming the file,
// goes to err.
int compare_dirs(const CompareArgs *a, char *err, size_t errlen);

#endif
