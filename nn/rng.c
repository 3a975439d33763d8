// rng.c — the one RNG function too long to inline.
#include <math.h>
#include "nn.h"

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;  // log(0) guard; u1 == 0 has probability 2^-53
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
