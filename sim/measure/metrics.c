// metrics.c — one MoE layer's measurements: the options, the checks of the inputs, the scratch
// block of metrics_layer and its slices, metrics_layer as stages over them (every scalar, from the
// functions of geometry.c and usage.c) and the output as a list. See metrics.h for the
// contract and docs/METRICS.md for every formula and its source.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "linalg.h"
#include "metrics_internal.h"

// ---- small helpers ------------------------------------------------------------------------------

void metrics_default_options(MetricsOptions *opt) {
    opt->pairs = 2048;
    opt->seq_pairs = 4096;
    opt->top_p = 0.8;
    opt->prop1_rank = 1;
    opt->prop1_slack = 1e-5;
    opt->alignment = 1;
}

double metrics_cosine(const double *a, const double *b, int n) {
    double na = linalg_norm(a, n), nb = linalg_norm(b, n);
    if (na == 0.0 || nb == 0.0) return 0.0;   // convention: a zero vector is orthogonal to all
    return linalg_dot(a, b, n) / (na * nb);
}

double metrics_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0.0, my = 0.0;
    for (size_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= (double)n; my /= (double)n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;          // two-pass: centred sums, no cancellation
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    if (sxx == 0.0 || syy == 0.0) return NAN;
    return sxy / sqrt(sxx * syy);
}

// Indices of the K largest of x[0..E) by decreasing value, ties to the lower index, skipping
// (and then marking) entries already flagged in taken. Repeated argmax: O(K E), fine for E <= 1024.
void metrics_select_top(int32_t *idx, const double *x, int E, int K, uint8_t *taken) {
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!taken[e] && (best < 0 || x[e] > x[best])) best = e;   // strict >: lower index wins
        idx[k] = best;
        taken[best] = 1;
    }
}

// ---- checks -----------------------------------------------------------------------------------

size_t metrics_seq_pair_count(size_t N, int T, const MetricsOptions *opt) {
    size_t S = (N + (size_t)T - 1) / (size_t)T;
    size_t all = S * (S - (S > 0)) / 2;
    return all < (size_t)opt->seq_pairs ? all : (size_t)opt->seq_pairs;
}

#define FAIL(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

int metrics_check(const LayerData *in, const MetricsOptions *opt, char *err, size_t errlen) {
    if (in->N < 2 || in->N > INT32_MAX) FAIL("need 2 <= N <= %d tokens, have %zu", INT32_MAX, in->N);
    if (in->D < 1 || in->E < 1) FAIL("need D >= 1 and E >= 1, have D = %d, E = %d", in->D, in->E);
    if (in->K < 1 || in->K > in->E) FAIL("need 1 <= K <= E, have K = %d, E = %d", in->K, in->E);
    if (in->T < 1) FAIL("need sequence length T >= 1, have %d", in->T);
    if (!in->H || !in->P || !in->Z || !in->topk) FAIL("H, P, Z and topk are required");
    if (opt->pairs < 1) FAIL("need pairs >= 1, have %d", opt->pairs);
    if (opt->seq_pairs < 0) FAIL("need seq_pairs >= 0, have %d", opt->seq_pairs);
    if (!(opt->top_p > 0.0 && opt->top_p <= 1.0)) FAIL("need 0 < top_p <= 1, have %g", opt->top_p);
    if (opt->prop1_rank < 1 || opt->prop1_rank > in->D)
        FAIL("need 1 <= prop1_rank <= D = %d, have %d", in->D, opt->prop1_rank);
    if (!(opt->prop1_slack >= 0.0)) FAIL("need prop1_slack >= 0, have %g", opt->prop1_slack);
    size_t N = in->N;
    for (size_t i = 0; i < N * (size_t)in->D; i++)
        if (!isfinite(in->H[i])) FAIL("H[%zu][%zu] = %g is not finite", i / in->D, i % in->D, in->H[i]);
    for (size_t i = 0; i < (size_t)in->E * in->D; i++)
        if (!isfinite(in->P[i])) FAIL("P[%zu][%zu] = %g is not finite", i / in->D, i % in->D, in->P[i]);
    for (size_t i = 0; i < N * (size_t)in->E; i++)
        if (!isfinite(in->Z[i])) FAIL("Z[%zu][%zu] = %g is not finite", i / in->E, i % in->E, in->Z[i]);
    for (size_t i = 0; i < N; i++) {
        const int32_t *t = in->topk + i * (size_t)in->K;
        for (int k = 0; k < in->K; k++) {
            if (t[k] < 0 || t[k] >= in->E)
                FAIL("topk[%zu][%d] = %d is outside [0, %d)", i, k, (int)t[k], in->E);
            for (int k2 = 0; k2 < k; k2++)
                if (t[k2] == t[k]) FAIL("topk[%zu] names expert %d twice", i, (int)t[k]);
        }
    }
    if (in->domain) {
        if (in->n_domains < 1) FAIL("domain labels given but n_domains = %d", in->n_domains);
        for (size_t i = 0; i < N; i++)
            if (in->domain[i] < 0 || in->domain[i] >= in->n_domains)
                FAIL("domain[%zu] = %d is outside [0, %d)", i, (int)in->domain[i], in->n_domains);
    }
    if (in->token)
        for (size_t i = 0; i < N; i++)
            if (in->token[i] < 0) FAIL("token[%zu] = %d is negative", i, (int)in->token[i]);
    return 0;
}

