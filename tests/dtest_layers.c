// dtest_layers.c — every layer's backward against central finite differences, in double.
// Each layer is wrapped as a scalar L = Σ w ⊙ output with fixed random w, so dL/doutput = w.
// covers: nn/embed.c nn/norm.c nn/attention.c nn/moe.c nn/balance.c nn/loss.c
#include <stdlib.h>
#include <string.h>
#include "gradcheck.h"
#include "../nn/balance.h"
#include "../nn/layers.h"
#include "../nn/moe.h"
#include "../nn/model.h"

static Rng rng;
static real *rand_vec(size_t n, double scale) {
    real *v = malloc(sizeof(real) * n);
    for (size_t i = 0; i < n; i++) v[i] = (real)(scale * rng_normal(&rng));
    return v;
}
static real *zeros(size_t n) { return calloc(n, sizeof(real)); }
static double dotw(const real *a, const real *w, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * w[i];
    return s;
}

// ---- embedding ----
enum { EB = 2, ET = 3, ED = 4, EV = 5 };
static struct { real *wte, *wpe, *h, *w; int32_t tok[EB * (ET + 1)]; } emb;
static double emb_loss(void *c) {
    (void)c;
    embed_forward(emb.h, emb.tok, emb.wte, emb.wpe, EB, ET, ED);
    return dotw(emb.h, emb.w, EB * ET * ED);
}
static void test_embedding(void) {
    emb.wte = rand_vec(EV * ED, 1); emb.wpe = rand_vec(ET * ED, 1);
    emb.h = zeros(EB * ET * ED); emb.w = rand_vec(EB * ET * ED, 1);
    int32_t toks[] = {1, 3, 1, 4, 0, 2, 2, 2};  // repeated tokens: the scatter must add
    memcpy(emb.tok, toks, sizeof toks);
    real *dwte = zeros(EV * ED), *dwpe = zeros(ET * ED);
    embed_backward(dwte, dwpe, emb.w, emb.tok, EB, ET, ED);
    gradcheck("embedding wte", emb.wte, dwte, EV * ED, emb_loss, NULL, 100);
    gradcheck("embedding wpe", emb.wpe, dwpe, ET * ED, emb_loss, NULL, 100);
    free(emb.wte); free(emb.wpe); free(emb.h); free(emb.w); free(dwte); free(dwpe);
}

// ---- RMSNorm ----
enum { NN_ = 5, ND_ = 7 };
static struct { real *x, *g, *y, *rstd, *w; } rn;
static double rn_loss(void *c) {
    (void)c;
    rmsnorm_forward(rn.y, rn.rstd, rn.x, rn.g, NN_, ND_);
    return dotw(rn.y, rn.w, NN_ * ND_);
}
static void test_rmsnorm(void) {
    rn.x = rand_vec(NN_ * ND_, 1); rn.g = rand_vec(ND_, 1); rn.y = zeros(NN_ * ND_);
    rn.rstd = zeros(NN_); rn.w = rand_vec(NN_ * ND_, 1);
    real *dx = zeros(NN_ * ND_), *dg = zeros(ND_);
    rn_loss(NULL);
    rmsnorm_backward(dx, dg, rn.w, rn.x, rn.g, rn.rstd, NN_, ND_);
    gradcheck("rmsnorm x", rn.x, dx, NN_ * ND_, rn_loss, NULL, 100);
    gradcheck("rmsnorm g", rn.g, dg, ND_, rn_loss, NULL, 100);
    free(rn.x); free(rn.g); free(rn.y); free(rn.rstd); free(rn.w); free(dx); free(dg);
}

// ---- attention ----
enum { AB = 2, AT = 4, AD = 6, AH = 2 };
static struct { real *qkv, *o, *p, *w, *scratch; } at;
static double at_loss(void *c) {
    (void)c;
    attention_forward(at.o, at.p, at.qkv, at.scratch, AB, AT, AD, AH);
    return dotw(at.o, at.w, AB * AT * AD);
}
static void test_attention(void) {
    at.qkv = rand_vec(AB * AT * 3 * AD, 1); at.o = zeros(AB * AT * AD); at.p = zeros(AB * AH * AT * AT);
    at.w = rand_vec(AB * AT * AD, 1);
    at.scratch = zeros(attention_scratch(AB, AT, AD, AH));
    real *dqkv = zeros(AB * AT * 3 * AD), *dp = zeros(attention_scratch(AB, AT, AD, AH));
    at_loss(NULL);
    attention_backward(dqkv, at.w, at.qkv, at.p, dp, AB, AT, AD, AH);
    gradcheck("attention qkv", at.qkv, dqkv, AB * AT * 3 * AD, at_loss, NULL, 144);
    free(at.qkv); free(at.o); free(at.p); free(at.w); free(at.scratch); free(dqkv); free(dp);
}

