// test_world.c — the synthetic worlds: build errors, chain structure, transition statistics of long
// samples against the exact probabilities, batch composition, determinism, the evaluation set and
// its transforms (eval.duplicate in both forms), the cyclic world, and the geometry world's moments.
//
// Statistical checks use a fixed seed (so they are deterministic) and bounds of 5 standard
// deviations, or a chi-square z-score below 5; each statistical check is paired with a wrong model
// that the same bound must reject, so the check can fail.
// covers: sim/worlds/world.c sim/worlds/domains.c sim/worlds/geometry.c sim/worlds/cyclic.c
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "../sim/worlds/world.h"

// The domains world of issue 6's reference run: V = 64 shared + 8 private blocks of 24.
static WorldSpec domains_spec(void) {
    WorldSpec s;
    memset(&s, 0, sizeof s);
    s.kind = WORLD_DOMAINS; s.V = 256; s.T = 32; s.domains = 8; s.mix = MIX_MIXED; s.seed = 7;
    s.shared_vocab = 64; s.shared_prob = 0.5; s.branching = 4; s.zipf = 1.0; s.order = 1;
    s.eval_sequences = 16; s.eval_duplicate = 1; s.eval_transform = TRANSFORM_NONE;
    return s;
}

static WorldSpec geometry_spec(void) {
    WorldSpec s;
    memset(&s, 0, sizeof s);
    s.kind = WORLD_GEOMETRY; s.D = 8; s.domains = 4; s.T = 1; s.seed = 11;
    s.shared_norm = 8; s.cluster_norm = 3; s.noise = 0.7; s.task = TASK_CLUSTER; s.E = 3;
    s.eval_sequences = 50;
    return s;
}

static int all_in_range(const int32_t *x, size_t n, int V) {
    for (size_t i = 0; i < n; i++) if (x[i] < 0 || x[i] >= V) return 0;
    return 1;
}

// 1 if every token of the sequence may come from domain d (shared or d's private block).
static int tokens_of_domain(const World *w, const int32_t *x, int L, int d) {
    for (int t = 0; t < L; t++) {
        int o = world_token_owner(w, x[t]);
        if (o != -1 && o != d) return 0;
    }
    return 1;
}

static int build_ok(World *w, const WorldSpec *s) {
    char err[512];
    int rc = world_build(w, s, err, sizeof err);
    CHECK_MSG(rc == 0, "world_build: %s", err);
    return rc == 0;
}

// Expects world_build to fail with a message containing `needle`.
static void expect_error(WorldSpec s, const char *needle) {
    World w;
    char err[512];
    int rc = world_build(&w, &s, err, sizeof err);
    CHECK_MSG(rc == -1 && strstr(err, needle) != NULL, "wanted an error naming %s, got rc %d: \"%s\"",
              needle, rc, err);
    CHECK(w.succ == NULL && w.mu == NULL && w.centres == NULL);  // a failed build holds nothing
    world_free(&w);  // and may still be freed
}

static void test_build_errors(void) {
    WorldSpec s = domains_spec();
    s.shared_vocab = 250;  // 6 tokens for 8 domains
    expect_error(s, "data.shared_vocab");
    s = domains_spec(); s.shared_vocab = 300;
    expect_error(s, "data.shared_vocab");
    s = domains_spec(); s.V = 16; s.shared_vocab = 4; s.domains = 2; s.branching = 11;  // reach 4 + 6
    expect_error(s, "data.branching");
    s = domains_spec(); s.shared_prob = 0.0; s.branching = 25;  // only the 24 private tokens
    expect_error(s, "data.branching");
    s = domains_spec(); s.shared_vocab = 0;  // shared_prob 0.5 with nothing shared
    expect_error(s, "data.shared_prob");
    s = domains_spec(); s.shared_prob = 1.5;
    expect_error(s, "data.shared_prob");
    s = domains_spec(); s.order = 3;
    expect_error(s, "data.order");
    s = domains_spec(); s.zipf = -1;
    expect_error(s, "data.zipf");
    s = domains_spec(); s.V = 65536; s.order = 2; s.domains = 1;  // 65472^2 states
    expect_error(s, "data.order");
    s = domains_spec(); s.eval_sequences = 0;
    expect_error(s, "eval.sequences");
    s = domains_spec(); s.eval_duplicate = 0;
    expect_error(s, "eval.duplicate");
    s = domains_spec(); s.eval_content = 1;
    expect_error(s, "eval.duplicate_content");
    s = domains_spec(); s.eval_content = 8; s.eval_duplicate = 5;  // 40 positions > T = 32
    expect_error(s, "model.seq_len");
    s = domains_spec(); s.eval_content = 8; s.eval_duplicate = 4; s.eval_transform = TRANSFORM_SHUFFLE;
    expect_error(s, "eval.transform");
    s = domains_spec(); s.domains = 0;
    expect_error(s, "data.domains");
    s = domains_spec(); s.kind = WORLD_CYCLIC; s.V = 5; s.domains = 6;
    expect_error(s, "data.domains");
    s = geometry_spec(); s.D = 0;
    expect_error(s, "model.d_model");
    s = geometry_spec(); s.noise = -1;
    expect_error(s, "data.noise");
    s = geometry_spec(); s.E = 0;
    expect_error(s, "model.experts");

    // The boundary cases just inside the limits build.
    World w;
    s = domains_spec(); s.V = 16; s.shared_vocab = 4; s.domains = 2; s.branching = 10;
    if (build_ok(&w, &s)) {  // every state then uses every token of its domain exactly once
        int ok = 1;
        for (int d = 0; d < 2; d++)
            for (int st = 0; st < w.states; st++) {
                int seen[16] = {0};
                for (int j = 0; j < 10; j++) seen[w.succ[((size_t)d * w.states + st) * 10 + j]]++;
                int32_t tok[16];
                int A = world_domain_tokens(&w, d, tok);
                for (int i = 0; i < A; i++) ok &= seen[tok[i]] == 1;
            }
        CHECK(ok);
        world_free(&w);
    }
    s = domains_spec(); s.shared_vocab = 256 - 8;  // private blocks of exactly 1 token
    if (build_ok(&w, &s)) { CHECK(w.P == 1); world_free(&w); }
}

