// test_generate.c — generation means something and is what the model computes: a cyclic model
// greedily continues its cycle, a domains model samples its prompt's chain far above chance; the
// KV-cached steps equal model_forward over the whole row, the restarting window with keep = T
// equals recomputing the last T tokens, the prompt's routing equals a plain forward's, padding
// after a position does not change it; the same seed gives the same bits at 1 and 2 threads;
// bad settings and prompt files are refused with the flag or file named; --duplicate repeats every
// prompt whole, and the diversity of several samples (diversity.csv) is checked by hand.
// covers: sim/use/generate.c sim/use/diversity.c nn/decode.c nn/block.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "trained.h"
#include "../nn/model.h"
#include "../optim/optim.h"
#include "../sim/config/config.h"
#include "../sim/io.h"
#include "../sim/train/batches.h"
#include "../sim/use/generate.h"
#include "../sim/train/step.h"
#include "../sim/models/spec.h"
#include "../sim/train/train.h"
#include "../sim/worlds/world.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#include "set_key.h"

static void small_model(Config *c) {
    CHECK(config_defaults(c) == 0);
    set(c, "data.domains", "4");
    set(c, "model.vocab", "32");
    set(c, "model.d_model", "32");
    set(c, "model.layers", "1");
    set(c, "model.seq_len", "16");
    set(c, "model.experts", "4");
    set(c, "model.d_ff", "32");
    set(c, "train.batch", "16");
    set(c, "train.lr", "1e-2");
    set(c, "eval.sequences", "4");
}

