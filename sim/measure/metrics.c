// metrics.c — the measurements of one MoE layer as pure functions over arrays. See metrics.h for
// the contract and docs/METRICS.md for every formula and its source.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "linalg.h"

// ---- small helpers ------------------------------------------------------------------------------

void metrics_default_options(MetricsOptions *opt) {
    opt->pairs = 2048;
    opt->seq_pairs = 4096;
    opt->top_p = 0.8;
    opt->prop1_rank = 1;
    opt->prop1_slack = 1e-5;
}

double metrics_cosine(const double *a, const double *b, int n) {
    double na = linalg_norm(a, n), nb = linalg_norm(b, n);
    if (na == 0.0 || nb == 0.0) return 0.0;   // convention: a zero vector is orthogonal to all
    return linalg_dot(a, b, n) / (na * nb);
}

double metrics_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0.0, my = 0.0;
    for (size_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= (double)n; my /= (double)n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;          // two-pass: centred sums, no cancellation
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    if (sxx == 0.0 || syy == 0.0) return NAN;
    return sxy / sqrt(sxx * syy);
}

// Indices of the K largest of x[0..E) by decreasing value, ties to the lower index, skipping
// (and then marking) entries already flagged in taken. Repeated argmax: O(K E), fine for E <= 1024.
static void select_top(int32_t *idx, const double *x, int E, int K, uint8_t *taken) {
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!taken[e] && (best < 0 || x[e] > x[best])) best = e;   // strict >: lower index wins
        idx[k] = best;
        taken[best] = 1;
    }
}

// ---- Eq. 5: RMS distance, pairs --------------------------------------------------------------------

double metrics_rms(const float *a, const float *b, int d) {
    double s = 0.0;
    for (int k = 0; k < d; k++) { double t = (double)a[k] - (double)b[k]; s += t * t; }
    return sqrt(s / d);
}

void metrics_sample_pairs(int32_t *pairs, int M, size_t n, Rng *rng) {
    for (int m = 0; m < M; m++) {
        uint32_t i = rng_below(rng, (uint32_t)n);
        uint32_t j = rng_below(rng, (uint32_t)(n - 1));
        j += (j >= i);                                  // uniform over j != i
        pairs[2 * m] = (int32_t)i;
        pairs[2 * m + 1] = (int32_t)j;
    }
}

// ---- Eqs. 7, 8, suppression ---------------------------------------------------------------------

static double quad_form(const double *G, const double *v, int D) {   // vᵀ G v
    double s = 0.0;
    for (int a = 0; a < D; a++) s += v[a] * linalg_dot(G + (size_t)a * D, v, D);
    return s;
}

double metrics_directional_energy(const double *G, const double *v, int D) {
    double tr = 0.0;
    for (int a = 0; a < D; a++) tr += G[(size_t)a * D + a];   // tr(G) = sum_i |h_i|^2
    if (tr <= 0.0) return NAN;
    return quad_form(G, v, D) / tr;
}

void metrics_center_rows(double *B, const float *P, int E, int D) {
    for (int a = 0; a < D; a++) {                       // each column: subtract its mean over E
        double mean = 0.0;
        for (int e = 0; e < E; e++) mean += P[(size_t)e * D + a];
        mean /= E;
        for (int e = 0; e < E; e++) B[(size_t)e * D + a] = (double)P[(size_t)e * D + a] - mean;
    }
}

double metrics_retained_energy_centred(const double *G, const double *B, const double *v, int E, int D) {
    // Numerator: energy of the v component of the states, sum_i (v.h_i)^2 = vᵀGv, times the
    // squared gain |B v|^2 the centred router gives that direction.
    double bv2 = 0.0, den = 0.0;
    for (int e = 0; e < E; e++) {
        const double *b = B + (size_t)e * D;           // b: D, centred router row e
        double t = linalg_dot(b, v, D);
        bv2 += t * t;
        den += quad_form(G, b, D);                     // sum_i ((Pi_E P h_i)_e)^2
    }
    if (den <= 0.0) return NAN;
    return quad_form(G, v, D) * bv2 / den;
}

double metrics_retained_energy(const float *P, const double *v, const size_t *count, size_t n,
                               int E, int D) {
    double num = 0.0, fro = 0.0;
    for (int e = 0; e < E; e++) {
        const float *r = P + (size_t)e * D;            // r: D, router row e
        double t = 0.0;
        for (int a = 0; a < D; a++) { t += (double)r[a] * v[a]; fro += (double)r[a] * r[a]; }
        num += (double)count[e] * t * t;               // sum_t m_t^e <r_e, v>^2 (Eq. 9)
    }
    if (n == 0 || fro <= 0.0) return NAN;
    return num / ((double)n * fro);
}

// One sequence of n rows for metrics_seq_energy: r[0..2] energies, r[3] top-3 energy, r[4..6]
// retained energies; NaN where undefined (all of r for an all-zero sequence). Returns 0 or -2.
static int seq_energy_one(double *r, const float *H, const float *P, const int32_t *topk,
                          size_t n, int D, int E, int K) {
    double lam[3] = {0, 0, 0}, fro2;
    double *Vk = malloc((size_t)3 * D * sizeof(double));   // 3 x D leading directions
    size_t *c = calloc((size_t)E, sizeof(size_t));         // E: expert counts (sum_t m_t)
    if (!Vk || !c) { free(Vk); free(c); return -2; }
    const int k = D < 3 ? D : 3;                           // directions that exist at all
    int rc = linalg_svd_top(lam, Vk, &fro2, H, n, D, k) == -2 ? -2 : 0;
    for (int j = 0; j < 7; j++) r[j] = NAN;
    if (!rc && fro2 > 0.0) {                               // an all-zero sequence has no energy
        for (int j = 0; j < 3; j++) r[j] = lam[j] / fro2;  // Eq. 7, l = rho = j + 1
        r[3] = (lam[0] + lam[1] + lam[2]) / fro2;          // Eq. 7, l = 1, rho = 3
        for (size_t i = 0; i < n * (size_t)K; i++) c[topk[i]]++;
        for (int j = 0; j < k; j++) {
            const double *v = Vk + (size_t)j * D;
            if (linalg_dot(v, v, D) > 0.0)                 // else v_{j+1} is undefined (rank <= j)
                r[4 + j] = metrics_retained_energy(P, v, c, n, E, D);   // Eq. 8
        }
    }
    free(Vk); free(c);
    return rc;
}

int metrics_seq_energy(SeqEnergy *out, const float *H, const float *P, const int32_t *topk,
                       size_t N, int D, int E, int K, int T) {
    const size_t S = (N + (size_t)T - 1) / (size_t)T;     // sequences
    double *r = malloc((S ? S : 1) * 7 * sizeof(double));  // S x 7 per-sequence results
    int bad = r == NULL;
    // Sequences in parallel, each thread writing only its own rows of r; the means below are
    // summed in sequence order, so the result does not depend on the thread count. Jacobi costs
    // ~m³ per sweep on the m x m Gram matrix, m = min(T, D); below ~2e6 in all (the demo's 16
    // sequences at m = 32: 5e5) the threads cost more than they save.
    const double m = (double)((size_t)T < (size_t)D ? (size_t)T : (size_t)D);
    const int par = S > 1 && m * m * m * (double)S > 2e6;
    (void)par;                                             // unused without OpenMP
    if (!bad) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) if (par)
#endif
        for (size_t a = 0; a < S; a++) {
            size_t lo = a * (size_t)T, hi = lo + (size_t)T < N ? lo + (size_t)T : N;
            if (seq_energy_one(r + a * 7, H + lo * (size_t)D, P, topk + lo * (size_t)K, hi - lo, D, E, K)) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                bad = 1;
            }
        }
    }
    double sum[7] = {0, 0, 0, 0, 0, 0, 0};
    size_t cnt[7] = {0, 0, 0, 0, 0, 0, 0};
    for (size_t a = 0; !bad && a < S; a++)                 // mean over the sequences that define it
        for (int j = 0; j < 7; j++)
            if (!isnan(r[a * 7 + j])) { sum[j] += r[a * 7 + j]; cnt[j]++; }
    double mean[7];
    for (int j = 0; j < 7; j++) mean[j] = !bad && cnt[j] ? sum[j] / (double)cnt[j] : NAN;
    for (int j = 0; j < 3; j++) { out->energy[j] = mean[j]; out->retained[j] = mean[4 + j]; }
    out->top3 = mean[3];
    free(r);
    return bad ? -2 : 0;
}

double metrics_suppression(const double *B, const double *v, int E, int D) {
    double nb = linalg_spectral_norm(B, E, D);
    if (nb < 0.0) return -1.0;                         // allocation failure
    if (nb == 0.0) return NAN;
    double s = 0.0;
    for (int e = 0; e < E; e++) { double t = linalg_dot(B + (size_t)e * D, v, D); s += t * t; }
    return sqrt(s) / nb;
}

