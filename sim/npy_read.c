// npy_read.c — the one .npy reader (io.h): a strict header parser and a streaming reader that
// every .npy read in the program goes through. Nothing a file says is trusted: each header field
// is checked, shape products are overflow-checked, and the data's size is checked against the
// file's length before anything is allocated, so a hostile header is an error naming the file,
// never a wrapped allocation, an out-of-memory or a read past a buffer.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io.h"

// ---- the header ----------------------------------------------------------------------------------

// A cursor over the NUL-terminated header text; the first error wins.
typedef struct {
    const char *p;
    char *err;
    size_t errlen;
    int failed;
} Cur;

static int cfail(Cur *c, const char *what) {
    if (!c->failed) {
        char near[13];  // what follows, printable (a hostile header may hold any byte)
        size_t n = 0;
        for (const char *p = c->p; *p && n < sizeof near - 1; p++) near[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
        near[n] = '\0';
        if (n) snprintf(c->err, c->errlen, "header: %s at \"%s\"", what, near);
        else snprintf(c->err, c->errlen, "header: %s at its end", what);
    }
    c->failed = 1;
    return -1;
}

static void skip_ws(Cur *c) {
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r') c->p++;
}

// A Python string literal in single or double quotes, without escapes, into out (cap bytes).
static int parse_string(Cur *c, char *out, size_t cap, const char *what) {
    char q = *c->p;
    if (q != '\'' && q != '"') return cfail(c, what);
    const char *s = ++c->p, *e = strchr(s, q);
    if (!e) return cfail(c, "an unterminated string");
    if (memchr(s, '\\', (size_t)(e - s))) return cfail(c, "a string with an escape");
    if ((size_t)(e - s) >= cap) return cfail(c, "a string too long");
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    c->p = e + 1;
    return 0;
}

// The shape tuple: "()", "(3,)", "(3, 4)", "(3, 4,)"; each entry a non-negative integer that fits
// size_t; at most NPY_MAX_DIMS of them (0-D arrays are not read).
static int parse_shape(Cur *c, NpyHeader *h) {
    if (*c->p != '(') return cfail(c, "expected the shape as a tuple '(...)'");
    c->p++;
    h->ndim = 0;
    int comma = 0;  // the last entry was followed by a comma
    for (;;) {
        skip_ws(c);
        if (*c->p == ')') break;
        if (*c->p == '-') return cfail(c, "a negative dimension in the shape");
        if (*c->p < '0' || *c->p > '9') return cfail(c, "expected a non-negative integer in the shape");
        size_t v = 0;
        for (; *c->p >= '0' && *c->p <= '9'; c->p++) {
            unsigned d = (unsigned)(*c->p - '0');
            if (v > (SIZE_MAX - d) / 10) return cfail(c, "a dimension too large for this machine");
            v = v * 10 + d;
        }
        if (h->ndim == NPY_MAX_DIMS) return cfail(c, "more than 4 dimensions in the shape (at most 4 are read)");
        h->shape[h->ndim++] = v;
        skip_ws(c);
        if (*c->p == ',') { c->p++; comma = 1; continue; }
        comma = 0;
        if (*c->p == ')') break;
        return cfail(c, "expected ',' or ')' in the shape");
    }
    if (h->ndim == 0) return cfail(c, "a 0-D shape '()' (a scalar); expected 1 to 4 dimensions");
    // "(3)" is the integer 3 in Python, not a tuple: a 1-D shape needs its comma
    if (h->ndim == 1 && !comma) return cfail(c, "a 1-D shape without its comma; expected '(n,)'");
    c->p++;
    return 0;
}
_Static_assert(NPY_MAX_DIMS == 4, "the messages above say 4");

int npy_parse_header(const unsigned char *buf, size_t len, uint64_t file_size, NpyHeader *h, char *err,
                     size_t errlen) {
    memset(h, 0, sizeof *h);
    for (int k = 0; k < NPY_MAX_DIMS; k++) h->shape[k] = 1;
    if (len < 10 || buf[0] != 0x93 || memcmp(buf + 1, "NUMPY", 5) != 0)
        return io_fail(err, errlen, "not a .npy file (it does not start with \\x93NUMPY and a version)");
    int major = buf[6], minor = buf[7];
    if ((major < 1 || major > 3) || minor != 0)
        return io_fail(err, errlen, ".npy format version %d.%d; versions 1.0, 2.0 and 3.0 are read", major, minor);
    size_t off = major == 1 ? 10 : 12;
    if (len < off) return io_fail(err, errlen, "the file ends inside its %zu-byte preamble", off);
    uint64_t hlen = buf[8] | (uint64_t)buf[9] << 8;
    if (major > 1) hlen |= (uint64_t)buf[10] << 16 | (uint64_t)buf[11] << 24;
    if (hlen == 0) return io_fail(err, errlen, "header length 0");
    if (file_size < off || hlen > file_size - off)
        return io_fail(err, errlen, "header length %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes)", hlen,
                       file_size);
    if (hlen > NPY_HEADER_MAX)
        return io_fail(err, errlen, "header length %" PRIu64 " is over the limit of %d bytes", hlen, NPY_HEADER_MAX);
    if (off + hlen > len) return io_fail(err, errlen, "header length %" PRIu64 ": only %zu bytes were read", hlen, len);
    h->offset = off + (size_t)hlen;
    if (memchr(buf + off, '\0', (size_t)hlen)) return io_fail(err, errlen, "header: a NUL byte in it");
    char *text = malloc((size_t)hlen + 1);
    if (!text) return io_fail(err, errlen, "out of memory");
    memcpy(text, buf + off, (size_t)hlen);
    text[hlen] = '\0';
    // The dict numpy writes, read as Python's literal_eval would: the three keys in any order,
    // each once, nothing else; a trailing comma; whitespace around; nothing after the '}'.
    Cur c = {text, err, errlen, 0};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    skip_ws(&c);
    if (*c.p != '{') cfail(&c, "expected a dict '{...}'");
    else c.p++;
    while (!c.failed) {
        skip_ws(&c);
        if (*c.p == '}') break;
        char key[32];
        if (parse_string(&c, key, sizeof key, "expected a quoted key") != 0) break;
        skip_ws(&c);
        if (*c.p != ':') { cfail(&c, "expected ':' after a key"); break; }
        c.p++;
        skip_ws(&c);
        int *seen = !strcmp(key, "descr") ? &seen_descr : !strcmp(key, "fortran_order") ? &seen_fortran
                  : !strcmp(key, "shape") ? &seen_shape : NULL;
        if (!seen) {
            snprintf(err, errlen, "header: unknown key '%s' (a .npy header has descr, fortran_order and shape)", key);
            c.failed = 1;
            break;
        }
        if (*seen) {
            snprintf(err, errlen, "header: key '%s' given twice", key);
            c.failed = 1;
            break;
        }
        *seen = 1;
        if (seen == &seen_descr) {
            if (*c.p == '[') { cfail(&c, "a structured descr (a list); expected a type string such as '<f4'"); break; }
            if (parse_string(&c, h->descr, sizeof h->descr, "expected descr as a type string such as '<f4'") != 0) break;
        } else if (seen == &seen_fortran) {
            if (!strncmp(c.p, "True", 4)) { h->fortran = 1; c.p += 4; }
            else if (!strncmp(c.p, "False", 5)) { h->fortran = 0; c.p += 5; }
            else { cfail(&c, "expected fortran_order True or False"); break; }
        } else if (parse_shape(&c, h) != 0) break;
        skip_ws(&c);
        if (*c.p == ',') { c.p++; continue; }
        if (*c.p != '}') cfail(&c, "expected ',' or '}' in the dict");
    }
    if (!c.failed) {
        c.p++;
        skip_ws(&c);
        if (*c.p) cfail(&c, "text after the dict");
    }
    if (!c.failed && !(seen_descr && seen_fortran && seen_shape)) {
        snprintf(err, errlen, "header: no '%s' key", !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
        c.failed = 1;
    }
    free(text);
    if (c.failed) return -1;
    size_t count = 1;
    for (int k = 0; k < h->ndim; k++) {
        if (h->shape[k] && count > SIZE_MAX / h->shape[k]) {
            char s[NPY_SHAPE_TEXT_MAX];
            return io_fail(err, errlen, "shape %s has more elements than this machine can count", npy_shape_text(h, s, sizeof s));
        }
        count *= h->shape[k];
    }
    h->count = count;
    return 0;
}

char *npy_shape_text(const NpyHeader *h, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int k = 0; k < h->ndim && n < cap; k++)
        n += (size_t)snprintf(out + n, cap - n, "%s%zu%s", k ? ", " : "(", h->shape[k], k + 1 < h->ndim ? "" : h->ndim == 1 ? ",)" : ")");
    return out;
}

// ---- the data ------------------------------------------------------------------------------------

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 31, man = h & 1023;
    float v;
    if (ex == 0) v = ldexpf((float)man, -24);                    // zero or subnormal
    else if (ex == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 1024), (int)ex - 25);
    uint32_t bits;
    memcpy(&bits, &v, 4);
    bits |= sign;
    memcpy(&v, &bits, 4);
    return v;
}

