// model.c — assembles the blocks: the parameter table, the activation slab, and the forward and
// backward passes over the whole model (decoder or router-only). Equations: docs/MODEL.md.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "balance.h"
#include "gemm.h"
#include "layers.h"
#include "moe.h"
#include "block.h"
#include "reduce.h"

#define PARAM(m, i) ((m)->params + (m)->table.info[i].offset)
#define GRAD(m, i) ((m)->grads + (m)->table.info[i].offset)

static int fail(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return -1;
}

// ---- parameter table --------------------------------------------------------------------------

// Appends an entry; a full table (param_add returns -1) is remembered in *full.
static int add(Model *m, const char *name, ParamKind kind, int count, int rows, int cols, int *full) {
    int i = param_add(&m->table, name, kind, count, rows, cols);
    if (i < 0) *full = 1;
    return i;
}

static int build_table(Model *m) {
    const ModelSpec *sp = &m->spec;
    int D = sp->D, E = sp->E, F = sp->F, S = sp->S;
    char name[PARAM_NAME_MAX];
    int full = 0;
    m->i_wte = m->i_wpe = m->i_final_norm = m->i_head = -1;
    if (sp->kind == MODEL_DECODER) {
        m->i_wte = add(m, "wte", PARAM_EMBED, 1, sp->V, D, &full);
        if (sp->attention) m->i_wpe = add(m, "wpe", PARAM_POS, 1, sp->T, D, &full);
    }
    for (int l = 0; l < sp->L; l++) {
        BlockParams *bp = &m->bp[l];
        bp->att_norm = bp->wqkv = bp->wo = bp->moe_norm = bp->w1 = bp->w2 = bp->shared_w1 = bp->shared_w2 = -1;
#define ADD(field, suffix, kind, count, rows, cols) \
        do { snprintf(name, sizeof name, "blocks.%d." suffix, l); bp->field = add(m, name, kind, count, rows, cols, &full); } while (0)
        if (sp->kind == MODEL_DECODER) {
            if (sp->attention) {
                ADD(att_norm, "att_norm", PARAM_GAIN, 1, 1, D);
                ADD(wqkv, "wqkv", PARAM_ATTN, 1, 3 * D, D);
                ADD(wo, "wo", PARAM_ATTN, 1, D, D);
            }
            ADD(moe_norm, "moe_norm", PARAM_GAIN, 1, 1, D);
        }
        ADD(router, "router", PARAM_ROUTER, 1, E, D);
        if (sp->kind == MODEL_DECODER) {
            ADD(w1, "w1", PARAM_EXPERT, E, F, D);
            ADD(w2, "w2", PARAM_EXPERT, E, D, F);
            if (S > 0) {
                ADD(shared_w1, "shared_w1", PARAM_EXPERT, S, F, D);
                ADD(shared_w2, "shared_w2", PARAM_EXPERT, S, D, F);
            }
        }
#undef ADD
    }
    if (sp->kind == MODEL_DECODER) {
        m->i_final_norm = add(m, "final_norm", PARAM_GAIN, 1, 1, D, &full);
        m->i_head = add(m, "head", PARAM_HEAD, 1, sp->V, D, &full);
    }
    return full ? -1 : 0;
}

// ---- activation slab: one measuring pass, one allocation, one carving pass --------------------

typedef struct { real *r; int32_t *i; double *d; size_t nr, ni, nd; } Carver;

static real *take_r(Carver *c, size_t n) { real *p = c->r ? c->r + c->nr : NULL; c->nr += n; return p; }
static int32_t *take_i(Carver *c, size_t n) { int32_t *p = c->i ? c->i + c->ni : NULL; c->ni += n; return p; }
static double *take_d(Carver *c, size_t n) { double *p = c->d ? c->d + c->nd : NULL; c->nd += n; return p; }

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