// Probability that the alias table picks slot j, computed from the table itself.
static void alias_implied(const World *w, double *q /* b */) {
    int b = w->spec.branching;
    for (int j = 0; j < b; j++) q[j] = 0;
    for (int j = 0; j < b; j++) {
        q[j] += w->alias_p[j] / b;
        q[w->alias_j[j]] += (1.0 - w->alias_p[j]) / b;
    }
}

static void test_structure(void) {
    WorldSpec s = domains_spec();
    s.V = 261;  // 5 leftover tokens
    World w;
    if (!build_ok(&w, &s)) return;
    CHECK(w.S == 64 && w.P == 24 && w.A == 88 && w.states == 88);
    CHECK(world_token_owner(&w, 0) == -1 && world_token_owner(&w, 63) == -1);
    CHECK(world_token_owner(&w, 64) == 0 && world_token_owner(&w, 87) == 0 && world_token_owner(&w, 88) == 1);
    CHECK(world_token_owner(&w, 255) == 7 && world_token_owner(&w, 256) == -2 && world_token_owner(&w, 260) == -2);
    int32_t tok[88];
    CHECK(world_domain_tokens(&w, 3, tok) == 88 && tok[63] == 63 && tok[64] == 64 + 3 * 24 && tok[87] == 64 + 4 * 24 - 1);

    // Zipf weights and the alias table that samples them.
    for (int j = 0; j < 4; j++) CHECK_NEAR(w.slot_w[j] / w.slot_w[0], 1.0 / (j + 1), 1e-12, 0);
    double q[16];
    alias_implied(&w, q);
    for (int j = 0; j < 4; j++) CHECK_NEAR(q[j], w.slot_w[j], 1e-12, 0);

    // Successors: distinct, inside the domain; transitions sum to 1 over the domain, 0 outside.
    int distinct = 1, inside = 1;
    long shared_slots = 0, total_slots = 0;
    double worst_sum = 0, outside_mass = 0;
    for (int d = 0; d < 8; d++) {
        world_domain_tokens(&w, d, tok);
        for (int st = 0; st < w.states; st++) {
            const int32_t *o = w.succ + ((size_t)d * w.states + st) * 4;
            for (int j = 0; j < 4; j++) {
                for (int i = 0; i < j; i++) distinct &= o[i] != o[j];
                int own = world_token_owner(&w, o[j]);
                inside &= own == -1 || own == d;
                shared_slots += o[j] < 64;
                total_slots++;
            }
            double sum = 0;
            for (int to = 0; to < 261; to++) {
                double p = world_transition(&w, d, tok[st], to);
                int own = world_token_owner(&w, to);
                if (own == -1 || own == d) sum += p; else outside_mass += p;
            }
            if (fabs(sum - 1) > worst_sum) worst_sum = fabs(sum - 1);
        }
    }
    CHECK(distinct);
    CHECK(inside);
    CHECK_NEAR(worst_sum, 0, 1e-12, 0);
    CHECK(outside_mass == 0);
    // Share of slots in the shared block ~ Binomial(2816, 0.5)/2816: 5 sd = 0.047.
    CHECK_NEAR((double)shared_slots / total_slots, 0.5, 5 * sqrt(0.25 / total_slots), 0);
    CHECK(world_transition(&w, 0, 64 + 24, 0) == 0.0);   // a token of domain 1 is no state of 0
    CHECK(world_transition(&w, 8, 0, 0) == -1.0);        // no domain 8
    CHECK(world_transition2(&w, 0, 0, 0, 0) == -1.0);    // wrong order
    CHECK_NEAR(world_start_prob(&w, 2, 64 + 2 * 24 + 5), 1.0 / 24, 1e-15, 0);
    CHECK(world_start_prob(&w, 2, 5) == 0 && world_start_prob(&w, 2, 64) == 0);
    world_free(&w);

    // Another shape for the alias table: 7 slots, zipf 1.3, extreme shares.
    s = domains_spec(); s.branching = 7; s.zipf = 1.3; s.shared_prob = 1.0;
    if (build_ok(&w, &s)) {
        alias_implied(&w, q);
        double z = 0;
        for (int j = 0; j < 7; j++) z += pow(j + 1.0, -1.3);
        for (int j = 0; j < 7; j++) CHECK_NEAR(q[j], pow(j + 1.0, -1.3) / z, 1e-12, 0);
        int only_shared = 1;
        for (size_t i = 0; i < (size_t)8 * w.states * 7; i++) only_shared &= w.succ[i] < 64;
        CHECK(only_shared);
        world_free(&w);
    }
    s = domains_spec(); s.shared_prob = 0.0; s.zipf = 0.0;
    if (build_ok(&w, &s)) {
        int only_private = 1;
        for (int d = 0; d < 8; d++)
            for (size_t i = 0; i < (size_t)w.states * 4; i++)
                only_private &= world_token_owner(&w, w.succ[(size_t)d * w.states * 4 + i]) == d;
        CHECK(only_private);
        for (int j = 0; j < 4; j++) CHECK_NEAR(w.slot_w[j], 0.25, 1e-15, 0);
        world_free(&w);
    }
}

// Pearson statistic of one state's counts over its slots: exact model p and a wrong one pw.
typedef struct { double chi2, chi2_wrong, df, max_z; long n, impossible; } Fit;

static void fit_state(Fit *f, int b, const long *c /* b */, long n, const double *p /* b */,
                      const double *pw /* b */) {
    if (n == 0) return;
    long in_slots = 0;
    for (int j = 0; j < b; j++) {
        double e = n * p[j], ew = n * pw[j];
        f->chi2 += (c[j] - e) * (c[j] - e) / e;
        f->chi2_wrong += (c[j] - ew) * (c[j] - ew) / ew;
        if (e * (1 - p[j]) >= 20) {  // normal approximation of one cell
            double z = fabs(c[j] - e) / sqrt(e * (1 - p[j]));
            if (z > f->max_z) f->max_z = z;
        }
        in_slots += c[j];
    }
    f->df += b - 1;
    f->n += n;
    f->impossible += n - in_slots;  // transitions to a token the state has no slot for
}

