// metrics.h — the measurements of one MoE layer on an evaluation set, as pure functions over
// arrays. They never run a model: the caller hands over what one forward pass cached.
// docs/METRICS.md gives every formula, its source (arXiv 2604.09780 Appendix A equation numbers,
// or the cited paper) and the choices made where the source is silent.
//
// Inputs for one layer, all row-major (dimension letters as in nn/nn.h; Dom = number of domains):
//   H     N x D  float   hidden states entering the router (the router input u)
//   P     E x D  float   router weights, logits z = P·h
//   Z     N x E  float   router logits of the same tokens
//   topk  N x K  int32   chosen experts of each token (distinct within a row; order irrelevant
//                        except where noted)
//   domain  N    int32   optional domain label in [0, Dom) of each token (NULL: none)
//   token   N    int32   optional token id (>= 0) of each token (NULL: none)
// Tokens are split into consecutive sequences of T (the last one may be shorter).
//
// Everything accumulates in double in a fixed order, so results are bitwise reproducible; the
// only randomness is the sampling of token pairs and sequence pairs, drawn from the Rng the
// caller passes (same seed, same pairs). Functions that need scratch allocate it and free it
// before returning. Nothing here prints or exits.
//
// Conventions: a value that does not apply (no domains given, fewer than two sequences, a zero
// denominator) is NaN in LayerMetrics and `null` in JSON. Cosine with a zero vector is 0. The
// single-measurement functions below also return NaN if their small scratch allocation fails;
// metrics_layer reports a failed allocation of its own (large) buffers as -2.
#ifndef MOESIM_METRICS_H
#define MOESIM_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../../nn/nn.h"

// ---- the scalar measurements of one layer: THE list (name, meaning) -----------------------------
// The order here is the order of CSV columns and JSON keys; the first fifteen names are read by
// other tools and must not change. Append new ones at the end.
#define METRICS_SCALARS(X) \
    X(router_confidence, "Eq. 12: mean over tokens of the largest softmax probability of the logits") \
    X(hamming_similarity, "Eq. 11: mean over sequences of the mean over token pairs of 1 - Hamming(mask_i, mask_j)/E of the chosen-expert masks") \
    X(cosine_hidden, "Eq. 10: mean over sequences of the mean pairwise cosine of hidden states") \
    X(cosine_logits, "Eq. 10: mean over sequences of the mean pairwise cosine of router logits") \
    X(energy_first, "Eq. 7 (l = rho = 1): s1^2 / sum_k s_k^2 for the uncentred hidden states") \
    X(retained_energy_first, "Eq. 8 for v1: share of the centred logit energy carried by the hidden states' v1 component") \
    X(maxvio, "max_i load_i / mean load - 1 over the evaluation set (Wang et al. 2024)") \
    X(load_entropy, "-sum_i q_i ln q_i, q_i = load_i / (N K) (nats)") \
    X(suppression_rho, "||Pi_E P v1|| / ||Pi_E P||_2, v1 the first right singular vector of H") \
    X(prop1_holds_fraction, "Proposition 1: fraction of sampled pairs satisfying the bound (relative slack 1e-5)") \
    X(topk_score_sum, "mean over tokens of the sum of the K largest softmax probabilities") \
    X(router_entropy, "mean over tokens of the entropy of the softmax of the logits (nats)") \
    X(freqsim_cross_domain, "mean over domain pairs of Eq. 14 (cosine) of per-domain expert-frequency vectors") \
    X(jaccard_cross_domain, "mean over domain pairs of Eq. 19 (top-P Jaccard) of per-domain frequency vectors") \
    X(nmi_domain_expert, "I(domain; expert) / min(H(domain), H(expert)), every one of the K choices a sample") \
    X(suppression_rho_mean, "||Pi_E P m|| / ||Pi_E P||_2, m the unit mean direction of H") \
    X(energy_mean_dir, "Eq. 7 for the unit mean direction m: sum_i (m.h_i)^2 / sum_i |h_i|^2") \
    X(prop1_tightness, "Proposition 1: mean over sampled pairs of lhs / rhs (1 = tight)") \
    X(rms_hidden_mean, "Eq. 5: mean RMS distance of hidden states over the sampled token pairs") \
    X(rms_logits_mean, "Eq. 5: mean RMS distance of logits over the sampled token pairs") \
    X(rms_corr, "Pearson correlation of hidden-state and logit RMS distances over the sampled pairs") \
    X(freqsim_seq, "Eq. 14: mean FreqSim (cosine of Eq. 13 frequency vectors) over sequence pairs") \
    X(pooled_cosine_seq, "Eqs. 15-17: mean cosine of mean-pooled hidden states over sequence pairs") \
    X(freqsim_pooled_corr, "Pearson correlation of FreqSim and pooled hidden-state cosine over sequence pairs") \
    X(jaccard_seq, "Eqs. 18-19: mean top-P Jaccard of frequency vectors over sequence pairs") \
    X(token_specialization, "OLMoE vocabulary specialization: count-weighted mean over token ids of max_e N(x,e)/N(x)") \
    X(token_context_freqsim, "context dependence (paper Fig. 4): for token ids seen >= 2 times in each of >= 2 domains, mean over domain pairs of the cosine of their per-domain expert usage; averaged over ids") \
    X(token_context_jaccard, "as token_context_freqsim with the top-P Jaccard (Eq. 19) of the per-domain usage") \
    X(resid_norm_mean, "mean L2 norm of the residual-stream token vectors entering the router's RMSNorm") \
    X(resid_norm_cv, "coefficient of variation (sd / mean) of those token norms (paper Fig. 11)")

