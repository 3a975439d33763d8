// world_cyclic.c — the sanity world: domain d owns the block of period = V / domains tokens
// [d*period, (d+1)*period) and a sequence walks it cyclically from a random start:
//   x_t = d*period + (start + t) mod period,  start uniform in [0, period).
// Every target follows from the previous token alone, so any model that can learn a bigram table
// (even without attention) should drive the loss towards zero; the domain is readable from any
// token, so specialization metrics have something to find. Leftover tokens V mod domains are unused.
#include "world.h"

// Its check is a guard like world.c's check_common (config/checks.c has the user's).
int world_cyclic_build(World *w, char *err, size_t errlen) {
    const WorldSpec *s = &w->spec;
    w->period = s->V / s->domains;
    if (w->period < 1)
        return world_fail(err, errlen, "data.domains = %d exceeds model.vocab = %d: the cyclic world gives "
                          "each domain a block of model.vocab / data.domains tokens", s->domains, s->V);
    return 0;
}

void world_cyclic_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */) {
    const int p = w->period;
    int c = (int)rng_below(rng, (uint32_t)p);  // position in the cycle
    for (int t = 0; t < w->L; t++) {
        x[t] = d * p + c;
        if (++c == p) c = 0;
    }
}