#undef FAIL

// ---- one layer: the scratch block and its slices ------------------------------------------------

MetricsShape metrics_shape(const LayerData *in, const MetricsOptions *opt) {
    MetricsShape s = {.N = in->N, .D = in->D, .E = in->E, .T = in->T,
                      .n_domains = in->domain ? in->n_domains : 0, .pairs = opt->pairs,
                      .seq_pairs = opt->seq_pairs, .prop1_rank = opt->prop1_rank,
                      .alignment = opt->alignment};
    return s;
}

static size_t count_of(int x) { return x > 0 ? (size_t)x : 0; }   // a negative size counts as 0

// The data subspace of the router-alignment stage: r = D/8 directions (at least 1).
static int alignment_directions(const MetricsShape *s) { return s->D >= 16 ? s->D / 8 : 1; }

// The directions Prop. 1 needs (>= 1): r = prop1_rank, at most D.
static int prop1_directions(const MetricsShape *s) {
    int r = s->prop1_rank < s->D ? s->prop1_rank : s->D;
    return r > 1 ? r : 1;
}

static size_t sequences(const MetricsShape *s) {
    return s->T > 0 ? (s->N + (size_t)s->T - 1) / (size_t)s->T : 0;
}

// The named slices of the scratch, one group per stage; carve_slices lays them out.
typedef struct {
    // whole-set geometry (rk = prop1_directions, W = E + 2)
    double *Vr;              // rk x D  leading right singular vectors of H, as rows
    double *V;               // D x rk  the same as columns (metrics_prop1_ld's layout)
    double *lam;             // rk      their σ²
    double *B;               // E x D   Pi_E P
    double *Wt;              // D x W   [v1, m, Bᵀ]
    double *v1, *mdir;       // D       first right singular vector, unit mean direction
    double *Va, *lama;       // ra x D, ra  the ra = D/8 leading directions (router alignment)
    // token pairs (M = pairs)
    int32_t *pairs;          // M x 2
    double *rh, *rz;         // M       Eq. 5 on rows of H, on rows of Z
    // sequence pairs (S sequences, SP pairs; all empty when SP = 0)
    double *fq;              // S x E   Eq. 13 per sequence
    double *pool;            // S x D   Eq. 16 pooled unit states
    uint8_t *sets;           // S x E   Eq. 18 top-P sets
    int32_t *sp;             // SP x 2
    double *seq_fs, *seq_pc, *seq_jc;   // SP  Eqs. 14, 17, 19
    // domains (Dom = n_domains)
    double *dom;             // Dom x E selection frequency
    size_t *dcount;          // Dom     tokens per domain
} Slices;

// Hands out consecutive aligned pieces of one block; with base NULL it only counts the bytes.
typedef struct {
    unsigned char *base;
    size_t used;
} Carver;

