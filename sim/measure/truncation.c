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
    // PV[e][k] = Σ_j P[e][j] V[j][k]
    for (int e = 0; e < E; e++)
        for (int k = 0; k < D; k++) {
            double acc = 0;
            for (int j = 0; j < D; j++) acc += (double)P[(size_t)e * D + j] * V[(size_t)j * D + k];
            PV[(size_t)e * D + k] = acc;
        }
    double *zr = z + E;
    int *tr = orig + K;
    for (size_t n = 0; n < N; n++) {
        const float *h = H + n * D;
        // c = Vᵀ h (D coordinates along the singular directions), then z_r = Σ_{k<r} PV[:,k] c_k
        for (int k = 0; k < D; k++) {
            double acc = 0;
            for (int j = 0; j < D; j++) acc += V[(size_t)j * D + k] * h[j];
            c[k] = acc;
        }
        for (int e = 0; e < E; e++) {
            double acc = 0;
            for (int j = 0; j < D; j++) acc += (double)P[(size_t)e * D + j] * h[j];
            z[e] = acc;
        }
        rank_top(orig, z, E, K);
        for (int i = 0; i < nr; i++) {
            for (int e = 0; e < E; e++) {
                double acc = 0;
                for (int k = 0; k < rs[i]; k++) acc += PV[(size_t)e * D + k] * c[k];
                zr[e] = acc;
            }
            rank_top(tr, zr, E, K);
            for (int m = 0; m < K; m++) same[(size_t)i * K + m] += tr[m] == orig[m];
        }
    }
    for (int i = 0; i < nr * K; i++) agree[i] = (double)same[i] / (double)N;
    rc = 0;
done:
    free(s); free(V); free(PV); free(c); free(z); free(orig); free(same);
    return rc;
}
