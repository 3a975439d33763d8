// moe.h — the token-choice MoE layer in pieces, each a forward/backward pair:
//   router scores  z[N x E] -> s (softmax | sigmoid) and p (probabilities for balancing)
//   top-K          s + bias -> topk[N x K], by decreasing value, ties to the lower expert index
//   gates          s, topk -> gate[N x K] (optionally renormalized over the chosen experts)
//   dispatch       topk -> rows grouped by expert (counting sort, token order inside an expert)
//   experts        each expert's FFN on its own rows only: cost grows with K, not with E
//   combine        h[t] += Σ_k gate[t,k] · y[row(t,k)]
// Backward functions ADD into gradients (see nn.h).
#ifndef MOESIM_MOE_H
#define MOESIM_MOE_H

#include <stdint.h>
#include "nn.h"

// s[N x E] = softmax(z) or sigmoid(z); p[N x E] = s (softmax) or s / Σ_e s (sigmoid).
void router_scores_forward(real *s, real *p, const real *z, int N, int E, int score);
// dz += ds·∂s/∂z + dp·∂p/∂z (dp may be NULL).
void router_scores_backward(real *dz, const real *ds, const real *dp, const real *s, const real *p,
                            int N, int E, int score);

// topk[N x K]: the K largest s + bias (bias: E, or NULL), decreasing, ties to the lower index.
// skip > 0 masks each token's `skip` best experts first (expert-removal sensitivity, DeepSeekMoE):
// the K chosen are then ranks skip+1 .. skip+K.
void router_topk(int32_t *topk, const real *s, const real *bias, int N, int E, int K, int skip);
// The same with some experts pruned: allowed (E bytes, or NULL = all allowed) marks the experts a
// token may choose (1) or not (0); a pruned expert is never chosen while at least skip+K allowed
// ones exist (then the rest are filled by the lowest-index untaken experts). Ties and order as
// above; with allowed = NULL the result is router_topk's, bit for bit (router_topk calls this).
void router_topk_allowed(int32_t *topk, const real *s, const real *bias, const uint8_t *allowed, int N, int E,
                         int K, int skip);

// gate[N x K] = s[topk] (normalize = 0) or s[topk] / Σ_k s[topk] (normalize = 1).
void router_gates_forward(real *gate, const real *s, const int32_t *topk, int N, int E, int K, int normalize);
// ds[N x E] += ∂gate/∂s · dgate
void router_gates_backward(real *ds, const real *dgate, const real *s, const real *gate, const int32_t *topk,
                           int N, int E, int K, int normalize);

// Counting sort of the N*K choices by expert. expert_start: E+1; row_token: N*K (the token of each
// row); token_row: N x K (the row of choice k of token t). Rows of an expert are in token order.
void moe_dispatch(int32_t *expert_start, int32_t *row_token, int32_t *token_row, const int32_t *topk,
                  int N, int E, int K);

// One FFN on n rows: hpre = x·W1ᵀ [n x F], hact = gelu(hpre), y = hact·W2ᵀ [n x D].
// wt: scratch of F*D reals, into which w1 and w2 are transposed for the products; or w1t (D x F)
// and w2t (F x D) give them transposed already (a decoder's copy; NULL: transpose now, wt then
// unused for that one): the same gemm either way, so the same bits.
// hact may be scratch: the backward recomputes it from hpre.
void ffn_forward(real *y, real *hpre, real *hact, const real *x, const real *w1, const real *w2,
                 const real *w1t, const real *w2t, int n, int D, int F, real *wt);
// dx += , dw1 += , dw2 += (set_w: dw1 = , dw2 = ; zero when n = 0); dhid: scratch of n*F reals
// (it holds gelu(hpre), then the hidden gradient).
void ffn_backward(real *dx, real *dw1, real *dw2, const real *dy, const real *x, const real *hpre,
                  const real *w1, const real *w2, int n, int D, int F, real *dhid, int set_w);

// x_rows[r] = u[row_token[r]] for r < rows (D reals each): the dispatched inputs in row order.
void moe_gather_rows(real *x_rows, const real *u, const int32_t *row_token, int rows, int D);

// Routed experts over dispatched rows. x_rows[N*K x D] is filled by gathering u (N x D) in row
// order; w1: E x F x D, w2: E x D x F; y, hpre, hact as in ffn_forward, for all N*K rows (hact
// is scratch).
// wt: E*F*D reals of scratch (one transpose buffer per expert: experts run in parallel); w1t
// (E x D x F) and w2t (E x F x D), or NULL, give the weights transposed already (ffn_forward).
void experts_forward(real *y, real *hpre, real *hact, real *x_rows, const real *u, const real *w1,
                     const real *w2, const real *w1t, const real *w2t, const int32_t *expert_start,
                     const int32_t *row_token, int E, int D, int F, real *wt);
// dy_rows[N*K x D] → dx_rows (overwritten, N*K x D), dw1 =, dw2 = (overwritten, every expert's,
// zero for an expert without rows). The exception to the += contract (nn.h) is deliberate: a
// routed expert's weights have exactly one consumer per step, and writing their gradients saves
// the trainer zeroing (and this pass re-reading) E·2·F·D floats from memory; model_zero_grads
// skips them. dhid: N*K*F reals. wsq (E doubles, or NULL): each expert's Σ dw1² + Σ dw2²,
// taken while its gradients are still in cache (the gradient norm's expert part, model.c).
void experts_backward(real *dx_rows, real *dw1, real *dw2, const real *dy_rows, const real *x_rows,
                      const real *hpre, const real *w1, const real *w2,
                      const int32_t *expert_start, int E, int D, int F, real *dhid, double *wsq);

// h[N x D] += Σ_k gate[t,k] · y[token_row[t,k]]
void moe_combine_forward(real *h, const real *y, const real *gate, const int32_t *token_row, int N, int D, int K);
// dy_rows[row(t,k)] = gate[t,k]·dh[t] (overwritten); dgate[t,k] = dh[t]·y[row(t,k)] (overwritten)
void moe_combine_backward(real *dy_rows, real *dgate, const real *dh, const real *y, const real *gate,
                          const int32_t *token_row, int N, int D, int K);
// du[t] += Σ_k dx_rows[token_row[t,k]] (k in order: deterministic)
void moe_gather_backward(real *du, const real *dx_rows, const int32_t *token_row, int N, int D, int K);

#endif
