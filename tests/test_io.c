// test_io.c — sim/io.c's JSON writer (JsonWriter) and its reader json_field: escaping (quotes,
// backslashes, control characters; UTF-8 passes through), nesting, automatic commas and
// indentation, flat containers, the number formats and non-finite numbers. Every expected text is
// written out in full, never produced by the code under test. And path_join's overflow: an
// error that every io function taking a path refuses, never a truncated path. And the content
// hash (FNV-1a 64) against its published vectors.
// covers: sim/io.c
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "../sim/io.h"

// The text a writer produced into a memory stream (malloc'ed; the caller frees).
typedef struct {
    char *text;
    size_t len;
    FILE *f;
    JsonWriter w;
} Out;

static JsonWriter *out_open(Out *o) {
    o->text = NULL;
    o->len = 0;
    o->f = open_memstream(&o->text, &o->len);
    if (!o->f) abort();
    json_begin(&o->w, o->f);
    return &o->w;
}

static const char *out_close(Out *o) {
    fclose(o->f);
    return o->text;
}

static void test_escaping(void) {
    Out o;
    JsonWriter *w = out_open(&o);
    json_array_flat(w);
    json_str(w, "say \"hi\"");
    json_str(w, "a\\b");
    json_str(w, "tab\there\nnew");
    json_str(w, "\x01\x1f\r");
    json_str(w, "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x99\x82");  // é → 🙂: bytes as they are
    json_str(w, "");
    json_end(w);
    const char *want = "[\"say \\\"hi\\\"\", \"a\\\\b\", \"tab\\there\\nnew\", \"\\u0001\\u001f\\u000d\", "
                       "\"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x99\x82\", \"\"]\n";
    CHECK_MSG(!strcmp(out_close(&o), want), "got %s", o.text);
    free(o.text);
    // keys are escaped the same way
    w = out_open(&o);
    json_object(w);
    json_key(w, "a\"b");
    json_int(w, 1);
    json_end(w);
    CHECK_MSG(!strcmp(out_close(&o), "{\n  \"a\\\"b\": 1\n}\n"), "got %s", o.text);
    free(o.text);
}

static void test_nesting(void) {
    Out o;
    JsonWriter *w = out_open(&o);
    json_object(w);
    json_key(w, "n"); json_int(w, -3);
    json_key(w, "empty"); json_object(w); json_end(w);
    json_key(w, "none"); json_array(w); json_end(w);
    json_key(w, "list");
    json_array(w);
    json_int(w, 1);
    json_object(w);
    json_key(w, "x"); json_bool(w, 1);
    json_key(w, "y"); json_null(w);
    json_end(w);
    json_end(w);
    json_key(w, "rows");
    json_array(w);
    for (int r = 0; r < 2; r++) {
        json_object_flat(w);  // one entry a line; everything inside is flat
        json_key(w, "row"); json_int(w, r);
        json_key(w, "shape");
        json_array(w);        // inside a flat container: flat too
        json_uint(w, 4); json_uint(w, 18446744073709551615ull);
        json_end(w);
        json_key(w, "ok"); json_bool(w, 0);
        json_end(w);
    }
    json_end(w);
    json_key(w, "raw"); json_raw(w, "[0.125, 0.25]");
    json_end(w);
    const char *want =
        "{\n"
        "  \"n\": -3,\n"
        "  \"empty\": {},\n"
        "  \"none\": [],\n"
        "  \"list\": [\n"
        "    1,\n"
        "    {\n"
        "      \"x\": true,\n"
        "      \"y\": null\n"
        "    }\n"
        "  ],\n"
        "  \"rows\": [\n"
        "    {\"row\": 0, \"shape\": [4, 18446744073709551615], \"ok\": false},\n"
        "    {\"row\": 1, \"shape\": [4, 18446744073709551615], \"ok\": false}\n"
        "  ],\n"
        "  \"raw\": [0.125, 0.25]\n"
        "}\n";
    CHECK_MSG(!strcmp(out_close(&o), want), "got\n%s", o.text);
    CHECK(o.w.depth == 0);
    // json_field reads the top-level keys back, strings unescaped, other values as written
    char v[64];
    CHECK(json_field(o.text, "n", v, sizeof v) && !strcmp(v, "-3"));
    CHECK(json_field(o.text, "raw", v, sizeof v) && !strcmp(v, "[0.125"));  // up to the first comma
    CHECK(json_field(o.text, "x", v, sizeof v) == NULL);                    // not top level
    CHECK(json_field(o.text, "missing", v, sizeof v) == NULL);
    free(o.text);
    w = out_open(&o);
    json_object(w);
    json_key(w, "status"); json_str(w, "failed: \"x\" \\ y");
    json_end(w);
    CHECK(json_field(out_close(&o), "status", v, sizeof v) && !strcmp(v, "failed: \"x\" \\ y"));
    free(o.text);
}