// ---- Eqs. 10, 11: within-sequence similarity ---------------------------------------------------

double metrics_seq_cosine(const float *X, size_t N, int d, int T) {
    double *sum = malloc((size_t)d * sizeof(double));  // d: sum of unit rows of one sequence
    if (!sum) return NAN;
    double total = 0.0;
    size_t nseq = 0;
    for (size_t lo = 0; lo < N; lo += (size_t)T) {     // sequence rows [lo, hi)
        size_t hi = lo + (size_t)T < N ? lo + (size_t)T : N, n = hi - lo;
        if (n < 2) continue;
        memset(sum, 0, (size_t)d * sizeof(double));
        double nonzero = 0.0;
        for (size_t i = lo; i < hi; i++) {
            const float *x = X + i * (size_t)d;
            double nn = 0.0;
            for (int k = 0; k < d; k++) nn += (double)x[k] * x[k];
            if (nn == 0.0) continue;                   // zero row: cosine 0 with everything
            double inv = 1.0 / sqrt(nn);
            for (int k = 0; k < d; k++) sum[k] += x[k] * inv;
            nonzero += 1.0;
        }
        // sum_{i != j} cos_ij = |sum_i x̂_i|^2 - sum_i |x̂_i|^2; pairs i < j are half of that.
        double s2 = linalg_dot(sum, sum, d);
        total += (s2 - nonzero) / ((double)n * (double)(n - 1));
        nseq++;
    }
    free(sum);
    return nseq ? total / (double)nseq : NAN;
}

double metrics_seq_hamming(const int32_t *topk, size_t N, int K, int E, int T) {
    size_t *c = malloc((size_t)E * sizeof(size_t));    // E: expert counts of one sequence
    if (!c) return NAN;
    double total = 0.0;
    size_t nseq = 0;
    for (size_t lo = 0; lo < N; lo += (size_t)T) {
        size_t hi = lo + (size_t)T < N ? lo + (size_t)T : N, n = hi - lo;
        if (n < 2) continue;
        memset(c, 0, (size_t)E * sizeof(size_t));
        for (size_t i = lo * (size_t)K; i < hi * (size_t)K; i++) c[topk[i]]++;
        double inter = 0.0;                            // sum over pairs i < j of |S_i ∩ S_j|
        for (int e = 0; e < E; e++)
            if (c[e] > 1) inter += 0.5 * (double)c[e] * (double)(c[e] - 1);
        double pairs = 0.5 * (double)n * (double)(n - 1);
        total += inter / (pairs * E);                  // mean over pairs of m_iᵀm_j / E
        nseq++;
    }
    free(c);
    return nseq ? total / (double)nseq : NAN;
}

// ---- Eq. 12 and the other softmax statistics -------------------------------------------------------

void metrics_softmax_stats(double *confidence, double *topk_sum, double *entropy,
                           const float *Z, size_t N, int E, int K, int T) {
    double *p = malloc((size_t)E * sizeof(double));    // E: probabilities of one token
    uint8_t *taken = malloc((size_t)E);
    int32_t *idx = malloc((size_t)K * sizeof(int32_t));
    double conf = 0.0, tks = 0.0, ent = 0.0;           // sums over sequences of sequence means
    double sc = 0.0, st = 0.0, se = 0.0;               // sums over the current sequence
    size_t nseq = 0;
    if (!p || !taken || !idx) { conf = tks = ent = NAN; goto done; }
    for (size_t i = 0; i < N; i++) {
        const float *z = Z + i * (size_t)E;            // z: E logits of token i
        double m = z[0];
        for (int e = 1; e < E; e++) if (z[e] > m) m = z[e];
        double s = 0.0;
        for (int e = 0; e < E; e++) { p[e] = exp((double)z[e] - m); s += p[e]; }
        double pmax = 0.0, h = 0.0;
        for (int e = 0; e < E; e++) {
            p[e] /= s;
            if (p[e] > pmax) pmax = p[e];
            if (p[e] > 0.0) h -= p[e] * log(p[e]);
        }
        memset(taken, 0, (size_t)E);
        select_top(idx, p, E, K, taken);
        double top = 0.0;
        for (int k = 0; k < K; k++) top += p[idx[k]];
        sc += pmax; st += top; se += h;
        if ((i + 1) % (size_t)T == 0 || i + 1 == N) {   // end of a sequence: add its means
            size_t n = i % (size_t)T + 1;
            conf += sc / (double)n; tks += st / (double)n; ent += se / (double)n;
            sc = st = se = 0.0;
            nseq++;
        }
    }
    if (nseq) { conf /= (double)nseq; tks /= (double)nseq; ent /= (double)nseq; }
    else conf = tks = ent = NAN;
done:
    if (confidence) *confidence = conf;
    if (topk_sum) *topk_sum = tks;
    if (entropy) *entropy = ent;
    free(p); free(taken); free(idx);
}

