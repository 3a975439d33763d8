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
// Tokens are split into consecutive sequences of T (the last one may be shorter). The paper
// defines most measurements on one sequence of T tokens and reports their mean over sequences
// (16 in its figures); "per sequence ... mean over sequences" below means exactly that, each
// sequence weighted equally. Proposition 1 and the keys marked "all N states" use the whole set.
//
// Everything accumulates in double in a fixed order, so results are bitwise reproducible; the
// only randomness is the sampling of token pairs and sequence pairs, drawn from the Rng the
// caller passes (same seed, same pairs). metrics_layer works in one scratch block the caller sizes
// once (MetricsScratch); the single measurements allocate their small scratch and free it before
// returning. Nothing here prints or exits.
//
// Conventions: a value that does not apply (no domains given, fewer than two sequences, a zero
// denominator) is NaN in LayerMetrics and `null` in JSON. Cosine with a zero vector is 0. The
// single-measurement functions below also return NaN if their small scratch allocation fails;
// metrics_layer reports such a failure as -2.
#ifndef MOESIM_METRICS_H
#define MOESIM_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "../../nn/nn.h"

// ---- the scalar measurements of one layer: THE list (name, meaning) -----------------------------
// The order here is the order of CSV columns and JSON keys; the first fifteen names are read by
// other tools and must not change. Append new ones at the end.
#define METRICS_SCALARS(X) \
    X(router_confidence, "Eq. 12: per sequence, the mean over its tokens of the largest softmax probability of the logits; mean over sequences") \
    X(hamming_similarity, "Eq. 11: per sequence, the mean over token pairs i < j of m_i.m_j / E (experts both chose, over E); mean over sequences") \
    X(cosine_hidden, "Eq. 10: per sequence, the mean over token pairs i < j of cos(h_i, h_j); mean over sequences") \
    X(cosine_logits, "Eq. 10: per sequence, the mean over token pairs i < j of cos(z_i, z_j); mean over sequences") \
    X(energy_first, "Eq. 7 (l = rho = 1): per sequence, s1^2 / sum_j s_j^2 of its T x D matrix H (uncentred); mean over sequences") \
    X(retained_energy_first, "Eq. 8 for v1: per sequence, (1/T) sum_t |(P v1) o m_t|^2 / |P|_F^2, v1 of that sequence's H, m_t the chosen-expert mask; mean over sequences") \
    X(maxvio, "ours (Wang et al. 2024): max_i load_i / mean load - 1 over the evaluation set") \
    X(load_entropy, "ours: -sum_i q_i ln q_i, q_i = load_i / (N K) (nats)") \
    X(suppression_rho, "ours (Prop. 2): |Pi_E P v1| / |Pi_E P|_2, v1 the first right singular vector of all N states") \
    X(prop1_holds_fraction, "Prop. 1 / Eq. 4: fraction of sampled pairs satisfying the bound (relative slack 1e-5)") \
    X(topk_score_sum, "ours: per sequence, the mean over tokens of the sum of the K largest softmax probabilities; mean over sequences") \
    X(router_entropy, "ours: per sequence, the mean over tokens of the entropy of the softmax of the logits (nats); mean over sequences") \
    X(freqsim_cross_domain, "Eq. 14 on domains (ours): mean over domain pairs of the cosine of per-domain Eq. 13 frequency vectors") \
    X(jaccard_cross_domain, "Eq. 19 on domains (ours): mean over domain pairs of the top-P Jaccard of per-domain frequency vectors") \
    X(nmi_domain_expert, "ours: I(domain; expert) / min(H(domain), H(expert)), every one of the K choices a sample") \
    X(suppression_rho_mean, "ours: |Pi_E P m| / |Pi_E P|_2, m the unit mean direction of all N states") \
    X(energy_mean_dir, "ours (Eq. 7 for a fixed direction): sum_i (m.h_i)^2 / sum_i |h_i|^2 over all N states, m their unit mean direction") \
    X(prop1_tightness, "Prop. 1 / Eq. 4: mean over sampled pairs of lhs / rhs (1 = tight)") \
    X(rms_hidden_mean, "Eq. 5: mean RMS distance of hidden states over the sampled token pairs") \
    X(rms_logits_mean, "Eq. 5: mean RMS distance of logits over the sampled token pairs") \
    X(rms_corr, "ours (summary of the Eq. 5 scatter, Fig. 1): Pearson correlation of hidden-state and logit RMS distances over the sampled pairs") \
    X(freqsim_seq, "Eqs. 13-14: mean FreqSim (cosine of the frequency vectors) over sequence pairs") \
    X(pooled_cosine_seq, "Eqs. 15-17: mean over sequence pairs of the cosine of the pooled h_t / (|h_t| + eps), eps = 1e-8") \
    X(freqsim_pooled_corr, "ours (summary of the Eq. 14 vs 17 scatter, Fig. 5): Pearson correlation of FreqSim and pooled cosine over sequence pairs") \
    X(jaccard_seq, "Eqs. 18-19: mean top-P Jaccard of frequency vectors over sequence pairs") \
    X(token_specialization, "ours (OLMoE): count-weighted mean over token ids of max_e N(x,e)/N(x)") \
    X(token_context_freqsim, "ours (context dependence, paper Fig. 4): for token ids seen >= 2 times in each of >= 2 domains, mean over domain pairs of the cosine of their per-domain expert usage; averaged over ids") \
    X(token_context_jaccard, "ours: as token_context_freqsim with the top-P Jaccard (Eq. 19) of the per-domain usage") \
    X(resid_norm_mean, "ours: mean L2 norm of the residual-stream token vectors entering the router's RMSNorm") \
    X(resid_norm_cv, "ours (paper Fig. 11): coefficient of variation (sd / mean) of those token norms") \
    X(energy_dir2, "Eq. 7 (l = rho = 2): per sequence, s2^2 / sum_j s_j^2; mean over sequences") \
    X(energy_dir3, "Eq. 7 (l = rho = 3): per sequence, s3^2 / sum_j s_j^2; mean over sequences") \
    X(energy_top3, "Eq. 7 (l = 1, rho = 3): per sequence, (s1^2 + s2^2 + s3^2) / sum_j s_j^2; mean over sequences") \
    X(retained_energy_dir2, "Eq. 8 for v2: as retained_energy_first with the sequence's second right singular vector") \
    X(retained_energy_dir3, "Eq. 8 for v3: as retained_energy_first with the sequence's third right singular vector") \
    X(prop1_naive_tightness, "Eq. 20 / Fig. 13: mean over sampled pairs of |P d| / (|P|_2 |d|), d = h_i - h_j") \
    X(prop1_residual_ratio, "Fig. 13 (left): median over sampled pairs of |(I - Pi_r) d| / |Pi_r d|") \
    X(logit_norm_mean, "Fig. 29: per sequence, the mean over tokens of |z_t|; mean over sequences") \
    X(energy_first_wholeset, "ours (energy_first before issue 13): s1^2 / sum_j s_j^2 of one SVD of all N states") \
    X(retained_energy_centred, "ours (retained_energy_first before issue 13): (v1'Gv1) |Pi_E P v1|^2 / sum_i |Pi_E P h_i|^2 over all N states") \
    X(freqsim_seq_same_domain, "Fig. 5: freqsim_seq over the sequence pairs of one domain (a sequence's domain: its first token's)") \
    X(freqsim_seq_cross_domain, "Fig. 5: freqsim_seq over the sequence pairs of two different domains") \
    X(pooled_cosine_seq_same_domain, "Fig. 5: pooled_cosine_seq over the sequence pairs of one domain") \
    X(pooled_cosine_seq_cross_domain, "Fig. 5: pooled_cosine_seq over the sequence pairs of two different domains") \
    X(router_data_alignment, "Figs. 16-19 (left), Fig. 23: |P V_r|_F^2 / |P|_F^2, V_r the r = D/8 leading right singular vectors of all N states (r/D for a random P)") \
    X(data_energy_top_r, "Figs. 16-19 (right): sum of the r = D/8 largest s_k^2 over |H|_F^2, all N states (r/D for isotropic data)")

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
    int alignment;           // 1: router_data_alignment and data_energy_top_r (the D/8 leading
                             // directions: costly at large D); 0: both NaN (default 1)
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
    double *prop1_naive;     // pairs       ||P||_2 ||hi - hj|| (Eq. 20, the naive bound)
    int32_t *seq_pairs;      // sp x 2      the sequence pairs (a, b), a != b
    double *seq_freqsim;     // sp          Eq. 14
    double *seq_pooled_cos;  // sp          Eq. 17 (pooled h_t / (|h_t| + eps))
    double *seq_jaccard;     // sp          Eq. 19
    double *domain_freq;     // Dom x E     share of each domain's tokens that pick each expert
} MetricsArrays;

