// model.h — the MoE decoder (and the router-only model) over one parameter table.
//
// Decoder, per sequence of T+1 tokens (inputs x[0..T-1], targets x[1..T]), see docs/MODEL.md:
//   h = wte[x_t] + wpe[t]
//   per block: h += Attn(RMSNorm(h; att_norm));  u = RMSNorm(h; moe_norm);  z = P·u;
//              s = softmax(z) | sigmoid(z);  top-K of s + bias;  h += Σ g_e·FFN_e(u) + Σ shared FFN(u)
//   logits = RMSNorm(h; final_norm)·headᵀ;  loss = mean CE + balancing terms.
// Router model: z = P·h for given hidden states h (one "layer"), loss = balancing (+ task CE).
// One block function (nn/block.c) serves model_forward and decoding with a KV cache (Decoder below).
//
// The whole optimizer-step batch goes through one pass. Micro-batches are consecutive slices of
// it and define the balancing groups; since nothing else couples sequences, this is exactly
// gradient accumulation with the gradient being the mean over all of the step's tokens.
#ifndef MOESIM_MODEL_H
#define MOESIM_MODEL_H

#include <stdint.h>
#include "nn.h"
#include "params.h"

// Choice enums: the order follows the choices strings of sim/config/schema.h (a unit test checks it).
enum { MODEL_DECODER, MODEL_ROUTER };
enum { SCORE_SOFTMAX, SCORE_SIGMOID };
enum { BAL_NONE, BAL_SWITCH, BAL_L2, BAL_AUXFREE };
enum { SCOPE_SEQUENCE, SCOPE_MICRO, SCOPE_GLOBAL, SCOPE_SHUFFLE };
enum { PSRC_FULL, PSRC_TOPK };
enum { BIAS_SIGN, BIAS_LINEAR };

typedef struct {
    int kind;                      // MODEL_DECODER | MODEL_ROUTER
    int V, D, L, H, attention, T;  // router kind: D = hidden width, L = 1, T = rows per "sequence"
    int E, K, F, S;
    int score, gate_norm;
    int max_batch;                 // largest B the model will be given; sizes the activation slab
    int bal_method, bal_scope, p_source;
    double alpha, z_alpha, seq_alpha;
    double bias_rate;
    int bias_update, bias_center;
} ModelSpec;

typedef struct {
    int B;                 // sequences in this batch (<= spec.max_batch)
    int micro;             // sequences per micro-batch; divides B
    const int32_t *tokens; // decoder: B x (T+1)
    const real *hidden;    // router: (B*T) x D hidden states
    const int32_t *target; // router: B*T target experts of the routing task, or NULL for none
    uint64_t shuffle_seed; // scope shuffle: seed of this step's random token subsets
} Batch;

// Loss pieces of one forward pass. The balancing values are raw (unweighted) sums over layers:
// loss = ce + alpha*aux + z_alpha*z + seq_alpha*seq_aux.
typedef struct {
    double loss, ce, aux, z, seq_aux;
} Losses;

