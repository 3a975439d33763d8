// test_prune.c — expert pruning by usage (sim/use/prune.c): the mask keeps the most used experts
// of the pruned layers (hand-made usage, and the usage recounted from a forward over the validation
// set of a model trained here); keeping every expert changes no NLL by a single bit and the
// prompts' full-model NLL is the evaluation cross-entropy; pruning to top_k experts raises the NLL
// of at least one set; results are the same bits at 1 and 2 threads; the files have their rows;
// bad settings are refused naming the key; eval.prune_keep = 0 writes nothing.
// covers: sim/use/prune.c
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
#include "../sim/use/prune.h"
#include "../sim/train/step.h"
#include "../sim/train/train.h"
#include "../sim/worlds/world.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static char tmpdir[256];

#include "set_key.h"

// ---- the mask on hand-made usage --------------------------------------------------------------
static void test_mask_hand(void) {
    enum { L = 3, E = 5 };
    const int64_t usage[L * E] = {
        9, 0, 0, 0, 0,   // layer 0: not pruned, every expert stays
        3, 7, 7, 0, 1,   // layer 1: 1 and 2 (7 each)
        0, 0, 5, 0, 0,   // layer 2: 2, then the tie among the zeros goes to the lowest index, 0
    };
    const uint8_t want[L * E] = {1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    uint8_t got[L * E];
    prune_mask(got, usage, L, E, 1, 2);
    CHECK(memcmp(got, want, sizeof got) == 0);
    prune_mask(got, usage, L, E, 0, 5);  // keeping every expert keeps every expert
    int all = 1;
    for (int i = 0; i < L * E; i++) all &= got[i] == 1;
    CHECK(all);
}

// ---- a trained model ----------------------------------------------------------------------------
static int run(PruneResult *r, Trained *t) {
    char err[400] = "";
    int rc = prune_run(r, &t->c, &t->m, &t->w, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return rc;
}

static int count_lines(const char *path) {
    char *s = read_text_file(path);
    if (!s) return -1;
    int n = 0;
    for (char *p = s; *p; p++) n += *p == '\n';
    free(s);
    return n;
}

static void print_result(const char *what, const PruneResult *r) {
    const char *names[PRUNE_SETS] = {"prompts", "off_policy", "on_policy"};
    printf("test_prune: %s (keep %d of %d experts in layers %d..%d):", what, r->keep, r->E, r->first, r->L - 1);
    for (int s = 0; s < PRUNE_SETS; s++) {
        double f = PRUNE_NLL(r, s, 0, r->domains), p = PRUNE_NLL(r, s, 1, r->domains);
        printf(" %s %.4f -> %.4f (%+.1f%%)", names[s], f, p, 100 * (p - f) / f);
    }
    printf("\n");
}

static void test_trained(void) {
    Trained t;
    memset(&t, 0, sizeof t);
    Config *c = &t.c;
    CHECK(config_defaults(c) == 0);
    set(c, "data.domains", "4");
    set(c, "data.shared_vocab", "16");
    set(c, "model.vocab", "48");
    set(c, "model.d_model", "32");
    set(c, "model.layers", "2");
    set(c, "model.seq_len", "16");
    set(c, "model.experts", "8");
    set(c, "model.top_k", "2");
    set(c, "model.d_ff", "32");
    set(c, "train.batch", "16");
    set(c, "train.lr", "1e-2");
    set(c, "eval.sequences", "6");
    set(c, "eval.prune_keep", "2");
    set(c, "eval.prune_on", "\"sequence:7\"");
    train(&t, 150);
    Model *m = &t.m;
    const int L = 2, E = 8, K = 2, T = 16, M = 24, A = 4;

    // (a) usage and mask: recount the validation sequence's choices with a plain forward
    PruneResult r;
    if (run(&r, &t) != 0) { trained_free(&t); return; }
    print_result("keep 2, prune_on sequence:7", &r);
    CHECK(r.val_n == 1 && r.first == 0 && r.keep == 2 && r.domains == A && r.prompt_len == T / 2);
    int32_t *set_tok = malloc(sizeof(int32_t) * M * (T + 1)), dom[M];
    world_eval_set(&t.w, set_tok, dom);
    Batch b = {.B = 1, .micro = 1, .tokens = set_tok + 7 * (T + 1), .shuffle_seed = 1};
    Losses l;
    CHECK(model_forward(m, &b, NULL, &l) == 0);
    int64_t usage[2 * 8] = {0};
    for (int layer = 0; layer < L; layer++)
        for (int i = 0; i < T * K; i++) usage[layer * E + m->blocks[layer].topk[i]]++;
    CHECK(memcmp(usage, r.usage, sizeof usage) == 0);
    int exact = 1, top = 1;
    for (int layer = 0; layer < L; layer++) {
        int kept = 0;
        for (int e = 0; e < E; e++) kept += r.allowed[layer * E + e];
        exact &= kept == 2;
        for (int e = 0; e < E; e++)
            for (int f = 0; f < E; f++)
                if (r.allowed[layer * E + e] && !r.allowed[layer * E + f]) top &= usage[layer * E + e] >= usage[layer * E + f];
    }
    CHECK_MSG(exact, "a pruned layer does not keep exactly eval.prune_keep experts");
    CHECK_MSG(top, "a kept expert is used less than a pruned one");
    // rows and scored positions of each set
    CHECK(PRUNE_AT(&r, rows, PRUNE_PROMPTS, A) == M && PRUNE_AT(&r, tokens, PRUNE_PROMPTS, A) == (int64_t)M * T);
    CHECK(PRUNE_AT(&r, rows, PRUNE_ON_POLICY, 1) == M / A &&
          PRUNE_AT(&r, tokens, PRUNE_OFF_POLICY, A) == (int64_t)M * (T + 1 - T / 2));
    // pruning to top_k experts in both layers costs something somewhere
    double worst = 0;
    for (int s = 0; s < PRUNE_SETS; s++)
        for (int d = 0; d <= A; d++) {
            double f = PRUNE_NLL(&r, s, 0, d), p = PRUNE_NLL(&r, s, 1, d);
            CHECK(isfinite(f) && isfinite(p) && f > 0 && p > 0);
            worst = fmax(worst, (p - f) / f);
        }
    CHECK_MSG(worst > 0.02, "pruning to top_k experts raised no NLL by 2%% (largest change %g)", worst);

    // the prompts' full NLL is the evaluation cross-entropy (model_forward over the whole set)
    Batch be = {.B = 16, .micro = 16, .tokens = set_tok, .shuffle_seed = 1};
    double ce = 0;
    CHECK(model_forward(m, &be, NULL, &l) == 0);
    ce += l.ce * 16;
    be.B = be.micro = 8; be.tokens = set_tok + 16 * (T + 1);
    CHECK(model_forward(m, &be, NULL, &l) == 0);
    ce += l.ce * 8;
    CHECK_NEAR(PRUNE_NLL(&r, PRUNE_PROMPTS, 0, A), ce / M, 1e-5, 1e-5);

    // (b) the files
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/run", tmpdir);
    CHECK(mkdir_p(dir) == 0);
    CHECK(prune_write_files(&r, dir) == 0);
    snprintf(path, sizeof path, "%s/prune.csv", dir);
    CHECK(count_lines(path) == 1 + PRUNE_SETS * (A + 1));
    char *csv = read_text_file(path);
    const char *head = "set,domain,sequences,tokens,nll_full,nll_pruned,change\nprompts,0,6,96,";
    CHECK(csv && !strncmp(csv, head, strlen(head)));
    free(csv);
    snprintf(path, sizeof path, "%s/prune_experts.csv", dir);
    CHECK(count_lines(path) == 1 + L * E);

    // (c) 1 and 2 threads: the same bits
#ifdef _OPENMP
    int nt = omp_get_max_threads();
    PruneResult r1, r2;
    omp_set_num_threads(1);
    int ok1 = run(&r1, &t) == 0;
    omp_set_num_threads(2);
    int ok2 = run(&r2, &t) == 0;
    omp_set_num_threads(nt);
    if (ok1 && ok2) {
        size_t S = (size_t)PRUNE_SETS * (A + 1);
        CHECK(memcmp(r1.nll, r2.nll, sizeof(double) * 2 * S) == 0 && memcmp(r1.nll, r.nll, sizeof(double) * 2 * S) == 0);
        CHECK(memcmp(r1.usage, r2.usage, sizeof(int64_t) * L * E) == 0);
        CHECK(memcmp(r1.allowed, r2.allowed, (size_t)L * E) == 0);
    }
    if (ok1) prune_result_free(&r1);
    if (ok2) prune_result_free(&r2);
#else
    SKIP("no OpenMP in this build: the 1-vs-2-thread comparison needs it");
#endif
    prune_result_free(&r);

    // (d) keeping every expert (eval.prune_keep = model.experts, which the config refuses as a
    // no-op but prune_run accepts): every pruned NLL equals the full one, bit for bit
    c->eval_prune_keep = E;
    if (run(&r, &t) == 0) {
        int same = 1;
        for (int s = 0; s < PRUNE_SETS; s++)
            for (int d = 0; d <= A; d++) same &= memcmp(&PRUNE_NLL(&r, s, 0, d), &PRUNE_NLL(&r, s, 1, d), sizeof(double)) == 0;
        CHECK_MSG(same, "with every expert kept, a pruned NLL differs from the full one");
        // and on-policy equals off-policy (the same model samples the same rows)
        CHECK(memcmp(&PRUNE_NLL(&r, PRUNE_ON_POLICY, 0, 0), &PRUNE_NLL(&r, PRUNE_OFF_POLICY, 0, 0),
                     sizeof(double) * 2 * (A + 1)) == 0);
        prune_result_free(&r);
    }

    // (e) a domain as the validation set, only the last layer pruned, keep 3
    c->eval_prune_keep = 3;
    set(c, "eval.prune_layers", "1");
    set(c, "eval.prune_on", "\"domain:2\"");
    if (run(&r, &t) == 0) {
        print_result("keep 3, last layer, prune_on domain:2", &r);
        CHECK(r.val_n == 6 && r.first == 1);
        int64_t u[2 * 8] = {0};
        Batch bd = {.B = 6, .micro = 6, .tokens = set_tok + 12 * (T + 1), .shuffle_seed = 1};
        CHECK(dom[12] == 2 && dom[17] == 2);  // domain-major: domain 2's sequences are 12..17
        CHECK(model_forward(m, &bd, NULL, &l) == 0);
        for (int layer = 0; layer < L; layer++)
            for (int i = 0; i < 6 * T * K; i++) u[layer * E + m->blocks[layer].topk[i]]++;
        CHECK(memcmp(u, r.usage, sizeof u) == 0);
        int kept0 = 0, kept1 = 0;
        for (int e = 0; e < E; e++) { kept0 += r.allowed[e]; kept1 += r.allowed[E + e]; }
        CHECK(kept0 == E && kept1 == 3);
        prune_result_free(&r);
    }

    // (f) bad settings name the key; eval.prune_keep = 0 writes nothing
    char err[400] = "";
    c->eval_prune_keep = 1;
    CHECK(prune_run(&r, c, m, &t.w, err, sizeof err) == -1 && strstr(err, "eval.prune_keep"));
    c->eval_prune_keep = 2;
    set(c, "eval.prune_on", "\"domain:4\"");
    CHECK(prune_run(&r, c, m, &t.w, err, sizeof err) == -1 && strstr(err, "eval.prune_on"));
    c->eval_prune_keep = 0;
    snprintf(dir, sizeof dir, "%s/off", tmpdir);
    CHECK(mkdir_p(dir) == 0);
    CHECK(prune_write(c, m, &t.w, dir, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/prune.csv", dir);
    CHECK(!file_exists(path));
    c->eval_prune_keep = 2;
    set(c, "eval.prune_on", "\"sequence:0\"");
    CHECK(prune_write(c, m, &t.w, dir, err, sizeof err) == 0);
    CHECK(file_exists(path));
    free(set_tok);
    trained_free(&t);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/moesim_test_prune.%ld", (long)getpid());
    CHECK(mkdir_p(tmpdir) == 0);
    test_mask_hand();
    test_trained();
    if (remove_tree(tmpdir) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary("test_prune");
}
