// fuzz_npy.c — libFuzzer entry for the .npy reader (tests/fuzz/run.sh builds and runs it). Each
// input is a whole .npy file, read from memory through npy_read_stream as float (with and without
// bfloat16 bits) and as int. Properties beyond "no crash, no leak, no read out of bounds" (ASan +
// UBSan): an accepted file has 1 to NPY_MAX_DIMS dimensions, its header parses alone to the same
// shape, whose element count does not wrap size_t, and its data fill the rest of the file exactly
// (elements x element size = bytes after the header); a refused file has a message naming it. A
// failed property aborts, so libFuzzer keeps the input.
// covers: sim/npy_read.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/io.h"

static size_t elem_size(const char *descr) { return descr[0] && descr[1] && descr[2] ? (size_t)(descr[2] - '0') : 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const struct { int want; const char *bf16; } modes[] = {
        {NPY_WANT_FLOAT, NULL}, {NPY_WANT_FLOAT, "bfloat16"}, {NPY_WANT_INT, NULL}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        // fmemopen needs a non-empty buffer: an empty file is one byte with a size of 0
        static const uint8_t one[1] = {0};
        FILE *f = fmemopen((void *)(size ? data : one), size ? size : 1, "rb");
        if (!f) abort();
        char err[512] = "";
        void *out = NULL;
        int nd = 0;
        size_t sh[NPY_MAX_DIMS];
        int rc = npy_read_stream(f, size, "fuzz.npy", modes[m].want, modes[m].bf16, &out, &nd, sh, err, sizeof err);
        fclose(f);
        if (rc != 0) {
            if (!err[0] || !strstr(err, "fuzz.npy")) { fprintf(stderr, "refused without a message naming the file\n"); abort(); }
            continue;
        }
        NpyHeader h;
        char e2[512];
        if (nd < 1 || nd > NPY_MAX_DIMS || npy_parse_header(data, size, size, &h, e2, sizeof e2) != 0 || h.ndim != nd) {
            fprintf(stderr, "accepted, but the header alone does not parse to it\n");
            abort();
        }
        size_t count = 1;
        for (int k = 0; k < nd; k++) {
            if (sh[k] != h.shape[k]) abort();
            if (__builtin_mul_overflow(count, sh[k], &count)) {  // the reader must have refused it
                fprintf(stderr, "accepted a shape whose element count wraps size_t\n");
                abort();
            }
        }
        if (count != h.count || count * elem_size(h.descr) != size - h.offset) {
            fprintf(stderr, "accepted %zu elements of %s, but %zu bytes follow the header\n", count, h.descr, size - h.offset);
            abort();
        }
        // touch every element of the output (ASan: it is as long as the shape says)
        volatile uint32_t acc = 0;
        for (size_t i = 0; i < count; i++) acc ^= ((uint32_t *)out)[i];
        (void)acc;
        free(out);
    }
    return 0;
}
