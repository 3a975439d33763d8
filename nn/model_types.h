// model_types.h — the model's data: its spec, a batch, the loss pieces, the per-block caches,
// the parameter positions, the Model itself and the per-call evaluation switches. Types only, so
// that every nn/ file that needs them (model.c, block.c, decode.c, moe.c, balance.c) includes
// this and not model.h's functions (no include circle: model.c calls the block, the block reads
// these types). The functions over them are in model.h.
#ifndef MOESIM_MODEL_TYPES_H
#define MOESIM_MODEL_TYPES_H

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
    int recompute;                 // decoder: 1 keeps each block's input, its output of attention (h_mid)
                                   // and its choices (top-K, gates, dispatch); the rest (attention,
                                   // router input and scores, experts) lives in one block's buffers and
                                   // model_backward recomputes it (same bits); model_layer_view gives
                                   // evaluation a layer's router input and logits back
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
// Which of them are each block's own and which share memory with scratch is model.c's carve();
// with spec.recompute, u, moe_rstd, z, s, p, pb and everything of the attention and the experts
// are one block's worth that every block shares (model_layer_view brings back u and z).
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
    real *h_final;         // N x D   residual after the last block (decoder: in the shared scratch,
                           //         valid from the forward to the head's backward)
    real *f_norm;          // N x D   RMSNorm(h_final; final_norm)
    real *f_rstd;          // N
    real *logits;          // N x V   (router: N x E task probabilities live in probs); the decoder's
                           //         head buffers share memory with the blocks' scratch: valid after
                           //         a forward, until the next forward or backward
    real *probs;           // N x V   softmax of logits (router: N x E)
    // scratch (forward and backward)
    real *wt;              // largest matrix: transposed weights for matmul_forward
    real *wt_experts;      // E x F x D: one transpose buffer per expert (experts run in parallel)
    real *tmp;             // N x D (decoder only)
    real *dh, *du, *da;    // N x D (dh and da: decoder only)
    real *dqkv;            // N x 3D
    real *att_scratch;     // attention_scratch(B, T, D, H)
    real *dz, *ds, *dp, *dpb; // N x E
    real *dgate;           // N x K
    real *x_rows, *dx_rows; // N*K x D (the rows' output gradient overwrites their outputs y, in place)
    real *dhid;            // max(N*K, N) x F: the experts' gelu(hpre) in the forward, their hidden gradient in the backward
    int32_t *perm;         // N (shuffle scope)
    int view_layer;        // recompute: the layer whose u, moe_rstd, z, s, p, pb the shared buffers hold
} Model;

// Evaluation switches of one forward, passed with the call (NULL: a plain forward, all zero).
// The model holds none of them: a forward depends only on its arguments.
typedef struct {
    int freeze_selection;   // 1: keep the top-K cached by the last forward (gradient checks, frozen routing)
    int mask_top;           // > 0: every token's mask_top best experts are removed before the top-K
                            // (expert-removal sensitivity)
    const uint8_t *allowed; // L x E, or NULL: expert e of layer l may be chosen iff allowed[l*E + e]
                            // (pruning, sim/use/prune.c; the caller owns it)
} ForwardSwitches;

#endif