static void *carve(Carver *c, size_t n, size_t size) {
    const size_t align = _Alignof(max_align_t);
    c->used = (c->used + align - 1) / align * align;
    void *p = c->base ? c->base + c->used : NULL;
    c->used += n * size;
    return p;
}

// Lays the slices of *sl out in base (NULL: only counts); returns the bytes they take.
static size_t carve_slices(Slices *sl, void *base, const MetricsShape *s) {
    Carver c = {base, 0};
    const size_t D = count_of(s->D), E = count_of(s->E), rk = (size_t)prop1_directions(s);
    const size_t M = count_of(s->pairs), Dom = count_of(s->n_domains);
    MetricsOptions cap = {.seq_pairs = s->seq_pairs};
    const size_t SP = s->T > 0 && s->seq_pairs >= 0 ? metrics_seq_pair_count(s->N, s->T, &cap) : 0;
    const size_t S = SP > 0 ? sequences(s) : 0;
    sl->Vr = carve(&c, rk * D, sizeof(double));
    sl->V = carve(&c, D * rk, sizeof(double));
    sl->lam = carve(&c, rk, sizeof(double));
    sl->B = carve(&c, E * D, sizeof(double));
    sl->Wt = carve(&c, D * (E + 2), sizeof(double));
    sl->v1 = carve(&c, D, sizeof(double));
    sl->mdir = carve(&c, D, sizeof(double));
    const size_t ra = s->D > 0 && s->alignment ? (size_t)alignment_directions(s) : 0;
    sl->Va = carve(&c, ra * D, sizeof(double));
    sl->lama = carve(&c, ra, sizeof(double));
    sl->pairs = carve(&c, M * 2, sizeof(int32_t));
    sl->rh = carve(&c, M, sizeof(double));
    sl->rz = carve(&c, M, sizeof(double));
    sl->fq = carve(&c, S * E, sizeof(double));
    sl->pool = carve(&c, S * D, sizeof(double));
    sl->sets = carve(&c, S * E, sizeof(uint8_t));
    sl->sp = carve(&c, SP * 2, sizeof(int32_t));
    sl->seq_fs = carve(&c, SP, sizeof(double));
    sl->seq_pc = carve(&c, SP, sizeof(double));
    sl->seq_jc = carve(&c, SP, sizeof(double));
    sl->dom = carve(&c, Dom * E, sizeof(double));
    sl->dcount = carve(&c, Dom, sizeof(size_t));
    return c.used;
}

size_t metrics_scratch_bytes(const MetricsShape *shape) {
    Slices sl;
    return carve_slices(&sl, NULL, shape);
}

int metrics_scratch_init(MetricsScratch *s, const MetricsShape *shape) {
    s->bytes = metrics_scratch_bytes(shape);
    s->base = malloc(s->bytes > 0 ? s->bytes : 1);
    if (!s->base) s->bytes = 0;
    return s->base ? 0 : -2;
}

void metrics_scratch_free(MetricsScratch *s) {
    free(s->base);
    s->base = NULL;
    s->bytes = 0;
}

// ---- one layer: the stages ----------------------------------------------------------------------
// Each stage fills its group of LayerMetrics from the inputs and its slices, and returns 0 or -2
// (a single measurement could not allocate its own scratch).

static void set_all_nan(LayerMetrics *m) {
#define METRICS_NAN_(name, help) m->name = NAN;
    METRICS_SCALARS(METRICS_NAN_)
#undef METRICS_NAN_
}

// Eqs. 7 and 8 as the paper defines them: one SVD per sequence, then the mean.
static int stage_sequence_energy(LayerMetrics *out, const LayerData *in) {
    SeqEnergy se;
    if (metrics_seq_energy(&se, in->H, in->P, in->topk, in->N, in->D, in->E, in->K, in->T) != 0)
        return -2;
    out->energy_first = se.energy[0];
    out->energy_dir2 = se.energy[1];
    out->energy_dir3 = se.energy[2];
    out->energy_top3 = se.top3;
    out->retained_energy_first = se.retained[0];
    out->retained_energy_dir2 = se.retained[1];
    out->retained_energy_dir3 = se.retained[2];
    return 0;
}

