// outdir.c — output folders written whole into a temporary sibling and swapped into place (outdir.h).
#define _GNU_SOURCE  // renameat2 (glibc >= 2.28, Linux >= 3.15); without it, the two-rename fallback
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
#include "outdir.h"

// Splits path into its parent folder (".", "/" or the text before the last slash) and its name.
static void split_path(const char *path, char *parent, size_t cap, const char **name) {
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    if (!slash) snprintf(parent, cap, ".");
    else if (slash == path) snprintf(parent, cap, "/");
    else snprintf(parent, cap, "%.*s", (int)(slash - path), path);
}

// 1 when the process pid may still be running (it exists, or it is another user's).
static int pid_alive(long pid) {
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

// The pid of a sibling named "<name>.<kind>.<digits>", or -1 when entry is not one.
static long sibling_pid(const char *entry, const char *name, const char *kind) {
    size_t n = strlen(name), k = strlen(kind);
    if (strncmp(entry, name, n) != 0 || entry[n] != '.' || strncmp(entry + n + 1, kind, k) != 0 || entry[n + 1 + k] != '.')
        return -1;
    const char *digits = entry + n + k + 2;
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 18) return -1;
    return atol(digits);
}

// Removes the dead processes' DIR.tmp.<pid> siblings; a dead process's DIR.prev.<pid> (its swap
// was cut short between the two renames) is put back as DIR when DIR is missing, else removed.
static void clean_stale(const OutDir *o) {
    char parent[IO_PATH_MAX], p[IO_PATH_MAX + 64];
    const char *name;
    split_path(o->dir, parent, sizeof parent, &name);
    DIR *d = opendir(parent);
    if (!d) return;  // not there yet: nothing stale
    struct dirent *de;
    while ((de = readdir(d))) {
        long tmp_pid = sibling_pid(de->d_name, name, "tmp"), prev_pid = sibling_pid(de->d_name, name, "prev");
        long pid = tmp_pid > 0 ? tmp_pid : prev_pid;
        if (pid <= 0 || (pid != (long)getpid() && pid_alive(pid))) continue;  // another writer's: leave it
        if (!path_join(p, sizeof p, parent, de->d_name)) continue;
        if (prev_pid > 0 && !file_exists(o->dir) && rename(p, o->dir) == 0) continue;
        remove_tree(p);
    }
    closedir(d);
}

// 1 when the folder dir holds nothing.
static int folder_empty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d))) empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty;
}

// The first file or folder that only `moesim run` writes (a run's training log, model or
// checkpoint; an experiment's record) found in dir, or NULL. A run folder holds eval.csv and
// manifest.json too, the own files by which eval and export take an older output of theirs: such
// a folder is never replaced (`moesim eval RUN --out RUN` would delete the run's model).
static const char *results_file(const char *dir) {
    static const char *names[] = {"metrics.csv", "model", "checkpoint", "experiment.json", "summary.csv"};
    char p[IO_PATH_MAX + 32];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (file_exists(path_join(p, sizeof p, dir, names[i]))) return names[i];
    return NULL;
}

int outdir_begin(OutDir *o, const char *dir, const char *own_file, char *err, size_t errlen) {
    o->dir[0] = o->tmp[0] = '\0';
    if (!dir || !*dir) return io_fail(err, errlen, "--out: expected a folder's name, got ''");
    if ((size_t)snprintf(o->dir, sizeof o->dir, "%s", dir) >= sizeof o->dir)
        return io_fail(err, errlen, "--out %.64s...: %s", dir, strerror(ENAMETOOLONG));
    size_t n = strlen(o->dir);
    while (n > 1 && o->dir[n - 1] == '/') o->dir[--n] = '\0';  // "out/" is the folder out
    const char *name = strrchr(o->dir, '/') ? strrchr(o->dir, '/') + 1 : o->dir;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return io_fail(err, errlen, "--out %s: expected a folder's name (the output replaces the whole folder, "
                       "so it cannot be '/', '.' or '..')", dir);
    if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", o->dir, (long)getpid()) >= sizeof o->tmp)
        return io_fail(err, errlen, "--out %s: %s", dir, strerror(ENAMETOOLONG));
    clean_stale(o);
    struct stat st;
    if (lstat(o->dir, &st) == 0) {
        char marker[IO_PATH_MAX + 32], own[IO_PATH_MAX + 32];
        if (!S_ISDIR(st.st_mode))
            return io_fail(err, errlen, "--out %s: a file of that name exists (the output is a folder): remove it or "
                           "give another --out", o->dir);
        if (!folder_empty(o->dir) && !file_exists(path_join(marker, sizeof marker, o->dir, OUTDIR_MARKER)) &&
            !(own_file && file_exists(path_join(own, sizeof own, o->dir, own_file))))
            return io_fail(err, errlen, "--out %s: the folder exists and is not a moesim output (no %s): it would be "
                           "replaced whole, so remove it yourself or give another --out", o->dir, OUTDIR_MARKER);
        const char *run_file = results_file(o->dir);
        if (run_file)
            return io_fail(err, errlen, "--out %s: the folder holds %s, so it is a results folder of `moesim run`, "
                           "not an output of this command: it would be replaced whole, so give another --out",
                           o->dir, run_file);
    }
    remove_tree(o->tmp);  // our own pid's leftover, if the pid was reused
    return 0;
}