double metrics_seq_mean_norm(const float *X, size_t N, int d, int T) {
    double total = 0.0;
    size_t nseq = 0;
    for (size_t lo = 0; lo < N; lo += (size_t)T) {     // sequence rows [lo, hi)
        size_t hi = lo + (size_t)T < N ? lo + (size_t)T : N;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) {
            const float *x = X + i * (size_t)d;
            double nn = 0.0;
            for (int k = 0; k < d; k++) nn += (double)x[k] * x[k];
            s += sqrt(nn);
        }
        total += s / (double)(hi - lo);
        nseq++;
    }
    return nseq ? total / (double)nseq : NAN;
}

void metrics_pool(double *pool, const float *H, size_t n, int D) {
    memset(pool, 0, (size_t)D * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const float *h = H + i * (size_t)D;            // h: D
        double nn = 0.0;
        for (int k = 0; k < D; k++) nn += (double)h[k] * h[k];
        double inv = 1.0 / (sqrt(nn) + METRICS_POOL_EPS);   // Eq. 15
        for (int k = 0; k < D; k++) pool[k] += h[k] * inv;
    }
    for (int k = 0; k < D; k++) pool[k] /= (double)n;  // Eq. 16 (the cosine ignores the scale)
}

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

static double jaccard_sets(const uint8_t *a, const uint8_t *b, int E) {
    int inter = 0, uni = 0;
    for (int e = 0; e < E; e++) { inter += a[e] && b[e]; uni += a[e] || b[e]; }
    return uni ? (double)inter / uni : 1.0;            // two empty sets are identical
}

double metrics_jaccard(const double *fa, const double *fb, int E, double P) {
    uint8_t *sa = malloc((size_t)E), *sb = malloc((size_t)E);
    if (!sa || !sb) { free(sa); free(sb); return NAN; }
    metrics_top_p_set(sa, fa, E, P);
    metrics_top_p_set(sb, fb, E, P);
    double j = jaccard_sets(sa, sb, E);
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
        select_top(gone, s, E, m, taken);              // the m best are masked ...
        if (masked) {
            memset(masked + i * (size_t)E, 0, (size_t)E);
            for (int k = 0; k < m; k++) masked[i * (size_t)E + gone[k]] = 1;
        }
        select_top(topk_out + i * (size_t)K, s, E, K, taken);   // ... then the next K are chosen
    }
    free(s); free(taken); free(gone);
    return 0;
}

// ---- Proposition 1 ----------------------------------------------------------------------------

