// io.c — atomic result files, directories, the .npy writer (the reader is npy_read.c) and JSON helpers.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io.h"

FILE *afile_open(AtomicFile *a, const char *path) {
    a->f = NULL;
    a->path[0] = a->tmp[0] = '\0';
    if (!path || (size_t)snprintf(a->path, sizeof a->path, "%s", path) >= sizeof a->path ||
        (size_t)snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof a->tmp) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    a->f = fopen(a->tmp, "wb");
    return a->f;
}

int afile_commit(AtomicFile *a) {
    if (!a->f) return -1;
    int bad = fflush(a->f) != 0 || ferror(a->f);
    if (fclose(a->f) != 0) bad = 1;
    a->f = NULL;
    if (bad || rename(a->tmp, a->path) != 0) {
        int e = errno;  // the caller reports the write's reason, not remove's
        remove(a->tmp);
        errno = e;
        return -1;
    }
    return 0;
}

void afile_abort(AtomicFile *a) {
    int e = errno;
    if (a->f) fclose(a->f);
    a->f = NULL;
    remove(a->tmp);
    errno = e;
}

int remove_tree(const char *path) {
    if (!path) { errno = ENAMETOOLONG; return -1; }
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return remove(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *de;
    int bad = 0;
    char p[IO_DEEP_PATH_MAX];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            bad |= remove_tree(path_join(p, sizeof p, path, de->d_name)) != 0;
    closedir(d);
    return bad || rmdir(path) != 0 ? -1 : 0;
}

int copy_file_into(FILE *out, const char *path) {
    if (!path) { errno = ENAMETOOLONG; return -1; }
    FILE *in = fopen(path, "rb");
    if (!in) return -1;
    char buf[65536];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) { bad = 1; break; }
    bad |= ferror(in);
    fclose(in);
    return bad ? -1 : 0;
}

int mkdir_p(const char *path) {
    char buf[IO_DEEP_PATH_MAX];
    if (!path || (size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    size_t n = strlen(buf);
    if (n == 0) return 0;
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char keep = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        buf[i] = keep;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int file_exists(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0;
}

char *read_text_file(const char *path) {
    if (!path) { errno = ENAMETOOLONG; return NULL; }
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) == (size_t)n) buf[n] = '\0';
        else { free(buf); buf = NULL; }
    }
    fclose(f);
    return buf;
}

char *path_join(char *path, size_t len, const char *dir, const char *name) {
    if ((size_t)snprintf(path, len, "%s/%s", dir, name) < len) return path;
    errno = ENAMETOOLONG;
    return NULL;
}

// ---- .npy -------------------------------------------------------------------------------------

int npy_write(const char *path, const char *dtype, const void *data, int ndim, const size_t *shape) {
    char header[256];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (", dtype);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(header + n, sizeof header - n, "%zu%s", shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        count *= shape[i];
    }
    n += snprintf(header + n, sizeof header - n, "), }");
    // magic (6) + version (2) + header length (2) + header, padded with spaces and '\n' to 64 bytes
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    AtomicFile a;
    FILE *f = afile_open(&a, path);
    if (!f) return -1;
    unsigned short hlen = (unsigned short)(n + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t elem = dtype[2] == '8' ? 8 : 4;
    if (count && fwrite(data, elem, count, f) != count) { afile_abort(&a); return -1; }
    return afile_commit(&a);
}

// The readers are in npy_read.c.

// ---- JSON -------------------------------------------------------------------------------------

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void json_begin(JsonWriter *w, FILE *f) {
    memset(w, 0, sizeof *w);
    w->f = f;
}

// Before any value or key: the separator and the indentation its container asks for.
static void json_place(JsonWriter *w) {
    if (w->after_key) { w->after_key = 0; return; }
    if (w->depth == 0) return;
    int first = !w->members[w->depth - 1];
    w->members[w->depth - 1] = 1;
    if (w->flat_from && w->depth >= w->flat_from) fputs(first ? "" : ", ", w->f);
    else fprintf(w->f, "%s\n%*s", first ? "" : ",", 2 * w->depth, "");
}

static void json_open(JsonWriter *w, char c, int flat) {
    json_place(w);
    fputc(c, w->f);
    if (w->depth >= JSON_MAX_DEPTH) abort();  // a writer bug, not an input error
    w->closers[w->depth] = c == '{' ? '}' : ']';
    w->members[w->depth++] = 0;
    if (flat && !w->flat_from) w->flat_from = w->depth;
}

void json_object(JsonWriter *w) { json_open(w, '{', 0); }
void json_object_flat(JsonWriter *w) { json_open(w, '{', 1); }
void json_array(JsonWriter *w) { json_open(w, '[', 0); }
void json_array_flat(JsonWriter *w) { json_open(w, '[', 1); }

void json_end(JsonWriter *w) {
    if (w->depth == 0) abort();  // more ends than begins: a writer bug
    int flat = w->flat_from && w->depth >= w->flat_from;
    if (!flat && w->members[w->depth - 1]) fprintf(w->f, "\n%*s", 2 * (w->depth - 1), "");
    if (w->flat_from == w->depth) w->flat_from = 0;
    w->depth--;
    fputc(w->closers[w->depth], w->f);
    if (w->depth == 0) fputc('\n', w->f);
}

void json_key(JsonWriter *w, const char *key) {
    json_place(w);
    json_string(w->f, key);
    fputs(": ", w->f);
    w->after_key = 1;
}

void json_str(JsonWriter *w, const char *s) { json_place(w); json_string(w->f, s); }
void json_int(JsonWriter *w, long long v) { json_place(w); fprintf(w->f, "%lld", v); }
void json_uint(JsonWriter *w, unsigned long long v) { json_place(w); fprintf(w->f, "%llu", v); }
void json_bool(JsonWriter *w, int v) { json_place(w); fputs(v ? "true" : "false", w->f); }
void json_null(JsonWriter *w) { json_place(w); fputs("null", w->f); }
void json_raw(JsonWriter *w, const char *text) { json_place(w); fputs(text, w->f); }

void json_double(JsonWriter *w, double v) {
    json_place(w);
    if (isfinite(v)) fprintf(w->f, "%.17g", v);
    else fputs("null", w->f);
}

void json_fixed(JsonWriter *w, double v, int places) {
    json_place(w);
    if (isfinite(v)) fprintf(w->f, "%.*f", places, v);
    else fputs("null", w->f);
}

const char *json_field(const char *json, const char *key, char *out, size_t cap) {
    char pat[80];
    snprintf(pat, sizeof pat, "\n  \"%s\": ", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && n + 1 < cap; p++) {
            if (*p == '\\' && p[1]) p++;
            out[n++] = *p;
        }
    } else {
        while (*p && *p != ',' && *p != '\n' && n + 1 < cap) out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

// ---- shared helpers: error messages, the clock -------------------------------------------------

int io_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

double io_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *io_bytes_text(char *buf, size_t cap, double bytes) {
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) { bytes /= 1024; u++; }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

uint64_t io_hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;  // the 64-bit FNV prime
    }
    return h;
}

int io_hash_file(const char *path, uint64_t *h) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!path) errno = ENAMETOOLONG;
    if (!f) return -1;
    unsigned char buf[1 << 16];
    uint64_t acc = IO_HASH_INIT;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) acc = io_hash_bytes(acc, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) { errno = EIO; return -1; }
    *h = acc;
    return 0;
}

void io_hash_hex(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }
