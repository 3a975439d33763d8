// analyze.c — logits z = P·h and top-K choices from a user's arrays, then metrics_layer; one layer
// or a folder of layers with a per-depth CSV (analyze.h).
//
// Memory: the hidden states are converted to float once as they stream from the file (io.h), so
// the peak is about 4 N D bytes (the states) + 8 D² only when truncation.csv is asked (its full
// eigen-decomposition) + O(N E) for logits and choices; docs/ANALYZE.md gives the formula.
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analyze.h"
#include "../io.h"
#include "../evaluate/evaluate.h"
#include "../measure/linalg.h"
#include "../measure/metrics.h"
#include "../measure/truncation.h"
#include "../../nn/moe.h"

// Why a key of analysis.json is null, for the "null_because" object: the input analyze lacks,
// or (for anything else) a quantity that is undefined on these data.
static const char *null_reason(const char *name, size_t S, int have_domains, int alignment) {
    static const char *const seq_pair[] = {"freqsim_seq", "pooled_cosine_seq", "freqsim_pooled_corr", "jaccard_seq"};
    for (size_t i = 0; i < sizeof seq_pair / sizeof seq_pair[0]; i++)
        if (strcmp(name, seq_pair[i]) == 0 && S < 2)
            return "compares pairs of sequences, and there is one: give --seq-len T with T < N";
    if (strstr(name, "_seq_") && strstr(name, "_domain") && S < 2)
        return "compares pairs of sequences, and there is one: give --seq-len T with T < N";
    if (!have_domains && (strstr(name, "_domain") || strcmp(name, "nmi_domain_expert") == 0))
        return "needs domain labels: give --domains";
    if (strncmp(name, "token_", 6) == 0) return "needs token ids, which analyze does not take";
    if (strncmp(name, "resid_norm_", 11) == 0)
        return "needs the residual stream before the router's norm, which analyze does not take";
    if (!alignment && (strcmp(name, "router_data_alignment") == 0 || strcmp(name, "data_energy_top_r") == 0))
        return "needs the D/8 leading directions of H, computed by default only up to D = 2048: give --alignment on";
    if (strcmp(name, "retained_energy_dir2") == 0) return "v2 is undefined: every sequence has rank < 2";
    if (strcmp(name, "retained_energy_dir3") == 0) return "v3 is undefined: every sequence has rank < 3";
    return "undefined on these data (a zero denominator, e.g. a zero router or constant values)";
}

// truncation.csv in the trainer's layout (evaluate.h): layer is the input's layer index.
static int write_truncation(const char *out, int layer, const float *H, const float *P, size_t N, int D, int E,
                            int K, char *err, size_t errlen) {
    char p[IO_CHILD_PATH_MAX];
    AtomicFile af;
    FILE *f = afile_open(&af, path_join(p, sizeof p, out, "truncation.csv"));
    if (!f) return io_fail(err, errlen, "cannot write %s: %s", p, strerror(errno));
    fputs(TRUNCATION_CSV_HEADER, f);
    if (truncation_csv_layer(f, layer, H, P, N, D, E, K) != 0) {
        afile_abort(&af);
        return io_fail(err, errlen, "truncation: out of memory");
    }
    if (afile_commit(&af) != 0) return io_fail(err, errlen, "cannot write %s: %s", p, strerror(errno));
    return 0;
}

// The first element of the rows x cols array x (read from path) that is NaN or Inf: -1 with err
// naming the file, the row and the column; 0 when all are finite.
static int first_nonfinite(const char *path, const float *x, size_t rows, int cols, const char *what, char *err,
                           size_t errlen) {
    for (size_t i = 0; i < rows * (size_t)cols; i++)
        if (!isfinite(x[i]))
            return io_fail(err, errlen, "%s: %s %zu, column %zu is %s (the values must be finite)", path, what,
                           i / (size_t)cols, i % (size_t)cols, isnan(x[i]) ? "NaN" : "Inf");
    return 0;
}

