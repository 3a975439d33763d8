// test_compare.c — `moesim compare` on hand-made routing traces: pair kinds, Eq. 19 top-P overlap
// and Eq. 14 FreqSim per kind worked out by hand, the prompt left out unless asked, the per-pair
// file, the Fig. 7 prompt-to-rollout tracking, the Fig. 14 pooled cosine (Eqs. 15-17) of a stand-in
// analyzer's router inputs over the prompt and over prompt + rollout, and the input checks (folders that do not share their prompts, bad shapes,
// folders that are not complete `moesim generate` outputs: no complete.json, or another command's).
// covers: sim/tools/compare.c sim/measure/rollouts.c sim/outdir.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../sim/io.h"
#include "../sim/tools/compare.h"
#include "harness.h"

// Two models x two prompts x two samples, E = 4, K = 1, L = 1, 2 prompt positions + 4 generated.
// The generated experts of each rollout, and (by hand) its frequency vector and top-0.8 set:
//   m0 p0 s0  0 0 0 1   (.75 .25 0 0)   {0,1}        m1 p0 s0  0 0 0 2   (.75 0 .25 0)  {0,2}
//   m0 p0 s1  0 0 1 1   (.5 .5 0 0)     {0,1}        m1 p0 s1  1 1 1 0   (.25 .75 0 0)  {0,1}
//   m0 p1 s0  2 2 2 3   (0 0 .75 .25)   {2,3}        m1 p1 s0  3 3 3 3   (0 0 0 1)      {3}
//   m0 p1 s1  2 2 3 3   (0 0 .5 .5)     {2,3}        m1 p1 s1  2 3 3 3   (0 0 .25 .75)  {2,3}
// Prompt positions choose expert 3 everywhere (so --include-prompt changes the vectors).
static const int32_t GEN[2][4][4] = {
    {{0, 0, 0, 1}, {0, 0, 1, 1}, {2, 2, 2, 3}, {2, 2, 3, 3}},
    {{0, 0, 0, 2}, {1, 1, 1, 0}, {3, 3, 3, 3}, {2, 3, 3, 3}},
};

// The completion marker a command writes last (sim/outdir.h), as text.
static void write_marker(const char *dir, const char *command) {
    char p[512];
    FILE *f = fopen(path_join(p, sizeof p, dir, "complete.json"), "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "{\n  \"format\": \"moesim-complete-1\",\n  \"command\": \"%s\",\n  \"version\": \"0.1.0\",\n"
               "  \"finished\": \"2026-12-06T00:00:00Z\"\n}\n", command);
    fclose(f);
}

// Writes one model's generate folder: rows ordered prompt by prompt (row = 2 prompt + sample).
static void write_gen(const char *dir, int model, int prompt_tokens_offset) {
    char p[512];
    mkdir_p(dir);
    int32_t routes[4][1][6][1], tokens[4][6];
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < 6; t++) {
            routes[r][0][t][0] = t < 2 ? 3 : GEN[model][r][t - 2];
            tokens[r][t] = t < 2 ? (r / 2) * 10 + t + prompt_tokens_offset : 7;
        }
    size_t sr[4] = {4, 1, 6, 1}, st[2] = {4, 6};
    CHECK(npy_write(path_join(p, sizeof p, dir, "routes.npy"), "<i4", routes, 4, sr) == 0);
    CHECK(npy_write(path_join(p, sizeof p, dir, "tokens.npy"), "<i4", tokens, 2, st) == 0);
    FILE *f = fopen(path_join(p, sizeof p, dir, "generate.json"), "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "{\n  \"format\": \"moesim-generate-1\",\n  \"prompt_len\": 2,\n  \"layers\": 1,\n  \"top_k\": 1,\n"
               "  \"experts\": 4,\n  \"rows\": [\n");
    for (int r = 0; r < 4; r++)
        fprintf(f, "    {\"row\": %d, \"prompt\": %d, \"sample\": %d, \"domain\": null, \"seed\": 1}%s\n", r, r / 2, r % 2,
                r < 3 ? "," : "");
    fprintf(f, "  ]\n}\n");
    fclose(f);
    write_marker(dir, "generate");
}

// Reads compare.csv into overlap / freqsim / pairs per kind (layer 0).
static void read_compare(const char *dir, double *overlap, double *freqsim, long *pairs) {
    char p[512], line[512];
    for (int k = 0; k < CMP_KINDS; k++) { overlap[k] = freqsim[k] = NAN; pairs[k] = 0; }
    FILE *f = fopen(path_join(p, sizeof p, dir, "compare.csv"), "r");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fgets(line, sizeof line, f) && !strcmp(line, "layer,kind,pairs,overlap_mean,overlap_sd,freqsim_mean\n"));
    while (fgets(line, sizeof line, f)) {
        char kind[64];
        int layer;
        long n;
        double ov, sd, fs;
        char sds[32];
        if (sscanf(line, "%d,%63[^,],%ld,%lf,%31[^,],%lf", &layer, kind, &n, &ov, sds, &fs) != 6) { CHECK(0); continue; }
        (void)sd;
        for (int k = 0; k < CMP_KINDS; k++)
            if (!strcmp(kind, compare_kind_names[k])) { overlap[k] = ov; freqsim[k] = fs; pairs[k] = n; }
    }
    fclose(f);
}