// The decoder's shared scratch: one region whose parts are live at different moments of a step,
// so they overlap (offsets from its start; its size is the largest end). The moments:
//   experts   a block's experts, forward or backward: [ A | x_rows | dhid | dx_rows ∪ wt_experts ]
//             with A = hpre | y | sh_hpre with recompute (one block's worth, every block's),
//             empty without (each block keeps its own); the output gradient of the rows
//             overwrites y in place
//   router    the rest of a block's MoE backward, once the rows are done: du over x_rows (the
//             shared experts' backward still reads dhid), dz | ds | dp | dpb from dx_rows
//   head      from the last block's output to the head's backward: [ A | h_final | f_norm |
//             logits | probs ], h_final over x_rows (the block writes its output once its
//             experts are done); A stays, so the last block needs no recomputation of its experts
//   attention a block's attention, forward or backward: without recompute [ att_scratch ∪ da |
//             dqkv ]; with recompute [ qkv | att_p ∪ da | att_o | att_scratch ∪ att_a | dqkv ]
//             (att_a is needed before the attention and after its backward: recomputed then)
//   tmp       after the attention's and the head's parts, and with shared experts after dhid
// So the logits stay valid after a forward (evaluation reads them) until the next pass.
static void carve_shared(Model *m, Carver *c) {
    const ModelSpec *sp = &m->spec;
    size_t B = sp->max_batch, T = sp->T, N = B * T, D = sp->D, E = sp->E, K = sp->K, F = sp->F, S = sp->S;
    size_t H = sp->H, V = sp->V, NK = N * K, ND = N * D;
    int rc = sp->recompute;
    // experts
    size_t A = rc ? NK * F + NK * D + S * N * F : 0;
    size_t x_at = A, dhid_at = x_at + NK * D, dxw_at = dhid_at + max2(NK, N) * F;
    size_t end = dxw_at + max2(NK * D, E * F * D);
    // router: du over x_rows (N <= N*K rows), then the N x E gradients
    end = max2(end, dxw_at + 4 * N * E);
    // head
    size_t head_at = x_at + ND;  // after h_final
    end = max2(end, head_at + ND + 2 * N * V);
    // attention
    size_t scr = sp->attention ? attention_scratch((int)B, (int)T, (int)D, (int)H) : 0;
    size_t qkv_at = 0, p_at = 0, o_at = 0, scr_at = 0, dqkv_at = 0, da_at = 0, a_at = 0;
    if (sp->attention) {
        if (rc) {
            p_at = qkv_at + 3 * ND;
            o_at = p_at + max2(B * H * T * T, ND);
            scr_at = o_at + ND;
            dqkv_at = scr_at + max2(scr, ND);
            da_at = p_at;
            a_at = scr_at;
        } else {
            dqkv_at = scr_at + max2(scr, ND);
            da_at = scr_at;
        }
    }
    size_t att_end = sp->attention ? dqkv_at + 3 * ND : 0, head_end = head_at + ND + 2 * N * V;
    // tmp (the output of Wo, the head's df_norm, the attention's dout; with shared experts their
    // output, added to the block's output) beside whatever is live with it
    size_t tmp_at = max2(att_end, head_end);
    if (S > 0) tmp_at = max2(tmp_at, dxw_at);
    end = max2(max2(end, att_end), tmp_at + ND);
    real *U = take_r(c, end);
#define AT(off) (U ? U + (off) : NULL)
    m->tmp = AT(tmp_at);
    m->x_rows = AT(x_at);
    m->dhid = AT(dhid_at);
    m->dx_rows = AT(dxw_at);
    m->wt_experts = AT(dxw_at);
    m->du = AT(x_at);
    m->dz = AT(dxw_at);
    m->ds = AT(dxw_at + N * E);
    m->dp = AT(dxw_at + 2 * N * E);
    m->dpb = AT(dxw_at + 3 * N * E);
    m->h_final = AT(x_at);
    m->f_norm = AT(head_at);
    m->logits = AT(head_at + ND);
    m->probs = AT(head_at + ND + N * V);
    if (sp->attention) {
        m->att_scratch = AT(scr_at);
        m->dqkv = AT(dqkv_at);
        m->da = AT(da_at);
    }
    if (rc)
        for (int l = 0; l < sp->L; l++) {
            BlockActs *a = &m->blocks[l];
            a->hpre = AT(0);
            a->y = AT(NK * F);
            a->sh_hpre = AT(NK * F + NK * D);
            if (sp->attention) {
                a->qkv = AT(qkv_at);
                a->att_p = AT(p_at);
                a->att_o = AT(o_at);
                a->att_a = AT(a_at);
            }
        }
#undef AT
}

