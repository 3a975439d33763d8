// balance.h — load-balancing terms of one MoE layer and the aux-free bias update.
//
// Groups: the N tokens of a batch are split into G = N / gsize consecutive groups of gsize tokens
// (a sequence, or a micro-batch). Every loss is the MEAN over its groups.
//   switch  L = mean_g E·Σ_i f_gi·P_gi,  f_gi = count_gi/(K·n), P_gi = mean_{t∈g} pb_ti; f is a
//           constant (no gradient). Where f is counted is `f_from`: the group itself, the whole
//           batch (scope global), or a seeded random subset of gsize tokens (scope shuffle).
//   l2      L = mean_g ‖P_g − 1/E‖²                     (arXiv 2604.09780, Prop. 2)
//   z-loss  L = (1/N) Σ_t (logsumexp z_t)²               (ST-MoE)
#ifndef MOESIM_BALANCE_H
#define MOESIM_BALANCE_H

#include <stdint.h>
#include "nn.h"

enum { F_FROM_GROUP, F_FROM_BATCH, F_FROM_SHUFFLE };

// load[E] = tokens choosing each expert.
void expert_load(int32_t *load, const int32_t *topk, int N, int E, int K);
// (max_i load_i − mean) / mean, mean = N·K/E
double load_maxvio(const int32_t *load, int E, int NK);

// Fills f, P (G x E each) and returns the loss. perm: N ints of scratch (shuffle only).
double switch_loss_forward(double *f, double *P, const real *pb, const int32_t *topk, int N, int E, int K,
                           int gsize, int f_from, uint64_t seed, int32_t *perm);
// dpb[N x E] += coef · E·f_gi / (G·gsize)
void switch_loss_backward(real *dpb, const double *f, int N, int E, int gsize, double coef);

double l2_loss_forward(double *P, const real *pb, int N, int E, int gsize);
// dpb += coef · 2(P_gi − 1/E) / (G·gsize)
void l2_loss_backward(real *dpb, const double *P, int N, int E, int gsize, double coef);

double zloss_forward(const real *z, int N, int E);
// dz += coef · 2·lse_t·softmax(z_t) / N
void zloss_backward(real *dz, const real *z, int N, int E, double coef);

// pb[N x E]: the renormalized top-K probabilities s_i / Σ_{chosen} s (0 off the chosen experts),
// the P source of p_source = "topk".
void topk_probs_forward(real *pb, const real *s, const int32_t *topk, int N, int E, int K);
// ds += ∂pb/∂s · dpb
void topk_probs_backward(real *ds, const real *dpb, const real *s, const real *pb, const int32_t *topk,
                         int N, int E, int K);

// Aux-free (Wang et al. 2024): b_i += rate·sign(mean − load_i) (mode BIAS_SIGN) or
// rate·(mean − load_i)/mean (BIAS_LINEAR); center: subtract the mean of b afterwards.
void auxfree_update(real *bias, const int32_t *load, int E, int NK, double rate, int mode, int center);

#endif