// The Pearson statistic has mean df and variance ~2 df (plus a small term for sparse cells):
// z = (chi2 - df) / sqrt(2 df) below 5 accepts the model; the wrong model must be far above.
static void check_fit(const Fit *f, const char *what) {
    double z = (f->chi2 - f->df) / sqrt(2 * f->df), zw = (f->chi2_wrong - f->df) / sqrt(2 * f->df);
    CHECK_MSG(f->n > 100000, "%s: only %ld transitions", what, f->n);
    CHECK_MSG(f->impossible == 0, "%s: %ld transitions the chain cannot make", what, f->impossible);
    CHECK_MSG(z < 5, "%s: chi2 %.1f on %.0f df, z = %.2f", what, f->chi2, f->df, z);
    CHECK_MSG(f->max_z < 5.5, "%s: a cell is %.2f sd from its expectation", what, f->max_z);
    CHECK_MSG(zw > 50, "%s: the wrong model is not rejected (z = %.1f): the check has no power", what, zw);
}

static void test_markov_order1(void) {
    WorldSpec s = domains_spec();
    World w;
    if (!build_ok(&w, &s)) return;
    const int B = 64, L = 33, V = 256, b = 4, steps = 400;
    int32_t *tokens = malloc(sizeof *tokens * B * L), domain[64];
    long *cnt = calloc((size_t)8 * V * V, sizeof *cnt);      // 8 x V x V  (domain, from, to)
    long start[8][256] = {{0}}, dom_count[8] = {0};
    Rng rng;
    rng_seed(&rng, 123, 0);
    int in_range = 1, consistent = 1;
    for (int step = 0; step < steps; step++) {
        world_train_batch(&w, &rng, B, 4, tokens, domain);
        in_range &= all_in_range(tokens, (size_t)B * L, V);
        for (int i = 0; i < B; i++) {
            const int32_t *x = tokens + (size_t)i * L;
            int d = domain[i];
            consistent &= tokens_of_domain(&w, x, L, d);
            dom_count[d]++;
            start[d][x[0]]++;
            for (int t = 0; t + 1 < L; t++) cnt[((size_t)d * V + x[t]) * V + x[t + 1]]++;
        }
    }
    CHECK(in_range);
    CHECK(consistent);

    // Transitions: exact probabilities from world_transition; the wrong model reverses the Zipf
    // weights over the slots (what a sampler that ignored the slot order would produce).
    Fit f = {0};
    int api_matches = 1;
    int32_t tok[88];
    for (int d = 0; d < 8; d++) {
        world_domain_tokens(&w, d, tok);
        for (int st = 0; st < w.A; st++) {
            const int32_t *o = w.succ + ((size_t)d * w.states + st) * b;
            long c[4], n = 0;
            double p[4], pw[4];
            for (int to = 0; to < V; to++) n += cnt[((size_t)d * V + tok[st]) * V + to];
            for (int j = 0; j < b; j++) {
                c[j] = cnt[((size_t)d * V + tok[st]) * V + o[j]];
                p[j] = world_transition(&w, d, tok[st], o[j]);
                pw[j] = w.slot_w[b - 1 - j];
                api_matches &= p[j] == w.slot_w[j];
            }
            fit_state(&f, b, c, n, p, pw);
        }
    }
    CHECK(api_matches);
    check_fit(&f, "order-1 transitions");

    // First tokens: uniform over the domain's private block; the wrong model puts them anywhere
    // in the domain's 88 tokens.
    double chi2 = 0, chi2w = 0, df = 0;
    long bad = 0;
    for (int d = 0; d < 8; d++) {
        world_domain_tokens(&w, d, tok);
        for (int i = 0; i < 88; i++) {
            double p = world_start_prob(&w, d, tok[i]), e = dom_count[d] * p, ew = dom_count[d] / 88.0;
            long c = start[d][tok[i]];
            if (p == 0) { bad += c; chi2w += (c - ew) * (c - ew) / ew; continue; }
            chi2 += (c - e) * (c - e) / e;
            chi2w += (c - ew) * (c - ew) / ew;
        }
        df += 23;
    }
    CHECK(bad == 0);
    CHECK_MSG((chi2 - df) / sqrt(2 * df) < 5, "start tokens: chi2 %.1f on %.0f df", chi2, df);
    CHECK((chi2w - 87 * 8) / sqrt(2 * 87 * 8.0) > 50);

    // Domains of mixed batches: uniform (chi-square on 7 df, threshold z < 5).
    double n_seq = (double)B * steps, chi2d = 0;
    for (int d = 0; d < 8; d++) chi2d += (dom_count[d] - n_seq / 8) * (dom_count[d] - n_seq / 8) / (n_seq / 8);
    CHECK_MSG((chi2d - 7) / sqrt(14) < 5, "domain draws: chi2 %.1f on 7 df", chi2d);

    free(tokens);
    free(cnt);
    world_free(&w);
}

static void test_markov_order2(void) {
    WorldSpec s = domains_spec();
    s.V = 40; s.shared_vocab = 8; s.domains = 2; s.order = 2; s.branching = 3; s.zipf = 0.7;
    s.shared_prob = 0.3; s.T = 40;
    World w;
    if (!build_ok(&w, &s)) return;
    const int V = 40, L = 41, b = 3, A = 24;
    CHECK(w.states == A * A);
    long *cnt = calloc((size_t)2 * V * V * V, sizeof *cnt);  // 2 x V x V x V  (domain, a, b, to)
    int32_t x[41];
    Rng rng;
    rng_seed(&rng, 99, 0);
    int in_range = 1;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 30000; i++) {
            world_sample_sequence(&w, &rng, d, x);
            in_range &= all_in_range(x, L, V);
            cnt[(((size_t)d * V + x[0]) * V + x[0]) * V + x[1]]++;  // the context of x1 is (x0, x0)
            for (int t = 0; t + 2 < L; t++) cnt[(((size_t)d * V + x[t]) * V + x[t + 1]) * V + x[t + 2]]++;
        }
    CHECK(in_range);
    // The wrong model reads the context in the wrong order, (b, a): a chain that kept only the
    // last token, or mixed up the pair, fails the same way.
    Fit f = {0};
    int32_t tok[24];
    for (int d = 0; d < 2; d++) {
        world_domain_tokens(&w, d, tok);
        for (int ia = 0; ia < A; ia++)
            for (int ib = 0; ib < A; ib++) {
                int a = tok[ia], bb = tok[ib];
                const long *row = cnt + (((size_t)d * V + a) * V + bb) * V;  // V
                const int32_t *o = w.succ + ((size_t)d * w.states + (size_t)ia * A + ib) * b;
                long c[3], n = 0;
                double p[3], pw[3];
                for (int to = 0; to < V; to++) n += row[to];
                for (int j = 0; j < b; j++) {
                    c[j] = row[o[j]];
                    p[j] = world_transition2(&w, d, a, bb, o[j]);
                    pw[j] = world_transition2(&w, d, bb, a, o[j]);
                    if (pw[j] < 1e-3) pw[j] = 1e-3;  // keep the wrong model's statistic finite
                }
                fit_state(&f, b, c, n, p, pw);
            }
    }
    check_fit(&f, "order-2 transitions");
    CHECK(world_transition(&w, 0, 0, 0) == -1.0);
    free(cnt);
    world_free(&w);
}