static void test_numbers(void) {
    Out o;
    JsonWriter *w = out_open(&o);
    json_array_flat(w);
    json_double(w, 0.1);            // %.17g: round-trip exact
    json_double(w, 1.0);
    json_double(w, -2.5e-300);
    json_double(w, 1e21);
    json_double(w, NAN);
    json_double(w, INFINITY);
    json_double(w, -INFINITY);
    json_fixed(w, 2.0 / 3.0, 6);    // %.*f: a value reported to fixed places
    json_fixed(w, 12.34567, 3);
    json_fixed(w, 1234.56, 1);
    json_fixed(w, NAN, 6);
    json_int(w, -9223372036854775807LL - 1);
    json_end(w);
    const char *want = "[0.10000000000000001, 1, -2.5e-300, 1e+21, null, null, null, 0.666667, "
                       "12.346, 1234.6, null, -9223372036854775808]\n";
    CHECK_MSG(!strcmp(out_close(&o), want), "got %s", o.text);
    // %.17g parses back to the very same double
    CHECK(strtod("0.10000000000000001", NULL) == 0.1);
    free(o.text);
}

// A path that does not fit its buffer is an error (NULL, ENAMETOOLONG) that the io functions the
// readers above use refuse, never a truncated path that names another file.
static void test_path_overflow(void) {
    char p[16], err[IO_MSG_MAX];
    CHECK(path_join(p, sizeof p, "abc", "def") != NULL && strcmp(p, "abc/def") == 0);
    CHECK(path_join(p, 8, "abc", "def") == p);  // "abc/def" + NUL is exactly 8 bytes
    errno = 0;
    CHECK(path_join(p, 7, "abc", "def") == NULL && errno == ENAMETOOLONG);
    AtomicFile a;
    errno = 0;
    CHECK(afile_open(&a, NULL) == NULL && errno == ENAMETOOLONG);
    CHECK(mkdir_p(NULL) != 0 && read_text_file(NULL) == NULL && !file_exists(NULL) && remove_tree(NULL) != 0);
    int32_t *d = NULL;
    int nd;
    size_t sh[3];
    CHECK(npy_read_int32(NULL, &d, &nd, sh, err, sizeof err) != 0 && strstr(err, "too long") != NULL);
    // a given folder near IO_PATH_MAX still takes a run id and a file name two levels down
    char dir[IO_PATH_MAX], run[IO_CHILD_PATH_MAX], file[IO_DEEP_PATH_MAX];
    memset(dir, 'x', sizeof dir - 1);
    dir[sizeof dir - 1] = '\0';
    CHECK(path_join(run, sizeof run, dir, "run-0123456789") && path_join(file, sizeof file, run, "manifest.json"));
}

// FNV-1a 64 against the published test vectors (Fowler, Noll and Vo's list), over bytes given at
// once and in two pieces, and a file's hash equal to its bytes' hash.
static void test_hash(void) {
    char hex[17];
    CHECK(io_hash_bytes(IO_HASH_INIT, "", 0) == 0xcbf29ce484222325ULL);
    CHECK(io_hash_bytes(IO_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(io_hash_bytes(IO_HASH_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
    CHECK(io_hash_bytes(io_hash_bytes(IO_HASH_INIT, "foo", 3), "bar", 3) == 0x85944171f73967e8ULL);
    io_hash_hex(0x85944171f73967e8ULL, hex);
    CHECK(strcmp(hex, "85944171f73967e8") == 0);
    io_hash_hex(0xaULL, hex);
    CHECK(strcmp(hex, "000000000000000a") == 0);
    char path[] = "/tmp/moesim_test_hash_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, "foobar", 6) == 6);
    close(fd);
    uint64_t h = 0;
    CHECK(io_hash_file(path, &h) == 0 && h == 0x85944171f73967e8ULL);
    remove(path);
    errno = 0;
    CHECK(io_hash_file(path, &h) != 0 && errno == ENOENT);
}

int main(void) {
    test_escaping();
    test_nesting();
    test_numbers();
    test_path_overflow();
    test_hash();
    return test_summary("test_io");
}