static void carve(Model *m, Carver *c) {
    const ModelSpec *sp = &m->spec;
    size_t B = sp->max_batch, T = sp->T, N = B * T, D = sp->D, E = sp->E, K = sp->K, F = sp->F, S = sp->S;
    size_t H = sp->H, V = sp->V, NK = N * K;
    int dec = sp->kind == MODEL_DECODER, rc = dec && sp->recompute;
    for (int l = 0; l < sp->L; l++) {
        BlockActs *a = &m->blocks[l];
        const BlockActs *b0 = &m->blocks[0];
        if (dec) {
            a->h_in = take_r(c, N * D);
            a->h_mid = sp->attention ? take_r(c, N * D) : a->h_in;
            // What only the backward reads: every block's own, or with recompute one block's
            // worth that every block shares (in the shared scratch; model_backward recomputes it
            // block by block), but for the norms' 1/rms.
            if (rc) {
                a->att_rstd = l ? b0->att_rstd : sp->attention ? take_r(c, N) : NULL;
                a->moe_rstd = l ? b0->moe_rstd : take_r(c, N);
            } else {
                if (sp->attention) {
                    a->att_a = take_r(c, N * D);
                    a->att_rstd = take_r(c, N);
                    a->qkv = take_r(c, N * 3 * D);
                    a->att_p = take_r(c, B * H * T * T);
                    a->att_o = take_r(c, N * D);
                }
                a->moe_rstd = take_r(c, N);
                a->hpre = take_r(c, NK * F);
                a->y = take_r(c, NK * D);
                a->sh_hpre = take_r(c, S * N * F);
            }
        }
        // the router's input and scores: with recompute one block's worth (model_layer_view)
        if (rc && l > 0) {
            a->u = b0->u; a->z = b0->z; a->s = b0->s; a->p = b0->p; a->pb = b0->pb;
        } else {
            a->u = take_r(c, N * D);
            a->z = take_r(c, N * E);
            a->s = take_r(c, N * E);
            a->p = take_r(c, N * E);
            a->pb = sp->p_source == PSRC_TOPK ? take_r(c, N * E) : a->p;
        }
        a->gate = take_r(c, N * K);
        a->topk = take_i(c, N * K);
        a->expert_start = take_i(c, E + 1);
        a->row_token = take_i(c, NK);
        a->token_row = take_i(c, NK);
        a->load = take_i(c, E);
        a->bal_f = take_d(c, B * E);
        a->bal_P = take_d(c, B * E);
        a->seq_f = take_d(c, B * E);
        a->seq_P = take_d(c, B * E);
        a->wsq = dec ? take_d(c, E) : NULL;
    }
    m->targets = take_i(c, N);
    m->perm = take_i(c, N);
    if (dec) m->f_rstd = take_r(c, N);
    size_t wmax = E * D;
    if (dec) {
        size_t cand[] = {3 * D * D, F * D, V * D};
        for (size_t i = 0; i < 3; i++) wmax = cand[i] > wmax ? cand[i] : wmax;
    }
    m->wt = take_r(c, wmax);
    m->dgate = take_r(c, N * K);
    if (dec) {
        m->dh = take_r(c, N * D);
        carve_shared(m, c);
    } else {  // the router model: no block output to stage, no residual gradient, E classes
        m->probs = take_r(c, N * E);
        m->du = take_r(c, N * D);
        m->dz = take_r(c, N * E);
        m->ds = take_r(c, N * E);
        m->dp = take_r(c, N * E);
        m->dpb = take_r(c, N * E);
    }
}

// Everything model_build does before it allocates the big arrays: the checks of the spec, the
// parameter table and the measuring pass over the activation slab (c's counts). model_sizes stops
// here, so an estimate of the memory and the allocation read the same numbers.
static int model_layout(Model *m, const ModelSpec *spec, Carver *c, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->spec = *spec;
    ModelSpec *sp = &m->spec;
    if (sp->kind == MODEL_ROUTER) { sp->L = 1; sp->attention = 0; sp->S = 0; }
    if (sp->D <= 0 || sp->E <= 0 || sp->K <= 0 || sp->T <= 0 || sp->L <= 0 || sp->max_batch <= 0)
        return fail(err, errlen, "model: every size must be positive");
    if (sp->K > sp->E) return fail(err, errlen, "model: top_k must not exceed experts");
    if (sp->E > 1024) return fail(err, errlen, "model: at most 1024 experts");
    if (sp->kind == MODEL_DECODER) {
        if (sp->V <= 1 || sp->F <= 0) return fail(err, errlen, "model: vocab and d_ff must be positive");
        if (sp->attention && (sp->H <= 0 || sp->D % sp->H)) return fail(err, errlen, "model: heads must divide d_model");
    }
    m->bp = calloc((size_t)sp->L, sizeof *m->bp);
    m->blocks = calloc((size_t)sp->L, sizeof *m->blocks);
    if (!m->bp || !m->blocks) { model_free(m); return fail(err, errlen, "model: out of memory"); }
    if (build_table(m) != 0) { model_free(m); return fail(err, errlen, "model: parameter table overflow"); }
    memset(c, 0, sizeof *c);
    carve(m, c);                                // measuring pass
    m->slab_len = c->nr; m->islab_len = c->ni; m->dslab_len = c->nd;
    return 0;
}

