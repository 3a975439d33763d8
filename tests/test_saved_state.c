// test_saved_state.c — a run's saved state checked before any work (sim/train/saved_state.c): the
// checkpoint a real tiny run leaves passes (so the partial CSVs' rules match their writers), and a
// damaged one is refused naming the file — an emptied eval.csv, a truncated metrics.csv, an edited
// state.json step, optimizer_t or batch_rng, a truncated optimizer moment; also in a folder of the earlier format, where only
// the CSV rules can see them — with the advice to start over (never a warm-start key); a damaged
// train.init_from model is refused as train.init_from, and so is one in the run's own folder.
// covers: sim/train/saved_state.c sim/train/train.c sim/models/checkpoint.c
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "../sim/config/config.h"
#include "../sim/io.h"
#include "../sim/train/train.h"

static char tmpdir[256];

#include "set_key.h"
#include "file_edits.h"

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

static void tiny_run_config(Config *c) {
    tiny_decoder(c, "32");
    set(c, "experiment.name", "\"tiny\"");  // as an experiment file's (an empty name reads back as the file's)
    set(c, "train.batch", "2");
    set(c, "train.steps", "5");
    set(c, "train.log_every", "1");
    set(c, "train.checkpoint_every", "2");  // the last checkpoint: step 4
    set(c, "eval.every", "2");
    set(c, "eval.sequences", "2");
    set(c, "eval.pairs", "10");
}

// A finished tiny run in tmpdir/<tag>: its checkpoint/ (step 4) and model/ stay. Returns dir.
static const char *tiny_run(const Config *c, const char *tag, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/%s", tmpdir, tag);
    CHECK(mkdir_p(dir) == 0);
    RunOptions o = {.run_id = tag, .quiet = 1};
    RunResult r;
    CHECK_MSG(train_run(c, dir, &o, &r) == 0 && r.status == RUN_OK, "%s: %s", tag, r.reason);
    return dir;
}

static void cut(const char *path, long bytes) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    CHECK(truncate(path, n - bytes) == 0);
}

// run_check_saved refuses the run in dir naming `file` (a path inside its checkpoint) and `part`,
// as a damaged checkpoint to start over.
static void expect_damaged(const Config *c, const char *dir, const char *file, const char *part, const char *what) {
    char err[IO_MSG_MAX] = "";
    CHECK_MSG(run_check_saved(c, dir, 1, err, sizeof err) != 0, "%s: accepted", what);
    CHECK_MSG(contains(err, "cannot resume") && contains(err, file) && contains(err, part) && contains(err, "damaged") &&
              contains(err, "--force") && !contains(err, "init_optimizer"),
              "%s: message \"%s\" lacks \"%s\" / \"%s\" or gives the wrong advice", what, err, file, part);
    // and train_run itself refuses it the same way (a run not started by the sweep)
    RunOptions o = {.run_id = "again", .quiet = 1, .resume = 1};
    RunResult r;
    CHECK(train_run(c, dir, &o, &r) != 0 && r.status == RUN_FAILED);
    CHECK_MSG(contains(r.reason, file) && contains(r.reason, "damaged"), "%s: run failed with \"%s\"", what, r.reason);
}