static void test_kinds(void) {
    RolloutId a = {0, 0, 0}, b = {0, 0, 1}, c = {1, 0, 0}, d = {0, 1, 0}, e = {1, 1, 1};
    CHECK(compare_kind(a, b) == CMP_SAME_PROMPT_SAME_MODEL_OTHER_SAMPLE);
    CHECK(compare_kind(a, c) == CMP_SAME_PROMPT_OTHER_MODEL);
    CHECK(compare_kind(a, d) == CMP_OTHER_PROMPT_SAME_MODEL);
    CHECK(compare_kind(a, e) == CMP_OTHER_PROMPT_OTHER_MODEL);
    CHECK(!strcmp(compare_kind_names[CMP_SAME_PROMPT_OTHER_MODEL], "same_prompt_other_model"));
}

static void test_by_hand(const char *T) {
    char m0[512], m1[512], out[512], out2[512];
    snprintf(m0, sizeof m0, "%s/m0", T);
    snprintf(m1, sizeof m1, "%s/m1", T);
    snprintf(out, sizeof out, "%s/out", T);
    snprintf(out2, sizeof out2, "%s/out2", T);
    write_gen(m0, 0, 0);
    write_gen(m1, 1, 0);
    const char *dirs[2] = {m0, m1};
    CompareArgs a = {.ndirs = 2, .dirs = dirs, .out = out, .top_p = 0.8};
    char err[1024];
    CHECK_MSG(compare_dirs(&a, err, sizeof err) == 0, "compare failed: %s", err);
    double ov[CMP_KINDS], fs[CMP_KINDS];
    long n[CMP_KINDS];
    read_compare(out, ov, fs, n);
    // 8 rollouts: 28 pairs = 4 (same prompt, same model) + 8 + 8 + 8
    CHECK(n[CMP_SAME_PROMPT_SAME_MODEL_OTHER_SAMPLE] == 4 && n[CMP_SAME_PROMPT_OTHER_MODEL] == 8 &&
          n[CMP_OTHER_PROMPT_SAME_MODEL] == 8 && n[CMP_OTHER_PROMPT_OTHER_MODEL] == 8);
    // same model, same prompt: {0,1}{0,1} = 1, {2,3}{2,3} = 1, {0,2}{0,1} = 1/3, {3}{2,3} = 1/2
    CHECK_NEAR(ov[CMP_SAME_PROMPT_SAME_MODEL_OTHER_SAMPLE], (1 + 1 + 1.0 / 3 + 0.5) / 4, 1e-6, 0);
    // same prompt, other model: p0: a-e 1/3, a-f 1, b-e 1/3, b-f 1; p1: c-g 1/2, c-h 1, d-g 1/2, d-h 1
    CHECK_NEAR(ov[CMP_SAME_PROMPT_OTHER_MODEL], (1.0 / 3 + 1 + 1.0 / 3 + 1 + 0.5 + 1 + 0.5 + 1) / 8, 1e-6, 0);
    // other prompt, same model: only m1's {0,2} vs {2,3} overlaps (1/3)
    CHECK_NEAR(ov[CMP_OTHER_PROMPT_SAME_MODEL], (1.0 / 3) / 8, 1e-6, 0);
    // other prompt, other model: m0 p1 {2,3} vs m1 p0 {0,2}, twice (1/3 each)
    CHECK_NEAR(ov[CMP_OTHER_PROMPT_OTHER_MODEL], (2.0 / 3) / 8, 1e-6, 0);
    // FreqSim of the same-prompt-same-model pairs: cos((.75,.25),(.5,.5)) = .5/sqrt(.625*.5) =
    // 0.894427, twice (m0 p0, m0 p1); cos((.75,0,.25),(.25,.75,0)) = .1875/.625 = 0.3;
    // cos((0,0,0,1),(0,0,.25,.75)) = .75/sqrt(.625) = 0.948683
    CHECK_NEAR(fs[CMP_SAME_PROMPT_SAME_MODEL_OTHER_SAMPLE], (2 * 0.894427191 + 0.3 + 0.948683298) / 4, 1e-6, 0);
    // the per-pair file: a header and 28 rows
    char p[512], line[256];
    FILE *f = fopen(path_join(p, sizeof p, out, "compare_pairs.csv"), "r");
    int rows = 0;
    while (f && fgets(line, sizeof line, f)) rows++;
    if (f) fclose(f);
    CHECK_MSG(rows == 29, "compare_pairs.csv has %d lines, expected 29", rows);
    // tracking: per model, C(2,2) = 1 prompt pair (sample 0 of prompts 0 and 1), n = 0..4
    f = fopen(path_join(p, sizeof p, out, "track.csv"), "r");
    rows = 0;
    while (f && fgets(line, sizeof line, f)) rows++;
    if (f) fclose(f);
    CHECK_MSG(rows == 1 + 2 * 5, "track.csv has %d lines, expected 11", rows);
    // with the prompt: every vector gains two choices of expert 3, so other-prompt pairs overlap more
    a.include_prompt = 1;
    a.out = out2;
    CHECK(compare_dirs(&a, err, sizeof err) == 0);
    double ov2[CMP_KINDS], fs2[CMP_KINDS];
    long n2[CMP_KINDS];
    read_compare(out2, ov2, fs2, n2);
    CHECK(ov2[CMP_OTHER_PROMPT_SAME_MODEL] > ov[CMP_OTHER_PROMPT_SAME_MODEL] + 0.1);
}

