// test_live.c — the live view's drawing and reading (report/live.c): the demo's two runs
// (8 domains x 16 experts) drawn into a buffer fit 80 x 24 and sit side by side; a wide terminal
// gets wider cells; many runs are cut with a line saying so, still within the screen; the
// sparkline's levels, its NaN mark and its newest-values window; and the reader of a folder whose
// files are still growing: a half-written last line and a half-written evaluation are not shown,
// the newest temporary file wins, and a folder that is not a results folder is told apart.
// covers: sim/report/live.c sim/train/lock.c sim/tools/watch.c
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../sim/report/live.h"
#include "../sim/tools/watch.h"
#include "../sim/train/lock.h"
#include "../sim/io.h"
#include "harness.h"

static char buf[1 << 16];

// Lines of buf, the widest in display columns, and whether every line ends with '\n'.
static int measure(const char *s, int *widest) {
    int n = 0;
    *widest = 0;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl) return -1;
        int c = live_cols(p, (size_t)(nl - p));
        if (c > *widest) *widest = c;
        n++;
        p = nl + 1;
    }
    return n;
}

static void fill(LiveRun *r, const char *name, int D, int E, int evals) {
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->status, sizeof r->status, "running");
    r->D = D; r->E = E; r->layer = 1; r->step = 100; r->log_step = 100; r->loss = 2.5;
    r->heat = malloc(sizeof(double) * (size_t)D * E);
    for (int i = 0; i < D * E; i++) r->heat[i] = (double)(i % 7) / 10;
    r->nhist = evals;
    for (int i = 0; i < evals; i++) r->hist[i] = 1.0 - 0.05 * i;
}

static void test_layout(void) {
    static LiveView v;
    fill(&v.runs[0], "scope=micro", 8, 16, 13);
    fill(&v.runs[1], "scope=global", 8, 16, 13);
    v.nruns = 2;
    int w, n = live_render(&v, "moesim run experiments/demo.toml --live: results/demo", 80, 24, buf, sizeof buf);
    int lines = measure(buf, &w);
    CHECK(lines == n);
    CHECK_MSG(lines <= 24 && w <= 80, "80 x 24: %d lines, widest %d columns", lines, w);
    CHECK_MSG(lines >= 14, "both heatmaps with every domain: %d lines", lines);
    // side by side: one line names both runs, and the 8 domain rows are there
    const char *both = strstr(buf, "scope=micro");
    CHECK(both && strstr(both, "scope=global") && strchr(both, '\n') > strstr(both, "scope=global"));
    CHECK(strstr(buf, "d7 ") != NULL);
    CHECK(strstr(buf, "FreqSim 0.400 ") != NULL);
    CHECK(strstr(buf, "step 100") != NULL);
    // wider terminal: wider cells, the width used
    int w80 = w;
    lines = measure((live_render(&v, "t", 160, 40, buf, sizeof buf), buf), &w);
    CHECK_MSG(w > w80 + 20 && w <= 160, "160 columns: widest line %d (80 columns: %d)", w, w80);
    // a tiny terminal still gets a view within its size
    lines = measure((live_render(&v, "t", 40, 12, buf, sizeof buf), buf), &w);
    CHECK_MSG(lines <= 12 && w <= 40, "40 x 12: %d lines, widest %d", lines, w);
    // many runs: as many as fit, and a line saying how many are not shown
    for (int i = 2; i < 18; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed=%d", i);
        fill(&v.runs[i], name, 8, 16, 3);
    }
    v.nruns = 18;
    lines = measure((live_render(&v, "t", 80, 24, buf, sizeof buf), buf), &w);
    CHECK_MSG(lines <= 24 && w <= 80, "18 runs at 80 x 24: %d lines, widest %d", lines, w);
    CHECK(strstr(buf, "more runs not shown") != NULL);
    live_free(&v);
    CHECK(v.nruns == 0);
}

static void test_sparkline(void) {
    char s[256];
    double x[] = {0, 0.5, 0.999, 1.0, NAN, -1, 2, 0.126};
    int n = live_sparkline(x, 8, 100, s, sizeof s);
    CHECK(n == 8);
    CHECK_MSG(strcmp(s, "\xe2\x96\x81\xe2\x96\x85\xe2\x96\x88\xe2\x96\x88\xc2\xb7\xe2\x96\x81\xe2\x96\x88\xe2\x96\x82") == 0,
              "got %s", s);
    n = live_sparkline(x, 8, 3, s, sizeof s);  // the newest three
    CHECK(n == 3 && strcmp(s, "\xe2\x96\x81\xe2\x96\x88\xe2\x96\x82") == 0);
    CHECK(live_cols(s, strlen(s)) == 3);
}

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void test_reader(void) {
    char dir[] = "/tmp/moesim_live.XXXXXX", p[512], err[512];
    if (!mkdtemp(dir)) { SKIP("mkdtemp failed"); return; }
    CHECK(live_is_results_dir(dir) == 0);
    snprintf(p, sizeof p, "%s/a", dir);
    mkdir(p, 0755);
    CHECK(live_is_results_dir(dir) == 0);  // an empty sub-folder is no run
    // run a: a whole evaluation at step 0 (2 domains x 2 experts, layers 0 and 1), a half-written
    // one at step 10 (layer 1 only partly), and a half line
    snprintf(p, sizeof p, "%s/a/experts.csv.tmp.123", dir);
    put(p, "step,layer,domain,expert,frequency\n"
           "0,0,0,0,0.1\n0,0,0,1,0.1\n0,0,1,0,0.1\n0,0,1,1,0.1\n"
           "0,1,0,0,0.5\n0,1,0,1,0.25\n0,1,1,0,0.125\n0,1,1,1,0.75\n"
           "10,0,0,0,0.2\n10,0,0,1,0.2\n10,0,1,0,0.2\n10,0,1,1,0.2\n10,1,0,0,0.9\n10,1,0,");
    snprintf(p, sizeof p, "%s/a/eval.csv.tmp.123", dir);
    put(p, "step,layer,eval_ce,freqsim_cross_domain\n0,0,5,0.9\n0,1,5,0.8\n10,0,4,0.7\n10,1,4,0.6\n20,0,4,0.5\n");
    snprintf(p, sizeof p, "%s/a/metrics.csv.tmp.123", dir);
    put(p, "step,loss,ce\n5,3.5,3.4\n10,3.25,3.2\n15,3.");
    CHECK(live_is_results_dir(dir) == 1);
    static LiveView v;
    CHECK(live_scan(&v, dir, err, sizeof err) == 0);
    CHECK(v.nruns == 1);
    LiveRun *r = &v.runs[0];
    CHECK(strcmp(r->name, "a") == 0 && strcmp(r->status, "running") == 0);
    CHECK_MSG(r->step == 0 && r->D == 2 && r->E == 2 && r->layer == 1, "step %d, %d x %d, layer %d", r->step, r->D, r->E, r->layer);
    CHECK(r->heat && r->heat[3] == 0.75);
    CHECK_MSG(r->nhist == 2 && r->hist[0] == 0.8 && r->hist[1] == 0.6, "history of %d", r->nhist);
    CHECK(r->log_step == 10 && r->loss == 3.25);
    // the evaluation completes, in a newer temporary file (a resumed process): it is shown
    sleep(1);  // a newer modification time, at the file system's resolution
    snprintf(p, sizeof p, "%s/a/experts.csv.tmp.456", dir);
    put(p, "step,layer,domain,expert,frequency\n"
           "10,1,0,0,0.9\n10,1,0,1,0.0\n10,1,1,0,0.0\n10,1,1,1,0.9\n");
    snprintf(p, sizeof p, "%s/a/manifest.json", dir);
    put(p, "{\n  \"status\": \"failed: out of memory, really\"\n}\n");
    CHECK(live_scan(&v, dir, err, sizeof err) == 0);
    CHECK(r->step == 10 && r->heat[0] == 0.9 && r->heat[1] == 0.0);
    CHECK_MSG(strcmp(r->status, "failed") == 0, "status %s", r->status);
    live_render(&v, "t", 80, 24, buf, sizeof buf);
    CHECK(strstr(buf, "a  failed") != NULL);
    live_free(&v);
    // nobody holds a lock: not busy; a lock file held by this process is seen from another one
    CHECK(folder_lock_busy(dir) == 0);
    FolderLock l;
    char note[256];
    CHECK(folder_lock(&l, dir, 1, 1, note, sizeof note, err, sizeof err) == 0);
    pid_t pid = fork();
    if (pid == 0) _exit(folder_lock_busy(dir) == 1 ? 0 : 1);
    int st = 1;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process must see the folder busy");
    folder_unlock(&l);
    CHECK(folder_lock_busy(dir) == 0);
    // watch on a finished folder: one view, exit 0; on a folder that is not a results folder: 2
    CHECK(watch_folder(dir, 0.01, err, sizeof err) == 0);
    snprintf(p, sizeof p, "%s/a", dir);
    CHECK(watch_folder(p, 0.01, err, sizeof err) == 2 && strstr(err, "not a results folder"));
    CHECK(watch_folder("/nonexistent/moesim", 0.01, err, sizeof err) == 2);
    int w, h;
    watch_term_size(-1, &w, &h);
    CHECK(w > 0 && h > 0);
    remove_tree(dir);
}

int main(void) {
    test_layout();
    test_sparkline();
    test_reader();
    return test_summary("test_live");
}
