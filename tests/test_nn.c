// test_nn.c — the nn layer in its float build: the blocked matrix kernel against the plain one,
// routing and balancing against the independent reference values (shared/reference/
// golden-values.md, copied here), dispatch invariants, aux-free behaviour, thread determinism;
// sums of squares and GELU against plain formulas, rng_normal's moments.
// covers: nn/gemm.c nn/simd.c nn/reduce.c nn/rng.c nn/params.c nn/balance.c nn/moe.c nn/gelu.c
// covers: nn/loss.c nn/model.c nn/attention.c
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "../nn/balance.h"
#include "../nn/gemm.h"
#include "../nn/layers.h"
#include "../nn/model.h"
#include "../nn/moe.h"
#include "../nn/reduce.h"
#include "../nn/simd.h"
#include "../optim/optim.h"
#include "../sim/measure/metrics.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static Rng rng;

static void fill(real *v, size_t n) { for (size_t i = 0; i < n; i++) v[i] = (real)rng_normal(&rng); }

// ---- kernels: blocked vs reference on awkward shapes ----
static void test_gemm_shapes_at_level(void) {
    const int dims[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33, 64, 67};
    const int nd = sizeof dims / sizeof dims[0];
    int cases = 0, bad = 0;
    for (int a = 0; a < nd; a++)
        for (int b = 0; b < nd; b += 2)
            for (int c = 0; c < nd; c += 3)
                for (int trans = 0; trans < 2; trans++)
                    for (int acc = 0; acc < 2; acc++) {
                        int M = dims[a], Nc = dims[b], Kd = dims[c];
                        real *A = malloc(sizeof(real) * M * Kd), *B = malloc(sizeof(real) * Kd * Nc);
                        real *C1 = malloc(sizeof(real) * M * Nc), *C2 = malloc(sizeof(real) * M * Nc);
                        fill(A, (size_t)M * Kd); fill(B, (size_t)Kd * Nc); fill(C1, (size_t)M * Nc);
                        memcpy(C2, C1, sizeof(real) * M * Nc);
                        size_t rs = trans ? 1 : (size_t)Kd, cs = trans ? (size_t)M : 1;
                        gemm(C1, Nc, A, rs, cs, B, Nc, M, Nc, Kd, acc);
                        gemm_ref(C2, Nc, A, rs, cs, B, Nc, M, Nc, Kd, acc);
                        for (int i = 0; i < M * Nc; i++)
                            if (fabs(C1[i] - C2[i]) > 1e-5 * (1 + fabs(C2[i])) * sqrt((double)Kd)) { bad++; break; }
                        cases++;
                        free(A); free(B); free(C1); free(C2);
                    }
    CHECK_MSG(bad == 0, "%s: %d of %d shapes differ between gemm and gemm_ref", gemm_path(), bad, cases);
}

// gemm's kernels at every vector width this CPU has (the portable one always), then the wrappers.
static void test_gemm_shapes(void) {
    const SimdLevel saved = simd_level();
    for (int want = SIMD_SSE2; want <= SIMD_AVX512; want++)
        if ((int)simd_cap((SimdLevel)want) == want) test_gemm_shapes_at_level();
    simd_cap(saved);
    // the three wrappers against loops written here, on sizes around the transpose's 16 x 16 tile
    static const int sizes[][3] = {{7, 5, 3}, {5, 37, 19}, {3, 16, 33}, {9, 1, 17}};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        int N = sizes[z][0], I = sizes[z][1], O = sizes[z][2];
        real *in = malloc(sizeof(real) * N * I), *W = malloc(sizeof(real) * O * I), *out = malloc(sizeof(real) * N * O);
        real *wt = malloc(sizeof(real) * O * I), *dout = malloc(sizeof(real) * N * O);
        real *din = calloc((size_t)N * I, sizeof(real)), *dW = calloc((size_t)O * I, sizeof(real));
        fill(in, (size_t)N * I); fill(W, (size_t)O * I); fill(dout, (size_t)N * O);
        matmul_forward(out, in, W, N, I, O, wt);
        matmul_backward_input(din, dout, W, N, I, O);
        matmul_backward_weight(dW, dout, in, N, I, O);
        double e1 = 0, e2 = 0, e3 = 0;
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) {
                double s = 0;
                for (int i = 0; i < I; i++) s += in[n * I + i] * W[o * I + i];
                e1 = fmax(e1, fabs(s - out[n * O + o]));
            }
        for (int n = 0; n < N; n++)
            for (int i = 0; i < I; i++) {
                double s = 0;
                for (int o = 0; o < O; o++) s += dout[n * O + o] * W[o * I + i];
                e2 = fmax(e2, fabs(s - din[n * I + i]));
            }
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++) {
                double s = 0;
                for (int n = 0; n < N; n++) s += dout[n * O + o] * in[n * I + i];
                e3 = fmax(e3, fabs(s - dW[o * I + i]));
            }
        CHECK_MSG(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5, "wrappers at %d x %d x %d: errors %g %g %g", N, I, O, e1, e2, e3);
        free(in); free(W); free(out); free(wt); free(dout); free(din); free(dW);
    }
}

// A stored transposed goes through packed panels in chunks of k (gemm.c): bitwise the same as
// the unpacked kernel on the same values, at every vector width, on k around the chunk (256), a
// last block of one row and of fewer rows, rows ending in a single vector, at 1 and 2 threads;
// and products that are not packed (too narrow, or rows ending in scalars: 67, 75 columns). The
// unpacked reference reads A from a layout with row stride 2 (At2[k][2m]): not packed, and like
// a stored transposed matrix, a column stride above 1.
static void test_gemm_packed(void) {
    static const int shapes[][3] = {{7, 67, 1}, {13, 72, 255}, {6, 67, 256}, {19, 75, 257}, {25, 64, 600},
                                    {7, 72, 300}, {2, 64, 513}, {5, 16, 300}};  // M, Nc, Kd
    const SimdLevel saved = simd_level();
    for (int want = SIMD_SSE2; want <= SIMD_AVX512; want++) {
        SimdLevel lv = simd_cap((SimdLevel)want);
        if ((int)lv != want) continue;
        int bad = 0, cases = 0;
        for (size_t z = 0; z < sizeof shapes / sizeof shapes[0]; z++)
            for (int acc = 0; acc < 2; acc++)
                for (int th = 1; th <= 2; th++) {
                    int M = shapes[z][0], Nc = shapes[z][1], Kd = shapes[z][2];
                    real *At2 = malloc(sizeof(real) * Kd * M * 2), *At = malloc(sizeof(real) * Kd * M);
                    real *B = malloc(sizeof(real) * Kd * Nc);
                    real *C1 = malloc(sizeof(real) * M * Nc), *C2 = malloc(sizeof(real) * M * Nc);
                    fill(At, (size_t)Kd * M); fill(B, (size_t)Kd * Nc); fill(C1, (size_t)M * Nc);
                    for (size_t i = 0; i < (size_t)Kd * M; i++) { At2[2 * i] = At[i]; At2[2 * i + 1] = NAN; }
                    memcpy(C2, C1, sizeof(real) * M * Nc);
#ifdef _OPENMP
                    int was = omp_get_max_threads();
                    omp_set_num_threads(th);
#endif
                    gemm(C1, Nc, At2, 2, (size_t)2 * M, B, Nc, M, Nc, Kd, acc);  // unpacked
                    gemm(C2, Nc, At, 1, (size_t)M, B, Nc, M, Nc, Kd, acc);   // transposed: packed
#ifdef _OPENMP
                    omp_set_num_threads(was);
#endif
                    if (memcmp(C1, C2, sizeof(real) * M * Nc) != 0) bad++;
                    cases++;
                    free(At2); free(At); free(B); free(C1); free(C2);
                }
        CHECK_MSG(bad == 0, "%s: gemm with A transposed (packed) differs from the unpacked kernel in %d of %d cases",
                  simd_level_name(lv), bad, cases);
    }
    simd_cap(saved);
}

