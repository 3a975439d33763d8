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
// p's row t holds the probabilities of keys 0..t and 0 for the keys after t up to the end of t's
// block of query rows (attention.c); the backward reads no more, and the keys after it are not
// written. scratch: attention_scratch(B, T, D, H) reals (per (b, h): a block of query rows of a
// T x T matrix, and a Dh x T matrix).
size_t attention_scratch(int B, int T, int D, int H);
// The share of the T x T square the blocked products compute (each block of query rows against
// the keys up to its last row): 1 at T <= 64, 5/8 at T = 256, 17/32 at T = 1024. make bench
// counts the matrix FLOPs a step executes with it.
double attention_work_fraction(int T);
void attention_forward(real *o, real *p, const real *qkv, real *scratch, int B, int T, int D, int H);
void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *p, real *scratch,
                        int B, int T, int D, int H);
// The plain references (the whole T x T square, then masked; serial): the same bits, for the
// tests. Their scratch is attention_scratch_ref(B, T, D, H) reals.
size_t attention_scratch_ref(int B, int T, int D, int H);
void attention_forward_ref(real *o, real *p, const real *qkv, real *scratch, int B, int T, int D, int H);
void attention_backward_ref(real *dqkv, const real *dout, const real *qkv, const real *p, real *scratch,
                            int B, int T, int D, int H);

// ---- gelu.c: tanh approximation ---------------------------------------------------------------
// gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³); computed as the identical
// x·σ(2u), because 1 + tanh(u) = 2σ(2u). The float build evaluates exp with exp_approx (below),
// which vectorizes; the double build (gradient checks) uses libm.
#define GELU_C 0.7978845608028654   // sqrt(2/pi)

// exp for the float build (GELU, and every softmax: attention, router scores, cross-entropy):
// x = n·ln2 + r with |r| <= ln2/2 (Cody–Waite split of ln2), e^r by its
// degree-7 Taylor polynomial (truncation < 6e-9 relative), then 2^n put into the exponent
// bits. Relative error a few 1e-7 over [-87, 88] (tests/test_nn.c checks it against libm).
// NaN is clamped too (both comparisons are false for it), so no NaN reaches the float-to-int
// conversion, and then returned as NaN: a softmax fed a NaN logit must give NaN, so the
// trainer's loss check sees the divergence (a select, which vectorizes like the clamps).
static inline float exp_approx(float x) {
    const float x_in = x;
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    // round to nearest by the 1.5·2^23 trick: branch-free, so the loops calling this vectorize
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
              r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23};
    const float y = p * scale.f;
    return x_in == x_in ? y : x_in;
}

#ifdef MOESIM_DOUBLE
#define gelu_exp exp
#define softmax_exp exp
#else
#define gelu_exp exp_approx
#define softmax_exp exp_approx
#endif

static inline real gelu_value(real v) {
    real u = (real)GELU_C * (v + (real)0.044715 * v * v * v);
    return v / (1 + gelu_exp(-2 * u));
}
// d gelu(v) / dv = σ(2u) + 2·v·σ(2u)·(1 − σ(2u))·du/dv
static inline real gelu_grad(real v) {
    real u = (real)GELU_C * (v + (real)0.044715 * v * v * v);
    real sg = 1 / (1 + gelu_exp(-2 * u));
    return sg + 2 * v * sg * (1 - sg) * (real)GELU_C * (1 + (real)(3 * 0.044715) * v * v);
}
void gelu_forward(real *y, const real *x, size_t n);
// dx += dy ⊙ gelu'(x)
void gelu_backward(real *dx, const real *dy, const real *x, size_t n);
// d ⊙= gelu'(x) (in place: d holds dL/dy on entry, dL/dx on return)
void gelu_backward_inplace(real *d, const real *x, size_t n);

// ---- loss.c: softmax cross-entropy over rows --------------------------------------------------
// probs[N x C] = softmax(logits); returns Σ_n -log probs[n][target[n]] (targets < 0 are skipped).
double crossentropy_forward(real *probs, const real *logits, const int32_t *target, int N, int C);
// -log softmax(z)[y] of one row z[C], in double (evaluation code that scores chosen positions:
// pruning, the last copy of a duplicated sequence).
double crossentropy_row(const real *z, int C, int32_t y);
// dlogits += scale·(probs - onehot(target))
void crossentropy_backward(real *dlogits, const real *probs, const int32_t *target,
                           int N, int C, real scale);

#endif