static int count_distinct(const int32_t *v, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= v[j] == v[i];
        k += !seen;
    }
    return k;
}

static void test_mix(void) {
    WorldSpec s = domains_spec();
    s.mix = MIX_HOMOGENEOUS;
    World w;
    if (!build_ok(&w, &s)) return;
    const int L = 33;
    int32_t *tokens = malloc(sizeof *tokens * 64 * L), domain[64];
    Rng rng;
    rng_seed(&rng, 5, 0);
    int homogeneous = 1, consistent = 1, mixed_batches = 0, seen[8] = {0};
    for (int step = 0; step < 50; step++) {
        world_train_batch(&w, &rng, 64, 4, tokens, domain);
        for (int i = 0; i < 64; i++) {
            homogeneous &= domain[i] == domain[i - i % 4];
            consistent &= tokens_of_domain(&w, tokens + (size_t)i * L, L, domain[i]);
            seen[domain[i]] = 1;
        }
        mixed_batches += count_distinct(domain, 64) > 1;  // micro-batches draw their own domains
    }
    CHECK(homogeneous);
    CHECK(consistent);
    CHECK(mixed_batches == 50);
    int all_seen = 1;
    for (int d = 0; d < 8; d++) all_seen &= seen[d];
    CHECK(all_seen);
    // micro 0: the whole batch is one group; micro 5 of 12: groups 0-4, 5-9, 10-11.
    int one = 1;
    for (int step = 0; step < 20; step++) {
        world_train_batch(&w, &rng, 64, 0, tokens, domain);
        one &= count_distinct(domain, 64) == 1;
    }
    CHECK(one);
    int groups = 1, split = 0;
    for (int step = 0; step < 50; step++) {
        world_train_batch(&w, &rng, 12, 5, tokens, domain);
        for (int i = 0; i < 12; i++) groups &= domain[i] == domain[i - i % 5];
        split += domain[9] != domain[10];
    }
    CHECK(groups);
    CHECK(split > 0);  // the partial last slice is its own group
    world_free(&w);

    // Mixed: every sequence draws its own domain, so micro-batches of 4 mix domains.
    s.mix = MIX_MIXED;
    if (!build_ok(&w, &s)) { free(tokens); return; }
    int mixed_micro = 0, many = 1;
    consistent = 1;
    for (int step = 0; step < 20; step++) {
        world_train_batch(&w, &rng, 64, 4, tokens, domain);
        for (int m = 0; m < 16; m++) mixed_micro += count_distinct(domain + 4 * m, 4) > 1;
        many &= count_distinct(domain, 64) >= 4;
        for (int i = 0; i < 64; i++) consistent &= tokens_of_domain(&w, tokens + (size_t)i * L, L, domain[i]);
    }
    CHECK(mixed_micro > 20 * 16 / 2);  // P(4 draws of 8 share one) = 1/512
    CHECK(many);
    CHECK(consistent);
    free(tokens);
    world_free(&w);
}

static void test_determinism(void) {
    WorldSpec s = domains_spec();
    World w1, w2;
    if (!build_ok(&w1, &s)) return;
    if (!build_ok(&w2, &s)) { world_free(&w1); return; }
    CHECK(memcmp(w1.succ, w2.succ, sizeof *w1.succ * 8 * w1.states * 4) == 0);
    const int n = 64 * 33;
    int32_t *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n), da[64], db[64];
    Rng r1, r2, r3;
    rng_seed(&r1, 42, 3); rng_seed(&r2, 42, 3); rng_seed(&r3, 43, 3);
    int same = 1, differ = 0;
    for (int step = 0; step < 10; step++) {
        world_train_batch(&w1, &r1, 64, 4, a, da);
        world_train_batch(&w2, &r2, 64, 4, b, db);
        same &= memcmp(a, b, sizeof *a * n) == 0 && memcmp(da, db, sizeof da) == 0;
        world_train_batch(&w1, &r3, 64, 4, b, db);
        differ += memcmp(a, b, sizeof *a * n) != 0;
    }
    CHECK(same);
    CHECK(differ == 10);
    world_free(&w2);
    s.seed = 8;  // another world
    if (build_ok(&w2, &s)) {
        CHECK(memcmp(w1.succ, w2.succ, sizeof *w1.succ * 8 * w1.states * 4) != 0);
        world_free(&w2);
    }
    free(a); free(b);
    world_free(&w1);
}

static int32_t *eval_of(const WorldSpec *s, int32_t *domain_out /* M or NULL */) {
    World w;
    if (!build_ok(&w, s)) return NULL;
    int M = world_eval_count(&w);
    int32_t *t = malloc(sizeof *t * (size_t)M * w.L), *d = malloc(sizeof *d * M);
    world_eval_set(&w, t, d);
    if (domain_out) memcpy(domain_out, d, sizeof *d * M);
    free(d);
    world_free(&w);
    return t;
}