// gemm_cols: the first Nc columns of a product Nc_full wide (Nc a multiple of GEMM_COLS_STEP, or
// all of them), bitwise as gemm computes them in the whole product, at every vector width: where
// gemm alone would pick a narrower kernel for Nc columns (16 of 33 or 64), where the whole
// product's row ends in single vectors or scalars (48 of 57), and Nc = Nc_full.
static void test_gemm_cols(void) {
    static const int shapes[][4] = {{5, 16, 33, 7}, {7, 16, 64, 13}, {13, 48, 57, 3}, {6, 32, 64, 32},
                                    {1, 17, 17, 5}, {12, 48, 67, 9}, {3, 16, 16, 1}};  // M, Nc, Nc_full, Kd
    const SimdLevel saved = simd_level();
    for (int want = SIMD_SSE2; want <= SIMD_AVX512; want++) {
        SimdLevel lv = simd_cap((SimdLevel)want);
        if ((int)lv != want) continue;
        int bad = 0;
        for (size_t z = 0; z < sizeof shapes / sizeof shapes[0]; z++)
            for (int acc = 0; acc < 2; acc++) {
                int M = shapes[z][0], Nc = shapes[z][1], W = shapes[z][2], Kd = shapes[z][3];
                real *A = malloc(sizeof(real) * M * Kd), *B = malloc(sizeof(real) * Kd * W);
                real *C1 = malloc(sizeof(real) * M * W), *C2 = malloc(sizeof(real) * M * W);
                fill(A, (size_t)M * Kd); fill(B, (size_t)Kd * W); fill(C1, (size_t)M * W);
                memcpy(C2, C1, sizeof(real) * M * W);
                gemm(C1, W, A, (size_t)Kd, 1, B, W, M, W, Kd, acc);
                gemm_cols(C2, W, A, (size_t)Kd, 1, B, W, M, Nc, Kd, acc, W);
                for (int m = 0; m < M; m++)
                    if (memcmp(C1 + (size_t)m * W, C2 + (size_t)m * W, sizeof(real) * Nc) != 0) { bad++; break; }
                free(A); free(B); free(C1); free(C2);
            }
        CHECK_MSG(bad == 0, "%s: gemm_cols differs from gemm's columns in %d cases", simd_level_name(lv), bad);
    }
    simd_cap(saved);
}

// The share of the square the blocked attention computes, by hand: T = 100 is a block of 64 rows
// against 64 keys and one of 36 rows against all 100, (64·64 + 36·100) / 100² = 0.7696; T = 256
// is four blocks, 64·(64 + 128 + 192 + 256) / 256² = 5/8; T = 1024, 17/32; one block: 1.
static void test_attention_work_fraction(void) {
    CHECK_NEAR(attention_work_fraction(100), 0.7696, 1e-12, 0);
    CHECK_NEAR(attention_work_fraction(256), 0.625, 1e-12, 0);
    CHECK_NEAR(attention_work_fraction(1024), 17.0 / 32, 1e-12, 0);
    CHECK_NEAR(attention_work_fraction(64), 1.0, 1e-12, 0);
    CHECK_NEAR(attention_work_fraction(7), 1.0, 1e-12, 0);
}

// The blocked attention (forward and backward) against the whole-square reference, bitwise, at
// every vector width: T = 1, primes, the block's size and around it, several blocks with a
// remainder; Dh = 1, 3, 8, 16 (below and above the vector widths).
static void test_attention_blocked(void) {
    static const int shapes[][4] = {{2, 1, 8, 2}, {1, 7, 6, 2}, {2, 13, 3, 1}, {1, 63, 16, 2}, {1, 64, 8, 1},
                                    {2, 65, 16, 1}, {1, 130, 32, 2}, {1, 200, 24, 3}};  // B, T, D, H
    const SimdLevel saved = simd_level();
    for (int want = SIMD_SSE2; want <= SIMD_AVX512; want++) {
        SimdLevel lv = simd_cap((SimdLevel)want);
        if ((int)lv != want) continue;
        int bad_o = 0, bad_p = 0, bad_d = 0;
        for (size_t z = 0; z < sizeof shapes / sizeof shapes[0]; z++) {
            int B = shapes[z][0], T = shapes[z][1], D = shapes[z][2], H = shapes[z][3];
            size_t N = (size_t)B * T, np = (size_t)B * H * T * T;
            real *qkv = malloc(sizeof(real) * N * 3 * D), *dout = malloc(sizeof(real) * N * D);
            real *o1 = malloc(sizeof(real) * N * D), *o2 = malloc(sizeof(real) * N * D);
            real *p1 = malloc(sizeof(real) * np), *p2 = malloc(sizeof(real) * np);
            real *d1 = malloc(sizeof(real) * N * 3 * D), *d2 = malloc(sizeof(real) * N * 3 * D);
            real *s1 = malloc(sizeof(real) * attention_scratch(B, T, D, H));
            real *s2 = malloc(sizeof(real) * attention_scratch_ref(B, T, D, H));
            fill(qkv, N * 3 * D); fill(dout, N * D); fill(d1, N * 3 * D);
            for (size_t i = 0; i < N * 3 * D; i++) qkv[i] *= 2;  // peaked softmaxes too
            memcpy(d2, d1, sizeof(real) * N * 3 * D);            // the backward adds into it
            attention_forward(o1, p1, qkv, s1, B, T, D, H);
            attention_forward_ref(o2, p2, qkv, s2, B, T, D, H);
            if (memcmp(o1, o2, sizeof(real) * N * D) != 0) bad_o++;
            for (size_t r = 0; r < (size_t)B * H * T; r++) {   // row t: keys 0..t
                size_t t = r % (size_t)T;
                if (memcmp(p1 + r * T, p2 + r * T, sizeof(real) * (t + 1)) != 0) { bad_p++; break; }
            }
            attention_backward(d1, dout, qkv, p1, s1, B, T, D, H);
            attention_backward_ref(d2, dout, qkv, p2, s2, B, T, D, H);
            if (memcmp(d1, d2, sizeof(real) * N * 3 * D) != 0) bad_d++;
            free(qkv); free(dout); free(o1); free(o2); free(p1); free(p2); free(d1); free(d2); free(s1); free(s2);
        }
        CHECK_MSG(bad_o == 0 && bad_p == 0 && bad_d == 0,
                  "%s: blocked attention vs the whole square: outputs differ in %d, probabilities in %d, "
                  "gradients in %d shapes", simd_level_name(lv), bad_o, bad_p, bad_d);
    }
    simd_cap(saved);
}