typedef struct {
#define METRICS_FIELD_(name, help) double name;
    METRICS_SCALARS(METRICS_FIELD_)
#undef METRICS_FIELD_
} LayerMetrics;

#define METRICS_COUNT_(name, help) +1
enum { METRICS_NSCALARS = 0 METRICS_SCALARS(METRICS_COUNT_) };
#undef METRICS_COUNT_

// One layer's evaluation data (pointers are borrowed, never freed here).
typedef struct {
    size_t N;                // tokens (2 <= N <= INT32_MAX)
    int D, E, K;             // hidden width, experts, experts per token (1 <= K <= E)
    int T;                   // tokens per sequence (>= 1); sequences are consecutive rows
    const float *H;          // N x D
    const float *P;          // E x D
    const float *Z;          // N x E
    const int32_t *topk;     // N x K
    const int32_t *domain;   // N, or NULL
    int n_domains;           // Dom (>= 1 when domain is given)
    const int32_t *token;    // N, or NULL
    const float *resid_norm; // N norms of the residual stream before the router's norm, or NULL
} LayerData;

typedef struct {
    int pairs;               // token pairs sampled for Eq. 5 and Proposition 1 (default 2048)
    int seq_pairs;           // cap on sequence pairs for Eqs. 14-19; all pairs if fewer (4096)
    double top_p;            // P of Eq. 18 (default 0.8), in (0, 1]
    int prop1_rank;          // r of Proposition 1: Pi_r from the top-r right singular vectors (1)
    double prop1_slack;      // relative slack of the Proposition 1 check (default 1e-5)
} MetricsOptions;

void metrics_default_options(MetricsOptions *opt);

// Optional array outputs of metrics_layer (any pointer may be NULL; the struct itself too).
// Sizes: opt->pairs for the token-pair arrays; metrics_seq_pair_count() for the sequence-pair
// arrays; n_domains x E for domain_freq.
typedef struct {
    int32_t *pairs;          // pairs x 2   the sampled token pairs (i, j), i != j
    double *rms_hidden;      // pairs       Eq. 5 on rows of H (scatter plot x)
    double *rms_logits;      // pairs       Eq. 5 on rows of Z (scatter plot y)
    double *prop1_lhs;       // pairs       ||P(hi - hj)||
    double *prop1_rhs;       // pairs       ||P Pi_r||_2 ||Pi_r(hi - hj)|| + ||P(I - Pi_r)(hi - hj)||
    int32_t *seq_pairs;      // sp x 2      the sequence pairs (a, b), a != b
    double *seq_freqsim;     // sp          Eq. 14
    double *seq_pooled_cos;  // sp          Eq. 17
    double *seq_jaccard;     // sp          Eq. 19
    double *domain_freq;     // Dom x E     share of each domain's tokens that pick each expert
} MetricsArrays;

// Number of sequence pairs metrics_layer uses: min(S(S-1)/2, opt->seq_pairs), S = ceil(N/T).
size_t metrics_seq_pair_count(size_t N, int T, const MetricsOptions *opt);

// Checks sizes, pointers, finiteness of H, P, Z, ranges of topk/domain/token and the options.
// Returns 0, or -1 with a message naming the first problem in err (if err is not NULL).
int metrics_check(const LayerData *in, const MetricsOptions *opt, char *err, size_t errlen);

