// usage.c — the measurements of expert usage: balance (MaxVio, load entropy), frequency vectors
// and their similarity (Eqs. 13, 14, 18, 19), domains (FreqSim across domains, NMI), token-ID
// specialization and context dependence, and expert removal. Pure functions over arrays
// (metrics.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "linalg.h"
#include "metrics_internal.h"

// ---- balance -------------------------------------------------------------------------------------

void metrics_balance(double *maxvio, double *entropy, const int32_t *topk, size_t N, int K, int E) {
    double *load = calloc((size_t)E, sizeof(double));  // E: choices per expert
    if (!load) { *maxvio = *entropy = NAN; return; }
    for (size_t i = 0; i < N * (size_t)K; i++) load[topk[i]] += 1.0;
    double total = (double)N * K, mean = total / E, mx = 0.0, h = 0.0;
    for (int e = 0; e < E; e++) {
        if (load[e] > mx) mx = load[e];
        double q = load[e] / total;
        if (q > 0.0) h -= q * log(q);
    }
    *maxvio = mx / mean - 1.0;
    *entropy = h;
    free(load);
}

// ---- Eqs. 13, 14, 18, 19: frequency vectors, FreqSim, top-P Jaccard -------------------------------

void metrics_freq(double *f, const int32_t *topk, size_t n, int K, int E) {
    memset(f, 0, (size_t)E * sizeof(double));
    for (size_t i = 0; i < n * (size_t)K; i++) f[topk[i]] += 1.0;
    double inv = n ? 1.0 / ((double)n * K) : 0.0;
    for (int e = 0; e < E; e++) f[e] *= inv;
}

int metrics_top_p_set(uint8_t *in_set, const double *f, int E, double P) {
    // Walk experts in decreasing frequency (ties: lower index) until the mass reaches P. The
    // 1e-12 tolerance keeps a prefix whose exact sum is P (e.g. 0.5 + 0.3 = 0.8) from missing
    // it by one rounding step.
    memset(in_set, 0, (size_t)E);
    double cum = 0.0;
    int size = 0;
    while (size < E && cum < P - 1e-12) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!in_set[e] && (best < 0 || f[e] > f[best])) best = e;
        if (f[best] <= 0.0) break;                     // nothing left carries mass
        in_set[best] = 1;
        cum += f[best];
        size++;
    }
    return size;
}

double metrics_jaccard_sets(const uint8_t *a, const uint8_t *b, int E) {
    int inter = 0, uni = 0;
    for (int e = 0; e < E; e++) { inter += a[e] && b[e]; uni += a[e] || b[e]; }
    return uni ? (double)inter / uni : 1.0;            // two empty sets are identical
}

double metrics_jaccard(const double *fa, const double *fb, int E, double P) {
    uint8_t *sa = malloc((size_t)E), *sb = malloc((size_t)E);
    if (!sa || !sb) { free(sa); free(sb); return NAN; }
    metrics_top_p_set(sa, fa, E, P);
    metrics_top_p_set(sb, fb, E, P);
    double j = metrics_jaccard_sets(sa, sb, E);
    free(sa); free(sb);
    return j;
}

// ---- domains ---------------------------------------------------------------------------------------

void metrics_domain_freq(double *M, size_t *count, const int32_t *topk, const int32_t *domain,
                         size_t N, int K, int E, int Dom) {
    memset(M, 0, (size_t)Dom * E * sizeof(double));
    size_t *n = calloc((size_t)Dom, sizeof(size_t));
    if (!n) { for (size_t i = 0; i < (size_t)Dom * E; i++) M[i] = NAN; return; }
    for (size_t i = 0; i < N; i++) {
        n[domain[i]]++;
        for (int k = 0; k < K; k++) M[(size_t)domain[i] * E + topk[i * (size_t)K + k]] += 1.0;
    }
    for (int d = 0; d < Dom; d++) {
        double inv = n[d] ? 1.0 / (double)n[d] : 0.0;
        for (int e = 0; e < E; e++) M[(size_t)d * E + e] *= inv;
        if (count) count[d] = n[d];
    }
    free(n);
}