static void test_eval_set(void) {
    WorldSpec s = domains_spec();
    World w;
    if (!build_ok(&w, &s)) return;
    const int M = world_eval_count(&w), L = 33;
    CHECK(M == 8 * 16);
    int32_t *e1 = malloc(sizeof *e1 * M * L), *e2 = malloc(sizeof *e2 * M * L);
    int32_t *batch = malloc(sizeof *batch * 64 * L), d1[128], d2[128], bd[64];
    world_eval_set(&w, e1, d1);
    Rng rng;  // training draws between two calls leave the set unchanged
    rng_seed(&rng, 1, 0);
    for (int i = 0; i < 5; i++) world_train_batch(&w, &rng, 64, 4, batch, bd);
    world_eval_set(&w, e2, d2);
    CHECK(memcmp(e1, e2, sizeof *e1 * M * L) == 0 && memcmp(d1, d2, sizeof d1) == 0);
    int labels = 1, legal = 1;
    for (int i = 0; i < M; i++) {
        labels &= d1[i] == i / 16;  // domain-major
        const int32_t *x = e1 + (size_t)i * L;
        legal &= world_start_prob(&w, d1[i], x[0]) > 0;
        for (int t = 0; t + 1 < L; t++) legal &= world_transition(&w, d1[i], x[t], x[t + 1]) > 0;
    }
    CHECK(labels);
    CHECK(legal);  // untransformed evaluation sequences are paths of their domain's chain
    CHECK(all_in_range(e1, (size_t)M * L, 256));

    int32_t *e3 = eval_of(&s, NULL);  // another build of the same world
    CHECK(e3 && memcmp(e1, e3, sizeof *e1 * M * L) == 0);
    free(e3);
    s.seed = 8;
    e3 = eval_of(&s, NULL);
    int differ = 0;
    for (int i = 0; e3 && i < M; i++) differ += memcmp(e1 + (size_t)i * L, e3 + (size_t)i * L, sizeof *e1 * L) != 0;
    CHECK(differ > M - 2);
    free(e3);
    // Prefix stability: 32 sequences per domain extend the 16.
    s = domains_spec(); s.eval_sequences = 32;
    e3 = eval_of(&s, NULL);
    int prefix = e3 != NULL;
    for (int d = 0; e3 && d < 8; d++)
        prefix &= memcmp(e3 + (size_t)d * 32 * L, e1 + (size_t)d * 16 * L, sizeof *e1 * 16 * L) == 0;
    CHECK(prefix);
    free(e3);
    free(e1); free(e2); free(batch);
    world_free(&w);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void test_transforms(void) {
    // The functions on hand-made arrays.
    int32_t x[10], want3[10] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1}, want2[10] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4};
    for (int i = 0; i < 10; i++) x[i] = i;
    world_duplicate(x, 10, 3);
    CHECK(memcmp(x, want3, sizeof x) == 0);
    for (int i = 0; i < 10; i++) x[i] = i;
    world_duplicate(x, 10, 2);
    CHECK(memcmp(x, want2, sizeof x) == 0);
    for (int i = 0; i < 10; i++) x[i] = i;
    world_duplicate(x, 10, 1);
    world_reverse(x, 9);
    CHECK(x[0] == 8 && x[4] == 4 && x[8] == 0 && x[9] == 9);
    world_reverse(x, 9);
    world_reverse(x, 10);
    CHECK(x[0] == 9 && x[5] == 4 && x[9] == 0);
    // Shuffle: always a permutation, and uniform: element 0 lands on each of 10 places equally.
    Rng rng;
    rng_seed(&rng, 3, 0);
    long where[10] = {0};
    int perm = 1;
    const int reps = 50000;
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < 10; i++) x[i] = i;
        world_shuffle(x, 10, &rng);
        int seen[10] = {0};
        for (int i = 0; i < 10; i++) { seen[x[i]]++; if (x[i] == 0) where[i]++; }
        for (int i = 0; i < 10; i++) perm &= seen[i] == 1;
    }
    CHECK(perm);
    double chi2 = 0, chi2w = 0;
    for (int i = 0; i < 10; i++) {
        chi2 += (where[i] - reps / 10.0) * (where[i] - reps / 10.0) / (reps / 10.0);
        double pw = i == 0 ? 0.2 : 0.8 / 9;  // a lazy shuffle that leaves element 0 in place twice as often
        chi2w += (where[i] - reps * pw) * (where[i] - reps * pw) / (reps * pw);
    }
    CHECK_MSG((chi2 - 9) / sqrt(18) < 5, "shuffle positions: chi2 %.1f on 9 df", chi2);
    CHECK((chi2w - 9) / sqrt(18) > 50);

    // The evaluation set under each transform, against the untransformed one.
    WorldSpec s = domains_spec();
    const int M = 128, L = 33;
    int32_t dom[128];
    int32_t *base = eval_of(&s, NULL);
    s.eval_transform = TRANSFORM_REVERSE;
    int32_t *rev = eval_of(&s, dom);
    s.eval_transform = TRANSFORM_SHUFFLE;
    int32_t *shuf = eval_of(&s, NULL), *shuf2 = eval_of(&s, NULL);
    s.eval_transform = TRANSFORM_NONE; s.eval_duplicate = 3;  // m = ceil(33/3) = 11: exactly 3 copies
    int32_t *dup3 = eval_of(&s, NULL);
    s.eval_duplicate = 4;  // m = 9: copies of 9, 9, 9 and 6 tokens
    int32_t *dup4 = eval_of(&s, NULL);
    s.eval_transform = TRANSFORM_REVERSE;
    int32_t *dup4r = eval_of(&s, NULL);
    s.eval_transform = TRANSFORM_NONE; s.eval_duplicate = 64;  // more copies than tokens: m = 1
    int32_t *dup64 = eval_of(&s, NULL);
    if (!base || !rev || !shuf || !shuf2 || !dup3 || !dup4 || !dup4r || !dup64) {
        CHECK(0);
    } else {
        int reversed = 1, permuted = 1, moved = 0, repeats = 1, base_varies = 0, rdup = 1, consts = 1;
        int labels = 1;
        for (int i = 0; i < M; i++) {
            const int32_t *b0 = base + (size_t)i * L, *r0 = rev + (size_t)i * L, *s0 = shuf + (size_t)i * L;
            const int32_t *d3 = dup3 + (size_t)i * L, *d4 = dup4 + (size_t)i * L, *d4r = dup4r + (size_t)i * L;
            labels &= dom[i] == i / 16;
            for (int t = 0; t < L; t++) {
                reversed &= r0[t] == b0[L - 1 - t];
                repeats &= d3[t] == b0[t % 11] && d4[t] == b0[t % 9];
                rdup &= d4r[t] == d4[L - 1 - t];
                consts &= dup64[(size_t)i * L + t] == b0[0];
            }
            int32_t u[33], v[33];
            memcpy(u, b0, sizeof u); memcpy(v, s0, sizeof v);
            qsort(u, 33, sizeof *u, cmp_i32); qsort(v, 33, sizeof *v, cmp_i32);
            permuted &= memcmp(u, v, sizeof u) == 0;
            moved += memcmp(b0, s0, sizeof *b0 * L) != 0;
            base_varies += count_distinct(b0, 11) > 1;  // so `repeats` is not satisfied by a constant
        }
        CHECK(labels);
        CHECK(reversed);
        CHECK(permuted);
        CHECK(moved == M);
        CHECK(memcmp(shuf, shuf2, sizeof *shuf * M * L) == 0);  // the shuffle is seeded by data.seed
        CHECK(repeats);
        CHECK(base_varies == M);
        CHECK(rdup);  // duplicate first, then the transform
        CHECK(consts);
    }
    free(base); free(rev); free(shuf); free(shuf2); free(dup3); free(dup4); free(dup4r); free(dup64);
}