// Every scalar of one layer. Draws opt->pairs token pairs from rng, then (only if there are more
// sequence pairs than opt->seq_pairs) the sampled sequence pairs. Returns 0; -1 if metrics_check
// fails (message in err); -2 if memory could not be allocated. On failure *out is all NaN.
int metrics_layer(LayerMetrics *out, const MetricsArrays *arrays, const LayerData *in,
                  const MetricsOptions *opt, Rng *rng, char *err, size_t errlen);

// The scalars as (name, meaning, value) in the fixed order of METRICS_SCALARS; any output array
// may be NULL, each has METRICS_NSCALARS entries. Returns METRICS_NSCALARS.
int metrics_list(const char **names, const char **help, double *values, const LayerMetrics *m);

// Writes the scalars as JSON members, one per line: `<indent>"name": value`, separated by
// ",\n", no braces and no trailing comma (the caller wraps them in an object). Finite values use
// %.17g (round-trip exact), NaN/Inf are written as null. Returns 0, or -1 on a write error.
int metrics_write_json(FILE *f, const LayerMetrics *m, const char *indent);

// ---- the single measurements (each usable alone; metrics_layer is built from them) -------------

// Eq. 5: RMS distance sqrt((1/d) sum_k (a_k - b_k)^2).
double metrics_rms(const float *a, const float *b, int d);

// M uniform token pairs (i, j), i != j, from [0, n): i = below(n), j = below(n-1), j += (j >= i).
void metrics_sample_pairs(int32_t *pairs, int M, size_t n, Rng *rng);   // pairs: M x 2

// Cosine of two double vectors; 0 if either is zero.
double metrics_cosine(const double *a, const double *b, int n);

// Pearson correlation of x and y (n values); NaN if n < 2 or either has zero variance.
double metrics_pearson(const double *x, const double *y, size_t n);

// Eq. 7: sum_i (v.h_i)^2 / sum_i |h_i|^2 = vᵀGv / tr(G) from the Gram matrix G = HᵀH (D x D) and
// a unit vector v. With v = v1 this is s1^2 / sum_k s_k^2.
double metrics_directional_energy(const double *G, const double *v, int D);

// Eq. 8 (our reading, see docs/METRICS.md): share of the centred logit energy carried by the
// hidden states' component along the unit vector v:
//   (vᵀGv) |Pi_E P v|^2 / sum_e (Pi_E P)_e G (Pi_E P)_eᵀ,   Pi_E = I - 11ᵀ/E.
// B = Pi_E P (E x D, double; see metrics_center_rows). NaN if the denominator is 0.
double metrics_retained_energy(const double *G, const double *B, const double *v, int E, int D);

// B = Pi_E P: subtract from each column of P (E x D) its mean over the E rows.
void metrics_center_rows(double *B, const float *P, int E, int D);

// Shared-direction suppression rho = |B v| / |B|_2 with B = Pi_E P and v a unit vector; NaN if
// |B|_2 = 0 (all router rows equal). Returns -1 on allocation failure.
double metrics_suppression(const double *B, const double *v, int E, int D);

// Eq. 10: for each sequence of T rows (the last may be shorter; sequences of one row are
// skipped), the mean over its row pairs i < j of cos(x_i, x_j); averaged over sequences with
// equal weight. Computed exactly in O(N d) as (|sum_i x̂_i|^2 - #nonzero rows) / (n(n-1)).
// NaN if no sequence has two rows.
double metrics_seq_cosine(const float *X, size_t N, int d, int T);

// Eq. 11: as Eq. 10 with pair similarity 1 - Hamming(m_i, m_j)/E of the E-bit chosen-expert
// masks. Computed exactly from per-sequence expert counts c_e: sum_{i<j} |S_i ∩ S_j| =
// sum_e c_e(c_e - 1)/2 and Hamming = 2(K - |S_i ∩ S_j|). NaN if no sequence has two rows.
double metrics_seq_hamming(const int32_t *topk, size_t N, int K, int E, int T);

// Softmax statistics of the logits, averaged over tokens: Eq. 12 router confidence (largest
// probability), sum of the K largest probabilities, entropy in nats. Any output may be NULL.
void metrics_softmax_stats(double *confidence, double *topk_sum, double *entropy,
                           const float *Z, size_t N, int E, int K);