static int run_gen(GenOutput *o, Model *m, const GenPrompts *p, const GenArgs *a) {
    char err[512] = "";
    int rc = gen_run(o, m, p, a, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return rc;
}

// ---- (a) the cyclic world: greedy decoding follows the cycle --------------------------------------

static void test_cyclic(void) {
    Trained t;
    memset(&t, 0, sizeof t);
    small_model(&t.c);
    set(&t.c, "data.world", "\"cyclic\"");
    train(&t, 150);
    CHECK_MSG(t.ce < 0.05, "cyclic model: training cross-entropy %.4f, expected < 0.05", t.ce);
    GenArgs a;
    gen_args_defaults(&a);
    a.prompt_len = 4;
    a.tokens = 40;            // past seq_len 16: the window restarts
    a.temperature = 0;
    GenPrompts p;
    char err[512];
    CHECK_MSG(gen_prompts(&p, &a, &t.c, err, sizeof err) == 0, "%s", err);
    CHECK(p.N == 16 && p.n == 4);
    GenOutput o;
    if (run_gen(&o, &t.m, &p, &a) == 0) {
        int period = t.w.period, follow = 0, total = 0;
        for (int r = 0; r < o.rows; r++)
            for (int j = p.n; j < o.len; j++) {
                int prev = o.tokens[(size_t)r * o.len + j - 1], d = prev / period;
                int want = d * period + (prev - d * period + 1) % period;
                follow += o.tokens[(size_t)r * o.len + j] == want;
                total++;
            }
        double frac = (double)follow / total;
        printf("cyclic: greedy decoding follows the cycle for %d of %d generated tokens (%.2f%%)\n", follow, total,
               100 * frac);
        CHECK_MSG(frac >= 0.99, "cycle followed for %.4f of the generated tokens, expected >= 0.99", frac);
        // the prompts are the evaluation set's first sequences, cut to n tokens
        CHECK(memcmp(o.tokens, p.tokens, sizeof(int32_t) * p.n) == 0);
        gen_output_free(&o);
    }
    gen_prompts_free(&p);
    trained_free(&t);
}

// ---- (b)-(f) on a domains model ---------------------------------------------------------------------

// Greedy continuation by recomputing model_forward over the last T tokens at every step: the
// exact sliding window, the reference of gen_run with keep = T.
static void reference_window(Model *m, const int32_t *prompt, int n, int Tn, int32_t *out /* n+Tn */) {
    int T = m->spec.T, V = m->spec.V;
    int32_t *win = calloc((size_t)T + 1, sizeof(int32_t));
    memcpy(out, prompt, sizeof(int32_t) * n);
    for (int j = n; j < n + Tn; j++) {
        int w = j < T ? j : T, start = j - w;
        memset(win, 0, sizeof(int32_t) * (T + 1));
        memcpy(win, out + start, sizeof(int32_t) * w);
        Batch b = {.B = 1, .micro = 1, .tokens = win, .shuffle_seed = 1};
        Losses l;
        model_forward(m, &b, NULL, &l);
        const real *lg = m->logits + (size_t)(w - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++) if (lg[v] > lg[best]) best = v;
        out[j] = best;
    }
    free(win);
}

static void test_domains(void) {
    Trained t;
    memset(&t, 0, sizeof t);
    small_model(&t.c);
    set(&t.c, "data.world", "\"domains\"");
    set(&t.c, "model.vocab", "64");
    set(&t.c, "data.shared_vocab", "16");
    set(&t.c, "model.layers", "2");
    set(&t.c, "model.heads", "2");
    set(&t.c, "eval.sequences", "8");
    train(&t, 200);
    Model *m = &t.m;
    int T = m->spec.T, V = m->spec.V, L = m->spec.L, K = m->spec.K, E = m->spec.E;
    char err[512];

    // (b) sampled continuations (temperature 1) under the prompt's domain chain vs random tokens
    GenArgs a;
    gen_args_defaults(&a);
    a.prompts = 32;
    a.prompt_len = 6;
    a.tokens = 30;
    a.samples = 2;
    a.seed = 7;
    GenPrompts p;
    CHECK_MSG(gen_prompts(&p, &a, &t.c, err, sizeof err) == 0, "%s", err);
    GenOutput o;
    if (run_gen(&o, m, &p, &a) == 0) {
        Rng rr;
        rng_seed(&rr, 99, 0);
        double lp_gen = 0, lp_rand = 0;
        int n_trans = 0, in_chain = 0, rand_in = 0;
        for (int r = 0; r < o.rows; r++) {
            int d = p.domain[r / a.samples];
            for (int j = p.n; j < o.len; j++) {
                int prev = o.tokens[(size_t)r * o.len + j - 1], tok = o.tokens[(size_t)r * o.len + j];
                double pg = world_transition(&t.w, d, prev, tok);
                double pr = world_transition(&t.w, d, prev, (int)rng_below(&rr, (uint32_t)V));
                lp_gen += log(pg > 1e-9 ? pg : 1e-9);
                lp_rand += log(pr > 1e-9 ? pr : 1e-9);
                in_chain += pg > 0;
                rand_in += pr > 0;
                n_trans++;
            }
        }
        lp_gen /= n_trans;
        lp_rand /= n_trans;
        printf("domains: mean log-prob of a generated transition under its prompt's chain %.3f, of a random token "
               "%.3f (gap %.2f nats; a transition outside the chain counts as 1e-9); in the chain: %.1f%% of generated "
               "transitions, %.1f%% of random ones (training ce %.3f)\n", lp_gen, lp_rand, lp_gen - lp_rand,
               100.0 * in_chain / n_trans, 100.0 * rand_in / n_trans, t.ce);
        CHECK_MSG(lp_gen - lp_rand > 5, "log-prob gap %.3f nats, expected > 5", lp_gen - lp_rand);
        CHECK_MSG(in_chain >= 0.7 * n_trans, "%d of %d generated transitions in the chain", in_chain, n_trans);
        // every row of a prompt starts with that prompt; samples of one prompt differ
        CHECK(memcmp(o.tokens + (size_t)o.len, p.tokens, sizeof(int32_t) * p.n) == 0);
        CHECK(memcmp(o.tokens, o.tokens + o.len, sizeof(int32_t) * o.len) != 0);

        // (c) the same seed: the same bits at 1 and 2 threads (top-p too), and gen_run twice
#ifdef _OPENMP
        GenArgs a2 = a;
        a2.top_p = 0.9;
        GenOutput o1, o2;
        omp_set_num_threads(1);
        int ok1 = run_gen(&o1, m, &p, &a2) == 0;
        omp_set_num_threads(2);
        int ok2 = run_gen(&o2, m, &p, &a2) == 0;
        if (ok1 && ok2) {
            size_t cells = (size_t)o1.rows * L * o1.len;
            CHECK(memcmp(o1.tokens, o2.tokens, sizeof(int32_t) * o1.rows * o1.len) == 0);
            CHECK(memcmp(o1.routes, o2.routes, sizeof(int32_t) * cells * K) == 0);
            CHECK(memcmp(o1.gates, o2.gates, sizeof(float) * cells * K) == 0);
            CHECK(memcmp(o1.confidence, o2.confidence, sizeof(float) * cells) == 0);
            CHECK(memcmp(o1.tokens, o.tokens, sizeof(int32_t) * o1.rows * o1.len) != 0);  // top-p changed them
        }
        if (ok1) gen_output_free(&o1);
        if (ok2) gen_output_free(&o2);
#else
        SKIP("no OpenMP in this build: the 1-vs-2-thread comparison needs it");
#endif
        GenOutput o3;
        if (run_gen(&o3, m, &p, &a) == 0) {
            CHECK(memcmp(o3.tokens, o.tokens, sizeof(int32_t) * o.rows * o.len) == 0);
            gen_output_free(&o3);
        }
        gen_output_free(&o);
    }

    // (d)+(e) greedy rows that fit the window: every generated token is the argmax of model_forward
    // over the finished row, and every position's routing (prompt and generated) equals that
    // forward's: the KV-cached steps compute what the full forward computes.
    GenArgs g;
    gen_args_defaults(&g);
    g.prompts = 8;
    g.prompt_len = 5;
    g.tokens = T - 5;       // n + tokens = T: no restart
    g.temperature = 0;
    GenPrompts pg;
    CHECK_MSG(gen_prompts(&pg, &g, &t.c, err, sizeof err) == 0, "%s", err);
    if (run_gen(&o, m, &pg, &g) == 0) {
        int32_t *rows = calloc((size_t)o.rows * (T + 1), sizeof(int32_t));
        for (int r = 0; r < o.rows; r++) memcpy(rows + (size_t)r * (T + 1), o.tokens + (size_t)r * o.len, sizeof(int32_t) * o.len);
        Batch b = {.B = o.rows, .micro = o.rows, .tokens = rows, .shuffle_seed = 1};
        Losses l;
        CHECK(model_forward(m, &b, NULL, &l) == 0);
        int argmax_ok = 0, route_ok = 0, n_gen = 0, n_route = 0;
        double gate_err = 0, conf_err = 0;
        for (int r = 0; r < o.rows; r++) {
            for (int j = pg.n; j < o.len; j++) {
                const real *lg = m->logits + ((size_t)r * T + j - 1) * V;
                int best = 0;
                for (int v = 1; v < V; v++) if (lg[v] > lg[best]) best = v;
                argmax_ok += o.tokens[(size_t)r * o.len + j] == best;
                n_gen++;
            }
            for (int l2 = 0; l2 < L; l2++)
                for (int j = 0; j < o.len; j++) {
                    size_t n = (size_t)r * T + j, at = ((size_t)r * L + l2) * o.len + j;
                    const BlockActs *ba = &m->blocks[l2];
                    route_ok += memcmp(o.routes + at * K, ba->topk + n * K, sizeof(int32_t) * K) == 0;
                    n_route++;
                    for (int k = 0; k < K; k++) {
                        double e = fabs(o.gates[at * K + k] - ba->gate[n * K + k]);
                        gate_err = e > gate_err ? e : gate_err;
                    }
                    double mx = -1e30, s = 0;
                    for (int e = 0; e < E; e++) mx = ba->z[n * E + e] > mx ? ba->z[n * E + e] : mx;
                    for (int e = 0; e < E; e++) s += exp(ba->z[n * E + e] - mx);
                    double ce = fabs(o.confidence[at] - 1 / s);
                    conf_err = ce > conf_err ? ce : conf_err;
                }
        }
        printf("KV cache vs model_forward: %d/%d greedy tokens are the forward's argmax, %d/%d routes equal, "
               "largest gate difference %.2g, confidence %.2g\n", argmax_ok, n_gen, route_ok, n_route, gate_err, conf_err);
        CHECK(argmax_ok == n_gen);
        CHECK(route_ok == n_route);
        CHECK(gate_err < 1e-5);
        CHECK(conf_err < 1e-5);
        // (e) prompt positions: a forward over the prompt alone (padded) routes them the same way
        memset(rows, 0, sizeof(int32_t) * (size_t)o.rows * (T + 1));
        for (int r = 0; r < o.rows; r++) memcpy(rows + (size_t)r * (T + 1), pg.tokens + (size_t)r * pg.n, sizeof(int32_t) * pg.n);
        CHECK(model_forward(m, &b, NULL, &l) == 0);
        int prompt_ok = 1;
        for (int r = 0; r < o.rows; r++)
            for (int l2 = 0; l2 < L; l2++)
                for (int j = 0; j < pg.n; j++) {
                    size_t n = (size_t)r * T + j, at = ((size_t)r * L + l2) * o.len + j;
                    prompt_ok &= memcmp(o.routes + at * K, m->blocks[l2].topk + n * K, sizeof(int32_t) * K) == 0;
                    prompt_ok &= memcmp(o.gates + at * K, m->blocks[l2].gate + n * K, sizeof(float) * K) == 0;
                }
        CHECK(prompt_ok);
        free(rows);
        gen_output_free(&o);
    }

    // (f) what follows position w never changes positions <= w: two paddings, the same bits
    {
        int32_t x1[2 * 17], x2[2 * 17];
        Rng r;
        rng_seed(&r, 5, 0);
        for (int i = 0; i < 2 * (T + 1); i++) x1[i] = x2[i] = (int32_t)rng_below(&r, (uint32_t)V);
        int w = 7;
        for (int s = 0; s < 2; s++)
            for (int j = w + 1; j <= T; j++) x2[s * (T + 1) + j] = (int32_t)rng_below(&r, (uint32_t)V);
        Batch b1 = {.B = 2, .micro = 2, .tokens = x1, .shuffle_seed = 1}, b2 = b1;
        b2.tokens = x2;
        Losses l;
        real *lg1 = malloc(sizeof(real) * 2 * T * V);
        int32_t *tk1 = malloc(sizeof(int32_t) * 2 * T * K);
        model_forward(m, &b1, NULL, &l);
        memcpy(lg1, m->logits, sizeof(real) * 2 * T * V);
        memcpy(tk1, m->blocks[L - 1].topk, sizeof(int32_t) * 2 * T * K);
        model_forward(m, &b2, NULL, &l);
        int same = 1, differ = 0;
        for (int s = 0; s < 2; s++) {
            same &= memcmp(lg1 + (size_t)s * T * V, m->logits + (size_t)s * T * V, sizeof(real) * (w + 1) * V) == 0;
            same &= memcmp(tk1 + (size_t)s * T * K, m->blocks[L - 1].topk + (size_t)s * T * K, sizeof(int32_t) * (w + 1) * K) == 0;
            differ |= memcmp(lg1 + ((size_t)s * T + w + 1) * V, m->logits + ((size_t)s * T + w + 1) * V,
                             sizeof(real) * (T - w - 1) * V) != 0;
        }
        CHECK_MSG(same, "logits or routes at positions <= %d changed with the tokens after them", w);
        CHECK(differ);  // non-vacuous: the later positions did change
        free(lg1); free(tk1);
    }

    // the restarting window with keep = T is the exact sliding window of the last T tokens
    g.prompts = 4;
    g.tokens = 2 * T + 3;
    g.keep = T;
    GenPrompts pw;
    CHECK_MSG(gen_prompts(&pw, &g, &t.c, err, sizeof err) == 0, "%s", err);
    if (run_gen(&o, m, &pw, &g) == 0) {
        int32_t *ref = malloc(sizeof(int32_t) * o.len);
        int same = 0, total = 0;
        for (int r = 0; r < o.rows; r++) {
            reference_window(m, pw.tokens + (size_t)r * pw.n, pw.n, g.tokens, ref);
            for (int j = pw.n; j < o.len; j++) { same += ref[j] == o.tokens[(size_t)r * o.len + j]; total++; }
        }
        printf("keep = T: %d/%d tokens equal recomputing the last T tokens at every step\n", same, total);
        CHECK(same == total);
        free(ref);
        gen_output_free(&o);
    }
    // the default window (keep = T/2) runs past seq_len and every position gets its routing
    g.keep = 0;
    g.tokens = 3 * T;
    if (run_gen(&o, m, &pw, &g) == 0) {
        int valid = 1;
        for (size_t i = 0; i < (size_t)o.rows * L * o.len; i++) {
            valid &= o.confidence[i] >= 1.0f / E - 1e-6f && o.confidence[i] <= 1.0f;
            for (int k = 0; k < K; k++) valid &= o.routes[i * K + k] >= 0 && o.routes[i * K + k] < E;
            valid &= K < 2 || o.routes[i * K] != o.routes[i * K + 1];
        }
        CHECK(valid);
        gen_output_free(&o);
    }
    gen_prompts_free(&pw);
    gen_prompts_free(&pg);
    gen_prompts_free(&p);
    trained_free(&t);
}

// ---- diversity of several samples, and repeated prompts, by hand ------------------------------------

static void test_diversity(void) {
    // 4 samples of len 5, continuations from position 2
    const int32_t rows[4 * 5] = {9, 9, 1, 2, 3,
                                 9, 9, 1, 2, 3,   // the same continuation as row 0
                                 9, 9, 1, 5, 3,
                                 9, 9, 4, 6, 3};
    int32_t scratch[4];
    Diversity d;
    diversity_of(&d, rows, 4, 5, 2, scratch);
    CHECK(d.distinct == 3);
    // position 2: {1,1,1,4}; 3: {2,2,5,6}; 4: {3,3,3,3}
    double h2 = -(0.75 * log(0.75) + 0.25 * log(0.25)), h3 = -(0.5 * log(0.5) + 2 * 0.25 * log(0.25));
    CHECK_NEAR(d.entropy, (h2 + h3 + 0) / 3, 1e-12, 0);
    CHECK_NEAR(d.share, (2.0 / 4 + 3.0 / 4 + 1.0 / 4) / 3, 1e-12, 0);
    diversity_of(&d, rows, 2, 5, 2, scratch);  // rows 0 and 1 alone: collapsed
    CHECK(d.distinct == 1 && d.entropy == 0 && d.share == 0.5);
    diversity_of(&d, rows, 4, 5, 5, scratch);  // no continuation
    CHECK(d.distinct == 1 && d.entropy == 0 && d.share == 0);
    // gen_repeat_rows: 2 rows of 3, 3 copies
    const int32_t in[6] = {1, 2, 3, 4, 5, 6};
    int32_t out[18], want[18] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6};
    gen_repeat_rows(out, in, 2, 3, 3);
    CHECK(memcmp(out, want, sizeof out) == 0);
}

