// batches.c — the training batches (batches.h): token sequences from the world's training
// stream, or hidden states for the router-only model. Allocation happens once, in init.
#include <stdlib.h>
#include <string.h>
#include "batches.h"

// The elements of each buffer batch_source_init allocates (0: none for this model kind), one list
// for the allocation and for batch_source_bytes.
enum { BS_TOKENS, BS_SEQ_DOMAIN, BS_HIDDEN, BS_TARGET, BS_CLUSTER, BS_COUNT };
static void batch_sizes(const Config *c, size_t n[BS_COUNT], size_t size[BS_COUNT]) {
    const size_t B = (size_t)c->train_batch, N = B * (size_t)c->model_seq_len;
    const int router = c->model_kind == MODEL_ROUTER;
    n[BS_TOKENS] = B * (size_t)(c->model_seq_len + 1); size[BS_TOKENS] = sizeof(int32_t);
    n[BS_SEQ_DOMAIN] = B; size[BS_SEQ_DOMAIN] = sizeof(int32_t);
    n[BS_HIDDEN] = router ? N * (size_t)c->model_d_model : 0; size[BS_HIDDEN] = sizeof(float);
    n[BS_TARGET] = router ? N : 0; size[BS_TARGET] = sizeof(int32_t);
    n[BS_CLUSTER] = router ? N : 0; size[BS_CLUSTER] = sizeof(int32_t);
}

double batch_source_bytes(const Config *c) {
    size_t n[BS_COUNT], size[BS_COUNT];
    batch_sizes(c, n, size);
    double bytes = 0;
    for (int i = 0; i < BS_COUNT; i++) bytes += (double)n[i] * size[i];
    return bytes;
}

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
    size_t n[BS_COUNT], size[BS_COUNT];
    batch_sizes(c, n, size);
    void *p[BS_COUNT] = {0};
    int bad = 0;
    for (int i = 0; i < BS_COUNT; i++)
        if (n[i] && !(p[i] = calloc(n[i], size[i]))) bad = 1;
    s->tokens = p[BS_TOKENS]; s->seq_domain = p[BS_SEQ_DOMAIN];
    s->hidden = p[BS_HIDDEN]; s->target = p[BS_TARGET]; s->cluster = p[BS_CLUSTER];
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