int model_sizes(const ModelSpec *spec, ModelSizes *out, ParamTable *table, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    Model *m = malloc(sizeof *m);               // ~80 KB of table: not for the stack
    if (!m) return fail(err, errlen, "model: out of memory");
    Carver c;
    if (model_layout(m, spec, &c, err, errlen) != 0) { free(m); return -1; }
    out->params = m->table.total;
    out->bias = (size_t)m->spec.L * m->spec.E;
    out->slab = c.nr; out->islab = c.ni; out->dslab = c.nd;
    if (table) *table = m->table;
    model_free(m);
    free(m);
    return 0;
}

// bytes as text in binary units: "512 B", "3.2 MiB", "1.9 GiB" (nn/ has no io.h).
static const char *bytes_text(char *buf, size_t cap, double bytes) {
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) { bytes /= 1024; u++; }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

// calloc(n, size), or NULL with err naming what could not be had and how much it was.
static void *alloc_named(size_t n, size_t size, const char *what, char *err, size_t errlen, int *bad) {
    if (*bad) return NULL;
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        *bad = 1;
        char sz[32];
        snprintf(err, errlen, "model: out of memory allocating %s (%s)", what, bytes_text(sz, sizeof sz, (double)n * size));
    }
    return p;
}

int model_build(Model *m, const ModelSpec *spec, char *err, size_t errlen) {
    Carver c;
    if (model_layout(m, spec, &c, err, errlen) != 0) return -1;
    const ModelSpec *sp = &m->spec;
    gemm_path();                                // choose the matrix kernels before any thread runs
    int bad = 0;                                // the first failure names its buffer
    m->params = alloc_named(m->table.total, sizeof(real), "the parameters", err, errlen, &bad);
    m->grads = alloc_named(m->table.total, sizeof(real), "the gradients", err, errlen, &bad);
    m->bias = alloc_named((size_t)sp->L * sp->E, sizeof(real), "the aux-free biases", err, errlen, &bad);
    m->slab = alloc_named(c.nr, sizeof(real), "the activations", err, errlen, &bad);
    m->islab = alloc_named(c.ni, sizeof(int32_t), "the integer activations (routing)", err, errlen, &bad);
    m->dslab = alloc_named(c.nd, sizeof(double), "the balancing statistics", err, errlen, &bad);
    if (bad) { model_free(m); return -1; }
    Carver real_c = {m->slab, m->islab, m->dslab, 0, 0, 0};
    carve(m, &real_c);                          // carving pass
    return 0;
}

void model_free(Model *m) {
    free(m->params); free(m->grads); free(m->bias); free(m->slab); free(m->islab); free(m->dslab);
    free(m->bp); free(m->blocks);
    memset(m, 0, sizeof *m);
}

// ---- initialization ---------------------------------------------------------------------------

void model_init_params(Model *m, uint64_t seed, double init_std, double embed_shared) {
    Rng rng;
    rng_seed(&rng, seed, 1);  // stream 1: initialization
    // Output projections into the residual stream are scaled by 1/sqrt(2L) (GPT-2), so the
    // stream's variance does not grow with depth at initialization.
    double resid_std = init_std / sqrt(2.0 * m->spec.L);
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.info[i];
        real *w = m->params + p->offset;
        size_t n = param_numel(p);
        int is_out = strstr(p->name, ".wo") || strstr(p->name, "w2");
        double std = is_out ? resid_std : init_std;
        for (size_t j = 0; j < n; j++) w[j] = p->kind == PARAM_GAIN ? 1 : (real)(std * rng_normal(&rng));
    }
    if (embed_shared > 0 && m->i_wte >= 0) {
        // one common random direction of norm embed_shared added to every token embedding
        int D = m->spec.D;
        double dir[4096], norm = 0;
        for (int i = 0; i < D; i++) { dir[i] = rng_normal(&rng); norm += dir[i] * dir[i]; }
        norm = sqrt(norm);
        real *wte = PARAM(m, m->i_wte);
        for (int v = 0; v < m->spec.V; v++)
            for (int i = 0; i < D; i++) wte[(size_t)v * D + i] += (real)(embed_shared * dir[i] / norm);
    }
    memset(m->bias, 0, sizeof(real) * (size_t)m->spec.L * m->spec.E);
}