static int cmp_double(const void *a, const void *b) {   // ascending; +inf sorts last
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double metrics_median(double *x, size_t n) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof(double), cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

int metrics_prop1(Prop1Summary *out, double *lhs, double *rhs, double *naive,
                  const float *H, const float *P, const double *V, const int32_t *pairs, int M,
                  int D, int E, int r, double slack) {
    out->holds_fraction = out->tightness = out->naive_tightness = out->residual_ratio = NAN;
    double *Pd = malloc((size_t)E * D * sizeof(double));     // E x D  P in double
    double *PV = malloc((size_t)E * r * sizeof(double));     // E x r  P V_r
    double *w = malloc((size_t)(3 * D + E) * sizeof(double));
    double *ratio = malloc((size_t)(M > 0 ? M : 1) * sizeof(double));   // M residual ratios
    if (!Pd || !PV || !w || !ratio) { free(Pd); free(PV); free(w); free(ratio); return -2; }
    double *d = w, *p = w + D, *q = w + 2 * D, *y = w + 3 * D;   // d, Pi_r d, (I - Pi_r) d: D; y: E
    for (size_t i = 0; i < (size_t)E * D; i++) Pd[i] = P[i];
    for (int e = 0; e < E; e++)                        // |P Pi_r|_2 = |P V_r|_2 (V_r orthonormal)
        for (int k = 0; k < r; k++) {
            double t = 0.0;
            for (int a = 0; a < D; a++) t += Pd[(size_t)e * D + a] * V[(size_t)a * D + k];
            PV[(size_t)e * r + k] = t;
        }
    double npv = linalg_spectral_norm(PV, E, r);
    double np = linalg_spectral_norm(Pd, E, D);        // |P|_2 for the naive bound (Eq. 20)
    free(PV);
    if (npv < 0.0 || np < 0.0) { free(Pd); free(w); free(ratio); return -2; }
    size_t holds = 0, nt = 0, nn = 0, nr = 0;
    double tsum = 0.0, nsum = 0.0;
    for (int m = 0; m < M; m++) {
        const float *hi = H + (size_t)pairs[2 * m] * D, *hj = H + (size_t)pairs[2 * m + 1] * D;
        for (int a = 0; a < D; a++) d[a] = (double)hi[a] - (double)hj[a];
        memset(p, 0, (size_t)D * sizeof(double));
        for (int k = 0; k < r; k++) {                  // Pi_r d = sum_k (v_kᵀ d) v_k
            double c = 0.0;
            for (int a = 0; a < D; a++) c += V[(size_t)a * D + k] * d[a];
            for (int a = 0; a < D; a++) p[a] += c * V[(size_t)a * D + k];
        }
        for (int a = 0; a < D; a++) q[a] = d[a] - p[a];
        linalg_matvec(y, Pd, d, E, D);
        double l = linalg_norm(y, E);
        linalg_matvec(y, Pd, q, E, D);
        double npd = linalg_norm(p, D), nq = linalg_norm(q, D), nd = linalg_norm(d, D);
        double rr = npv * npd + linalg_norm(y, E);     // Eq. 4
        double nv = np * nd;                           // Eq. 20, the naive bound |P|_2 |d|
        if (lhs) lhs[m] = l;
        if (rhs) rhs[m] = rr;
        if (naive) naive[m] = nv;
        holds += l <= rr * (1.0 + slack);              // slack: float inputs, rounding in the norms
        if (rr > 0.0) { tsum += l / rr; nt++; }
        if (nv > 0.0) { nsum += l / nv; nn++; }
        if (nd > 0.0) ratio[nr++] = npd > 0.0 ? nq / npd : INFINITY;   // Fig. 13 left
    }
    free(Pd); free(w);
    out->holds_fraction = M > 0 ? (double)holds / M : NAN;
    out->tightness = nt ? tsum / (double)nt : NAN;
    out->naive_tightness = nn ? nsum / (double)nn : NAN;
    out->residual_ratio = metrics_median(ratio, nr);
    free(ratio);
    return 0;
}

// ---- checks -----------------------------------------------------------------------------------

size_t metrics_seq_pair_count(size_t N, int T, const MetricsOptions *opt) {
    size_t S = (N + (size_t)T - 1) / (size_t)T;
    size_t all = S * (S - (S > 0)) / 2;
    return all < (size_t)opt->seq_pairs ? all : (size_t)opt->seq_pairs;
}

#define FAIL(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

int metrics_check(const LayerData *in, const MetricsOptions *opt, char *err, size_t errlen) {
    if (in->N < 2 || in->N > INT32_MAX) FAIL("need 2 <= N <= %d tokens, have %zu", INT32_MAX, in->N);
    if (in->D < 1 || in->E < 1) FAIL("need D >= 1 and E >= 1, have D = %d, E = %d", in->D, in->E);
    if (in->K < 1 || in->K > in->E) FAIL("need 1 <= K <= E, have K = %d, E = %d", in->K, in->E);
    if (in->T < 1) FAIL("need sequence length T >= 1, have %d", in->T);
    if (!in->H || !in->P || !in->Z || !in->topk) FAIL("H, P, Z and topk are required");
    if (opt->pairs < 1) FAIL("need pairs >= 1, have %d", opt->pairs);
    if (opt->seq_pairs < 0) FAIL("need seq_pairs >= 0, have %d", opt->seq_pairs);
    if (!(opt->top_p > 0.0 && opt->top_p <= 1.0)) FAIL("need 0 < top_p <= 1, have %g", opt->top_p);
    if (opt->prop1_rank < 1 || opt->prop1_rank > in->D)
        FAIL("need 1 <= prop1_rank <= D = %d, have %d", in->D, opt->prop1_rank);
    if (!(opt->prop1_slack >= 0.0)) FAIL("need prop1_slack >= 0, have %g", opt->prop1_slack);
    size_t N = in->N;
    for (size_t i = 0; i < N * (size_t)in->D; i++)
        if (!isfinite(in->H[i])) FAIL("H[%zu][%zu] = %g is not finite", i / in->D, i % in->D, in->H[i]);
    for (size_t i = 0; i < (size_t)in->E * in->D; i++)
        if (!isfinite(in->P[i])) FAIL("P[%zu][%zu] = %g is not finite", i / in->D, i % in->D, in->P[i]);
    for (size_t i = 0; i < N * (size_t)in->E; i++)
        if (!isfinite(in->Z[i])) FAIL("Z[%zu][%zu] = %g is not finite", i / in->E, i % in->E, in->Z[i]);
    for (size_t i = 0; i < N; i++) {
        const int32_t *t = in->topk + i * (size_t)in->K;
        for (int k = 0; k < in->K; k++) {
            if (t[k] < 0 || t[k] >= in->E)
                FAIL("topk[%zu][%d] = %d is outside [0, %d)", i, k, (int)t[k], in->E);
            for (int k2 = 0; k2 < k; k2++)
                if (t[k2] == t[k]) FAIL("topk[%zu] names expert %d twice", i, (int)t[k]);
        }
    }
    if (in->domain) {
        if (in->n_domains < 1) FAIL("domain labels given but n_domains = %d", in->n_domains);
        for (size_t i = 0; i < N; i++)
            if (in->domain[i] < 0 || in->domain[i] >= in->n_domains)
                FAIL("domain[%zu] = %d is outside [0, %d)", i, (int)in->domain[i], in->n_domains);
    }
    if (in->token)
        for (size_t i = 0; i < N; i++)
            if (in->token[i] < 0) FAIL("token[%zu] = %d is negative", i, (int)in->token[i]);
    return 0;
}

#undef FAIL

// ---- one layer: every scalar --------------------------------------------------------------------

static void set_all_nan(LayerMetrics *m) {
#define METRICS_NAN_(name, help) m->name = NAN;
    METRICS_SCALARS(METRICS_NAN_)
#undef METRICS_NAN_
}

int metrics_layer(LayerMetrics *out, const MetricsArrays *arrays, const LayerData *in,
                  const MetricsOptions *opt, Rng *rng, char *err, size_t errlen) {
    static const MetricsArrays none;
    const MetricsArrays *A = arrays ? arrays : &none;
    set_all_nan(out);
    if (metrics_check(in, opt, err, errlen)) return -1;
    const size_t N = in->N;
    const int D = in->D, E = in->E, K = in->K, T = in->T, M = opt->pairs;
    const size_t S = (N + (size_t)T - 1) / (size_t)T;       // sequences
    const size_t SP = metrics_seq_pair_count(N, T, opt);

    int rc = -2;
    double *G = malloc((size_t)D * D * sizeof(double));     // D x D  Gram HᵀH
    double *V = malloc((size_t)D * D * sizeof(double));     // D x D  right singular vectors
    double *s = malloc((size_t)D * sizeof(double));         // D      singular values
    double *B = malloc((size_t)E * D * sizeof(double));     // E x D  Pi_E P
    double *v1 = malloc((size_t)D * sizeof(double)), *mdir = malloc((size_t)D * sizeof(double));
    int32_t *pairs = A->pairs ? A->pairs : malloc((size_t)M * 2 * sizeof(int32_t));
    double *rh = A->rms_hidden ? A->rms_hidden : malloc((size_t)M * sizeof(double));
    double *rz = A->rms_logits ? A->rms_logits : malloc((size_t)M * sizeof(double));
    double *fq = NULL, *pool = NULL, *seq_fs = NULL, *seq_pc = NULL, *seq_jc = NULL, *dom = NULL;
    int32_t *sp = NULL;
    uint8_t *sets = NULL;
    size_t *dcount = NULL;
    if (!G || !V || !s || !B || !v1 || !mdir || !pairs || !rh || !rz) goto done;

    // Eqs. 7 and 8 as the paper defines them: one SVD per sequence, then the mean.
    SeqEnergy se;
    if (metrics_seq_energy(&se, in->H, in->P, in->topk, N, D, E, K, T) != 0) goto done;
    out->energy_first = se.energy[0];
    out->energy_dir2 = se.energy[1];
    out->energy_dir3 = se.energy[2];
    out->energy_top3 = se.top3;
    out->retained_energy_first = se.retained[0];
    out->retained_energy_dir2 = se.retained[1];
    out->retained_energy_dir3 = se.retained[2];

    // Geometry of all N states (Proposition 1's H, and our whole-set variants): SVD of the
    // uncentred H, energy of v1 and of the mean direction, centred retained energy, suppression.
    if (linalg_svd_right(s, V, G, in->H, N, D) == -2) goto done;
    for (int a = 0; a < D; a++) v1[a] = V[(size_t)a * D];   // column 0
    metrics_center_rows(B, in->P, E, D);
    out->energy_first_wholeset = metrics_directional_energy(G, v1, D);
    out->retained_energy_centred = metrics_retained_energy_centred(G, B, v1, E, D);
    out->suppression_rho = metrics_suppression(B, v1, E, D);
    memset(mdir, 0, (size_t)D * sizeof(double));
    for (size_t i = 0; i < N; i++)
        for (int a = 0; a < D; a++) mdir[a] += in->H[i * (size_t)D + a];
    double mn = linalg_norm(mdir, D);
    if (mn > 0.0) {
        for (int a = 0; a < D; a++) mdir[a] /= mn;
        out->energy_mean_dir = metrics_directional_energy(G, mdir, D);
        out->suppression_rho_mean = metrics_suppression(B, mdir, E, D);
    }
    if (out->suppression_rho < 0.0 || out->suppression_rho_mean < 0.0) goto done;

    // Within-sequence similarity (Eqs. 10, 11), softmax statistics (Eq. 12), logit size, balance.
    out->cosine_hidden = metrics_seq_cosine(in->H, N, D, T);
    out->cosine_logits = metrics_seq_cosine(in->Z, N, E, T);
    out->hamming_similarity = metrics_seq_hamming(in->topk, N, K, E, T);
    metrics_softmax_stats(&out->router_confidence, &out->topk_score_sum, &out->router_entropy,
                          in->Z, N, E, K, T);
    out->logit_norm_mean = metrics_seq_mean_norm(in->Z, N, E, T);
    metrics_balance(&out->maxvio, &out->load_entropy, in->topk, N, K, E);

    // Token pairs: Eq. 5 and Proposition 1 on the same sample.
    metrics_sample_pairs(pairs, M, N, rng);
    for (int m = 0; m < M; m++) {
        size_t i = (size_t)pairs[2 * m], j = (size_t)pairs[2 * m + 1];
        rh[m] = metrics_rms(in->H + i * D, in->H + j * D, D);
        rz[m] = metrics_rms(in->Z + i * E, in->Z + j * E, E);
    }
    double sh = 0.0, sz = 0.0;
    for (int m = 0; m < M; m++) { sh += rh[m]; sz += rz[m]; }
    out->rms_hidden_mean = sh / M;
    out->rms_logits_mean = sz / M;
    out->rms_corr = metrics_pearson(rh, rz, (size_t)M);
    Prop1Summary p1;
    if (metrics_prop1(&p1, A->prop1_lhs, A->prop1_rhs, A->prop1_naive, in->H, in->P, V, pairs, M,
                      D, E, opt->prop1_rank, opt->prop1_slack))
        goto done;
    out->prop1_holds_fraction = p1.holds_fraction;
    out->prop1_tightness = p1.tightness;
    out->prop1_naive_tightness = p1.naive_tightness;
    out->prop1_residual_ratio = p1.residual_ratio;

    // Sequence pairs: Eqs. 13-19.
    if (SP > 0) {
        fq = malloc(S * E * sizeof(double));               // S x E  Eq. 13 per sequence
        pool = malloc(S * D * sizeof(double));             // S x D  Eq. 16 pooled unit states
        sets = malloc(S * E);                              // S x E  Eq. 18 top-P sets
        sp = A->seq_pairs ? A->seq_pairs : malloc(SP * 2 * sizeof(int32_t));
        seq_fs = A->seq_freqsim ? A->seq_freqsim : malloc(SP * sizeof(double));
        seq_pc = A->seq_pooled_cos ? A->seq_pooled_cos : malloc(SP * sizeof(double));
        seq_jc = A->seq_jaccard ? A->seq_jaccard : malloc(SP * sizeof(double));
        if (!fq || !pool || !sets || !sp || !seq_fs || !seq_pc || !seq_jc) goto done;
        for (size_t a = 0; a < S; a++) {
            size_t lo = a * T, hi = lo + T < N ? lo + T : N;
            metrics_freq(fq + a * E, in->topk + lo * K, hi - lo, K, E);
            metrics_top_p_set(sets + a * E, fq + a * E, E, opt->top_p);
            metrics_pool(pool + a * D, in->H + lo * D, hi - lo, D);
        }
        if (SP == S * (S - 1) / 2) {                       // every pair, in a fixed order
            size_t n = 0;
            for (size_t a = 0; a < S; a++)
                for (size_t b = a + 1; b < S; b++) {
                    sp[2 * n] = (int32_t)a;
                    sp[2 * n + 1] = (int32_t)b;
                    n++;
                }
        } else {
            metrics_sample_pairs(sp, (int)SP, S, rng);
        }
        double fs = 0.0, pc = 0.0, jc = 0.0;
        for (size_t n = 0; n < SP; n++) {
            size_t a = (size_t)sp[2 * n], b = (size_t)sp[2 * n + 1];
            seq_fs[n] = metrics_cosine(fq + a * E, fq + b * E, E);
            seq_pc[n] = metrics_cosine(pool + a * D, pool + b * D, D);
            seq_jc[n] = jaccard_sets(sets + a * E, sets + b * E, E);
            fs += seq_fs[n]; pc += seq_pc[n]; jc += seq_jc[n];
        }
        out->freqsim_seq = fs / (double)SP;
        out->pooled_cosine_seq = pc / (double)SP;
        out->jaccard_seq = jc / (double)SP;
        out->freqsim_pooled_corr = metrics_pearson(seq_fs, seq_pc, SP);
    }

    // Domains.
    if (in->domain) {
        int Dom = in->n_domains;
        dom = A->domain_freq ? A->domain_freq : malloc((size_t)Dom * E * sizeof(double));
        dcount = malloc((size_t)Dom * sizeof(size_t));
        if (!dom || !dcount) goto done;
        metrics_domain_freq(dom, dcount, in->topk, in->domain, N, K, E, Dom);
        metrics_cross_domain(&out->freqsim_cross_domain, &out->jaccard_cross_domain, dom, dcount,
                             Dom, E, K, opt->top_p);
        out->nmi_domain_expert = metrics_nmi(in->topk, in->domain, N, K, E, Dom);
    }
    if (in->token) {
        out->token_specialization = metrics_token_specialization(in->topk, in->token, N, K, E);
        if (out->token_specialization < 0.0) goto done;
        if (in->domain && metrics_token_context(&out->token_context_freqsim, &out->token_context_jaccard,
                                                in->topk, in->token, in->domain, N, K, E, in->n_domains, opt->top_p) != 0)
            goto done;
    }
    if (in->resid_norm) {
        // mean and coefficient of variation of the token norms, summed in double in row order
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < N; i++) { s1 += in->resid_norm[i]; s2 += (double)in->resid_norm[i] * in->resid_norm[i]; }
        double mean = s1 / N, var = s2 / N - mean * mean;
        out->resid_norm_mean = mean;
        out->resid_norm_cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : NAN;
    }
    rc = 0;

done:
    free(G); free(V); free(s); free(B); free(v1); free(mdir);
    if (pairs != A->pairs) free(pairs);
    if (rh != A->rms_hidden) free(rh);
    if (rz != A->rms_logits) free(rz);
    free(fq); free(pool); free(sets);
    if (sp != A->seq_pairs) free(sp);
    if (seq_fs != A->seq_freqsim) free(seq_fs);
    if (seq_pc != A->seq_pooled_cos) free(seq_pc);
    if (seq_jc != A->seq_jaccard) free(seq_jc);
    if (dom != A->domain_freq) free(dom);
    free(dcount);
    if (rc) {
        set_all_nan(out);
        if (err && errlen) snprintf(err, errlen, "out of memory");
    }
    return rc;
}

// ---- output -------------------------------------------------------------------------------------

int metrics_list(const char **names, const char **help, double *values, const LayerMetrics *m) {
    int i = 0;
#define METRICS_LIST_(name, h) \
    if (names) names[i] = #name; \
    if (help) help[i] = h; \
    if (values) values[i] = m ? m->name : NAN; \
    i++;
    METRICS_SCALARS(METRICS_LIST_)
#undef METRICS_LIST_
    return i;
}

int metrics_write_json(FILE *f, const LayerMetrics *m, const char *indent) {
    const char *names[METRICS_NSCALARS];
    double values[METRICS_NSCALARS];
    metrics_list(names, NULL, values, m);
    const char *in = indent ? indent : "";
    for (int i = 0; i < METRICS_NSCALARS; i++) {
        const char *sep = i + 1 < METRICS_NSCALARS ? ",\n" : "\n";
        if (isfinite(values[i])) fprintf(f, "%s\"%s\": %.17g%s", in, names[i], values[i], sep);
        else fprintf(f, "%s\"%s\": null%s", in, names[i], sep);
    }
    return ferror(f) ? -1 : 0;
}
