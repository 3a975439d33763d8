// test_lock.c — the results folder's lock (sim/train/lock.c) between real processes: the same
// shard conflicts, the shards of one grid do not, overlapping shards of two grids and a whole run
// do; the refusal names the holder's PID; a dead owner's lock file is taken over with a message
// and removed at unlock; the -j children of a parent killed with -9 keep the folder locked until
// they stop; a lock file that is a symbolic link, a folder or a FIFO is refused, never written
// through. And the experiment grid text of sim/train/identity.c.
// covers: sim/train/lock.c sim/train/identity.c
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "../sim/io.h"
#include "../sim/train/lock.h"
#include "../sim/train/identity.h"

static char dir[64];

// A process holding the lock of shard i of n until told to stop.
typedef struct { pid_t pid; int stop; } Holder;

static Holder hold(int i, int n) {
    int ready[2], stop[2];
    Holder h = {-1, -1};
    if (pipe(ready) != 0 || pipe(stop) != 0) return h;
    h.pid = fork();
    if (h.pid == 0) {
        FolderLock l;
        char note[IO_MSG_MAX], err[IO_MSG_MAX], c;
        int rc = folder_lock(&l, dir, i, n, note, sizeof note, err, sizeof err);
        c = rc == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(1);
        close(stop[1]);
        while (read(stop[0], &c, 1) > 0) {}  // until the test closes its end
        folder_unlock(&l);
        _exit(0);
    }
    char c = 'n';
    close(stop[0]);
    close(ready[1]);
    if (read(ready[0], &c, 1) != 1 || c != 'y') h.pid = -1;
    close(ready[0]);
    h.stop = stop[1];
    return h;
}

static void release(Holder *h) {
    close(h->stop);
    if (h->pid > 0) waitpid(h->pid, NULL, 0);
}

// folder_lock from this process: 0 taken (and released), -1 refused (err holds why).
static int try_lock(int i, int n, char *err, size_t errlen) {
    FolderLock l;
    char note[IO_MSG_MAX];
    int rc = folder_lock(&l, dir, i, n, note, sizeof note, err, errlen);
    if (rc == 0) folder_unlock(&l);
    return rc;
}

static int names_pid(const char *err, long pid) {
    char want[40];
    snprintf(want, sizeof want, "PID %ld ", pid);
    return strstr(err, want) != NULL;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/moesim_lock.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char err[IO_MSG_MAX];

    // shard 1 of 2 held: points 0, 2, 4, ...
    Holder h = hold(1, 2);
    CHECK(h.pid > 0);
    CHECK(try_lock(2, 2, err, sizeof err) == 0);                                // the other shard of the grid
    CHECK(try_lock(2, 4, err, sizeof err) == 0);                                // odd points only
    CHECK(try_lock(1, 2, err, sizeof err) == -1 && names_pid(err, h.pid));      // the same shard
    CHECK_MSG(strstr(err, "moesim.shard-1-of-2.lock") != NULL, "%s", err);
    CHECK(try_lock(0, 0, err, sizeof err) == -1 && names_pid(err, h.pid));      // a whole run
    CHECK(try_lock(1, 3, err, sizeof err) == -1 && names_pid(err, h.pid));      // point 0 in both
    CHECK(try_lock(3, 4, err, sizeof err) == -1 && names_pid(err, h.pid));      // points 2, 6, ...
    release(&h);
    CHECK(try_lock(1, 2, err, sizeof err) == 0);                                // released with its owner

    // a whole run held: every shard conflicts
    h = hold(0, 0);
    CHECK(try_lock(2, 2, err, sizeof err) == -1 && names_pid(err, h.pid));
    release(&h);

    // a dead owner's lock file (a PID that has exited, on this host) is taken over and removed
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char host[256], path[IO_CHILD_PATH_MAX], note[IO_MSG_MAX];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    FILE *f = fopen(path_join(path, sizeof path, dir, "moesim.lock"), "w");
    if (f) { fprintf(f, "pid %ld\nhost %s\nstarted 2026-01-01T00:00:00Z\nshard 1/1\n", (long)dead, host); fclose(f); }
    FolderLock l;
    CHECK(folder_lock(&l, dir, 0, 0, note, sizeof note, err, sizeof err) == 0);
    char want[64];
    snprintf(want, sizeof want, "from PID %ld ", (long)dead);
    CHECK_MSG(strstr(note, "taking over") && strstr(note, want), "note: '%s'", note);
    folder_unlock(&l);
    CHECK(!file_exists(path));

    // a lock file planted as a symbolic link is refused, never written through (its target keeps
    // its bytes); so is a folder or a FIFO of that name
    char target[IO_CHILD_PATH_MAX];
    f = fopen(path_join(target, sizeof target, dir, "target.txt"), "w");
    if (f) { fputs("keep\n", f); fclose(f); }
    CHECK(symlink(target, path) == 0);
    CHECK(folder_lock(&l, dir, 0, 0, note, sizeof note, err, sizeof err) == -1 && strstr(err, "symbolic link"));
    char *kept = read_text_file(target);
    CHECK_MSG(kept && strcmp(kept, "keep\n") == 0, "the link's target was written: '%s'", kept ? kept : "(gone)");
    free(kept);
    CHECK(remove(path) == 0 && mkdir(path, 0755) == 0);
    CHECK(folder_lock(&l, dir, 0, 0, note, sizeof note, err, sizeof err) == -1 && strstr(err, "folder"));
    CHECK(rmdir(path) == 0 && mkfifo(path, 0644) == 0);
    CHECK(folder_lock(&l, dir, 0, 0, note, sizeof note, err, sizeof err) == -1 && strstr(err, "not a regular file"));
    remove(path);

    // a parent killed with -9 whose -j child still runs: the folder stays locked, naming the child
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t parent = fork();
    if (parent == 0) {
        FolderLock pl;
        char n2[IO_MSG_MAX], e2[IO_MSG_MAX];
        if (folder_lock(&pl, dir, 0, 0, n2, sizeof n2, e2, sizeof e2) != 0) _exit(1);
        pid_t child = fork();
        if (child == 0) {
            folder_lock_child(&pl);
            long me = (long)getpid();
            if (write(ready[1], &me, sizeof me) != sizeof me) _exit(1);
            for (;;) pause();
        }
        for (;;) pause();
    }
    long child = 0;
    CHECK(read(ready[0], &child, sizeof child) == sizeof child);
    kill(parent, SIGKILL);
    waitpid(parent, NULL, 0);
    CHECK(try_lock(0, 0, err, sizeof err) == -1 && names_pid(err, child) && strstr(err, "still writing"));
    if (child > 0) kill((pid_t)child, SIGKILL);
    // the child is not ours to reap: retry until the kernel has dropped its lock
    int rc = -1;
    for (int i = 0; i < 200 && rc != 0; i++) {
        rc = try_lock(0, 0, err, sizeof err);
        struct timespec ms10 = {0, 10000000};
        if (rc != 0) nanosleep(&ms10, NULL);
    }
    CHECK_MSG(rc == 0, "%s", err);

    // the grid of an experiment, as experiment.json records it
    static Experiment ex;
    static CfgErrors e;
    const char *toml = "[sweep]\n\"balance.scope\" = [\"micro\", \"global\"]\n\"train.seed\" = [1, 2, 3]\n";
    CHECK(experiment_load_buffer(&ex, "grid.toml", toml, strlen(toml), NULL, 0, &e) == 0);
    char grid[512];
    experiment_grid_text(&ex, grid, sizeof grid);
    CHECK_MSG(strcmp(grid, "balance.scope = [\"micro\", \"global\"]; train.seed = [1, 2, 3]") == 0, "grid: %s", grid);

    remove_tree(dir);
    return test_summary("test_lock");
}
