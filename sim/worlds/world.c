// world.c — what every world shares: the checks of the common knobs, dispatch to the world's own
// file, training batches by data.mix, and the evaluation set with its transforms.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "world.h"

int world_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// The knobs every world uses; each world's build checks its own.
// Guards, not the user's checks: a WorldSpec from a config has passed config/checks.c and the
// schema's ranges, which reject each of these with file:line before any work. A WorldSpec built by
// hand (tests/test_world.c, a tool) does not, so world_build still refuses a spec it cannot build.
static int check_common(const WorldSpec *s, char *err, size_t errlen) {
    if (s->kind != WORLD_DOMAINS && s->kind != WORLD_GEOMETRY && s->kind != WORLD_CYCLIC && s->kind != WORLD_TEXT)
        return world_fail(err, errlen, "data.world: unknown world kind %d", s->kind);
    if (s->T < 1) return world_fail(err, errlen, "model.seq_len = %d: must be >= 1", s->T);
    if (s->domains < 1) return world_fail(err, errlen, "data.domains = %d: must be >= 1", s->domains);
    if (s->eval_sequences < 1)
        return world_fail(err, errlen, "eval.sequences = %d: must be >= 1", s->eval_sequences);
    if ((long long)s->domains * s->eval_sequences > 100000000LL)
        return world_fail(err, errlen, "eval.sequences = %d x data.domains = %d: evaluation set over 1e8 "
                          "sequences", s->eval_sequences, s->domains);
    if (!(s->repeat_prob >= 0 && s->repeat_prob <= 1))
        return world_fail(err, errlen, "data.repeat_prob = %g: must be in [0, 1]", s->repeat_prob);
    if (s->repeat_prob > 0 && s->kind == WORLD_GEOMETRY)
        return world_fail(err, errlen, "data.repeat_prob = %g needs token sequences (not the geometry world)",
                          s->repeat_prob);
    if (s->repeat_prob > 0 && (s->repeat_len < 2 || s->repeat_len > s->T))
        return world_fail(err, errlen, "data.repeat_len = %d: must be in [2, model.seq_len = %d]", s->repeat_len, s->T);
    if (s->kind == WORLD_GEOMETRY) return 0;  // the rest concerns token sequences
    if (s->V < 1) return world_fail(err, errlen, "model.vocab = %d: must be >= 1", s->V);
    if (s->mix != MIX_MIXED && s->mix != MIX_HOMOGENEOUS)
        return world_fail(err, errlen, "data.mix: unknown mix %d", s->mix);
    if (s->eval_duplicate < 1)
        return world_fail(err, errlen, "eval.duplicate = %d: must be >= 1", s->eval_duplicate);
    if (s->eval_content < 0 || s->eval_content == 1)
        return world_fail(err, errlen, "eval.duplicate_content = %d: must be 0 (off) or >= 2", s->eval_content);
    if (s->eval_content > 0 && (long long)s->eval_duplicate * s->eval_content > s->T)
        return world_fail(err, errlen, "eval.duplicate = %d copies of eval.duplicate_content = %d tokens exceed "
                          "model.seq_len = %d", s->eval_duplicate, s->eval_content, s->T);
    if (s->eval_content > 0 && s->eval_transform != TRANSFORM_NONE)
        return world_fail(err, errlen, "eval.duplicate_content = %d: eval.transform must be none", s->eval_content);
    if (s->eval_transform != TRANSFORM_NONE && s->eval_transform != TRANSFORM_REVERSE &&
        s->eval_transform != TRANSFORM_SHUFFLE)
        return world_fail(err, errlen, "eval.transform: unknown transform %d", s->eval_transform);
    return 0;
}

int world_build(World *w, const WorldSpec *spec, char *err, size_t errlen) {
    memset(w, 0, sizeof *w);
    if (err && errlen > 0) err[0] = '\0';
    if (check_common(spec, err, errlen)) return -1;
    w->spec = *spec;
    w->domains = spec->domains;
    w->L = spec->T + 1;
    int rc = spec->kind == WORLD_DOMAINS  ? world_domains_build(w, err, errlen)
           : spec->kind == WORLD_GEOMETRY ? world_geometry_build(w, err, errlen)
           : spec->kind == WORLD_TEXT     ? world_text_build(w, err, errlen)
                                          : world_cyclic_build(w, err, errlen);
    if (rc) world_free(w);  // leaves the World empty, so a second world_free is harmless
    return rc;
}

void world_free(World *w) {
    free(w->succ);
    free(w->slot_w);
    free(w->alias_p);
    free(w->alias_j);
    free(w->mu);
    free(w->centres);
    world_text_free(w);
    memset(w, 0, sizeof *w);
}