// Zeroes n floats in 64 KiB pieces over the threads: one core alone cannot fill the memory bus.
static void zero_parallel(real *x, size_t n) {
    enum { PIECE = 16384 };
    const long long pieces = (long long)((n + PIECE - 1) / PIECE);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (pieces > 4)
#endif
    for (long long p = 0; p < pieces; p++) {
        size_t lo = (size_t)p * PIECE, hi = lo + PIECE < n ? lo + PIECE : n;
        memset(x + lo, 0, sizeof(real) * (hi - lo));
    }
}

// 1 for the routed experts' w1 and w2 entries: their gradients are written whole by
// model_backward (experts_backward), never zeroed here, and their norm comes from wsq.
static int written_by_backward(const Model *m, int i) {
    for (int l = 0; l < m->spec.L; l++)
        if (i == m->bp[l].w1 || i == m->bp[l].w2) return 1;
    return 0;
}

// Every gradient but the routed experts' weights: the runs between them, in table order.
void model_zero_grads(Model *m) {
    size_t from = 0;  // start of the run being collected
    for (int i = 0; i < m->table.n; i++) {
        if (!written_by_backward(m, i)) continue;
        zero_parallel(m->grads + from, m->table.info[i].offset - from);
        from = m->table.info[i].offset + param_numel(&m->table.info[i]);
    }
    zero_parallel(m->grads + from, m->table.total - from);
}

double model_grad_norm(const Model *m) {
    double total = 0.0;
    size_t from = 0;
    for (int i = 0; i < m->table.n; i++) {  // the same runs as model_zero_grads, in table order
        if (!written_by_backward(m, i)) continue;
        total += sum_squares(m->grads + from, m->table.info[i].offset - from);
        from = m->table.info[i].offset + param_numel(&m->table.info[i]);
    }
    total += sum_squares(m->grads + from, m->table.total - from);
    if (m->spec.kind == MODEL_DECODER)
        for (int l = 0; l < m->spec.L; l++)
            for (int e = 0; e < m->spec.E; e++) total += m->blocks[l].wsq[e];  // layer, expert order
    return sqrt(total);
}

// ---- routing and balancing (shared by both model kinds) ---------------------------------------

// Tokens per group of the switch/l2 statistics, and where f is counted.
static void balance_groups(const ModelSpec *sp, int B, int micro, int *gsize, int *f_from) {
    int T = sp->T, N = B * T;
    switch (sp->bal_scope) {
    case SCOPE_SEQUENCE: *gsize = T; *f_from = F_FROM_GROUP; break;
    case SCOPE_GLOBAL:
        // switch: P per micro-batch, f over the whole batch (Qiu et al.); l2 has no f: one group
        *gsize = sp->bal_method == BAL_L2 ? N : micro * T; *f_from = F_FROM_BATCH; break;
    case SCOPE_SHUFFLE: *gsize = micro * T; *f_from = F_FROM_SHUFFLE; break;
    default: *gsize = micro * T; *f_from = F_FROM_GROUP; break;
    }
}

// The balancing statistics and losses of block l from its routing (block_route's s, p, topk).
static void balance_forward(Model *m, int l, const Batch *b) {
    const ModelSpec *sp = &m->spec;
    BlockActs *a = &m->blocks[l];
    int N = b->B * sp->T, E = sp->E, K = sp->K;
    expert_load(a->load, a->topk, N, E, K);
    a->maxvio = load_maxvio(a->load, E, N * K);
    a->aux = a->zl = a->seq_aux = 0;
    int gsize, f_from;
    balance_groups(sp, b->B, b->micro, &gsize, &f_from);
    if (sp->bal_method == BAL_SWITCH) {
        if (sp->p_source == PSRC_TOPK) topk_probs_forward(a->pb, a->s, a->topk, N, E, K);
        a->aux = switch_loss_forward(a->bal_f, a->bal_P, a->pb, a->topk, N, E, K, gsize, f_from,
                                     b->shuffle_seed, m->perm);
    } else if (sp->bal_method == BAL_L2) {
        a->aux = l2_loss_forward(a->bal_P, a->p, N, E, gsize);
    }
    if (sp->z_alpha > 0) a->zl = zloss_forward(a->z, N, E);
    if (sp->seq_alpha > 0)
        a->seq_aux = switch_loss_forward(a->seq_f, a->seq_P, a->p, a->topk, N, E, K, sp->T, F_FROM_GROUP, 0, NULL);
}

