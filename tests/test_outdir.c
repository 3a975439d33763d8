// test_outdir.c — sim/outdir.c: an output folder is written into DIR.tmp.<pid> and put in place
// whole with complete.json; an earlier output is replaced whole (none of its files stay); a failed
// command leaves the earlier folder as it was; a folder that is not a moesim output, a file, and
// '.', '..' or '/' are refused; a dead writer's DIR.tmp.<pid> is removed and a live one's left; a
// DIR.prev.<pid> whose swap was cut short is put back; an older moesim's output (the command's own
// file, no complete.json) may be replaced, but never a run's folder (it holds eval.csv and
// manifest.json too); the reader's check names what is wrong. The swap both
// by the atomic exchange and by the two renames (MOESIM_OUTDIR_FALLBACK=1).
// covers: sim/outdir.c
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "../sim/io.h"
#include "../sim/outdir.h"

static void put(const char *dir, const char *name, const char *text) {
    char p[1200];
    FILE *f = fopen(path_join(p, sizeof p, dir, name), "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int has(const char *dir, const char *name) {
    char p[1200];
    return file_exists(path_join(p, sizeof p, dir, name));
}

// The text of dir/name (static buffer; "" when missing).
static const char *text_of(const char *dir, const char *name) {
    static char buf[512];
    char p[1200];
    char *t = read_text_file(path_join(p, sizeof p, dir, name));
    snprintf(buf, sizeof buf, "%s", t ? t : "");
    free(t);
    return buf;
}

static void test_replace_whole(const char *T) {
    char dir[600], err[2048];
    snprintf(dir, sizeof dir, "%s/out", T);
    OutDir o;
    CHECK_MSG(outdir_begin(&o, dir, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(!file_exists(o.tmp) && !file_exists(dir));  // begin creates nothing
    CHECK(strncmp(o.tmp, dir, strlen(dir)) == 0 && strstr(o.tmp, ".tmp.") != NULL);
    CHECK(mkdir_p(o.tmp) == 0);
    put(o.tmp, "first.txt", "1\n");
    put(o.tmp, "shared.txt", "old\n");
    CHECK_MSG(outdir_commit(&o, "eval", "9.9", err, sizeof err) == 0, "%s", err);
    CHECK(!file_exists(o.tmp) && has(dir, "first.txt") && has(dir, OUTDIR_MARKER));
    CHECK(outdir_check(dir, "eval", err, sizeof err) == 0);
    CHECK(outdir_check(dir, NULL, err, sizeof err) == 0);
    CHECK(strstr(text_of(dir, OUTDIR_MARKER), "\"command\": \"eval\"") && strstr(text_of(dir, OUTDIR_MARKER), "\"version\": \"9.9\""));
    // a second output replaces the first whole: first.txt does not stay
    CHECK_MSG(outdir_begin(&o, dir, NULL, err, sizeof err) == 0, "%s", err);
    CHECK(mkdir_p(o.tmp) == 0);
    put(o.tmp, "shared.txt", "new\n");
    CHECK_MSG(outdir_commit(&o, "generate", "9.9", err, sizeof err) == 0, "%s", err);
    CHECK(!has(dir, "first.txt") && !strcmp(text_of(dir, "shared.txt"), "new\n"));
    CHECK(outdir_check(dir, "generate", err, sizeof err) == 0);
    CHECK(outdir_check(dir, "eval", err, sizeof err) != 0 && strstr(err, "moesim generate") && strstr(err, "moesim eval"));
    char sib[700];
    snprintf(sib, sizeof sib, "%s.prev.%ld", dir, (long)getpid());
    CHECK(!file_exists(sib));
    // a failed command: abort leaves the earlier folder as it was
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) == 0);
    CHECK(mkdir_p(o.tmp) == 0);
    put(o.tmp, "shared.txt", "partial\n");
    outdir_abort(&o);
    CHECK(!file_exists(o.tmp) && !strcmp(text_of(dir, "shared.txt"), "new\n") && has(dir, OUTDIR_MARKER));
    // nothing written: commit fails and leaves dir as it was
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) == 0);
    CHECK(outdir_commit(&o, "eval", "9.9", err, sizeof err) != 0 && strstr(err, "nothing was written"));
    CHECK(!strcmp(text_of(dir, "shared.txt"), "new\n"));
    // "out/" is the folder out
    char slash[700];
    snprintf(slash, sizeof slash, "%s//", dir);
    CHECK(outdir_begin(&o, slash, NULL, err, sizeof err) == 0 && !strcmp(o.dir, dir));
}