static float bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

// The C-order position of element j of a Fortran-order array of this shape (no dimension is 0:
// there is no element otherwise).
static size_t fortran_to_c(size_t j, int nd, const size_t *shape) {
    size_t idx[NPY_MAX_DIMS], pos = 0;
    for (int k = 0; k < nd; k++) { idx[k] = j % shape[k]; j /= shape[k]; }
    for (int k = 0; k < nd; k++) pos = pos * shape[k] + idx[k];
    return pos;
}

// The element kind and size a descr gives for what the caller wants; 0 when it is not accepted.
static char descr_kind(const char *d, int want, const char *as_bf16, size_t *elem) {
    int two = !strcmp(d, "<u2") || !strcmp(d, "<i2") || !strcmp(d, "|V2");
    if (want == NPY_WANT_FLOAT) {
        if (as_bf16 && two) { *elem = 2; return 'b'; }
        if (!strcmp(d, "<f4")) { *elem = 4; return 'f'; }
        if (!strcmp(d, "<f8")) { *elem = 8; return 'f'; }
        if (!strcmp(d, "<f2")) { *elem = 2; return 'f'; }
        return 0;
    }
    if (!strcmp(d, "<i4")) { *elem = 4; return 'i'; }
    if (!strcmp(d, "<i8")) { *elem = 8; return 'i'; }
    return 0;
}