double metrics_nmi(const int32_t *topk, const int32_t *domain, size_t N, int K, int E, int Dom) {
    double *J = calloc((size_t)Dom * E + Dom + E, sizeof(double));   // joint counts, then margins
    if (!J) return NAN;
    double *pd = J + (size_t)Dom * E, *pe = pd + Dom;
    for (size_t i = 0; i < N; i++)
        for (int k = 0; k < K; k++) J[(size_t)domain[i] * E + topk[i * (size_t)K + k]] += 1.0;
    double total = (double)N * K;
    for (int d = 0; d < Dom; d++)
        for (int e = 0; e < E; e++) { pd[d] += J[(size_t)d * E + e]; pe[e] += J[(size_t)d * E + e]; }
    double hd = 0.0, he = 0.0, mi = 0.0;
    for (int d = 0; d < Dom; d++) { double p = pd[d] / total; if (p > 0.0) hd -= p * log(p); }
    for (int e = 0; e < E; e++) { double p = pe[e] / total; if (p > 0.0) he -= p * log(p); }
    for (int d = 0; d < Dom; d++)
        for (int e = 0; e < E; e++) {
            double c = J[(size_t)d * E + e];
            if (c > 0.0) mi += c / total * log(c * total / (pd[d] * pe[e]));
        }
    free(J);
    double mn = hd < he ? hd : he;
    return mn > 0.0 ? mi / mn : 0.0;                   // one domain or one expert: no information
}

void metrics_cross_domain(double *freqsim, double *jaccard, const double *M, const size_t *count,
                          int Dom, int E, int K, double P) {
    double fs = 0.0, jc = 0.0, npairs = 0.0;
    double *fa = malloc((size_t)E * sizeof(double)), *fb = malloc((size_t)E * sizeof(double));
    if (!fa || !fb) { fs = jc = NAN; goto done; }
    for (int a = 0; a < Dom; a++) {
        if (!count[a]) continue;
        for (int e = 0; e < E; e++) fa[e] = M[(size_t)a * E + e] / K;   // Eq. 13: sums to 1
        for (int b = a + 1; b < Dom; b++) {
            if (!count[b]) continue;
            for (int e = 0; e < E; e++) fb[e] = M[(size_t)b * E + e] / K;
            fs += metrics_cosine(fa, fb, E);
            jc += metrics_jaccard(fa, fb, E, P);
            npairs += 1.0;
        }
    }
    if (npairs > 0.0) { fs /= npairs; jc /= npairs; } else fs = jc = NAN;
done:
    if (freqsim) *freqsim = fs;
    if (jaccard) *jaccard = jc;
    free(fa); free(fb);
}

// ---- token-ID specialization (OLMoE) ---------------------------------------------------------

typedef struct { int32_t tok, row; } TokRow;

