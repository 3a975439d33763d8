// enospc.c — a fault shim for the tests (LD_PRELOAD): a full disk without root. Once
// MOESIM_FAULT_WRITE_BYTES=N bytes have been written to regular files, every further write fails
// with ENOSPC ("No space left on device"); the write that crosses N is cut short at N, as on a
// disk that fills. Without the variable nothing changes. stdout and stderr are never limited.
//
// How: stdio flushes through glibc's internal write, which LD_PRELOAD cannot replace, so fopen is
// wrapped instead: a file opened for writing ("w", "a", with or without "b"; not "+") that is a
// regular file gets a fopencookie stream whose write function counts the bytes (every fwrite,
// fprintf and fputc of the program reaches it when the buffer is flushed, and fflush/fclose
// report the failure as they would on a full disk). write, writev and pwrite on regular files
// (fd > 2) count too, for code that writes without stdio. The count is per process.
//
// Built by the Makefile as $(BUILD)/tests/enospc.so (-shared -fPIC, without the sanitizers: under
// SAN=1 tests/e2e_enospc.sh loads it after ASan's runtime). Used by tests/e2e_enospc.sh.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long limit = -2;  // -2: not read yet; -1: no limit
static long long written;

static long long get_limit(void) {
    if (limit == -2) {
        const char *v = getenv("MOESIM_FAULT_WRITE_BYTES");
        limit = v && *v ? atoll(v) : -1;
    }
    return limit;
}

// How many of n bytes may still be written: n, fewer (cut at the limit), or 0 with errno = ENOSPC.
static size_t allowance(size_t n) {
    long long lim = get_limit();
    if (lim < 0) return n;
    if (written >= lim) { errno = ENOSPC; return 0; }
    unsigned long long room = (unsigned long long)(lim - written);
    return n < room ? n : (size_t)room;
}

static int limited_fd(int fd) {
    struct stat st;
    return get_limit() >= 0 && fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
static ssize_t real_write(int fd, const void *buf, size_t n) {
    static write_fn w;
    if (!w) w = (write_fn)(void (*)(void))dlsym(RTLD_NEXT, "write");
    return w(fd, buf, n);
}

// ---- stdio: the cookie stream ----------------------------------------------------------------

typedef struct { int fd; } Cookie;

static ssize_t ck_write(void *c, const char *buf, size_t n) {
    size_t k = allowance(n), done = 0;
    while (done < k) {
        ssize_t r = real_write(((Cookie *)c)->fd, buf + done, k - done);
        if (r < 0) { if (errno == EINTR) continue; return (ssize_t)done; }
        done += (size_t)r;
        written += r;
    }
    if (done < n) errno = ENOSPC;  // a short count marks the stream's error; errno says why
    return (ssize_t)done;
}

static int ck_seek(void *c, off64_t *pos, int whence) {
    off_t r = lseek(((Cookie *)c)->fd, (off_t)*pos, whence);
    if (r < 0) return -1;
    *pos = r;
    return 0;
}

static int ck_close(void *c) {
    int rc = close(((Cookie *)c)->fd);
    free(c);
    return rc;
}

typedef FILE *(*fopen_fn)(const char *, const char *);

static FILE *shim_fopen(const char *path, const char *mode, const char *real_name) {
    static fopen_fn real, real64;
    fopen_fn *slot = strcmp(real_name, "fopen") == 0 ? &real : &real64;
    if (!*slot) *slot = (fopen_fn)(void (*)(void))dlsym(RTLD_NEXT, real_name);
    if (get_limit() < 0 || !mode || (mode[0] != 'w' && mode[0] != 'a') || strchr(mode, '+')) return (*slot)(path, mode);
    int fd = open(path, O_WRONLY | O_CREAT | (mode[0] == 'a' ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0666);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {  // a device or a pipe: not a disk
        close(fd);
        return (*slot)(path, mode);
    }
    Cookie *c = malloc(sizeof *c);
    if (!c) { close(fd); errno = ENOMEM; return NULL; }
    c->fd = fd;
    FILE *f = fopencookie(c, mode[0] == 'a' ? "a" : "w", (cookie_io_functions_t){NULL, ck_write, ck_seek, ck_close});
    if (!f) { close(fd); free(c); }
    return f;
}

FILE *fopen(const char *path, const char *mode) { return shim_fopen(path, mode, "fopen"); }
FILE *fopen64(const char *path, const char *mode) { return shim_fopen(path, mode, "fopen64"); }

// ---- write, writev, pwrite ---------------------------------------------------------------------

ssize_t write(int fd, const void *buf, size_t n) {
    if (!limited_fd(fd)) return real_write(fd, buf, n);
    size_t k = allowance(n);
    if (k == 0 && n > 0) return -1;
    ssize_t r = real_write(fd, buf, k);
    if (r > 0) written += r;
    return r;
}

typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    static writev_fn real;
    if (!real) real = (writev_fn)(void (*)(void))dlsym(RTLD_NEXT, "writev");
    if (!limited_fd(fd)) return real(fd, iov, cnt);
    ssize_t total = 0;
    for (int i = 0; i < cnt; i++) {  // one buffer at a time through write's count
        ssize_t r = write(fd, iov[i].iov_base, iov[i].iov_len);
        if (r < 0) return total > 0 ? total : -1;
        total += r;
        if ((size_t)r < iov[i].iov_len) break;
    }
    return total;
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    static pwrite_fn real;
    if (!real) real = (pwrite_fn)(void (*)(void))dlsym(RTLD_NEXT, "pwrite");
    if (!limited_fd(fd)) return real(fd, buf, n, off);
    size_t k = allowance(n);
    if (k == 0 && n > 0) return -1;
    ssize_t r = real(fd, buf, k, off);
    if (r > 0) written += r;
    return r;
}