int npy_read_stream(FILE *f, uint64_t file_size, const char *name, int want, const char *as_bf16, void **data,
                    int *ndim, size_t shape[NPY_MAX_DIMS], char *err, size_t errlen) {
    char e[IO_SHORT_MSG_MAX + 64];
    // the preamble and the header: at most 12 + NPY_HEADER_MAX bytes, whatever the file claims
    size_t want_head = file_size < 12 + (uint64_t)NPY_HEADER_MAX ? (size_t)file_size : 12 + NPY_HEADER_MAX;
    unsigned char *head = malloc(want_head + 1);
    if (!head) return io_fail(err, errlen, "%s: out of memory", name);
    size_t got = fread(head, 1, want_head, f);
    NpyHeader h;
    int rc = npy_parse_header(head, got, file_size, &h, e, sizeof e);
    free(head);
    if (rc != 0) return io_fail(err, errlen, "%s: %s", name, e);
    char sh[NPY_SHAPE_TEXT_MAX];
    size_t elem = 0;
    char kind = descr_kind(h.descr, want, as_bf16, &elem);
    if (!kind) {
        int two = !strcmp(h.descr, "<u2") || !strcmp(h.descr, "<i2") || !strcmp(h.descr, "|V2");
        if (want == NPY_WANT_FLOAT)
            return io_fail(err, errlen, "%s: dtype %s, expected float32, float64 or float16 (<f4, <f8, <f2), or bfloat16 bits (<u2, <i2, |V2) with --dtype bfloat16%s",
                           name, h.descr, two ? " (this file has 2-byte elements: give --dtype bfloat16 if they are bfloat16)" : "");
        return io_fail(err, errlen, "%s: dtype %s, expected int32 or int64 (<i4, <i8)", name, h.descr);
    }
    // The data's size against the file's, before anything is allocated.
    uint64_t avail = file_size - h.offset;
    npy_shape_text(&h, sh, sizeof sh);
    if (h.count > SIZE_MAX / elem || h.count > SIZE_MAX / 4 - 1)
        return io_fail(err, errlen, "%s: shape %s needs more bytes than this machine can count, but the file holds %" PRIu64 " after its header",
                       name, sh, avail);
    uint64_t need = (uint64_t)h.count * elem;
    if (need > avail)
        return io_fail(err, errlen, "%s: shape %s needs %" PRIu64 " bytes but the file holds %" PRIu64 " after its header (the file is shorter than its shape)",
                       name, sh, need, avail);
    if (need < avail)
        return io_fail(err, errlen, "%s: %" PRIu64 " bytes after the data (shape %s of %s needs %" PRIu64 " bytes, the file holds %" PRIu64 " after its header)",
                       name, avail - need, sh, h.descr, need, avail);
    if (fseek(f, (long)h.offset, SEEK_SET) != 0) return io_fail(err, errlen, "%s: cannot seek: %s", name, strerror(errno));
    size_t count = h.count;
    // One output array (float or int32); the file is read in chunks of 1 MiB and converted as it
    // streams, so a 2-byte input never exists in memory at another width.
    void *out = malloc(count * 4 + 1);
    enum { CH = 1 << 20 };
    unsigned char *buf = malloc(CH);
    if (!out || !buf) {
        free(out); free(buf);
        return io_fail(err, errlen, "%s: out of memory (%zu elements)", name, count);
    }
    size_t per = CH / elem, done = 0;
    int bad = 0;
    size_t bad_at = 0;
    while (done < count && !bad) {
        size_t n = count - done < per ? count - done : per;
        if (fread(buf, elem, n, f) != n) { bad = 1; break; }
        for (size_t i = 0; i < n; i++) {
            size_t j = done + i, pos = h.fortran ? fortran_to_c(j, h.ndim, h.shape) : j;
            const unsigned char *b = buf + i * elem;
            if (kind == 'i') {
                int64_t v;
                if (elem == 4) { int32_t t; memcpy(&t, b, 4); v = t; } else memcpy(&v, b, 8);
                if (v < INT32_MIN || v > INT32_MAX) { bad = 2; bad_at = j; break; }
                ((int32_t *)out)[pos] = (int32_t)v;
            } else {
                float v;
                if (kind == 'b') { uint16_t t; memcpy(&t, b, 2); v = bf16_to_float(t); }
                else if (elem == 2) { uint16_t t; memcpy(&t, b, 2); v = half_to_float(t); }
                else if (elem == 4) memcpy(&v, b, 4);
                else { double t; memcpy(&t, b, 8); v = (float)t; }
                ((float *)out)[pos] = v;
            }
        }
        done += n;
    }
    free(buf);
    if (bad) {
        free(out);
        // the size was checked: a short read now means the file changed or could not be read
        if (bad == 2) return io_fail(err, errlen, "%s: element %zu does not fit in int32", name, bad_at);
        return io_fail(err, errlen, "%s: read error after %zu of %zu elements%s%s", name, done, count,
                       ferror(f) ? ": " : " (the file shrank while it was read)", ferror(f) ? strerror(errno) : "");
    }
    *ndim = h.ndim;
    for (int k = 0; k < NPY_MAX_DIMS; k++) shape[k] = h.shape[k];
    *data = out;
    return 0;
}

