// block.h — one decoder block's forward on N token rows, the one block function of the model:
// model_forward runs it over every position of B sequences (attention over the causal T x T
// square), model_decode_step over each row's newest position (attention over a KV cache).
//   h_mid = h_in + Wo·Attn(RMSNorm(h_in; att_norm))       (without attention: h_mid = h_in)
//   u = RMSNorm(h_mid; moe_norm);  z = P·u;  s, p = scores(z);  top-K of s + bias;  gates
//   out = h_mid + Σ_k gate_k·FFN_{e_k}(u) + Σ shared FFN(u)
// Internal to nn/ (model.c, decode.c).
#ifndef MOESIM_BLOCK_H
#define MOESIM_BLOCK_H

#include "model_types.h"

// Where attention finds its keys and values.
typedef struct {
    // the full causal square: rows are B sequences of T positions (kc == NULL)
    int B;
    real *att_scratch;   // attention_scratch(B, T, D, H)
    // or a cache: row i's newest position is w; its key and value are stored at w first
    real *kc, *vc;       // this layer's R x T x D
    int w;
    real *att_s;         // R x H x T  the newest position's attention probabilities
} BlockAttention;

// Which part of the block a call runs: the whole block, or for the recomputation in
// model_backward one half of it, each refilling only the caches its backward reads.
enum {
    BLOCK_WHOLE,
    BLOCK_ATTENTION,  // att_a, att_rstd, qkv, att_p, att_o from h_in; no Wo, h_mid nor output
    BLOCK_EXPERTS     // u, moe_rstd, z, s, p, gate, hpre, y, sh_hpre from h_mid and the kept
                      // top-K and dispatch (sw must freeze the selection); no output
};

// One call's settings and scratch.
typedef struct {
    int N;                       // rows
    int part;                    // BLOCK_WHOLE (0), BLOCK_ATTENTION or BLOCK_EXPERTS
    const ForwardSwitches *sw;   // NULL: plain
    const real *wt_all;          // every matrix transposed once (a Decoder's wt), or NULL: each
                                 // product transposes its matrix into wt / wt_experts now
    real *wt;                    // largest matrix (unused with wt_all)
    real *wt_experts;            // E x F x D (unused with wt_all)
    real *tmp;                   // N x D
    real *x_rows;                // N*K x D
    real *hact;                  // max(N*K, N) x F
    BlockAttention att;
} BlockRun;

// Block l on r->N rows of a->h_in: fills a's caches (h_mid, u, z, s, p, topk, gate, dispatch,
// hpre, y, sh_hpre, and att_a, att_rstd, qkv, att_o; att_p for the full square) and writes the
// block's output into out (N x D), after the experts are done with r->x_rows (out may be there).
// r->part: only a part (out unused).
void block_forward(const Model *m, int l, BlockActs *a, real *out, const BlockRun *r);
// The router part of block l on N rows of a->u: z = u·Pᵀ, s, p, top-K (kept when
// sw->freeze_selection), gates. Also the router-only model's forward.
void block_route(const Model *m, int l, BlockActs *a, const BlockRun *r);

#endif
