// sweep.c — the grid of an experiment, run point by point (or in parallel processes), resumable.
// A run is done only when its manifest.json says "ok"; anything else is redone from scratch, so
// killing the process at any moment and running again gives the results of an uninterrupted run.
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "sweep.h"
#include "../io.h"
#include "../measure/metrics.h"
#include "../models/checkpoint.h"
#include "memory.h"
#include "train.h"

void sweep_out_dir(const Experiment *ex, const SweepOptions *o, char *buf, size_t cap) {
    if (o->out_dir) snprintf(buf, cap, "%s", o->out_dir);
    else snprintf(buf, cap, "results/%s", ex->base.experiment_name);
}

int run_is_done(const char *run_dir) {
    char p[IO_DEEP_PATH_MAX], status[64];
    char *json = read_text_file(path_join(p, sizeof p, run_dir, "manifest.json"));
    int ok = json && json_field(json, "status", status, sizeof status) && strcmp(status, "ok") == 0;
    free(json);
    return ok;
}

// Removes what an interrupted run left behind: temporary files and folders (a checkpoint being
// written when the run was killed) and the old manifest. The checkpoint itself stays, so the run
// resumes from it; with force, it goes too, with the saved model: the run starts over.
static void clean_run_dir(const char *run_dir, int force) {
    char p[IO_DEEP_PATH_MAX];
    if (path_join(p, sizeof p, run_dir, "manifest.json")) remove(p);
    DIR *d = opendir(run_dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) remove_tree(path_join(p, sizeof p, run_dir, de->d_name));
    closedir(d);
    if (force) {
        const char *saved[] = {"checkpoint", "checkpoint.prev", "model", "model.prev"};
        for (int i = 0; i < 4; i++) remove_tree(path_join(p, sizeof p, run_dir, saved[i]));
    }
}

// ---- signals ----------------------------------------------------------------------------------

// The children of a parallel sweep (pid 0: free slot), to pass a signal on.
#define SWEEP_MAX_JOBS 256
static pid_t children[SWEEP_MAX_JOBS];

static void on_stop_signal(int sig) {
    train_stop_signal = sig;
    for (int i = 0; i < SWEEP_MAX_JOBS; i++)
        if (children[i] > 0) kill(children[i], sig);
}

// SIGTERM (Slurm's warning before a time limit or preemption) and SIGINT (Ctrl-C) let the current
// step finish, write a checkpoint and stop; no SA_RESTART, so a parent waiting on children wakes.
static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

// ---- summary.csv ------------------------------------------------------------------------------

// The last evaluation's rows of eval.csv: values[layer][column] (columns after step,layer).
static int read_final_eval(const char *run_dir, int L, double *vals /* L x (1 + NS) */) {
    char p[IO_DEEP_PATH_MAX];
    FILE *f = path_join(p, sizeof p, run_dir, "eval.csv") ? fopen(p, "r") : NULL;
    if (!f) return -1;
    char line[8192];
    int ncol = 1 + METRICS_NSCALARS;
    if (!fgets(line, sizeof line, f)) { fclose(f); return -1; }
    while (fgets(line, sizeof line, f)) {
        char *s = line, *end;
        strtol(s, &end, 10);             // step: the last rows win
        if (*end != ',') continue;
        long layer = strtol(end + 1, &end, 10);
        if (layer < 0 || layer >= L) continue;
        for (int c = 0; c < ncol && *end == ','; c++) vals[layer * ncol + c] = strtod(end + 1, &end);
    }
    fclose(f);
    return 0;
}