// dz of the router from the gate gradient (m->dgate, decoder only) and the balancing terms, then
// the router's weight gradient and du += dz·P.
static void route_backward(Model *m, int l, const Batch *b, int has_gates) {
    const ModelSpec *sp = &m->spec;
    BlockActs *a = &m->blocks[l];
    int N = b->B * sp->T, D = sp->D, E = sp->E, K = sp->K;
    size_t NE = (size_t)N * E;
    memset(m->ds, 0, sizeof(real) * NE);
    memset(m->dp, 0, sizeof(real) * NE);
    if (has_gates) {
        int normalize = sp->score == SCORE_SIGMOID || sp->gate_norm;
        router_gates_backward(m->ds, m->dgate, a->s, a->gate, a->topk, N, E, K, normalize);
    }
    int gsize, f_from;
    balance_groups(sp, b->B, b->micro, &gsize, &f_from);
    if (sp->bal_method == BAL_SWITCH && sp->alpha > 0) {
        if (sp->p_source == PSRC_TOPK) {
            memset(m->dpb, 0, sizeof(real) * NE);
            switch_loss_backward(m->dpb, a->bal_f, N, E, gsize, sp->alpha);
            topk_probs_backward(m->ds, m->dpb, a->s, a->pb, a->topk, N, E, K);
        } else {
            switch_loss_backward(m->dp, a->bal_f, N, E, gsize, sp->alpha);
        }
    } else if (sp->bal_method == BAL_L2 && sp->alpha > 0) {
        l2_loss_backward(m->dp, a->bal_P, N, E, gsize, sp->alpha);
    }
    if (sp->seq_alpha > 0) switch_loss_backward(m->dp, a->seq_f, N, E, sp->T, sp->seq_alpha);
    memset(m->dz, 0, sizeof(real) * NE);
    router_scores_backward(m->dz, m->ds, m->dp, a->s, a->p, N, E, sp->score);
    if (sp->z_alpha > 0) zloss_backward(m->dz, a->z, N, E, sp->z_alpha);
    if (sp->kind == MODEL_ROUTER && b->target)
        crossentropy_backward(m->dz, m->probs, m->targets, N, E, (real)(1.0 / N));
    matmul_backward_weight(GRAD(m, m->bp[l].router), m->dz, a->u, N, D, E);   // dP[E x D] += dzᵀ·u
    matmul_backward_input(m->du, m->dz, PARAM(m, m->bp[l].router), N, D, E);  // du[N x D] += dz·P
}

// ---- forward ----------------------------------------------------------------------------------

static void sum_losses(Model *m, Losses *out, double ce) {
    const ModelSpec *sp = &m->spec;
    out->ce = ce;
    out->aux = out->z = out->seq_aux = 0;
    for (int l = 0; l < sp->L; l++) {
        out->aux += m->blocks[l].aux;
        out->z += m->blocks[l].zl;
        out->seq_aux += m->blocks[l].seq_aux;
    }
    double aux_coef = sp->bal_method == BAL_SWITCH || sp->bal_method == BAL_L2 ? sp->alpha : 0;
    out->loss = ce + aux_coef * out->aux + sp->z_alpha * out->z + sp->seq_alpha * out->seq_aux;
}

// A block's settings and scratch for a forward over b (full causal attention, matrices
// transposed at each product).
static BlockRun block_run(Model *m, const Batch *b, const ForwardSwitches *sw) {
    BlockRun r = {.N = b->B * m->spec.T, .sw = sw, .wt = m->wt, .wt_experts = m->wt_experts, .tmp = m->tmp,
                  .x_rows = m->x_rows, .hact = m->dhid, .att = {.B = b->B, .att_scratch = m->att_scratch}};
    return r;
}

