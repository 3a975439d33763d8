// test_analyze.c — `moesim analyze`'s library (sim/tools/analyze.c) on small hand-made arrays:
// the logits z = P·h, the top-K choices and the score keys recomputed here by hand (maxvio,
// load_entropy, router_confidence, topk_score_sum, router_entropy, per sequence of --seq-len rows); the same
// states as B x T x D or float64 give the same numbers; --topk-file equal to the logits' top-K
// changes nothing and another choice moves maxvio to its hand value; a folder of layers gives
// each layer's analysis.json and a depth.csv row each; and bad inputs fail naming the file
// (ANALYZE_BAD_INPUT), a failed write names the file and the system's reason (ANALYZE_FAILED).
// (The measurements themselves: test_metrics; real models' file forms: e2e_analyze.sh.)
// covers: sim/tools/analyze.c
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "../sim/io.h"
#include "../sim/tools/analyze.h"

enum { N = 8, D = 3, E = 4, K = 2, T = 4 };

static char tmpdir[256];
// H: N x D states, P: E x D router. Values are multiples of 1/4 (exact in float and double) and
// no row has tied logits, so the top-K is unambiguous.
static const float H[N][D] = {{1, 0, 0.25f}, {0.5f, 2, 0}, {0, 0.25f, 1.5f}, {-1, 0.5f, 0},
                              {2, 1, -0.5f},  {0, -1, 0.75f}, {0.25f, 0.5f, -1}, {1.5f, -0.5f, 1}};
static const float P[E][D] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {-0.5f, -0.25f, 0.5f}};

static void path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

static double key(const char *dir, const char *name) {
    char p[800], v[64];
    snprintf(p, sizeof p, "%s/analysis.json", dir);
    char *json = read_text_file(p);
    if (!json) return NAN;
    double x = json_field(json, name, v, sizeof v) ? strtod(v, NULL) : NAN;
    free(json);
    return x;
}

// The keys by hand: z = P h in double, softmax, the K largest, loads over all N rows, and the score
// means per sequence of T rows, then over sequences.
typedef struct { double maxvio, load_entropy, confidence, topk_sum, entropy; int32_t topk[N][K]; } Hand;

static void by_hand(Hand *h) {
    double load[E] = {0}, conf = 0, tks = 0, ent = 0;
    for (int i = 0; i < N; i++) {
        double z[E], p[E], s = 0, mx = -1e300;
        for (int e = 0; e < E; e++) {
            z[e] = 0;
            for (int d = 0; d < D; d++) z[e] += (double)P[e][d] * H[i][d];
            if (z[e] > mx) mx = z[e];
        }
        for (int e = 0; e < E; e++) { p[e] = exp(z[e] - mx); s += p[e]; }
        double pmax = 0, hh = 0;
        for (int e = 0; e < E; e++) { p[e] /= s; pmax = fmax(pmax, p[e]); hh -= p[e] * log(p[e]); }
        int taken[E] = {0};
        double top = 0;
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < E; e++) if (!taken[e] && (best < 0 || z[e] > z[best])) best = e;
            taken[best] = 1; h->topk[i][k] = best; load[best] += 1; top += p[best];
        }
        conf += pmax / T; tks += top / T; ent += hh / T;
    }
    double mx = 0;
    for (int e = 0; e < E; e++) mx = fmax(mx, load[e]);
    h->maxvio = mx / ((double)N * K / E) - 1;
    h->load_entropy = 0;
    for (int e = 0; e < E; e++) if (load[e] > 0) h->load_entropy -= load[e] / (N * K) * log(load[e] / (N * K));
    h->confidence = conf / (N / T); h->topk_sum = tks / (N / T); h->entropy = ent / (N / T);
}

static double maxvio_of(const int32_t *topk) {
    double load[E] = {0}, mx = 0;
    for (int i = 0; i < N * K; i++) load[topk[i]] += 1;
    for (int e = 0; e < E; e++) mx = fmax(mx, load[e]);
    return mx / ((double)N * K / E) - 1;
}

static void write_inputs(void) {
    char p[600];
    size_t sh[3] = {N, D}, sp[2] = {E, D}, sb[3] = {N / T, T, D};
    path(p, sizeof p, "h.npy");
    CHECK(npy_write(p, "<f4", H, 2, sh) == 0);
    path(p, sizeof p, "p.npy");
    CHECK(npy_write(p, "<f4", P, 2, sp) == 0);
    path(p, sizeof p, "hbtd.npy");
    CHECK(npy_write(p, "<f4", H, 3, sb) == 0);
    double h64[N * D], p64[E * D];
    for (int i = 0; i < N * D; i++) h64[i] = H[i / D][i % D];
    for (int i = 0; i < E * D; i++) p64[i] = P[i / D][i % D];
    path(p, sizeof p, "h64.npy");
    CHECK(npy_write(p, "<f8", h64, 2, sh) == 0);
    path(p, sizeof p, "p64.npy");
    CHECK(npy_write(p, "<f8", p64, 2, sp) == 0);
}

