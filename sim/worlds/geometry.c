// world_geometry.c — hidden states for the router-only model (model.kind = "router"):
//   h = mu + c_k + xi,   k uniform in [0, K),   xi ~ N(0, noise² I),
// with mu one fixed random direction of norm data.shared_norm and K = data.domains fixed random
// centres c_k of norm data.cluster_norm, all drawn (independently, so not exactly orthogonal)
// from data.seed. The routing task sends cluster k to expert k mod E. This is the setting of the
// paper's Proposition 2: a balancing loss should suppress the router's response to mu.
#include <math.h>
#include <stdlib.h>
#include "world.h"

// A Gaussian direction scaled to the given norm (0 stays 0).
static void random_vector(Rng *r, int D, double norm, float *out /* D */) {
    double ss;
    do {
        ss = 0.0;
        for (int i = 0; i < D; i++) { out[i] = (float)rng_normal(r); ss += (double)out[i] * out[i]; }
    } while (ss == 0.0);  // a zero draw has probability ~0; redraw rather than divide by it
    double scale = norm / sqrt(ss);
    for (int i = 0; i < D; i++) out[i] = (float)(out[i] * scale);
}

// Its checks are guards like world.c's check_common (config's schema ranges have the user's).
int world_geometry_build(World *w, char *err, size_t errlen) {
    const WorldSpec *s = &w->spec;
    const int D = s->D, K = s->domains;
    if (D < 1 || D > 65536) return world_fail(err, errlen, "model.d_model = %d: must be in [1, 65536]", D);
    if (!(s->shared_norm >= 0.0 && isfinite(s->shared_norm)))
        return world_fail(err, errlen, "data.shared_norm = %g: must be finite and >= 0", s->shared_norm);
    if (!(s->cluster_norm >= 0.0 && isfinite(s->cluster_norm)))
        return world_fail(err, errlen, "data.cluster_norm = %g: must be finite and >= 0", s->cluster_norm);
    if (!(s->noise >= 0.0 && isfinite(s->noise)))
        return world_fail(err, errlen, "data.noise = %g: must be finite and >= 0", s->noise);
    if (s->task != TASK_NONE && s->task != TASK_CLUSTER)
        return world_fail(err, errlen, "data.task: unknown task %d", s->task);
    if (s->task == TASK_CLUSTER && s->E < 1)
        return world_fail(err, errlen, "data.task = \"cluster\" needs model.experts >= 1 (got %d)", s->E);
    w->mu = malloc((size_t)D * sizeof *w->mu);
    w->centres = malloc((size_t)K * D * sizeof *w->centres);
    if (!w->mu || !w->centres) return world_fail(err, errlen, "geometry world: out of memory");
    Rng r;
    rng_seed(&r, s->seed, WORLD_STREAM_TABLES);
    random_vector(&r, D, s->shared_norm, w->mu);
    for (int k = 0; k < K; k++) random_vector(&r, D, s->cluster_norm, w->centres + (size_t)k * D);
    return 0;
}

static void point(const World *w, Rng *rng, int k, float *h /* D */) {
    const int D = w->spec.D;
    const float *c = w->centres + (size_t)k * D;  // D
    const double sd = w->spec.noise;
    for (int i = 0; i < D; i++) h[i] = (float)((double)w->mu[i] + c[i] + sd * rng_normal(rng));
}

static int32_t target_of(const World *w, int k) {
    return w->spec.task == TASK_CLUSTER ? k % w->spec.E : -1;
}

int world_train_hidden(const World *w, Rng *rng, int N, float *h /* N x D */,
                       int32_t *target /* N */, int32_t *cluster /* N */) {
    if (w->spec.kind != WORLD_GEOMETRY) return -1;
    for (int n = 0; n < N; n++) {
        int k = (int)rng_below(rng, (uint32_t)w->domains);
        cluster[n] = k;
        target[n] = target_of(w, k);
        point(w, rng, k, h + (size_t)n * w->spec.D);
    }
    return 0;
}

int world_eval_hidden(const World *w, float *h /* M x D */, int32_t *target /* M */, int32_t *cluster /* M */) {
    if (w->spec.kind != WORLD_GEOMETRY) return -1;
    const int n = w->spec.eval_sequences;
    for (int k = 0; k < w->domains; k++) {
        Rng r;  // one stream per cluster, as for the token worlds' domains
        rng_seed(&r, w->spec.seed, WORLD_STREAM_EVAL + (uint64_t)k);
        for (int i = 0; i < n; i++) {
            size_t row = (size_t)k * n + i;
            cluster[row] = k;
            target[row] = target_of(w, k);
            point(w, &r, k, h + row * w->spec.D);
        }
    }
    return 0;
}
