// test_metrics.c — the measurements of sim/measure/metrics.h: sim/measure/metrics.c (checks,
// options, metrics_layer's stages and scratch, the output), geometry.c and usage.c (the single
// measurements) and truncation.c. Every measurement is checked against a tiny case whose value is
// worked out by hand in the comments (the expected numbers are written as closed-form
// expressions, never by calling the code under test), plus the invariants the issue names. The
// linear algebra under them is tested in test_linalg.c.
// covers: sim/measure/metrics.c sim/measure/geometry.c sim/measure/usage.c sim/measure/truncation.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bases.h"
#include "harness.h"
#include "../sim/measure/linalg.h"
#include "../sim/measure/metrics.h"
#include "../sim/measure/truncation.h"
#include "../sim/evaluate/evaluate.h"

// metrics_layer over a scratch block sized for this one call (the tests change shape every call).
static int layer_once(LayerMetrics *m, const MetricsArrays *arr, const LayerData *in,
                      const MetricsOptions *opt, Rng *r, char *err, size_t errlen) {
    MetricsShape shape = metrics_shape(in, opt);
    MetricsScratch scratch;
    if (metrics_scratch_init(&scratch, &shape) != 0) return -2;
    int rc = metrics_layer(m, arr, in, opt, &scratch, r, err, errlen);
    metrics_scratch_free(&scratch);
    return rc;
}

// ---- single measurements -----------------------------------------------------------------------

static void test_rms_and_pairs(void) {
    // Eq. 5: a - b = (0, 2, 3) -> sqrt((0 + 4 + 9) / 3).
    const float a[3] = {1, 2, 3}, b[3] = {1, 0, 0};
    CHECK_NEAR(metrics_rms(a, b, 3), sqrt(13.0 / 3.0), 1e-15, 0);
    CHECK(metrics_rms(a, a, 3) == 0.0);
    // Pairs: in range, i != j, every ordered pair of 5 reachable, reproducible from the seed.
    enum { M = 1000 };
    static int32_t p1[2 * M], p2[2 * M];
    Rng r1, r2;
    rng_seed(&r1, 3, 1); rng_seed(&r2, 3, 1);
    metrics_sample_pairs(p1, M, 5, &r1);
    metrics_sample_pairs(p2, M, 5, &r2);
    int ok = 1, seen[25] = {0}, nseen = 0;
    for (int m = 0; m < M; m++) {
        int i = p1[2 * m], j = p1[2 * m + 1];
        if (i < 0 || i >= 5 || j < 0 || j >= 5 || i == j) ok = 0;
        else if (!seen[i * 5 + j]++) nseen++;
    }
    CHECK(ok);
    CHECK(nseen == 20);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
}

static void test_energy(void) {
    // H rows (3,0), (0,4): G = diag(9, 16), total energy 25. v1 = e2 -> 16/25. The unit mean
    // direction (1.5, 2)/2.5 = (0.6, 0.8): (3·0.6)² + (4·0.8)² = 3.24 + 10.24 = 13.48 -> 0.5392.
    const float H[4] = {3, 0, 0, 4};
    double G[4], e2[2] = {0, 1}, m[2] = {0.6, 0.8};
    linalg_gram(G, H, 2, 2);
    CHECK(G[0] == 9 && G[1] == 0 && G[2] == 0 && G[3] == 16);
    CHECK_NEAR(metrics_directional_energy(G, e2, 2), 0.64, 1e-15, 0);
    CHECK_NEAR(metrics_directional_energy(G, m, 2), 0.5392, 1e-15, 0);
    // retained_energy_centred (ours, the old Eq. 8 reading) with P = [[1,0],[-1,1]]: column
    // means (0, 0.5), so Pi_E P = [[1,-0.5],[-1,0.5]]. Pi_E P e2 = (-0.5, 0.5), |.|² = 0.5; v1
    // energy 16. Logit energy: h1 = (3,0) -> (3,-3): 18; h2 = (0,4) -> (-2,2): 8; total 26.
    // Retained = 16 · 0.5 / 26.
    const float P[4] = {1, 0, -1, 1};
    double B[4];
    metrics_center_rows(B, P, 2, 2);
    CHECK(B[0] == 1 && B[1] == -0.5 && B[2] == -1 && B[3] == 0.5);
    CHECK_NEAR(metrics_retained_energy_centred(G, B, e2, 2, 2), 8.0 / 26.0, 1e-15, 0);
    // Eq. 8 itself, (1/n) Σ_t Σ_e m_t^e <r_e, v>² / |P|_F², same P (|P|_F² = 1 + 1 + 1 = 3),
    // v = e2: <r_0, e2> = 0, <r_1, e2> = 1. Two tokens, one chose expert 0 and one expert 1
    // (counts c = (1, 1)): (0 + 1) / (2·3) = 1/6. Both chose expert 1 (c = (0, 2)): 2/6.
    const size_t c11[2] = {1, 1}, c02[2] = {0, 2};
    CHECK_NEAR(metrics_retained_energy(P, e2, c11, 2, 2, 2), 1.0 / 6, 1e-15, 0);
    CHECK_NEAR(metrics_retained_energy(P, e2, c02, 2, 2, 2), 2.0 / 6, 1e-15, 0);
    const float P0[4] = {0, 0, 0, 0};                        // no router: undefined
    CHECK(isnan(metrics_retained_energy(P0, e2, c11, 2, 2, 2)));
}

static void test_suppression_hand(void) {
    // P = [[1,0],[-1,0]] is already centred; |Pi_E P|_2 = √2 (rank 1). v = e1: |(1,-1)| = √2 ->
    // rho = 1. v = (2,1)/√5 (the mean direction of H rows (2,0),(0,1)): Pi_E P v = (2,-2)/√5,
    // |.| = 2√2/√5 -> rho = 2/√5. v = e2: 0.
    const float P[4] = {1, 0, -1, 0};
    double B[4], e1[2] = {1, 0}, e2[2] = {0, 1}, m[2] = {2 / sqrt(5.0), 1 / sqrt(5.0)};
    metrics_center_rows(B, P, 2, 2);
    CHECK_NEAR(metrics_suppression(B, e1, 2, 2), 1.0, 1e-14, 0);
    CHECK_NEAR(metrics_suppression(B, m, 2, 2), 2 / sqrt(5.0), 1e-14, 0);
    CHECK_NEAR(metrics_suppression(B, e2, 2, 2), 0.0, 1e-15, 0);
    // All rows equal: softmax ignores the router entirely; rho is undefined (NaN).
    const float Q[4] = {1, 2, 1, 2};
    metrics_center_rows(B, Q, 2, 2);
    CHECK(isnan(metrics_suppression(B, e1, 2, 2)));
}

static void test_suppression_shared_direction(void) {
    // H = U diag(σ) Vᵀ with a known v1 = V[:,0]. A router P = P0 + c 1 v1ᵀ with P0 v1 = 0: every
    // row carries the same component c along v1, which Pi_E removes, so rho(v1) = 0. With
    // different constants per row (c_e) the rows differ along v1 and rho must be clearly > 0.
    enum { N = 12, D = 6, E = 5 };
    const double un[N] = {1, 2, -1, 0.5, 3, 1, -2, 1, 0.3, 2, -1, 1}, ud[D] = {2, -1, 1, 3, 0.5, 1};
    const double sig[D] = {10, 4, 3, 2, 1, 0.5};
    double U[N * N], Vt[D * D], s[D], V[D * D], v1[D], B[E * D], P0[E * D];
    float H[N * D], P[E * D];
    householder(U, un, N);
    householder(Vt, ud, D);
    for (int i = 0; i < N; i++)
        for (int a = 0; a < D; a++) {
            double t = 0;
            for (int k = 0; k < D; k++) t += U[i * N + k] * sig[k] * Vt[a * D + k];
            H[i * D + a] = (float)t;
        }
    CHECK(linalg_svd_right(s, V, NULL, H, N, D) >= 0);
    for (int a = 0; a < D; a++) v1[a] = V[a * D];
    CHECK_NEAR(col_abs_cos(V, 0, Vt, 0, D), 1.0, 1e-6, 0);  // the SVD found the built v1
    Rng r;
    rng_seed(&r, 11, 0);
    for (int e = 0; e < E; e++) {                            // P0 rows orthogonal to the true v1
        double *p = P0 + e * D, t = 0;
        for (int a = 0; a < D; a++) p[a] = rng_normal(&r);
        for (int a = 0; a < D; a++) t += p[a] * Vt[a * D];
        for (int a = 0; a < D; a++) p[a] -= t * Vt[a * D];
    }
    for (int e = 0; e < E; e++)
        for (int a = 0; a < D; a++) P[e * D + a] = (float)(P0[e * D + a] + 2.5 * Vt[a * D]);
    metrics_center_rows(B, P, E, D);
    double rho = metrics_suppression(B, v1, E, D);
    CHECK_MSG(rho >= 0.0 && rho < 1e-5, "rho = %g", rho);
    for (int e = 0; e < E; e++)                              // now c_e = 0.5 e differs per row
        for (int a = 0; a < D; a++) P[e * D + a] = (float)(P0[e * D + a] + 0.5 * e * Vt[a * D]);
    metrics_center_rows(B, P, E, D);
    rho = metrics_suppression(B, v1, E, D);
    CHECK_MSG(rho > 0.05, "rho = %g", rho);
}

// Plain O(T²) reference for Eq. 10 on one sequence of n rows (doubles, written independently).
static double naive_seq_cos(const float *X, int n, int d) {
    double s = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double xy = 0, xx = 0, yy = 0;
            for (int k = 0; k < d; k++) {
                double x = X[i * d + k], y = X[j * d + k];
                xy += x * y; xx += x * x; yy += y * y;
            }
            s += (xx > 0 && yy > 0) ? xy / sqrt(xx * yy) : 0.0;
        }
    return s / (0.5 * n * (n - 1));
}