void world_sample_sequence(const World *w, Rng *rng, int d, int32_t *x /* T+1 */) {
    if (w->spec.kind == WORLD_DOMAINS) world_domains_sample(w, rng, d, x);
    else if (w->spec.kind == WORLD_TEXT) world_text_sample(w, rng, d, x);
    else world_cyclic_sample(w, rng, d, x);
}

int world_train_batch(const World *w, Rng *rng, int B, int micro,
                      int32_t *tokens /* B x (T+1) */, int32_t *domain /* B */) {
    if (w->spec.kind == WORLD_GEOMETRY) return -1;
    if (micro <= 0 || micro > B) micro = B;
    int d = 0;
    for (int b = 0; b < B; b++) {
        // homogeneous: one draw at the start of each micro-batch; mixed: one draw per sequence
        if (w->spec.mix == MIX_MIXED || b % micro == 0) d = (int)rng_below(rng, (uint32_t)w->domains);
        domain[b] = d;
        world_sample_sequence(w, rng, d, tokens + (size_t)b * w->L);
        // copy training: one draw per sequence, only when on (p = 0 keeps the stream as it was)
        if (w->spec.repeat_prob > 0 && rng_uniform(rng) < w->spec.repeat_prob)
            world_repeat(tokens + (size_t)b * w->L, w->L, w->spec.repeat_len);
    }
    return 0;
}

double world_bytes(const WorldSpec *s) {
    if (s->kind == WORLD_DOMAINS)   // succ, then slot_w, alias_p and alias_j (domains.c)
        return (double)world_domains_slots(s) * sizeof(int32_t) + (double)s->branching * (2 * sizeof(double) + sizeof(int32_t));
    if (s->kind == WORLD_GEOMETRY)  // mu and the centres (geometry.c)
        return (double)(1 + (size_t)s->domains) * (size_t)s->D * sizeof(float);
    if (s->kind == WORLD_TEXT) return world_bytes_text(s);  // the corpus and the baselines' tables
    return 0;                       // cyclic: nothing
}

int world_eval_count(const World *w) { return w->domains * w->spec.eval_sequences; }

void world_duplicate(int32_t *x /* L */, int L, int n) {
    if (n <= 1) return;
    int m = (L + n - 1) / n;  // ceil: n copies when n divides L, else fewer with the last one cut
    for (int i = m; i < L; i++) x[i] = x[i % m];  // i % m < m <= i: reads only the base
}

void world_repeat(int32_t *x /* L */, int L, int m) {
    if (m < 1) return;
    for (int i = m; i < L; i++) x[i] = x[i % m];  // i % m < m <= i: reads only the content
}

void world_eval_window(const World *w, int *from, int *len) {
    const int n = w->spec.eval_duplicate, m = w->spec.eval_content;
    if (m > 0) { *from = (n - 1) * m; *len = m; }
    else { *from = 0; *len = w->spec.T; }
}

void world_reverse(int32_t *x /* L */, int L) {
    for (int i = 0, j = L - 1; i < j; i++, j--) {
        int32_t t = x[i]; x[i] = x[j]; x[j] = t;
    }
}

void world_shuffle(int32_t *x /* L */, int L, Rng *rng) {
    for (int i = L - 1; i > 0; i--) {  // Fisher–Yates
        int j = (int)rng_below(rng, (uint32_t)(i + 1));
        int32_t t = x[i]; x[i] = x[j]; x[j] = t;
    }
}

int world_eval_set(const World *w, int32_t *tokens /* M x (T+1) */, int32_t *domain /* M */) {
    if (w->spec.kind == WORLD_GEOMETRY) return -1;
    const int n = w->spec.eval_sequences, L = w->L;
    for (int d = 0; d < w->domains; d++) {
        // A stream per domain (and another for shuffling), fresh at every call: the set depends
        // on data.seed alone, and eval.sequences = 2n extends the set of n instead of redrawing it.
        Rng r, sh;
        rng_seed(&r, w->spec.seed, WORLD_STREAM_EVAL + (uint64_t)d);
        rng_seed(&sh, w->spec.seed, WORLD_STREAM_SHUFFLE + (uint64_t)d);
        for (int i = 0; i < n; i++) {
            size_t row = (size_t)d * n + i;
            int32_t *x = tokens + row * L;
            domain[row] = d;
            // the text world's evaluation comes from its evaluation documents
            if (w->spec.kind == WORLD_TEXT) world_text_eval_sample(w, &r, d, x);
            else world_sample_sequence(w, &r, d, x);
            if (w->spec.eval_content > 0) world_repeat(x, L, w->spec.eval_content);
            else world_duplicate(x, L, w->spec.eval_duplicate);
            if (w->spec.eval_transform == TRANSFORM_REVERSE) world_reverse(x, L);
            else if (w->spec.eval_transform == TRANSFORM_SHUFFLE) world_shuffle(x, L, &sh);
        }
    }
    return 0;
}