// Fig. 7 tracking by hand: 3 prompts (domains 0, 0, 1), 1 prompt token + 2 generated, K = 1, E = 2.
//   a: 0 | 0 1     b: 0 | 1 1     c: 1 | 1 1
// n = 0 (prompt only): a = b = (1, 0), c = (0, 1): cos(a,b) = 1 (same domain), cos(a,c) = cos(b,c) = 0.
// n = 2: a = (2/3, 1/3), b = (1/3, 2/3), c = (0, 1): cos(a,b) = (4/9)/(5/9) = 0.8,
// cos(a,c) = (1/3)/sqrt(5/9) = 1/sqrt(5), cos(b,c) = 2/sqrt(5).
static void test_track(void) {
    const int32_t routes[3][1][3][1] = {{{{0}, {0}, {1}}}, {{{0}, {1}, {1}}}, {{{1}, {1}, {1}}}};
    const int domain[3] = {0, 0, 1}, ns[2] = {0, 2};
    TrackStat st[2 * TRACK_KINDS];
    double fp[3], ff[3];
    compare_track(st, fp, ff, &routes[0][0][0][0], domain, 3, 1, 3, 1, 2, 1, 0, ns, 2);
    CHECK(st[0 * TRACK_KINDS + TRACK_SAME_DOMAIN].pairs == 1 && st[0 * TRACK_KINDS + TRACK_CROSS_DOMAIN].pairs == 2);
    CHECK_NEAR(st[0 * TRACK_KINDS + TRACK_SAME_DOMAIN].sum, 1.0, 1e-12, 0);
    CHECK_NEAR(st[0 * TRACK_KINDS + TRACK_CROSS_DOMAIN].sum, 0.0, 1e-12, 0);
    CHECK_NEAR(st[1 * TRACK_KINDS + TRACK_SAME_DOMAIN].sum, 0.8, 1e-12, 0);
    CHECK_NEAR(st[1 * TRACK_KINDS + TRACK_CROSS_DOMAIN].sum, 3 / sqrt(5.0), 1e-12, 0);
    CHECK_NEAR(fp[0], 1, 1e-12, 0);
    CHECK_NEAR(fp[1], 0, 1e-12, 0);
    CHECK_NEAR(ff[0], 0.8, 1e-12, 0);
    CHECK_NEAR(ff[1], 1 / sqrt(5.0), 1e-12, 0);
    CHECK_NEAR(ff[2], 2 / sqrt(5.0), 1e-12, 0);
}

