// truncation.c — routing under projection onto the leading directions of H (truncation.h).
#include <stdlib.h>
#include <string.h>
#include "linalg.h"
#include "truncation.h"

int truncation_ranks(int *rs, int D) {
    int n = 0;
    for (int r = 1; r < D && n < 23; r *= 2) rs[n++] = r;
    rs[n++] = D;
    return n;
}

// The K largest entries of z (E) by value, ties to the lower index: out[0] the largest.
static void rank_top(int *out, const double *z, int E, int K) {
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int j = 0; j < k; j++) taken |= out[j] == e;
            if (!taken && (best < 0 || z[e] > z[best])) best = e;
        }
        out[k] = best;
    }
}

int truncation_agreement(double *agree, const float *H, const float *P, size_t N, int D, int E, int K,
                         const int *rs, int nr) {
    if (N == 0 || D < 1 || E < 1 || K < 1 || K > E) return -1;
    for (int i = 0; i < nr; i++)
        if (rs[i] < 1 || rs[i] > D) return -1;
    double *s = malloc(sizeof(double) * (size_t)D), *V = malloc(sizeof(double) * (size_t)D * D);
    double *PV = malloc(sizeof(double) * (size_t)E * D);   // E x D: P V (column k: P v_k)
    double *c = malloc(sizeof(double) * (size_t)D), *z = malloc(sizeof(double) * (size_t)E * 2);
    int *orig = malloc(sizeof(int) * (size_t)K * 2);
    long *same = calloc((size_t)nr * K, sizeof(long));
    int rc = -2;
    if (!s || !V || !PV || !c || !z || !orig || !same) goto done;
    if (linalg_svd_right(s, V, NULL, H, N, D) < -1) goto done;
    // PV[e][k] = Σ_j P[e][j] V[j][k] (E x D), by the blocked product: Pt = Pᵀ (D x E)
    double *Pt = malloc(sizeof(double) * (size_t)D * E);
    enum { CH = 256 };
    double *Cc = malloc(sizeof(double) * (size_t)CH * D);  // CH x D: Vᵀ h of a chunk of rows
    if (!Pt || !Cc) { free(Pt); free(Cc); goto done; }
    for (int e = 0; e < E; e++)
        for (int j = 0; j < D; j++) Pt[(size_t)j * E + e] = P[(size_t)e * D + j];
    linalg_dgemm_tn(PV, (size_t)D, Pt, (size_t)E, V, (size_t)D, E, D, D, 0);
    double *zr = z + E;
    int *tr = orig + K;
    for (size_t r0 = 0; r0 < N; r0 += CH) {
        const size_t nc = r0 + CH < N ? CH : N - r0;
        // c = Vᵀ h for the chunk's rows (coordinates along the singular directions)
        if (linalg_xw(Cc, H + r0 * D, nc, D, V, D) != 0) { free(Pt); free(Cc); goto done; }
        for (size_t t = 0; t < nc; t++) {
            const float *h = H + (r0 + t) * D;
            const double *ct = Cc + t * (size_t)D;
            for (int e = 0; e < E; e++) {
                double acc = 0;
                for (int j = 0; j < D; j++) acc += (double)P[(size_t)e * D + j] * h[j];
                z[e] = acc;
            }
            rank_top(orig, z, E, K);
            // z_r = Σ_{k<r} PV[:,k] c_k, accumulated from one rank to the next (ranks ascend)
            memset(zr, 0, sizeof(double) * (size_t)E);
            int from = 0;
            for (int i = 0; i < nr; i++) {
                if (rs[i] < from) { memset(zr, 0, sizeof(double) * (size_t)E); from = 0; }   // not ascending
                for (int e = 0; e < E; e++) {
                    const double *pv = PV + (size_t)e * D;
                    double acc = zr[e];
                    for (int k = from; k < rs[i]; k++) acc += pv[k] * ct[k];
                    zr[e] = acc;
                }
                from = rs[i];
                rank_top(tr, zr, E, K);
                for (int m = 0; m < K; m++) same[(size_t)i * K + m] += tr[m] == orig[m];
            }
        }
    }
    free(Pt); free(Cc);
    for (int i = 0; i < nr * K; i++) agree[i] = (double)same[i] / (double)N;
    rc = 0;
done:
    free(s); free(V); free(PV); free(c); free(z); free(orig); free(same);
    return rc;
}