// ---- sampling ------------------------------------------------------------------------------------

static void test_sample(void) {
    enum { V = 6 };
    GenPick pk[V];
    Rng r;
    rng_seed(&r, 3, 0);
    real tie[V] = {0.5f, 2, -1, 2, 0, 1};
    CHECK(gen_sample(tie, V, 0, 1, &r, pk) == 1);            // greedy: ties to the lower index
    real lg[V] = {1, 3, 0.5f, 2, -1, 2.5f};
    CHECK(gen_sample(lg, V, 0, 0.3, &r, pk) == 1);
    CHECK(gen_sample(lg, V, 1, 1e-9, &r, pk) == 1);          // the nucleus holds the argmax alone
    CHECK(gen_sample(lg, V, 1e-6, 1, &r, pk) == 1);          // a tiny temperature is greedy
    // temperature 1, top-p 1: frequencies follow softmax(logits)
    double p[V], s = 0;
    for (int v = 0; v < V; v++) s += p[v] = exp(lg[v]);
    int count[V] = {0}, n = 20000;
    for (int i = 0; i < n; i++) count[gen_sample(lg, V, 1, 1, &r, pk)]++;
    for (int v = 0; v < V; v++) CHECK_NEAR((double)count[v] / n, p[v] / s, 0.015, 0);
    // top-p 0.8: the nucleus is {1, 5, 3} (mass 0.47 + 0.28 + 0.17 >= 0.8), renormalized
    int in = 0, c1 = 0;
    for (int i = 0; i < n; i++) {
        int v = gen_sample(lg, V, 1, 0.8, &r, pk);
        in += v == 1 || v == 5 || v == 3;
        c1 += v == 1;
    }
    CHECK(in == n);
    CHECK_NEAR((double)c1 / n, p[1] / (p[1] + p[5] + p[3]), 0.015, 0);
    // the row seeds differ by row and by seed
    CHECK(gen_row_seed(1, 0) != gen_row_seed(1, 1));
    CHECK(gen_row_seed(1, 1) != gen_row_seed(2, 0));
}