static void test_seq_cosine(void) {
    // Sequence 1: (1,0), (0,1), (1,1): cosines 0, 1/√2, 1/√2 -> mean √2/3.
    // Sequence 2: (1,0), (2,0), (-1,0): cosines 1, -1, -1 -> mean -1/3.
    // A 7th row forms a sequence of one and is skipped.
    const float X[14] = {1, 0, 0, 1, 1, 1, 1, 0, 2, 0, -1, 0, 5, 5};
    CHECK_NEAR(metrics_seq_cosine(X, 7, 2, 3), (sqrt(2.0) / 3 - 1.0 / 3) / 2, 1e-15, 0);
    // A zero row is orthogonal to everything: (0,0), (1,0), (1,0) -> cosines 0, 0, 1 -> 1/3.
    const float Y[6] = {0, 0, 1, 0, 1, 0};
    CHECK_NEAR(metrics_seq_cosine(Y, 3, 2, 3), 1.0 / 3, 1e-15, 0);
    // Random rows against the O(T²) reference, with a short last sequence (50 = 3·16 + 2).
    enum { N = 50, d = 7, T = 16 };
    static float R[N * d];
    Rng r;
    rng_seed(&r, 5, 0);
    for (int i = 0; i < N * d; i++) R[i] = (float)(rng_normal(&r) + 0.3);
    double ref = (naive_seq_cos(R, 16, d) + naive_seq_cos(R + 16 * d, 16, d) + naive_seq_cos(R + 32 * d, 16, d)
                  + naive_seq_cos(R + 48 * d, 2, d)) / 4;
    CHECK_NEAR(metrics_seq_cosine(R, N, d, T), ref, 1e-13, 0);
}

static void test_seq_hamming(void) {
    // Eq. 11: pair similarity m_iᵀm_j / E, the experts both tokens chose, over E. E = 4, K = 2.
    // Sequence 1: {0,1}, {0,2}, {1,0}. Pairs: (1,2) share 1 expert (0) -> 1/4; (1,3) share K = 2
    // (0 and 1) -> 2/4; (2,3) share 1 (0) -> 1/4. Mean (1 + 2 + 1) / (3·4) = 1/3.
    // Sequence 2: {2,3}, {0,1}, {3,2}. (1,2) share 0 -> 0; (1,3) share 2 -> 2/4; (2,3) share 0.
    // Mean 2 / 12 = 1/6. Mean over sequences (1/3 + 1/6) / 2 = 1/4.
    // (The old formula 1 - Hamming/E gave 2/3, 1/3 and 1/2: this test fails on it.)
    const int32_t t[12] = {0, 1, 0, 2, 1, 0, 2, 3, 0, 1, 3, 2};
    CHECK_NEAR(metrics_seq_hamming(t, 6, 2, 4, 3), 0.25, 1e-15, 0);
    CHECK_NEAR(metrics_seq_hamming(t, 3, 2, 4, 3), 1.0 / 3, 1e-15, 0);
    CHECK_NEAR(metrics_seq_hamming(t + 6, 3, 2, 4, 3), 1.0 / 6, 1e-15, 0);
    // One sequence of identical choices: every pair shares K = 2 of E = 4 -> K/E = 1/2 (not 1).
    const int32_t u[6] = {1, 3, 3, 1, 1, 3};
    CHECK_NEAR(metrics_seq_hamming(u, 3, 2, 4, 3), 0.5, 0, 0);
    // Disjoint choices only: 0.
    const int32_t w[4] = {0, 1, 2, 3};
    CHECK(metrics_seq_hamming(w, 2, 2, 4, 2) == 0.0);
}

static void test_softmax_stats(void) {
    // Row 1: logits (0, ln2, ln3) -> p = (1/6, 1/3, 1/2): max 1/2, top-2 sum 5/6, entropy
    // (1/6)ln6 + (1/3)ln3 + (1/2)ln2. Row 2: (0,0,0) -> uniform: max 1/3, top-2 2/3, entropy ln3.
    const float Z[6] = {0, (float)log(2.0), (float)log(3.0), 0, 0, 0};
    double conf, tk, ent;
    metrics_softmax_stats(&conf, &tk, &ent, Z, 2, 3, 2, 2);
    double h1 = log(6.0) / 6 + log(3.0) / 3 + log(2.0) / 2;
    CHECK_NEAR(conf, (0.5 + 1.0 / 3) / 2, 1e-7, 0);          // float logits: ~1e-8 error
    CHECK_NEAR(tk, (5.0 / 6 + 2.0 / 3) / 2, 1e-7, 0);
    CHECK_NEAR(ent, (h1 + log(3.0)) / 2, 1e-7, 0);
    // Large logits do not overflow: (1000, 0) -> p ≈ (1, e^-1000).
    const float W[2] = {1000, 0};
    metrics_softmax_stats(&conf, NULL, &ent, W, 1, 2, 1, 1);
    CHECK(conf == 1.0 && ent >= 0.0 && ent < 1e-300);
}

static void test_balance(void) {
    // N = 2, K = 2, E = 4: {0,1}, {0,2} -> loads (2,1,1,0), mean 1 -> MaxVio 1; q = (1/2, 1/4,
    // 1/4, 0) -> entropy (1/2)ln2 + (1/2)ln4 = 1.5 ln2.
    const int32_t a[4] = {0, 1, 0, 2};
    double mv, h;
    metrics_balance(&mv, &h, a, 2, 2, 4);
    CHECK_NEAR(mv, 1.0, 1e-15, 0);
    CHECK_NEAR(h, 1.5 * log(2.0), 1e-15, 0);
    // Perfect balance: MaxVio 0, entropy ln E.
    const int32_t b[4] = {3, 1, 0, 2};
    metrics_balance(&mv, &h, b, 2, 2, 4);
    CHECK(mv == 0.0);
    CHECK_NEAR(h, log(4.0), 1e-15, 0);
}

static void test_freq_freqsim(void) {
    // Eq. 13: {0,1}, {0,2} -> counts (2,1,1,0) / (2·2) = (1/2, 1/4, 1/4, 0).
    const int32_t t[4] = {0, 1, 0, 2};
    double f[4], g[4];
    metrics_freq(f, t, 2, 2, 4);
    CHECK(f[0] == 0.5 && f[1] == 0.25 && f[2] == 0.25 && f[3] == 0.0);
    // FreqSim of identical usage is 1, also for a different ordering of the same choices.
    const int32_t u[4] = {2, 0, 1, 0};
    metrics_freq(g, u, 2, 2, 4);
    CHECK_NEAR(metrics_cosine(f, g, 4), 1.0, 1e-15, 0);
    // (1/2,1/2,0,0) vs (1/2,0,1/2,0): dot 1/4, norms 1/√2 each -> 1/2.
    const double a[4] = {0.5, 0.5, 0, 0}, b[4] = {0.5, 0, 0.5, 0}, z[4] = {0, 0, 0, 0};
    CHECK_NEAR(metrics_cosine(a, b, 4), 0.5, 1e-15, 0);
    CHECK(metrics_cosine(a, z, 4) == 0.0);
}

static void test_top_p_jaccard(void) {
    uint8_t s[4];
    // (0.5, 0.35, 0.1, 0.05) at P = 0.8: 0.5 < 0.8, 0.85 >= 0.8 -> {0, 1}.
    const double a[4] = {0.5, 0.35, 0.1, 0.05}, b[4] = {0.1, 0.5, 0.35, 0.05};
    CHECK(metrics_top_p_set(s, a, 4, 0.8) == 2 && s[0] && s[1] && !s[2] && !s[3]);
    // b: {1, 2}. Jaccard({0,1}, {1,2}) = 1/3; identical sets 1.
    CHECK_NEAR(metrics_jaccard(a, b, 4, 0.8), 1.0 / 3, 1e-15, 0);
    CHECK(metrics_jaccard(a, a, 4, 0.8) == 1.0);
    // A prefix whose exact sum is P counts as reaching it, even when the double sum rounds
    // below: 0.7 + 0.1 = 0.7999999999999999 in double -> {0, 1}, not three experts.
    const double c[4] = {0.7, 0.1, 0.1, 0.1};
    CHECK(0.7 + 0.1 < 0.8);
    CHECK(metrics_top_p_set(s, c, 4, 0.8) == 2);
    // Ties go to the lower index; zero-frequency experts never join, even at P = 1.
    const double e[4] = {0.25, 0.25, 0.25, 0.25}, h[4] = {0.5, 0, 0.5, 0};
    CHECK(metrics_top_p_set(s, e, 4, 0.5) == 2 && s[0] && s[1]);
    CHECK(metrics_top_p_set(s, h, 4, 1.0) == 2 && s[0] && s[2]);
    // Jaccard stays in [0, 1] on random frequency vectors, and reaches 0 on disjoint supports.
    Rng r;
    rng_seed(&r, 9, 0);
    int inrange = 1;
    for (int trial = 0; trial < 200; trial++) {
        double x[8], y[8], sx = 0, sy = 0;
        for (int k = 0; k < 8; k++) { x[k] = rng_uniform(&r); y[k] = rng_uniform(&r); sx += x[k]; sy += y[k]; }
        for (int k = 0; k < 8; k++) { x[k] /= sx; y[k] /= sy; }
        double j = metrics_jaccard(x, y, 8, 0.1 + 0.9 * rng_uniform(&r));
        if (!(j >= 0.0 && j <= 1.0)) inrange = 0;
    }
    CHECK(inrange);
    const double d1[4] = {1, 0, 0, 0}, d2[4] = {0, 0, 0, 1};
    CHECK(metrics_jaccard(d1, d2, 4, 0.8) == 0.0);
}

