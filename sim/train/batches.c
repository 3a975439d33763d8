// batches.c — the training batches (batches.h): token sequences from the world's training
// stream, or hidden states for the router-only model. Allocation happens once, in init.
#include <stdlib.h>
#include <string.h>
#include "batches.h"

int batch_source_init(BatchSource *s, const Config *c, const World *w) {
    memset(s, 0, sizeof *s);
    s->world = w;
    s->B = c->train_batch;
    s->micro = c->train_micro_batch ? c->train_micro_batch : c->train_batch;
    s->N = s->B * c->model_seq_len;
    s->router = c->model_kind == MODEL_ROUTER;
    s->task = c->data_task;
    rng_seed(&s->rng, (uint64_t)c->train_seed, 2);          // stream 2: training batches
    s->shuffle_base = rng_next(&s->rng);
    s->tokens = calloc((size_t)s->B * (c->model_seq_len + 1), sizeof(int32_t));
    s->seq_domain = calloc((size_t)s->B, sizeof(int32_t));
    int bad = !s->tokens || !s->seq_domain;
    if (s->router) {
        s->hidden = calloc((size_t)s->N * c->model_d_model, sizeof(float));
        s->target = calloc((size_t)s->N, sizeof(int32_t));
        s->cluster = calloc((size_t)s->N, sizeof(int32_t));
        bad |= !s->hidden || !s->target || !s->cluster;
    }
    if (bad) batch_source_free(s);
    return bad ? -1 : 0;
}

void batch_source_next(BatchSource *s, int step, Batch *b) {
    memset(b, 0, sizeof *b);
    b->B = s->B;
    b->micro = s->micro;
    b->shuffle_seed = s->shuffle_base + (uint64_t)step;
    if (s->router) {
        world_train_hidden(s->world, &s->rng, s->N, s->hidden, s->target, s->cluster);
        b->hidden = s->hidden;
        b->target = s->task == TASK_CLUSTER ? s->target : NULL;
    } else {
        world_train_batch(s->world, &s->rng, s->B, s->micro, s->tokens, s->seq_domain);
        b->tokens = s->tokens;
    }
}

void batch_source_free(BatchSource *s) {
    free(s->tokens); free(s->seq_domain); free(s->hidden); free(s->target); free(s->cluster);
    memset(s, 0, sizeof *s);
}
