// layers.h — the dense layers, each a forward/backward pair (outputs first, then inputs, then
// sizes). Backward functions ADD into every gradient (see nn.h).
#ifndef MOESIM_LAYERS_H
#define MOESIM_LAYERS_H

#include <stdint.h>
#include <math.h>
#include "nn.h"

#define RMSNORM_EPS 1e-5

// ---- embed.c: h[n] = wte[x_n] + wpe[t_n] (wpe may be NULL: no position embedding) -----------
void embed_forward(real *h, const int32_t *tokens, const real *wte, const real *wpe, int B, int T, int D);
void embed_backward(real *dwte, real *dwpe, const real *dh, const int32_t *tokens, int B, int T, int D);

// ---- norm.c: y = x / sqrt(mean(x²) + eps) ⊙ g --------------------------------------------------
void rmsnorm_forward(real *y, real *rstd, const real *x, const real *g, int N, int D);
void rmsnorm_backward(real *dx, real *dg, const real *dy, const real *x, const real *g, const real *rstd, int N, int D);

// ---- attention.c: causal multi-head attention on fused qkv ------------------------------------
// qkv: N x 3D (q | k | v, head h owns columns h*Dh..), p: B x H x T x T, o: N x D.
void attention_forward(real *o, real *p, const real *qkv, int B, int T, int D, int H);
// dp_row: scratch of B*H*T reals.
void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *p, real *dp_row,
                        int B, int T, int D, int H);

// ---- gelu.c: tanh approximation ---------------------------------------------------------------
#define GELU_C 0.7978845608028654   // sqrt(2/pi)
// d gelu(v) / dv
static inline real gelu_grad(real v) {
    real u = (real)GELU_C * (v + (real)0.044715 * v * v * v);
    real th = rtanh(u);
    return (real)0.5 * (1 + th) + (real)0.5 * v * (1 - th * th) * (real)GELU_C * (1 + (real)(3 * 0.044715) * v * v);
}
void gelu_forward(real *y, const real *x, size_t n);
// dx += dy ⊙ gelu'(x)
void gelu_backward(real *dx, const real *dy, const real *x, size_t n);
// d ⊙= gelu'(x) (in place: d holds dL/dy on entry, dL/dx on return)
void gelu_backward_inplace(real *d, const real *x, size_t n);

// ---- loss.c: softmax cross-entropy over rows --------------------------------------------------
// probs[N x C] = softmax(logits); returns Σ_n -log probs[n][target[n]] (targets < 0 are skipped).
double crossentropy_forward(real *probs, const real *logits, const int32_t *target, int N, int C);
// dlogits += scale·(probs - onehot(target))
void crossentropy_backward(real *dlogits, const real *probs, const int32_t *target,
                           int N, int C, real scale);

#endif
