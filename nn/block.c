// block.c — the decoder block's forward, shared by model_forward and model_decode_step (block.h).
// Every product goes through the same gemm call whether its matrix is transposed now
// (matmul_forward) or was transposed once (matmul_forward_t), so both callers get the same bits.
#include <math.h>
#include <string.h>
#include "block.h"
#include "gemm.h"
#include "layers.h"
#include "moe.h"

#define PARAM(m, i) ((m)->params + (m)->table.info[i].offset)

// out[N x O] = in[N x I]·Wᵀ for matrix `index` of the table.
static void linear(real *out, const real *in, const Model *m, const BlockRun *r, int index, int N, int I, int O) {
    size_t off = m->table.info[index].offset;
    if (r->wt_all) matmul_forward_t(out, in, r->wt_all + off, N, I, O);
    else matmul_forward(out, in, m->params + off, N, I, O, r->wt);
}

// Where stacked matrix `index` (count x ...) starts in the transposed copy, or NULL without one.
static const real *transposed(const Model *m, const BlockRun *r, int index) {
    return r->wt_all ? r->wt_all + m->table.info[index].offset : NULL;
}

// y = a + b (b may be NULL: a copy), n floats, over the threads.
static void add_parallel(real *y, const real *a, const real *b, size_t n) {
    const long long nn = (long long)n;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
    for (long long i = 0; i < nn; i++) y[i] = b ? a[i] + b[i] : a[i];
}

// Attention of each row's newest position w over its cached keys 0..w: o[N x D] from the query
// columns of qkv (N x 3D); kc, vc: R x T x D. One row's single query is a dot product per key, so
// this does not go through gemm (the full square does): the bits can differ from
// attention_forward's by rounding.
static void attention_cached(real *o, const real *qkv, const BlockAttention *at, int N, int T, int D, int H) {
    int Dh = D / H, w = at->w;
    real scale = (real)(1.0 / sqrt((double)Dh));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (N * H > 1)
#endif
    for (int ih = 0; ih < N * H; ih++) {
        int i = ih / H, hh = ih % H;
        const real *q = qkv + (size_t)i * 3 * D + hh * Dh;                 // Dh
        const real *kc = at->kc + (size_t)i * T * D + hh * Dh;             // position j at + j*D
        const real *vc = at->vc + (size_t)i * T * D + hh * Dh;
        real *sc = at->att_s + (size_t)ih * T, mx = -INFINITY, sum = 0;    // w+1 scores
        for (int j = 0; j <= w; j++) {
            real dot = 0;
            for (int d = 0; d < Dh; d++) dot += q[d] * kc[(size_t)j * D + d];
            sc[j] = dot * scale;
            mx = sc[j] > mx ? sc[j] : mx;
        }
        for (int j = 0; j <= w; j++) sc[j] = softmax_exp(sc[j] - mx);
        for (int j = 0; j <= w; j++) sum += sc[j];
        real inv = 1 / sum;
        for (int j = 0; j <= w; j++) sc[j] *= inv;
        real *out = o + (size_t)i * D + hh * Dh;                           // Dh = Σ_j p_j v_j
        for (int d = 0; d < Dh; d++) out[d] = 0;
        for (int j = 0; j <= w; j++)                                       // j in order: each
            for (int d = 0; d < Dh; d++) out[d] += sc[j] * vc[(size_t)j * D + d];  // sum as P·V sums
    }
}

void block_route(const Model *m, int l, BlockActs *a, const BlockRun *r) {
    const ModelSpec *sp = &m->spec;
    const ForwardSwitches *sw = r->sw;
    int N = r->N, D = sp->D, E = sp->E, K = sp->K;
    linear(a->z, a->u, m, r, m->bp[l].router, N, D, E);                   // z[N x E] = u·Pᵀ
    router_scores_forward(a->s, a->p, a->z, N, E, sp->score);
    const real *bias = sp->bal_method == BAL_AUXFREE ? m->bias + (size_t)l * E : NULL;
    const uint8_t *allowed = sw && sw->allowed ? sw->allowed + (size_t)l * E : NULL;
    int freeze = sw && sw->freeze_selection, mask_top = sw ? sw->mask_top : 0;
    if (!freeze) router_topk_allowed(a->topk, a->s, bias, allowed, N, E, K, mask_top);
    int normalize = sp->score == SCORE_SIGMOID || sp->gate_norm;
    router_gates_forward(a->gate, a->s, a->topk, N, E, K, normalize);
}

void block_forward(const Model *m, int l, BlockActs *a, real *out, const BlockRun *r) {
    const ModelSpec *sp = &m->spec;
    const BlockParams *bp = &m->bp[l];
    int N = r->N, T = sp->T, D = sp->D, E = sp->E, K = sp->K, F = sp->F;
    size_t ND = (size_t)N * D;
    if (sp->attention && r->part != BLOCK_EXPERTS) {
        const BlockAttention *at = &r->att;
        rmsnorm_forward(a->att_a, a->att_rstd, a->h_in, PARAM(m, bp->att_norm), N, D);
        linear(a->qkv, a->att_a, m, r, bp->wqkv, N, D, 3 * D);                    // [N x 3D] q | k | v
        if (at->kc) {
            for (int i = 0; i < N; i++) {  // the newest keys and values join the cache first
                size_t to = ((size_t)i * T + at->w) * D;
                memcpy(at->kc + to, a->qkv + (size_t)i * 3 * D + D, sizeof(real) * D);
                memcpy(at->vc + to, a->qkv + (size_t)i * 3 * D + 2 * D, sizeof(real) * D);
            }
            attention_cached(a->att_o, a->qkv, at, N, T, D, sp->H);
        } else {
            attention_forward(a->att_o, a->att_p, a->qkv, at->att_scratch, at->B, T, D, sp->H);
        }
        if (r->part == BLOCK_ATTENTION) return;
        linear(r->tmp, a->att_o, m, r, bp->wo, N, D, D);                          // [N x D]
        add_parallel(a->h_mid, a->h_in, r->tmp, ND);
    }
    rmsnorm_forward(a->u, a->moe_rstd, a->h_mid, PARAM(m, bp->moe_norm), N, D);
    block_route(m, l, a, r);
    // the routed experts on their rows, then out = h_mid + Σ_k gate·y (+ shared experts)
    const int whole = r->part == BLOCK_WHOLE;
    if (whole) moe_dispatch(a->expert_start, a->row_token, a->token_row, a->topk, N, E, K);
    experts_forward(a->y, a->hpre, r->hact, r->x_rows, a->u, PARAM(m, bp->w1), PARAM(m, bp->w2),
                    transposed(m, r, bp->w1), transposed(m, r, bp->w2), a->expert_start, a->row_token,
                    E, D, F, r->wt_experts);
    if (whole) {
        add_parallel(out, a->h_mid, NULL, ND);
        moe_combine_forward(out, a->y, a->gate, a->token_row, N, D, K);
    }
    for (int s = 0; s < sp->S; s++) {
        size_t at = (size_t)s * F * D;  // shared expert s in its stacks (and their transposes)
        const real *w1t = transposed(m, r, bp->shared_w1), *w2t = transposed(m, r, bp->shared_w2);
        ffn_forward(r->tmp, a->sh_hpre + (size_t)s * N * F, r->hact, a->u, PARAM(m, bp->shared_w1) + at,
                    PARAM(m, bp->shared_w2) + at, w1t ? w1t + at : NULL, w2t ? w2t + at : NULL, N, D, F, r->wt);
        if (whole) add_parallel(out, out, r->tmp, ND);
    }
}