// Per-block activation caches (pointers into the activation slab). Rows are tokens n = b*T + t.
typedef struct {
    real *h_in;       // N x D   residual stream entering the block
    real *att_a;      // N x D   RMSNorm(h_in; att_norm)
    real *att_rstd;   // N       1/rms of h_in
    real *qkv;        // N x 3D  q | k | v
    real *att_p;      // B x H x T x T causal softmax probabilities
    real *att_o;      // N x D   attention output before Wo (heads concatenated)
    real *h_mid;      // N x D   residual after attention (aliases h_in without attention)
    real *u;          // N x D   router input RMSNorm(h_mid; moe_norm) (the paper's LN(H))
    real *moe_rstd;   // N
    real *z;          // N x E   router logits
    real *s;          // N x E   scores (softmax or sigmoid)
    real *p;          // N x E   probabilities for balancing (softmax; sigmoid: s / Σ s)
    real *pb;         // N x E   P source of the switch loss: p, or the renormalized top-K probs
    int32_t *topk;    // N x K   chosen experts, by decreasing s + bias (ties: lower index)
    real *gate;       // N x K   gate weights
    int32_t *expert_start; // E+1 first dispatched row of each expert
    int32_t *row_token;    // N*K token of each dispatched row (grouped by expert, token order)
    int32_t *token_row;    // N x K dispatched row of (token, k)
    real *hpre;       // N*K x F expert pre-activation W1·u
    real *y;          // N*K x D expert outputs W2·hact (ungated)
    real *sh_hpre;    // S x N x F shared experts
    int32_t *load;    // E       tokens per expert over the whole batch
    double *bal_f, *bal_P;   // B x E group statistics of the switch / l2 loss
    double *seq_f, *seq_P;   // B x E per-sequence statistics of seq_aux
    double aux, zl, seq_aux, maxvio; // this layer's raw balancing terms and MaxVio_batch
    double *wsq;      // E        each routed expert's Σ dw1² + Σ dw2², written by model_backward
} BlockActs;

// Where each block's parameters sit in the table (-1: absent).
typedef struct { int att_norm, wqkv, wo, moe_norm, router, w1, w2, shared_w1, shared_w2; } BlockParams;

typedef struct {
    ModelSpec spec;
    ParamTable table;
    real *params, *grads;  // table.total each
    real *bias;            // L x E aux-free selection bias (state, no gradient)
    int i_wte, i_wpe, i_final_norm, i_head;  // table indices (-1: absent)
    BlockParams *bp;       // L
    BlockActs *blocks;     // L
    real *slab;            // every real-valued activation and scratch
    int32_t *islab;        // every integer activation
    double *dslab;         // balancing group statistics
    size_t slab_len, islab_len, dslab_len;
    // whole-model caches of the last forward
    int B;                 // sequences in the last forward
    int32_t *targets;      // N       next-token (decoder) or expert (router task) targets, -1: none
    real *h_final;         // N x D   residual after the last block
    real *f_norm;          // N x D   RMSNorm(h_final; final_norm)
    real *f_rstd;          // N
    real *logits;          // N x V   (router: N x E task probabilities live in probs)
    real *probs;           // N x V   softmax of logits (router: N x E)
    // scratch (forward and backward)
    real *wt;              // largest matrix: transposed weights for matmul_forward
    real *wt_experts;      // E x F x D: one transpose buffer per expert (experts run in parallel)
    real *tmp;             // N x D
    real *dh, *du, *da;    // N x D
    real *dqkv;            // N x 3D
    real *att_scratch;     // attention_scratch(B, T, D, H)
    real *dz, *ds, *dp, *dpb; // N x E
    real *dgate;           // N x K
    real *x_rows, *dy_rows, *dx_rows; // N*K x D
    real *dhid;            // max(N*K, N) x F: the experts' gelu(hpre) in the forward, their hidden gradient in the backward
    int32_t *perm;         // N (shuffle scope)
} Model;

// Evaluation switches of one forward, passed with the call (NULL: a plain forward, all zero).
// The model holds none of them: a forward depends only on its arguments.
typedef struct {
    int freeze_selection;   // 1: keep the top-K cached by the last forward (gradient checks, frozen routing)
    int mask_top;           // > 0: every token's mask_top best experts are removed before the top-K
                            // (expert-removal sensitivity)
    const uint8_t *allowed; // L x E, or NULL: expert e of layer l may be chosen iff allowed[l*E + e]
                            // (pruning, sim/run/prune.c; the caller owns it)
} ForwardSwitches;

