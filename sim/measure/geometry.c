// geometry.c — the measurements of hidden states and logits: RMS distances (Eq. 5), directional
// and retained energy (Eqs. 7, 8), suppression of a direction, within-sequence similarity
// (Eqs. 10, 11), the softmax statistics (Eq. 12), pooling (Eqs. 15-16), and Proposition 1's
// bound. Pure functions over arrays (metrics.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "linalg.h"
#include "metrics_internal.h"

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
        metrics_select_top(idx, p, E, K, taken);
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
    return metrics_prop1_ld(out, lhs, rhs, naive, H, P, V, (size_t)D, pairs, M, D, E, r, slack);
}

int metrics_prop1_ld(Prop1Summary *out, double *lhs, double *rhs, double *naive,
                     const float *H, const float *P, const double *V, size_t ldv, const int32_t *pairs,
                     int M, int D, int E, int r, double slack) {
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
            for (int a = 0; a < D; a++) t += Pd[(size_t)e * D + a] * V[(size_t)a * ldv + k];
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
            for (int a = 0; a < D; a++) c += V[(size_t)a * ldv + k] * d[a];
            for (int a = 0; a < D; a++) p[a] += c * V[(size_t)a * ldv + k];
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