// Geometry of all N states (Proposition 1's H, and our whole-set variants): the leading
// right singular vectors of the uncentred H by Lanczos on the smaller Gram side (the D x D
// Gram matrix is never formed), then one pass over H for the energies of v1, of the mean
// direction m and of the centred router rows: with c = H [v1, m, Bᵀ] (N x (E+2)),
//   v1ᵀGv1 = Σ_i c_i0², mᵀGm = Σ_i c_i1², Σ_e b_eᵀ G b_e = Σ_i Σ_e c_i(2+e)², tr G = |H|_F².
// Leaves the rk leading directions in sl->V (D x rk) for the token-pair stage.
static int stage_wholeset_geometry(LayerMetrics *out, const Slices *sl, const LayerData *in, int rk) {
    const size_t N = in->N;
    const int D = in->D, E = in->E, W = E + 2;
    double *Vr = sl->Vr, *V = sl->V, *B = sl->B, *Wt = sl->Wt, *v1 = sl->v1, *mdir = sl->mdir;
    double fro2;
    if (linalg_svd_top(sl->lam, Vr, &fro2, in->H, N, D, rk) == -2) return -2;
    for (int k = 0; k < rk; k++)
        for (int a = 0; a < D; a++) V[(size_t)a * rk + k] = Vr[(size_t)k * D + a];
    memcpy(v1, Vr, (size_t)D * sizeof(double));
    metrics_center_rows(B, in->P, E, D);
    memset(mdir, 0, (size_t)D * sizeof(double));
    for (size_t i = 0; i < N; i++) linalg_faxpy(mdir, 1.0, in->H + i * (size_t)D, (size_t)D);
    double mn = linalg_norm(mdir, D);
    if (mn > 0.0) for (int a = 0; a < D; a++) mdir[a] /= mn;
    for (int a = 0; a < D; a++) {
        Wt[(size_t)a * W] = v1[a];
        Wt[(size_t)a * W + 1] = mdir[a];
        for (int e = 0; e < E; e++) Wt[(size_t)a * W + 2 + e] = B[(size_t)e * D + a];
    }
    double sums[3];
    if (linalg_xw_sumsq(sums, in->H, N, D, Wt, W) != 0) return -2;
    if (fro2 > 0.0) {
        out->energy_first_wholeset = sums[0] / fro2;
        double bv2 = 0.0;
        for (int e = 0; e < E; e++) { double t = linalg_dot(B + (size_t)e * D, v1, D); bv2 += t * t; }
        out->retained_energy_centred = sums[2] > 0.0 ? sums[0] * bv2 / sums[2] : NAN;
    }
    out->suppression_rho = metrics_suppression(B, v1, E, D);
    if (mn > 0.0) {
        out->energy_mean_dir = fro2 > 0.0 ? sums[1] / fro2 : NAN;
        out->suppression_rho_mean = metrics_suppression(B, mdir, E, D);
    }
    return out->suppression_rho < 0.0 || out->suppression_rho_mean < 0.0 ? -2 : 0;
}

// Figs. 16-19 (left- and right-most columns) and Fig. 23: how the router sits in the data's
// principal subspace. With V_r the r = D/8 leading right singular vectors of the uncentred H (all N
// states, Proposition 1's H) and σ_k their singular values:
//   router_data_alignment = ‖P V_r‖_F² / ‖P‖_F²   the share of the router's energy in that subspace
//   data_energy_top_r     = Σ_{k<r} σ_k² / ‖H‖_F²  how much of the data's energy it holds
// Both are r/D for an isotropic random P (resp. isotropic data): the baseline the figures compare.
static int stage_router_alignment(LayerMetrics *out, const Slices *sl, const LayerData *in, int ra) {
    const int D = in->D, E = in->E;
    double fro2;
    if (linalg_svd_top(sl->lama, sl->Va, &fro2, in->H, in->N, D, ra) == -2) return -2;
    double top = 0.0, in_sub = 0.0, p2 = 0.0;
    for (int k = 0; k < ra; k++) top += sl->lama[k];
    for (int e = 0; e < E; e++) {
        const float *row = in->P + (size_t)e * D;
        for (int a = 0; a < D; a++) p2 += (double)row[a] * row[a];
        for (int k = 0; k < ra; k++) {
            double t = 0.0;
            for (int a = 0; a < D; a++) t += (double)row[a] * sl->Va[(size_t)k * D + a];
            in_sub += t * t;
        }
    }
    out->data_energy_top_r = fro2 > 0.0 ? top / fro2 : NAN;
    out->router_data_alignment = p2 > 0.0 ? in_sub / p2 : NAN;
    return 0;
}

