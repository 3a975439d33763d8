// compare.c — rollouts of several models compared by expert usage (compare.h).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compare.h"
#include "../measure/metrics.h"
#include "../measure/rollouts.h"
#include "../io.h"
#include "../outdir.h"

// ---- folders ----------------------------------------------------------------------------------

typedef struct {
    int rows, len, L, K, prompt_len, E, D;
    int32_t *routes;   // rows x L x len x K
    int32_t *tokens;   // rows x len
    int *prompt, *sample, *domain;   // rows (domain -1: unknown)
    double *pool;      // rows x L x 2 x D (compare_pool), or NULL: no hidden states (no --route-with)
} GenDir;

static void gen_dir_free(GenDir *g) {
    free(g->routes); free(g->tokens); free(g->prompt); free(g->sample); free(g->domain); free(g->pool);
    memset(g, 0, sizeof *g);
}

static int field_int(const char *json, const char *key, int *out) {
    char v[64], *end;
    if (!json_field(json, key, v, sizeof v)) return -1;
    long x = strtol(v, &end, 10);
    if (end == v) return -1;
    *out = (int)x;
    return 0;
}

static int read_gen_dir(GenDir *g, const char *dir, int experts, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    memset(g, 0, sizeof *g);
    if (outdir_check(dir, "generate", err, errlen) != 0) return -1;  // a folder cut short or mixed is no model's rollouts
    char *json = read_text_file(path_join(p, sizeof p, dir, "generate.json"));
    if (!json) { snprintf(err, errlen, "%s: cannot read: %s (is %s a `moesim generate` folder?)", p, strerror(errno), dir); return -1; }
    int bad = field_int(json, "prompt_len", &g->prompt_len) || field_int(json, "layers", &g->L) ||
              field_int(json, "top_k", &g->K);
    // E: given, or generate.json's "experts", or (0) one more than the largest expert seen — an
    // expert no rollout uses adds a zero to every vector, which changes neither measure
    g->E = experts;
    if (!bad && !experts && field_int(json, "experts", &g->E) != 0) g->E = 0;
    if (bad) {
        snprintf(err, errlen, "%s: missing \"prompt_len\", \"layers\" or \"top_k\"", p);
        free(json);
        return -1;
    }
    int ndim;
    size_t sh[NPY_MAX_DIMS];
    if (npy_read_int32(path_join(p, sizeof p, dir, "tokens.npy"), &g->tokens, &ndim, sh, err, errlen) != 0) {
        free(json);
        return -1;
    }
    if (ndim != 2) { snprintf(err, errlen, "%s: expected rows x len", p); free(json); return -1; }
    g->rows = (int)sh[0];
    g->len = (int)sh[1];
    g->prompt = calloc((size_t)g->rows, sizeof(int));
    g->sample = calloc((size_t)g->rows, sizeof(int));
    g->domain = calloc((size_t)g->rows, sizeof(int));
    if (!g->prompt || !g->sample || !g->domain) { snprintf(err, errlen, "%s: out of memory", dir); free(json); return -1; }
    // rows: lines `    {"row": r, "prompt": p, "sample": s, ...`
    int seen = 0;
    for (const char *q = strstr(json, "{\"row\": "); q; q = strstr(q + 1, "{\"row\": ")) {
        int r, pr, s;
        if (sscanf(q, "{\"row\": %d, \"prompt\": %d, \"sample\": %d", &r, &pr, &s) != 3 || r < 0 || r >= g->rows) {
            snprintf(err, errlen, "%s/generate.json: a bad entry in \"rows\"", dir);
            free(json);
            return -1;
        }
        g->prompt[r] = pr;
        g->sample[r] = s;
        const char *dm = strstr(q, "\"domain\": ");
        g->domain[r] = dm && sscanf(dm, "\"domain\": %d", &g->domain[r]) == 1 ? g->domain[r] : -1;
        seen++;
    }
    free(json);
    if (seen != g->rows) {
        snprintf(err, errlen, "%s/generate.json: %d entries in \"rows\", tokens.npy has %d rows", dir, seen, g->rows);
        return -1;
    }
    if (npy_read_int32_nd(path_join(p, sizeof p, dir, "routes.npy"), &g->routes, 4, sh, err, errlen) != 0) return -1;
    if ((int)sh[0] != g->rows || (int)sh[1] != g->L || (int)sh[2] != g->len || (int)sh[3] != g->K) {
        snprintf(err, errlen, "%s: shape %zu x %zu x %zu x %zu, expected %d x %d x %d x %d (rows x layers x len x top_k)", p,
                 sh[0], sh[1], sh[2], sh[3], g->rows, g->L, g->len, g->K);
        return -1;
    }
    size_t n = (size_t)g->rows * g->L * g->len * g->K;
    if (g->E == 0)
        for (size_t i = 0; i < n; i++) g->E = g->routes[i] + 1 > g->E ? g->routes[i] + 1 : g->E;
    for (size_t i = 0; i < n; i++)
        if (g->routes[i] < 0 || g->routes[i] >= g->E) {
            snprintf(err, errlen, "%s: expert %d outside 0..%d", p, g->routes[i], g->E - 1);
            return -1;
        }
    return 0;
}