static int cmp_tokrow(const void *a, const void *b) {   // total order: id, then row
    const TokRow *x = a, *y = b;
    if (x->tok != y->tok) return x->tok < y->tok ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

double metrics_token_specialization(const int32_t *topk, const int32_t *token, size_t N, int K, int E) {
    TokRow *tr = malloc(N * sizeof(TokRow));
    size_t *c = calloc((size_t)E, sizeof(size_t));     // E: counts of one token id
    if (!tr || !c) { free(tr); free(c); return -1.0; }
    for (size_t i = 0; i < N; i++) { tr[i].tok = token[i]; tr[i].row = (int32_t)i; }
    qsort(tr, N, sizeof(TokRow), cmp_tokrow);
    double sum_max = 0.0;                              // sum over ids of max_e N(x, e)
    for (size_t lo = 0; lo < N;) {
        size_t hi = lo;
        while (hi < N && tr[hi].tok == tr[lo].tok) hi++;   // rows of one id: [lo, hi)
        size_t mx = 0;
        for (size_t g = lo; g < hi; g++)
            for (int k = 0; k < K; k++) {
                size_t v = ++c[topk[(size_t)tr[g].row * K + k]];
                if (v > mx) mx = v;
            }
        for (size_t g = lo; g < hi; g++)                // reset only what this id touched
            for (int k = 0; k < K; k++) c[topk[(size_t)tr[g].row * K + k]] = 0;
        sum_max += (double)mx;
        lo = hi;
    }
    free(tr); free(c);
    // Weighted by occurrences: sum_x N(x) * max_e N(x,e)/N(x) / N.
    return sum_max / (double)N;
}

int metrics_token_context(double *freqsim, double *jaccard, const int32_t *topk, const int32_t *token,
                          const int32_t *domain, size_t N, int K, int E, int Dom, double P) {
    TokRow *tr = malloc(N * sizeof(TokRow));
    double *c = calloc((size_t)Dom * E, sizeof(double));   // Dom x E usage counts of one token id
    size_t *occ = calloc((size_t)Dom, sizeof(size_t));      // Dom occurrences of that id
    if (!tr || !c || !occ) { free(tr); free(c); free(occ); return -1; }
    for (size_t i = 0; i < N; i++) { tr[i].tok = token[i]; tr[i].row = (int32_t)i; }
    qsort(tr, N, sizeof(TokRow), cmp_tokrow);
    double fs_sum = 0, jc_sum = 0;
    size_t ids = 0;
    for (size_t lo = 0; lo < N;) {
        size_t hi = lo;
        while (hi < N && tr[hi].tok == tr[lo].tok) hi++;   // rows of one id: [lo, hi)
        memset(c, 0, sizeof(double) * (size_t)Dom * E);
        memset(occ, 0, sizeof(size_t) * (size_t)Dom);
        for (size_t g = lo; g < hi; g++) {
            int d = domain[tr[g].row];
            occ[d]++;
            for (int k = 0; k < K; k++) c[(size_t)d * E + topk[(size_t)tr[g].row * K + k]] += 1;
        }
        double fs = 0, jc = 0;
        size_t pairs = 0;
        for (int a = 0; a < Dom; a++) {
            if (occ[a] < 2) continue;
            for (int b = a + 1; b < Dom; b++) {
                if (occ[b] < 2) continue;
                double fa[1024], fb[1024];
                if (E > 1024) continue;
                for (int e = 0; e < E; e++) {   // usage shares (sum to 1) for the top-P sets
                    fa[e] = c[(size_t)a * E + e] / ((double)occ[a] * K);
                    fb[e] = c[(size_t)b * E + e] / ((double)occ[b] * K);
                }
                fs += metrics_cosine(fa, fb, E);
                jc += metrics_jaccard(fa, fb, E, P);
                pairs++;
            }
        }
        if (pairs) { fs_sum += fs / pairs; jc_sum += jc / pairs; ids++; }
        lo = hi;
    }
    free(tr); free(c); free(occ);
    if (freqsim) *freqsim = ids ? fs_sum / ids : NAN;
    if (jaccard) *jaccard = ids ? jc_sum / ids : NAN;
    return 0;
}

// ---- expert removal ---------------------------------------------------------------------------

int metrics_mask_topk(int32_t *topk_out, uint8_t *masked, const float *score, size_t N, int E,
                      int K, double r) {
    if (!(r >= 0.0 && r <= 1.0)) return -1;
    int m = (int)floor(r * E + 0.5);                   // round(r E), halves up
    if (m + K > E) return -1;
    double *s = malloc((size_t)E * sizeof(double));
    uint8_t *taken = malloc((size_t)E);
    int32_t *gone = malloc((size_t)(m > 0 ? m : 1) * sizeof(int32_t));
    if (!s || !taken || !gone) { free(s); free(taken); free(gone); return -1; }
    for (size_t i = 0; i < N; i++) {
        for (int e = 0; e < E; e++) s[e] = score[i * (size_t)E + e];
        memset(taken, 0, (size_t)E);
        metrics_select_top(gone, s, E, m, taken);              // the m best are masked ...
        if (masked) {
            memset(masked + i * (size_t)E, 0, (size_t)E);
            for (int k = 0; k < m; k++) masked[i * (size_t)E + gone[k]] = 1;
        }
        metrics_select_top(topk_out + i * (size_t)K, s, E, K, taken);   // ... then the next K are chosen
    }
    free(s); free(taken); free(gone);
    return 0;
}