// Within-sequence similarity (Eqs. 10, 11), softmax statistics (Eq. 12), logit size, balance:
// sums over the inputs, no scratch.
static void stage_within_sequences(LayerMetrics *out, const LayerData *in) {
    const size_t N = in->N;
    const int D = in->D, E = in->E, K = in->K, T = in->T;
    out->cosine_hidden = metrics_seq_cosine(in->H, N, D, T);
    out->cosine_logits = metrics_seq_cosine(in->Z, N, E, T);
    out->hamming_similarity = metrics_seq_hamming(in->topk, N, K, E, T);
    metrics_softmax_stats(&out->router_confidence, &out->topk_score_sum, &out->router_entropy,
                          in->Z, N, E, K, T);
    out->logit_norm_mean = metrics_seq_mean_norm(in->Z, N, E, T);
    metrics_balance(&out->maxvio, &out->load_entropy, in->topk, N, K, E);
}

// Token pairs: Eq. 5 and Proposition 1 on the same sample of M pairs (sl->pairs, M x 2), with the
// rk directions the geometry stage left in sl->V. lhs, rhs, naive: the caller's Prop. 1 arrays.
static int stage_token_pairs(LayerMetrics *out, const Slices *sl, const LayerData *in,
                             const MetricsOptions *opt, int rk, const MetricsArrays *A, Rng *rng) {
    const int D = in->D, E = in->E, M = opt->pairs;
    int32_t *pairs = sl->pairs;
    double *rh = sl->rh, *rz = sl->rz;
    metrics_sample_pairs(pairs, M, in->N, rng);
    for (int m = 0; m < M; m++) {
        size_t i = (size_t)pairs[2 * m], j = (size_t)pairs[2 * m + 1];
        rh[m] = metrics_rms(in->H + i * D, in->H + j * D, D);
        rz[m] = metrics_rms(in->Z + i * E, in->Z + j * E, E);
    }
    double sh = 0.0, sz = 0.0;
    for (int m = 0; m < M; m++) { sh += rh[m]; sz += rz[m]; }
    out->rms_hidden_mean = sh / M;
    out->rms_logits_mean = sz / M;
    out->rms_corr = metrics_pearson(rh, rz, (size_t)M);
    Prop1Summary p1;
    if (metrics_prop1_ld(&p1, A->prop1_lhs, A->prop1_rhs, A->prop1_naive, in->H, in->P, sl->V,
                         (size_t)rk, pairs, M, D, E, opt->prop1_rank, opt->prop1_slack))
        return -2;
    out->prop1_holds_fraction = p1.holds_fraction;
    out->prop1_tightness = p1.tightness;
    out->prop1_naive_tightness = p1.naive_tightness;
    out->prop1_residual_ratio = p1.residual_ratio;
    return 0;
}