// analyze_files with the scalars returned (lm may be NULL); layer is the input's index (0 for
// --hidden, i for a folder's layer<i>), truncation.csv's layer column.
static int analyze_one(const AnalyzeArgs *a, int layer, LayerMetrics *lm_out, char *err, size_t errlen) {
    float *H = NULL, *P = NULL, *Z = NULL;
    MetricsScratch scratch = {0};
    double *Pt = NULL, *Zd = NULL;
    int32_t *dom = NULL, *topk = NULL;
    int ndh, ndp, ndd, ndk, rc = ANALYZE_BAD_INPUT;  // until the inputs are read and checked
    size_t sh[NPY_MAX_DIMS], sp[NPY_MAX_DIMS], sd[NPY_MAX_DIMS], sk[NPY_MAX_DIMS];
    if (npy_read_array(a->hidden, NPY_WANT_FLOAT, a->dtype, (void **)&H, &ndh, sh, err, errlen) != 0) goto done;
    if (npy_read_array(a->router, NPY_WANT_FLOAT, a->dtype, (void **)&P, &ndp, sp, err, errlen) != 0) goto done;
    if ((ndh != 2 && ndh != 3) || ndp != 2 || sh[ndh - 1] != sp[1]) {
        snprintf(err, errlen, "%s and %s: expected N x D or B x T x D hidden states and an E x D router with the same D", a->hidden, a->router);
        goto done;
    }
    // B x T saturates (with D = 0 the file holds no element, and B x T may be anything)
    size_t N = ndh < 3 ? sh[0] : sh[1] && sh[0] > SIZE_MAX / sh[1] ? SIZE_MAX : sh[0] * sh[1];
    // the reader guarantees the data exist; an empty array (a 0 in a shape) or a count over int's
    // range (the kernels index rows, experts and D with int) is refused before any allocation
    if (sh[ndh - 1] < 1 || sp[0] < 1 || N < 1 || sh[ndh - 1] > INT_MAX || sp[0] > INT_MAX || N > INT_MAX) {
        snprintf(err, errlen, "%s and %s: N = %zu hidden states, D = %zu, E = %zu experts: each must be 1..%d", a->hidden,
                 a->router, N, sh[ndh - 1], sp[0], INT_MAX);
        goto done;
    }
    int D = (int)sh[ndh - 1], E = (int)sp[0], K = a->top_k;
    // a NaN or Inf in a file is the file's fault (exit 2, named), not a failure of the work
    if (first_nonfinite(a->hidden, H, N, D, "hidden state", err, errlen) != 0 ||
        first_nonfinite(a->router, P, (size_t)E, D, "router row", err, errlen) != 0)
        goto done;
    if (ndh == 3 && a->seq_len > 0 && (size_t)a->seq_len != sh[1]) {
        snprintf(err, errlen, "%s: B x T x D with T = %zu, but --seq-len %d", a->hidden, sh[1], a->seq_len);
        goto done;
    }
    if (a->topk_file) {
        if (npy_read_array(a->topk_file, NPY_WANT_INT, NULL, (void **)&topk, &ndk, sk, err, errlen) != 0) goto done;
        size_t rows = ndk == 3 ? sk[0] * sk[1] : sk[0];
        int kf = (int)sk[ndk - 1];
        if ((ndk != 2 && ndk != 3) || rows != N || (ndk == 3 && ndh == 3 && sk[1] != sh[1])) {
            snprintf(err, errlen, "%s: expected %zu x K (or B x T x K) expert indices, one row per hidden state", a->topk_file, N);
            goto done;
        }
        if (K && K != kf) { snprintf(err, errlen, "%s: K = %d, but --top-k %d", a->topk_file, kf, K); goto done; }
        K = kf;
        for (size_t i = 0; i < N * (size_t)K; i++)
            if (topk[i] < 0 || topk[i] >= E) { snprintf(err, errlen, "%s: entry %zu is %d, outside 0..%d (the router's experts)", a->topk_file, i, topk[i], E - 1); goto done; }
        for (size_t i = 0; i < N; i++)
            for (int k = 0; k < K; k++)
                for (int j = 0; j < k; j++)
                    if (topk[i * K + k] == topk[i * K + j]) { snprintf(err, errlen, "%s: row %zu chooses expert %d twice", a->topk_file, i, topk[i * K + k]); goto done; }
    }
    if (K < 1 || K > E) { snprintf(err, errlen, "--top-k: expected 1..%d (the router's experts), found %d", E, K); goto done; }
    if (N < 2) { snprintf(err, errlen, "%s: need at least 2 hidden states", a->hidden); goto done; }
    // Sequences: --seq-len, or the T of a B x T x D input. Without either, the whole input is one
    // sequence: the per-sequence keys (Eqs. 7, 8, 10-12) are computed over all N rows at once, and
    // the sequence-pair keys (Eqs. 14-19) are null.
    int T = a->seq_len > 0 ? a->seq_len : ndh == 3 ? (int)sh[1] : (int)N;
    if ((size_t)T > N) T = (int)N;
    size_t S = (N + (size_t)T - 1) / (size_t)T;
    int ndom = 0;
    if (a->domains) {
        if (npy_read_array(a->domains, NPY_WANT_INT, NULL, (void **)&dom, &ndd, sd, err, errlen) != 0) goto done;
        size_t cnt = ndd == 2 ? sd[0] * sd[1] : sd[0];
        if (ndd > 2 || cnt != N) { snprintf(err, errlen, "%s: expected %zu int32 labels, one per hidden state", a->domains, N); goto done; }
        for (size_t i = 0; i < N; i++) {
            if (dom[i] < 0) { snprintf(err, errlen, "%s: label %zu is negative", a->domains, i); goto done; }
            if (dom[i] + 1 > ndom) ndom = dom[i] + 1;
        }
    }
    // z = P·h for all rows at once (blocked, in double), stored as float
    Z = malloc(sizeof(float) * N * E);
    Pt = malloc(sizeof(double) * (size_t)D * E);
    Zd = malloc(sizeof(double) * N * E);
    if (!topk) topk = malloc(sizeof(int32_t) * N * K);
    rc = ANALYZE_FAILED;  // the inputs are good: what fails now is the work
    if (!Z || !Pt || !Zd || !topk) { snprintf(err, errlen, "out of memory"); goto done; }
    for (int e = 0; e < E; e++)
        for (int i = 0; i < D; i++) Pt[(size_t)i * E + e] = P[(size_t)e * D + i];
    if (linalg_xw(Zd, H, N, D, Pt, E) != 0) { snprintf(err, errlen, "out of memory"); goto done; }
    for (size_t i = 0; i < N * (size_t)E; i++) {
        Z[i] = (float)Zd[i];
        if (!isfinite(Z[i])) {  // finite inputs whose logit overflows float32: still the inputs' fault
            snprintf(err, errlen, "%s and %s: the logit of hidden state %zu for expert %zu is %g, beyond float32 "
                     "(the values are too large)", a->hidden, a->router, i / (size_t)E, i % (size_t)E, Zd[i]);
            rc = ANALYZE_BAD_INPUT;
            goto done;
        }
    }
    free(Zd); Zd = NULL;
    // the K largest logits (softmax and sigmoid are monotone), unless the model's choices are given
    // (nn's router top-K: ties to the lower index, as the model routes)
    if (!a->topk_file) router_topk(topk, Z, NULL, (int)N, E, K, 0);
    LayerData d = {.N = N, .D = D, .E = E, .K = K, .T = T, .H = H, .P = P, .Z = Z, .topk = topk,
                   .domain = dom, .n_domains = ndom, .token = NULL};
    MetricsOptions mo;
    metrics_default_options(&mo);
    if (a->pairs > 0) mo.pairs = a->pairs;
    if (a->top_p > 0) mo.top_p = a->top_p;
    mo.alignment = a->alignment > 0 || (a->alignment < 0 && D <= ANALYZE_COSTLY_MAX_D);
    Rng rng;
    rng_seed(&rng, 1, 0xA7A1);
    LayerMetrics lm;
    MetricsShape shape = metrics_shape(&d, &mo);
    if (metrics_scratch_init(&scratch, &shape) != 0) { snprintf(err, errlen, "out of memory"); goto done; }
    if (metrics_layer(&lm, NULL, &d, &mo, &scratch, &rng, err, errlen) != 0) goto done;
    if (a->sigmoid) {
        // Sigmoid scores: the score statistics on the normalized scores σ(z_e) / Σ_e σ(z_e), which
        // is the softmax of log σ(z); the logit keys stay on z.
        for (size_t i = 0; i < N * (size_t)E; i++) {
            double z = Z[i];
            Z[i] = (float)(z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)));
        }
        metrics_softmax_stats(&lm.router_confidence, &lm.topk_score_sum, &lm.router_entropy, Z, N, E, K, T);
    }
    char p[IO_CHILD_PATH_MAX];
    if (mkdir_p(a->out) != 0) { snprintf(err, errlen, "cannot create %s: %s", a->out, strerror(errno)); goto done; }
    AtomicFile af;
    FILE *f = afile_open(&af, path_join(p, sizeof p, a->out, "analysis.json"));
    if (!f) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); goto done; }
    JsonWriter w;
    json_begin(&w, f);
    json_object(&w);
    json_key(&w, "n"); json_uint(&w, N);
    json_key(&w, "d"); json_int(&w, D);
    json_key(&w, "experts"); json_int(&w, E);
    json_key(&w, "top_k"); json_int(&w, K);
    json_key(&w, "seq_len"); json_int(&w, T);
    json_key(&w, "domains"); json_int(&w, ndom);
    json_key(&w, "sequences"); json_uint(&w, S);
    json_key(&w, "sequences_from");
    json_str(&w, a->seq_len > 0 ? "--seq-len: consecutive rows, the last sequence may be shorter"
                 : ndh == 3     ? "the input's shape: B x T x D, one sequence per b"
                                : "the whole input: no --seq-len was given, so the N rows are one sequence");
    json_key(&w, "choices_from");
    json_str(&w, a->topk_file ? "--topk-file: the model's own choices" : "the K largest logits z = P h");
    json_key(&w, "score"); json_str(&w, a->sigmoid ? "sigmoid" : "softmax");
    const char *names[METRICS_NSCALARS];
    double values[METRICS_NSCALARS];
    metrics_list(names, NULL, values, &lm);
    json_key(&w, "null_because");
    json_object(&w);
    for (int i = 0; i < METRICS_NSCALARS; i++)
        if (!isfinite(values[i])) {
            json_key(&w, names[i]);
            json_str(&w, null_reason(names[i], S, ndom > 0, mo.alignment));
        }
    json_end(&w);
    json_metrics(&w, &lm);
    json_end(&w);
    if (afile_commit(&af) != 0) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); goto done; }
    if ((a->truncation > 0 || (a->truncation < 0 && D <= ANALYZE_COSTLY_MAX_D)) && write_truncation(a->out, layer, H, P, N, D, E, K, err, errlen) != 0) goto done;
    if (lm_out) *lm_out = lm;
    rc = 0;
