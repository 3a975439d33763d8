// text.c — the text world (docs/WORLDS.md): bytes of real text, one domain per corpus name
// (corpus.h reads and splits it). A training sequence is T+1 consecutive bytes of its domain's
// training stream from a uniform offset; an evaluation sequence the same from its evaluation
// stream (the eval streams of data.seed). The byte unigram and bigram baselines are fit here, on
// the training streams of all domains together, with add-one smoothing:
//   p(b) = (n(b) + 1) / (N + 256),   p(b | a) = (n(a, b) + 1) / (n(a, .) + 256)
// where n(a, b) counts the pairs of consecutive bytes inside a stream.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "world.h"

// Its checks are guards like world.c's (config/checks.c has the user's: model.vocab = 256 and
// data.domains = the number of names).
int world_text_build(World *w, char *err, size_t errlen) {
    const WorldSpec *s = &w->spec;
    char msg[1024];
    if (s->V != 256)
        return world_fail(err, errlen, "model.vocab = %d: the text world reads bytes, so model.vocab must be 256", s->V);
    int n = text_domain_count(&s->corpus, msg, sizeof msg);
    if (n < 0) return world_fail(err, errlen, "data.corpus: %s", msg);
    if (n != s->domains)
        return world_fail(err, errlen, "data.domains = %d: data.corpus names %d domains", s->domains, n);
    if (!(w->text = calloc(1, sizeof *w->text))) return world_fail(err, errlen, "out of memory");
    if (text_corpus_read(w->text, &s->corpus, &s->exclude, s->separator, msg, sizeof msg) != 0)
        return world_fail(err, errlen, "data.corpus: %s", msg);
    const size_t L = (size_t)w->L;
    for (int d = 0; d < w->text->n; d++) {
        const TextDomain *td = &w->text->d[d];
        if (td->train_len < L || td->eval_len < L)
            return world_fail(err, errlen, "data.corpus: domain \"%s\" is shorter than one sequence: its %s documents "
                              "(%ld of %ld; a document goes to evaluation by its hash, one in %d) hold %zu bytes, "
                              "fewer than model.seq_len + 1 = %zu", td->name,
                              td->train_len < L ? "training" : "evaluation",
                              td->train_len < L ? td->train_documents : td->eval_documents, td->documents,
                              TEXT_EVAL_MODULUS, td->train_len < L ? td->train_len : td->eval_len, L);
        if (td->train_len - L >= UINT32_MAX || td->eval_len - L >= UINT32_MAX)
            return world_fail(err, errlen, "data.corpus: domain \"%s\" holds over 4 GB", td->name);
    }
    // the baselines' tables, in log probabilities
    w->uni_logp = calloc(256, sizeof(double));
    w->bi_logp = calloc(256 * 256, sizeof(double));
    double *cnt = calloc(256 * 256, sizeof(double));
    if (!w->uni_logp || !w->bi_logp || !cnt) { free(cnt); return world_fail(err, errlen, "out of memory"); }
    double uni[256] = {0}, total = 0;
    for (int d = 0; d < w->text->n; d++) {
        const uint8_t *p = w->text->d[d].train;
        const size_t len = w->text->d[d].train_len;
        for (size_t i = 0; i < len; i++) {
            uni[p[i]] += 1;
            if (i + 1 < len) cnt[p[i] * 256 + p[i + 1]] += 1;
        }
        total += (double)len;
    }
    for (int a = 0; a < 256; a++) {
        w->uni_logp[a] = log((uni[a] + 1) / (total + 256));
        double row = 0;
        for (int b = 0; b < 256; b++) row += cnt[a * 256 + b];
        for (int b = 0; b < 256; b++) w->bi_logp[a * 256 + b] = log((cnt[a * 256 + b] + 1) / (row + 256));
    }
    free(cnt);
    return 0;
}

void world_text_free(World *w) {
    if (w->text) text_corpus_free(w->text);
    free(w->text);
    free(w->uni_logp);
    free(w->bi_logp);
}

static void window(const uint8_t *p, size_t len, int L, Rng *rng, int32_t *x) {
    size_t off = rng_below(rng, (uint32_t)(len - (size_t)L + 1));
    for (int t = 0; t < L; t++) x[t] = p[off + (size_t)t];
}

void world_text_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */) {
    window(w->text->d[d].train, w->text->d[d].train_len, w->L, rng, x);
}

void world_text_eval_sample(const World *w, Rng *rng, int d, int32_t *x /* T+1 */) {
    window(w->text->d[d].eval, w->text->d[d].eval_len, w->L, rng, x);
}

double world_bytes_text(const WorldSpec *s) {
    double total = 0, largest = 0;
    char err[256];
    if (text_corpus_size(&s->corpus, &s->exclude, &total, &largest, err, sizeof err) != 0) return 0;
    // the streams (at most the files' bytes), the largest file while it is read, the tables
    return total + largest + (256.0 + 2 * 256.0 * 256.0) * sizeof(double) + sizeof(TextCorpus);
}

int world_text_baselines(const World *w, const int32_t *tokens /* M x (T+1) */, const int32_t *domain /* M */,
                         int M, int from, int npred, double *uni /* domains + 1 */, double *bi /* domains + 1 */) {
    if (!w->text) return -1;
    const int K = w->domains, L = w->L;
    double *n = calloc((size_t)K + 1, sizeof(double));
    if (!n) return -1;
    for (int d = 0; d <= K; d++) uni[d] = bi[d] = 0;
    for (int s = 0; s < M; s++) {
        const int32_t *x = tokens + (size_t)s * L;
        const int d = domain[s];
        for (int t = from; t < from + npred; t++) {
            const double u = -w->uni_logp[x[t + 1]], b = -w->bi_logp[x[t] * 256 + x[t + 1]];
            uni[d] += u; bi[d] += b; n[d] += 1;
            uni[K] += u; bi[K] += b; n[K] += 1;
        }
    }
    for (int d = 0; d <= K; d++) {
        uni[d] = n[d] > 0 ? uni[d] / n[d] : NAN;
        bi[d] = n[d] > 0 ? bi[d] / n[d] : NAN;
    }
    free(n);
    return 0;
}
