// decode.c — decoding with a KV cache (model.h): a prefill is model_forward over the windows, a
// step is the embedding of one position per row, block_forward per layer with attention over the
// cache, and the head, on the matrices transposed once by decoder_build.
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "block.h"
#include "gemm.h"
#include "layers.h"

#define PARAM(m, i) ((m)->params + (m)->table.info[i].offset)

// ---- buffers: one measuring pass, one allocation, one carving pass (as model.c's slab) ---------

typedef struct { real *r; int32_t *i; size_t nr, ni; } Carver;

static real *take_r(Carver *c, size_t n) { real *p = c->r ? c->r + c->nr : NULL; c->nr += n; return p; }
static int32_t *take_i(Carver *c, size_t n) { int32_t *p = c->i ? c->i + c->ni : NULL; c->ni += n; return p; }

static void carve(Decoder *d, const ModelSpec *sp, Carver *c) {
    size_t R = d->R, T = sp->T, D = sp->D, E = sp->E, K = sp->K, F = sp->F, S = sp->S, V = sp->V;
    size_t H = sp->attention ? sp->H : 1, RK = R * K, RKF = (RK > R ? RK : R) * F;
    for (int l = 0; l < sp->L; l++) {
        BlockActs sizing, *a = d->blocks ? &d->blocks[l] : &sizing;  // decoder_sizes: no blocks yet
        a->h_in = take_r(c, R * D);
        if (sp->attention) {
            a->att_a = take_r(c, R * D);
            a->att_rstd = take_r(c, R);
            a->qkv = take_r(c, R * 3 * D);
            a->att_o = take_r(c, R * D);
            a->h_mid = take_r(c, R * D);
        } else {
            a->h_mid = a->h_in;
        }
        a->u = take_r(c, R * D);
        a->moe_rstd = take_r(c, R);
        a->z = take_r(c, R * E);
        a->s = take_r(c, R * E);
        a->p = a->pb = take_r(c, R * E);
        a->gate = take_r(c, RK);
        a->hpre = take_r(c, RK * F);
        a->y = take_r(c, RK * D);
        a->sh_hpre = take_r(c, S * R * F);
        a->topk = take_i(c, RK);
        a->expert_start = take_i(c, E + 1);
        a->row_token = take_i(c, RK);
        a->token_row = take_i(c, RK);
    }
    if (sp->attention) {
        d->kc = take_r(c, (size_t)sp->L * R * T * D);
        d->vc = take_r(c, (size_t)sp->L * R * T * D);
        d->att_s = take_r(c, R * H * T);
    }
    d->h_final = take_r(c, R * D);
    d->f_norm = take_r(c, R * D);
    d->f_rstd = take_r(c, R);
    d->logits = take_r(c, R * V);
    d->tmp = take_r(c, R * D);
    d->x_rows = take_r(c, RK * D);
    d->hact = take_r(c, RKF);
    d->window = take_i(c, R * (T + 1));
}

void decoder_free(Decoder *d) {
    free(d->wt); free(d->blocks); free(d->slab); free(d->islab);
    memset(d, 0, sizeof *d);
}

void decoder_sizes(const ModelSpec *sp, size_t *reals, size_t *ints) {
    Decoder d;
    memset(&d, 0, sizeof d);
    d.R = sp->max_batch;
    d.T = sp->T;
    Carver c = {0};
    carve(&d, sp, &c);
    *reals = c.nr;
    *ints = c.ni;
}

int decoder_build(Decoder *d, const Model *m) {
    const ModelSpec *sp = &m->spec;
    memset(d, 0, sizeof *d);
    if (sp->kind != MODEL_DECODER) return -1;
    d->R = sp->max_batch;
    d->T = sp->T;
    d->blocks = calloc((size_t)sp->L, sizeof *d->blocks);
    Carver c = {0};
    carve(d, sp, &c);
    d->slab = calloc(c.nr ? c.nr : 1, sizeof(real));
    d->islab = calloc(c.ni ? c.ni : 1, sizeof(int32_t));
    d->wt = calloc(m->table.total ? m->table.total : 1, sizeof(real));
    if (!d->blocks || !d->slab || !d->islab || !d->wt) { decoder_free(d); return -1; }
    c = (Carver){.r = d->slab, .i = d->islab};
    carve(d, sp, &c);
    // every matrix (embeddings, positions and gains are read as they are): W[O x I] -> Wᵀ[I x O]
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *pi = &m->table.info[i];
        if (pi->kind == PARAM_EMBED || pi->kind == PARAM_POS || pi->kind == PARAM_GAIN) continue;
        size_t O = (size_t)pi->rows, I = (size_t)pi->cols;
        for (int k = 0; k < pi->count; k++) {
            const real *W = m->params + pi->offset + (size_t)k * O * I;
            real *Wt = d->wt + pi->offset + (size_t)k * O * I;
            for (size_t o = 0; o < O; o++)
                for (size_t j = 0; j < I; j++) Wt[j * O + o] = W[o * I + j];
        }
    }
    return 0;
}

