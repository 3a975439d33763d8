// test_recompute.c — activation recomputation (ModelSpec.recompute, train.recompute): the same
// model with and without it gives the same loss and gradients bit for bit, after a forward that
// leaves every layer's routing caches (u, z, topk, h_mid: what evaluation reads) as without it;
// with evaluation switches in the forward (the recomputed block keeps the forward's selection);
// with and without attention, shared experts and aux-free biases, P from the top-K, and at sizes
// that reorder the shared scratch's parts; the logits after the forward
// (in scratch memory the blocks share) and every layer's router input and logits through
// model_layer_view, read in any order. Its activation slab is smaller by at least L-1 blocks'
// worth of attention, router and expert caches, and a layer more adds only what a block keeps;
// a decode prefill on it (which reads every layer's keys and values) gives the same keys, values
// and logits.
// covers: nn/model.c nn/block.c nn/decode.c
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "../nn/model.h"

typedef struct {
    double loss;
    real *grads, *caches;  // gradients; every layer's u | z | h_mid after the forward, then the logits
    int32_t *topk;         // every layer's topk
    size_t ng, nc, nk;
} Outcome;

// p_topk: the switch loss's P from the renormalized top-K probabilities (a cache the
// recomputation must refill too), rather than the full softmax
static int p_topk;
// odd_shape: sizes where the shared scratch's parts change order (H·T < D: the probabilities
// smaller than a row block; E·F > K·N: the transposed experts larger than the rows; 4E > K·D:
// the router's gradients past them; a vocabulary larger than the rest; two shared experts)
static int odd_shape;

static ModelSpec spec_of(int attention, int shared, int auxfree, int recompute) {
    ModelSpec sp = {0};
    sp.kind = MODEL_DECODER; sp.V = 31; sp.D = 16; sp.L = 3; sp.H = 2; sp.attention = attention; sp.T = 8;
    sp.E = 6; sp.K = 2; sp.F = 12; sp.S = shared; sp.max_batch = 4;
    sp.bal_method = auxfree ? BAL_AUXFREE : BAL_SWITCH; sp.bal_scope = SCOPE_GLOBAL; sp.alpha = 0.01;
    sp.z_alpha = 0.001; sp.seq_alpha = 0.01; sp.bias_rate = 0.01;
    sp.recompute = recompute;
    sp.p_source = p_topk ? PSRC_TOPK : PSRC_FULL;
    if (odd_shape) { sp.V = 200; sp.D = 32; sp.T = 4; sp.E = 16; sp.K = 1; sp.F = 24; sp.S = 2 * (shared > 0); }
    return sp;
}

// One forward and backward; sw: the forward's switches (NULL: plain).
static int run(const ModelSpec *sp, const ForwardSwitches *sw, Outcome *o) {
    Model m;
    char err[160];
    memset(o, 0, sizeof *o);
    if (model_build(&m, sp, err, sizeof err) != 0) { CHECK_MSG(0, "model_build: %s", err); return -1; }
    model_init_params(&m, 7, 0.2, 0);
    for (int i = 0; i < sp->L * sp->E; i++) m.bias[i] = (real)(0.01 * (i % 5) - 0.02);
    int32_t tok[4 * 9];  // T <= 8
    Rng r;
    rng_seed(&r, 11, 0);
    for (int i = 0; i < 4 * (sp->T + 1); i++) tok[i] = (int32_t)rng_below(&r, (uint64_t)sp->V);
    Batch b = {.B = 4, .micro = 2, .tokens = tok};
    Losses l;
    model_zero_grads(&m);
    int ok = model_forward(&m, &b, sw, &l) == 0;
    CHECK(ok);
    const size_t N = 4 * (size_t)sp->T, D = sp->D, E = sp->E, K = sp->K;
    const size_t NV = N * sp->V;
    o->nc = sp->L * N * (2 * D + E) + NV;
    o->nk = sp->L * N * K;
    o->caches = malloc(sizeof(real) * o->nc);
    o->topk = malloc(sizeof(int32_t) * o->nk);
    // read after the whole forward, as evaluation does (through model_layer_view: with recompute
    // the layers share u and z), in an order that leaves no layer where the last one left off
    for (int i = 0; i < sp->L; i++) {
        int layer = (i + 1) % sp->L;
        model_layer_view(&m, layer);
        const BlockActs *a = &m.blocks[layer];
        real *c = o->caches + layer * N * (2 * D + E);
        memcpy(c, a->u, sizeof(real) * N * D); c += N * D;
        memcpy(c, a->z, sizeof(real) * N * E); c += N * E;
        memcpy(c, a->h_mid, sizeof(real) * N * D);
        memcpy(o->topk + layer * N * K, a->topk, sizeof(int32_t) * N * K);
    }
    // the logits share memory with the blocks' scratch: still the forward's after the views
    memcpy(o->caches + sp->L * N * (2 * D + E), m.logits, sizeof(real) * NV);
    if (ok) model_backward(&m, &b);
    o->loss = l.loss;
    o->ng = m.table.total;
    o->grads = malloc(sizeof(real) * o->ng);
    memcpy(o->grads, m.grads, sizeof(real) * o->ng);
    model_free(&m);
    return ok ? 0 : -1;
}