// ---- bad settings, bad prompt files, the files written -------------------------------------------

static char tmpdir[256];

static void expect_error(int rc, const char *err, const char *needle) {
    CHECK_MSG(rc != 0 && strstr(err, needle), "expected an error naming '%s', got rc %d: %s", needle, rc, err);
}

static void test_bad_input_and_files(void) {
    char err[512] = "";
    GenArgs a;
    gen_args_defaults(&a);
    CHECK(gen_check_args(&a, err, sizeof err) == 0);
    a.temperature = -0.5; expect_error(gen_check_args(&a, err, sizeof err), err, "--temperature");
    a.temperature = NAN; expect_error(gen_check_args(&a, err, sizeof err), err, "--temperature");
    gen_args_defaults(&a); a.samples = 0; expect_error(gen_check_args(&a, err, sizeof err), err, "--samples");
    gen_args_defaults(&a); a.tokens = 0; expect_error(gen_check_args(&a, err, sizeof err), err, "--tokens");
    gen_args_defaults(&a); a.prompt_domain = 1; a.prompt_file = "x.npy";
    expect_error(gen_check_args(&a, err, sizeof err), err, "--prompt-domain");

    Config c;
    small_model(&c);
    set(&c, "data.world", "\"domains\"");
    set(&c, "data.shared_vocab", "8");
    GenPrompts p;
    gen_args_defaults(&a); a.prompt_len = 17;
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "model.seq_len = 16");
    gen_args_defaults(&a); a.prompt_domain = 4;
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "--prompt-domain 4");
    gen_args_defaults(&a); a.prompts = 17;   // 4 domains x 4 sequences
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "16 sequences");
    // one domain's stream extends past eval.sequences, and its first sequences are the run's own
    gen_args_defaults(&a); a.prompt_domain = 2; a.prompts = 10; a.prompt_len = 3;
    CHECK_MSG(gen_prompts(&p, &a, &c, err, sizeof err) == 0, "%s", err);
    GenPrompts q;
    GenArgs b;
    gen_args_defaults(&b); b.prompt_len = 3;
    CHECK_MSG(gen_prompts(&q, &b, &c, err, sizeof err) == 0, "%s", err);
    if (p.N == 10 && q.N == 16) {
        CHECK(memcmp(p.tokens, q.tokens + 2 * 4 * 3, sizeof(int32_t) * 4 * 3) == 0);
        CHECK(p.domain[9] == 2 && q.domain[0] == 0 && q.domain[15] == 3);
    }
    gen_prompts_free(&p);
    gen_prompts_free(&q);

    // --duplicate k: every prompt its first n tokens k whole times; k x n over seq_len refused
    gen_args_defaults(&a); a.prompt_len = 5; a.prompts = 6; a.duplicate = 3;
    gen_args_defaults(&b); b.prompt_len = 5; b.prompts = 6;
    CHECK_MSG(gen_prompts(&p, &a, &c, err, sizeof err) == 0, "%s", err);
    CHECK_MSG(gen_prompts(&q, &b, &c, err, sizeof err) == 0, "%s", err);
    CHECK(p.n == 15 && p.content == 5 && p.N == 6 && q.n == 5 && q.content == 5);
    if (p.n == 15 && q.n == 5) {
        int same = 1;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 15; j++) same &= p.tokens[i * 15 + j] == q.tokens[i * 5 + j % 5];
        CHECK(same);
        CHECK(p.domain[5] == q.domain[5]);
    }
    gen_prompts_free(&p);
    gen_prompts_free(&q);
    a.duplicate = 4;  // 20 > 16
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "--duplicate 4 copies of prompts of 5 tokens need 20 positions");
    gen_args_defaults(&a); a.duplicate = 0;
    expect_error(gen_check_args(&a, err, sizeof err), err, "--duplicate 0");

    // prompt files: shape, dtype and range are checked, and the file is named
    char f[600];
    snprintf(f, sizeof f, "%s/prompts.npy", tmpdir);
    int32_t good[6] = {1, 2, 3, 4, 5, 31};
    size_t sh2[2] = {2, 3}, sh1[1] = {6};
    CHECK(npy_write(f, "<i4", good, 2, sh2) == 0);
    gen_args_defaults(&a); a.prompt_file = f;
    CHECK_MSG(gen_prompts(&p, &a, &c, err, sizeof err) == 0, "%s", err);
    CHECK(p.N == 2 && p.n == 3 && p.tokens[5] == 31 && p.domain[1] == -1);
    gen_prompts_free(&p);
    a.prompt_len = 4; expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "--prompt-len 4");
    int32_t bad[6] = {1, 2, 3, 4, 32, 0};
    CHECK(npy_write(f, "<i4", bad, 2, sh2) == 0);
    gen_args_defaults(&a); a.prompt_file = f;
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "row 1, column 1 holds token 32");
    CHECK(strstr(err, f) != NULL);
    CHECK(npy_write(f, "<i4", good, 1, sh1) == 0);
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "2-D");
    size_t sh0[2] = {0, 3};  // the right dimensions, no prompt: not "got 2 dimensions"
    CHECK(npy_write(f, "<i4", good, 2, sh0) == 0);
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "0 prompts of 3 tokens");
    float fl[6] = {0};
    CHECK(npy_write(f, "<f4", fl, 2, sh2) == 0);
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "prompts.npy");
    a.prompt_file = "/nonexistent/p.npy";
    expect_error(gen_prompts(&p, &a, &c, err, sizeof err), err, "/nonexistent/p.npy");

    // the files: shapes numpy reads, generate.json last; a failed write names the file and why
    Model m;
    ModelSpec ms;
    model_spec_from_config(&ms, &c);
    CHECK_MSG(model_build(&m, &ms, err, sizeof err) == 0, "%s", err);
    model_init_params(&m, 1, 0.02, 0);
    gen_args_defaults(&a); a.prompts = 3; a.samples = 2; a.prompt_len = 4; a.tokens = 5;
    char out[600];
    snprintf(out, sizeof out, "%s/gen", tmpdir);
    a.out = out;
    a.run_dir = "some/run";
    CHECK(mkdir_p(out) == 0);
    CHECK_MSG(gen_prompts(&p, &a, &c, err, sizeof err) == 0, "%s", err);
    GenOutput o;
    if (run_gen(&o, &m, &p, &a) == 0) {
        CHECK_MSG(gen_write(&o, &p, &a, &c, 123, err, sizeof err) == 0, "%s", err);
        char path[700];
        int32_t *d = NULL;
        float *fd = NULL;
        int nd;
        size_t sh[3];
        CHECK(npy_read_int32(path_join(path, sizeof path, out, "tokens.npy"), &d, &nd, sh, err, sizeof err) == 0);
        CHECK(nd == 2 && sh[0] == 6 && sh[1] == 9);
        CHECK(d && memcmp(d, o.tokens, sizeof(int32_t) * 6 * 9) == 0);
        free(d);
        CHECK(npy_read_float(path_join(path, sizeof path, out, "confidence.npy"), &fd, &nd, sh, err, sizeof err) == 0);
        CHECK(nd == 3 && sh[0] == 6 && (int)sh[1] == m.spec.L && sh[2] == 9);
        free(fd);
        char *json = read_text_file(path_join(path, sizeof path, out, "generate.json"));
        CHECK(json && strstr(json, "\"prompt_len\": 4") && strstr(json, "\"model_step\": 123"));
        CHECK(json && strstr(json, "{\"row\": 5, \"prompt\": 2, \"sample\": 1, \"domain\": 0, \"seed\": "));
        CHECK(json && strstr(json, "\"diversity\": {\"samples\": 2, \"distinct_continuations\": "));
        free(json);
        // diversity.csv: prompt 1's row from its two samples' continuations (columns 4..8), by hand
        char *csv = read_text_file(path_join(path, sizeof path, out, "diversity.csv"));
        const int32_t *r0 = o.tokens + 2 * 9, *r1 = o.tokens + 3 * 9;
        int agree = 0;
        for (int t = 4; t < 9; t++) agree += r0[t] == r1[t];
        char want[200];
        snprintf(want, sizeof want, "\n1,0,2,%d,%.6f,%.6f\n", memcmp(r0 + 4, r1 + 4, 5 * sizeof *r0) ? 2 : 1,
                 (5 - agree) * log(2.0) / 5, (agree + 2.0 * (5 - agree)) / 10);
        CHECK_MSG(csv && strstr(csv, "prompt,domain,samples,distinct_continuations,entropy_mean,distinct_share_mean\n0,0,2,")
                  && strstr(csv, want), "diversity.csv lacks %s", want);
        free(csv);
        // a folder that cannot be made, and a file that cannot be written: named, with the reason
        char bad_out[700], blocker[800];
        snprintf(bad_out, sizeof bad_out, "%s/generate.json/sub", out);
        a.out = bad_out;
        expect_error(gen_write(&o, &p, &a, &c, 0, err, sizeof err), err, "generate.json/sub: Not a directory");
        snprintf(blocker, sizeof blocker, "%s/routes.npy.tmp.%ld", out, (long)getpid());
        CHECK(mkdir_p(blocker) == 0);
        a.out = out;
        expect_error(gen_write(&o, &p, &a, &c, 0, err, sizeof err), err, "routes.npy: Is a directory");
        rmdir(blocker);
        gen_output_free(&o);
    }
    gen_prompts_free(&p);
    model_free(&m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/moesim_test_generate.%ld", (long)getpid());
    CHECK(mkdir_p(tmpdir) == 0);
    test_sample();
    test_diversity();
    test_bad_input_and_files();
    test_cyclic();
    test_domains();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary("test_generate");
}