// Balance of the chosen experts: load_e = number of (token, k) choices of e;
// maxvio = max_e load_e / (N K / E) - 1; entropy = -sum q_e ln q_e, q_e = load_e / (N K).
void metrics_balance(double *maxvio, double *entropy, const int32_t *topk, size_t N, int K, int E);

// Eq. 13: expert-frequency vector of rows [0, n): f_e = #(token, k) choices of e / (n K), sums to 1.
void metrics_freq(double *f, const int32_t *topk, size_t n, int K, int E);   // f: E

// Eq. 18: the top-P set of a frequency vector f (sums to 1): experts sorted by decreasing f
// (ties: lower index first), the shortest prefix whose sum reaches P (within 1e-12). in_set: E
// flags. Returns the set size.
int metrics_top_p_set(uint8_t *in_set, const double *f, int E, double P);

// Eq. 19: Jaccard |A ∩ B| / |A ∪ B| of the top-P sets of fa and fb (1 if both sets are empty).
double metrics_jaccard(const double *fa, const double *fb, int E, double P);

// Domain x expert selection frequency (Qiu et al. 2025): M[d][e] = share of domain d's tokens
// whose K choices include e (each row sums to K; 0 for a domain without tokens). count (Dom,
// may be NULL) receives the tokens per domain.
void metrics_domain_freq(double *M, size_t *count, const int32_t *topk, const int32_t *domain,
                         size_t N, int K, int E, int Dom);

// NMI between domain and chosen expert, every (token, k) choice one sample of the pair:
// I(D; X) / min(H(D), H(X)) in nats; 0 if min(H(D), H(X)) = 0.
double metrics_nmi(const int32_t *topk, const int32_t *domain, size_t N, int K, int E, int Dom);

// Mean over pairs of domains that have tokens of Eq. 14 (FreqSim) and Eq. 19 (top-P Jaccard) of
// the per-domain frequency vectors M[d]/K (M from metrics_domain_freq). NaN if fewer than two
// domains have tokens. Either output may be NULL.
void metrics_cross_domain(double *freqsim, double *jaccard, const double *M, const size_t *count,
                          int Dom, int E, int K, double P);

// Token-ID specialization (OLMoE, Muennighoff et al. 2024, vocabulary specialization
// N(x, e)/N(x)): for each token id x, the largest over experts e of the share of x's occurrences
// whose K choices include e; averaged over ids weighted by occurrences. Returns -1 on allocation
// failure.
double metrics_token_specialization(const int32_t *topk, const int32_t *token, size_t N, int K, int E);

// Context dependence of a token's routing (the paper's Fig. 4): for each token id, its expert
// usage counted separately in each domain; ids that occur at least twice in at least two domains
// contribute the mean over those domain pairs of the cosine (freqsim) and of the top-P Jaccard
// (jaccard, Eq. 19) of the usage vectors; both are averaged over the contributing ids (NaN if
// none). Returns -1 on allocation failure, 0 otherwise.
int metrics_token_context(double *freqsim, double *jaccard, const int32_t *topk, const int32_t *token,
                          const int32_t *domain, size_t N, int K, int E, int Dom, double P);

// Expert removal (DeepSeekMoE): for each token, mask its top m = round(r E) experts by score
// (decreasing score, ties: lower index) and re-pick the top K of the rest (same order). topk_out:
// N x K, by decreasing score; masked (N x E flags, may be NULL) marks the m masked experts. Pass
// the scores the model selects by (logits, or scores + bias). Returns 0, or -1 if r is outside
// [0, 1] or m + K > E.
int metrics_mask_topk(int32_t *topk_out, uint8_t *masked, const float *score, size_t N, int E,
                      int K, double r);

// Proposition 1 on given pairs: for each pair (i, j), d = h_i - h_j,
//   lhs = |P d|,  rhs = |P Pi_r|_2 |Pi_r d| + |P (I - Pi_r) d|,  Pi_r = V_r V_rᵀ,
// V (D x D, column k the k-th right singular vector of H, as from linalg_svd_right), r columns
// used. holds_fraction: share of pairs with lhs <= rhs (1 + slack); tightness: mean of lhs / rhs
// over pairs with rhs > 0 (NaN if none). lhs, rhs (M each) may be NULL. Returns 0, -2 on
// allocation failure.
int metrics_prop1(double *holds_fraction, double *tightness, double *lhs, double *rhs,
                  const float *H, const float *P, const double *V, const int32_t *pairs, int M,
                  int D, int E, int r, double slack);

#endif