static void outcome_free(Outcome *o) { free(o->grads); free(o->caches); free(o->topk); }

static void same_bits(int attention, int shared, int auxfree, const ForwardSwitches *sw, const char *what) {
    ModelSpec a = spec_of(attention, shared, auxfree, 0), b = spec_of(attention, shared, auxfree, 1);
    Outcome x, y;
    if (run(&a, sw, &x) == 0 && run(&b, sw, &y) == 0) {
        CHECK_MSG(memcmp(&x.loss, &y.loss, sizeof x.loss) == 0, "%s: loss %.17g vs %.17g", what, x.loss, y.loss);
        size_t diff = 0;
        for (size_t i = 0; i < x.ng; i++) diff += memcmp(&x.grads[i], &y.grads[i], sizeof(real)) != 0;
        CHECK_MSG(x.ng == y.ng && diff == 0, "%s: %zu of %zu gradients differ with recompute", what, diff, x.ng);
        CHECK_MSG(memcmp(x.caches, y.caches, sizeof(real) * x.nc) == 0, "%s: a layer's u, z or h_mid, or the logits differ", what);
        CHECK_MSG(memcmp(x.topk, y.topk, sizeof(int32_t) * x.nk) == 0, "%s: a layer's top-K differs", what);
        double gsum = 0;
        for (size_t i = 0; i < x.ng; i++) gsum += x.grads[i] != 0;
        CHECK_MSG(gsum > x.ng / 4, "%s: only %.0f gradients nonzero (the test would prove nothing)", what, gsum);
        outcome_free(&y);
    }
    outcome_free(&x);
}

static void test_same_bits(void) {
    same_bits(1, 0, 0, NULL, "attention, switch");
    same_bits(1, 1, 1, NULL, "attention, shared expert, aux-free");
    same_bits(0, 1, 0, NULL, "no attention, shared expert");
    p_topk = 1;
    same_bits(1, 1, 0, NULL, "attention, shared expert, P from the top-K");
    p_topk = 0;
    odd_shape = 1;
    same_bits(1, 1, 0, NULL, "odd shape, attention, two shared experts");
    same_bits(1, 0, 1, NULL, "odd shape, attention, aux-free");
    odd_shape = 0;
    // an evaluation switch that changes the selection: the backward's recomputation keeps it
    uint8_t allowed[3 * 6];
    for (int i = 0; i < 3 * 6; i++) allowed[i] = i % 6 != 1;
    ForwardSwitches sw = {.mask_top = 1, .allowed = allowed};
    same_bits(1, 0, 0, &sw, "mask_top 1 with expert 1 disallowed");
}