// Number of sequence pairs metrics_layer uses: min(S(S-1)/2, opt->seq_pairs), S = ceil(N/T).
size_t metrics_seq_pair_count(size_t N, int T, const MetricsOptions *opt);

// Checks sizes, pointers, finiteness of H, P, Z, ranges of topk/domain/token and the options.
// Returns 0, or -1 with a message naming the first problem in err (if err is not NULL).
int metrics_check(const LayerData *in, const MetricsOptions *opt, char *err, size_t errlen);

// The sizes metrics_layer's scratch depends on: metrics_shape(in, opt) takes them from a layer's
// inputs and options (n_domains is 0 when in->domain is NULL).
typedef struct {
    size_t N;                // tokens
    int D, E, T;             // hidden width, experts, tokens per sequence
    int n_domains;           // Dom, 0 without domain labels
    int pairs, seq_pairs;    // opt->pairs, opt->seq_pairs
    int prop1_rank;          // opt->prop1_rank
    int alignment;           // opt->alignment
} MetricsShape;
MetricsShape metrics_shape(const LayerData *in, const MetricsOptions *opt);

// One block of scratch for metrics_layer, sized once for a shape and reused for every call with
// that shape (or a smaller one): the trainer builds it at run setup, so no evaluation allocates
// its large buffers. metrics_scratch_bytes gives the size; metrics_scratch_init allocates it
// (0, or -2 if memory could not be allocated; base is then NULL); metrics_scratch_free frees it
// (safe on a zeroed or freed block).
typedef struct {
    void *base;
    size_t bytes;
} MetricsScratch;
size_t metrics_scratch_bytes(const MetricsShape *shape);
int metrics_scratch_init(MetricsScratch *s, const MetricsShape *shape);
void metrics_scratch_free(MetricsScratch *s);