// ---- GELU's vector copies against the scalar formulas (layers.h), at every vector width ----
static void test_gelu_kernels(void) {
    static const size_t lens[] = {1, 3, 15, 16, 17, 4095, 4097, 70001};
    const size_t nmax = 70001 + 16;
    real *x = malloc(sizeof(real) * nmax), *y = malloc(sizeof(real) * nmax), *y2 = malloc(sizeof(real) * nmax);
    real *d = malloc(sizeof(real) * nmax), *d2 = malloc(sizeof(real) * nmax), *dy = malloc(sizeof(real) * nmax);
    for (size_t i = 0; i < nmax; i++) {
        x[i] = (real)(8 * rng_normal(&rng));
        dy[i] = (real)rng_normal(&rng);
    }
    x[1] = 0; x[2] = -200; x[5] = 200; x[9] = -87.5f; x[11] = 88.5f;  // zero and the exp clamps
    const SimdLevel saved = simd_level();
    for (int want = SIMD_SSE2; want <= SIMD_AVX512; want++) {
        SimdLevel lv = simd_cap((SimdLevel)want);
        if ((int)lv != want) continue;  // this CPU has no such copy
        double ef = 0, eb = 0, ei = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            gelu_forward(y, x, n);
            for (size_t i = 0; i < n; i++) d[i] = (real)0.5;
            gelu_backward(d, dy, x, n);
            memcpy(d2, dy, sizeof(real) * n);
            gelu_backward_inplace(d2, x, n);
            for (size_t i = 0; i < n; i++) {
                double g = gelu_value(x[i]), dg = gelu_grad(x[i]);
                ef = fmax(ef, fabs(y[i] - g) / (1 + fabs(g)));
                eb = fmax(eb, fabs(d[i] - (0.5 + dy[i] * dg)) / (1 + fabs(dy[i] * dg)));
                ei = fmax(ei, fabs(d2[i] - dy[i] * dg) / (1 + fabs(dy[i] * dg)));
            }
        }
        // relative to 1 + |value|: the vector copies contract to FMAs where the scalar one (this
        // file, compiled for SSE2) rounds each product, a few float ulps over GELU's ~10 operations
        CHECK_MSG(ef < 4e-6 && eb < 4e-6 && ei < 4e-6, "%s: gelu vs scalar: fwd %g, bwd %g, in place %g",
                  simd_level_name(lv), ef, eb, ei);
        // Where an element falls (vector body or remainder, any start address) never changes it.
        gelu_forward(y, x, nmax);
        int moved = 0;
        for (size_t off = 1; off < 16; off++) {
            gelu_forward(y2, x + off, 4097);
            if (memcmp(y2, y + off, sizeof(real) * 4097) != 0) moved++;
        }
        CHECK_MSG(moved == 0, "%s: gelu of the same values differs at %d of 15 offsets", simd_level_name(lv), moved);
#ifdef _OPENMP
        // Bitwise the same at 1 and 2 threads on a length above the parallel threshold.
        int th = omp_get_max_threads();
        omp_set_num_threads(1);
        gelu_forward(y, x, 70001);
        memcpy(d, dy, sizeof(real) * 70001);
        gelu_backward_inplace(d, x, 70001);
        omp_set_num_threads(2);
        gelu_forward(y2, x, 70001);
        memcpy(d2, dy, sizeof(real) * 70001);
        gelu_backward_inplace(d2, x, 70001);
        omp_set_num_threads(th);
        CHECK(memcmp(y, y2, sizeof(real) * 70001) == 0 && memcmp(d, d2, sizeof(real) * 70001) == 0);
#else
        SKIP("%s: gelu at 1 and 2 threads (built without OpenMP)", simd_level_name(lv));
#endif
    }
    simd_cap(saved);
    // NaN goes on to the divergence check through the vector copies too.
    real nan_in[20], nan_out[20];
    for (int i = 0; i < 20; i++) nan_in[i] = i == 13 ? NAN : 1;
    gelu_forward(nan_out, nan_in, 20);
    CHECK(isnan(nan_out[13]) && nan_out[12] == nan_out[14]);
    free(x); free(y); free(y2); free(d); free(d2); free(dy);
}

// ---- golden routing and balancing values ----
enum { GN = 6, GE = 4, GK = 2 };
static void golden_logits(real *z) {
    for (int t = 0; t < GN; t++)
        for (int e = 0; e < GE; e++) z[t * GE + e] = (real)(2 * sin(0.9 * (t + 1) * (e + 2) + 0.3 * t));
}

static void test_golden_routing(void) {
    real z[GN * GE], s[GN * GE], p[GN * GE], gate[GN * GK];
    int32_t topk[GN * GK], load[GE];
    golden_logits(z);
    router_scores_forward(s, p, z, GN, GE, SCORE_SOFTMAX);
    router_topk(topk, s, NULL, GN, GE, GK, 0);
    router_gates_forward(gate, s, topk, GN, GE, GK, 0);
    const int32_t want_topk[GN * GK] = {0, 1, 2, 3, 3, 1, 0, 2, 1, 2, 3, 0};
    const double want_gate[GN * GK] = {0.707079, 0.237035, 0.777519, 0.152783, 0.621352, 0.3171,
                                       0.663082, 0.210735, 0.695917, 0.254771, 0.410282, 0.379135};
    CHECK(memcmp(topk, want_topk, sizeof want_topk) == 0);
    for (int i = 0; i < GN * GK; i++) CHECK_NEAR(gate[i], want_gate[i], 2e-6, 0);
    const double want_P[GE] = {0.309863, 0.235645, 0.234192, 0.220299};
    double P[GN * GE], f[GN * GE];
    for (int e = 0; e < GE; e++) {
        double m = 0;
        for (int t = 0; t < GN; t++) m += p[t * GE + e];
        CHECK_NEAR(m / GN, want_P[e], 2e-6, 0);
    }
    expert_load(load, topk, GN, GE, GK);
    for (int e = 0; e < GE; e++) CHECK(load[e] == 3);
    CHECK_NEAR(switch_loss_forward(f, P, p, topk, GN, GE, GK, GN, F_FROM_GROUP, 0, NULL), 1.000000, 2e-6, 0);
    CHECK_NEAR(switch_loss_forward(f, P, p, topk, GN, GE, GK, 3, F_FROM_GROUP, 0, NULL), 1.003179, 2e-6, 0);
    CHECK_NEAR(l2_loss_forward(P, p, GN, GE, GN), 0.00492168, 2e-8, 0);
    real bias[GE] = {0};
    auxfree_update(bias, load, GE, GN * GK, 1e-3, BIAS_SIGN, 0);
    for (int e = 0; e < GE; e++) CHECK(bias[e] == 0);
    CHECK_NEAR(load_maxvio(load, GE, GN * GK), 0, 0, 0);
}