// Eqs. 15-16 by hand: one row, one layer, 3 positions of D = 2, a 1-token prompt.
// (3,4) (0,2) (-1,0) normalize to (.6,.8) (0,1) (-1,0): prompt pool (.6,.8), full pool
// ((.6 + 0 - 1)/3, (.8 + 1 + 0)/3) = (-.4/3, .6).
static void test_pool(void) {
    const float h[3][2] = {{3, 4}, {0, 2}, {-1, 0}};
    double pool[2][2];
    compare_pool(&pool[0][0], &h[0][0], 1, 1, 3, 2, 1);
    CHECK_NEAR(pool[0][0], 0.6, 1e-7, 0);
    CHECK_NEAR(pool[0][1], 0.8, 1e-7, 0);
    CHECK_NEAR(pool[1][0], -0.4 / 3, 1e-7, 0);
    CHECK_NEAR(pool[1][1], 0.6, 1e-7, 0);
}

// A stand-in analyzer for --route-with (L = 1, K = 1, E = 4, D = 2): token x chooses expert
// x mod 4, and its router input is a fixed vector of another norm for each token: 0 -> (2,0),
// 1 -> (0,3), 10 -> (0,5), 11 -> (0,.5), 7 (every generated token) -> (-4,0).
static int fake_route(void *ctx, const int32_t *tokens, int rows, int len, int32_t **routes, float **hidden, int *L,
                      int *K, int *E, int *D, char *err, size_t errlen) {
    (void)ctx; (void)err; (void)errlen;
    *L = 1; *K = 1; *E = 4; *D = 2;
    *routes = malloc(sizeof(int32_t) * (size_t)rows * len);
    *hidden = calloc((size_t)rows * len * 2, sizeof(float));
    if (!*routes || !*hidden) return -1;
    for (int i = 0; i < rows * len; i++) {
        int x = tokens[i];
        (*routes)[i] = x % 4;
        float *h = *hidden + (size_t)i * 2;   // 2: this position's router input
        if (x == 0) h[0] = 2;
        else if (x == 1) h[1] = 3;
        else if (x == 10) h[1] = 5;
        else if (x == 11) h[1] = 0.5f;
        else if (x == 7) h[0] = -4;
    }
    return 0;
}

// Reads the last two columns (pooled_prompt, pooled_full) of track_pairs.csv's first data row.
static void read_pooled(const char *dir, double *pp, double *pf, char *first, size_t n) {
    char p[512], line[512];
    *pp = *pf = -9;
    FILE *f = fopen(path_join(p, sizeof p, dir, "track_pairs.csv"), "r");
    CHECK(f != NULL);
    if (!f) return;
    if (fgets(first, (int)n, f) && fgets(line, sizeof line, f)) {
        char *c = strrchr(line, ',');
        *c = 0;
        *pf = strtod(c + 1, NULL);
        *pp = strtod(strrchr(line, ',') + 1, NULL);
    }
    fclose(f);
}

