// route.c — teacher-forced routing of given token rows (route.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "route.h"

int route_tokens(Model *m, const int32_t *tokens, int rows, int len, int32_t *routes, float *hidden, char *err,
                 size_t errlen) {
    const int T = m->spec.T, L = m->spec.L, K = m->spec.K, V = m->spec.V, D = m->spec.D, Bmax = m->spec.max_batch;
    if (m->spec.kind != MODEL_DECODER) { snprintf(err, errlen, "the model is not a decoder (model.kind)"); return -1; }
    if (len < 1 || len > T) {
        snprintf(err, errlen, "rows of %d tokens do not fit the model's context (model.seq_len = %d)", len, T);
        return -1;
    }
    for (size_t i = 0; i < (size_t)rows * len; i++)
        if (tokens[i] < 0 || tokens[i] >= V) {
            snprintf(err, errlen, "token %d outside the model's vocabulary 0..%d", tokens[i], V - 1);
            return -1;
        }
    int32_t *batch = calloc((size_t)Bmax * (T + 1), sizeof(int32_t));  // Bmax x (T+1), padded with 0
    if (!batch) { snprintf(err, errlen, "out of memory"); return -1; }
    for (int r0 = 0; r0 < rows; r0 += Bmax) {
        int nb = rows - r0 < Bmax ? rows - r0 : Bmax;
        memset(batch, 0, sizeof(int32_t) * (size_t)nb * (T + 1));
        for (int b = 0; b < nb; b++) memcpy(batch + (size_t)b * (T + 1), tokens + (size_t)(r0 + b) * len, sizeof(int32_t) * len);
        Batch bt = {.B = nb, .micro = nb, .tokens = batch, .shuffle_seed = 1};
        Losses l;
        if (model_forward(m, &bt, NULL, &l) != 0) { free(batch); snprintf(err, errlen, "invalid batch"); return -1; }
        for (int layer = 0; layer < L; layer++) {
            model_layer_view(m, layer);  // a model with recompute shares u between its layers
            for (int b = 0; b < nb; b++) {
                // positions 0..len-1 of sequence b: rows b*T + t of the layer's N x K choices
                memcpy(routes + (((size_t)(r0 + b) * L + layer) * len) * K, m->blocks[layer].topk + (size_t)b * T * K,
                       sizeof(int32_t) * (size_t)len * K);
                // and of its N x D router inputs
                if (hidden)
                    memcpy(hidden + (((size_t)(r0 + b) * L + layer) * len) * D, m->blocks[layer].u + (size_t)b * T * D,
                           sizeof(float) * (size_t)len * D);
            }
        }
    }
    free(batch);
    return 0;
}
