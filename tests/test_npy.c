// test_npy.c — the one .npy reader (sim/npy_read.c) against hostile files: every case is a file
// written byte by byte here (never by the code under test) and must be refused with a message
// naming the file and saying what is wrong, without a crash (the san build runs this under ASan):
// shapes whose element or byte count wraps size_t, a 4 KB file claiming 2^40 rows, negative and
// over-long dimensions, a broken dict, unknown, missing and repeated keys, a bad descr or
// fortran_order, a header length past the end of the file, truncated data, trailing bytes,
// versions other than 1.0/2.0/3.0, a folder or a FIFO (refused, not waited on). And the valid forms numpy writes (versions 1.0 to 3.0, keys in
// any order, double quotes, Fortran order, every dtype) still read to the right values through
// every entry point (npy_read_array and its thin wrappers). Uses only the reader's public entry
// points that existed before it was rewritten, so the hostile cases can be run against the old
// reader too (they fail there: the wrap is read as a 4-element array, 2^40 rows are "out of memory").
// covers: sim/npy_read.c
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "../sim/io.h"

static char dir[] = "/tmp/moesim_test_npy_XXXXXX";

// dir/name into a static buffer.
static const char *at(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

// Writes a .npy file byte by byte: the magic, version major.0, the header length (hlen, or
// strlen(hdr) when hlen < 0; 2 bytes for version 1, 4 otherwise), hdr as given, then ndata bytes
// of data (zero bytes).
static const char *make(const char *name, int major, long long hlen, const char *hdr, size_t ndata) {
    const char *p = at(name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    unsigned long long n = hlen < 0 ? strlen(hdr) : (unsigned long long)hlen;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0,
                             (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
    fwrite(pre, 1, major == 1 ? 10 : 12, f);
    fwrite(hdr, 1, strlen(hdr), f);
    for (size_t i = 0; i < ndata; i++) fputc(0, f);
    fclose(f);
    return p;
}

// A header as numpy writes it (padded with spaces to a multiple of 64 bytes, ending in '\n').
static const char *hdr(const char *descr, const char *fortran, const char *shape) {
    static char h[512];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape);
    while ((10 + n + 1) % 64) h[n++] = ' ';
    h[n++] = '\n';
    h[n] = '\0';
    return h;
}

// Reading path as float and as int must fail (no crash), each message naming the file and
// holding `want`.
static void refused(const char *what, const char *path, int as_int, const char *want) {
    char err[IO_MSG_MAX] = "";
    void *d = NULL;
    int nd = 0;
    size_t sh[NPY_MAX_DIMS];
    int rc = npy_read_array(path, as_int ? NPY_WANT_INT : NPY_WANT_FLOAT, NULL, &d, &nd, sh, err, sizeof err);
    CHECK_MSG(rc != 0 && strstr(err, path) && strstr(err, want), "%s: rc %d, message '%s', expected one naming the file and saying '%s'",
              what, rc, err, want);
    if (rc == 0) free(d);
}

static void test_hostile(void) {
    // 1. the element count wraps size_t: (2^62 + 1) * 4 = 2^64 + 4 = 4 mod 2^64; 16 data bytes
    //    would "fit" (before: read as a 4-element array that analyze took to have 2^62 + 1 rows)
    refused("element count wraps", make("wrap.npy", 1, -1, hdr("<f4", "False", "(4611686018427387905, 4)"), 16), 0,
            "shape (4611686018427387905, 4) has more elements than this machine can count");
    // ... and with an int dtype, through the 3-D form
    refused("element count wraps (3-D)", make("wrap3.npy", 1, -1, hdr("<i4", "False", "(4294967296, 4294967296, 1)"), 0), 1,
            "more elements than this machine can count");
    // 2. the byte count wraps (the element count does not): 2^62 + 1 float32 = 2^64 + 4 bytes
    refused("byte count wraps", make("wrapb.npy", 1, -1, hdr("<f4", "False", "(4611686018427387905,)"), 4), 0,
            "shape (4611686018427387905,) needs more bytes than this machine can count, but the file holds 4 after its header");
    // 3. a 4 KB file claiming 2^40 rows: the file is shorter than its shape, said before any
    //    allocation (before: "out of memory", or an abort under ASan)
    refused("2^40 rows", make("huge.npy", 1, -1, hdr("<f4", "False", "(1099511627776, 4)"), 3968), 0,
            "shape (1099511627776, 4) needs 17592186044416 bytes but the file holds 3968 after its header");
    // 4. truncated data: (4, 4) float32 is 64 bytes, 60 given
    refused("truncated", make("short.npy", 1, -1, hdr("<f4", "False", "(4, 4)"), 60), 0,
            "needs 64 bytes but the file holds 60 after its header");
    refused("no data at all", make("nodata.npy", 1, -1, hdr("<i4", "False", "(3,)"), 0), 1,
            "needs 12 bytes but the file holds 0 after its header");
    // 5. trailing bytes after the data
    refused("trailing garbage", make("trail.npy", 1, -1, hdr("<f4", "False", "(2, 2)"), 16 + 5), 0,
            "5 bytes after the data");
    // 6. dimensions: negative, too large to parse, 0-D, more than 4, a 1-D shape without its comma
    refused("negative dimension", make("neg.npy", 1, -1, hdr("<f4", "False", "(-1, 4)"), 16), 0, "negative dimension");
    refused("dimension overflows", make("big.npy", 1, -1, hdr("<f4", "False", "(99999999999999999999999,)"), 4), 0,
            "dimension too large");
    refused("0-D", make("zero_d.npy", 1, -1, hdr("<f4", "False", "()"), 4), 0, "0-D shape");
    refused("5-D", make("five_d.npy", 1, -1, hdr("<f4", "False", "(1, 1, 1, 1, 1)"), 4), 0, "more than 4 dimensions");
    refused("(3) is not a tuple", make("nocomma.npy", 1, -1, hdr("<f4", "False", "(3)"), 12), 0, "1-D shape without its comma");
    refused("shape not a tuple", make("list.npy", 1, -1, hdr("<f4", "False", "[3, 4]"), 48), 0, "shape as a tuple");
    refused("junk in the shape", make("junk_shape.npy", 1, -1, hdr("<f4", "False", "(3; 4)"), 48), 0, "expected ',' or ')'");
    // 7. the dict: a missing comma, unknown / missing / repeated keys, text after it, not a dict
    refused("missing comma", make("dict1.npy", 1, -1, "{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }\n", 8), 0,
            "expected ',' or '}'");
    refused("unknown key", make("dict2.npy", 1, -1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", 8), 0,
            "unknown key 'x'");
    refused("missing key", make("dict3.npy", 1, -1, "{'descr': '<f4', 'shape': (2,)}\n", 8), 0, "no 'fortran_order' key");
    refused("repeated key", make("dict4.npy", 1, -1, "{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}\n", 8), 0,
            "'descr' given twice");
    refused("text after the dict", make("dict5.npy", 1, -1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x\n", 8), 0,
            "text after the dict");
    refused("not a dict", make("dict6.npy", 1, -1, "descr <f4 fortran_order False shape (2,)\n", 8), 0, "expected a dict");
    refused("unterminated string", make("dict7.npy", 1, -1, "{'descr: '<f4\n", 8), 0, "expected ':'");
    refused("NUL in the header", make("nul.npy", 1, 20, "{'descr': '<f4'", 8), 0, "NUL byte");
    // 8. descr and fortran_order
    refused("big-endian descr", make("descr1.npy", 1, -1, hdr(">f4", "False", "(2,)"), 8), 0, "dtype >f4, expected float32");
    refused("int descr for floats", make("descr2.npy", 1, -1, hdr("<i4", "False", "(2,)"), 8), 0, "dtype <i4, expected float32");
    refused("float descr for ints", make("descr3.npy", 1, -1, hdr("<f4", "False", "(2,)"), 8), 1, "dtype <f4, expected int32");
    refused("structured descr", make("descr4.npy", 1, -1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}\n", 8), 0,
            "structured descr");
    refused("fortran_order neither", make("fo.npy", 1, -1, hdr("<f4", "Maybe", "(2,)"), 8), 0, "fortran_order True or False");
    // 9. the preamble: header length past the end of the file, 0, over the limit; magic; version
    refused("header length past EOF", make("hlen1.npy", 1, 1000, "{'descr': '<f4'", 0), 0,
            "header length 1000 runs past the end of the file");
    refused("header length past EOF (v2, 4 GB)", make("hlen2.npy", 2, 0xffffffffLL, hdr("<f4", "False", "(2,)"), 8), 0,
            "header length 4294967295 runs past the end of the file");
    refused("header length 0", make("hlen0.npy", 1, 0, "", 8), 0, "header length 0");
    refused("version 4.0", make("v4.npy", 4, -1, hdr("<f4", "False", "(2,)"), 8), 0, "version 4.0");
    FILE *f = fopen(at("magic.npy"), "wb");
    fputs("\x93NUMPX\x01\x00", f);
    fclose(f);
    refused("bad magic", at("magic.npy"), 0, "not a .npy file");
    f = fopen(at("empty.npy"), "wb");
    fclose(f);
    refused("empty file", at("empty.npy"), 1, "not a .npy file");
    f = fopen(at("v2short.npy"), "wb");
    fputs("\x93NUMPY\x02", f);
    fputc(0, f);
    fputc(1, f);
    fputc(0, f);
    fclose(f);
    refused("v2 preamble cut", at("v2short.npy"), 0, "ends inside its 12-byte preamble");
    refused("a folder", dir, 0, "not a regular file");
    // a FIFO: refused at once (opening it for reading waited for a writer forever); the alarm
    // turns a hang into a failure
    CHECK(mkfifo(at("fifo.npy"), 0644) == 0);
    alarm(10);
    refused("a FIFO", at("fifo.npy"), 0, "not a regular file");
    alarm(0);
    refused("a missing file", at("none.npy"), 0, "cannot open");
}

// The wrappers' own refusals: dimensions they do not take.
static void test_wrappers_refuse(void) {
    char err[IO_MSG_MAX] = "";
    float *fd = NULL;
    int32_t *id = NULL;
    int nd;
    size_t sh[NPY_MAX_DIMS];
    const char *p4 = make("four.npy", 1, -1, hdr("<i4", "False", "(1, 1, 1, 2)"), 8);
    CHECK(npy_read_int32(p4, &id, &nd, sh, err, sizeof err) != 0 && strstr(err, "4 dimensions, expected 1 to 3"));
    CHECK(npy_read_int32_nd(p4, &id, 3, sh, err, sizeof err) != 0 && strstr(err, "4 dimensions, expected 3"));
    CHECK(npy_read_float(make("huge2.npy", 1, -1, hdr("<f4", "False", "(1099511627776, 4)"), 100), &fd, &nd, sh, err, sizeof err) != 0 &&
          strstr(err, "needs 17592186044416 bytes but the file holds 100"));
    CHECK(npy_read_int32_nd(make("wrap4.npy", 1, -1, hdr("<i4", "False", "(4611686018427387905, 4, 1, 1)"), 16), &id, 4, sh, err, sizeof err) != 0 &&
          strstr(err, "more elements than this machine can count"));
}

// Valid files: the forms numpy writes, read to the right values.
static void test_valid(void) {
    char err[IO_MSG_MAX] = "";
    void *d = NULL;
    int nd = 0;
    size_t sh[NPY_MAX_DIMS];
    // float32 (2, 3): the bytes of 1..6 as floats, written by hand
    float v[6] = {1, 2, 3, 4, 5, 6}, fv[6] = {1, 4, 2, 5, 3, 6};
    const char *forms[][2] = {
        {"1", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {"2", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {"3", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {"1", "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}"},
        {"1", "  {'descr':'<f4','fortran_order':False,'shape':( 2 , 3 , )}  \n"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "ok%zu.npy", i);
        const char *p = make(name, forms[i][0][0] - '0', -1, forms[i][1], 0);
        FILE *f = fopen(p, "ab");
        fwrite(v, 4, 6, f);
        fclose(f);
        int rc = npy_read_array(p, NPY_WANT_FLOAT, NULL, &d, &nd, sh, err, sizeof err);
        CHECK_MSG(rc == 0 && nd == 2 && sh[0] == 2 && sh[1] == 3 && sh[2] == 1 && memcmp(d, v, sizeof v) == 0, "form %zu: %s", i, err);
        if (rc == 0) free(d);
    }
    // Fortran order: the same array stored column by column
    const char *p = make("fortran.npy", 1, -1, hdr("<f4", "True", "(2, 3)"), 0);
    FILE *f = fopen(p, "ab");
    fwrite(fv, 4, 6, f);
    fclose(f);
    float *x = NULL;
    size_t s3[3];
    CHECK_MSG(npy_read_float(p, &x, &nd, s3, err, sizeof err) == 0 && nd == 2 && memcmp(x, v, sizeof v) == 0, "%s", err);
    free(x);
    // int64 and int32 through the int forms; an int64 that does not fit int32 is refused
    long long l[3] = {7, -8, 9};
    p = make("i8.npy", 1, -1, hdr("<i8", "False", "(3,)"), 0);
    f = fopen(p, "ab");
    fwrite(l, 8, 3, f);
    fclose(f);
    int32_t *ix = NULL;
    CHECK_MSG(npy_read_int32(p, &ix, &nd, s3, err, sizeof err) == 0 && nd == 1 && s3[0] == 3 && s3[1] == 1 && ix[0] == 7 && ix[1] == -8 && ix[2] == 9, "%s", err);
    free(ix);
    l[1] = 1LL << 40;
    f = fopen(p, "r+b");
    fseek(f, -16, SEEK_END);  // element 1 of 3
    fwrite(&l[1], 8, 1, f);
    fclose(f);
    CHECK_MSG(npy_read_int32(p, &ix, &nd, s3, err, sizeof err) != 0 && strstr(err, "element 1 does not fit in int32"), "%s", err);
    // a 4-D int32 through npy_read_int32_nd; an empty array (a dimension of 0) with no data
    int32_t r[4] = {1, 2, 3, 4};
    size_t s4[4] = {1, 2, 1, 2}, g4[4];
    CHECK(npy_write(at("r.npy"), "<i4", r, 4, s4) == 0);
    CHECK_MSG(npy_read_int32_nd(at("r.npy"), &ix, 4, g4, err, sizeof err) == 0 && g4[1] == 2 && g4[3] == 2 && ix[3] == 4, "%s", err);
    free(ix);
    CHECK_MSG(npy_read_array(make("empty0.npy", 1, -1, hdr("<f4", "False", "(0, 1099511627776)"), 0), NPY_WANT_FLOAT, NULL, &d, &nd, sh, err,
                             sizeof err) == 0 && nd == 2 && sh[0] == 0 && sh[1] == 1099511627776ULL, "%s", err);
    free(d);
    // float64 and float16 to float; bfloat16 bits only when asked
    double dv[2] = {0.5, -3};
    p = make("f8.npy", 1, -1, hdr("<f8", "False", "(2,)"), 0);
    f = fopen(p, "ab");
    fwrite(dv, 8, 2, f);
    fclose(f);
    CHECK(npy_read_array(p, NPY_WANT_FLOAT, NULL, &d, &nd, sh, err, sizeof err) == 0 && ((float *)d)[0] == 0.5f && ((float *)d)[1] == -3.0f);
    free(d);
    uint16_t hv[2] = {0x3c00, 0xc000};  // float16 1, -2
    p = make("f2.npy", 1, -1, hdr("<f2", "False", "(2,)"), 0);
    f = fopen(p, "ab");
    fwrite(hv, 2, 2, f);
    fclose(f);
    CHECK(npy_read_array(p, NPY_WANT_FLOAT, NULL, &d, &nd, sh, err, sizeof err) == 0 && ((float *)d)[0] == 1.0f && ((float *)d)[1] == -2.0f);
    free(d);
    uint16_t bv[2] = {0x3f80, 0xc000};  // bfloat16 1, -2
    p = make("bf.npy", 1, -1, hdr("<u2", "False", "(2,)"), 0);
    f = fopen(p, "ab");
    fwrite(bv, 2, 2, f);
    fclose(f);
    CHECK(npy_read_array(p, NPY_WANT_FLOAT, "bfloat16", &d, &nd, sh, err, sizeof err) == 0 && ((float *)d)[0] == 1.0f && ((float *)d)[1] == -2.0f);
    free(d);
    refused("bfloat16 bits without --dtype", p, 0, "give --dtype bfloat16");
}

static void cleanup(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_npy: could not remove %s\n", dir);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_hostile();
    test_wrappers_refuse();
    test_valid();
    cleanup();
    return test_summary("test_npy");
}
