// route.h — routing given token sequences through a trained model, teacher-forced: which experts
// each layer chooses at every position. This is how the paper measures expert usage on text
// written by other models (§5.1: the solutions of 60 models to the same questions, all read by
// one MoE): `moesim compare --route-with RUN_DIR`.
#ifndef MOESIM_ROUTE_H
#define MOESIM_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include "../../nn/model.h"

// routes: rows x L x len x K (the model's L and K), the experts chosen at each position of each
// row of tokens (rows x len, every value in 0..V-1), positions 0..len-1 of one forward pass
// (causal: a position's routing depends on the tokens up to it only). Needs len <= model.seq_len.
// hidden (may be NULL): rows x L x len x D, each position's router input u = RMSNorm(h; moe_norm)
// (the states the evaluation's measurements read, docs/METRICS.md), for the pooled cosine of the
// paper's Fig. 14. Rows run in chunks of at most spec.max_batch. Returns 0, or -1 with err.
int route_tokens(Model *m, const int32_t *tokens, int rows, int len, int32_t *routes, float *hidden, char *err,
                 size_t errlen);

#endif