// ---- balancing losses: exact values on hand cases ----
static void test_balance_hand(void) {
    // uniform routing: p = 1/E everywhere and every expert chosen equally often → switch = 1, l2 = 0
    enum { N = 4, E = 4, K = 2 };
    real p[N * E];
    int32_t topk[N * K] = {0, 1, 2, 3, 1, 0, 3, 2};
    for (int i = 0; i < N * E; i++) p[i] = (real)0.25;
    double f[N * E], P[N * E];
    CHECK(switch_loss_forward(f, P, p, topk, N, E, K, N, F_FROM_GROUP, 0, NULL) == 1.0);
    CHECK(l2_loss_forward(P, p, N, E, N) == 0.0);
    // skewed, by hand: tokens all choose {0,1}; p rows (0.4, 0.3, 0.2, 0.1)
    int32_t tk2[N * K] = {0, 1, 0, 1, 0, 1, 0, 1};
    for (int t = 0; t < N; t++) { p[t * E] = 0.4f; p[t * E + 1] = 0.3f; p[t * E + 2] = 0.2f; p[t * E + 3] = 0.1f; }
    // f = (0.5, 0.5, 0, 0); switch = 4·(0.5·0.4 + 0.5·0.3) = 1.4
    CHECK_NEAR(switch_loss_forward(f, P, p, tk2, N, E, K, N, F_FROM_GROUP, 0, NULL), 1.4, 1e-6, 0);
    // l2 = 0.15² + 0.05² + 0.05² + 0.15² = 0.05
    CHECK_NEAR(l2_loss_forward(P, p, N, E, N), 0.05, 1e-6, 0);
    // z-loss of logits (0, ln 3) for one token: lse = ln 4 → (ln 4)² 
    real zz[2] = {0, (real)log(3.0)};
    CHECK_NEAR(zloss_forward(zz, 1, 2), log(4.0) * log(4.0), 1e-6, 0);
    // global f: two groups of 2 tokens; group 0 chose {0,1}, group 1 chose {2,3}
    int32_t tk3[N * K] = {0, 1, 0, 1, 2, 3, 2, 3};
    for (int i = 0; i < N * E; i++) p[i] = (real)(i < 2 * E ? (i % E < 2 ? 0.5 : 0) : (i % E < 2 ? 0 : 0.5));
    // micro: each group f = (.5,.5,0,0) P = (.5,.5,0,0) → 4·0.5 = 2; global: f = .25 each → 4·(.25·.5·2) = 1
    CHECK_NEAR(switch_loss_forward(f, P, p, tk3, N, E, K, 2, F_FROM_GROUP, 0, NULL), 2.0, 1e-6, 0);
    CHECK_NEAR(switch_loss_forward(f, P, p, tk3, N, E, K, 2, F_FROM_BATCH, 0, NULL), 1.0, 1e-6, 0);
    // top-K renormalized probabilities: s = (0.5, 0.3, 0.2) with {0, 1} chosen → (0.625, 0.375, 0)
    real s3[3] = {0.5f, 0.3f, 0.2f}, pb3[3];
    int32_t tk4[2] = {0, 1};
    topk_probs_forward(pb3, s3, tk4, 1, 3, 2);
    CHECK_NEAR(pb3[0], 0.625, 1e-7, 0);
    CHECK_NEAR(pb3[1], 0.375, 1e-7, 0);
    CHECK(pb3[2] == 0);
}