// Sequence pairs: Eqs. 13-19. Per sequence (S of them) the frequency vector, top-P set and pooled
// state; then over SP > 0 pairs (every pair in a fixed order, or SP sampled from rng) the
// FreqSim, pooled cosine and Jaccard, also split by same / cross domain (Fig. 5).
static void stage_sequence_pairs(LayerMetrics *out, const Slices *sl, const LayerData *in,
                                 const MetricsOptions *opt, size_t SP, Rng *rng) {
    const size_t N = in->N;
    const int D = in->D, E = in->E, K = in->K, T = in->T;
    const size_t S = (N + (size_t)T - 1) / (size_t)T;
    double *fq = sl->fq, *pool = sl->pool, *seq_fs = sl->seq_fs, *seq_pc = sl->seq_pc,
           *seq_jc = sl->seq_jc;
    uint8_t *sets = sl->sets;
    int32_t *sp = sl->sp;
    for (size_t a = 0; a < S; a++) {
        size_t lo = a * T, hi = lo + T < N ? lo + T : N;
        metrics_freq(fq + a * E, in->topk + lo * K, hi - lo, K, E);
        metrics_top_p_set(sets + a * E, fq + a * E, E, opt->top_p);
        metrics_pool(pool + a * D, in->H + lo * D, hi - lo, D);
    }
    if (SP == S * (S - 1) / 2) {                       // every pair, in a fixed order
        size_t n = 0;
        for (size_t a = 0; a < S; a++)
            for (size_t b = a + 1; b < S; b++) {
                sp[2 * n] = (int32_t)a;
                sp[2 * n + 1] = (int32_t)b;
                n++;
            }
    } else {
        metrics_sample_pairs(sp, (int)SP, S, rng);
    }
    double fs = 0.0, pc = 0.0, jc = 0.0;
    double dfs[2] = {0, 0}, dpc[2] = {0, 0};   // Fig. 5: [0] pairs of one domain, [1] of two
    size_t dn[2] = {0, 0};
    for (size_t n = 0; n < SP; n++) {
        size_t a = (size_t)sp[2 * n], b = (size_t)sp[2 * n + 1];
        seq_fs[n] = metrics_cosine(fq + a * E, fq + b * E, E);
        seq_pc[n] = metrics_cosine(pool + a * D, pool + b * D, D);
        seq_jc[n] = metrics_jaccard_sets(sets + a * E, sets + b * E, E);
        fs += seq_fs[n]; pc += seq_pc[n]; jc += seq_jc[n];
        if (in->domain) {
            int cross = in->domain[a * T] != in->domain[b * T];  // a sequence's domain: its first token's
            dfs[cross] += seq_fs[n]; dpc[cross] += seq_pc[n]; dn[cross]++;
        }
    }
    out->freqsim_seq_same_domain = dn[0] ? dfs[0] / (double)dn[0] : NAN;
    out->freqsim_seq_cross_domain = dn[1] ? dfs[1] / (double)dn[1] : NAN;
    out->pooled_cosine_seq_same_domain = dn[0] ? dpc[0] / (double)dn[0] : NAN;
    out->pooled_cosine_seq_cross_domain = dn[1] ? dpc[1] / (double)dn[1] : NAN;
    out->freqsim_seq = fs / (double)SP;
    out->pooled_cosine_seq = pc / (double)SP;
    out->jaccard_seq = jc / (double)SP;
    out->freqsim_pooled_corr = metrics_pearson(seq_fs, seq_pc, SP);
}

// Domains (with labels): the Dom x E selection frequency (sl->dom), cross-domain similarity, NMI.
static void stage_domains(LayerMetrics *out, const Slices *sl, const LayerData *in,
                          const MetricsOptions *opt) {
    const int K = in->K, E = in->E, Dom = in->n_domains;
    metrics_domain_freq(sl->dom, sl->dcount, in->topk, in->domain, in->N, K, E, Dom);
    metrics_cross_domain(&out->freqsim_cross_domain, &out->jaccard_cross_domain, sl->dom, sl->dcount,
                         Dom, E, K, opt->top_p);
    out->nmi_domain_expert = metrics_nmi(in->topk, in->domain, in->N, K, E, Dom);
}

// Token ids (with ids): vocabulary specialization and, with domains too, context dependence.
static int stage_tokens(LayerMetrics *out, const LayerData *in, const MetricsOptions *opt) {
    const size_t N = in->N;
    const int K = in->K, E = in->E;
    out->token_specialization = metrics_token_specialization(in->topk, in->token, N, K, E);
    if (out->token_specialization < 0.0) return -2;
    if (in->domain && metrics_token_context(&out->token_context_freqsim, &out->token_context_jaccard,
                                            in->topk, in->token, in->domain, N, K, E, in->n_domains,
                                            opt->top_p) != 0)
        return -2;
    return 0;
}