static int run(const char *hidden, const char *router, const char *topk, const char *domains, int seq_len,
               const char *out, char *err, size_t errlen) {
    char h[600], r[600], t[600], d[600], o[600];
    path(h, sizeof h, hidden);
    path(r, sizeof r, router);
    if (topk) path(t, sizeof t, topk);
    if (domains) path(d, sizeof d, domains);
    path(o, sizeof o, out);
    AnalyzeArgs a = {.hidden = h, .router = r, .topk_file = topk ? t : NULL, .domains = domains ? d : NULL,
                     .out = o, .top_k = topk ? 0 : K, .seq_len = seq_len, .pairs = 50};
    err[0] = 0;
    return analyze_files(&a, err, errlen);
}

static const char *const score_keys[] = {"maxvio", "load_entropy", "router_confidence", "topk_score_sum", "router_entropy"};

static void test_by_hand(void) {
    Hand h;
    by_hand(&h);
    char err[1200], o[600];
    CHECK_MSG(run("h.npy", "p.npy", NULL, NULL, T, "a", err, sizeof err) == 0, "%s", err);
    path(o, sizeof o, "a");
    CHECK_NEAR(key(o, "maxvio"), h.maxvio, 1e-12, 0);
    CHECK_NEAR(key(o, "load_entropy"), h.load_entropy, 1e-12, 0);
    CHECK_NEAR(key(o, "router_confidence"), h.confidence, 1e-6, 1e-6);
    CHECK_NEAR(key(o, "topk_score_sum"), h.topk_sum, 1e-6, 1e-6);
    CHECK_NEAR(key(o, "router_entropy"), h.entropy, 1e-6, 1e-6);
    CHECK(key(o, "n") == N && key(o, "d") == D && key(o, "experts") == E && key(o, "top_k") == K);
    CHECK(key(o, "seq_len") == T && key(o, "sequences") == N / T);
    CHECK(h.maxvio > 0);  // the hand case is not balanced: maxvio has something to get wrong
    // B x T x D (no --seq-len: T from the shape) and float64 give the same numbers
    CHECK_MSG(run("hbtd.npy", "p.npy", NULL, NULL, 0, "b", err, sizeof err) == 0, "%s", err);
    CHECK_MSG(run("h64.npy", "p64.npy", NULL, NULL, T, "c", err, sizeof err) == 0, "%s", err);
    char ob[600], oc[600];
    path(ob, sizeof ob, "b");
    path(oc, sizeof oc, "c");
    CHECK(key(ob, "seq_len") == T);
    for (size_t i = 0; i < sizeof score_keys / sizeof score_keys[0]; i++) {
        double x = key(o, score_keys[i]);
        CHECK_MSG(key(ob, score_keys[i]) == x, "B x T x D: %s", score_keys[i]);
        CHECK_MSG(key(oc, score_keys[i]) == x, "float64: %s", score_keys[i]);
    }
    // --topk-file: the logits' own top-K changes nothing; another choice moves maxvio to its value
    char p[600];
    size_t sk[2] = {N, K};
    path(p, sizeof p, "same_topk.npy");
    CHECK(npy_write(p, "<i4", h.topk, 2, sk) == 0);
    CHECK_MSG(run("h.npy", "p.npy", "same_topk.npy", NULL, T, "d", err, sizeof err) == 0, "%s", err);
    char od[600];
    path(od, sizeof od, "d");
    for (size_t i = 0; i < sizeof score_keys / sizeof score_keys[0]; i++)
        CHECK_MSG(key(od, score_keys[i]) == key(o, score_keys[i]), "--topk-file of the same choices: %s", score_keys[i]);
    int32_t flat[N * K];
    for (int i = 0; i < N; i++) { flat[i * K] = 3; flat[i * K + 1] = i % 3; }  // expert 3 in every row
    path(p, sizeof p, "other_topk.npy");
    CHECK(npy_write(p, "<i4", flat, 2, sk) == 0);
    CHECK_MSG(run("h.npy", "p.npy", "other_topk.npy", NULL, T, "e", err, sizeof err) == 0, "%s", err);
    path(od, sizeof od, "e");
    CHECK_NEAR(key(od, "maxvio"), maxvio_of(flat), 1e-12, 0);
    CHECK_NEAR(key(od, "maxvio"), 1.0, 1e-12, 0);  // expert 3: 8 of 16 choices, mean 4
}

