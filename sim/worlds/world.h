// world.h — the data worlds: latent-domain Markov chains (domains), router-only hidden
// states (geometry), a deterministic sanity task (cyclic) and real text read from files (text). docs/WORLDS.md describes each world,
// its knobs and the evaluation set.
//
// The interface does not know the config parser: the caller fills a WorldSpec (each field names
// the config key it comes from), world_build allocates everything once, and the samplers write
// into caller-owned arrays without allocating.
//
// Randomness. Everything that defines the world (chains, centres) and the evaluation set comes
// from data.seed through the streams below, so every run of an experiment, whatever its
// train.seed, sees the same world and is measured on the same data. Training batches come from
// the caller's Rng (derived from train.seed). Other code must not seed these stream ids from
// data.seed, or its numbers would repeat the world's.
#ifndef MOESIM_WORLD_H
#define MOESIM_WORLD_H

#include <stddef.h>
#include <stdint.h>
#include "fail.h"
#include "../../nn/nn.h"
#include "../config/schema.h"  // WORLD_DOMAINS|GEOMETRY|CYCLIC|TEXT, MIX_*, TASK_*, TRANSFORM_* (config order)
#include "corpus.h"

#define WORLD_STREAM_TABLES  0x574F524C44000001ull  // "WORLD": chains, centres, mu
#define WORLD_STREAM_EVAL    0x4556414C00000000ull  // "EVAL" + d: domain d's evaluation sequences
#define WORLD_STREAM_SHUFFLE 0x5348554600000000ull  // "SHUF" + d: domain d's shuffle transform

typedef struct {
    int kind;             // data.world: WORLD_DOMAINS | WORLD_GEOMETRY | WORLD_CYCLIC | WORLD_TEXT
    int V;                // model.vocab (token worlds)
    int T;                // model.seq_len; a sequence holds T+1 tokens (inputs and targets)
    int domains;          // data.domains (geometry: clusters K)
    int mix;              // data.mix: MIX_MIXED | MIX_HOMOGENEOUS (token worlds)
    uint64_t seed;        // data.seed
    // domains world
    int shared_vocab;     // data.shared_vocab: tokens [0, shared_vocab) common to all domains
    double shared_prob;   // data.shared_prob: P(a successor slot points into the shared block)
    int branching;        // data.branching: successor slots per chain state
    double zipf;          // data.zipf: slot j has weight ∝ 1/(j+1)^zipf
    int order;            // data.order: 1 or 2
    // text world (corpus.h)
    cfg_STRS corpus;      // data.corpus: "name=path" entries
    cfg_STRS exclude;     // data.exclude: file-name patterns left out
    char separator[CFG_STR_MAX];  // data.separator: the line that ends a document ("": one file, one document)
    // training sequences (token worlds)
    double repeat_prob;   // data.repeat_prob: P(a training sequence becomes a copy sequence); 0: off
    int repeat_len;       // data.repeat_len: m, the copy sequence's first m tokens repeated (2 <= m <= T)
    // geometry world
    int D;                // model.d_model: width of the hidden states
    double shared_norm;   // data.shared_norm: ‖mu‖
    double cluster_norm;  // data.cluster_norm: ‖c_k‖
    double noise;         // data.noise: standard deviation of xi
    int task;             // data.task: TASK_NONE | TASK_CLUSTER
    int E;                // model.experts: cluster k's target expert is k mod E
    // evaluation set
    int eval_sequences;   // eval.sequences: sequences per domain (geometry: points per cluster)
    int eval_duplicate;   // eval.duplicate: n >= 1, the repeat count
    int eval_content;     // eval.duplicate_content: m = 0: the first ceil((T+1)/n) tokens repeated to
                          // fill T+1 tokens; m >= 2: the first m tokens repeated (n*m <= T), measured
                          // on copy n
    int eval_transform;   // eval.transform: TRANSFORM_NONE | TRANSFORM_REVERSE | TRANSFORM_SHUFFLE
} WorldSpec;

typedef struct {
    WorldSpec spec;
    int domains;          // latent domains of the labels: domains / cyclic blocks / geometry clusters
    int L;                // tokens per sequence, T+1
    // domains world. Token blocks: shared [0, S); domain d's private block [S + d*P, S + (d+1)*P);
    // the (V - S) mod domains leftover tokens at the top of the vocabulary are never emitted.
    int S, P;             // shared block size, private block size
    int A;                // S + P tokens a domain can emit ("alphabet"), local ids 0..A-1
    int states;           // chain states per domain: A (order 1) or A*A (order 2)
    int32_t *succ;        // domains x states x branching   successor token of each slot (distinct
                          //                                 within a state)
    double *slot_w;       // branching   normalized Zipf weight of slot j (same for every state)
    double *alias_p;      // branching   alias table over slot_w: keep j if u < alias_p[j] ...
    int32_t *alias_j;     // branching   ... else take alias_j[j]
    // cyclic world: domain d cycles through its block [d*period, (d+1)*period)
    int period;
    // text world: the corpus, and the baselines' tables fit on its training streams (text.c)
    TextCorpus *text;
    double *uni_logp;     // 256        log p(b), add-one smoothed
    double *bi_logp;      // 256 x 256  log p(b | a), add-one smoothed
    // geometry world
    float *mu;            // D       shared direction, norm shared_norm
    float *centres;       // K x D   cluster centres c_k, norm cluster_norm each
} World;

// Checks the spec and allocates everything once. Returns 0, or -1 with err naming the config key
// that makes the world impossible (the World is then empty; world_free on it is safe).
int world_build(World *w, const WorldSpec *spec, char *err, size_t errlen);
void world_free(World *w);
// The bytes world_build allocates for spec (the chains, or the geometry's directions), without
// allocating them (sim/train/memory.c's estimate).
double world_bytes(const WorldSpec *spec);

