// routes.c — routes.json (evaluate.h): which experts each token of a few evaluation sequences
// went to, for the report's token view. One forward pass over a copy of the chosen sequences,
// after the final evaluation (outside the training step); the model's parameters are untouched.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "evaluate.h"
#include "../config/config.h"

int write_routes(Evaluator *R) {
    const Config *c = R->c;
    Model *m = &R->model;
    int T = R->T, K = R->K, L = R->L;
    int n = c->eval_show_tokens;
    if (n > R->ev_seqs) n = R->ev_seqs;
    if (n > R->B) n = R->B;  // one forward pass of at most the model's batch
    if (n < 1) return 0;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)n * (T + 1));
    int32_t *topk = malloc(sizeof(int32_t) * (size_t)L * n * T * K);
    float *gate = malloc(sizeof(float) * (size_t)L * n * T * K);
    int *seq = malloc(sizeof(int) * (size_t)n);
    if (!tokens || !topk || !gate || !seq) {
        free(tokens); free(topk); free(gate); free(seq);
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        seq[i] = (int)((long long)i * R->ev_seqs / n);
        memcpy(tokens + (size_t)i * (T + 1), R->ev_tokens + (size_t)seq[i] * (T + 1), sizeof(int32_t) * (T + 1));
    }
    Batch b = {.B = n, .micro = n, .tokens = tokens, .shuffle_seed = 1};
    Losses loss;
    model_forward(m, &b, NULL, &loss);
    for (int l = 0; l < L; l++) {
        const BlockActs *a = &m->blocks[l];
        for (size_t r = 0; r < (size_t)n * T * K; r++) {
            topk[(size_t)l * n * T * K + r] = a->topk[r];
            gate[(size_t)l * n * T * K + r] = (float)a->gate[r];
        }
    }
    // the text world's tokens are bytes (the report shows them as characters)
    char world[64];
    config_format_value(c, CFGK_data_world, 0, world, sizeof world);
    char p[IO_DEEP_PATH_MAX];
    AtomicFile af;
    FILE *f = afile_open(&af, path_join(p, sizeof p, R->dir, "routes.json"));
    if (f) {
        JsonWriter w;
        json_begin(&w, f);
        json_object(&w);
        json_key(&w, "world"); json_str(&w, world);
        json_key(&w, "bytes"); json_bool(&w, strcmp(world, "text") == 0);
        json_key(&w, "vocab"); json_int(&w, c->model_vocab);
        json_key(&w, "layers"); json_int(&w, L);
        json_key(&w, "experts"); json_int(&w, R->E);
        json_key(&w, "top_k"); json_int(&w, K);
        json_key(&w, "seq_len"); json_int(&w, T);
        json_key(&w, "about"); json_str(&w, "per sequence: its evaluation index and domain, its seq_len input tokens, "
                                            "and per layer, per token, the top_k experts (best first) and their gates");
        json_key(&w, "sequences");
        json_array(&w);
        for (int i = 0; i < n; i++) {
            json_object(&w);
            json_key(&w, "index"); json_int(&w, seq[i]);
            json_key(&w, "domain"); json_int(&w, R->ev_seq_domain ? R->ev_seq_domain[seq[i]] : -1);
            json_key(&w, "tokens");
            json_array_flat(&w);
            for (int t = 0; t < T; t++) json_int(&w, tokens[(size_t)i * (T + 1) + t]);
            json_end(&w);
            for (int pass = 0; pass < 2; pass++) {
                json_key(&w, pass ? "gates" : "experts");
                json_array(&w);
                for (int l = 0; l < L; l++) {
                    json_array_flat(&w);
                    for (int t = 0; t < T; t++) {
                        json_array_flat(&w);
                        size_t at = (((size_t)l * n + i) * T + t) * K;
                        for (int k = 0; k < K; k++) {
                            if (pass) json_fixed(&w, gate[at + k], 4);
                            else json_int(&w, topk[at + k]);
                        }
                        json_end(&w);
                    }
                    json_end(&w);
                }
                json_end(&w);
            }
            json_end(&w);
        }
        json_end(&w);
        json_end(&w);
    }
    free(tokens); free(topk); free(gate); free(seq);
    return f && afile_commit(&af) == 0 ? 0 : -1;
}