typedef struct {
    FILE *f;
    int layer;
    const RolloutId *ids;
} PairWriter;

static void write_pair(void *u, int a, int b, CompareKind kind, double overlap, double freqsim) {
    PairWriter *w = u;
    fprintf(w->f, "%d,%s,%d,%d,%d,%d,%d,%d,%.6f,%.6f\n", w->layer, compare_kind_names[kind], w->ids[a].model,
            w->ids[a].prompt, w->ids[a].sample, w->ids[b].model, w->ids[b].prompt, w->ids[b].sample, overlap, freqsim);
}


// track.csv and track_pairs.csv: each model's prompts (sample 0 of each) tracked as the rollout
// grows, at n = 0, 1, 2, ... generated tokens (every token up to 64, then 64 evenly spaced steps).
static int write_tracking(const GenDir *g, const CompareArgs *a, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX], q[IO_DEEP_PATH_MAX];
    AtomicFile ft, fq;
    FILE *t = afile_open(&ft, path_join(p, sizeof p, a->out, "track.csv"));
    if (!t) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); return -1; }
    FILE *tp = afile_open(&fq, path_join(q, sizeof q, a->out, "track_pairs.csv"));
    if (!tp) { snprintf(err, errlen, "cannot write %s: %s", q, strerror(errno)); afile_abort(&ft); return -1; }
    fprintf(t, "model,layer,kind,n,pairs,freqsim_mean,freqsim_sd\n");
    fprintf(tp, "model,layer,prompt_a,prompt_b,kind,freqsim_prompt,freqsim_full,pooled_prompt,pooled_full\n");
    const int L = g[0].L, K = g[0].K, E = g[0].E, S = g[0].len, n0 = g[0].prompt_len, T = S - n0;
    int nn = 0, *ns = malloc(sizeof(int) * 66);
    for (int j = 0; ns && j <= 64 && j <= T; j++) ns[nn++] = T <= 64 ? j : (int)((long)j * T / 64);
    int rc = ns ? 0 : -1;
    for (int d = 0; d < a->ndirs && rc == 0; d++) {
        const GenDir *h = &g[d];
        int P = 0;
        for (int r = 0; r < h->rows; r++) P += h->sample[r] == 0;
        size_t npairs = (size_t)P * (P - 1) / 2;
        int32_t *routes = malloc(sizeof(int32_t) * ((size_t)P * L * S * K + 1));
        int *dom = malloc(sizeof(int) * ((size_t)P + 1)), *pid = malloc(sizeof(int) * ((size_t)P + 1)),
            *row = malloc(sizeof(int) * ((size_t)P + 1));
        TrackStat *st = malloc(sizeof(TrackStat) * (size_t)nn * TRACK_KINDS);
        double *fsp = malloc(sizeof(double) * (npairs + 1)), *fsf = malloc(sizeof(double) * (npairs + 1));
        if (!routes || !dom || !pid || !row || !st || !fsp || !fsf) rc = -1;
        for (int r = 0, i = 0; rc == 0 && r < h->rows; r++) {
            if (h->sample[r] != 0) continue;
            memcpy(routes + (size_t)i * L * S * K, h->routes + (size_t)r * L * S * K, sizeof(int32_t) * (size_t)L * S * K);
            dom[i] = h->domain[r];
            row[i] = r;
            pid[i++] = h->prompt[r];
        }
        for (int l = 0; rc == 0 && l < L && P >= 2; l++) {
            compare_track(st, fsp, fsf, routes, dom, P, L, S, K, E, n0, l, ns, nn);
            for (int j = 0; j < nn; j++)
                for (int k = 0; k < TRACK_KINDS; k++) {
                    const TrackStat *x = &st[j * TRACK_KINDS + k];
                    if (!x->pairs) continue;
                    double m = x->sum / x->pairs, v = x->pairs > 1 ? (x->sumsq - x->sum * m) / (x->pairs - 1) : NAN;
                    fprintf(t, "%d,%d,%s,%d,%ld,%.6f,", d, l, track_kind_names[k], ns[j], x->pairs, m);
                    if (isfinite(v)) fprintf(t, "%.6f\n", sqrt(v > 0 ? v : 0));
                    else fprintf(t, "nan\n");
                }
            size_t pair = 0;
            for (int i = 0; i < P; i++)
                for (int j = i + 1; j < P; j++, pair++) {
                    fprintf(tp, "%d,%d,%d,%d,%s,%.6f,%.6f", d, l, pid[i], pid[j],
                            track_kind_names[dom[i] >= 0 && dom[i] == dom[j] ? TRACK_SAME_DOMAIN : TRACK_CROSS_DOMAIN],
                            fsp[pair], fsf[pair]);
                    if (!h->pool) { fprintf(tp, ",nan,nan\n"); continue; }
                    // Eq. 17 over the prompt (w = 0) and over prompt + rollout (w = 1): pools of D
                    const int D = h->D;
                    const double *pa = h->pool + ((size_t)row[i] * L + l) * 2 * D, *pb = h->pool + ((size_t)row[j] * L + l) * 2 * D;
                    fprintf(tp, ",%.6f,%.6f\n", metrics_cosine(pa, pb, D), metrics_cosine(pa + D, pb + D, D));
                }
        }
        if (rc != 0) snprintf(err, errlen, "out of memory tracking %s", a->dirs[d]);
        free(routes); free(dom); free(pid); free(row); free(st); free(fsp); free(fsf);
    }
    free(ns);
    if (rc != 0) { afile_abort(&ft); afile_abort(&fq); return -1; }
    if (afile_commit(&fq) != 0) { snprintf(err, errlen, "cannot write %s: %s", q, strerror(errno)); afile_abort(&ft); return -1; }
    if (afile_commit(&ft) != 0) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); return -1; }
    return 0;
}