// Every scalar of one layer, computed in the block `scratch` (at least metrics_scratch_bytes of
// metrics_shape(in, opt) bytes). Draws opt->pairs token pairs from rng, then (only if there are
// more sequence pairs than opt->seq_pairs) the sampled sequence pairs. The arrays the caller asks
// for in `arrays` (may be NULL) are copied out of the scratch at the end. Returns 0; -1 if
// metrics_check fails or the scratch is too small (message in err); -2 if memory could not be
// allocated (the single measurements' own small buffers). On failure *out is all NaN.
int metrics_layer(LayerMetrics *out, const MetricsArrays *arrays, const LayerData *in,
                  const MetricsOptions *opt, MetricsScratch *scratch, Rng *rng, char *err,
                  size_t errlen);

// The scalars as (name, meaning, value) in the fixed order of METRICS_SCALARS; any output array
// may be NULL, each has METRICS_NSCALARS entries. Returns METRICS_NSCALARS.
int metrics_list(const char **names, const char **help, double *values, const LayerMetrics *m);

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

// Eq. 8 for one sequence of n tokens and a unit direction v (D):
//   (1/n) sum_t |(P v) ⊙ m_t|^2 / |P|_F^2 = sum_e c_e (r_eᵀv)^2 / (n |P|_F^2),
// r_e the rows of P (E x D), c_e (E) the number of the sequence's tokens that chose expert e
// (sum_t m_t). NaN if n = 0 or P = 0.
double metrics_retained_energy(const float *P, const double *v, const size_t *count, size_t n,
                               int E, int D);

// Eqs. 7 and 8 per sequence: for each sequence of T rows of H (the last may be shorter) with
// nonzero energy, the SVD of its rows (linalg_svd_top, k = 3) gives
//   energy[j]   = s_{j+1}^2 / sum_i s_i^2        (Eq. 7 with l = rho = j + 1; 0 past the rank)
//   top3        = (s1^2 + s2^2 + s3^2) / sum_i s_i^2                       (l = 1, rho = 3)
//   retained[j] = Eq. 8 for v_{j+1} with that sequence's masks; a sequence whose v_{j+1} is
//                 undefined (rank <= j) is left out of retained[j] only.
// Each output is the mean over the sequences that define it (NaN if none). Returns 0, or -2 if
// memory could not be allocated.
typedef struct { double energy[3], top3, retained[3]; } SeqEnergy;
int metrics_seq_energy(SeqEnergy *out, const float *H, const float *P, const int32_t *topk,
                       size_t N, int D, int E, int K, int T);