static void test_errors(void) {
    char err[1200], p[600];
    // a router of another width
    float p2[E][D + 1] = {{0}};
    size_t sp2[2] = {E, D + 1};
    path(p, sizeof p, "p_wide.npy");
    CHECK(npy_write(p, "<f4", p2, 2, sp2) == 0);
    CHECK(run("h.npy", "p_wide.npy", NULL, NULL, 0, "x1", err, sizeof err) == ANALYZE_BAD_INPUT);
    CHECK_MSG(strstr(err, "h.npy") && strstr(err, "p_wide.npy") && strstr(err, "same D"), "%s", err);
    // a missing file
    CHECK(run("nothere.npy", "p.npy", NULL, NULL, 0, "x2", err, sizeof err) == ANALYZE_BAD_INPUT);
    CHECK_MSG(strstr(err, "nothere.npy") != NULL, "%s", err);
    // choices outside the router's experts, or one expert twice in a row
    int32_t bad[N * K];
    size_t sk[2] = {N, K};
    for (int i = 0; i < N * K; i++) bad[i] = i % 2;
    bad[5] = E;
    path(p, sizeof p, "bad_topk.npy");
    CHECK(npy_write(p, "<i4", bad, 2, sk) == 0);
    CHECK(run("h.npy", "p.npy", "bad_topk.npy", NULL, 0, "x3", err, sizeof err) == ANALYZE_BAD_INPUT);
    CHECK_MSG(strstr(err, "bad_topk.npy") && strstr(err, "outside 0..3"), "%s", err);
    bad[5] = 1;
    bad[7] = bad[6];
    CHECK(npy_write(p, "<i4", bad, 2, sk) == 0);
    CHECK(run("h.npy", "p.npy", "bad_topk.npy", NULL, 0, "x4", err, sizeof err) == ANALYZE_BAD_INPUT);
    CHECK_MSG(strstr(err, "bad_topk.npy") && strstr(err, "twice"), "%s", err);
    // a failed write: the output folder cannot be made below a file
    CHECK(run("h.npy", "p.npy", NULL, NULL, 0, "p.npy/out", err, sizeof err) == ANALYZE_FAILED);
    CHECK_MSG(strstr(err, "p.npy/out") && strstr(err, "Not a directory"), "%s", err);
    // labels: one per state, none negative
    int32_t lab[N + 1] = {0};
    size_t sl[1] = {N + 1};
    path(p, sizeof p, "labels.npy");
    CHECK(npy_write(p, "<i4", lab, 1, sl) == 0);
    CHECK(run("h.npy", "p.npy", NULL, "labels.npy", 0, "x5", err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "labels.npy") && strstr(err, "one per hidden state"), "%s", err);
    sl[0] = N;
    lab[3] = -1;
    CHECK(npy_write(p, "<i4", lab, 1, sl) == 0);
    CHECK(run("h.npy", "p.npy", NULL, "labels.npy", 0, "x6", err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "labels.npy") && strstr(err, "negative"), "%s", err);
    // --seq-len against a B x T x D shape
    CHECK(run("hbtd.npy", "p.npy", NULL, NULL, 3, "x7", err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "hbtd.npy") && strstr(err, "--seq-len 3"), "%s", err);
    // nothing written for a failed analysis
    path(p, sizeof p, "x1/analysis.json");
    CHECK(!file_exists(p));
}

