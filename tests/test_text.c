// test_text.c — the text world (data.world = "text") on the fixture corpora of tests/fixtures/text
// (three made-up "languages" of 80 short documents each, two files a language, and a binary file):
// entries and repeated names, separators, the split (no document on both sides, every document on
// exactly one), packing (every sequence a window of its own domain's stream), the content hash
// (against io_hash_bytes), the memory estimate's corpus bytes, the baselines' tables, the same batches for 1
// and 2 threads and after a restore of the batch stream, each bad input's error, links skipped in
// folders and patterns but followed when named, the \xNN escapes
// of samples.txt, and the config checks of the world.
// covers: sim/worlds/corpus.c sim/worlds/text.c sim/worlds/world.c sim/config/checks.c
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "harness.h"
#include "../sim/worlds/world.h"
#include "../sim/config/config.h"
#include "../sim/io.h"
#include "../sim/models/spec.h"
#include "../sim/train/batches.h"

#define FX "tests/fixtures/text"

static void strs(cfg_STRS *a, int n, const char *const *s) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < n; i++) snprintf(a->s[a->n++], CFG_STR_MAX, "%s", s[i]);
}

static WorldSpec text_spec(int T) {
    WorldSpec s;
    memset(&s, 0, sizeof s);
    s.kind = WORLD_TEXT; s.V = 256; s.T = T; s.domains = 3; s.mix = MIX_HOMOGENEOUS; s.seed = 5;
    s.eval_sequences = 6; s.eval_duplicate = 1; s.eval_transform = TRANSFORM_NONE;
    const char *c[] = {"ka=" FX "/ka", "zo=" FX "/zo", "cy=" FX "/cy"};
    strs(&s.corpus, 3, c);
    snprintf(s.separator, sizeof s.separator, "%%");
    return s;
}

// Expects world_build to fail with a message containing needle.
static void expect_fail(WorldSpec s, const char *needle) {
    World w;
    char err[1024];
    int rc = world_build(&w, &s, err, sizeof err);
    CHECK_MSG(rc != 0 && strstr(err, needle), "expected an error with '%s', got rc %d: %s", needle, rc, err);
    world_free(&w);
}

// ---- entries and separators -------------------------------------------------------------------

static void test_entries(void) {
    char name[TEXT_NAME_MAX], err[256];
    const char *path;
    CHECK(text_entry_parse("de=/a/b", name, &path, err, sizeof err) == 0 && !strcmp(name, "de") && !strcmp(path, "/a/b"));
    CHECK(text_entry_parse("de", name, &path, err, sizeof err) != 0 && strstr(err, "name=path"));
    CHECK(text_entry_parse("=x", name, &path, err, sizeof err) != 0);
    CHECK(text_entry_parse("de=", name, &path, err, sizeof err) != 0 && strstr(err, "no path"));
    CHECK(text_entry_parse("d e=x", name, &path, err, sizeof err) != 0 && strstr(err, "letters"));
    cfg_STRS a;
    const char *three[] = {"a=x", "b=y", "a=z"};  // a repeated name adds paths: two domains
    strs(&a, 3, three);
    CHECK(text_domain_count(&a, err, sizeof err) == 2);
    CHECK(text_fortune_package("/usr/share/games/fortunes/de") && !strcmp(text_fortune_package("/usr/share/games/fortunes/de"), "fortunes-de"));
    CHECK(!strcmp(text_fortune_package("/usr/share/games/fortunes/ru/life"), "fortunes-ru"));
    CHECK(!strcmp(text_fortune_package("/usr/share/games/fortunes/science"), "fortunes"));
    CHECK(text_fortune_package("/usr/share/games/fortunesX") == NULL && text_fortune_package("/tmp/x") == NULL);
}

typedef struct { int n; char doc[8][64]; } Docs;
static void collect(const uint8_t *d, size_t len, void *u) {
    Docs *D = u;
    if (D->n < 8) snprintf(D->doc[D->n], sizeof D->doc[0], "%.*s", (int)len, (const char *)d);
    D->n++;
}

