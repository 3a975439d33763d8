// metrics.c — one MoE layer's measurements: the options, the checks of the inputs, metrics_layer
// (every scalar, from the functions of geometry.c and usage.c) and the output as CSV/JSON. See
// metrics.h for the contract and docs/METRICS.md for every formula and its source.
#include <math.h>
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

// ---- one layer: every scalar --------------------------------------------------------------------

static void set_all_nan(LayerMetrics *m) {
#define METRICS_NAN_(name, help) m->name = NAN;
    METRICS_SCALARS(METRICS_NAN_)
#undef METRICS_NAN_
}

int metrics_layer(LayerMetrics *out, const MetricsArrays *arrays, const LayerData *in,
                  const MetricsOptions *opt, Rng *rng, char *err, size_t errlen) {
    static const MetricsArrays none;
    const MetricsArrays *A = arrays ? arrays : &none;
    set_all_nan(out);
    if (metrics_check(in, opt, err, errlen)) return -1;
    const size_t N = in->N;
    const int D = in->D, E = in->E, K = in->K, T = in->T, M = opt->pairs;
    const size_t S = (N + (size_t)T - 1) / (size_t)T;       // sequences
    const size_t SP = metrics_seq_pair_count(N, T, opt);

    int rc = -2;
    const int r = opt->prop1_rank < D ? opt->prop1_rank : D;   // directions Prop. 1 needs (>= 1)
    const int rk = r > 1 ? r : 1;
    const int W = E + 2;                                    // columns of Wt: v1, m, Pi_E P rows
    double *Vr = malloc((size_t)rk * D * sizeof(double));   // rk x D  leading right singular vectors
    double *V = malloc((size_t)rk * D * sizeof(double));    // D x rk  the same as columns
    double *lam = malloc((size_t)rk * sizeof(double));      // rk      their σ²
    double *B = malloc((size_t)E * D * sizeof(double));     // E x D  Pi_E P
    double *Wt = malloc((size_t)D * W * sizeof(double));    // D x W  [v1, m, Bᵀ]
    double *v1 = malloc((size_t)D * sizeof(double)), *mdir = malloc((size_t)D * sizeof(double));
    int32_t *pairs = A->pairs ? A->pairs : malloc((size_t)M * 2 * sizeof(int32_t));
    double *rh = A->rms_hidden ? A->rms_hidden : malloc((size_t)M * sizeof(double));
    double *rz = A->rms_logits ? A->rms_logits : malloc((size_t)M * sizeof(double));
    double *fq = NULL, *pool = NULL, *seq_fs = NULL, *seq_pc = NULL, *seq_jc = NULL, *dom = NULL;
    int32_t *sp = NULL;
    uint8_t *sets = NULL;
    size_t *dcount = NULL;
    if (!Vr || !V || !lam || !B || !Wt || !v1 || !mdir || !pairs || !rh || !rz) goto done;

    // Eqs. 7 and 8 as the paper defines them: one SVD per sequence, then the mean.
    SeqEnergy se;
    if (metrics_seq_energy(&se, in->H, in->P, in->topk, N, D, E, K, T) != 0) goto done;
    out->energy_first = se.energy[0];
    out->energy_dir2 = se.energy[1];
    out->energy_dir3 = se.energy[2];
    out->energy_top3 = se.top3;
    out->retained_energy_first = se.retained[0];
    out->retained_energy_dir2 = se.retained[1];
    out->retained_energy_dir3 = se.retained[2];

    // Geometry of all N states (Proposition 1's H, and our whole-set variants): the leading
    // right singular vectors of the uncentred H by Lanczos on the smaller Gram side (the D x D
    // Gram matrix is never formed), then one pass over H for the energies of v1, of the mean
    // direction m and of the centred router rows: with c = H [v1, m, Bᵀ] (N x (E+2)),
    //   v1ᵀGv1 = Σ_i c_i0², mᵀGm = Σ_i c_i1², Σ_e b_eᵀ G b_e = Σ_i Σ_e c_i(2+e)², tr G = |H|_F².
    double fro2;
    if (linalg_svd_top(lam, Vr, &fro2, in->H, N, D, rk) == -2) goto done;
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
    if (linalg_xw_sumsq(sums, in->H, N, D, Wt, W) != 0) goto done;
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
    if (out->suppression_rho < 0.0 || out->suppression_rho_mean < 0.0) goto done;

    // Within-sequence similarity (Eqs. 10, 11), softmax statistics (Eq. 12), logit size, balance.
    out->cosine_hidden = metrics_seq_cosine(in->H, N, D, T);
    out->cosine_logits = metrics_seq_cosine(in->Z, N, E, T);
    out->hamming_similarity = metrics_seq_hamming(in->topk, N, K, E, T);
    metrics_softmax_stats(&out->router_confidence, &out->topk_score_sum, &out->router_entropy,
                          in->Z, N, E, K, T);
    out->logit_norm_mean = metrics_seq_mean_norm(in->Z, N, E, T);
    metrics_balance(&out->maxvio, &out->load_entropy, in->topk, N, K, E);

    // Token pairs: Eq. 5 and Proposition 1 on the same sample.
    metrics_sample_pairs(pairs, M, N, rng);
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
    if (metrics_prop1_ld(&p1, A->prop1_lhs, A->prop1_rhs, A->prop1_naive, in->H, in->P, V, (size_t)rk,
                         pairs, M, D, E, opt->prop1_rank, opt->prop1_slack))
        goto done;
    out->prop1_holds_fraction = p1.holds_fraction;
    out->prop1_tightness = p1.tightness;
    out->prop1_naive_tightness = p1.naive_tightness;
    out->prop1_residual_ratio = p1.residual_ratio;

    // Sequence pairs: Eqs. 13-19.
    if (SP > 0) {
        fq = malloc(S * E * sizeof(double));               // S x E  Eq. 13 per sequence
        pool = malloc(S * D * sizeof(double));             // S x D  Eq. 16 pooled unit states
        sets = malloc(S * E);                              // S x E  Eq. 18 top-P sets
        sp = A->seq_pairs ? A->seq_pairs : malloc(SP * 2 * sizeof(int32_t));
        seq_fs = A->seq_freqsim ? A->seq_freqsim : malloc(SP * sizeof(double));
        seq_pc = A->seq_pooled_cos ? A->seq_pooled_cos : malloc(SP * sizeof(double));
        seq_jc = A->seq_jaccard ? A->seq_jaccard : malloc(SP * sizeof(double));
        if (!fq || !pool || !sets || !sp || !seq_fs || !seq_pc || !seq_jc) goto done;
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

    // Domains.
    if (in->domain) {
        int Dom = in->n_domains;
        dom = A->domain_freq ? A->domain_freq : malloc((size_t)Dom * E * sizeof(double));
        dcount = malloc((size_t)Dom * sizeof(size_t));
        if (!dom || !dcount) goto done;
        metrics_domain_freq(dom, dcount, in->topk, in->domain, N, K, E, Dom);
        metrics_cross_domain(&out->freqsim_cross_domain, &out->jaccard_cross_domain, dom, dcount,
                             Dom, E, K, opt->top_p);
        out->nmi_domain_expert = metrics_nmi(in->topk, in->domain, N, K, E, Dom);
    }
    if (in->token) {
        out->token_specialization = metrics_token_specialization(in->topk, in->token, N, K, E);
        if (out->token_specialization < 0.0) goto done;
        if (in->domain && metrics_token_context(&out->token_context_freqsim, &out->token_context_jaccard,
                                                in->topk, in->token, in->domain, N, K, E, in->n_domains, opt->top_p) != 0)
            goto done;
    }
    if (in->resid_norm) {
        // mean and coefficient of variation of the token norms, summed in double in row order
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < N; i++) { s1 += in->resid_norm[i]; s2 += (double)in->resid_norm[i] * in->resid_norm[i]; }
        double mean = s1 / N, var = s2 / N - mean * mean;
        out->resid_norm_mean = mean;
        out->resid_norm_cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : NAN;
    }
    rc = 0;

done:
    free(Vr); free(V); free(lam); free(B); free(Wt); free(v1); free(mdir);
    if (pairs != A->pairs) free(pairs);
    if (rh != A->rms_hidden) free(rh);
    if (rz != A->rms_logits) free(rz);
    free(fq); free(pool); free(sets);
    if (sp != A->seq_pairs) free(sp);
    if (seq_fs != A->seq_freqsim) free(seq_fs);
    if (seq_pc != A->seq_pooled_cos) free(seq_pc);
    if (seq_jc != A->seq_jaccard) free(seq_jc);
    if (dom != A->domain_freq) free(dom);
    free(dcount);
    if (rc) {
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

int metrics_write_json(FILE *f, const LayerMetrics *m, const char *indent) {
    const char *names[METRICS_NSCALARS];
    double values[METRICS_NSCALARS];
    metrics_list(names, NULL, values, m);
    const char *in = indent ? indent : "";
    for (int i = 0; i < METRICS_NSCALARS; i++) {
        const char *sep = i + 1 < METRICS_NSCALARS ? ",\n" : "\n";
        if (isfinite(values[i])) fprintf(f, "%s\"%s\": %.17g%s", in, names[i], values[i], sep);
        else fprintf(f, "%s\"%s\": null%s", in, names[i], sep);
    }
    return ferror(f) ? -1 : 0;
}
