// world_domains.c — the latent-domain world: one sparse Markov chain per domain over the shared
// block plus the domain's private block (docs/WORLDS.md).
//
// Local ids. Domain d emits A = S + P tokens; local id i < S is the shared token i, local id
// S + j is the private token S + d*P + j. Chain states are local ids (order 1) or pairs
// a*A + b of local ids (order 2, every pair explicit, so probabilities are exact).
//
// Every state has `branching` successor slots with the same Zipf weights, so one alias table over
// the slots serves every state: a token costs one rng_next and two table reads.
#include <math.h>
#include <stdlib.h>
#include "world.h"

static inline int to_local(const World *w, int d, int tok) {
    if (tok >= 0 && tok < w->S) return tok;
    int j = tok - w->S - d * w->P;
    return (j >= 0 && j < w->P) ? w->S + j : -1;
}

static inline int32_t to_global(const World *w, int d, int loc) {
    return loc < w->S ? loc : loc + d * w->P;
}

// Vose's alias method over the n weights p (summing to 1). lo and hi are n-int worklists.
static void alias_build(int n, const double *p, double *prob, int32_t *alias, int *lo, int *hi) {
    int nlo = 0, nhi = 0;
    for (int j = 0; j < n; j++) {
        prob[j] = p[j] * n;  // scaled so the average column holds 1
        alias[j] = j;
        if (prob[j] < 1.0) lo[nlo++] = j; else hi[nhi++] = j;
    }
    while (nlo > 0 && nhi > 0) {
        int l = lo[--nlo], g = hi[--nhi];
        alias[l] = g;  // column l: keep l with prob[l], else g
        prob[g] = (prob[g] + prob[l]) - 1.0;
        if (prob[g] < 1.0) lo[nlo++] = g; else hi[nhi++] = g;
    }
    while (nhi > 0) prob[hi[--nhi]] = 1.0;  // leftovers are 1 up to rounding
    while (nlo > 0) prob[lo[--nlo]] = 1.0;
}

static inline int draw_slot(const World *w, Rng *rng) {
    int b = w->spec.branching;
    if (b == 1) return 0;
    uint64_t r = rng_next(rng);
    int j = (int)(((r >> 32) * (uint64_t)b) >> 32);        // column from the high 32 bits
    double u = (double)(r & 0xFFFFFFFFull) * 0x1.0p-32;    // coin from the low 32 bits
    return u < w->alias_p[j] ? j : w->alias_j[j];
}

size_t world_domains_slots(const WorldSpec *s) {
    const int K = s->domains, S = s->shared_vocab;
    if (K < 1 || S < 0 || S > s->V || s->branching < 1) return 0;
    const int P = (s->V - S) / K;
    if (P < 1) return 0;
    const size_t A = (size_t)S + (size_t)P, states = s->order == 1 ? A : A * A;
    return (size_t)K * states * (size_t)s->branching;
}