static void test_domains(void) {
    // NMI, K = 1. Independent: each domain uses experts 0 and 1 equally -> I = 0.
    const int32_t ti[4] = {0, 1, 0, 1}, di[4] = {0, 0, 1, 1};
    CHECK_NEAR(metrics_nmi(ti, di, 4, 1, 2, 2), 0.0, 1e-15, 0);
    // One-to-one, K = 2: domain 0 -> {0,1}, domain 1 -> {2,3}. I = H(domain) = ln2, H(expert) =
    // ln4, so I / min = 1.
    const int32_t to[8] = {0, 1, 1, 0, 2, 3, 3, 2}, dd[4] = {0, 0, 1, 1};
    CHECK_NEAR(metrics_nmi(to, dd, 4, 2, 4, 2), 1.0, 1e-15, 0);
    // By hand, (domain, expert) samples (0,0), (0,0), (0,1), (1,1):
    //   p(d) = (3/4, 1/4), p(e) = (1/2, 1/2), p(0,0) = 1/2, p(0,1) = 1/4, p(1,1) = 1/4,
    //   I = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2, H(d) = -(3/4 ln 3/4 + 1/4 ln 1/4) < ln 2 = H(e).
    const int32_t th[4] = {0, 0, 1, 1}, dh[4] = {0, 0, 0, 1};
    double I = 0.5 * log(4.0 / 3) + 0.25 * log(2.0 / 3) + 0.25 * log(2.0);
    double Hd = -(0.75 * log(0.75) + 0.25 * log(0.25));
    CHECK_NEAR(metrics_nmi(th, dh, 4, 1, 2, 2), I / Hd, 1e-14, 0);
    // One domain: no information, 0 by convention.
    const int32_t d0[4] = {0, 0, 0, 0};
    CHECK(metrics_nmi(th, d0, 4, 1, 2, 1) == 0.0);

    // Domain x expert frequency (K = 2, E = 4, 3 domains, domain 2 empty):
    //   domain 0 rows {0,1}, {0,2} -> (1, 1/2, 1/2, 0); domain 1 row {3,0} -> (1, 0, 0, 1).
    const int32_t tk[6] = {0, 1, 0, 2, 3, 0}, dm[3] = {0, 0, 1};
    double M[12];
    size_t cnt[3];
    metrics_domain_freq(M, cnt, tk, dm, 3, 2, 4, 3);
    const double want[12] = {1, 0.5, 0.5, 0, 1, 0, 0, 1, 0, 0, 0, 0};
    int same = 1;
    for (int i = 0; i < 12; i++) same &= M[i] == want[i];
    CHECK(same);
    CHECK(cnt[0] == 2 && cnt[1] == 1 && cnt[2] == 0);
    // Cross-domain over the one pair with tokens: f0 = (1/2, 1/4, 1/4, 0), f1 = (1/2, 0, 0, 1/2):
    // cosine (1/4) / (√(3/8) · √(1/2)) = 1/√3. Top-0.8: f0 -> {0, 1, 2} (0.5, 0.75, 1.0);
    // f1 -> {0, 3}; Jaccard 1/4.
    double fs, jc;
    metrics_cross_domain(&fs, &jc, M, cnt, 3, 4, 2, 0.8);
    CHECK_NEAR(fs, 1 / sqrt(3.0), 1e-15, 0);
    CHECK_NEAR(jc, 0.25, 1e-15, 0);
    // Identical usage in two domains: FreqSim 1, Jaccard 1.
    const int32_t ts[4] = {0, 1, 1, 0}, ds[2] = {0, 1};
    metrics_domain_freq(M, cnt, ts, ds, 2, 2, 4, 2);
    metrics_cross_domain(&fs, &jc, M, cnt, 2, 4, 2, 0.8);
    CHECK_NEAR(fs, 1.0, 1e-15, 0);
    CHECK(jc == 1.0);
    // Only one domain with tokens: not applicable.
    metrics_domain_freq(M, cnt, ts, d0, 2, 2, 4, 2);
    metrics_cross_domain(&fs, &jc, M, cnt, 2, 4, 2, 0.8);
    CHECK(isnan(fs) && isnan(jc));
}

static void test_token_specialization(void) {
    // K = 1: id 5 at rows 0,1,2 picks experts 0,0,1 -> its top expert takes 2 of 3; id 7 once ->
    // 1 of 1. Count-weighted: (3·2/3 + 1·1) / 4 = 3/4.
    const int32_t t1[4] = {0, 0, 1, 2}, id1[4] = {5, 5, 5, 7};
    CHECK_NEAR(metrics_token_specialization(t1, id1, 4, 1, 3), 0.75, 1e-15, 0);
    // K = 2: id 5 twice with {0,1}, {0,2}: expert 0 is among the choices both times -> 1.
    const int32_t t2[4] = {0, 1, 0, 2}, id2[2] = {5, 5};
    CHECK_NEAR(metrics_token_specialization(t2, id2, 2, 2, 3), 1.0, 1e-15, 0);
    // Interleaved ids (order must not matter): ids 7,8,7,8,7,8 with experts 0,0,1,1,0,1:
    // id 7 -> 0,1,0 (2 of 3); id 8 -> 0,1,1 (2 of 3) -> 2/3.
    const int32_t t3[6] = {0, 0, 1, 1, 0, 1}, id3[6] = {7, 8, 7, 8, 7, 8};
    CHECK_NEAR(metrics_token_specialization(t3, id3, 6, 1, 2), 2.0 / 3, 1e-15, 0);
}

static void test_mask_topk(void) {
    // Scores (5,4,3,2,1,0), r = 1/3 of E = 6 -> mask the top 2 {0,1}; re-pick K = 2 -> (2, 3).
    const float z[6] = {5, 4, 3, 2, 1, 0};
    int32_t out[2];
    uint8_t mk[6];
    CHECK(metrics_mask_topk(out, mk, z, 1, 6, 2, 1.0 / 3) == 0);
    CHECK(out[0] == 2 && out[1] == 3);
    CHECK(mk[0] && mk[1] && !mk[2] && !mk[3] && !mk[4] && !mk[5]);
    // r = 0: the plain top-K. Ties: lower index first, masked and chosen alike.
    CHECK(metrics_mask_topk(out, NULL, z, 1, 6, 2, 0.0) == 0 && out[0] == 0 && out[1] == 1);
    const float t[4] = {1, 1, 1, 1};
    CHECK(metrics_mask_topk(out, mk, t, 1, 4, 2, 0.25) == 0);
    CHECK(mk[0] && !mk[1] && out[0] == 1 && out[1] == 2);
    // Not enough experts left (round(0.9·6) = 5, 5 + 2 > 6) or r out of range: refused.
    CHECK(metrics_mask_topk(out, NULL, z, 1, 6, 2, 0.9) == -1);
    CHECK(metrics_mask_topk(out, NULL, z, 1, 6, 2, -0.1) == -1);
}

static void test_prop1(void) {
    enum { N = 64, D = 8, E = 5, M = 500 };
    static float H[N * D], P[E * D];
    static double V[D * D], s[D], lhs[M], rhs[M];
    static int32_t pairs[2 * M];
    Rng r;
    rng_seed(&r, 21, 0);
    for (int i = 0; i < N * D; i++) H[i] = (float)(rng_normal(&r) + (i % D == 0 ? 3.0 : 0.0));
    for (int i = 0; i < E * D; i++) P[i] = (float)rng_normal(&r);
    CHECK(linalg_svd_right(s, V, NULL, H, N, D) >= 0);
    metrics_sample_pairs(pairs, M, N, &r);
    // The inequality holds on random data for every rank, and is not an identity (tightness < 1).
    for (int rank = 1; rank <= D; rank++) {
        Prop1Summary p1;
        CHECK(metrics_prop1(&p1, lhs, rhs, NULL, H, P, V, pairs, M, D, E, rank, 1e-5) == 0);
        CHECK_MSG(p1.holds_fraction == 1.0, "rank %d: holds %g", rank, p1.holds_fraction);
        CHECK_MSG(p1.tightness > 0.1 && p1.tightness < 0.999, "rank %d: tightness %g", rank, p1.tightness);
        // Eq. 4 is never looser than Eq. 20 here... not in general; only the naive one is <= 1.
        CHECK_MSG(p1.naive_tightness > 0.0 && p1.naive_tightness <= 1.0 + 1e-12, "rank %d: naive %g", rank, p1.naive_tightness);
        if (rank == D) CHECK(p1.residual_ratio < 1e-6);       // Pi_D = I: no residual at all
    }
    // lhs is |P (h_i - h_j)|, recomputed here directly for a few pairs.
    for (int m = 0; m < 5; m++) {
        double y2 = 0;
        for (int e = 0; e < E; e++) {
            double t = 0;
            for (int a = 0; a < D; a++) t += P[e * D + a] * ((double)H[pairs[2 * m] * D + a] - H[pairs[2 * m + 1] * D + a]);
            y2 += t * t;
        }
        CHECK_NEAR(lhs[m], sqrt(y2), 1e-12, 1e-12);
    }
    // Rank-one states h_i = a_i (3, 4, 0, ...): every difference lies along v1 = (0.6, 0.8, 0...),
    // (I - Pi_1) d = 0 and |P Pi_1 d| = |P v1| |d|, so the bound is an equality: tightness 1.
    for (int i = 0; i < N; i++) {
        for (int a = 0; a < D; a++) H[i * D + a] = 0;
        H[i * D] = (float)(3 * (i % 7 - 3)); H[i * D + 1] = (float)(4 * (i % 7 - 3));
    }
    CHECK(linalg_svd_right(s, V, NULL, H, N, D) >= 0);
    Prop1Summary p1;
    CHECK(metrics_prop1(&p1, NULL, NULL, NULL, H, P, V, pairs, M, D, E, 1, 1e-5) == 0);
    CHECK(p1.holds_fraction == 1.0);
    CHECK_NEAR(p1.tightness, 1.0, 1e-9, 0);
}

// ---- one layer, end to end ---------------------------------------------------------------------

