// lock.c — the results folder's lock (lock.h).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lock.h"

enum { BYTE_OWNER = 0, BYTE_CHILDREN = 1 };

static void lock_name(char *buf, size_t cap, int index, int count) {
    if (count <= 1) snprintf(buf, cap, "moesim.lock");
    else snprintf(buf, cap, "moesim.shard-%d-of-%d.lock", index, count);
}

// 1 if name is a lock file's, with its shard (the whole grid: 1 of 1).
static int parse_name(const char *name, int *index, int *count) {
    int n = 0;
    if (strcmp(name, "moesim.lock") == 0) { *index = *count = 1; return 1; }
    return sscanf(name, "moesim.shard-%d-of-%d.lock%n", index, count, &n) == 2 && n > 0 && name[n] == '\0' && *count > 0;
}

static int overlap(int i, int n, int j, int m) {
    int a = n, b = m;
    while (b) { int t = a % b; a = b; b = t; }
    return (i - 1) % a == (j - 1) % a;
}

// The owner a lock file names.
typedef struct {
    long pid;
    char host[256], started[64];
} Owner;

static void read_owner(int fd, Owner *o) {
    char buf[1024], *line, *save = NULL;
    memset(o, 0, sizeof *o);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "pid ", 4) == 0) o->pid = strtol(line + 4, NULL, 10);
        else if (strncmp(line, "host ", 5) == 0) snprintf(o->host, sizeof o->host, "%s", line + 5);
        else if (strncmp(line, "started ", 8) == 0) snprintf(o->started, sizeof o->started, "%s", line + 8);
    }
}

static void this_host(char *buf, size_t cap) {
    if (gethostname(buf, cap) != 0) snprintf(buf, cap, "?");
    buf[cap - 1] = '\0';
}

// 1 if the owner may be alive: on this host, kill(pid, 0) does not fail with ESRCH; on another
// host, it cannot be told, so yes.
static int owner_alive(const Owner *o) {
    char host[256];
    this_host(host, sizeof host);
    if (o->pid <= 0) return 0;
    if (strcmp(host, o->host) != 0) return 1;
    return !(kill((pid_t)o->pid, 0) != 0 && errno == ESRCH);
}

// The process holding byte `at` of fd's file: 0 none, -1 record locks unsupported.
static long byte_holder(int fd, int at) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
    if (fcntl(fd, F_GETLK, &fl) != 0) return -1;
    return fl.l_type == F_UNLCK ? 0 : (long)fl.l_pid;
}

static int held_msg(char *err, size_t errlen, const char *path, const Owner *o, long child) {
    if (child > 0)
        return io_fail(err, errlen, "%s: PID %ld (a -j run of PID %ld on host %s, started %s) is still writing "
                       "into this folder; it stops at its next step: try again in a moment", path, child, o->pid,
                       o->host, o->started);
    return io_fail(err, errlen, "%s: PID %ld on host %s (started %s) is writing into this folder; wait for it to "
                   "finish or stop it (kill %ld), or use another --out", path, o->pid, o->host, o->started, o->pid);
}

// Whether another lock file's owner is still there: 0 free, else -1 with err.
static int check_other(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);  // a FIFO must not hang us
    if (fd < 0) return 0;  // gone meanwhile (or not a lock file: no one holds it)
    Owner o;
    read_owner(fd, &o);
    long owner = byte_holder(fd, BYTE_OWNER), child = owner > 0 ? 0 : byte_holder(fd, BYTE_CHILDREN);
    close(fd);
    if (owner < 0 || child < 0) return owner_alive(&o) ? held_msg(err, errlen, path, &o, 0) : 0;
    if (owner > 0) o.pid = owner;
    return owner > 0 || child > 0 ? held_msg(err, errlen, path, &o, child) : 0;
}