// The paper's duplication (eval.duplicate_content = m): hand-made arrays, the measured window, and
// the evaluation set: every sequence is its own first m tokens repeated whole, whatever n.
static void test_repeat_content(void) {
    int32_t x[11], want[11] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2};
    for (int i = 0; i < 11; i++) x[i] = i;
    world_repeat(x, 11, 4);  // copies 0-3, 4-7, 8-10 (the third cut at L)
    CHECK(memcmp(x, want, sizeof x) == 0);
    for (int i = 0; i < 11; i++) x[i] = i;
    world_repeat(x, 11, 11);  // m = L: unchanged
    CHECK(x[0] == 0 && x[10] == 10);

    WorldSpec s = domains_spec();  // T = 32, L = 33
    World w;
    int from = -1, len = -1;
    if (build_ok(&w, &s)) { world_eval_window(&w, &from, &len); world_free(&w); }
    CHECK(from == 0 && len == 32);  // no content: all T positions
    s.eval_content = 8; s.eval_duplicate = 1;
    if (build_ok(&w, &s)) { world_eval_window(&w, &from, &len); world_free(&w); }
    CHECK(from == 0 && len == 8);
    s.eval_duplicate = 3;  // copies at 0-7, 8-15, 16-23: the third is measured
    if (build_ok(&w, &s)) { world_eval_window(&w, &from, &len); world_free(&w); }
    CHECK(from == 16 && len == 8);
    s.eval_duplicate = 4;  // n*m = T exactly: the last copy ends at position 31
    if (build_ok(&w, &s)) { world_eval_window(&w, &from, &len); world_free(&w); }
    CHECK(from == 24 && len == 8);

    const int M = 128, L = 33;
    s = domains_spec();
    int32_t *base = eval_of(&s, NULL);
    s.eval_content = 8; s.eval_duplicate = 1;
    int32_t *c1 = eval_of(&s, NULL);
    s.eval_duplicate = 4;
    int32_t *c4 = eval_of(&s, NULL);
    if (!base || !c1 || !c4) {
        CHECK(0);
    } else {
        int repeats = 1, varies = 0;
        for (int i = 0; i < M; i++)
            for (int t = 0; t < L; t++) repeats &= c1[(size_t)i * L + t] == base[(size_t)i * L + t % 8];
        for (int i = 0; i < M; i++) varies += count_distinct(base + (size_t)i * L, 8) > 1;
        CHECK(repeats);      // the content is the sequence's own first 8 tokens, repeated whole
        CHECK(varies == M);  // ... which are not one token (else `repeats` would say little)
        CHECK(memcmp(c1, c4, sizeof *c1 * M * L) == 0);  // n changes the measured copy, not the tokens
    }
    free(base); free(c1); free(c4);
}

static void test_cyclic(void) {
    WorldSpec s = domains_spec();
    s.kind = WORLD_CYCLIC; s.V = 20; s.domains = 3; s.T = 15;  // period 6, tokens 18 and 19 unused
    World w;
    if (!build_ok(&w, &s)) return;
    CHECK(w.period == 6);
    CHECK(world_token_owner(&w, 0) == 0 && world_token_owner(&w, 11) == 1 && world_token_owner(&w, 17) == 2);
    CHECK(world_token_owner(&w, 18) == -2);
    const int L = 16;
    int32_t tokens[32 * 16], domain[32];
    Rng rng;
    rng_seed(&rng, 2, 0);
    int follows = 1, owned = 1, starts[20] = {0};
    for (int step = 0; step < 50; step++) {
        world_train_batch(&w, &rng, 32, 0, tokens, domain);
        for (int i = 0; i < 32; i++) {
            const int32_t *x = tokens + i * L;
            int d = domain[i];
            starts[x[0]]++;
            for (int t = 0; t < L; t++) owned &= world_token_owner(&w, x[t]) == d;
            for (int t = 0; t + 1 < L; t++) follows &= x[t + 1] == d * 6 + (x[t] - d * 6 + 1) % 6;
        }
    }
    CHECK(follows);
    CHECK(owned);
    int all_starts = 1;
    for (int tok = 0; tok < 18; tok++) all_starts &= starts[tok] > 0;
    CHECK(all_starts && starts[18] == 0 && starts[19] == 0);
    int32_t e1[48 * 16], e2[48 * 16], ed[48];
    CHECK(world_eval_count(&w) == 48);
    world_eval_set(&w, e1, ed);
    world_eval_set(&w, e2, ed);
    CHECK(memcmp(e1, e2, sizeof e1) == 0);
    CHECK(ed[0] == 0 && ed[16] == 1 && ed[47] == 2);
    float h[8];
    int32_t tg[1], cl[1];
    CHECK(world_train_hidden(&w, &rng, 1, h, tg, cl) == -1);
    CHECK(world_eval_hidden(&w, h, tg, cl) == -1);
    world_free(&w);
}