// ---- aux-free bias ----
static void test_auxfree(void) {
    int32_t load[4] = {10, 2, 4, 0};  // mean = 4
    real b[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    auxfree_update(b, load, 4, 16, 0.25, BIAS_SIGN, 0);
    CHECK(b[0] == 0.25f && b[1] == 0.75f && b[2] == 0.5f && b[3] == 0.75f);  // exactly ±u, 0 at the mean
    // Centring, from a bias that is not centred (guards against bias_center being ignored: from
    // a zero bias the linear steps (mean - load)/mean already sum to 0, so centring would have
    // nothing to do). Steps (-1.5, 0.5, 0, 1) sum to 0; the start sums to 1.2, mean 0.3.
    real c[4] = {0.9f, -0.3f, 0.2f, 0.4f};
    auxfree_update(c, load, 4, 16, 1.0, BIAS_LINEAR, 1);
    CHECK_NEAR(c[0], 0.9 - 1.5 - 0.3, 1e-6, 0);
    CHECK_NEAR(c[1], -0.3 + 0.5 - 0.3, 1e-6, 0);
    CHECK_NEAR(c[2], 0.2 - 0.3, 1e-6, 0);
    CHECK_NEAR(c[3], 0.4 + 1 - 0.3, 1e-6, 0);
    CHECK_NEAR(c[0] + c[1] + c[2] + c[3], 0, 1e-6, 0);
    // ... with sign steps (-1, 1, 0, 1)·0.25, which do not sum to 0 themselves
    real cs[4] = {0.9f, -0.3f, 0.2f, 0.4f};
    auxfree_update(cs, load, 4, 16, 0.25, BIAS_SIGN, 1);
    CHECK_NEAR(cs[0], 0.9 - 0.25 - 0.3625, 1e-6, 0);
    CHECK_NEAR(cs[0] + cs[1] + cs[2] + cs[3], 0, 1e-6, 0);
    // ... and without centring the sum is left alone
    real cn[4] = {0.9f, -0.3f, 0.2f, 0.4f};
    auxfree_update(cn, load, 4, 16, 1.0, BIAS_LINEAR, 0);
    CHECK_NEAR(cn[0] + cn[1] + cn[2] + cn[3], 1.2, 1e-6, 0);
    // The model passes balance.bias_center through: every layer's bias sums to 0 after an update
    // from a non-centred start, and keeps its sum when centring is off.
    for (int center = 0; center < 2; center++) {
        ModelSpec sp = {0};
        sp.kind = MODEL_DECODER; sp.V = 23; sp.D = 16; sp.L = 2; sp.H = 2; sp.attention = 1; sp.T = 8;
        sp.E = 4; sp.K = 2; sp.F = 8; sp.max_batch = 2; sp.bal_method = BAL_AUXFREE; sp.bal_scope = SCOPE_MICRO;
        sp.bias_rate = 0.01; sp.bias_update = BIAS_SIGN; sp.bias_center = center;
        Model m;
        char err[100];
        CHECK(model_build(&m, &sp, err, sizeof err) == 0);
        model_init_params(&m, 4, 0.2, 0);
        for (int i = 0; i < sp.L * sp.E; i++) m.bias[i] = (real)(0.1 * (i % 3));
        int32_t tok[2 * 9];
        for (int i = 0; i < 18; i++) tok[i] = (int32_t)((i * 5) % 23);
        Batch b = {.B = 2, .micro = 1, .tokens = tok};
        Losses l;
        CHECK(model_forward(&m, &b, NULL, &l) == 0);
        double before = 0, step = 0;
        for (int e = 0; e < sp.E; e++) {  // layer 1's start, and the sum of its sign steps
            before += m.bias[sp.E + e];
            double d = 8.0 - m.blocks[1].load[e];  // mean load N·K/E = 2·8·2/4
            step += sp.bias_rate * ((d > 0) - (d < 0));
        }
        model_update_bias(&m);
        for (int ll = 0; ll < sp.L; ll++) {
            double sum = 0;
            for (int e = 0; e < sp.E; e++) sum += m.bias[(size_t)ll * sp.E + e];
            if (center) CHECK_MSG(fabs(sum) < 1e-6, "balance.bias_center: layer %d's bias sums to %g", ll, sum);
            else if (ll == 1) CHECK_NEAR(sum, before + step, 1e-6, 0);
        }
        model_free(&m);
    }
}

// ---- the gates come from the unbiased scores, through the model's routing ----
// Guards against the aux-free bias leaking into the gate values (e.g. added to the scores before
// the top-K and the gates both): the bias may change which experts are chosen, never the weight
// a chosen expert gets, which is its softmax probability computed here from the router logits.
static void test_gates_unbiased(void) {
    for (int score = 0; score < 2; score++) {
        ModelSpec sp = {0};
        sp.kind = MODEL_DECODER; sp.V = 23; sp.D = 16; sp.L = 1; sp.H = 2; sp.attention = 1; sp.T = 8;
        sp.E = 4; sp.K = 2; sp.F = 8; sp.max_batch = 2; sp.bal_method = BAL_AUXFREE; sp.bal_scope = SCOPE_MICRO;
        sp.score = score;  // softmax: gate = s; sigmoid: gate = s / Σ_chosen s
        Model m;
        char err[100];
        CHECK(model_build(&m, &sp, err, sizeof err) == 0);
        model_init_params(&m, 6, 0.5, 0);
        int32_t tok[2 * 9];
        for (int i = 0; i < 18; i++) tok[i] = (int32_t)((i * 7 + 2) % 23);
        Batch b = {.B = 2, .micro = 1, .tokens = tok};
        Losses l;
        const int N = 16;
        int32_t t0[16 * 2];
        CHECK(model_forward(&m, &b, NULL, &l) == 0);
        memcpy(t0, m.blocks[0].topk, sizeof t0);
        // expert 3 pushed up by far more than any score gap: chosen by every token
        m.bias[3] = 5;
        CHECK(model_forward(&m, &b, NULL, &l) == 0);
        const BlockActs *a = &m.blocks[0];
        CHECK(memcmp(t0, a->topk, sizeof t0) != 0);  // the bias did change the selection
        double worst = 0;
        int all3 = 1;
        for (int n = 0; n < N; n++) {
            double s[4], sum = 0, mx = -1e300, chosen = 0;
            for (int e = 0; e < 4; e++) mx = fmax(mx, a->z[n * 4 + e]);
            for (int e = 0; e < 4; e++) {
                s[e] = score ? 1 / (1 + exp(-a->z[n * 4 + e])) : exp(a->z[n * 4 + e] - mx);
                sum += s[e];
            }
            if (!score) for (int e = 0; e < 4; e++) s[e] /= sum;
            for (int k = 0; k < 2; k++) chosen += s[a->topk[n * 2 + k]];
            all3 &= a->topk[n * 2] == 3 || a->topk[n * 2 + 1] == 3;
            for (int k = 0; k < 2; k++) {
                double want = score ? s[a->topk[n * 2 + k]] / chosen : s[a->topk[n * 2 + k]];
                worst = fmax(worst, fabs(a->gate[n * 2 + k] - want));
            }
        }
        CHECK(all3);
        CHECK_MSG(worst < 1e-5, "%s: gates differ from the unbiased scores of the chosen experts by %g",
                  score ? "sigmoid" : "softmax", worst);
        model_free(&m);
    }
}

// ---- dispatch ----
static void test_dispatch(void) {
    enum { N = 50, E = 7, K = 3, D = 5 };
    real s[N * E], u[N * D], gate[N * K], y[N * K * D], h[N * D];
    int32_t topk[N * K], start[E + 1], row_token[N * K], token_row[N * K];
    fill(s, N * E); fill(u, N * D); fill(gate, N * K);
    router_topk(topk, s, NULL, N, E, K, 0);
    moe_dispatch(start, row_token, token_row, topk, N, E, K);
    CHECK(start[0] == 0 && start[E] == N * K);  // tokens per expert sum to N·K
    int sorted = 1, consistent = 1;
    for (int e = 0; e < E; e++)
        for (int r = start[e]; r < start[e + 1]; r++) {
            if (r > start[e] && row_token[r] <= row_token[r - 1]) sorted = 0;
            int t = row_token[r], found = 0;
            for (int k = 0; k < K; k++) found |= topk[t * K + k] == e && token_row[t * K + k] == r;
            consistent &= found;
        }
    CHECK_MSG(sorted, "an expert's rows are not in token order");
    CHECK_MSG(consistent, "row_token / token_row / topk disagree");
    // identity experts: y = the gathered input, so the combine returns u times the gate sum
    for (int r = 0; r < N * K; r++) memcpy(y + (size_t)r * D, u + (size_t)row_token[r] * D, sizeof(real) * D);
    memset(h, 0, sizeof h);
    moe_combine_forward(h, y, gate, token_row, N, D, K);
    double worst = 0;
    for (int t = 0; t < N; t++) {
        real gs = 0;
        for (int k = 0; k < K; k++) gs += gate[t * K + k];
        for (int i = 0; i < D; i++) worst = fmax(worst, fabs(h[t * D + i] - gs * u[t * D + i]));
    }
    CHECK_NEAR(worst, 0, 1e-5, 0);
}

// ---- the float build's exp and GELU against libm ----
static void test_exp_gelu(void) {
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000;
        double e = exp((double)x), a = exp_approx(x);
        worst = fmax(worst, fabs(a - e) / e);
    }
    CHECK_MSG(worst < 5e-7, "exp_approx: worst relative error %.3g over [-87, 88]", worst);
    CHECK(isnan(gelu_value(NAN)) && isnan(gelu_grad(NAN)));  // NaN goes on to the divergence check
    CHECK(isnan(exp_approx(NAN)));
    // ... through every softmax too: a NaN logit that is not the target still makes the loss NaN,
    // and a NaN router logit gives NaN scores (softmax and sigmoid), never a confident choice
    real lg[4] = {0.5f, 1, NAN, -0.3f}, pr[4], zs[4] = {0.2f, NAN, -1, 0.7f}, sc[4], pp[4];
    int32_t tgt = 1;
    CHECK(isnan(crossentropy_forward(pr, lg, &tgt, 1, 4)));
    router_scores_forward(sc, pp, zs, 1, 4, SCORE_SOFTMAX);
    CHECK(isnan(sc[1]) && isnan(pp[0]));
    router_scores_forward(sc, pp, zs, 1, 4, SCORE_SIGMOID);
    CHECK(isnan(sc[1]) && isnan(pp[0]));
    double gworst = 0, dworst = 0;
    for (int i = 0; i <= 20000; i++) {
        double v = -10 + 20.0 * i / 20000;
        double u = 0.7978845608028654 * (v + 0.044715 * v * v * v), th = tanh(u);
        double g = 0.5 * v * (1 + th);
        double dg = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * 0.7978845608028654 * (1 + 3 * 0.044715 * v * v);
        gworst = fmax(gworst, fabs(gelu_value((real)v) - g) / (1 + fabs(g)));
        dworst = fmax(dworst, fabs(gelu_grad((real)v) - dg) / (1 + fabs(dg)));
    }
    CHECK_MSG(gworst < 2e-6, "gelu_value vs the tanh formula: worst error %.3g", gworst);
    CHECK_MSG(dworst < 2e-6, "gelu_grad vs the tanh formula: worst error %.3g", dworst);
}