// Causality at every position. Guards against a mask that lets position t see t + 1 in the
// forward and the backward alike (e.g. `s <= t + 1` in both): the gradient check above agrees
// with such a layer, and a check at position 0 alone cannot see a leak at t >= 1. For every
// sequence b and every position j, the query, key and value of (b, j) are changed; every output
// at a position < j of sequence b, and every output of the other sequences, must keep its bits,
// and the outputs at positions >= j must move (so the change reached the layer at all).
enum { QB = 2, QT = 7, QD = 6, QH = 2 };
static void test_attention_causal(void) {
    real *qkv = rand_vec(QB * QT * 3 * QD, 1), *o0 = zeros(QB * QT * QD), *o = zeros(QB * QT * QD);
    real *p = zeros(QB * QH * QT * QT), *scratch = zeros(attention_scratch(QB, QT, QD, QH));
    attention_forward(o0, p, qkv, scratch, QB, QT, QD, QH);
    int leaks = 0, inert = 0, cases = 0;
    for (int b = 0; b < QB; b++)
        for (int j = 0; j < QT; j++) {
            real *row = qkv + ((size_t)b * QT + j) * 3 * QD, keep[3 * QD];
            memcpy(keep, row, sizeof keep);
            for (int i = 0; i < 3 * QD; i++) row[i] += (real)(0.5 + 0.1 * i);  // q | k | v of (b, j)
            attention_forward(o, p, qkv, scratch, QB, QT, QD, QH);
            memcpy(row, keep, sizeof keep);
            for (int bb = 0; bb < QB; bb++)
                for (int t = 0; t < QT; t++) {
                    const real *x = o + ((size_t)bb * QT + t) * QD, *x0 = o0 + ((size_t)bb * QT + t) * QD;
                    int moved = memcmp(x, x0, sizeof(real) * QD) != 0;
                    if (moved && (bb != b || t < j)) {
                        leaks++;
                        fprintf(stderr, "attention: changing position %d of sequence %d moved the output at position %d of sequence %d\n",
                                j, b, t, bb);
                    }
                    if (!moved && bb == b && t >= j) inert++;
                }
            cases++;
        }
    CHECK_MSG(leaks == 0, "attention: %d outputs saw a later (or another sequence's) position", leaks);
    CHECK_MSG(inert == 0, "attention: %d outputs at or after a changed position did not move", inert);
    CHECK(cases == QB * QT);
    free(qkv); free(o0); free(o); free(p); free(scratch);
}

// ---- GELU and one expert FFN ----
enum { FN = 5, FD = 4, FF = 6 };
static struct { real *x, *w1, *w2, *y, *hpre, *hact, *wt, *w; } ff;
static double ff_loss(void *c) {
    (void)c;
    ffn_forward(ff.y, ff.hpre, ff.hact, ff.x, ff.w1, ff.w2, NULL, NULL, FN, FD, FF, ff.wt);
    return dotw(ff.y, ff.w, FN * FD);
}
static void test_ffn(void) {
    ff.x = rand_vec(FN * FD, 1); ff.w1 = rand_vec(FF * FD, 1); ff.w2 = rand_vec(FD * FF, 1);
    ff.y = zeros(FN * FD); ff.hpre = zeros(FN * FF); ff.hact = zeros(FN * FF); ff.wt = zeros(FF * FD);
    ff.w = rand_vec(FN * FD, 1);
    real *dx = zeros(FN * FD), *dw1 = zeros(FF * FD), *dw2 = zeros(FD * FF), *dhid = zeros(FN * FF);
    ff_loss(NULL);
    ffn_backward(dx, dw1, dw2, ff.w, ff.x, ff.hpre, ff.w1, ff.w2, FN, FD, FF, dhid, 0);
    gradcheck("expert ffn x", ff.x, dx, FN * FD, ff_loss, NULL, 100);
    gradcheck("expert ffn w1", ff.w1, dw1, FF * FD, ff_loss, NULL, 100);
    gradcheck("expert ffn w2", ff.w2, dw2, FD * FF, ff_loss, NULL, 100);
    free(ff.x); free(ff.w1); free(ff.w2); free(ff.y); free(ff.hpre); free(ff.hact); free(ff.wt); free(ff.w);
    free(dx); free(dw1); free(dw2); free(dhid);
}