static void test_layer_hand(void) {
    // N = 6, T = 2 (3 sequences), D = E = 2, K = 1, P = I so Z = H.
    //   seq 0: h (1,0), (3,0), experts 0, 0, domain 0, token ids 7, 8
    //   seq 1: h (0,1), (0,3), experts 1, 1, domain 1, ids 7, 8
    //   seq 2: h (1,1), (1,1), experts 0, 1, domain 2, ids 7, 8
    const float H[12] = {1, 0, 3, 0, 0, 1, 0, 3, 1, 1, 1, 1}, P[4] = {1, 0, 0, 1};
    const int32_t topk[6] = {0, 0, 1, 1, 0, 1}, dom[6] = {0, 0, 1, 1, 2, 2}, tok[6] = {7, 8, 7, 8, 7, 8};
    LayerData in = {.N = 6, .D = 2, .E = 2, .K = 1, .T = 2, .H = H, .P = P, .Z = H, .topk = topk,
                    .domain = dom, .n_domains = 3, .token = tok};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 64;
    enum { SP = 3 };
    double sfs[SP], spc[SP], sjc[SP], dfreq[6], rh[64], rz[64];
    int32_t sp[2 * SP];
    MetricsArrays arr = {.rms_hidden = rh, .rms_logits = rz, .seq_pairs = sp, .seq_freqsim = sfs,
                         .seq_pooled_cos = spc, .seq_jaccard = sjc, .domain_freq = dfreq};
    CHECK(metrics_seq_pair_count(6, 2, &opt) == SP);
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 1, 0);
    char err[200] = "";
    CHECK_MSG(layer_once(&m, &arr, &in, &opt, &r, err, sizeof err) == 0, "%s", err);

    // Eq. 7 per sequence: every sequence is rank one (parallel rows), so its s1²/Σs² = 1 and
    // s2 = 0: energy_first = 1, energy_dir2 = energy_dir3 = 0, energy_top3 = 1.
    CHECK_NEAR(m.energy_first, 1.0, 1e-14, 0);
    CHECK_NEAR(m.energy_dir2, 0.0, 1e-14, 0);
    CHECK_NEAR(m.energy_dir3, 0.0, 0, 0);
    CHECK_NEAR(m.energy_top3, 1.0, 1e-14, 0);
    // One SVD of all six states differs (ours, energy_first_wholeset): Gram = [[12,2],[2,12]],
    // λ = 14, 10 with v1 = (1,1)/√2 -> 14/24. The mean direction is also (1,1)/√2.
    CHECK_NEAR(m.energy_first_wholeset, 14.0 / 24, 1e-14, 0);
    CHECK_NEAR(m.energy_mean_dir, 14.0 / 24, 1e-14, 0);
    // Eq. 8 per sequence, P = I (|P|_F² = 2, P v = v):
    //   seq 0: v1 = ±e1, both tokens chose expert 0: (1/2)(1 + 1) / 2 = 1/2;
    //   seq 1: v1 = ±e2, both chose expert 1: 1/2;
    //   seq 2: v1 = (1,1)/√2, one chose 0 and one 1: (1/2)(1/2 + 1/2) / 2 = 1/4.
    // Mean (1/2 + 1/2 + 1/4) / 3 = 5/12. v2 is undefined in every (rank-one) sequence: NaN.
    CHECK_NEAR(m.retained_energy_first, 5.0 / 12, 1e-14, 0);
    CHECK(isnan(m.retained_energy_dir2) && isnan(m.retained_energy_dir3));
    // P = I: Pi_E P = [[1/2,-1/2],[-1/2,1/2]] annihilates (1,1): rows differ by nothing along the
    // whole-set v1, so rho and the centred retained energy (ours) are 0.
    CHECK_NEAR(m.suppression_rho, 0.0, 1e-14, 0);
    CHECK_NEAR(m.suppression_rho_mean, 0.0, 1e-14, 0);
    CHECK_NEAR(m.retained_energy_centred, 0.0, 1e-14, 0);
    // Logit norms (Z = H): 1, 3 | 1, 3 | √2, √2 -> sequence means 2, 2, √2.
    CHECK_NEAR(m.logit_norm_mean, (4 + sqrt(2.0)) / 3, 1e-14, 0);
    // P = I: |P d| = |P|_2 |d| for every pair, the naive bound is attained.
    CHECK_NEAR(m.prop1_naive_tightness, 1.0, 1e-14, 0);
    // Eq. 10: all three sequences consist of parallel rows -> 1 for states and logits.
    CHECK_NEAR(m.cosine_hidden, 1.0, 1e-15, 0);
    CHECK_NEAR(m.cosine_logits, 1.0, 1e-15, 0);
    // Eq. 11: sequences 0 and 1 repeat their expert (share 1 of E = 2: 1/2), sequence 2 does not
    // (0): (1/2 + 1/2 + 0) / 3 = 1/3.
    CHECK_NEAR(m.hamming_similarity, 1.0 / 3, 1e-15, 0);
    // Softmax of two logits: p_max = σ(gap). Gaps 1, 3, 1, 3, 0, 0.
    double s1 = 1 / (1 + exp(-1.0)), s3 = 1 / (1 + exp(-3.0));
    double hb1 = -(s1 * log(s1) + (1 - s1) * log(1 - s1)), hb3 = -(s3 * log(s3) + (1 - s3) * log(1 - s3));
    CHECK_NEAR(m.router_confidence, (2 * s1 + 2 * s3 + 1) / 6, 1e-12, 0);
    CHECK_NEAR(m.topk_score_sum, (2 * s1 + 2 * s3 + 1) / 6, 1e-12, 0);   // K = 1: the same
    CHECK_NEAR(m.router_entropy, (2 * hb1 + 2 * hb3 + 2 * log(2.0)) / 6, 1e-12, 0);
    // Loads (3, 3): balanced.
    CHECK(m.maxvio == 0.0);
    CHECK_NEAR(m.load_entropy, log(2.0), 1e-15, 0);
    // Sequence pairs (0,1), (0,2), (1,2). Pooled unit states (Eq. 16) along (1,0), (0,1), (1,1):
    // cosines 0, 1/√2, 1/√2. Frequencies (1,0), (0,1), (1/2,1/2): the same cosines. Top-0.8 sets {0}, {1}, {0,1}:
    // Jaccard 0, 1/2, 1/2.
    CHECK(sp[0] == 0 && sp[1] == 1 && sp[2] == 0 && sp[3] == 2 && sp[4] == 1 && sp[5] == 2);
    CHECK_NEAR(spc[0], 0.0, 1e-15, 0);
    CHECK_NEAR(spc[1], 1 / sqrt(2.0), 1e-15, 0);
    CHECK_NEAR(sfs[2], 1 / sqrt(2.0), 1e-15, 0);
    CHECK(sjc[0] == 0.0 && sjc[1] == 0.5 && sjc[2] == 0.5);
    CHECK_NEAR(m.pooled_cosine_seq, sqrt(2.0) / 3, 1e-15, 0);
    CHECK_NEAR(m.freqsim_seq, sqrt(2.0) / 3, 1e-15, 0);
    CHECK_NEAR(m.jaccard_seq, 1.0 / 3, 1e-15, 0);
    CHECK_NEAR(m.freqsim_pooled_corr, 1.0, 1e-12, 0);
    // Domains coincide with sequences here: the same cross-domain values. NMI: p(d) = 1/3 each,
    // p(e) = 1/2 each, joint (0,0) 1/3, (1,1) 1/3, (2,0) 1/6, (2,1) 1/6 -> I = (2/3) ln2; min
    // entropy is H(e) = ln2 -> 2/3.
    CHECK_NEAR(m.freqsim_cross_domain, sqrt(2.0) / 3, 1e-15, 0);
    CHECK_NEAR(m.jaccard_cross_domain, 1.0 / 3, 1e-15, 0);
    CHECK_NEAR(m.nmi_domain_expert, 2.0 / 3, 1e-14, 0);
    CHECK(dfreq[0] == 1 && dfreq[1] == 0 && dfreq[2] == 0 && dfreq[3] == 1 && dfreq[4] == 0.5 && dfreq[5] == 0.5);
    // Token ids: 7 -> experts 0, 1, 0; 8 -> 0, 1, 1: 2/3 each.
    CHECK_NEAR(m.token_specialization, 2.0 / 3, 1e-15, 0);
    // Z = H: the two RMS distances agree on every pair, correlation 1; Proposition 1 holds.
    int same = 1;
    for (int i = 0; i < 64; i++) same &= rh[i] == rz[i];
    CHECK(same);
    CHECK_NEAR(m.rms_corr, 1.0, 1e-12, 0);
    CHECK(m.prop1_holds_fraction == 1.0);
}

static void fill_random_layer(float *H, float *P, float *Z, int32_t *topk, int32_t *dom, int32_t *tok,
                              size_t N, int D, int E, int K, int Dom, Rng *r) {
    // States with a shared direction (component 0 offset), a random router, logits Z = P h, the
    // top-K of the logits, domains in blocks of 64 tokens, token ids in [0, 50).
    for (size_t i = 0; i < N * D; i++) H[i] = (float)(rng_normal(r) + (i % D == 0 ? 2.0 : 0.0));
    for (int i = 0; i < E * D; i++) P[i] = (float)(0.3 * rng_normal(r));
    for (size_t i = 0; i < N; i++) {
        for (int e = 0; e < E; e++) {
            double t = 0;
            for (int a = 0; a < D; a++) t += (double)P[e * D + a] * H[i * D + a];
            Z[i * E + e] = (float)t;
        }
        if (dom) dom[i] = (int32_t)((i / 64) % Dom);
        if (tok) tok[i] = (int32_t)rng_below(r, 50);
    }
    CHECK(metrics_mask_topk(topk, NULL, Z, N, E, K, 0.0) == 0);
}

