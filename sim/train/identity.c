// identity.c — config hashes, key-by-key differences and the experiment folder's record
// (identity.h).
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  // open_memstream
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "identity.h"
#include "../io.h"

// The text config_write_toml writes for c, hashed (*h continues from its value).
static int hash_toml(const Config *c, uint64_t *h) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return -1;
    config_write_toml(m, c);
    if (fclose(m) != 0) { free(text); return -1; }
    *h = io_hash_bytes(*h, text, len);
    free(text);
    return 0;
}

int config_hash_hex(const Config *c, char out[17]) {
    uint64_t h = IO_HASH_INIT;
    if (hash_toml(c, &h) != 0) return -1;
    io_hash_hex(h, out);
    return 0;
}

// Appends formatted text to out (cap bytes), never past its end.
static void append(char *out, size_t cap, const char *s) {
    size_t n = strlen(out);
    if (n + 1 < cap) snprintf(out + n, cap - n, "%s", s);
}

int config_diff(const Config *a, const Config *b, int max, char *out, size_t cap) {
    enum { V = CFG_VALUE_MAX };  // the longest value config_format_value writes
    char va[V], vb[V];
    char item[600];
    int n = 0;
    out[0] = '\0';
    for (int k = 0; k < CFG_NKEYS; k++) {
        config_format_value(a, k, 1, va, sizeof va);
        config_format_value(b, k, 1, vb, sizeof vb);
        if (strcmp(va, vb) == 0) continue;
        if (n < max) {
            snprintf(item, sizeof item, "%s%s = %.200s there, %.200s now", n ? "; " : "", cfg_keys[k].key, va, vb);
            append(out, cap, item);
        }
        n++;
    }
    if (n > max) {
        snprintf(item, sizeof item, " (and %d more)", n - max);
        append(out, cap, item);
    }
    return n;
}

void experiment_grid_text(const Experiment *ex, char *out, size_t cap) {
    char v[400];
    out[0] = '\0';
    long stride = ex->npoints;
    for (int a = 0; a < ex->naxes; a++) {
        // point j * stride has value j of axis a (the first axis varies slowest)
        stride /= ex->axes[a].n;
        snprintf(v, sizeof v, "%s%s = [", a ? "; " : "", cfg_keys[ex->axes[a].key].key);
        append(out, cap, v);
        for (int j = 0; j < ex->axes[a].n; j++) {
            Config c;
            experiment_point(ex, j * stride, &c);
            if (j) append(out, cap, ", ");
            config_format_value(&c, ex->axes[a].key, 1, v, sizeof v);
            append(out, cap, v);
        }
        append(out, cap, "]");
    }
}

int experiment_record(const Experiment *ex, ExperimentRecord *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->source, sizeof r->source, "%s", ex->path);
    uint64_t h = IO_HASH_INIT;
    if (io_hash_file(ex->path, &h) == 0) io_hash_hex(h, r->source_hash);
    char v[400];
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (ex->origin[k].src != CFG_SRC_SET) continue;
        config_format_value(&ex->base, k, 1, v, sizeof v);
        if (r->set[0]) append(r->set, sizeof r->set, " ");
        append(r->set, sizeof r->set, cfg_keys[k].key);
        append(r->set, sizeof r->set, "=");
        append(r->set, sizeof r->set, v);
    }
    experiment_grid_text(ex, r->grid, sizeof r->grid);
    h = IO_HASH_INIT;
    if (hash_toml(&ex->base, &h) != 0) return -1;
    h = io_hash_bytes(h, r->grid, strlen(r->grid));
    io_hash_hex(h, r->hash);
    return 0;
}

int experiment_record_read(const char *dir, ExperimentRecord *r, char *err, size_t errlen) {
    char p[IO_CHILD_PATH_MAX];
    memset(r, 0, sizeof *r);
    if (!path_join(p, sizeof p, dir, "experiment.json")) return io_fail(err, errlen, "%s: %s", p, strerror(ENAMETOOLONG));
    if (!file_exists(p)) return 0;
    char *json = read_text_file(p);
    if (!json) return io_fail(err, errlen, "cannot read %s: %s", p, strerror(errno));
    int ok = json_field(json, "experiment_hash", r->hash, sizeof r->hash) && strlen(r->hash) == 16;
    json_field(json, "source", r->source, sizeof r->source);
    json_field(json, "source_hash", r->source_hash, sizeof r->source_hash);
    json_field(json, "set", r->set, sizeof r->set);
    json_field(json, "sweep", r->grid, sizeof r->grid);
    free(json);
    if (!ok) return io_fail(err, errlen, "%s: no \"experiment_hash\" of 16 hex digits (edited?)", p);
    return 1;
}

int experiment_record_write(const char *dir, const ExperimentRecord *r) {
    char p[IO_CHILD_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "experiment.json"));
    if (!f) return -1;
    JsonWriter w;
    json_begin(&w, f);
    json_object(&w);
    json_key(&w, "source"); json_str(&w, r->source);
    json_key(&w, "source_hash"); json_str(&w, r->source_hash);
    json_key(&w, "set"); json_str(&w, r->set);
    json_key(&w, "sweep"); json_str(&w, r->grid);
    json_key(&w, "experiment_hash"); json_str(&w, r->hash);
    json_end(&w);
    return afile_commit(&a);
}