static void test_separators(void) {
    const char *buf = "%\nab\n%\ncd\n%\r\n\n \n%\n%%\nef";
    Docs D = {0};
    text_split_documents((const uint8_t *)buf, strlen(buf), "%", collect, &D);
    // the leading empty document and the blank one are dropped; "%%" is no separator line; "\r" ok
    CHECK_MSG(D.n == 3 && !strcmp(D.doc[0], "ab\n") && !strcmp(D.doc[1], "cd\n") && !strcmp(D.doc[2], "%%\nef"),
              "%d documents: [%s] [%s] [%s]", D.n, D.doc[0], D.doc[1], D.doc[2]);
    memset(&D, 0, sizeof D);
    text_split_documents((const uint8_t *)buf, strlen(buf), "", collect, &D);  // one file, one document
    CHECK(D.n == 1);
    memset(&D, 0, sizeof D);
    text_split_documents((const uint8_t *)"x %\n%", 5, "%", collect, &D);  // "x %" is no separator line
    CHECK(D.n == 1 && !strcmp(D.doc[0], "x %\n"));
}

// ---- the corpus ------------------------------------------------------------------------------

typedef struct { const uint8_t *s; size_t n; } Span;

// The documents of a stream joined by "%\n" lines (the joiner text_corpus_read writes).
static int split_stream(const uint8_t *p, size_t n, Span *out, int cap) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        int at_sep = i + 2 <= n && (i == 0 || p[i - 1] == '\n') && p[i] == '%' && p[i + 1] == '\n';
        if (at_sep || i == n) {
            if (k < cap) out[k] = (Span){p + start, i - start};
            k++;
            if (at_sep) { start = i + 2; i++; }
        }
    }
    return n ? k : 0;
}

typedef struct { const TextDomain *d; int found_train, found_eval, total, both; } Place;
static int has_span(const Span *s, int n, const uint8_t *doc, size_t len) {
    for (int i = 0; i < n; i++) if (s[i].n == len && !memcmp(s[i].s, doc, len)) return 1;
    return 0;
}
static Span g_train[4096], g_eval[4096];
static int g_ntrain, g_neval;
static void place(const uint8_t *doc, size_t len, void *u) {
    Place *P = u;
    int t = has_span(g_train, g_ntrain, doc, len), e = has_span(g_eval, g_neval, doc, len);
    P->found_train += t; P->found_eval += e; P->both += t && e; P->total++;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *b = malloc(1 << 20);
    *n = b ? fread(b, 1, 1 << 20, f) : 0;
    fclose(f);
    return b;
}