// ---- rng_normal (nn/rng.c): a standard normal, the same numbers for the same seed ----
static void test_rng_normal(void) {
    Rng a, b;
    rng_seed(&a, 11, 4);
    rng_seed(&b, 11, 4);
    const int n = 200000;
    double sum = 0, sq = 0, fourth = 0;
    int within1 = 0, finite = 1, same = 1;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&a);
        finite &= isfinite(x);
        same &= x == rng_normal(&b);
        sum += x; sq += x * x; fourth += x * x * x * x;
        within1 += fabs(x) < 1;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    CHECK(finite && same);
    // bounds about 5 standard errors wide (n = 200000; fixed seed, so no flakiness)
    CHECK_NEAR(mean, 0, 0.011, 0);
    CHECK_NEAR(var, 1, 0.016, 0);
    CHECK_NEAR(fourth / n, 3, 0.07, 0);                 // the normal's kurtosis
    CHECK_NEAR((double)within1 / n, 0.682689492, 0.0052, 0);  // P(|x| < 1)
}

// ---- sum of squares (the gradient norm) at every vector width, and at 1 and 2 threads ----
static void test_sum_squares(void) {
    static const size_t lens[] = {1, 7, 8, 4097, 300001};
    const size_t nmax = 300001;
    real *x = malloc(sizeof(real) * nmax);
    for (size_t i = 0; i < nmax; i++) x[i] = (real)(rng_normal(&rng) * (i % 7 == 0 ? 1e-3 : 1));
    const SimdLevel saved = simd_level();
    for (int want = SIMD_SSE2; want <= SIMD_AVX512; want++) {
        if ((int)simd_cap((SimdLevel)want) != want) continue;
        double worst = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            double ref = 0;
            for (size_t i = 0; i < lens[li]; i++) ref += (double)x[i] * (double)x[i];
            worst = fmax(worst, fabs(sum_squares(x, lens[li]) - ref) / ref);
            worst = fmax(worst, fabs(sum_squares_serial(x, lens[li]) - ref) / ref);
        }
        CHECK_MSG(worst < 1e-12, "%s: sum_squares vs a running double sum: relative %g", simd_level_name(want), worst);
#ifdef _OPENMP
        int th = omp_get_max_threads();
        omp_set_num_threads(1);
        double a = sum_squares(x, nmax);
        omp_set_num_threads(2);
        double b = sum_squares(x, nmax);
        omp_set_num_threads(th);
        CHECK(memcmp(&a, &b, sizeof a) == 0 && a == sum_squares_serial(x, nmax));
#else
        SKIP("%s: sum_squares at 1 and 2 threads (built without OpenMP)", simd_level_name(want));
#endif
    }
    simd_cap(saved);
    free(x);
}

// ---- top-K against a sort by (value descending, index ascending), ties and bias included ----
static void test_topk_sorted(void) {
    enum { N = 300, EMAX = 70 };
    static real sc[N * EMAX], bias[EMAX];
    static int32_t got[N * 8];
    int bad = 0, cases = 0;
    const int Es[] = {2, 3, 8, 16, 64, 70}, Ks[] = {1, 2, 3, 4, 8};
    for (size_t ei = 0; ei < sizeof Es / sizeof Es[0]; ei++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
            for (int use_bias = 0; use_bias < 2; use_bias++) {
                int E = Es[ei], K = Ks[ki];
                if (K > E) continue;
                // values on a coarse grid, so ties are common
                for (int i = 0; i < N * E; i++) sc[i] = (real)(rng_below(&rng, 5) * 0.25);
                for (int e = 0; e < E; e++) bias[e] = (real)(rng_below(&rng, 3) * 0.25);
                router_topk(got, sc, use_bias ? bias : NULL, N, E, K, 0);
                for (int n = 0; n < N; n++) {
                    int taken[EMAX] = {0};
                    for (int k = 0; k < K; k++) {
                        int b = -1;
                        double bv = 0;
                        for (int e = 0; e < E; e++) {
                            double v = (double)(sc[n * E + e] + (use_bias ? bias[e] : 0));
                            if (!taken[e] && (b < 0 || v > bv)) { b = e; bv = v; }
                        }
                        taken[b] = 1;
                        if (got[n * K + k] != b) { bad++; break; }
                    }
                }
                cases++;
            }
    CHECK_MSG(bad == 0, "top-K differs from the sorted order in %d rows (%d shapes)", bad, cases);
    // A NaN score still yields valid, distinct indices.
    real nan_s[4] = {NAN, 1, NAN, 2};
    int32_t k2[2];
    router_topk(k2, nan_s, NULL, 1, 4, 2, 0);
    CHECK(k2[0] >= 0 && k2[0] < 4 && k2[1] >= 0 && k2[1] < 4 && k2[0] != k2[1]);
}

// ---- expert removal: masking the m best experts agrees with the measurement code's definition ----
static void test_removal_topk(void) {
    enum { N = 40, E = 9, K = 2 };
    real s[N * E];
    int32_t a[N * K], b[N * K];
    fill(s, N * E);
    for (int i = 0; i < 20; i++) s[i * E + (i % E)] = s[i * E + ((i + 3) % E)];  // some ties
    for (int m = 0; m <= 3; m++) {
        router_topk(a, s, NULL, N, E, K, m);
        CHECK(metrics_mask_topk(b, NULL, s, N, E, K, (double)m / E) == 0);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "masking %d experts: nn and metrics disagree", m);
    }
    router_topk(a, s, NULL, N, E, K, 0);
    router_topk(b, s, NULL, N, E, K, 2);
    int overlap = 0;
    for (int i = 0; i < N * K; i++) overlap += a[i] == b[i];
    CHECK(overlap < N * K);  // masking does change the choice
}