// ---- prefill, step, routing view --------------------------------------------------------------

int model_decode_prefill(Model *m, Decoder *d, const int32_t *tokens, size_t stride, int nr, int w,
                         const ForwardSwitches *sw) {
    const ModelSpec *sp = &m->spec;
    int T = d->T, D = sp->D, V = sp->V, R = d->R;
    if (nr < 1 || nr > R || w < 1 || w > T) return -1;
    for (int i = 0; i < nr; i++) {
        int32_t *bt = d->window + (size_t)i * (T + 1);  // T+1: the window, then padding
        memcpy(bt, tokens + (size_t)i * stride, sizeof(int32_t) * w);
        for (int t = w; t <= T; t++) bt[t] = 0;
    }
    // positions after w-1 cannot change earlier ones: attention is causal and routing is per token
    // without capacity
    Batch b = {.B = nr, .micro = nr, .tokens = d->window, .shuffle_seed = 1};
    Losses loss;
    if (model_forward(m, &b, sw, &loss) != 0) return -1;
    // The logits first: with recompute the attention below runs in the memory they share.
    for (int i = 0; i < nr; i++)
        memcpy(d->logits + (size_t)i * V, m->logits + ((size_t)i * T + w - 1) * V, sizeof(real) * V);
    // With recompute the layers share one block's q|k|v, and the experts and the head overwrote
    // it: each layer's attention runs again from its kept input (the same bits).
    BlockRun rerun = {.N = nr * T, .part = BLOCK_ATTENTION, .wt = m->wt, .att = {.B = nr, .att_scratch = m->att_scratch}};
    if (sp->attention)
        for (int l = sp->L - 1; l >= 0; l--) {
            if (sp->recompute) block_forward(m, l, &m->blocks[l], NULL, &rerun);
            for (int i = 0; i < nr; i++)
                for (int t = 0; t < w; t++) {
                    const real *qkv = m->blocks[l].qkv + ((size_t)i * T + t) * 3 * D;  // q | k | v
                    size_t at = (((size_t)l * R + i) * T + t) * D;
                    memcpy(d->kc + at, qkv + D, sizeof(real) * D);
                    memcpy(d->vc + at, qkv + 2 * D, sizeof(real) * D);
                }
        }
    d->last_prefill = 1;
    return 0;
}

int model_decode_step(const Model *m, Decoder *d, const int32_t *tokens, size_t stride, int nr, int w,
                      const ForwardSwitches *sw) {
    const ModelSpec *sp = &m->spec;
    int T = d->T, D = sp->D, V = sp->V, R = d->R;
    if (nr < 1 || nr > R || w < 0 || w >= T || (sw && sw->freeze_selection)) return -1;
    for (int i = 0; i < nr; i++)
        if (tokens[(size_t)i * stride] < 0 || tokens[(size_t)i * stride] >= V) return -1;
    // h[i] = wte[x_i] + wpe[w], as embed_forward
    const real *wte = PARAM(m, m->i_wte), *wpe = m->i_wpe >= 0 ? PARAM(m, m->i_wpe) + (size_t)w * D : NULL;
    for (int i = 0; i < nr; i++) {
        const real *te = wte + (size_t)tokens[(size_t)i * stride] * D;
        real *h = d->blocks[0].h_in + (size_t)i * D;
        for (int j = 0; j < D; j++) h[j] = te[j] + (wpe ? wpe[j] : 0);
    }
    BlockRun r = {.N = nr, .sw = sw, .wt_all = d->wt, .tmp = d->tmp, .x_rows = d->x_rows, .hact = d->hact,
                  .att = {.w = w, .att_s = d->att_s}};
    for (int l = 0; l < sp->L; l++) {
        if (sp->attention) {
            r.att.kc = d->kc + (size_t)l * R * T * D;
            r.att.vc = d->vc + (size_t)l * R * T * D;
        }
        block_forward(m, l, &d->blocks[l], l + 1 < sp->L ? d->blocks[l + 1].h_in : d->h_final, &r);
    }
    rmsnorm_forward(d->f_norm, d->f_rstd, d->h_final, PARAM(m, m->i_final_norm), nr, D);
    matmul_forward_t(d->logits, d->f_norm, d->wt + m->table.info[m->i_head].offset, nr, D, V);  // [nr x V]
    d->last_prefill = 0;
    return 0;
}

DecodeRoute decoder_route(const Decoder *d, const Model *m, int l, int i, int t) {
    int E = m->spec.E, K = m->spec.K;
    const BlockActs *a = d->last_prefill ? &m->blocks[l] : &d->blocks[l];
    size_t n = d->last_prefill ? (size_t)i * d->T + t : (size_t)i;
    DecodeRoute rt = {a->topk + n * K, a->gate + n * K, a->z + n * E};
    return rt;
}