// ---- router scores (softmax, sigmoid) ----
enum { RN = 4, RE = 5, RK = 2 };
static struct { real *z, *s, *p, *ws, *wp; int score; } rs;
static double rs_loss(void *c) {
    (void)c;
    router_scores_forward(rs.s, rs.p, rs.z, RN, RE, rs.score);
    return dotw(rs.s, rs.ws, RN * RE) + dotw(rs.p, rs.wp, RN * RE);
}
static void test_router_scores(void) {
    for (int score = 0; score < 2; score++) {
        rs.score = score;
        rs.z = rand_vec(RN * RE, 1); rs.s = zeros(RN * RE); rs.p = zeros(RN * RE);
        rs.ws = rand_vec(RN * RE, 1); rs.wp = rand_vec(RN * RE, 1);
        real *dz = zeros(RN * RE);
        rs_loss(NULL);
        router_scores_backward(dz, rs.ws, rs.wp, rs.s, rs.p, RN, RE, score);
        gradcheck(score ? "router scores sigmoid" : "router scores softmax", rs.z, dz, RN * RE, rs_loss, NULL, 100);
        free(rs.z); free(rs.s); free(rs.p); free(rs.ws); free(rs.wp); free(dz);
    }
}

// ---- gates: the selection frozen (topk fixed), and with a clear margin (recomputed) ----
static struct { real *s, *gate, *w; int32_t topk[RN * RK]; int normalize, reselect; } gt;
static double gt_loss(void *c) {
    (void)c;
    if (gt.reselect) router_topk(gt.topk, gt.s, NULL, RN, RE, RK, 0);
    router_gates_forward(gt.gate, gt.s, gt.topk, RN, RE, RK, gt.normalize);
    return dotw(gt.gate, gt.w, RN * RK);
}
static void test_gates(void) {
    const char *names[2][2] = {{"gates softmax (frozen)", "gates normalized (frozen)"},
                               {"gates softmax (margin)", "gates normalized (margin)"}};
    for (int reselect = 0; reselect < 2; reselect++)
        for (int normalize = 0; normalize < 2; normalize++) {
            gt.normalize = normalize; gt.reselect = reselect;
            gt.s = zeros(RN * RE); gt.gate = zeros(RN * RK); gt.w = rand_vec(RN * RK, 1);
            // scores with a margin of >= 0.05 around the K-th: ±eps cannot flip the choice
            for (int n = 0; n < RN; n++)
                for (int e = 0; e < RE; e++) gt.s[n * RE + e] = (real)(0.1 + 0.15 * ((e * 3 + n) % RE) + 0.01 * rng_uniform(&rng));
            router_topk(gt.topk, gt.s, NULL, RN, RE, RK, 0);
            real *ds = zeros(RN * RE);
            gt_loss(NULL);
            router_gates_backward(ds, gt.w, gt.s, gt.gate, gt.topk, RN, RE, RK, normalize);
            gradcheck(names[reselect][normalize], gt.s, ds, RN * RE, gt_loss, NULL, 100);
            free(gt.s); free(gt.gate); free(gt.w); free(ds);
        }
}

// ---- MoE combine ----
enum { CN = 4, CD = 3, CK = 2 };
static struct { real *h0, *h, *y, *gate, *w; int32_t token_row[CN * CK]; } cb;
static double cb_loss(void *c) {
    (void)c;
    memcpy(cb.h, cb.h0, sizeof(real) * CN * CD);
    moe_combine_forward(cb.h, cb.y, cb.gate, cb.token_row, CN, CD, CK);
    return dotw(cb.h, cb.w, CN * CD);
}
static void test_combine(void) {
    cb.h0 = rand_vec(CN * CD, 1); cb.h = zeros(CN * CD); cb.y = rand_vec(CN * CK * CD, 1);
    cb.gate = rand_vec(CN * CK, 1); cb.w = rand_vec(CN * CD, 1);
    int32_t rows[] = {3, 0, 5, 1, 2, 7, 6, 4};
    memcpy(cb.token_row, rows, sizeof rows);
    real *dy = zeros(CN * CK * CD), *dgate = zeros(CN * CK);
    moe_combine_backward(dy, dgate, cb.w, cb.y, cb.gate, cb.token_row, CN, CD, CK);
    gradcheck("moe combine y", cb.y, dy, CN * CK * CD, cb_loss, NULL, 100);
    gradcheck("moe combine gate", cb.gate, dgate, CN * CK, cb_loss, NULL, 100);
    free(cb.h0); free(cb.h); free(cb.y); free(cb.gate); free(cb.w); free(dy); free(dgate);
}