// Fig. 14 through compare_dirs: prompts 0 (tokens 0, 1) and 1 (tokens 10, 11), then 7 7 7 7.
// Prompt pools (.5,.5) and (0,1): cosine 1/sqrt(2). Full pools (1,0)+(0,1)+4(-1,0) = (-3,1) and
// (0,2)+4(-1,0) = (-4,2), over 6: cosine 14/sqrt(200). Without --route-with: nan, nan.
static void test_pooled_track(const char *T) {
    char m0[512], out[512], out2[512], err[1024], head[256];
    snprintf(m0, sizeof m0, "%s/m0", T);
    snprintf(out, sizeof out, "%s/pooled", T);
    snprintf(out2, sizeof out2, "%s/pooled_own", T);
    write_gen(m0, 0, 0);
    const char *dirs[1] = {m0};
    CompareArgs a = {.ndirs = 1, .dirs = dirs, .out = out, .top_p = 0.8, .route = fake_route};
    CHECK_MSG(compare_dirs(&a, err, sizeof err) == 0, "compare failed: %s", err);
    double pp, pf;
    read_pooled(out, &pp, &pf, head, sizeof head);
    CHECK_MSG(!strcmp(head, "model,layer,prompt_a,prompt_b,kind,freqsim_prompt,freqsim_full,pooled_prompt,pooled_full\n"),
              "header %s", head);
    CHECK_NEAR(pp, 1 / sqrt(2.0), 1e-6, 0);
    CHECK_NEAR(pf, 14 / sqrt(200.0), 1e-6, 0);
    a.route = NULL;
    a.out = out2;
    CHECK(compare_dirs(&a, err, sizeof err) == 0);
    read_pooled(out2, &pp, &pf, head, sizeof head);
    CHECK(isnan(pp) && isnan(pf));
}

static void test_bad_input(const char *T) {
    char m0[512], mx[512], out[512], err[1024];
    snprintf(m0, sizeof m0, "%s/m0", T);
    snprintf(mx, sizeof mx, "%s/mx", T);
    snprintf(out, sizeof out, "%s/bad_out", T);
    write_gen(mx, 1, 100);  // other prompt tokens: not the same questions
    const char *dirs[2] = {m0, mx};
    CompareArgs a = {.ndirs = 2, .dirs = dirs, .out = out, .top_p = 0.8};
    CHECK(compare_dirs(&a, err, sizeof err) == 2);
    CHECK_MSG(strstr(err, "same prompts") != NULL, "message: %s", err);
    CHECK(access(out, F_OK) != 0);  // nothing written
    a.dirs = (const char *[]){m0, "/nonexistent/gen"};
    CHECK(compare_dirs(&a, err, sizeof err) == 2 && strstr(err, "/nonexistent/gen") != NULL);
}

// A folder without complete.json (a generate cut short, or mixed by an older moesim) and a folder
// another command wrote are refused before anything is written, naming the folder and what to do.
static void test_incomplete(const char *T) {
    char m0[512], mi[512], me[512], out[512], p[600], err[1024];
    snprintf(m0, sizeof m0, "%s/m0", T);
    snprintf(mi, sizeof mi, "%s/incomplete", T);
    snprintf(me, sizeof me, "%s/evalout", T);
    snprintf(out, sizeof out, "%s/inc_out", T);
    write_gen(mi, 1, 0);
    CHECK(remove(path_join(p, sizeof p, mi, "complete.json")) == 0);
    const char *dirs[2] = {m0, mi};
    CompareArgs a = {.ndirs = 2, .dirs = dirs, .out = out, .top_p = 0.8};
    CHECK(compare_dirs(&a, err, sizeof err) == 2);
    CHECK_MSG(strstr(err, mi) && strstr(err, "complete.json") && strstr(err, "moesim generate"), "message: %s", err);
    CHECK(access(out, F_OK) != 0);
    write_gen(me, 1, 0);
    write_marker(me, "eval");
    a.dirs = (const char *[]){m0, me};
    CHECK(compare_dirs(&a, err, sizeof err) == 2);
    CHECK_MSG(strstr(err, me) && strstr(err, "moesim eval"), "message: %s", err);
    CHECK(access(out, F_OK) != 0);
}

int main(void) {
    char T[] = "/tmp/moesim_compare.XXXXXX";
    if (!mkdtemp(T)) { perror("mkdtemp"); return 1; }
    test_kinds();
    test_track();
    test_pool();
    test_by_hand(T);
    test_pooled_track(T);
    test_bad_input(T);
    test_incomplete(T);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", T);
    return test_summary("test_compare");
}