static void test_layer_random(void) {
    enum { N = 512, D = 16, E = 8, K = 2, T = 32, Dom = 3 };
    static float H[N * D], P[E * D], Z[N * E];
    static int32_t topk[N * K], dom[N], tok[N];
    Rng r;
    rng_seed(&r, 4, 0);
    fill_random_layer(H, P, Z, topk, dom, tok, N, D, E, K, Dom, &r);
    float *rn = malloc(sizeof(float) * N);
    for (size_t i = 0; i < (size_t)N; i++) rn[i] = (float)(1 + i % 3);
    LayerData in = {.N = N, .D = D, .E = E, .K = K, .T = T, .H = H, .P = P, .Z = Z, .topk = topk,
                    .domain = dom, .n_domains = Dom, .token = tok, .resid_norm = rn};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.prop1_rank = 2;
    LayerMetrics a, b, c;
    Rng r1, r2, r3;
    rng_seed(&r1, 99, 0); rng_seed(&r2, 99, 0); rng_seed(&r3, 100, 0);
    CHECK(layer_once(&a, NULL, &in, &opt, &r1, NULL, 0) == 0);
    CHECK(layer_once(&b, NULL, &in, &opt, &r2, NULL, 0) == 0);
    CHECK(layer_once(&c, NULL, &in, &opt, &r3, NULL, 0) == 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);                    // same seed: bitwise identical
    CHECK(a.rms_hidden_mean != c.rms_hidden_mean);           // the pairs do come from the Rng
    CHECK(a.energy_first == c.energy_first);                 // ... and nothing else does
    // One scratch block for the layer, dirty from garbage: the same bits (no stage reads a slice
    // it has not written).
    MetricsShape shape = metrics_shape(&in, &opt);
    MetricsScratch sc;
    CHECK(metrics_scratch_init(&sc, &shape) == 0 && sc.bytes == metrics_scratch_bytes(&shape));
    memset(sc.base, 0xA5, sc.bytes);
    Rng r4;
    rng_seed(&r4, 99, 0);
    CHECK(metrics_layer(&c, NULL, &in, &opt, &sc, &r4, NULL, 0) == 0);
    CHECK(memcmp(&a, &c, sizeof a) == 0);
    metrics_scratch_free(&sc);
    // Every scalar is finite here (domains and token ids given, 16 sequences), and in range.
    double v[METRICS_NSCALARS];
    const char *names[METRICS_NSCALARS];
    CHECK(metrics_list(names, NULL, v, &a) == METRICS_NSCALARS);
    for (int i = 0; i < METRICS_NSCALARS; i++) CHECK_MSG(isfinite(v[i]), "%s = %g", names[i], v[i]);
    CHECK(a.prop1_holds_fraction == 1.0);
    CHECK(a.energy_first > a.energy_mean_dir - 1e-12 && a.energy_first <= 1.0);  // v1 maximizes Eq. 7
    CHECK(a.suppression_rho >= 0.0 && a.suppression_rho <= 1.0 + 1e-12);
    CHECK(a.nmi_domain_expert >= 0.0 && a.nmi_domain_expert <= 1.0);
    CHECK(a.router_confidence >= 1.0 / E && a.topk_score_sum >= a.router_confidence);
    CHECK(a.token_specialization >= (double)K / E && a.token_specialization <= 1.0);
    // The individual functions agree with the struct.
    double mv, h;
    metrics_balance(&mv, &h, topk, N, K, E);
    CHECK(mv == a.maxvio && h == a.load_entropy);
    CHECK(metrics_seq_cosine(H, N, D, T) == a.cosine_hidden);

    // Sampled sequence pairs: T = 1 gives one-hot frequency vectors (K = 1 below), so each
    // pair's FreqSim is 1 if both tokens chose the same expert and 0 otherwise.
    int32_t top1[N];
    CHECK(metrics_mask_topk(top1, NULL, Z, N, E, 1, 0.0) == 0);
    LayerData in1 = in;
    in1.K = 1; in1.T = 1; in1.topk = top1;
    opt.seq_pairs = 100;
    CHECK(metrics_seq_pair_count(N, 1, &opt) == 100);
    int32_t sp[200];
    double fs[100];
    MetricsArrays arr = {.seq_pairs = sp, .seq_freqsim = fs};
    CHECK(layer_once(&a, &arr, &in1, &opt, &r1, NULL, 0) == 0);
    int ok = 1;
    for (int n = 0; n < 100; n++) ok &= sp[2 * n] != sp[2 * n + 1] && fs[n] == (top1[sp[2 * n]] == top1[sp[2 * n + 1]]);
    CHECK(ok);
    // One sequence, no domains, no ids: those scalars do not apply.
    LayerData in2 = in;
    in2.T = N; in2.domain = NULL; in2.token = NULL;
    CHECK(layer_once(&a, NULL, &in2, &opt, &r1, NULL, 0) == 0);
    CHECK(isnan(a.freqsim_seq) && isnan(a.nmi_domain_expert) && isnan(a.token_specialization));
    CHECK(isfinite(a.cosine_hidden) && isfinite(a.hamming_similarity));
    free(rn);
}

static void test_check_errors(void) {
    const float H[4] = {1, 0, 0, 1}, P[4] = {1, 0, 0, 1};
    int32_t topk[2] = {0, 2};
    int32_t dom[2] = {0, 3};
    LayerData in = {.N = 2, .D = 2, .E = 2, .K = 1, .T = 2, .H = H, .P = P, .Z = H, .topk = topk};
    MetricsOptions opt;
    metrics_default_options(&opt);
    char err[200] = "";
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 1, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "topk[1][0] = 2") != NULL, "message: %s", err);
    CHECK(isnan(m.router_confidence));
    topk[1] = 1;
    in.domain = dom; in.n_domains = 2;
    CHECK(metrics_check(&in, &opt, err, sizeof err) == -1 && strstr(err, "domain[1] = 3") != NULL);
    in.domain = NULL;
    CHECK(metrics_check(&in, &opt, err, sizeof err) == 0);
    const float Hn[4] = {1, NAN, 0, 1};
    in.H = Hn;
    CHECK(metrics_check(&in, &opt, err, sizeof err) == -1 && strstr(err, "H[0][1]") != NULL);
    in.H = H;
    opt.top_p = 0.0;
    CHECK(metrics_check(&in, &opt, err, sizeof err) == -1 && strstr(err, "top_p") != NULL);
    // The scratch block: one byte short of metrics_scratch_bytes is refused (all NaN), and NULL too.
    metrics_default_options(&opt);
    MetricsShape shape = metrics_shape(&in, &opt);
    size_t need = metrics_scratch_bytes(&shape);
    CHECK(need > 0);
    MetricsScratch small = {malloc(need), need - 1};
    CHECK(metrics_layer(&m, NULL, &in, &opt, &small, &r, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "scratch too small") != NULL, "message: %s", err);
    CHECK(isnan(m.router_confidence));
    CHECK(metrics_layer(&m, NULL, &in, &opt, NULL, &r, err, sizeof err) == -1);
    small.bytes = need;
    CHECK(metrics_layer(&m, NULL, &in, &opt, &small, &r, err, sizeof err) == 0);
    metrics_scratch_free(&small);
    CHECK(small.base == NULL && small.bytes == 0);
}

static void test_list_json(void) {
    // The first fifteen names are read by other tools: exact names, fixed order.
    static const char *fixed[15] = {"router_confidence", "hamming_similarity", "cosine_hidden",
        "cosine_logits", "energy_first", "retained_energy_first", "maxvio", "load_entropy",
        "suppression_rho", "prop1_holds_fraction", "topk_score_sum", "router_entropy",
        "freqsim_cross_domain", "jaccard_cross_domain", "nmi_domain_expert"};
    const char *names[METRICS_NSCALARS], *help[METRICS_NSCALARS];
    CHECK(metrics_list(names, help, NULL, NULL) == METRICS_NSCALARS);
    for (int i = 0; i < 15; i++) CHECK_MSG(strcmp(names[i], fixed[i]) == 0, "name %d: %s", i, names[i]);
    int unique = 1;
    for (int i = 0; i < METRICS_NSCALARS; i++) {
        for (int j = 0; j < i; j++) unique &= strcmp(names[i], names[j]) != 0;
        unique &= help[i] && help[i][0];
    }
    CHECK(unique);
    // JSON: one member per line, round-trip precision, null for not-applicable, no trailing comma.
    LayerMetrics m;
    double v[METRICS_NSCALARS];
    for (int i = 0; i < METRICS_NSCALARS; i++) v[i] = 0.1 * i;
    memcpy(&m, v, sizeof m);                                 // LayerMetrics is METRICS_NSCALARS doubles
    CHECK(sizeof m == sizeof v);
    m.nmi_domain_expert = NAN;
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    JsonWriter w;  // json_metrics (evaluate/writers.c): measure/ itself writes no files
    json_begin(&w, f);
    json_object(&w);
    json_metrics(&w, &m);
    json_end(&w);
    rewind(f);
    char line[256];
    int n = 0, ok = 1;
    CHECK(fgets(line, sizeof line, f) && !strcmp(line, "{\n"));
    while (fgets(line, sizeof line, f) && strcmp(line, "}\n") != 0) {
        char want[256];
        const char *end = n + 1 < METRICS_NSCALARS ? ",\n" : "\n";
        if (n == 14) snprintf(want, sizeof want, "  \"%s\": null%s", names[n], end);
        else snprintf(want, sizeof want, "  \"%s\": %.17g%s", names[n], 0.1 * n, end);
        if (strcmp(line, want) != 0) { ok = 0; fprintf(stderr, "json line %d: %s", n, line); }
        n++;
    }
    fclose(f);
    CHECK(ok);
    CHECK(n == METRICS_NSCALARS);
}