static void test_corpus(void) {
    WorldSpec s = text_spec(16);
    World w;
    char err[1024];
    int rc = world_build(&w, &s, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc) return;
    const TextCorpus *tc = w.text;
    CHECK(tc->n == 3 && !strcmp(tc->d[0].name, "ka") && !strcmp(tc->d[2].name, "cy"));
    const char *langs[] = {"ka", "zo", "cy"};
    for (int d = 0; d < tc->n; d++) {
        const TextDomain *td = &tc->d[d];
        CHECK(td->files == 2 && td->documents == 80 && td->train_documents + td->eval_documents == 80);
        CHECK_MSG(td->eval_documents > 0 && td->train_documents > td->eval_documents, "%s: %ld eval", td->name, td->eval_documents);
        // the streams split back into the documents: as many as counted, none on both sides
        g_ntrain = split_stream(td->train, td->train_len, g_train, 4096);
        g_neval = split_stream(td->eval, td->eval_len, g_eval, 4096);
        CHECK_MSG(g_ntrain == td->train_documents && g_neval == td->eval_documents, "%s: %d + %d", td->name, g_ntrain, g_neval);
        int overlap = 0;
        for (int i = 0; i < g_neval; i++) overlap += has_span(g_train, g_ntrain, g_eval[i].s, g_eval[i].n);
        CHECK_MSG(overlap == 0, "%s: %d evaluation documents also in training", td->name, overlap);
        for (int i = 0; i < g_neval; i++) CHECK(text_is_eval(g_eval[i].s, g_eval[i].n));
        for (int i = 0; i < g_ntrain; i++) CHECK(!text_is_eval(g_train[i].s, g_train[i].n));
        // every document of the files is on exactly one side; the content hash is FNV-1a 64 (the
        // io room's io_hash_bytes) over each file's size, a NUL and its bytes, in sorted order
        Place P = {td, 0, 0, 0, 0};
        uint64_t h = IO_HASH_INIT;
        for (int k = 0; k < 2; k++) {
            char path[256], size[32];
            snprintf(path, sizeof path, FX "/%s/%s.txt", langs[d], k ? "b" : "a");
            size_t n;
            uint8_t *b = slurp(path, &n);
            CHECK_MSG(b != NULL, "%s", path);
            if (!b) continue;
            text_split_documents(b, n, "%", place, &P);
            snprintf(size, sizeof size, "%zu", n);
            h = io_hash_bytes(io_hash_bytes(h, size, strlen(size) + 1), b, n);
            free(b);
        }
        CHECK_MSG(P.total == 80 && P.found_train + P.found_eval == 80 && P.both == 0, "%s: %d docs, %d+%d found, %d both",
                  td->name, P.total, P.found_train, P.found_eval, P.both);
        CHECK_MSG(h == td->hash, "%s: hash %016llx, io_hash_bytes gives %016llx", td->name,
                  (unsigned long long)td->hash, (unsigned long long)h);
    }
    // the memory estimate counts the corpus: at least its files' bytes, without reading them
    double files = 0;
    for (int d = 0; d < tc->n; d++) files += (double)tc->d[d].bytes;
    CHECK_MSG(world_bytes(&s) >= files && world_bytes(&s) < 3 * files + 2e6, "world_bytes %.0f for %.0f bytes of files",
              world_bytes(&s), files);
    // packing: every training sequence is a window of its own domain's stream; homogeneous
    // micro-batches of 2 share a domain
    Rng r;
    rng_seed(&r, 1, 2);
    int32_t tok[8 * 17], dom[8];
    int windows = 0, same = 1;
    for (int it = 0; it < 20; it++) {
        world_train_batch(&w, &r, 8, 2, tok, dom);
        for (int b = 0; b < 8; b++) {
            const TextDomain *td = &tc->d[dom[b]];
            uint8_t x[17];
            for (int t = 0; t < 17; t++) x[t] = (uint8_t)tok[b * 17 + t];
            int found = 0;
            for (size_t o = 0; o + 17 <= td->train_len && !found; o++) found = !memcmp(td->train + o, x, 17);
            windows += found;
            if (b % 2) same &= dom[b] == dom[b - 1];
        }
    }
    CHECK_MSG(windows == 160, "%d of 160 sequences are windows of their domain's training stream", windows);
    CHECK(same);
    // the evaluation set: windows of the evaluation streams, domain-major, the same at every call
    int M = world_eval_count(&w);
    int32_t *ev = malloc(sizeof(int32_t) * (size_t)M * 17 * 2), *ed = malloc(sizeof(int32_t) * (size_t)M * 2);
    world_eval_set(&w, ev, ed);
    world_eval_set(&w, ev + M * 17, ed + M);
    CHECK(M == 18 && !memcmp(ev, ev + M * 17, sizeof(int32_t) * (size_t)M * 17) && ed[0] == 0 && ed[M - 1] == 2);
    int in_eval = 0;
    for (int i = 0; i < M; i++) {
        const TextDomain *td = &tc->d[ed[i]];
        uint8_t x[17];
        for (int t = 0; t < 17; t++) x[t] = (uint8_t)ev[i * 17 + t];
        int found = 0;
        for (size_t o = 0; o + 17 <= td->eval_len && !found; o++) found = !memcmp(td->eval + o, x, 17);
        in_eval += found;
    }
    CHECK_MSG(in_eval == M, "%d of %d evaluation sequences are windows of their evaluation stream", in_eval, M);
    // the baselines: each bigram row is a distribution; the unigram CE is above the bigram CE on
    // this text; the overall value is the mean of the domains' (equal counts per domain)
    for (int a = 0; a < 256; a += 37) {
        double sum = 0;
        for (int b = 0; b < 256; b++) sum += exp(w.bi_logp[a * 256 + b]);
        CHECK_NEAR(sum, 1.0, 1e-9, 0);
    }
    double uni[4], bi[4];
    CHECK(world_text_baselines(&w, ev, ed, M, 0, 16, uni, bi) == 0);
    CHECK(bi[3] < uni[3] && uni[3] < log(256.0) && bi[3] > 0);
    CHECK_NEAR(uni[3], (uni[0] + uni[1] + uni[2]) / 3, 1e-12, 1e-12);
    free(ev);
    free(ed);
    world_free(&w);
}

