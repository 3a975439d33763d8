// truncation.h — how much of a token's routing the leading directions of the hidden states
// decide (the paper's Fig. 24): keep only the top-r right singular directions V_r of the router
// inputs H (the whole set, as the paper does over 50,000 tokens), h' = V_r V_rᵀ h, and count the
// tokens whose m-th expert by logit (z = P h, m = 1 the largest) is unchanged, for m = 1..K.
#ifndef MOESIM_TRUNCATION_H
#define MOESIM_TRUNCATION_H

#include <stddef.h>
#include <stdint.h>

// agree: nr x K, agree[i K + (m-1)] = share of the N tokens whose m-th largest logit under
// projection onto the top rs[i] directions is the same expert as without projection (ties: lower
// index ranks first). rs[i] in 1..D (r = D reproduces the original: 1). H: N x D, P: E x D.
// Returns 0, -1 on bad sizes, -2 if memory could not be allocated.
int truncation_agreement(double *agree, const float *H, const float *P, size_t N, int D, int E, int K,
                         const int *rs, int nr);

// The ranks to report for width D: 1, 2, 4, 8, ... up to D, and D (nr <= 24). Returns nr.
int truncation_ranks(int *rs, int D);

#endif