int sweep_write_summary(const Experiment *ex, const char *dir) {
    char p[IO_DEEP_PATH_MAX], id[CFG_RUN_ID_MAX + 1], run_dir[IO_CHILD_PATH_MAX], buf[600];
    const char *names[METRICS_NSCALARS];
    LayerMetrics dummy = {0};
    metrics_list(names, NULL, NULL, &dummy);
    int L = ex->base.model_kind == MODEL_ROUTER ? 1 : ex->base.model_layers;
    for (int a = 0; a < ex->naxes; a++)
        if (ex->axes[a].key == CFGK_model_layers)
            for (int v = 0; v < ex->axes[a].n; v++) L = (int)fmax(L, ex->axes[a].v[v]);
    AtomicFile af;
    FILE *f = afile_open(&af, path_join(p, sizeof p, dir, "summary.csv"));
    if (!f) return -1;
    fprintf(f, "run");
    for (int a = 0; a < ex->naxes; a++) fprintf(f, ",%s", cfg_keys[ex->axes[a].key].key);
    fprintf(f, ",status,steps_done,loss,ce,eval_ce,tokens_per_s,wall_s");
    for (int i = 0; i < METRICS_NSCALARS; i++) fprintf(f, ",%s", names[i]);
    for (int l = 0; l < L; l++)
        for (int i = 0; i < METRICS_NSCALARS; i++) fprintf(f, ",l%d.%s", l, names[i]);
    fputc('\n', f);
    int ncol = 1 + METRICS_NSCALARS;
    double *vals = malloc(sizeof(double) * (size_t)L * ncol);
    for (long i = 0; vals && i < ex->npoints; i++) {
        experiment_run_id(ex, i, id, sizeof id);
        // a run folder whose path does not fit was never run (sweep_run refuses it)
        char *json = path_join(run_dir, sizeof run_dir, dir, id) ? read_text_file(path_join(p, sizeof p, run_dir, "manifest.json")) : NULL;
        if (!json) continue;
        Config c;
        experiment_point(ex, i, &c);
        int Lr = c.model_kind == MODEL_ROUTER ? 1 : c.model_layers;
        fprintf(f, "%s", id);
        for (int a = 0; a < ex->naxes; a++) {
            config_format_value(&c, ex->axes[a].key, 0, buf, sizeof buf);
            fprintf(f, ",%s", buf);
        }
        const char *fields[] = {"status", "steps_done", "final_loss", "final_ce", "eval_ce", "tokens_per_s", "wall_s"};
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            if (!json_field(json, fields[k], buf, sizeof buf) || strcmp(buf, "null") == 0) snprintf(buf, sizeof buf, "nan");
            for (char *q = buf; *q; q++) if (*q == ',' || *q == '\n') *q = ';';  // keep the CSV cell whole
            fprintf(f, ",%s", buf);
        }
        free(json);
        for (size_t k = 0; k < (size_t)L * ncol; k++) vals[k] = NAN;
        read_final_eval(run_dir, Lr, vals);
        // the plain names are the last layer's; then every layer (nan beyond this run's depth)
        for (int k = 1; k < ncol; k++) fprintf(f, ",%.9g", vals[(Lr - 1) * ncol + k]);
        for (int l = 0; l < L; l++)
            for (int k = 1; k < ncol; k++) fprintf(f, ",%.9g", vals[l * ncol + k]);
        fputc('\n', f);
    }
    free(vals);
    return afile_commit(&af);
}

// ---- running ----------------------------------------------------------------------------------

static int write_experiment_toml(const Experiment *ex, const char *dir) {
    char p[IO_CHILD_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "experiment.toml"));
    if (!f) return -1;
    fprintf(f, "# The resolved base configuration of %s (swept keys at their base values).\n", ex->path);
    config_write_toml(f, &ex->base);
    return afile_commit(&a);
}

// One point in this process. Returns 0 ok, 1 failed, 2 diverged, 3 interrupted.
static int run_point(const Experiment *ex, long i, const char *dir, int threads, int quiet, int tty, int force, long nth,
                     long total) {
    char id[CFG_RUN_ID_MAX + 1], run_dir[IO_CHILD_PATH_MAX];
    experiment_run_id(ex, i, id, sizeof id);
    if (!path_join(run_dir, sizeof run_dir, dir, id) || mkdir_p(run_dir) != 0) {
        fprintf(stderr, "moesim: cannot create %s: %s\n", run_dir, strerror(errno));
        return 1;
    }
    clean_run_dir(run_dir, force);
    Config c;
    experiment_point(ex, i, &c);
    if (!quiet) fprintf(stderr, "[%ld/%ld] %s → %s\n", nth, total, id, run_dir);
    RunOptions to = {.run_id = id, .threads = threads, .quiet = quiet, .tty = tty, .resume = 1};
    RunResult r;
    train_run(&c, run_dir, &to, &r);
    if (r.status == RUN_FAILED && quiet)  // a failure is not progress: it is said even with --quiet
        fprintf(stderr, "moesim: %s: failed: %s\n", id, r.reason);
    if (!quiet) {
        if (r.status == RUN_OK)
            fprintf(stderr, "[%ld/%ld] %s: ok in %.1fs (loss %.4f, ce %.4f)\n", nth, total, id, r.wall_s, r.loss, r.ce);
        else
            fprintf(stderr, "[%ld/%ld] %s: %s: %s\n", nth, total, id,
                    r.status == RUN_DIVERGED ? "diverged" : r.status == RUN_INTERRUPTED ? "interrupted" : "failed", r.reason);
    }
    return r.status == RUN_OK ? 0 : r.status == RUN_FAILED ? 1 : r.status == RUN_DIVERGED ? 2 : 3;
}

