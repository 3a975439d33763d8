// embed.c — token (+ position) embedding.
#include "layers.h"

void embed_forward(real *h, const int32_t *tokens, const real *wte, const real *wpe, int B, int T, int D) {
    // h: N x D; tokens: B x (T+1), inputs are the first T of each row; wte: V x D; wpe: T x D
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            real *out = h + ((size_t)b * T + t) * D;
            const real *te = wte + (size_t)tokens[(size_t)b * (T + 1) + t] * D;
            const real *pe = wpe ? wpe + (size_t)t * D : NULL;
            for (int i = 0; i < D; i++) out[i] = te[i] + (pe ? pe[i] : 0);
        }
}

void embed_backward(real *dwte, real *dwpe, const real *dh, const int32_t *tokens, int B, int T, int D) {
    // serial: the same token may occur many times, and its rows must sum in a fixed order
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const real *g = dh + ((size_t)b * T + t) * D;
            real *te = dwte + (size_t)tokens[(size_t)b * (T + 1) + t] * D;
            for (int i = 0; i < D; i++) te[i] += g[i];
            if (dwpe) {
                real *pe = dwpe + (size_t)t * D;
                for (int i = 0; i < D; i++) pe[i] += g[i];
            }
        }
}