static int forward_router(Model *m, const Batch *b, const ForwardSwitches *sw, Losses *out) {
    const ModelSpec *sp = &m->spec;
    int N = b->B * sp->T, E = sp->E;
    if (!b->hidden) return -1;
    memcpy(m->blocks[0].u, b->hidden, sizeof(real) * (size_t)N * sp->D);
    BlockRun r = block_run(m, b, sw);
    block_route(m, 0, &m->blocks[0], &r);
    balance_forward(m, 0, b);
    double ce = 0;
    if (b->target) {
        for (int n = 0; n < N; n++) {
            if (b->target[n] >= E) return -1;
            m->targets[n] = b->target[n];
        }
        ce = crossentropy_forward(m->probs, m->blocks[0].z, m->targets, N, E) / N;
    }
    sum_losses(m, out, ce);
    return 0;
}

int model_forward(Model *m, const Batch *b, const ForwardSwitches *sw, Losses *out) {
    const ModelSpec *sp = &m->spec;
    if (b->B <= 0 || b->B > sp->max_batch || b->micro <= 0 || b->B % b->micro) return -1;
    m->B = b->B;
    if (sp->kind == MODEL_ROUTER) return forward_router(m, b, sw, out);
    if (!b->tokens) return -1;
    int B = b->B, T = sp->T, N = B * T, D = sp->D, V = sp->V;
    for (int i = 0; i < B * (T + 1); i++)
        if (b->tokens[i] < 0 || b->tokens[i] >= V) return -1;
    for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++) m->targets[bb * T + t] = b->tokens[(size_t)bb * (T + 1) + t + 1];

    embed_forward(m->blocks[0].h_in, b->tokens, PARAM(m, m->i_wte), m->i_wpe >= 0 ? PARAM(m, m->i_wpe) : NULL, B, T, D);
    BlockRun r = block_run(m, b, sw);
    for (int l = 0; l < sp->L; l++) {
        block_forward(m, l, &m->blocks[l], l + 1 < sp->L ? m->blocks[l + 1].h_in : m->h_final, &r);
        balance_forward(m, l, b);
    }
    m->view_layer = sp->L - 1;
    rmsnorm_forward(m->f_norm, m->f_rstd, m->h_final, PARAM(m, m->i_final_norm), N, D);
    matmul_forward(m->logits, m->f_norm, PARAM(m, m->i_head), N, D, V, m->wt);          // [N x V]
    double ce = crossentropy_forward(m->probs, m->logits, m->targets, N, V) / N;
    sum_losses(m, out, ce);
    return 0;
}

// ---- backward ---------------------------------------------------------------------------------