// ---- token worlds (domains, cyclic) ---------------------------------------------------------
// One training batch of B sequences from rng. data.mix = mixed: every sequence draws its domain
// uniformly; homogeneous: each micro-batch (consecutive slices of `micro` sequences; micro <= 0
// means the whole batch; a last partial slice is its own group) draws one domain for all of its
// sequences. With data.repeat_prob = p > 0, after each sequence is drawn one uniform u from rng
// decides: u < p makes it a copy sequence, its first data.repeat_len tokens repeated to fill T+1
// (world_repeat), so a model can learn to copy; p = 0 draws nothing (the batches of before the
// key). Returns 0, or -1 for the geometry world.
int world_train_batch(const World *w, Rng *rng, int B, int micro,
                      int32_t *tokens /* B x (T+1) */, int32_t *domain /* B */);

// One sequence of domain d from rng (no mix, no transform).
void world_sample_sequence(const World *w, Rng *rng, int d, int32_t *x /* T+1 */);

// Evaluation set: eval.sequences per domain, domain-major (domain 0's first), each domain drawn
// from its own stream of data.seed, then duplicated (eval.duplicate, or world_repeat with
// eval.duplicate_content) and transformed (eval.transform). Every call returns the same set.
// world_eval_count is its size in sequences (geometry: points).
int world_eval_count(const World *w);
int world_eval_set(const World *w, int32_t *tokens /* M x (T+1) */, int32_t *domain /* M */);

// The positions of every evaluation sequence that are measured: [*from, *from + *len). Without
// eval.duplicate_content all T inputs (0, T); with m = eval.duplicate_content and n =
// eval.duplicate, the last of the n whole copies ((n-1)*m, m). The positions after copy n hold
// further copies that nothing measured reads (attention is causal; routing is per token). Its
// next-token loss covers the m - 1 predictions inside that copy: inputs from .. from+len-2.
void world_eval_window(const World *w, int *from, int *len);

// The evaluation transforms on one sequence of L tokens, in place; exposed for tests and tools.
// duplicate: m = ceil(L/n); x[i] = x[i mod m]: the first m tokens repeated, the last copy cut at L
// (exactly n copies when n divides L). reverse: x reversed. shuffle: a uniform permutation.
void world_duplicate(int32_t *x /* L */, int L, int n);
// The paper's duplication: x[i] = x[i mod m] for all i < L, the first m tokens (the content)
// repeated whole, however many copies L holds (the last may be cut at L). m >= L: unchanged.
void world_repeat(int32_t *x /* L */, int L, int m);
void world_reverse(int32_t *x /* L */, int L);
void world_shuffle(int32_t *x /* L */, int L, Rng *rng);

// ---- the domains world's exact statistics (for tests and metrics) --------------------------
// Token's block: d for domain d's private block, -1 for the shared block, -2 for a leftover token
// no domain emits (also answers for the cyclic world, whose blocks are all private).
int world_token_owner(const World *w, int tok);
// Domain d's tokens, ascending (shared block then private block); returns their count A.
int world_domain_tokens(const World *w, int d, int32_t *out /* A */);
// Probability that a sequence of domain d starts with tok (uniform over the private block).
double world_start_prob(const World *w, int d, int tok);
// Exact P(next = to | previous token from) of domain d; 0 if `from` is not a token of d; -1 (not a
// probability) unless this is an order-1 domains world and d a valid domain.
double world_transition(const World *w, int d, int from, int to);
// Order 2: P(next = to | tokens a then b), -1 unless an order-2 domains world. The second token of
// a sequence is drawn from the context (x0, x0).
double world_transition2(const World *w, int d, int a, int b, int to);

// ---- text world ---------------------------------------------------------------------------------
// The byte unigram and bigram cross-entropies (nats per byte; add-one smoothed tables fit on the
// training streams, text.c) of the evaluation set's predictions: for each sequence s of tokens
// (M x (T+1), domain[s]), the targets x[t+1] for t = from .. from+npred-1. uni[d], bi[d] for each
// domain d, and uni[domains], bi[domains] over all. Returns 0, or -1 unless a text world.
int world_text_baselines(const World *w, const int32_t *tokens /* M x (T+1) */, const int32_t *domain /* M */,
                         int M, int from, int npred, double *uni /* domains + 1 */, double *bi /* domains + 1 */);

// ---- geometry world -------------------------------------------------------------------------
// N hidden states h = mu + c_k + xi, the cluster k uniform per point, xi ~ N(0, noise² I).
// target = k mod E (task cluster) or -1 (task none). Returns 0, or -1 for a token world.
int world_train_hidden(const World *w, Rng *rng, int N, float *h /* N x D */,
                       int32_t *target /* N */, int32_t *cluster /* N */);
// Its evaluation set: eval.sequences points per cluster, cluster-major, from the eval streams.
int world_eval_hidden(const World *w, float *h /* M x D */, int32_t *target /* M */, int32_t *cluster /* M */);

// ---- internal: one file per world, dispatched by world.c ------------------------------------
// Each build checks its own knobs, then allocates; on error it returns -1 and world_build frees.
// The chains' successor slots: domains x states x branching (0 for a spec the build refuses).
size_t world_domains_slots(const WorldSpec *s);
int world_domains_build(World *w, char *err, size_t errlen);
void world_domains_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */);
int world_cyclic_build(World *w, char *err, size_t errlen);
void world_cyclic_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */);
int world_geometry_build(World *w, char *err, size_t errlen);
int world_text_build(World *w, char *err, size_t errlen);
void world_text_free(World *w);
void world_text_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */);       // training stream
void world_text_eval_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */);  // evaluation stream
double world_bytes_text(const WorldSpec *s);

#endif