static void test_folder(void) {
    char dir[600], out[600], p[800], err[1200];
    path(dir, sizeof dir, "layers");
    path(out, sizeof out, "layers_out");
    CHECK(mkdir_p(dir) == 0);
    size_t sh[2] = {N, D}, sp[2] = {E, D};
    for (int l = 2; l <= 3; l++) {  // layers need not start at 0
        snprintf(p, sizeof p, "%s/layer%d.hidden.npy", dir, l);
        CHECK(npy_write(p, "<f4", H, 2, sh) == 0);
        float pl[E][D];
        for (int e = 0; e < E; e++) for (int d = 0; d < D; d++) pl[e][d] = P[e][d] * (l == 2 ? 1 : -1);
        snprintf(p, sizeof p, "%s/layer%d.router.npy", dir, l);
        CHECK(npy_write(p, "<f4", pl, 2, sp) == 0);
    }
    AnalyzeArgs a = {.out = out, .top_k = K, .seq_len = T, .pairs = 50, .truncation = 1};
    int n = analyze_folder(dir, &a, err, sizeof err);
    CHECK_MSG(n == 2, "analyze_folder: %d, %s", n, err);
    char l2[700], l3[700], a0[600];
    snprintf(l2, sizeof l2, "%s/layer2", out);
    snprintf(l3, sizeof l3, "%s/layer3", out);
    path(a0, sizeof a0, "a");
    CHECK(key(l2, "maxvio") == key(a0, "maxvio"));  // layer 2 is the hand case
    CHECK(!isnan(key(l3, "maxvio")));
    snprintf(p, sizeof p, "%s/truncation.csv", l2);
    char *tr = read_text_file(p);
    // the trainer's layout, with this layer's index (2) in the first column
    CHECK(tr && strncmp(tr, "layer,rank,m,agreement\n2,", 25) == 0);
    free(tr);
    snprintf(p, sizeof p, "%s/depth.csv", out);
    char *csv = read_text_file(p);
    int lines = 0;
    for (const char *c = csv; c && *c; c++) lines += *c == '\n';
    CHECK(csv && strncmp(csv, "layer,", 6) == 0 && lines == 3 && strstr(csv, "\n2,") && strstr(csv, "\n3,"));
    free(csv);
    // a gap in the layers names the missing one
    snprintf(p, sizeof p, "%s/layer5.hidden.npy", dir);
    CHECK(npy_write(p, "<f4", H, 2, sh) == 0);
    CHECK(analyze_folder(dir, &a, err, sizeof err) < 0);
    CHECK_MSG(strstr(err, "layer 4 is missing") != NULL, "%s", err);
    path(p, sizeof p, "empty");
    CHECK(mkdir_p(p) == 0);
    CHECK(analyze_folder(p, &a, err, sizeof err) < 0);
    CHECK_MSG(strstr(err, p) && strstr(err, "no layer<i>.hidden.npy"), "%s", err);
}

// --alignment: above D = 2048 the router-alignment pair is off by default (the D/8 leading
// directions would take minutes at real widths), null with the reason naming the flag; on when
// asked, and then a share in (0, 1]. 12 rows of D = 2056 (so Lanczos works on the 12-row side).
static void test_alignment_default(void) {
    enum { NR = 12, DW = 2056, EW = 4 };
    float *Hw = malloc(sizeof(float) * NR * DW), *Pw = malloc(sizeof(float) * EW * DW);
    for (int i = 0; i < NR * DW; i++) Hw[i] = (float)sin(0.37 * i + 0.11 * (i % 7));
    for (int i = 0; i < EW * DW; i++) Pw[i] = (float)cos(0.53 * i);
    char h[600], r[600], o1[600], o2[600], err[1200], p[800], v[64];
    path(h, sizeof h, "hw.npy");
    path(r, sizeof r, "pw.npy");
    path(o1, sizeof o1, "wide_default");
    path(o2, sizeof o2, "wide_on");
    const size_t sh[2] = {NR, DW}, sp[2] = {EW, DW};
    CHECK(npy_write(h, "<f4", Hw, 2, sh) == 0 && npy_write(r, "<f4", Pw, 2, sp) == 0);
    AnalyzeArgs a = {.hidden = h, .router = r, .out = o1, .top_k = 2, .seq_len = 4, .pairs = 20,
                     .truncation = 0, .alignment = -1};
    CHECK_MSG(analyze_files(&a, err, sizeof err) == 0, "%s", err);
    snprintf(p, sizeof p, "%s/analysis.json", o1);
    char *json = read_text_file(p);
    CHECK(json && json_field(json, "router_data_alignment", v, sizeof v) && strcmp(v, "null") == 0);
    CHECK(json && strstr(json, "give --alignment on") != NULL);
    CHECK(json && json_field(json, "data_energy_top_r", v, sizeof v) && strcmp(v, "null") == 0);
    CHECK(json && json_field(json, "maxvio", v, sizeof v) && strcmp(v, "null") != 0);
    free(json);
    a.out = o2;
    a.alignment = 1;
    CHECK_MSG(analyze_files(&a, err, sizeof err) == 0, "%s", err);
    double al = key(o2, "router_data_alignment"), en = key(o2, "data_energy_top_r");
    CHECK_MSG(al > 0 && al <= 1 + 1e-9 && en > 0 && en <= 1 + 1e-9, "alignment %g, energy %g", al, en);
    free(Hw); free(Pw);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_analyze.%ld", (long)getpid());
    CHECK(mkdir_p(tmpdir) == 0);
    write_inputs();
    test_by_hand();
    test_errors();
    test_folder();
    test_alignment_default();
    if (!getenv("KEEP")) remove_tree(tmpdir);
    return test_summary("test_analyze");
}