static void test_speed(void) {
    // The brief's size: N = 8192, D = 128, E = 64, K = 8, T = 256. Must finish in seconds.
    enum { N = 8192, D = 128, E = 64, K = 8, T = 256, Dom = 4 };
    float *H = malloc(sizeof(float) * N * D), *P = malloc(sizeof(float) * E * D), *Z = malloc(sizeof(float) * N * E);
    int32_t *topk = malloc(sizeof(int32_t) * N * K), *dom = malloc(sizeof(int32_t) * N), *tok = malloc(sizeof(int32_t) * N);
    CHECK(H && P && Z && topk && dom && tok);
    if (H && P && Z && topk && dom && tok) {
        Rng r;
        rng_seed(&r, 8, 0);
        fill_random_layer(H, P, Z, topk, dom, tok, N, D, E, K, Dom, &r);
        LayerData in = {.N = N, .D = D, .E = E, .K = K, .T = T, .H = H, .P = P, .Z = Z, .topk = topk,
                        .domain = dom, .n_domains = Dom, .token = tok};
        MetricsOptions opt;
        metrics_default_options(&opt);
        LayerMetrics m;
        clock_t t0 = clock();
        CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
        double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
        printf("metrics_layer N=%d D=%d E=%d K=%d: %.2f s\n", N, D, E, K, sec);
        CHECK(m.prop1_holds_fraction == 1.0);
        CHECK(isfinite(m.nmi_domain_expert));
    }
    free(H); free(P); free(Z); free(topk); free(dom); free(tok);
}

// Context dependence and residual norms on a hand case.
static void test_token_context_hand(void) {
    // id 5: domain 0 twice with {0,1}, domain 1 twice with {0,1}  -> cosine 1, Jaccard 1
    // id 7: domain 0 twice with {0,1}, domain 1 twice with {2,3}  -> cosine 0, Jaccard 0
    // id 9: only in domain 0 (does not count); id 11: once in each domain (does not count)
    const int32_t token[] = {5, 5, 5, 5, 7, 7, 7, 7, 9, 9, 11, 11};
    const int32_t domain[] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1};
    const int32_t topk[] = {0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 2, 3, 3, 2, 3, 2, 1, 3, 0, 2, 1, 3};
    double fs, jc;
    CHECK(metrics_token_context(&fs, &jc, topk, token, domain, 12, 2, 4, 2, 0.8) == 0);
    CHECK_NEAR(fs, 0.5, 1e-12, 0);
    CHECK_NEAR(jc, 0.5, 1e-12, 0);
    const int32_t lone[] = {5, 5, 5, 5};
    const int32_t one_domain[] = {0, 0, 0, 0};
    CHECK(metrics_token_context(&fs, &jc, topk, lone, one_domain, 4, 2, 4, 2, 0.8) == 0);
    CHECK(isnan(fs) && isnan(jc));  // no id in two domains: does not apply
    // residual norms 1 and 3: mean 2, sd 1, CV 0.5
    float H[4] = {1, 0, 0, 3}, P[4] = {1, 0, 0, 1}, Z[4] = {1, 0, 0, 3}, rn[2] = {1, 3};
    int32_t tk[2] = {0, 1};
    LayerData in = {.N = 2, .D = 2, .E = 2, .K = 1, .T = 2, .H = H, .P = P, .Z = Z, .topk = tk, .resid_norm = rn};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 4;
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 1, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.resid_norm_mean, 2.0, 1e-12, 0);
    CHECK_NEAR(m.resid_norm_cv, 0.5, 1e-12, 0);
    in.resid_norm = NULL;
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK(isnan(m.resid_norm_mean));
}

// ---- issue 13: the paper's per-sequence definitions (Appendix A) ------------------------------

static void test_seq_energy_hand(void) {
    SeqEnergy se;
    // (a) One sequence H = [[3,0],[0,4]]: s² = 16, 9 with v1 = ±e2, v2 = ±e1; total 25.
    //   Eq. 7: energy_first 16/25, energy_dir2 9/25, energy_dir3 0 (D = 2), energy_top3 1.
    //   Eq. 8 with P = [[1,0],[-1,1]] (|P|_F² = 3), token 0 chose expert 0, token 1 expert 1:
    //     v1 = e2: P v1 = (0, 1): token 0 keeps 0², token 1 keeps 1² -> (0 + 1) / (2·3) = 1/6;
    //     v2 = e1: P v2 = (1, -1): 1² + (-1)² -> 2 / 6 = 1/3;  v3: undefined -> NaN.
    const float H[4] = {3, 0, 0, 4}, P[4] = {1, 0, -1, 1};
    const int32_t tk[2] = {0, 1};
    CHECK(metrics_seq_energy(&se, H, P, tk, 2, 2, 2, 1, 2) == 0);
    CHECK_NEAR(se.energy[0], 16.0 / 25, 1e-14, 0);
    CHECK_NEAR(se.energy[1], 9.0 / 25, 1e-14, 0);
    CHECK(se.energy[2] == 0.0);
    CHECK_NEAR(se.top3, 1.0, 1e-14, 0);
    CHECK_NEAR(se.retained[0], 1.0 / 6, 1e-14, 0);
    CHECK_NEAR(se.retained[1], 1.0 / 3, 1e-14, 0);
    CHECK(isnan(se.retained[2]));

    // (b) Three known directions, D = 3: rows (0,0,5), (3,0,0), (0,4,0): s² = 25, 16, 9 with
    //   v1 = e3, v2 = e2, v3 = e1; total 50. Eq. 7: 0.5, 0.32, 0.18, top-3 1.
    //   P rows r0 = (1,2,0), r1 = (0,1,1), r2 = (2,0,1): |P|_F² = 5 + 2 + 5 = 12. Tokens chose
    //   experts 0, 0, 2 (counts c = (2, 0, 1)), T = 3, so Eq. 8 = Σ_e c_e <r_e, v>² / 36:
    //     v1 = e3: <r_e, e3> = 0, 1, 1 -> (2·0 + 0·1 + 1·1) / 36 = 1/36
    //     v2 = e2: 2, 1, 0             -> (2·4 + 0 + 0) / 36     = 8/36
    //     v3 = e1: 1, 0, 2             -> (2·1 + 0 + 1·4) / 36   = 6/36
    const float H3[9] = {0, 0, 5, 3, 0, 0, 0, 4, 0}, P3[9] = {1, 2, 0, 0, 1, 1, 2, 0, 1};
    const int32_t tk3[3] = {0, 0, 2};
    CHECK(metrics_seq_energy(&se, H3, P3, tk3, 3, 3, 3, 1, 3) == 0);
    CHECK_NEAR(se.energy[0], 0.5, 1e-14, 0);
    CHECK_NEAR(se.energy[1], 0.32, 1e-14, 0);
    CHECK_NEAR(se.energy[2], 0.18, 1e-14, 0);
    CHECK_NEAR(se.top3, 1.0, 1e-14, 0);
    CHECK_NEAR(se.retained[0], 1.0 / 36, 1e-14, 0);
    CHECK_NEAR(se.retained[1], 8.0 / 36, 1e-14, 0);
    CHECK_NEAR(se.retained[2], 6.0 / 36, 1e-14, 0);

    // (c) A rank-one sequence whose v1 is known: rows a_t (0.6, 0.8, 0), a = 1, -2, 4; so
    //   v1 = ±(0.6, 0.8, 0) and energy_first = 1, energy_dir2 = 0. P rows (1,0,0), (0,1,0),
    //   (0,0,2): |P|_F² = 6, <r_e, v1>² = 0.36, 0.64, 0. K = 2 choices {0,1}, {1,2}, {0,2}:
    //   kept 0.36 + 0.64 = 1, 0.64 + 0 = 0.64, 0.36 + 0 = 0.36 -> (2 / 3) / 6 = 1/9.
    //   v2, v3 undefined (rank one) -> NaN.
    const float R[9] = {0.6f, 0.8f, 0, -1.2f, -1.6f, 0, 2.4f, 3.2f, 0};
    const float Pr[9] = {1, 0, 0, 0, 1, 0, 0, 0, 2};
    const int32_t tkr[6] = {0, 1, 1, 2, 0, 2};
    CHECK(metrics_seq_energy(&se, R, Pr, tkr, 3, 3, 3, 2, 3) == 0);
    CHECK_NEAR(se.energy[0], 1.0, 1e-12, 0);
    CHECK_NEAR(se.energy[1], 0.0, 1e-12, 0);
    CHECK_NEAR(se.retained[0], 1.0 / 9, 1e-7, 0);           // float 0.6f, 0.8f: ~1e-8
    CHECK(isnan(se.retained[1]) && isnan(se.retained[2]));

    // (d) Mean over sequences: (a)'s sequence followed by H' = [[4,0],[0,3]] (s² = 16, 9 with
    //   v1 = e1), tokens choosing 0 then 1. Per sequence energy_first 16/25 both, so the mean is
    //   16/25; Eq. 8 for v1 = e1 (P e1 = (1,-1)): (1 + 1) / 6 = 1/3; mean (1/6 + 1/3)/2 = 1/4.
    const float H2[8] = {3, 0, 0, 4, 4, 0, 0, 3};
    const int32_t tk2[4] = {0, 1, 0, 1};
    CHECK(metrics_seq_energy(&se, H2, P, tk2, 4, 2, 2, 1, 2) == 0);
    CHECK_NEAR(se.energy[0], 16.0 / 25, 1e-14, 0);
    CHECK_NEAR(se.retained[0], 0.25, 1e-14, 0);
}