void model_backward(Model *m, const Batch *b) {
    const ModelSpec *sp = &m->spec;
    int B = b->B, T = sp->T, N = B * T, D = sp->D, E = sp->E, K = sp->K, F = sp->F, V = sp->V;
    size_t ND = (size_t)N * D;
    if (sp->kind == MODEL_ROUTER) {
        memset(m->du, 0, sizeof(real) * ND);  // the given hidden states take no gradient
        route_backward(m, 0, b, 0);
        return;
    }
    // head and final norm: dlogits overwrites the logits
    zero_parallel(m->logits, (size_t)N * V);
    crossentropy_backward(m->logits, m->probs, m->targets, N, V, (real)(1.0 / N));
    matmul_backward_weight(GRAD(m, m->i_head), m->logits, m->f_norm, N, D, V);   // dhead[V x D]
    matmul_input_grad_set(m->tmp, m->logits, PARAM(m, m->i_head), N, D, V);      // df_norm[N x D]
    zero_parallel(m->dh, ND);
    rmsnorm_backward(m->dh, GRAD(m, m->i_final_norm), m->tmp, m->h_final, PARAM(m, m->i_final_norm), m->f_rstd, N, D);

    // recompute: block l's experts again from its kept h_mid and choices into the shared buffers
    // (the last block's are still there), then after their backward its attention from its kept
    // input (every block's: the head's buffers and the experts overwrote the last one's). The
    // selection stays the forward's, so any evaluation switches of the forward need not be known.
    const ForwardSwitches keep_selection = {.freeze_selection = 1};
    BlockRun rerun = block_run(m, b, &keep_selection);
    for (int l = sp->L - 1; l >= 0; l--) {
        BlockActs *a = &m->blocks[l];
        const BlockParams *bp = &m->bp[l];
        if (sp->recompute && l != m->view_layer) {
            rerun.part = BLOCK_EXPERTS;
            block_forward(m, l, a, NULL, &rerun);
            if (sp->bal_method == BAL_SWITCH && sp->p_source == PSRC_TOPK)  // as balance_forward
                topk_probs_forward(a->pb, a->s, a->topk, N, E, K);
            m->view_layer = l;
        }
        // m->dh holds dL/d(block output); the residual passes it to h_mid unchanged. The rows'
        // output gradient overwrites their outputs y.
        moe_combine_backward(a->y, m->dgate, m->dh, a->y, a->gate, a->token_row, N, D, K);
        moe_gather_rows(m->x_rows, a->u, a->row_token, a->expert_start[E], D);  // again: cheaper than caching per block
        experts_backward(m->dx_rows, GRAD(m, bp->w1), GRAD(m, bp->w2), a->y, m->x_rows, a->hpre,
                         PARAM(m, bp->w1), PARAM(m, bp->w2), a->expert_start, E, D, F, m->dhid, a->wsq);
        zero_parallel(m->du, ND);
        moe_gather_backward(m->du, m->dx_rows, a->token_row, N, D, K);
        for (int s = 0; s < sp->S; s++) {
            size_t off = (size_t)s * N * F;
            ffn_backward(m->du, GRAD(m, bp->shared_w1) + (size_t)s * F * D, GRAD(m, bp->shared_w2) + (size_t)s * D * F,
                         m->dh, a->u, a->sh_hpre + off, PARAM(m, bp->shared_w1) + (size_t)s * F * D,
                         PARAM(m, bp->shared_w2) + (size_t)s * D * F, N, D, F, m->dhid, 0);
        }
        route_backward(m, l, b, 1);
        // through the router-input norm: dh becomes dL/dh_mid
        rmsnorm_backward(m->dh, GRAD(m, bp->moe_norm), m->du, a->h_mid, PARAM(m, bp->moe_norm), a->moe_rstd, N, D);
        if (sp->attention) {
            if (sp->recompute) {
                rerun.part = BLOCK_ATTENTION;
                block_forward(m, l, a, NULL, &rerun);
            }
            matmul_backward_weight(GRAD(m, bp->wo), m->dh, a->att_o, N, D, D);     // dWo[D x D]
            matmul_input_grad_set(m->tmp, m->dh, PARAM(m, bp->wo), N, D, D);       // datt_o[N x D]
            zero_parallel(m->dqkv, ND * 3);
            attention_backward(m->dqkv, m->tmp, a->qkv, a->att_p, m->att_scratch, B, T, D, sp->H);
            if (sp->recompute)  // att_a shares its memory with the attention's scratch: again (same bits)
                rmsnorm_forward(a->att_a, a->att_rstd, a->h_in, PARAM(m, bp->att_norm), N, D);
            matmul_backward_weight(GRAD(m, bp->wqkv), m->dqkv, a->att_a, N, D, 3 * D);  // dWqkv[3D x D]
            matmul_input_grad_set(m->da, m->dqkv, PARAM(m, bp->wqkv), N, D, 3 * D);    // da[N x D]
            rmsnorm_backward(m->dh, GRAD(m, bp->att_norm), m->da, a->h_in, PARAM(m, bp->att_norm), a->att_rstd, N, D);
        }
    }
    embed_backward(GRAD(m, m->i_wte), m->i_wpe >= 0 ? GRAD(m, m->i_wpe) : NULL, m->dh, b->tokens, B, T, D);
}

void model_layer_view(Model *m, int l) {
    const ModelSpec *sp = &m->spec;
    if (!sp->recompute || sp->kind != MODEL_DECODER || l == m->view_layer) return;
    BlockActs *a = &m->blocks[l];
    const ForwardSwitches keep_selection = {.freeze_selection = 1};
    BlockRun r = {.N = m->B * sp->T, .sw = &keep_selection, .wt = m->wt};
    rmsnorm_forward(a->u, a->moe_rstd, a->h_mid, PARAM(m, m->bp[l].moe_norm), r.N, sp->D);
    block_route(m, l, a, &r);
    if (sp->bal_method == BAL_SWITCH && sp->p_source == PSRC_TOPK)
        topk_probs_forward(a->pb, a->s, a->topk, r.N, sp->E, sp->K);
    m->view_layer = l;
}

void model_update_bias(Model *m) {
    const ModelSpec *sp = &m->spec;
    if (sp->bal_method != BAL_AUXFREE) return;
    int NK = m->B * sp->T * sp->K;
    for (int l = 0; l < sp->L; l++)
        auxfree_update(m->bias + (size_t)l * sp->E, m->blocks[l].load, sp->E, NK, sp->bias_rate,
                       sp->bias_update, sp->bias_center);
}