// ---- pruning: a per-layer allowed-experts mask (router_topk_allowed, ForwardSwitches.allowed) ----
// A pruned expert is never chosen; the choice is the top K of the allowed experts by s + bias
// (ties to the lower index); with every expert allowed the result is bitwise the unmasked one,
// at the layer and through the whole model.
static void test_pruned_topk(void) {
    enum { N = 60, E = 9, K = 3 };
    real s[N * E], bias[E];
    int32_t a[N * K], b[N * K];
    uint8_t allowed[E] = {1, 0, 1, 1, 0, 1, 0, 1, 1}, all[E];
    memset(all, 1, sizeof all);
    fill(s, N * E); fill(bias, E);
    for (int i = 0; i < 20; i++) s[i * E + (i % E)] = s[i * E + ((i + 4) % E)];  // some ties
    int never = 1, ref_ok = 1;
    for (int use_bias = 0; use_bias < 2; use_bias++) {
        const real *bb = use_bias ? bias : NULL;
        router_topk_allowed(a, s, bb, allowed, N, E, K, 0);
        for (int n = 0; n < N; n++) {
            // reference: K times the best untaken allowed expert, scanned in index order
            int taken[E] = {0};
            for (int k = 0; k < K; k++) {
                int best = -1;
                for (int e = 0; e < E; e++) {
                    if (!allowed[e] || taken[e]) continue;
                    real v = s[n * E + e] + (bb ? bb[e] : 0);
                    if (best < 0 || v > s[n * E + best] + (bb ? bb[best] : 0)) best = e;
                }
                taken[best] = 1;
                ref_ok &= a[n * K + k] == best;
                never &= allowed[a[n * K + k]];
            }
        }
        for (int skip = 0; skip <= 2; skip++) {
            router_topk(b, s, bb, N, E, K, skip);
            router_topk_allowed(a, s, bb, all, N, E, K, skip);
            CHECK_MSG(memcmp(a, b, sizeof a) == 0, "all experts allowed (bias %d, skip %d) differs from no mask",
                      use_bias, skip);
        }
    }
    CHECK_MSG(never, "a pruned expert was chosen");
    CHECK_MSG(ref_ok, "the pruned choice is not the top K of the allowed experts");
    // fewer allowed experts than K: still K distinct experts, the allowed ones first
    uint8_t two[E] = {0, 0, 0, 0, 0, 0, 1, 0, 1};
    router_topk_allowed(a, s, NULL, two, 1, E, K, 0);
    CHECK(((a[0] == 6 && a[1] == 8) || (a[0] == 8 && a[1] == 6)) && a[2] == 0);
    // through the model: layer 1 pruned to experts {1, 3, 4}, layer 0 untouched
    ModelSpec sp = {0};
    sp.kind = MODEL_DECODER; sp.V = 29; sp.D = 16; sp.L = 2; sp.H = 2; sp.attention = 1; sp.T = 8;
    sp.E = 6; sp.K = 2; sp.F = 12; sp.max_batch = 4; sp.bal_method = BAL_SWITCH; sp.bal_scope = SCOPE_MICRO;
    sp.alpha = 0.01;
    Model m;
    char err[200];
    CHECK_MSG(model_build(&m, &sp, err, sizeof err) == 0, "%s", err);
    if (m.params) {
        model_init_params(&m, 7, 0.3, 0);
        int32_t tok[4 * 9];
        for (int i = 0; i < 4 * 9; i++) tok[i] = (int32_t)(rng_next(&rng) % 29);
        Batch bt = {.B = 4, .micro = 4, .tokens = tok, .shuffle_seed = 1};
        Losses l0, l1, l2;
        int32_t top0[4 * 8 * 2], top1[4 * 8 * 2];
        uint8_t mall[2 * 6], mpr[2 * 6] = {1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0};
        memset(mall, 1, sizeof mall);
        model_forward(&m, &bt, NULL, &l0);
        memcpy(top0, m.blocks[1].topk, sizeof top0);
        const ForwardSwitches all = {.allowed = mall}, pruned = {.allowed = mpr};
        model_forward(&m, &bt, &all, &l1);
        memcpy(top1, m.blocks[1].topk, sizeof top1);
        CHECK_MSG(memcmp(&l0.loss, &l1.loss, sizeof(double)) == 0 && memcmp(top0, top1, sizeof top0) == 0,
                  "a model with every expert allowed differs from no mask");
        model_forward(&m, &bt, &pruned, &l2);
        int ok = 1, changed = 0;
        for (int i = 0; i < 4 * 8 * 2; i++) ok &= mpr[6 + m.blocks[1].topk[i]];
        for (int i = 0; i < 4 * 8 * 2; i++) changed |= m.blocks[1].topk[i] != top0[i];
        CHECK_MSG(ok, "the model chose a pruned expert in layer 1");
        CHECK(changed && l2.ce != l0.ce);
        // switches pass with the call: a plain forward after the pruned one is the plain forward
        Losses l3;
        model_forward(&m, &bt, NULL, &l3);
        CHECK_MSG(memcmp(&l0.loss, &l3.loss, sizeof(double)) == 0 && memcmp(top0, m.blocks[1].topk, sizeof top0) == 0,
                  "a plain forward after a pruned one differs from a plain forward alone");
        model_free(&m);
    }
}

// ---- determinism: 1 and 2 threads give bitwise-identical losses and gradients ----
// stale: fill the gradients with NaN before the step (model_zero_grads plus model_backward must
// still define every element, including the routed experts' written ones).
// idle: aux-free balancing with expert 0's bias at -1e6, so it gets no rows in any block.
static void run_model_ex(int threads, double *loss, real **grads, size_t *n, int stale, int idle) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    ModelSpec sp = {0};
    sp.kind = MODEL_DECODER; sp.V = 37; sp.D = 24; sp.L = 2; sp.H = 2; sp.attention = 1; sp.T = 16;
    sp.E = 8; sp.K = 2; sp.F = 20; sp.S = 1; sp.max_batch = 8; sp.bal_method = BAL_SWITCH;
    sp.bal_scope = SCOPE_GLOBAL; sp.alpha = 0.01; sp.z_alpha = 0.001;
    Model m;
    char err[100];
    if (idle) sp.bal_method = BAL_AUXFREE;
    CHECK(model_build(&m, &sp, err, sizeof err) == 0);
    model_init_params(&m, 3, 0.1, 0);
    if (idle) for (int l = 0; l < sp.L; l++) m.bias[(size_t)l * sp.E] = (real)-1e6;
    int32_t tok[8 * 17];
    Rng r;
    rng_seed(&r, 5, 0);
    for (int i = 0; i < 8 * 17; i++) tok[i] = (int32_t)rng_below(&r, 37);
    Batch b = {.B = 8, .micro = 2, .tokens = tok};
    Losses l;
    if (stale) for (size_t i = 0; i < m.table.total; i++) m.grads[i] = NAN;
    model_zero_grads(&m);
    CHECK(model_forward(&m, &b, NULL, &l) == 0);
    model_backward(&m, &b);
    if (idle) for (int l = 0; l < sp.L; l++) CHECK(m.blocks[l].expert_start[1] == 0);  // expert 0 idle
    // the norm with the experts' part taken in backward equals the norm over the flat array
    double gm = model_grad_norm(&m), gf = grad_norm(m.grads, m.table.total);
    CHECK_MSG(fabs(gm - gf) <= 1e-12 * gf && gf > 0, "model_grad_norm %.17g vs grad_norm %.17g", gm, gf);
    *loss = l.loss;
    *n = m.table.total;
    *grads = malloc(sizeof(real) * *n);
    memcpy(*grads, m.grads, sizeof(real) * *n);
    model_free(&m);
}

static void run_model(int threads, double *loss, real **grads, size_t *n) { run_model_ex(threads, loss, grads, n, 0, 0); }