int npy_read_array(const char *path, int want, const char *as_bf16, void **data, int *ndim,
                   size_t shape[NPY_MAX_DIMS], char *err, size_t errlen) {
    if (!path) return io_fail(err, errlen, "cannot open a .npy file: %s", strerror(ENAMETOOLONG));
    // O_NONBLOCK: opening a FIFO would wait for a writer forever; a regular file ignores it
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return io_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return io_fail(err, errlen, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {  // its length must be known before reading
        close(fd);
        return io_fail(err, errlen, "%s: not a regular file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return io_fail(err, errlen, "%s: cannot open: %s", path, strerror(e));
    }
    int rc = npy_read_stream(f, (uint64_t)st.st_size, path, want, as_bf16, data, ndim, shape, err, errlen);
    fclose(f);
    return rc;
}

// ---- the narrower forms: wrappers that also check the number of dimensions -----------------------

// float32 or int32 (as want), 1-D to 3-D, shape[ndim..2] = 1.
static int read_upto3(const char *path, int want, void **data, int *ndim, size_t shape[3], char *err, size_t errlen) {
    size_t sh[NPY_MAX_DIMS];
    void *d = NULL;
    if (npy_read_array(path, want, NULL, &d, ndim, sh, err, errlen) != 0) return -1;
    if (*ndim > 3) {
        free(d);
        return io_fail(err, errlen, "%s: %d dimensions, expected 1 to 3", path, *ndim);
    }
    for (int k = 0; k < 3; k++) shape[k] = sh[k];
    *data = d;
    return 0;
}

int npy_read_float(const char *path, float **data, int *ndim, size_t shape[3], char *err, size_t errlen) {
    return read_upto3(path, NPY_WANT_FLOAT, (void **)data, ndim, shape, err, errlen);
}

int npy_read_int32(const char *path, int32_t **data, int *ndim, size_t shape[3], char *err, size_t errlen) {
    return read_upto3(path, NPY_WANT_INT, (void **)data, ndim, shape, err, errlen);
}

int npy_read_int32_nd(const char *path, int32_t **data, int ndim, size_t *shape, char *err, size_t errlen) {
    size_t sh[NPY_MAX_DIMS];
    void *d = NULL;
    int nd;
    if (npy_read_array(path, NPY_WANT_INT, NULL, &d, &nd, sh, err, errlen) != 0) return -1;
    if (nd != ndim) {
        free(d);
        return io_fail(err, errlen, "%s: %d dimensions, expected %d", path, nd, ndim);
    }
    for (int k = 0; k < nd; k++) shape[k] = sh[k];
    *data = d;
    return 0;
}