int folder_lock(FolderLock *l, const char *dir, int index, int count, char *note, size_t notelen, char *err,
                size_t errlen) {
    char name[64];
    l->fd = -1;
    note[0] = '\0';
    if (count <= 1) index = count = 1;
    lock_name(name, sizeof name, index, count);
    if (!path_join(l->path, sizeof l->path, dir, name)) return io_fail(err, errlen, "%s: %s", l->path, strerror(ENAMETOOLONG)), -2;
    int fd = -1, records = 1;
    Owner old;
    for (int attempt = 0; attempt < 8; attempt++) {
        // never through a symbolic link (a lock file planted as one would truncate its target)
        // nor into anything but a regular file: both are refused, as a folder not ours to write
        fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        struct stat ls;
        if (fd < 0 && (errno == ELOOP || errno == EISDIR))
            return io_fail(err, errlen, "%s: a %s, not a lock file: remove it, or use another --out", l->path,
                           errno == ELOOP ? "symbolic link" : "folder");
        if (fd < 0) return io_fail(err, errlen, "cannot create %s: %s", l->path, strerror(errno)), -2;
        if (fstat(fd, &ls) != 0 || !S_ISREG(ls.st_mode)) {
            close(fd);
            return io_fail(err, errlen, "%s: not a regular file, so not a lock file: remove it, or use another --out",
                           l->path);
        }
        read_owner(fd, &old);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = BYTE_OWNER, .l_len = 1};
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            if (errno == EAGAIN || errno == EACCES) {
                long pid = byte_holder(fd, BYTE_OWNER);
                if (pid > 0) old.pid = pid;
                close(fd);
                return held_msg(err, errlen, l->path, &old, 0);
            }
            records = 0;  // no record locks here: the PID decides
            if (owner_alive(&old)) { close(fd); return held_msg(err, errlen, l->path, &old, 0); }
        }
        long child = records ? byte_holder(fd, BYTE_CHILDREN) : 0;
        if (child > 0) { close(fd); return held_msg(err, errlen, l->path, &old, child); }
        // the file locked must still be the one at the path: its last owner may have removed it
        // between our open and our lock
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) return io_fail(err, errlen, "%s: cannot take the lock (it keeps changing hands)", l->path);
    l->fd = fd;
    if (old.pid > 0)
        snprintf(note, notelen, "taking over %s from PID %ld on host %s (started %s): it no longer runs", l->path,
                 old.pid, old.host, old.started);
    char host[256], started[64], text[512];
    this_host(host, sizeof host);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(text, sizeof text, "pid %ld\nhost %s\nstarted %s\nshard %d/%d\n", (long)getpid(), host, started,
                     index, count);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int e = errno;
        folder_unlock(l);
        return io_fail(err, errlen, "cannot write %s: %s", l->path, strerror(e)), -2;
    }
    // the other lock files whose points overlap ours
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;
    while (d && rc == 0 && (de = readdir(d))) {
        int i, m;
        char p[IO_CHILD_PATH_MAX];
        if (!parse_name(de->d_name, &i, &m) || strcmp(de->d_name, name) == 0 || !overlap(index, count, i, m)) continue;
        if (!path_join(p, sizeof p, dir, de->d_name)) continue;
        rc = check_other(p, err, errlen);
    }
    if (d) closedir(d);
    if (rc != 0) {
        folder_unlock(l);
        note[0] = '\0';
    }
    return rc;
}

void folder_lock_child(const FolderLock *l) {
    if (l->fd < 0) return;
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = BYTE_CHILDREN, .l_len = 1};
    fcntl(l->fd, F_SETLK, &fl);  // unsupported: the PID rule alone
}

void folder_unlock(FolderLock *l) {
    if (l->fd < 0) return;
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}

int folder_lock_busy(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int busy = 0;
    char err[IO_MSG_MAX];
    while (d && !busy && (de = readdir(d))) {
        int i, m;
        char p[IO_CHILD_PATH_MAX];
        if (!parse_name(de->d_name, &i, &m) || !path_join(p, sizeof p, dir, de->d_name)) continue;
        busy = check_other(p, err, sizeof err) != 0;
    }
    if (d) closedir(d);
    return busy;
}