static void test_refused(const char *T) {
    char dir[600], file[700], err[2048];
    OutDir o;
    snprintf(dir, sizeof dir, "%s/mine", T);
    CHECK(mkdir_p(dir) == 0);
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) == 0);  // empty: may be replaced
    put(dir, "notes.txt", "keep\n");
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, dir) && strstr(err, "not a moesim output"), "%s", err);
    CHECK(!strcmp(text_of(dir, "notes.txt"), "keep\n"));
    // a folder holding the command's own file: an older moesim's output of it, replaced
    CHECK(outdir_begin(&o, dir, "generate.json", err, sizeof err) != 0);
    put(dir, "generate.json", "{}\n");
    CHECK_MSG(outdir_begin(&o, dir, "generate.json", err, sizeof err) == 0, "%s", err);
    CHECK(outdir_begin(&o, dir, "eval.csv", err, sizeof err) != 0);
    CHECK(outdir_check(dir, "generate", err, sizeof err) != 0 && strstr(err, "complete.json") && strstr(err, dir));
    // a run folder holds eval.csv and manifest.json (eval's and export's own files) beside its
    // training log and model: `moesim eval RUN --out RUN` must not replace it
    char run[700], model[800];
    snprintf(run, sizeof run, "%s/run", T);
    snprintf(model, sizeof model, "%s/model", run);
    CHECK(mkdir_p(model) == 0);
    put(run, "eval.csv", "step,layer\n");
    put(run, "manifest.json", "{}\n");
    put(model, "state.json", "{}\n");
    CHECK(outdir_begin(&o, run, "eval.csv", err, sizeof err) != 0 && strstr(err, "model") && strstr(err, run));
    CHECK(outdir_begin(&o, run, "manifest.json", err, sizeof err) != 0 && strstr(err, "moesim run"));
    remove_tree(model);
    put(run, "metrics.csv", "step\n");
    CHECK(outdir_begin(&o, run, "eval.csv", err, sizeof err) != 0 && strstr(err, "metrics.csv"));
    CHECK(has(run, "eval.csv") && has(run, "metrics.csv"));
    snprintf(file, sizeof file, "%s/notes.txt", dir);
    CHECK(outdir_begin(&o, file, NULL, err, sizeof err) != 0 && strstr(err, "a file of that name exists"));
    const char *names[] = {"/", ".", "..", "x/.", "x/.."};
    for (int i = 0; i < 5; i++) {
        err[0] = 0;
        CHECK_MSG(outdir_begin(&o, names[i], NULL, err, sizeof err) != 0 && strstr(err, "folder's name"), "%s: %s", names[i], err);
    }
    snprintf(file, sizeof file, "%s/none", T);
    CHECK(outdir_check(file, "generate", err, sizeof err) != 0 && strstr(err, "no such folder"));
    // a marker that is not one
    snprintf(file, sizeof file, "%s/badmark", T);
    CHECK(mkdir_p(file) == 0);
    put(file, OUTDIR_MARKER, "{\n  \"format\": \"something else\"\n}\n");
    CHECK(outdir_check(file, NULL, err, sizeof err) != 0 && strstr(err, "not a moesim completion marker"));
}

static void test_stale(const char *T) {
    char dir[600], dead[700], live[700], prev[700], err[2048];
    OutDir o;
    snprintf(dir, sizeof dir, "%s/st", T);
    // pid 999999999 is above any pid_max (at most 2^22): a process that is gone
    snprintf(dead, sizeof dead, "%s.tmp.999999999", dir);
    snprintf(live, sizeof live, "%s.tmp.%ld", dir, (long)getppid());
    CHECK(mkdir_p(dead) == 0 && mkdir_p(live) == 0);
    put(dead, "tokens.npy", "junk");
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) == 0);
    CHECK(!file_exists(dead));  // the dead writer's folder is removed
    CHECK(file_exists(live));   // a running process's is left alone
    remove_tree(live);
    // a swap cut short between its renames: DIR is missing, DIR.prev.<dead pid> holds it whole
    snprintf(prev, sizeof prev, "%s.prev.999999999", dir);
    CHECK(mkdir_p(prev) == 0);
    put(prev, "a.txt", "earlier\n");
    put(prev, OUTDIR_MARKER, "{\n  \"format\": \"moesim-complete-1\",\n  \"command\": \"eval\"\n}\n");
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) == 0);
    CHECK(!file_exists(prev) && !strcmp(text_of(dir, "a.txt"), "earlier\n") && outdir_check(dir, "eval", err, sizeof err) == 0);
    // names that only look like siblings are not touched
    char other[700];
    snprintf(other, sizeof other, "%s.tmp.12x", dir);
    CHECK(mkdir_p(other) == 0);
    CHECK(outdir_begin(&o, dir, NULL, err, sizeof err) == 0 && file_exists(other));
}

int main(void) {
    char T[] = "/tmp/moesim_outdir.XXXXXX";
    if (!mkdtemp(T)) { perror("mkdtemp"); return 1; }
    test_replace_whole(T);
    // the same through the two renames (systems without an atomic exchange)
    setenv("MOESIM_OUTDIR_FALLBACK", "1", 1);
    char T2[700];
    snprintf(T2, sizeof T2, "%s/fallback", T);
    CHECK(mkdir_p(T2) == 0);
    test_replace_whole(T2);
    unsetenv("MOESIM_OUTDIR_FALLBACK");
    test_refused(T);
    test_stale(T);
    remove_tree(T);
    return test_summary("test_outdir");
}