// Norms of the residual stream (when given): mean and coefficient of variation of the token
// norms, summed in double in row order.
static void stage_resid_norms(LayerMetrics *out, const LayerData *in) {
    const size_t N = in->N;
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < N; i++) { s1 += in->resid_norm[i]; s2 += (double)in->resid_norm[i] * in->resid_norm[i]; }
    double mean = s1 / N, var = s2 / N - mean * mean;
    out->resid_norm_mean = mean;
    out->resid_norm_cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : NAN;
}

static void copy_out(void *dst, const void *src, size_t bytes) {
    if (dst && bytes) memcpy(dst, src, bytes);
}

// The arrays the caller asked for, copied out of the slices.
static void copy_arrays(const MetricsArrays *A, const Slices *sl, const LayerData *in,
                        const MetricsOptions *opt, size_t SP) {
    const size_t M = (size_t)opt->pairs;
    copy_out(A->pairs, sl->pairs, M * 2 * sizeof(int32_t));
    copy_out(A->rms_hidden, sl->rh, M * sizeof(double));
    copy_out(A->rms_logits, sl->rz, M * sizeof(double));
    copy_out(A->seq_pairs, sl->sp, SP * 2 * sizeof(int32_t));
    copy_out(A->seq_freqsim, sl->seq_fs, SP * sizeof(double));
    copy_out(A->seq_pooled_cos, sl->seq_pc, SP * sizeof(double));
    copy_out(A->seq_jaccard, sl->seq_jc, SP * sizeof(double));
    if (in->domain) copy_out(A->domain_freq, sl->dom, (size_t)in->n_domains * in->E * sizeof(double));
}

// ---- one layer: every scalar --------------------------------------------------------------------

int metrics_layer(LayerMetrics *out, const MetricsArrays *arrays, const LayerData *in,
                  const MetricsOptions *opt, MetricsScratch *scratch, Rng *rng, char *err,
                  size_t errlen) {
    static const MetricsArrays none;
    const MetricsArrays *A = arrays ? arrays : &none;
    set_all_nan(out);
    if (metrics_check(in, opt, err, errlen)) return -1;
    const MetricsShape shape = metrics_shape(in, opt);
    Slices sl;
    const size_t need = carve_slices(&sl, NULL, &shape);
    if (!scratch || !scratch->base || scratch->bytes < need) {
        if (err && errlen)
            snprintf(err, errlen, "metrics scratch too small: need %zu bytes, have %zu", need,
                     scratch && scratch->base ? scratch->bytes : 0);
        return -1;
    }
    carve_slices(&sl, scratch->base, &shape);
    const int rk = prop1_directions(&shape);
    const size_t SP = metrics_seq_pair_count(in->N, in->T, opt);

    int rc = stage_sequence_energy(out, in);
    if (!rc) rc = stage_wholeset_geometry(out, &sl, in, rk);
    if (!rc && shape.alignment) rc = stage_router_alignment(out, &sl, in, alignment_directions(&shape));
    if (!rc) {
        stage_within_sequences(out, in);
        rc = stage_token_pairs(out, &sl, in, opt, rk, A, rng);
    }
    if (!rc) {
        if (SP > 0) stage_sequence_pairs(out, &sl, in, opt, SP, rng);
        if (in->domain) stage_domains(out, &sl, in, opt);
        if (in->token) rc = stage_tokens(out, in, opt);
    }
    if (!rc) {
        if (in->resid_norm) stage_resid_norms(out, in);
        copy_arrays(A, &sl, in, opt, SP);
    } else {
        set_all_nan(out);
        if (err && errlen) snprintf(err, errlen, "out of memory");
    }
    return rc;
}

// ---- output -------------------------------------------------------------------------------------

int metrics_list(const char **names, const char **help, double *values, const LayerMetrics *m) {
    int i = 0;
#define METRICS_LIST_(name, h) \
    if (names) names[i] = #name; \
    if (help) help[i] = h; \
    if (values) values[i] = m ? m->name : NAN; \
    i++;
    METRICS_SCALARS(METRICS_LIST_)
#undef METRICS_LIST_
    return i;
}