static void test_per_sequence_vs_wholeset(void) {
    // The same four states as (d) above, through metrics_layer with T = 2: per sequence
    // energy_first = 16/25 (each sequence has one strong direction), but one SVD of all four
    // states sees Gram diag(9 + 16, 16 + 9) = diag(25, 25): energy_first_wholeset = 1/2.
    // With T = 4 (one sequence) the two coincide.
    const float H[8] = {3, 0, 0, 4, 4, 0, 0, 3}, P[4] = {1, 0, -1, 1};
    float Z[8];
    for (int i = 0; i < 4; i++) { Z[2 * i] = H[2 * i]; Z[2 * i + 1] = H[2 * i + 1] - H[2 * i]; }  // Z = P h
    const int32_t tk[4] = {0, 1, 0, 1};
    LayerData in = {.N = 4, .D = 2, .E = 2, .K = 1, .T = 2, .H = H, .P = P, .Z = Z, .topk = tk};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 16;
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 2, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.energy_first, 16.0 / 25, 1e-14, 0);
    CHECK_NEAR(m.energy_first_wholeset, 0.5, 1e-14, 0);
    CHECK_NEAR(m.retained_energy_first, 0.25, 1e-14, 0);
    in.T = 4;
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.energy_first, 0.5, 1e-14, 0);
    CHECK_NEAR(m.energy_first_wholeset, 0.5, 1e-14, 0);
}

static void test_seq_by_domain(void) {
    // Fig. 5's split of the sequence pairs by domain. Three sequences of T = 2 (domains 0, 0, 1):
    //   seq0 = (1,0), (1,0), experts 0, 0    unit pool (1, 0)      freq (1, 0)
    //   seq1 = (1,0), (0,1), experts 0, 1    unit pool (.5, .5)    freq (.5, .5)
    //   seq2 = (0,1), (0,1), experts 1, 1    unit pool (0, 1)      freq (0, 1)
    // Pairs: (0,1) one domain: FreqSim = pooled cosine = 1/√2; (0,2) two domains: 0; (1,2) two
    // domains: 1/√2. So same_domain = 1/√2 on both, cross_domain = 1/(2√2) on both. Guards
    // against classing pairs by the wrong token's domain (the last: every pair then differs).
    const float H[12] = {1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1}, P[4] = {1, 0, 0, 1};
    const int32_t tk[6] = {0, 0, 0, 1, 1, 1}, dom[6] = {0, 0, 0, 1, 1, 1};
    LayerData in = {.N = 6, .D = 2, .E = 2, .K = 1, .T = 2, .H = H, .P = P, .Z = H, .topk = tk,
                    .domain = dom, .n_domains = 2};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 8;
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 5, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.freqsim_seq_same_domain, 1 / sqrt(2.0), 1e-7, 0);
    CHECK_NEAR(m.pooled_cosine_seq_same_domain, 1 / sqrt(2.0), 1e-7, 0);
    CHECK_NEAR(m.freqsim_seq_cross_domain, 0.5 / sqrt(2.0), 1e-7, 0);
    CHECK_NEAR(m.pooled_cosine_seq_cross_domain, 0.5 / sqrt(2.0), 1e-7, 0);
    in.domain = NULL;
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK(isnan(m.freqsim_seq_same_domain) && isnan(m.pooled_cosine_seq_cross_domain));
}

// Figs. 16-19, 23 (issue 22): D = 16, so r = D/8 = 2. H's rows (3e0, 2e1, e2, -3e0) give HᵀH =
// diag(18, 4, 1, 0, ...): V_2 = (e0, e1), data_energy_top_r = (18 + 4) / 23. P's rows
// (1, 2, 3, 0, ...) and (0, 1, 0, 4, ...): ‖P V_2‖_F² = 1 + 4 + 0 + 1 = 6 of ‖P‖_F² = 14 + 17 = 31.
// A router inside the subspace (rows e0 and e1 only) has alignment 1.
static void test_router_alignment_hand(void) {
    enum { N = 4, D = 16, E = 2 };
    float H[N * D] = {0}, P[E * D] = {0}, Z[N * E] = {0};
    H[0] = 3; H[D + 1] = 2; H[2 * D + 2] = 1; H[3 * D] = -3;
    P[0] = 1; P[1] = 2; P[2] = 3; P[D + 1] = 1; P[D + 3] = 4;
    const int32_t tk[N] = {0, 1, 0, 1};
    LayerData in = {.N = N, .D = D, .E = E, .K = 1, .T = 2, .H = H, .P = P, .Z = Z, .topk = tk};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 4;
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 5, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.data_energy_top_r, 22.0 / 23.0, 1e-9, 0);
    CHECK_NEAR(m.router_data_alignment, 6.0 / 31.0, 1e-9, 0);
    float Pin[E * D] = {0};
    Pin[0] = 2; Pin[D + 1] = -1;
    in.P = Pin;
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.router_data_alignment, 1.0, 1e-9, 0);
}

static void test_pooled_cosine(void) {
    // Eqs. 15-17: tokens are normalized BEFORE pooling. Sequence A = (1,0), (0,3), sequence
    // B = (1,1), (1,1). Unit tokens of A: (1,0), (0,1) -> pooled (1/2, 1/2), along (1,1): the
    // cosine with B is 1. Pooling the raw states (the old formula) gives (1/2, 3/2) and cosine
    // 4/√20 ≈ 0.894. (ε = 1e-8 moves A's two weights by 1/(1+ε) vs 3/(3+ε): ~1e-16 here.)
    const float H[8] = {1, 0, 0, 3, 1, 1, 1, 1}, P[4] = {1, 0, 0, 1};
    const int32_t tk[4] = {0, 1, 0, 1};
    LayerData in = {.N = 4, .D = 2, .E = 2, .K = 1, .T = 2, .H = H, .P = P, .Z = H, .topk = tk};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 8;
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 3, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.pooled_cosine_seq, 1.0, 1e-12, 0);
    // metrics_pool itself: (1/(1+ε) , 3/(3+ε)) / 2, and ε = 1e-8 pinned by a row of norm 1e-8,
    // which becomes 1e-8 / (1e-8 + 1e-8) = 1/2 (not 1, as without ε).
    double pool[2];
    metrics_pool(pool, H, 2, 2);
    CHECK_NEAR(pool[0], 0.5 / (1 + 1e-8), 1e-16, 0);
    CHECK_NEAR(pool[1], 1.5 / (3 + 1e-8), 1e-16, 0);
    const float tiny[2] = {1e-8f, 0};
    metrics_pool(pool, tiny, 1, 2);
    CHECK_NEAR(pool[0], (double)1e-8f / ((double)1e-8f + METRICS_POOL_EPS), 1e-15, 0);
    CHECK(pool[0] > 0.49 && pool[0] < 0.51);
}

static void test_sequence_means(void) {
    // Eq. 12 averages over one sequence's tokens, then over sequences: with a shorter last
    // sequence the two orders differ. E = 2, N = 3, T = 2: logits (0,0), (0,0) | (0, ln 3) ->
    // max probabilities 1/2, 1/2 | 3/4; sequence means 1/2 and 3/4 -> 5/8 (the token mean would
    // be 7/12).
    const float Z[6] = {0, 0, 0, 0, 0, (float)log(3.0)};
    double conf;
    metrics_softmax_stats(&conf, NULL, NULL, Z, 3, 2, 1, 2);
    CHECK_NEAR(conf, 5.0 / 8, 1e-7, 0);
    // logit_norm_mean (Fig. 29), the same averaging: rows (3,4), (0,0) | (6,8): norms 5, 0 | 10;
    // sequence means 2.5 and 10 -> 6.25 (the token mean would be 5).
    const float Y[6] = {3, 4, 0, 0, 6, 8};
    CHECK_NEAR(metrics_seq_mean_norm(Y, 3, 2, 2), 6.25, 1e-14, 0);
    CHECK_NEAR(metrics_seq_mean_norm(Y, 3, 2, 3), 5.0, 1e-14, 0);
}

static void test_prop1_hand(void) {
    // D = 2, V = I (v1 = e1), r = 1, P = diag(1, 2): |P|_2 = 2, |P Pi_1|_2 = |P e1| = 1.
    // H rows h0 = (0,0), h1 = (1,0), h2 = (1,1), h3 = (1,3), h4 = (2,0); pairs (k, 0) so d = h_k.
    //   d        |P d|   naive |P|_2|d|   rhs = 1·|d1| + 2|d2|   residual |d2| / |d1|
    //   (1,0)    1        2                1                      0
    //   (1,1)    √5       2√2              3                      1
    //   (1,3)    √37      2√10             7                      3
    //   (2,0)    2        4                2                      0
    // naive_tightness = (1/2 + √5/(2√2) + √37/(2√10) + 1/2) / 4; tightness = (1 + √5/3 + √37/7
    // + 1) / 4; residual ratio: median of 0, 0, 1, 3 = (0 + 1)/2 = 1/2.
    const float H[10] = {0, 0, 1, 0, 1, 1, 1, 3, 2, 0}, P[4] = {1, 0, 0, 2};
    const double V[4] = {1, 0, 0, 1};
    const int32_t pairs[8] = {1, 0, 2, 0, 3, 0, 4, 0};
    double lhs[4], rhs[4], naive[4];
    Prop1Summary p1;
    CHECK(metrics_prop1(&p1, lhs, rhs, naive, H, P, V, pairs, 4, 2, 2, 1, 1e-5) == 0);
    CHECK(p1.holds_fraction == 1.0);
    CHECK_NEAR(p1.naive_tightness, (0.5 + sqrt(5.0) / (2 * sqrt(2.0)) + sqrt(37.0) / (2 * sqrt(10.0)) + 0.5) / 4, 1e-14, 0);
    CHECK_NEAR(p1.tightness, (1 + sqrt(5.0) / 3 + sqrt(37.0) / 7 + 1) / 4, 1e-14, 0);
    CHECK_NEAR(p1.residual_ratio, 0.5, 1e-14, 0);
    CHECK_NEAR(naive[2], 2 * sqrt(10.0), 1e-14, 0);
    CHECK_NEAR(rhs[2], 7.0, 1e-14, 0);
    // Three pairs (odd count): median of 0, 1, 3 is 1.
    CHECK(metrics_prop1(&p1, NULL, NULL, NULL, H, P, V, pairs, 3, 2, 2, 1, 1e-5) == 0);
    CHECK_NEAR(p1.residual_ratio, 1.0, 1e-14, 0);
    double x[5] = {5, 1, INFINITY, 2, 3};
    CHECK(metrics_median(x, 5) == 3.0);                      // +inf sorts last
    CHECK(isnan(metrics_median(x, 0)));
}

// Pearson correlation written out independently in the test (two passes, centred sums).
static double test_pearson(const double *x, const double *y, int n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) { mx += x[i] / n; my += y[i] / n; }
    for (int i = 0; i < n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my); }
    return sxy / sqrt(sxx * syy);
}

static double test_cos(const double *x, const double *y, int n) {
    double xy = 0, xx = 0, yy = 0;
    for (int i = 0; i < n; i++) { xy += x[i] * y[i]; xx += x[i] * x[i]; yy += y[i] * y[i]; }
    return xy / sqrt(xx * yy);
}

static void test_correlations(void) {
    // Issue 12, hole 3: rms_corr and freqsim_pooled_corr are Pearson correlations. A formula that
    // drops the mean-centring is a cosine, which agrees with Pearson on identical vectors only.
    // x = (1,2,3), y = (1,3,2): centred (-1,0,1), (-1,1,0) -> 1 / √(2·2) = 1/2; the cosine is
    // (1 + 6 + 6)/14 = 13/14.
    const double x[3] = {1, 2, 3}, y[3] = {1, 3, 2};
    CHECK_NEAR(metrics_pearson(x, y, 3), 0.5, 1e-15, 0);

    // rms_corr through metrics_layer. H rows (0,0), (1,0), (3,0); Z rows (0,0), (0,2), (0,1):
    //   pair {0,1}: RMS hidden √(1/2),  logits √(4/2) = √2
    //   pair {0,2}: RMS hidden √(9/2),  logits √(1/2)
    //   pair {1,2}: RMS hidden √(4/2),  logits √(1/2)
    // Equal weights would give Pearson -√3/2 and cosine 7/√84 ≈ 0.76; the sampled pairs weight
    // them unequally, so the expected value is the Pearson of the hand values over the sample.
    const float H[6] = {0, 0, 1, 0, 3, 0}, Z[6] = {0, 0, 0, 2, 0, 1}, P[4] = {1, 0, 0, 1};
    const int32_t tk[3] = {0, 1, 1};
    LayerData in = {.N = 3, .D = 2, .E = 2, .K = 1, .T = 3, .H = H, .P = P, .Z = Z, .topk = tk};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 60;
    int32_t pairs[120];
    double rh[60], rz[60], hx[60], hz[60];
    MetricsArrays arr = {.pairs = pairs, .rms_hidden = rh, .rms_logits = rz};
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 5, 0);
    CHECK(layer_once(&m, &arr, &in, &opt, &r, NULL, 0) == 0);
    for (int k = 0; k < 60; k++) {
        int a = pairs[2 * k] < pairs[2 * k + 1] ? pairs[2 * k] : pairs[2 * k + 1];
        int b = pairs[2 * k] ^ pairs[2 * k + 1] ^ a;
        hx[k] = a == 0 && b == 1 ? sqrt(0.5) : a == 0 ? sqrt(4.5) : sqrt(2.0);
        hz[k] = a == 0 && b == 1 ? sqrt(2.0) : sqrt(0.5);
    }
    double want = test_pearson(hx, hz, 60);
    CHECK_NEAR(m.rms_corr, want, 1e-12, 0);
    CHECK_MSG(want < -0.5 && test_cos(hx, hz, 60) > 0.5, "non-vacuous: Pearson %g, cosine %g", want, test_cos(hx, hz, 60));
    // Mean RMS distances follow from the same hand values.
    double mh = 0, mz = 0;
    for (int k = 0; k < 60; k++) { mh += hx[k] / 60; mz += hz[k] / 60; }
    CHECK_NEAR(m.rms_hidden_mean, mh, 1e-12, 0);
    CHECK_NEAR(m.rms_logits_mean, mz, 1e-12, 0);

    // freqsim_pooled_corr. D = E = 2, K = 1, T = 2, three sequences:
    //   seq 0: h (1,0), (1,0), experts 0, 0 -> frequencies (1, 0),     pooled along (1,0)
    //   seq 1: h (0,1), (0,1), experts 0, 1 -> (1/2, 1/2),             pooled along (0,1)
    //   seq 2: h (1,1), (1,1), experts 1, 1 -> (0, 1),                 pooled along (1,1)
    // Pairs (0,1), (0,2), (1,2), a = 1/√2: pooled cosine (0, a, a), FreqSim (a, 0, a).
    // Pearson: centred (-2a/3, a/3, a/3) and (a/3, -2a/3, a/3) -> (-a²/3) / (6a²/9) = -1/2;
    // the cosine of the two vectors is a² / (2a²) = +1/2.
    const float H2[12] = {1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1};
    const int32_t tk2[6] = {0, 0, 0, 1, 1, 1};
    LayerData in2 = {.N = 6, .D = 2, .E = 2, .K = 1, .T = 2, .H = H2, .P = P, .Z = H2, .topk = tk2};
    CHECK(layer_once(&m, NULL, &in2, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.freqsim_pooled_corr, -0.5, 1e-12, 0);
    CHECK_NEAR(m.freqsim_seq, sqrt(2.0) / 3, 1e-15, 0);
    CHECK_NEAR(m.pooled_cosine_seq, sqrt(2.0) / 3, 1e-15, 0);
}

static void test_rms_logits_pinned(void) {
    // Issue 12, hole 4: rms_logits_mean is the mean RMS distance of the LOGITS. N = 2, so every
    // sampled pair is {0, 1}. H rows (1,0), (0,1); P rows (1,0), (0,2), (3,4); Z = P h:
    // z0 = (1,0,3), z1 = (0,2,4): difference (1,-2,-1) -> RMS √(6/3) = √2. The hidden states'
    // RMS distance is √(2/2) = 1, so a mean taken from the hidden-state sum fails.
    const float H[4] = {1, 0, 0, 1}, P[6] = {1, 0, 0, 2, 3, 4}, Z[6] = {1, 0, 3, 0, 2, 4};
    const int32_t tk[2] = {2, 2};
    LayerData in = {.N = 2, .D = 2, .E = 3, .K = 1, .T = 2, .H = H, .P = P, .Z = Z, .topk = tk};
    MetricsOptions opt;
    metrics_default_options(&opt);
    opt.pairs = 10;
    LayerMetrics m;
    Rng r;
    rng_seed(&r, 6, 0);
    CHECK(layer_once(&m, NULL, &in, &opt, &r, NULL, 0) == 0);
    CHECK_NEAR(m.rms_logits_mean, sqrt(2.0), 1e-12, 0);
    CHECK_NEAR(m.rms_hidden_mean, 1.0, 1e-12, 0);
    // logit_norm_mean: |z0| = √10, |z1| = √20, one sequence -> (√10 + √20) / 2.
    CHECK_NEAR(m.logit_norm_mean, (sqrt(10.0) + sqrt(20.0)) / 2, 1e-12, 0);
    // Both tokens chose expert 2 of E = 3: Eq. 11 gives 1/3.
    CHECK_NEAR(m.hamming_similarity, 1.0 / 3, 1e-15, 0);
}

// Fig. 24 truncation by hand: H rows (2, 0.1) and (2, -0.1): G = HᵀH = diag(8, 0.02), so v1 is
// the x axis. The router P = [[0, 1], [0, -1]] reads only y: logits (0.1, -0.1) and (-0.1, 0.1),
// ranks (0, 1) and (1, 0). Keeping r = 1 direction leaves logits (0, 0): ranks (0, 1) for both
// (ties to the lower index), so token 2 changes at m = 1 and m = 2: agreement 0.5 and 0.5. r = 2
// keeps everything: 1 and 1. Guards against projecting on the wrong end of the spectrum (r = 1
// on y would keep every rank: 1, 1) and against comparing sets instead of ranks.
static void test_truncation_hand(void) {
    const float H[4] = {2, 0.1f, 2, -0.1f}, P[4] = {0, 1, 0, -1};
    const int rs[2] = {1, 2};
    double agree[4];
    CHECK(truncation_agreement(agree, H, P, 2, 2, 2, 2, rs, 2) == 0);
    CHECK_NEAR(agree[0], 0.5, 1e-12, 0);
    CHECK_NEAR(agree[1], 0.5, 1e-12, 0);
    CHECK_NEAR(agree[2], 1.0, 1e-12, 0);
    CHECK_NEAR(agree[3], 1.0, 1e-12, 0);
    int bad_r[1] = {3};
    CHECK(truncation_agreement(agree, H, P, 2, 2, 2, 2, bad_r, 1) == -1);
    int r8[24];
    int n = truncation_ranks(r8, 128);
    CHECK(n == 8 && r8[0] == 1 && r8[6] == 64 && r8[7] == 128);
}

int main(void) {
    test_router_alignment_hand();
    test_truncation_hand();
    test_seq_by_domain();
    test_token_context_hand();
    test_seq_energy_hand();
    test_per_sequence_vs_wholeset();
    test_pooled_cosine();
    test_sequence_means();
    test_prop1_hand();
    test_correlations();
    test_rms_logits_pinned();
    test_rms_and_pairs();
    test_energy();
    test_suppression_hand();
    test_suppression_shared_direction();
    test_seq_cosine();
    test_seq_hamming();
    test_softmax_stats();
    test_balance();
    test_freq_freqsim();
    test_top_p_jaccard();
    test_domains();
    test_token_specialization();
    test_mask_topk();
    test_prop1();
    test_layer_hand();
    test_layer_random();
    test_check_errors();
    test_list_json();
    test_speed();
    return test_summary("test_metrics");
}