// The same batches with 1 and 2 threads, and after the batch stream is restored mid-way (what a
// checkpoint stores), through the trainer's batch source.
static void test_batches(void) {
    Config c;
    config_defaults(&c);
    c.data_world = WORLD_TEXT; c.data_domains = 3; c.model_seq_len = 16; c.train_batch = 8; c.train_micro_batch = 2;
    c.data_mix = MIX_MIXED; c.eval_sequences = 4;
    const char *co[] = {"ka=" FX "/ka", "zo=" FX "/zo", "cy=" FX "/cy"};
    strs(&c.data_corpus, 3, co);
    WorldSpec ws;
    world_spec_from_config(&ws, &c);
    World w;
    char err[1024];
    if (world_build(&w, &ws, err, sizeof err) != 0) { CHECK_MSG(0, "%s", err); return; }
    const size_t per = (size_t)8 * 17;
    int32_t *a = malloc(sizeof(int32_t) * per * 6), *b = malloc(sizeof(int32_t) * per * 6);
    for (int run = 0; run < 2; run++) {
#ifdef _OPENMP
        omp_set_num_threads(run + 1);
#endif
        BatchSource s;
        CHECK(batch_source_init(&s, &c, &w) == 0);
        Rng saved = s.rng;
        for (int step = 0; step < 6; step++) {
            if (run == 1 && step == 3) {  // restore: continue from the state after step 2
                BatchSource t;
                CHECK(batch_source_init(&t, &c, &w) == 0);
                t.rng = saved;
                batch_source_free(&s);
                s = t;
            }
            Batch bt;
            batch_source_next(&s, step, &bt);
            memcpy((run ? b : a) + per * step, bt.tokens, sizeof(int32_t) * per);
            if (step == 2) saved = s.rng;
        }
        batch_source_free(&s);
    }
    CHECK_MSG(!memcmp(a, b, sizeof(int32_t) * per * 6), "batches differ between 1 and 2 threads or after a restore");
    free(a);
    free(b);
    world_free(&w);
}

// ---- bad input ----------------------------------------------------------------------------------

static void test_errors(void) {
    WorldSpec s = text_spec(16);
    const char *missing[] = {"ka=" FX "/ka", "zo=" FX "/nope", "cy=" FX "/cy"};
    strs(&s.corpus, 3, missing);
    expect_fail(s, FX "/nope: no such file or folder");
    const char *fortune[] = {"ka=" FX "/ka", "zo=/usr/share/games/fortunes/no-such-language", "cy=" FX "/cy"};
    strs(&s.corpus, 3, fortune);
    expect_fail(s, "apt-get install fortunes");
    const char *pattern[] = {"ka=" FX "/ka", "zo=" FX "/*.nothing", "cy=" FX "/cy"};
    strs(&s.corpus, 3, pattern);
    expect_fail(s, "matches nothing");
    // empty: a folder whose files are all excluded
    s = text_spec(16);
    const char *ex[] = {"b.txt", "a.*"};
    strs(&s.exclude, 2, ex);
    expect_fail(s, "domain \"ka\" is empty");
    // a folder of only blank documents
    char dir[] = "/tmp/moesim_text_XXXXXX";
    if (mkdtemp(dir)) {
        char p[300];
        snprintf(p, sizeof p, "%s/blank.txt", dir);
        FILE *f = fopen(p, "w");
        if (f) { fputs("\n%\n  \n%\n", f); fclose(f); }
        s = text_spec(16);
        snprintf(s.corpus.s[1], CFG_STR_MAX, "zo=%.200s", dir);
        expect_fail(s, "hold no document");
        remove(p);
        rmdir(dir);
    }
    // shorter than one sequence: the evaluation text (a tenth) of a fixture language is < 2000 bytes
    s = text_spec(2000);
    expect_fail(s, "shorter than one sequence");
    // binary file
    s = text_spec(16);
    snprintf(s.corpus.s[1], CFG_STR_MAX, "zo=" FX "/binary.bin");
    expect_fail(s, "binary.bin is not text");
    // a file in two domains
    s = text_spec(16);
    snprintf(s.corpus.s[1], CFG_STR_MAX, "zo=" FX "/ka/a.txt");
    expect_fail(s, "is in two domains");
    // names against data.domains, and model.vocab
    s = text_spec(16);
    s.domains = 2;
    expect_fail(s, "data.domains = 2");
    s = text_spec(16);
    s.V = 300;
    expect_fail(s, "model.vocab = 300");
    // a repeated name adds paths: 2 domains, "ka" of 4 files
    s = text_spec(16);
    snprintf(s.corpus.s[2], CFG_STR_MAX, "ka=" FX "/cy");
    s.domains = 2;
    World w;
    char err[1024];
    int rc = world_build(&w, &s, err, sizeof err);
    CHECK_MSG(rc == 0 && w.text->n == 2 && w.text->d[0].files == 4 && w.text->d[0].nentries == 2, "%s", err);
    world_free(&w);
}

