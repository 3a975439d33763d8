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

#include "model_types.h"


// Builds the parameter table and allocates every array once. Returns 0, or -1 with err set (out of
// memory: err names the array that could not be allocated and its size).
int model_build(Model *m, const ModelSpec *spec, char *err, size_t errlen);
void model_free(Model *m);
// What model_build would allocate for spec, in elements, found by the same checks, table and
// measuring pass, without allocating any of it (sim/train/memory.c estimates a run's memory
// from this before anything is allocated). table: a copy of the parameter table, or NULL.
// Returns 0, or -1 with err set (the spec model_build would refuse).
typedef struct {
    size_t params;              // parameters (table.total), float; the gradients are as many
    size_t bias;                // L x E aux-free biases, float
    size_t slab, islab, dslab;  // activations: real, int32 and double elements
} ModelSizes;
int model_sizes(const ModelSpec *spec, ModelSizes *out, ParamTable *table, char *err, size_t errlen);
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
// With spec.recompute it runs each block's experts again from its kept h_mid before their
// backward, and its attention from its kept input before that backward (same bits).
// It overwrites the logits and the blocks' expert outputs y.
void model_backward(Model *m, const Batch *b);
// Makes m->blocks[l].u, moe_rstd, z, s, p and pb hold layer l's values of the last forward: with
// spec.recompute every layer shares them, so they are computed again from the kept h_mid and
// top-K (the same bits); without, nothing to do. Call before reading a layer's router input or
// logits after a forward (evaluation, route, export); the logits stay valid.
void model_layer_view(Model *m, int l);
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
// What decoder_build allocates for a model of spec beside wt (table.total reals), without
// allocating it: its slab's real and int32 elements (sim/train/memory.c: pruning decodes).
void decoder_sizes(const ModelSpec *sp, size_t *reals, size_t *ints);
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
// router logits z (E). Valid until the next call (or model_forward, after a prefill). After a
// prefill on a model with spec.recompute, z is model_layer_view's layer's (call it first).
typedef struct { const int32_t *topk; const real *gate, *z; } DecodeRoute;
DecodeRoute decoder_route(const Decoder *d, const Model *m, int l, int i, int t);

#endif