static double norm_f(const float *v, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
    return sqrt(ss);
}

static void test_geometry(void) {
    WorldSpec s = geometry_spec();
    World w;
    if (!build_ok(&w, &s)) return;
    enum { D = 8, K = 4, N = 200000 };
    const double sd = 0.7;
    CHECK_NEAR(norm_f(w.mu, D), 8, 0, 1e-6);
    for (int k = 0; k < K; k++) CHECK_NEAR(norm_f(w.centres + k * D, D), 3, 0, 1e-6);
    float *h = malloc(sizeof *h * N * D);
    int32_t *tg = malloc(sizeof *tg * N), *cl = malloc(sizeof *cl * N);
    Rng rng;
    rng_seed(&rng, 77, 0);
    CHECK(world_train_hidden(&w, &rng, N, h, tg, cl) == 0);
    double mean[D] = {0}, cmean[K][D] = {{0}}, var = 0;
    long nk[K] = {0};
    int targets = 1;
    for (int n = 0; n < N; n++) {
        targets &= cl[n] >= 0 && cl[n] < K && tg[n] == cl[n] % 3;
        nk[cl[n]]++;
        for (int i = 0; i < D; i++) { mean[i] += h[n * D + i]; cmean[cl[n]][i] += h[n * D + i]; }
    }
    CHECK(targets);
    double chi2 = 0;
    for (int k = 0; k < K; k++) chi2 += (nk[k] - N / 4.0) * (nk[k] - N / 4.0) / (N / 4.0);
    CHECK_MSG((chi2 - 3) / sqrt(6) < 5, "cluster draws: chi2 %.1f on 3 df", chi2);
    // Mean over all points ≈ mu + mean of the centres: per coordinate the variance of a point is at
    // most noise² + cluster_norm², so 5 sd of the mean is 5 sqrt((0.49 + 9) / N) = 0.034.
    double tol_all = 5 * sqrt((sd * sd + 9.0) / N), worst = 0;
    for (int i = 0; i < D; i++) {
        double want = w.mu[i];
        for (int k = 0; k < K; k++) want += w.centres[k * D + i] / K;
        worst = fmax(worst, fabs(mean[i] / N - want));
    }
    CHECK_NEAR(worst, 0, tol_all, 0);
    // Per-cluster means ≈ mu + c_k (5 sd = 5 * 0.7 / sqrt(50000) = 0.016), then the pooled noise
    // variance ≈ noise² (relative sd sqrt(2 / (N D)), 5 sd = 0.56%).
    double worst_k = 0;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < D; i++) {
            cmean[k][i] /= nk[k];
            worst_k = fmax(worst_k, fabs(cmean[k][i] - w.mu[i] - w.centres[k * D + i]));
        }
    CHECK_NEAR(worst_k, 0, 5 * sd / sqrt(N / 4.0), 0);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++) {
            double e = h[n * D + i] - cmean[cl[n]][i];
            var += e * e;
        }
    var /= (double)(N - K) * D;
    CHECK_NEAR(var, sd * sd, 0, 5 * sqrt(2.0 / ((double)N * D)));

    // Determinism, and another train seed gives other points.
    float *h2 = malloc(sizeof *h2 * 1000 * D);
    int32_t tg2[1000], cl2[1000];
    rng_seed(&rng, 77, 0);
    world_train_hidden(&w, &rng, 1000, h2, tg2, cl2);
    CHECK(memcmp(h, h2, sizeof *h * 1000 * D) == 0 && memcmp(cl, cl2, sizeof cl2) == 0);
    rng_seed(&rng, 78, 0);
    world_train_hidden(&w, &rng, 1000, h2, tg2, cl2);
    CHECK(memcmp(h, h2, sizeof *h * 1000 * D) != 0);

    // Evaluation set: cluster-major, the same across calls and builds, another for another seed.
    const int M = world_eval_count(&w);
    CHECK(M == 200);
    float *e1 = malloc(sizeof *e1 * M * D), *e2 = malloc(sizeof *e2 * M * D);
    int32_t et[200], ec[200], et2[200], ec2[200];
    world_eval_hidden(&w, e1, et, ec);
    World w2;
    if (build_ok(&w2, &s)) {
        world_eval_hidden(&w2, e2, et2, ec2);
        CHECK(memcmp(e1, e2, sizeof *e1 * M * D) == 0 && memcmp(ec, ec2, sizeof ec) == 0);
        world_free(&w2);
    }
    int order = 1;
    for (int i = 0; i < M; i++) order &= ec[i] == i / 50 && et[i] == ec[i] % 3;
    CHECK(order);
    WorldSpec s2 = s;
    s2.seed = 12;
    if (build_ok(&w2, &s2)) {
        world_eval_hidden(&w2, e2, et2, ec2);
        CHECK(memcmp(e1, e2, sizeof *e1 * M * D) != 0);
        CHECK(memcmp(w.mu, w2.mu, sizeof *w.mu * D) != 0);
        world_free(&w2);
    }
    int32_t tokens[2], dom[1];
    CHECK(world_train_batch(&w, &rng, 1, 1, tokens, dom) == -1);
    CHECK(world_eval_set(&w, tokens, dom) == -1);
    world_free(&w);

    // Task none: no targets; noise 0: every point is exactly mu + c_k.
    s.task = TASK_NONE; s.noise = 0;
    if (build_ok(&w, &s)) {
        world_train_hidden(&w, &rng, 1000, h2, tg2, cl2);
        int none = 1, exact = 1;
        for (int n = 0; n < 1000; n++) {
            none &= tg2[n] == -1;
            for (int i = 0; i < D; i++)
                exact &= h2[n * D + i] == (float)((double)w.mu[i] + w.centres[cl2[n] * D + i]);
        }
        CHECK(none);
        CHECK(exact);
        world_free(&w);
    }
    free(h); free(tg); free(cl); free(h2); free(e1); free(e2);
}