// The measure that was retained_energy_first until issue 13, now `retained_energy_centred`
// (ours): share of the centred logit energy carried by the hidden states' component along the
// unit vector v over the whole set:
//   (vᵀGv) |Pi_E P v|^2 / sum_e (Pi_E P)_e G (Pi_E P)_eᵀ,   Pi_E = I - 11ᵀ/E.
// B = Pi_E P (E x D, double; see metrics_center_rows). NaN if the denominator is 0.
double metrics_retained_energy_centred(const double *G, const double *B, const double *v, int E, int D);

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

// Eq. 11: as Eq. 10 with pair similarity m_iᵀm_j / E, m the E-bit chosen-expert masks: the
// number of experts both tokens chose, over E (so K/E for identical choices, 0 for disjoint
// ones). Computed exactly from per-sequence expert counts c_e: sum_{i<j} m_iᵀm_j =
// sum_e c_e(c_e - 1)/2. NaN if no sequence has two rows.
double metrics_seq_hamming(const int32_t *topk, size_t N, int K, int E, int T);

// Softmax statistics of the logits, each the mean over a sequence's tokens, then the mean over
// sequences of T rows (Eq. 12 averages over one sequence's tokens): Eq. 12 router confidence
// (largest probability), sum of the K largest probabilities, entropy in nats. Any output may be
// NULL.
void metrics_softmax_stats(double *confidence, double *topk_sum, double *entropy,
                           const float *Z, size_t N, int E, int K, int T);

// Per sequence of T rows, the mean over its rows of |x_i| (X: N x d); mean over sequences
// (logit_norm_mean on the logits, paper Fig. 29). NaN if N = 0.
double metrics_seq_mean_norm(const float *X, size_t N, int d, int T);

// Eqs. 15-16: the pooled state of n rows, pool = (1/n) sum_t h_t / (|h_t| + eps) with
// eps = METRICS_POOL_EPS (the paper: "a small constant for numerical stability", no value
// given). A zero row adds 0.
#define METRICS_POOL_EPS 1e-8
void metrics_pool(double *pool, const float *H, size_t n, int D);   // pool: D

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

// Median of n values (mean of the middle two for even n); values are reordered. NaN if n = 0.
double metrics_median(double *x, size_t n);

// Proposition 1 (Eq. 4) and the naive bound (Eq. 20) on given pairs: for each pair (i, j),
// d = h_i - h_j,
//   lhs = |P d|,  rhs = |P Pi_r|_2 |Pi_r d| + |P (I - Pi_r) d|,  Pi_r = V_r V_rᵀ,
//   naive = |P|_2 |d|,
// V (D x D, column k the k-th right singular vector of H, as from linalg_svd_right), r columns
// used. Summaries:
//   holds_fraction   share of pairs with lhs <= rhs (1 + slack);
//   tightness        mean of lhs / rhs over pairs with rhs > 0;
//   naive_tightness  mean of lhs / naive over pairs with naive > 0 (Fig. 13, right);
//   residual_ratio   median of |(I - Pi_r) d| / |Pi_r d| over pairs with d != 0 (Fig. 13, left;
//                    +inf for a d orthogonal to the subspace, which the median tolerates).
// A summary with no pair to average is NaN. lhs, rhs, naive (M each) may be NULL. Returns 0,
// -2 on allocation failure.
typedef struct { double holds_fraction, tightness, naive_tightness, residual_ratio; } Prop1Summary;
int metrics_prop1(Prop1Summary *out, double *lhs, double *rhs, double *naive,
                  const float *H, const float *P, const double *V, const int32_t *pairs, int M,
                  int D, int E, int r, double slack);
// The same with V's leading dimension given: V[a*ldv + k] (D x ldv, r <= ldv columns used), so
// only the r leading directions need to exist (metrics_layer passes D x r).
int metrics_prop1_ld(Prop1Summary *out, double *lhs, double *rhs, double *naive,
                     const float *H, const float *P, const double *V, size_t ldv, const int32_t *pairs,
                     int M, int D, int E, int r, double slack);

#endif