int sweep_run(const Experiment *ex, const SweepOptions *o) {
    char dir[IO_PATH_MAX], id[CFG_RUN_ID_MAX + 1], run_dir[IO_CHILD_PATH_MAX];
    sweep_out_dir(ex, o, dir, sizeof dir);
    int si = o->shard_count > 0 ? o->shard_index : 1, sn = o->shard_count > 0 ? o->shard_count : 1;
    // the work list: this shard's points that are not done (or all of them with --force)
    long *todo = malloc(sizeof(long) * (size_t)(ex->npoints > 0 ? ex->npoints : 1));
    long ntodo = 0, nmine = 0;
    if (!todo) return 1;
    int jobs = o->jobs > 1 ? o->jobs : 1;
    if (jobs > SWEEP_MAX_JOBS) jobs = SWEEP_MAX_JOBS;
    int threads = 0;
#ifdef _OPENMP
    if (jobs > 1) { threads = omp_get_max_threads() / jobs; if (threads < 1) threads = 1; }
#endif
    // every run to do is estimated from its config before anything is allocated (memory.h)
    MemPlan plan;
    memory_plan_begin(&plan, jobs, o->max_memory);
    for (long i = 0; i < ex->npoints; i++) {
        if (!experiment_in_shard(i, si, sn)) continue;
        nmine++;
        experiment_run_id(ex, i, id, sizeof id);
        if (!path_join(run_dir, sizeof run_dir, dir, id)) {  // the later joins of dir and an id fit
            fprintf(stderr, "moesim: %s: %s\n", run_dir, strerror(ENAMETOOLONG));
            free(todo);
            return 2;
        }
        int done = run_is_done(run_dir);
        char est[32] = "-", found[IO_DEEP_PATH_MAX], err[IO_MSG_MAX];
        if (!done || o->force) {
            Config c;
            experiment_point(ex, i, &c);
            int start = !o->force && ckpt_resolve(run_dir, 1, found, sizeof found, err, sizeof err) == 0 ? MEM_RESUMES
                      : c.train_init_from[0] ? MEM_WARM_START : MEM_FRESH;
            MemEstimate me;
            if (memory_estimate(&c, threads, start, &me, err, sizeof err) != 0) {
                fprintf(stderr, "moesim: %s: %s\n", id, err);
                free(todo);
                return 2;
            }
            memory_plan_add(&plan, id, &me);
            io_bytes_text(est, sizeof est, me.total);
            todo[ntodo++] = i;
        }
        if (o->dry_run) printf("%-40s %s  %10s  %s\n", id, run_dir, est, done && !o->force ? "done" : "to run");
    }
    if (o->dry_run) printf("%ld points (%ld in this shard), %ld to run, results in %s\n", ex->npoints, nmine, ntodo, dir);
    int mem_rc = memory_plan_check(&plan, o->dry_run, stdout);  // 2: over the limit, said why (exit 2)
    if (o->dry_run || mem_rc != 0) {
        free(todo);
        return mem_rc;
    }
    // a checkpoint to resume from must be complete and of this experiment, and a warm start's saved
    // model must exist and fit every point it is used by: both checked before any work (exit 2)
    for (long k = 0; k < ntodo && !o->force; k++) {
        Config c, saved;
        experiment_point(ex, todo[k], &c);
        experiment_run_id(ex, todo[k], id, sizeof id);
        path_join(run_dir, sizeof run_dir, dir, id);
        char found[IO_DEEP_PATH_MAX], err[IO_MSG_MAX];
        int resume = train_resume_check(run_dir, &c, &saved, found, sizeof found, err, sizeof err);
        if (resume == 0) continue;  // nothing to resume
        int bad = resume < 0;
        Model m;
        int step;
        if (!bad && ckpt_open_model(found, 1, &saved, &m, &step, err, sizeof err) != 0) bad = 1;
        else if (!bad) model_free(&m);
        if (bad) {
            fprintf(stderr, "moesim: cannot resume %s: %s\n", id, err);
            free(todo);
            return 2;
        }
    }
    for (long k = 0; k < ntodo; k++) {
        Config c, saved;
        experiment_point(ex, todo[k], &c);
        if (!c.train_init_from[0]) continue;
        char found[IO_DEEP_PATH_MAX], err[IO_MSG_MAX];
        if (train_init_from_check(&c, &saved, found, sizeof found, err, sizeof err) != 0) {
            fprintf(stderr, "moesim: train.init_from: %s\n", err);
            free(todo);
            return 2;
        }
    }
    if (mkdir_p(dir) != 0 || write_experiment_toml(ex, dir) != 0) {
        fprintf(stderr, "moesim: cannot write into %s: %s\n", dir, strerror(errno));
        free(todo);
        return 1;
    }
    if (!o->quiet && ntodo < nmine)
        fprintf(stderr, "moesim: %ld of %ld runs already done in %s (use --force to redo them)\n", nmine - ntodo, nmine, dir);
    train_stop_signal = 0;
    install_stop_handlers();
    long ok = 0;
    int failed = 0, diverged = 0, interrupted = 0;
    if (jobs == 1) {
        for (long k = 0; k < ntodo && !train_stop_signal; k++) {
            int rc = run_point(ex, todo[k], dir, threads, o->quiet, isatty(STDERR_FILENO), o->force, k + 1, ntodo);
            ok += rc == 0; failed += rc == 1; diverged += rc == 2; interrupted += rc == 3;
        }
    } else {
        // at most `jobs` child processes at a time, each running one point; a signal stops the
        // launching, is passed on to the children (on_stop_signal), and the parent waits for them
        long next = 0;
        int running = 0;
        fflush(NULL);
        while ((next < ntodo && !train_stop_signal) || running > 0) {
            if (next < ntodo && running < jobs && !train_stop_signal) {
                int slot = 0;
                while (children[slot] > 0) slot++;
                pid_t pid = fork();
                // parallel runs print plain lines: in-place updates from several processes would clash
                if (pid == 0) {
                    memset(children, 0, sizeof children);
                    _exit(run_point(ex, todo[next], dir, threads, o->quiet, 0, o->force, next + 1, ntodo));
                }
                if (pid < 0) { fprintf(stderr, "moesim: fork failed: %s\n", strerror(errno)); failed++; next++; continue; }
                children[slot] = pid;
                next++;
                running++;
                continue;
            }
            int st;
            pid_t pid = wait(&st);
            if (pid < 0) {
                if (errno == EINTR) continue;  // a signal: the loop now only waits
                break;
            }
            for (int i = 0; i < SWEEP_MAX_JOBS; i++)
                if (children[i] == pid) children[i] = 0;
            running--;
            int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
            ok += rc == 0; failed += rc == 1; diverged += rc == 2; interrupted += rc == 3;
        }
    }
    free(todo);
    long not_started = ntodo - ok - failed - diverged - interrupted;
    if (!o->quiet) {
        fprintf(stderr, "moesim: %ld run%s in this call: %ld ok, %d diverged, %d failed", ntodo, ntodo == 1 ? "" : "s", ok,
                diverged, failed);
        if (interrupted || not_started) fprintf(stderr, ", %d interrupted, %ld not started", interrupted, not_started);
        fputc('\n', stderr);
    }
    if (train_stop_signal) return 128 + (int)train_stop_signal;
    // the summary is a result file like the runs' own: its failure fails the call but is not a run
    int files_failed = 0;
    if (sweep_write_summary(ex, dir) != 0) {
        fprintf(stderr, "moesim: cannot write %s/summary.csv: %s\n", dir, strerror(errno));
        files_failed = 1;
    }
    return failed || files_failed ? 1 : 0;
}
