// batches.h — the training batches of a run, drawn from stream 2 of train.seed. The trainer, the
// benchmark and export all draw them here, so they see the same batches for the same seed.
#ifndef MOESIM_BATCHES_H
#define MOESIM_BATCHES_H

#include <stdint.h>
#include "../config/schema.h"
#include "../worlds/world.h"

// The training batches of a run, drawn from stream 2 of train.seed exactly as the training loop
// draws them (export and the benchmark use the same source). Buffers are allocated once in
// batch_source_init; batch_source_next allocates nothing.
typedef struct {
    const World *world;
    Rng rng;
    uint64_t shuffle_base;     // scope shuffle: step s uses seed shuffle_base + s
    int B, micro, N, router, task;
    int32_t *tokens, *seq_domain;   // B x (T+1), B
    float *hidden;                  // N x D (router kind)
    int32_t *target, *cluster;      // N (router kind)
} BatchSource;

// Returns 0, or -1 if memory runs out.
int batch_source_init(BatchSource *s, const Config *c, const World *w);
// The bytes batch_source_init allocates for c, without allocating them (sim/train/memory.c).
double batch_source_bytes(const Config *c);
// Draws the batch of `step` into the source's buffers and points b at them.
void batch_source_next(BatchSource *s, int step, Batch *b);
void batch_source_free(BatchSource *s);

#endif