int compare_dirs(const CompareArgs *a, char *err, size_t errlen) {
    if (a->ndirs < 1) { snprintf(err, errlen, "no GEN_DIR given"); return 2; }
    GenDir *g = calloc((size_t)a->ndirs, sizeof *g);
    if (!g) { snprintf(err, errlen, "out of memory"); return 1; }
    int rc = 0, R = 0;
    for (int d = 0; d < a->ndirs && rc == 0; d++) {
        if (read_gen_dir(&g[d], a->dirs[d], a->experts, err, errlen) != 0) { rc = 2; break; }
        if (a->route) {  // the analyzer's routing of this folder's tokens replaces its own
            int32_t *rt = NULL;
            float *hid = NULL;
            char e2[IO_MSG_MAX];
            if (a->route(a->route_ctx, g[d].tokens, g[d].rows, g[d].len, &rt, &hid, &g[d].L, &g[d].K, &g[d].E, &g[d].D, e2,
                         sizeof e2) != 0) {
                snprintf(err, errlen, "%s: routing its tokens: %s", a->dirs[d], e2);
                rc = 2;
                break;
            }
            free(g[d].routes);
            g[d].routes = rt;
            // the analyzer's router inputs, pooled at once (rows x L x 2 x D) and dropped
            g[d].pool = malloc(sizeof(double) * ((size_t)g[d].rows * g[d].L * 2 * g[d].D + 1));
            if (!g[d].pool) { free(hid); snprintf(err, errlen, "out of memory"); rc = 1; break; }
            compare_pool(g[d].pool, hid, g[d].rows, g[d].L, g[d].len, g[d].D, g[d].prompt_len);
            free(hid);
        }
        const GenDir *f = &g[0], *h = &g[d];
        if (!a->experts && h->E != f->E) {  // derived from the largest expert seen: take the largest
            int e = h->E > f->E ? h->E : f->E;
            for (int j = 0; j <= d; j++) g[j].E = e;
        }
        if (h->L != f->L || h->K != f->K || h->len != f->len || h->prompt_len != f->prompt_len || h->E != f->E) {
            snprintf(err, errlen, "%s: %d layers, top-k %d, %d experts, length %d, prompt length %d; %s has %d, %d, %d, %d, %d",
                     a->dirs[d], h->L, h->K, h->E, h->len, h->prompt_len, a->dirs[0], f->L, f->K, f->E, f->len, f->prompt_len);
            rc = 2;
            break;
        }
        // the same questions: every prompt index present in both has the same prompt tokens
        for (int r = 0; r < h->rows && rc == 0; r++)
            for (int s = 0; s < f->rows; s++)
                if (f->prompt[s] == h->prompt[r] &&
                    memcmp(f->tokens + (size_t)s * f->len, h->tokens + (size_t)r * h->len, sizeof(int32_t) * h->prompt_len)) {
                    snprintf(err, errlen, "%s: prompt %d differs from prompt %d of %s: the folders must come from the "
                             "same prompts (same --prompts, --prompt-len, --prompt-domain or --prompt-file, and the same world)",
                             a->dirs[d], h->prompt[r], f->prompt[s], a->dirs[0]);
                    rc = 2;
                    break;
                }
        R += h->rows;
    }
    if (rc == 0 && (g[0].len <= g[0].prompt_len && !a->include_prompt)) {
        snprintf(err, errlen, "%s: no generated tokens (length %d = prompt length); use --include-prompt", a->dirs[0], g[0].len);
        rc = 2;
    }
    int L = g[0].L, E = g[0].E, K = g[0].K, S = g[0].len;
    int from = a->include_prompt ? 0 : g[0].prompt_len;
    double *freq = NULL;
    RolloutId *ids = NULL;
    if (rc == 0) {
        freq = malloc(sizeof(double) * (size_t)R * L * E);
        ids = malloc(sizeof(RolloutId) * (size_t)R);
        if (!freq || !ids) { snprintf(err, errlen, "out of memory"); rc = 1; }
    }
    if (rc == 0) {
        int r0 = 0;
        for (int d = 0; d < a->ndirs; d++) {
            compare_freqs(freq + (size_t)r0 * L * E, g[d].routes, g[d].rows, L, S, K, E, from, S);
            for (int r = 0; r < g[d].rows; r++) ids[r0 + r] = (RolloutId){d, g[d].prompt[r], g[d].sample[r]};
            r0 += g[d].rows;
        }
        char p[IO_DEEP_PATH_MAX], q[IO_DEEP_PATH_MAX];
        AtomicFile fc, fp;
        FILE *c = NULL, *pf = NULL;
        if (mkdir_p(a->out) != 0) { snprintf(err, errlen, "cannot create %s: %s", a->out, strerror(errno)); rc = 1; }
        else if (!(c = afile_open(&fc, path_join(p, sizeof p, a->out, "compare.csv")))) {
            snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); rc = 1;
        } else if (!(pf = afile_open(&fp, path_join(q, sizeof q, a->out, "compare_pairs.csv")))) {
            snprintf(err, errlen, "cannot write %s: %s", q, strerror(errno)); afile_abort(&fc); rc = 1;
        }
        if (rc == 0) {
            fprintf(c, "layer,kind,pairs,overlap_mean,overlap_sd,freqsim_mean\n");
            fprintf(pf, "layer,kind,model_a,prompt_a,sample_a,model_b,prompt_b,sample_b,overlap,freqsim\n");
            for (int l = 0; l < L; l++) {
                CompareStat st[CMP_KINDS];
                PairWriter w = {pf, l, ids};
                // rollout r's layer-l vector sits at freq + (r L + l) E: stride L E between rollouts
                compare_layer(st, freq + (size_t)l * E, (size_t)L * E, ids, R, E, a->top_p, write_pair, &w);
                for (int k = 0; k < CMP_KINDS; k++) {
                    if (!st[k].pairs) continue;
                    fprintf(c, "%d,%s,%ld,%.6f,", l, compare_kind_names[k], st[k].pairs, st[k].overlap_mean);
                    if (isfinite(st[k].overlap_sd)) fprintf(c, "%.6f", st[k].overlap_sd);
                    else fprintf(c, "nan");
                    fprintf(c, ",%.6f\n", st[k].freqsim_mean);
                }
            }
            if (rc == 0 && write_tracking(g, a, err, errlen) != 0) rc = 1;
            if (rc != 0) { afile_abort(&fp); afile_abort(&fc); }
            else if (afile_commit(&fp) != 0) { snprintf(err, errlen, "cannot write %s: %s", q, strerror(errno)); afile_abort(&fc); rc = 1; }
            else if (afile_commit(&fc) != 0) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); rc = 1; }
        }
    }
    free(freq);
    free(ids);
    for (int d = 0; d < a->ndirs; d++) gen_dir_free(&g[d]);
    free(g);
    return rc;
}