static void test_resume(int old_format) {
    Config c;
    tiny_run_config(&c);
    char dir[512], err[IO_MSG_MAX] = "", p[800], tag[64];
    const char *fmt = old_format ? "f1" : "f2";
    // the writers' rows pass the rules
    snprintf(tag, sizeof tag, "ok_%s", fmt);
    tiny_run(&c, tag, dir, sizeof dir);
    char ck[600];
    path_join(ck, sizeof ck, dir, "checkpoint");
    CHECK_MSG(file_exists(path_join(p, sizeof p, ck, "state.json")), "no checkpoint in %s", dir);
    if (old_format) downgrade(ck);
    CHECK_MSG(run_check_saved(&c, dir, 1, err, sizeof err) == 0, "%s: %s", fmt, err);
    // an emptied eval.csv
    snprintf(tag, sizeof tag, "empty_%s", fmt);
    tiny_run(&c, tag, dir, sizeof dir);
    path_join(ck, sizeof ck, dir, "checkpoint");
    if (old_format) downgrade(ck);
    CHECK(truncate(path_join(p, sizeof p, ck, "partial/eval.csv"), 0) == 0);
    expect_damaged(&c, dir, p, old_format ? "empty" : "0 bytes", "emptied eval.csv");
    // a truncated metrics.csv (its last line cut)
    snprintf(tag, sizeof tag, "trunc_%s", fmt);
    tiny_run(&c, tag, dir, sizeof dir);
    path_join(ck, sizeof ck, dir, "checkpoint");
    if (old_format) downgrade(ck);
    cut(path_join(p, sizeof p, ck, "partial/metrics.csv"), 5);
    expect_damaged(&c, dir, p, old_format ? "cut short" : "bytes, state.json lists", "truncated metrics.csv");
    // an edited state.json step, down and up: the rows say otherwise
    for (int up = 0; up < 2; up++) {
        snprintf(tag, sizeof tag, "step%d_%s", up, fmt);
        tiny_run(&c, tag, dir, sizeof dir);
        path_join(ck, sizeof ck, dir, "checkpoint");
        if (old_format) downgrade(ck);
        CHECK(edit_file(path_join(p, sizeof p, ck, "state.json"), "\"step\": 4", up ? "\"step\": 5" : "\"step\": 3"));
        path_join(p, sizeof p, ck, "partial/metrics.csv");
        expect_damaged(&c, dir, p, up ? "before the rows of step 5" : "a row of step 4 after the checkpoint's step 3",
                       "edited step");
    }
    // state.json's optimizer_t and batch_rng: no row can contradict them, so its state_fnv1a64
    // does (format 2); otherwise the resume would go on to other results while saying ok
    for (int k = 0; k < 2 && !old_format; k++) {
        snprintf(tag, sizeof tag, "state%d_%s", k, fmt);
        tiny_run(&c, tag, dir, sizeof dir);
        path_join(ck, sizeof ck, dir, "checkpoint");
        path_join(p, sizeof p, ck, "state.json");
        char *st = read_text_file(p), *at = st ? strstr(st, k ? "\"batch_rng\": \"" : "\"optimizer_t\": ") : NULL;
        CHECK(at != NULL);
        if (at) {
            at += strlen(k ? "\"batch_rng\": \"" : "\"optimizer_t\": ");
            *at = *at == '1' ? '2' : '1';  // a digit of the value, the length kept
            write_text(p, st);
        }
        free(st);
        expect_damaged(&c, dir, p, "state_fnv1a64", k ? "edited batch_rng" : "edited optimizer_t");
    }
    // a truncated optimizer moment
    snprintf(tag, sizeof tag, "moment_%s", fmt);
    tiny_run(&c, tag, dir, sizeof dir);
    path_join(ck, sizeof ck, dir, "checkpoint");
    if (old_format) downgrade(ck);
    cut(path_join(p, sizeof p, ck, "optim/m/wte.npy"), 8);
    expect_damaged(&c, dir, p, old_format ? "" : "bytes, state.json lists", "truncated moment");
}

static void test_init_from(void) {
    Config c, warm;
    tiny_run_config(&c);
    char dir[512], err[IO_MSG_MAX] = "", p[800], other[600];
    tiny_run(&c, "source", dir, sizeof dir);
    warm = c;
    char value[700];
    snprintf(value, sizeof value, "\"%s\"", dir);
    set(&warm, "train.init_from", value);
    path_join(other, sizeof other, tmpdir, "warm");
    CHECK_MSG(run_check_saved(&warm, other, 1, err, sizeof err) == 0, "%s", err);
    // the run's own folder as its warm start (its model/, or the folder): the run replaces it
    // (--force removed the model before the warm start read it: the trained model was lost)
    CHECK(run_check_saved(&warm, dir, 0, err, sizeof err) != 0);
    CHECK_MSG(contains(err, "train.init_from: ") && contains(err, "own folder") && contains(err, dir), "%s", err);
    snprintf(value, sizeof value, "\"%s/model\"", dir);
    set(&warm, "train.init_from", value);
    CHECK(run_check_saved(&warm, dir, 0, err, sizeof err) != 0 && contains(err, "own folder"));
    snprintf(value, sizeof value, "\"%s\"", dir);
    set(&warm, "train.init_from", value);
    path_join(p, sizeof p, dir, "model/params/wte.npy");
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f) { fseek(f, -3, SEEK_END); fputc('x', f); fclose(f); }
    CHECK(run_check_saved(&warm, other, 1, err, sizeof err) != 0);
    CHECK_MSG(contains(err, "train.init_from: ") && contains(err, p) && contains(err, "checksum"), "%s", err);
    CHECK(!file_exists(other));  // the check makes no folder
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_saved_state.%ld", (long)getpid());
    CHECK(mkdir_p(tmpdir) == 0);
    test_resume(0);
    test_resume(1);
    test_init_from();
    if (!getenv("KEEP")) remove_tree(tmpdir);
    return test_summary("test_saved_state");
}