// Writes tmp/complete.json.
static int write_marker(const OutDir *o, const char *command, const char *version, char *err, size_t errlen) {
    char p[IO_PATH_MAX + 64], when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    AtomicFile a;
    errno = 0;
    FILE *f = afile_open(&a, path_join(p, sizeof p, o->tmp, OUTDIR_MARKER));
    if (!f) return io_fail(err, errlen, "cannot write %s: %s", p, errno ? strerror(errno) : "open error");
    JsonWriter w;
    json_begin(&w, f);
    json_object(&w);
    json_key(&w, "format"); json_str(&w, OUTDIR_FORMAT);
    json_key(&w, "command"); json_str(&w, command);
    json_key(&w, "version"); json_str(&w, version);
    json_key(&w, "finished"); json_str(&w, when);
    json_end(&w);
    errno = 0;
    if (afile_commit(&a) != 0) return io_fail(err, errlen, "cannot write %s: %s", p, errno ? strerror(errno) : "write error");
    return 0;
}

// Puts o->tmp in the place of an existing o->dir. Returns 0, or -1 with err (o->dir as it was).
// MOESIM_OUTDIR_FALLBACK=1 (a test hook, docs/EXPERIMENTS.md) takes the two renames even where
// the exchange works, so the tests cover the path other systems take.
static int swap_in(const OutDir *o, char *err, size_t errlen) {
#ifdef RENAME_EXCHANGE
    const char *fb = getenv("MOESIM_OUTDIR_FALLBACK");
    if (fb && *fb == '1') errno = ENOSYS;
    else if (renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->dir, RENAME_EXCHANGE) == 0) {
        remove_tree(o->tmp);  // now the earlier output
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return io_fail(err, errlen, "cannot put %s in place of %s: %s", o->tmp, o->dir, strerror(errno));
#endif
    char prev[IO_PATH_MAX + 32];
    if ((size_t)snprintf(prev, sizeof prev, "%s.prev.%ld", o->dir, (long)getpid()) >= sizeof prev)
        return io_fail(err, errlen, "cannot move %s aside: %s", o->dir, strerror(ENAMETOOLONG));
    remove_tree(prev);
    if (rename(o->dir, prev) != 0) return io_fail(err, errlen, "cannot move %s aside: %s", o->dir, strerror(errno));
    if (rename(o->tmp, o->dir) != 0) {
        int e = errno;
        rename(prev, o->dir);  // the earlier output back
        return io_fail(err, errlen, "cannot rename %s to %s: %s", o->tmp, o->dir, strerror(e));
    }
    remove_tree(prev);
    return 0;
}

int outdir_commit(OutDir *o, const char *command, const char *version, char *err, size_t errlen) {
    struct stat st;
    int rc = -1;
    if (stat(o->tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        io_fail(err, errlen, "%s: nothing was written (%s)", o->tmp, strerror(errno ? errno : ENOENT));
    else if (write_marker(o, command, version, err, errlen) != 0) {
        // err says why
    } else if (!file_exists(o->dir)) {
        if (rename(o->tmp, o->dir) == 0) rc = 0;
        else io_fail(err, errlen, "cannot rename %s to %s: %s", o->tmp, o->dir, strerror(errno));
    } else rc = swap_in(o, err, errlen);
    if (rc != 0) outdir_abort(o);
    return rc;
}

void outdir_abort(OutDir *o) {
    int e = errno;
    if (o->tmp[0]) remove_tree(o->tmp);
    errno = e;
}

int outdir_check(const char *dir, const char *command, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX], v[64];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return io_fail(err, errlen, "%s: no such folder", dir);
    if (!path_join(p, sizeof p, dir, OUTDIR_MARKER)) return io_fail(err, errlen, "%s: %s", dir, strerror(ENAMETOOLONG));
    char *json = read_text_file(p);
    const char *what = command ? command : "COMMAND";
    if (!json)
        return io_fail(err, errlen, "%s is not a complete `moesim %s` output (no %s: it was cut short, or written by "
                       "a moesim older than 2026-12-06): run `moesim %s ... --out %s` again", dir, what, OUTDIR_MARKER,
                       what, dir);
    int ok = json_field(json, "format", v, sizeof v) && strcmp(v, OUTDIR_FORMAT) == 0 &&
             json_field(json, "command", v, sizeof v);
    free(json);
    if (!ok) return io_fail(err, errlen, "%s: not a moesim completion marker (expected \"format\": \"%s\")", p, OUTDIR_FORMAT);
    if (command && strcmp(v, command) != 0)
        return io_fail(err, errlen, "%s is the output of `moesim %s`, not of `moesim %s`", dir, v, command);
    return 0;
}