// Builds the parameter table and allocates every array once. Returns 0, or -1 with err set.
int model_build(Model *m, const ModelSpec *spec, char *err, size_t errlen);
void model_free(Model *m);
// Normal(0, init_std) matrices and embeddings, gains 1, bias 0; embed_shared > 0 adds one common
// random direction of that norm to every token embedding. Deterministic in seed.
void model_init_params(Model *m, uint64_t seed, double init_std, double embed_shared);
// Zeroes every gradient except the routed experts' w1 and w2, which model_backward writes whole.
void model_zero_grads(Model *m);
// Forward over a batch: fills the caches and the loss. sw: evaluation switches, or NULL.
// Returns 0, or -1 if the batch is invalid.
int model_forward(Model *m, const Batch *b, const ForwardSwitches *sw, Losses *out);
// Backward of the last forward: adds d(loss)/d(params) into m->grads (the routed experts' w1 and
// w2 are written, not added: call model_zero_grads first, as the trainer does every step).
void model_backward(Model *m, const Batch *b);
// The global gradient norm √Σ g² right after model_backward: the routed experts' part comes from
// the sums their backward took in cache, the rest is read from m->grads. Equal to optim's
// grad_norm over the flat array up to rounding; the same bits for any thread count.
double model_grad_norm(const Model *m);
// Aux-free balancing: updates the bias from the loads of the last forward (after the step).
void model_update_bias(Model *m);

// ---- decoding with a KV cache (nn/decode.c) ---------------------------------------------------
// Up to R = spec.max_batch rows advance in lockstep through a window of positions 0..w-1 (w <= T,
// the positions the model learned). A prefill runs model_forward over each row's window and keeps
// every layer's keys and values; a step runs each row's next token alone at position w through
// the same block function as model_forward (nn/block.c), attending to the cached keys 0..w, with
// every matrix transposed once at build time (the same gemm calls, so the same bits as a forward
// over the whole window, up to the attention's summation order: tests/test_generate.c).
typedef struct {
    int R, T;              // rows, window (spec.T)
    real *wt;              // table.total: every matrix transposed (I x O) at its own offset
    real *kc, *vc;         // L x R x T x D   keys and values of each row's window
    int32_t *window;       // R x (T+1)       a prefill's windows, padded with token 0
    BlockActs *blocks;     // L               a step's activations on R rows (rows i = 0..nr-1)
    real *h_final, *f_norm, *f_rstd; // R x D, R x D, R
    real *logits;          // R x V           logits of each row's newest position
    real *att_s;           // R x H x T       attention probabilities of the newest position
    real *tmp, *x_rows, *hact;                // R x D, R*K x D, max(R*K, R) x F: block scratch
    int last_prefill;      // 1: the last call was a prefill (its routing lives in the model's caches)
    real *slab;            // every real array above but wt
    int32_t *islab;        // every integer array
} Decoder;

// Allocates everything once (nothing is allocated per call) and copies m's matrices transposed:
// build the decoder again after the parameters change. Returns 0, or -1 if out of memory or m is
// not a decoder.
int decoder_build(Decoder *d, const Model *m);
void decoder_free(Decoder *d);
// model_forward over each row's window tokens[i*stride .. i*stride + w-1] (1 <= w <= T) at
// positions 0..w-1 for nr <= R rows; fills the cache and the logits at position w-1. Overwrites
// m's activation caches. Returns 0, or -1 if refused (a token outside the vocabulary, bad sizes).
int model_decode_prefill(Model *m, Decoder *d, const int32_t *tokens, size_t stride, int nr, int w,
                         const ForwardSwitches *sw);
// Each row's next token tokens[i*stride] at position w (1 <= w < T; the cache holds 0..w-1):
// stores its keys and values at w, leaves its logits. sw->freeze_selection is refused (a step has
// no cached selection). Returns 0, or -1 if refused.
int model_decode_step(const Model *m, Decoder *d, const int32_t *tokens, size_t stride, int nr, int w,
                      const ForwardSwitches *sw);
// Layer l's routing of row i at window position t of the last call (a prefill: t < its w; a step:
// t is ignored, the position stepped): its K experts in top-K order, their gates (K) and the
// router logits z (E). Valid until the next call (or model_forward, after a prefill).
typedef struct { const int32_t *topk; const real *gate, *z; } DecodeRoute;
DecodeRoute decoder_route(const Decoder *d, const Model *m, int l, int i, int t);

#endif