// ---- head + cross-entropy ----
enum { HN = 4, HD = 5, HV = 6 };
static struct { real *x, *W, *logits, *probs, *wt; int32_t target[HN]; } hd;
static double hd_loss(void *c) {
    (void)c;
    for (int n = 0; n < HN; n++)
        for (int v = 0; v < HV; v++) {
            real a = 0;
            for (int i = 0; i < HD; i++) a += hd.x[n * HD + i] * hd.W[v * HD + i];
            hd.logits[n * HV + v] = a;
        }
    return crossentropy_forward(hd.probs, hd.logits, hd.target, HN, HV) / HN;
}
static void test_head_ce(void) {
    hd.x = rand_vec(HN * HD, 1); hd.W = rand_vec(HV * HD, 1); hd.logits = zeros(HN * HV); hd.probs = zeros(HN * HV);
    int32_t tg[HN] = {0, 5, 2, -1};  // -1: a position without a target is skipped
    memcpy(hd.target, tg, sizeof tg);
    hd_loss(NULL);
    real *dlogits = zeros(HN * HV), *dx = zeros(HN * HD), *dW = zeros(HV * HD);
    crossentropy_backward(dlogits, hd.probs, hd.target, HN, HV, (real)(1.0 / HN));
    for (int n = 0; n < HN; n++)  // the head's two products, by hand: dx = dlogits·W, dW = dlogitsᵀ·x
        for (int v = 0; v < HV; v++)
            for (int i = 0; i < HD; i++) {
                dx[n * HD + i] += dlogits[n * HV + v] * hd.W[v * HD + i];
                dW[v * HD + i] += dlogits[n * HV + v] * hd.x[n * HD + i];
            }
    gradcheck("head+ce x", hd.x, dx, HN * HD, hd_loss, NULL, 100);
    gradcheck("head+ce W", hd.W, dW, HV * HD, hd_loss, NULL, 100);
    free(hd.x); free(hd.W); free(hd.logits); free(hd.probs); free(dlogits); free(dx); free(dW);
}

// ---- balancing losses over p, with the selection frozen ----
enum { BN = 8, BE = 4, BK = 2, BG = 4 };
static struct { real *p; int32_t topk[BN * BK]; double f[BN * BE], P[BN * BE]; int which, f_from; int32_t perm[BN]; } bl;
static double bl_loss(void *c) {
    (void)c;
    if (bl.which == 0) return switch_loss_forward(bl.f, bl.P, bl.p, bl.topk, BN, BE, BK, BG, bl.f_from, 7, bl.perm);
    if (bl.which == 1) return l2_loss_forward(bl.P, bl.p, BN, BE, BG);
    return zloss_forward(bl.p, BN, BE);  // here p plays the logits
}
static void test_balance_losses(void) {
    const char *names[] = {"switch (group f)", "switch (batch f)", "switch (shuffle f)", "l2", "z-loss"};
    for (int c = 0; c < 5; c++) {
        bl.which = c < 3 ? 0 : c - 2;
        bl.f_from = c < 3 ? c : 0;
        bl.p = rand_vec(BN * BE, 1);
        for (int i = 0; i < BN * BK; i++) bl.topk[i] = (i * 3 + i / 2) % BE;
        for (int n = 0; n < BN; n++) if (bl.topk[n * BK] == bl.topk[n * BK + 1]) bl.topk[n * BK + 1] = (bl.topk[n * BK] + 1) % BE;
        real *g = zeros(BN * BE);
        bl_loss(NULL);
        if (bl.which == 0) switch_loss_backward(g, bl.f, BN, BE, BG, 1.0);
        else if (bl.which == 1) l2_loss_backward(g, bl.P, BN, BE, BG, 1.0);
        else zloss_backward(g, bl.p, BN, BE, 1.0);
        gradcheck(names[c], bl.p, g, BN * BE, bl_loss, NULL, 32);
        free(bl.p); free(g);
    }
}

// top-K renormalized probabilities (p_source = "topk")
static struct { real *s, *pb, *w; int32_t topk[BN * BK]; } tp;
static double tp_loss(void *c) {
    (void)c;
    topk_probs_forward(tp.pb, tp.s, tp.topk, BN, BE, BK);
    return dotw(tp.pb, tp.w, BN * BE);
}
static void test_topk_probs(void) {
    tp.s = zeros(BN * BE); tp.pb = zeros(BN * BE); tp.w = rand_vec(BN * BE, 1);
    for (int i = 0; i < BN * BE; i++) tp.s[i] = (real)(0.1 + rng_uniform(&rng));
    router_topk(tp.topk, tp.s, NULL, BN, BE, BK, 0);
    tp_loss(NULL);
    real *ds = zeros(BN * BE);
    topk_probs_backward(ds, tp.w, tp.s, tp.pb, tp.topk, BN, BE, BK);
    gradcheck("top-k probabilities", tp.s, ds, BN * BE, tp_loss, NULL, 32);
    free(tp.s); free(tp.pb); free(tp.w); free(ds);
}

int main(void) {
    rng_seed(&rng, 42, 0);
    test_embedding();
    test_rmsnorm();
    test_attention();
    test_attention_causal();
    test_ffn();
    test_router_scores();
    test_gates();
    test_combine();
    test_head_ce();
    test_balance_losses();
    test_topk_probs();
    return test_summary("dtest_layers");
}