static void test_smaller(void) {
    ModelSpec a = spec_of(1, 1, 0, 0), b = spec_of(1, 1, 0, 1);
    ModelSizes za, zb;
    char err[160];
    CHECK(model_sizes(&a, &za, NULL, err, sizeof err) == 0);
    CHECK(model_sizes(&b, &zb, NULL, err, sizeof err) == 0);
    // per block: att_a, qkv, att_o (N x D, 3D, D), att_rstd, moe_rstd (N), att_p (B H T T),
    // hpre (NK x F), y (NK x D), sh_hpre (S N F), and the router's u (N x D), z, s, p (N x E);
    // L-1 blocks share block 0's (and the scratch overlaps them: at least this much is saved)
    const size_t N = 32, D = 16, E = 6, K = 2, NK = 64, F = 12, B = 4, H = 2, T = 8;
    const size_t block = N * D * 5 + 2 * N + B * H * T * T + NK * F + NK * D + N * F + N * D + 3 * N * E;
    CHECK_MSG(za.slab - zb.slab >= 2 * block, "slab %zu without, %zu with recompute: saved %zu, expected at least %zu",
              za.slab, zb.slab, za.slab - zb.slab, 2 * block);
    CHECK(za.islab == zb.islab && za.params == zb.params);
    // with recompute a layer more keeps only its input, h_mid and gates (reals) and its choices
    ModelSpec c = b;
    c.L = 4;
    ModelSizes zc;
    CHECK(model_sizes(&c, &zc, NULL, err, sizeof err) == 0);
    CHECK_MSG(zc.slab - zb.slab == 2 * N * D + N * K, "a layer more adds %zu reals with recompute, expected %zu",
              zc.slab - zb.slab, 2 * N * D + N * K);
}

// A decode prefill (generate, and pruning's rollouts in a run's final evaluation) reads every
// layer's keys and values: with recompute they are recomputed layer by layer, the same bits.
static void prefill(const ModelSpec *sp, int w, real **kv, size_t *n) {
    Model m;
    Decoder d;
    char err[160];
    *kv = NULL;
    if (model_build(&m, sp, err, sizeof err) != 0) { CHECK_MSG(0, "model_build: %s", err); return; }
    model_init_params(&m, 5, 0.2, 0);
    if (decoder_build(&d, &m) != 0) { CHECK(0); model_free(&m); return; }
    int32_t tok[3 * 8];
    for (int i = 0; i < 3 * 8; i++) tok[i] = (int32_t)((i * 7 + 3) % sp->V);
    CHECK(model_decode_prefill(&m, &d, tok, 8, 3, w, NULL) == 0);
    size_t nkv = (size_t)sp->L * d.R * d.T * sp->D, nl = (size_t)d.R * sp->V;
    *n = 2 * nkv + nl;
    *kv = malloc(sizeof(real) * *n);
    memcpy(*kv, d.kc, sizeof(real) * nkv);
    memcpy(*kv + nkv, d.vc, sizeof(real) * nkv);
    memcpy(*kv + 2 * nkv, d.logits, sizeof(real) * nl);
    decoder_free(&d);
    model_free(&m);
}

static void test_prefill(void) {
    ModelSpec a = spec_of(1, 1, 0, 0), b = spec_of(1, 1, 0, 1);
    // windows of 6 and 3 positions: the logits read (row w-1 of each sequence) lie where the
    // recomputed attention's scratch goes, for w = 3 (the logits must be read first)
    for (int w = 6; w >= 3; w -= 3) {
        real *x, *y;
        size_t nx = 0, ny = 0;
        prefill(&a, w, &x, &nx);
        prefill(&b, w, &y, &ny);
        CHECK_MSG(x && y && nx == ny && memcmp(x, y, sizeof(real) * nx) == 0,
                  "w = %d: a prefill's keys, values or logits differ with recompute", w);
        size_t nz = 0;
        for (size_t i = 0; x && i < nx; i++) nz += x[i] != 0;
        CHECK_MSG(nz > nx / 4, "the prefill left mostly zeros (the comparison would prove little)");
        free(x); free(y);
    }
}

int main(void) {
    test_same_bits();
    test_smaller();
    test_prefill();
    return test_summary("test_recompute");
}