static void test_thread_determinism(void) {
    double l1, l2;
    real *g1, *g2;
    size_t n1, n2;
    run_model(1, &l1, &g1, &n1);
    run_model(2, &l2, &g2, &n2);
    CHECK(n1 == n2);
    CHECK_MSG(memcmp(&l1, &l2, sizeof l1) == 0, "loss differs: %.17g vs %.17g", l1, l2);
    CHECK_MSG(memcmp(g1, g2, sizeof(real) * n1) == 0, "gradients differ between 1 and 2 threads");
    // Old gradients never leak into a step: the same bits after NaN-filled gradients.
    real *g3;
    size_t n3;
    double l3;
    run_model_ex(2, &l3, &g3, &n3, 1, 0);
    CHECK_MSG(n3 == n1 && memcmp(g1, g3, sizeof(real) * n1) == 0, "stale gradients leaked into the step");
    free(g3);
    // ... nor into an expert that got no rows (its gradient is exactly 0)
    real *g4, *g5;
    size_t n4, n5;
    run_model_ex(2, &l3, &g4, &n4, 0, 1);
    run_model_ex(2, &l3, &g5, &n5, 1, 1);
    CHECK_MSG(n4 == n5 && memcmp(g4, g5, sizeof(real) * n4) == 0, "stale gradients leaked into an idle expert");
    free(g1); free(g2); free(g4); free(g5);
}

// ---- causality of the whole model: no position's logits depend on a later token ----
// Guards against an attention mask (or anything else in the block) that lets position t see a
// later token: for every position j of every sequence, changing the input token at j leaves
// the logits at positions < j, and the other sequence, bitwise unchanged, and moves those at j.
static void test_model_causal(void) {
    enum { B = 2, T = 8, V = 29 };
    ModelSpec sp = {0};
    sp.kind = MODEL_DECODER; sp.V = V; sp.D = 16; sp.L = 2; sp.H = 2; sp.attention = 1; sp.T = T;
    sp.E = 4; sp.K = 2; sp.F = 12; sp.S = 1; sp.max_batch = B; sp.bal_method = BAL_SWITCH;
    sp.bal_scope = SCOPE_GLOBAL; sp.alpha = 0.01;
    Model m;
    char err[100];
    CHECK(model_build(&m, &sp, err, sizeof err) == 0);
    model_init_params(&m, 11, 0.3, 0);
    int32_t tok[B * (T + 1)];
    for (int i = 0; i < B * (T + 1); i++) tok[i] = (int32_t)((i * 7 + 3) % V);
    Batch b = {.B = B, .micro = 1, .tokens = tok};
    Losses l;
    const size_t NV = (size_t)B * T * V;
    real *ref = malloc(sizeof(real) * NV);
    CHECK(model_forward(&m, &b, NULL, &l) == 0);
    memcpy(ref, m.logits, sizeof(real) * NV);
    int leaks = 0, inert = 0;
    for (int sb = 0; sb < B; sb++)
        for (int j = 0; j < T; j++) {
            int32_t *x = &tok[sb * (T + 1) + j], keep = *x;
            *x = (keep + 5) % V;
            CHECK(model_forward(&m, &b, NULL, &l) == 0);
            *x = keep;
            for (int bb = 0; bb < B; bb++)
                for (int t = 0; t < T; t++) {
                    size_t off = ((size_t)bb * T + t) * V;
                    int moved = memcmp(m.logits + off, ref + off, sizeof(real) * V) != 0;
                    if (moved && (bb != sb || t < j)) leaks++;
                    if (!moved && bb == sb && t == j) inert++;
                }
        }
    CHECK_MSG(leaks == 0, "model: %d positions' logits moved when a later token (or another sequence) changed", leaks);
    CHECK_MSG(inert == 0, "model: %d positions' logits ignored their own token", inert);
    free(ref);
    model_free(&m);
}

// ---- model sizes: expert compute is sparse ----
static void test_model_table(void) {
    ModelSpec sp = {0};
    sp.kind = MODEL_DECODER; sp.V = 10; sp.D = 8; sp.L = 2; sp.H = 2; sp.attention = 1; sp.T = 4;
    sp.E = 3; sp.K = 2; sp.F = 5; sp.S = 1; sp.max_batch = 2;
    Model m;
    char err[100];
    CHECK(model_build(&m, &sp, err, sizeof err) == 0);
    const char *names[] = {"wte", "wpe", "blocks.0.att_norm", "blocks.0.wqkv", "blocks.0.wo", "blocks.0.moe_norm",
                           "blocks.0.router", "blocks.0.w1", "blocks.0.w2", "blocks.0.shared_w1", "blocks.0.shared_w2",
                           "blocks.1.w2", "final_norm", "head"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) CHECK_MSG(param_find(&m.table, names[i]), "%s missing", names[i]);
    const ParamInfo *w1 = param_find(&m.table, "blocks.0.w1"), *qkv = param_find(&m.table, "blocks.0.wqkv");
    CHECK(w1 && w1->count == 3 && w1->rows == 5 && w1->cols == 8 && w1->kind == PARAM_EXPERT);
    CHECK(qkv && qkv->rows == 24 && qkv->cols == 8);
    // offsets tile the flat array exactly
    size_t next = 0;
    for (int i = 0; i < m.table.n; i++) { CHECK(m.table.info[i].offset == next); next += param_numel(&m.table.info[i]); }
    CHECK(next == m.table.total);
    model_free(&m);
    sp.K = 4;
    CHECK(model_build(&m, &sp, err, sizeof err) != 0);  // top_k > experts is refused
}

// crossentropy_row (one row in double, for evaluation code): by hand, z = (0, ln 3, 0) and y = 1
// gives -log(3/5); shifted logits give the same; it equals crossentropy_forward on one row.
static void test_crossentropy_row(void) {
    real z[3] = {0, (real)log(3.0), 0}, zs[3], pr[3];
    const double want = -log(3.0 / 5.0);
    CHECK_NEAR(crossentropy_row(z, 3, 1), want, 1e-7, 1e-7);
    CHECK_NEAR(crossentropy_row(z, 3, 0), -log(1.0 / 5.0), 1e-7, 1e-7);
    for (int c = 0; c < 3; c++) zs[c] = z[c] + 40;                       // softmax is shift-invariant
    CHECK_NEAR(crossentropy_row(zs, 3, 1), want, 1e-5, 1e-5);
    int32_t y = 1;
    CHECK_NEAR(crossentropy_row(z, 3, 1), crossentropy_forward(pr, z, &y, 1, 3), 1e-6, 1e-6);
}

int main(void) {
    rng_seed(&rng, 2024, 0);
    test_crossentropy_row();
    test_gemm_shapes();
    test_gemm_cols();
    test_gemm_packed();
    test_attention_blocked();
    test_attention_work_fraction();
    test_golden_routing();
    test_balance_hand();
    test_auxfree();
    test_gates_unbiased();
    test_dispatch();
    test_removal_topk();
    test_pruned_topk();
    test_topk_sorted();
    test_sum_squares();
    test_rng_normal();
    test_exp_gelu();
    test_gelu_kernels();
    test_thread_determinism();
    test_model_table();
    test_model_causal();
    return test_summary("test_nn");
}