done:
    free(H); free(P); free(Z); free(Pt); free(Zd); free(dom); free(topk);
    metrics_scratch_free(&scratch);
    return rc;
}

int analyze_files(const AnalyzeArgs *a, char *err, size_t errlen) { return analyze_one(a, 0, NULL, err, errlen); }

int analyze_folder(const char *dir, const AnalyzeArgs *a, char *err, size_t errlen) {
    // the layers present: layer<i>.hidden.npy, i from the smallest found, consecutive
    DIR *dd = opendir(dir);
    if (!dd) { snprintf(err, errlen, "%s: cannot open the folder: %s", dir, strerror(errno)); return ANALYZE_BAD_INPUT; }
    int lo = -1, hi = -1;
    struct dirent *de;
    while ((de = readdir(dd))) {
        int i, n = 0;
        if (sscanf(de->d_name, "layer%d.hidden.npy%n", &i, &n) == 1 && n > 0 && de->d_name[n] == '\0' && i >= 0) {
            if (lo < 0 || i < lo) lo = i;
            if (i > hi) hi = i;
        }
    }
    closedir(dd);
    if (lo < 0) { snprintf(err, errlen, "%s: no layer<i>.hidden.npy files", dir); return ANALYZE_BAD_INPUT; }
    char p[IO_CHILD_PATH_MAX];
    if (mkdir_p(a->out) != 0) return io_fail(err, errlen, "cannot create %s: %s", a->out, strerror(errno));
    AtomicFile af;
    FILE *f = afile_open(&af, path_join(p, sizeof p, a->out, "depth.csv"));
    if (!f) return io_fail(err, errlen, "cannot write %s: %s", p, strerror(errno));
    const char *names[METRICS_NSCALARS];
    metrics_list(names, NULL, NULL, &(LayerMetrics){0});
    fprintf(f, "layer");
    for (int i = 0; i < METRICS_NSCALARS; i++) fprintf(f, ",%s", names[i]);
    fprintf(f, "\n");
    int count = 0;
    for (int l = lo; l <= hi; l++) {
        char hid[IO_CHILD_PATH_MAX], rou[IO_CHILD_PATH_MAX], tk[IO_CHILD_PATH_MAX], lab[IO_CHILD_PATH_MAX], sub[IO_CHILD_PATH_MAX], name[64];
        // the other names are as long or shorter: if hid fits, they do
        snprintf(name, sizeof name, "layer%d.hidden.npy", l);
        if (!path_join(hid, sizeof hid, dir, name) || !path_join(sub, sizeof sub, a->out, name)) {
            afile_abort(&af);
            io_fail(err, errlen, "%s: %s", hid, strerror(ENAMETOOLONG));
            return ANALYZE_BAD_INPUT;
        }
        if (!file_exists(hid)) {
            afile_abort(&af);
            snprintf(err, errlen, "%s: layers %d..%d found, but layer %d is missing", dir, lo, hi, l);
            return ANALYZE_BAD_INPUT;
        }
        snprintf(name, sizeof name, "layer%d.router.npy", l);
        path_join(rou, sizeof rou, dir, name);
        snprintf(name, sizeof name, "layer%d.topk.npy", l);
        path_join(tk, sizeof tk, dir, name);
        snprintf(name, sizeof name, "layer%d.labels.npy", l);
        path_join(lab, sizeof lab, dir, name);
        if (!file_exists(lab)) path_join(lab, sizeof lab, dir, "labels.npy");
        snprintf(name, sizeof name, "layer%d", l);
        path_join(sub, sizeof sub, a->out, name);
        AnalyzeArgs b = *a;
        b.hidden = hid;
        b.router = rou;
        b.topk_file = file_exists(tk) ? tk : NULL;
        b.domains = a->domains ? a->domains : file_exists(lab) ? lab : NULL;
        b.out = sub;
        if (b.topk_file && a->top_k == 0) b.top_k = 0;
        LayerMetrics lm;
        char e2[IO_MSG_MAX];
        int rc = analyze_one(&b, l, &lm, e2, sizeof e2);
        if (rc != 0) {
            afile_abort(&af);
            snprintf(err, errlen, "layer %d: %s", l, e2);
            return rc;
        }
        double values[METRICS_NSCALARS];
        metrics_list(NULL, NULL, values, &lm);
        fprintf(f, "%d", l);
        for (int i = 0; i < METRICS_NSCALARS; i++) {
            if (isfinite(values[i])) fprintf(f, ",%.9g", values[i]);
            else fprintf(f, ",");
        }
        fprintf(f, "\n");
        count++;
    }
    if (afile_commit(&af) != 0) return io_fail(err, errlen, "cannot write %s: %s", p, strerror(errno));
    return count;
}
