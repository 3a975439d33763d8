// compare.h — expert usage compared across rollouts of several models (the paper's §5, Figs. 6
// and 25): `moesim compare`. A model is one `moesim generate` output folder (one run), a question
// is one of the prompts they share, a solution is one sampled rollout. The unit is the rollout
// (model, prompt, sample): per layer, its expert-frequency vector (Eq. 13) over the generated
// tokens (prompt tokens too with --include-prompt). Every unordered pair of rollouts is one of
// four kinds, and per layer and kind we report the mean top-P overlap (Eq. 19's Jaccard of the
// top-P sets, Eq. 18) and the mean FreqSim (Eq. 14, the cosine of the frequency vectors).
//
// The pure part (compare_freqs, compare_kind, compare_layer, compare_pool, compare_track) works on
// arrays and lives in measure/rollouts.h; compare_dirs reads the folders (io.h) and writes
// compare.csv, compare_pairs.csv and the tracking files.
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include "../measure/rollouts.h"

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