// Its checks are guards like world.c's check_common (config/checks.c has the user's).
int world_domains_build(World *w, char *err, size_t errlen) {
    const WorldSpec *s = &w->spec;
    const int K = s->domains, S = s->shared_vocab, b = s->branching;
    if (S < 0 || S > s->V)
        return world_fail(err, errlen, "data.shared_vocab = %d: must be in [0, model.vocab = %d]", S, s->V);
    const int P = (s->V - S) / K;
    if (P < 1)
        return world_fail(err, errlen, "data.shared_vocab = %d leaves %d of model.vocab = %d tokens for "
                          "data.domains = %d private blocks: a private block of 0 tokens (lower "
                          "data.shared_vocab or data.domains, or raise model.vocab)", S, s->V - S, s->V, K);
    if (!(s->shared_prob >= 0.0 && s->shared_prob <= 1.0))
        return world_fail(err, errlen, "data.shared_prob = %g: must be in [0, 1]", s->shared_prob);
    if (s->shared_prob > 0.0 && S == 0)
        return world_fail(err, errlen, "data.shared_prob = %g needs a shared block: data.shared_vocab = 0",
                          s->shared_prob);
    if (!(s->zipf >= 0.0 && isfinite(s->zipf)))
        return world_fail(err, errlen, "data.zipf = %g: must be a finite number >= 0", s->zipf);
    if (s->order != 1 && s->order != 2)
        return world_fail(err, errlen, "data.order = %d: must be 1 or 2", s->order);
    // Successors of a state are distinct tokens, so a state cannot have more than it can reach.
    const int reach = s->shared_prob == 0.0 ? P : s->shared_prob == 1.0 ? S : S + P;
    if (b < 1 || b > reach)
        return world_fail(err, errlen, "data.branching = %d: must be in [1, %d], the distinct successors "
                          "a state can reach (data.shared_vocab = %d, private block (model.vocab - "
                          "data.shared_vocab) / data.domains = %d, data.shared_prob = %g)",
                          b, reach, S, P, s->shared_prob);
    const int A = S + P;
    const size_t states = s->order == 1 ? (size_t)A : (size_t)A * A;
    const size_t slots = world_domains_slots(s);  // K x states x b
    if (slots > WORLD_MAX_SLOTS)
        return world_fail(err, errlen, "the chains need %zu successor slots (data.domains = %d x %zu states "
                          "(data.order = %d) x data.branching = %d), over the limit of %zu: lower "
                          "model.vocab, data.domains, data.branching or data.order",
                          slots, K, states, s->order, b, WORLD_MAX_SLOTS);
    w->S = S; w->P = P; w->A = A; w->states = (int)states;

    w->succ = malloc(slots * sizeof *w->succ);
    w->slot_w = malloc((size_t)b * sizeof *w->slot_w);
    w->alias_p = malloc((size_t)b * sizeof *w->alias_p);
    w->alias_j = malloc((size_t)b * sizeof *w->alias_j);
    int *mark = calloc((size_t)A, sizeof *mark);      // A: last state that took each local id
    int *work = malloc((size_t)2 * b * sizeof *work);  // 2b: alias worklists
    if (!w->succ || !w->slot_w || !w->alias_p || !w->alias_j || !mark || !work) {
        free(mark); free(work);
        return world_fail(err, errlen, "domains world: out of memory (%zu successor slots)", slots);
    }

    double z = 0.0;
    for (int j = 0; j < b; j++) z += w->slot_w[j] = pow(j + 1.0, -s->zipf);
    for (int j = 0; j < b; j++) w->slot_w[j] /= z;
    alias_build(b, w->slot_w, w->alias_p, w->alias_j, work, work + b);

    // Successors: slot j goes to the shared block with probability shared_prob, else to the private
    // block; the token is uniform among the block's tokens not yet taken by this state. If that
    // block is used up (only when branching exceeds its size) the slot takes the other block.
    Rng r;
    rng_seed(&r, s->seed, WORLD_STREAM_TABLES);
    int stamp = 0;
    for (int d = 0; d < K; d++) {
        for (size_t st = 0; st < states; st++) {
            int32_t *out = w->succ + ((size_t)d * states + st) * b;  // b
            int used_shared = 0, used_private = 0;
            stamp++;
            for (int j = 0; j < b; j++) {
                int shared = rng_uniform(&r) < s->shared_prob;
                if (shared && used_shared == S) shared = 0;
                else if (!shared && used_private == P) shared = 1;
                int loc;
                do loc = shared ? (int)rng_below(&r, (uint32_t)S) : S + (int)rng_below(&r, (uint32_t)P);
                while (mark[loc] == stamp);
                mark[loc] = stamp;
                if (shared) used_shared++; else used_private++;
                out[j] = to_global(w, d, loc);
            }
        }
    }
    free(mark);
    free(work);
    return 0;
}

void world_domains_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */) {
    const int b = w->spec.branching, A = w->A;
    const int32_t *tab = w->succ + (size_t)d * w->states * b;  // states x b, this domain's chain
    // Start: uniform over the private block (so the chain starts inside its own domain).
    int prev = w->S + (int)rng_below(rng, (uint32_t)w->P), prev2 = prev;  // local ids
    x[0] = to_global(w, d, prev);
    for (int t = 1; t < w->L; t++) {
        size_t st = w->spec.order == 1 ? (size_t)prev : (size_t)prev2 * A + prev;
        int32_t tok = tab[st * b + draw_slot(w, rng)];
        x[t] = tok;
        prev2 = prev;
        prev = tok < w->S ? tok : tok - d * w->P;
    }
}

// ---- exact statistics --------------------------------------------------------------------------

int world_token_owner(const World *w, int tok) {
    if (w->spec.kind == WORLD_CYCLIC) {  // the cyclic world's blocks are private, none shared
        int d = tok >= 0 ? tok / w->period : w->domains;
        return d < w->domains ? d : -2;
    }
    if (tok >= 0 && tok < w->S) return -1;
    if (w->P < 1 || tok < w->S) return -2;
    int d = (tok - w->S) / w->P;
    return d < w->domains ? d : -2;
}

int world_domain_tokens(const World *w, int d, int32_t *out /* A */) {
    for (int i = 0; i < w->A; i++) out[i] = to_global(w, d, i);
    return w->A;
}

double world_start_prob(const World *w, int d, int tok) {
    int loc = to_local(w, d, tok);
    return loc >= w->S ? 1.0 / w->P : 0.0;
}

// Sum of the weights of the state's slots holding `to` (slots are distinct, so at most one).
static double state_prob(const World *w, int d, size_t st, int to) {
    const int b = w->spec.branching;
    const int32_t *out = w->succ + ((size_t)d * w->states + st) * b;
    double p = 0.0;
    for (int j = 0; j < b; j++) if (out[j] == to) p += w->slot_w[j];
    return p;
}

double world_transition(const World *w, int d, int from, int to) {
    if (w->spec.kind != WORLD_DOMAINS || w->spec.order != 1 || d < 0 || d >= w->domains) return -1.0;
    int a = to_local(w, d, from);
    return a < 0 ? 0.0 : state_prob(w, d, (size_t)a, to);
}

double world_transition2(const World *w, int d, int a, int b, int to) {
    if (w->spec.kind != WORLD_DOMAINS || w->spec.order != 2 || d < 0 || d >= w->domains) return -1.0;
    int la = to_local(w, d, a), lb = to_local(w, d, b);
    return (la < 0 || lb < 0) ? 0.0 : state_prob(w, d, (size_t)la * w->A + lb, to);
}