// ---- copy training: data.repeat_prob = p, data.repeat_len = m (world_train_batch) ----
// The batches rebuilt by hand from the same stream (mixed: a domain draw, the sequence, then one
// uniform u only when p > 0; u < p makes the sequence its first m tokens repeated). Guards against
// p = 0 drawing anything (the batches of before the key would shift), against a copy that is not
// the sequence's own first m tokens (or repeats a wrong length), against a choice that is not the
// stream's u < p (or draws more), and against the knob reaching the evaluation set.
static void copy_batch_by_hand(const World *w, Rng *rng, int B, int32_t *x /* B x L */, int32_t *dom,
                               double p, int m, int *copies) {
    const int L = w->L;
    *copies = 0;
    for (int b = 0; b < B; b++) {
        dom[b] = (int)rng_below(rng, (uint32_t)w->domains);
        world_sample_sequence(w, rng, dom[b], x + (size_t)b * L);
        if (p > 0 && rng_uniform(rng) < p) {
            int32_t *y = x + (size_t)b * L;
            for (int i = m; i < L; i++) y[i] = y[i - m];  // written out: copy k is copy k-1
            (*copies)++;
        }
    }
}

static void test_copy_training(void) {
    WorldSpec s = domains_spec();  // mixed, T = 32, L = 33
    const int B = 64, L = 33, n = B * L;
    int32_t *a = malloc(sizeof *a * n), *h = malloc(sizeof *h * n), da[64], dh[64];
    World w;
    // build errors: m < 2, m > T, the geometry world; with p = 0, m is not looked at
    s.repeat_prob = 0.5; s.repeat_len = 1;
    expect_error(s, "data.repeat_len");
    s.repeat_len = 33;
    expect_error(s, "data.repeat_len");
    s.repeat_prob = 1.5; s.repeat_len = 8;
    expect_error(s, "data.repeat_prob");
    WorldSpec g = geometry_spec();
    g.repeat_prob = 0.5; g.repeat_len = 2;
    expect_error(g, "data.repeat_prob");
    s = domains_spec(); s.repeat_prob = 0; s.repeat_len = 0;
    if (build_ok(&w, &s)) world_free(&w);
    s.repeat_len = 32;  // m = T: allowed (one token of the second copy)
    s.repeat_prob = 1;
    if (build_ok(&w, &s)) world_free(&w);

    // p = 0: bit-identical to the stream without the key (no uniform drawn), step after step
    s = domains_spec(); s.repeat_len = 8;
    if (!build_ok(&w, &s)) { free(a); free(h); return; }
    Rng r1, r2;
    rng_seed(&r1, 5, 2); rng_seed(&r2, 5, 2);
    int same = 1, copies = 0;
    for (int step = 0; step < 3; step++) {
        world_train_batch(&w, &r1, B, 4, a, da);
        copy_batch_by_hand(&w, &r2, B, h, dh, 0, 8, &copies);
        same &= memcmp(a, h, sizeof *a * n) == 0 && memcmp(da, dh, sizeof da) == 0;
    }
    CHECK_MSG(same, "data.repeat_prob = 0 changed the training batches");
    CHECK(memcmp(r1.s, r2.s, sizeof r1.s) == 0);
    world_free(&w);

    // p = 1: every sequence is its own first 8 tokens repeated: checked by hand on sequence 0
    s.repeat_prob = 1;
    if (!build_ok(&w, &s)) { free(a); free(h); return; }
    rng_seed(&r1, 5, 2); rng_seed(&r2, 5, 2);
    world_train_batch(&w, &r1, B, 4, a, da);
    copy_batch_by_hand(&w, &r2, B, h, dh, 1, 8, &copies);
    CHECK(copies == B);
    CHECK_MSG(memcmp(a, h, sizeof *a * n) == 0 && memcmp(da, dh, sizeof da) == 0, "p = 1: not the hand-built copies");
    Rng r0;
    rng_seed(&r0, 5, 2);
    int32_t chain[33];
    int d0 = (int)rng_below(&r0, (uint32_t)w.domains);
    world_sample_sequence(&w, &r0, d0, chain);  // sequence 0 as the chain drew it
    int ok0 = da[0] == d0, periodic = 1, genuine_differs = 0;
    for (int i = 0; i < 8; i++) ok0 &= a[i] == chain[i];
    for (int i = 8; i < 33; i++) { ok0 &= a[i] == chain[i % 8]; genuine_differs |= chain[i] != chain[i % 8]; }
    for (int b = 0; b < B; b++)
        for (int i = 8; i < L; i++) periodic &= a[(size_t)b * L + i] == a[(size_t)b * L + i - 8];
    CHECK_MSG(ok0, "p = 1: sequence 0 is not its first 8 tokens (%d %d %d ...) repeated", chain[0], chain[1], chain[2]);
    CHECK(genuine_differs);  // the chain's own continuation was not already periodic
    CHECK(periodic);
    world_free(&w);

    // 0 < p < 1: the stream's u < p decides; about p of the sequences; the same for the same seed;
    // the evaluation set is the same as without the key
    s.repeat_prob = 0.3;
    if (!build_ok(&w, &s)) { free(a); free(h); return; }
    rng_seed(&r1, 6, 2); rng_seed(&r2, 6, 2);
    int total = 0, agree = 1;
    for (int step = 0; step < 20; step++) {
        world_train_batch(&w, &r1, B, 4, a, da);
        copy_batch_by_hand(&w, &r2, B, h, dh, 0.3, 8, &copies);
        agree &= memcmp(a, h, sizeof *a * n) == 0;
        total += copies;
    }
    CHECK(agree);
    double frac = total / (20.0 * B);  // sd sqrt(.3 * .7 / 1280) = 0.013
    CHECK_MSG(fabs(frac - 0.3) < 0.06, "p = 0.3: %.3f of the sequences are copies", frac);
    WorldSpec s0 = domains_spec();
    int32_t *e0 = eval_of(&s0, NULL), *e1 = eval_of(&s, NULL);
    CHECK_MSG(e0 && e1 && memcmp(e0, e1, sizeof *e0 * 128 * 33) == 0, "data.repeat_prob changed the evaluation set");
    free(e0); free(e1);
    world_free(&w);
    free(a); free(h);
}

int main(void) {
    test_build_errors();
    test_structure();
    test_markov_order1();
    test_markov_order2();
    test_mix();
    test_determinism();
    test_eval_set();
    test_transforms();
    test_repeat_content();
    test_copy_training();
    test_cyclic();
    test_geometry();
    return test_summary("test_world");
}