// Links found in folders and by patterns are skipped (fortune folders hold "x.u8 -> x"); a path
// named directly is followed.
static void test_links(void) {
    char dir[] = "/tmp/moesim_text_XXXXXX";
    if (!mkdtemp(dir)) { SKIP("mkdtemp failed"); return; }
    char p[400], q[400], sub[400], ln[400];
    snprintf(p, sizeof p, "%s/x", dir);
    snprintf(q, sizeof q, "%s/x.u8", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(ln, sizeof ln, "%s/sublink", dir);
    FILE *f = fopen(p, "w");
    if (f) { fputs("one\n%\ntwo\n", f); fclose(f); }
    int ok = f && symlink("x", q) == 0 && mkdir(sub, 0700) == 0 && symlink("sub", ln) == 0;
    if (ok) {
        char fx[420];
        snprintf(fx, sizeof fx, "%s/y", sub);
        FILE *g = fopen(fx, "w");
        if (g) { fputs("three\n", g); fclose(g); }
        cfg_STRS c, none = {0};
        char e1[300], e2[300], e3[300], err[512];
        snprintf(e1, sizeof e1, "a=%.200s", dir);        // the folder: x and sub/y, not x.u8 nor sublink
        snprintf(e2, sizeof e2, "b=%.200s/*", dir);      // the pattern: the same
        snprintf(e3, sizeof e3, "c=%.200s/x.u8", dir);   // named directly: followed (x again, in c)
        const char *one[] = {e1};
        strs(&c, 1, one);
        double total = 0, largest = 0;
        CHECK(text_corpus_size(&c, &none, &total, &largest, err, sizeof err) == 0 && total == 16 && largest == 10);
        TextCorpus *tc = calloc(1, sizeof *tc);
        CHECK_MSG(tc && text_corpus_read(tc, &c, &none, "%", err, sizeof err) == 0 && tc->d[0].files == 2 &&
                  tc->d[0].documents == 3, "%s", err);
        if (tc) text_corpus_free(tc);
        const char *pat[] = {e2};
        strs(&c, 1, pat);
        CHECK_MSG(tc && text_corpus_read(tc, &c, &none, "%", err, sizeof err) == 0 && tc->d[0].files == 2, "%s", err);
        if (tc) text_corpus_free(tc);
        const char *two[] = {e1, e3};  // x in a, and through its link in c: one file in two domains
        strs(&c, 2, two);
        CHECK(tc && text_corpus_read(tc, &c, &none, "%", err, sizeof err) != 0 && strstr(err, "in two domains"));
        // a link inside a folder to another domain's file is not read: d = sub (y), e = a folder
        // holding a link to sub/y and a file of its own
        char in[400], yl[420], own[420], ed[300], ee[300];
        snprintf(in, sizeof in, "%s/in", dir);
        snprintf(yl, sizeof yl, "%s/ylink", in);
        snprintf(own, sizeof own, "%s/own", in);
        if (mkdir(in, 0700) == 0 && symlink("../sub/y", yl) == 0 && (g = fopen(own, "w"))) {
            fputs("four\n", g);
            fclose(g);
            snprintf(ed, sizeof ed, "d=%.200s", sub);
            snprintf(ee, sizeof ee, "e=%.200s", in);
            const char *de[] = {ed, ee};
            strs(&c, 2, de);
            CHECK_MSG(tc && text_corpus_read(tc, &c, &none, "%", err, sizeof err) == 0 && tc->n == 2 &&
                      tc->d[1].files == 1 && tc->d[1].bytes == 5, "%s", err);
            if (tc) text_corpus_free(tc);
        } else SKIP("cannot make the folder of links in %s", in);
        remove(yl); remove(own); rmdir(in);
        free(tc);
        remove(fx);
    } else SKIP("cannot make links in %s", dir);
    remove(ln); rmdir(sub); remove(q); remove(p); rmdir(dir);
}

// ---- samples.txt's escapes, and the config checks -----------------------------------------------

static void test_escape(void) {
    const int32_t tok[] = {'a', '\\', 0xC3, 0xA9, '\n', 0xFF, 0x01, 0xD0, 'b'};  // a \ é \n <ff> <01> <d0 b>
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    text_write_escaped(f, tok, 9);
    fclose(f);
    CHECK_MSG(buf && !strcmp(buf, "a\\\\\xC3\xA9\n\\xFF\\x01\\xD0b"), "escaped: %s", buf ? buf : "(null)");
    free(buf);
}

static void test_checks(void) {
    Config c;
    config_defaults(&c);
    c.data_world = WORLD_TEXT;
    CfgErrors e;
    memset(&e, 0, sizeof e);
    CHECK(config_validate(&c, NULL, &e) >= 1 && strstr(e.msg[0], "needs data.corpus"));
    const char *co[] = {"a=x", "b=y", "a=z"};
    strs(&c.data_corpus, 3, co);
    c.data_domains = 2;
    memset(&e, 0, sizeof e);
    CHECK_MSG(config_validate(&c, NULL, &e) == 0, "%s", e.n ? e.msg[0] : "");
    c.data_domains = 3;
    memset(&e, 0, sizeof e);
    CHECK(config_validate(&c, NULL, &e) == 1 && strstr(e.msg[0], "must equal the 2 domain names"));
    c.data_domains = 2;
    c.model_vocab = 128;
    memset(&e, 0, sizeof e);
    CHECK(config_validate(&c, NULL, &e) == 1 && strstr(e.msg[0], "model.vocab = 128"));
    c.model_vocab = 256;
    snprintf(c.data_corpus.s[1], CFG_STR_MAX, "no-equals-sign");
    memset(&e, 0, sizeof e);
    CHECK(config_validate(&c, NULL, &e) == 1 && strstr(e.msg[0], "element 2"));
    // the key's TOML form reads back (an array of strings)
    char err[256];
    Config d;
    config_defaults(&d);
    CHECK(config_set(&d, "data.corpus", "[\"a=x\", \"b=\\\"q\\\"\"]", err, sizeof err) == 0 && d.data_corpus.n == 2 &&
          !strcmp(d.data_corpus.s[1], "b=\"q\""));
    CHECK(config_set(&d, "data.corpus", "[\"a=x\", 3]", err, sizeof err) != 0 && strstr(err, "element 2"));
    CHECK(config_set(&d, "data.corpus", "\"a=x\"", err, sizeof err) != 0);
}

int main(void) {
    if (access(FX "/ka/a.txt", R_OK) != 0) {
        fprintf(stderr, "test_text: run from the repository root (%s/ka/a.txt not found)\n", FX);
        return 1;
    }
    test_entries();
    test_separators();
    test_corpus();
    test_batches();
    test_errors();
    test_links();
    test_escape();
    test_checks();
    return test_summary("test_text");
}
