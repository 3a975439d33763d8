// sweep.c — the grid of an experiment, run point by point (or in parallel processes), resumable.
// A run is done only when its manifest.json says "ok" AND its "config_hash" equals the hash of
// the point's resolved config (identity.h); anything else unfinished is redone, from its
// checkpoint when there is one, so killing the process at any moment and running again gives the
// results of an uninterrupted run. Before any work, every point of this call is checked: a
// finished run, or a checkpoint, of another configuration stops the command (exit 2, naming the
// keys that differ) unless --force; so does a folder whose experiment.json records another
// experiment (another file's config, another grid, other --set values). One process writes into
// a folder at a time (lock.h; the shards of one grid side by side). -j children stop with their
// parent; a child killed by a signal is named, and keeps a "failed" manifest and summary row.
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#include "sweep.h"
#include "identity.h"
#include "lock.h"
#include "../io.h"
#include "../measure/metrics.h"
#include "../models/checkpoint.h"
#include "../models/spec.h"
#include "memory.h"
#include "train.h"

void sweep_out_dir(const Experiment *ex, const SweepOptions *o, char *buf, size_t cap) {
    if (o->out_dir) snprintf(buf, cap, "%s", o->out_dir);
    else snprintf(buf, cap, "results/%s", ex->base.experiment_name);
}

// The config hash a finished run records: its manifest's "config_hash", or, in a manifest written
// before it was recorded, the hash of the run's config.toml (the same thing). "" when neither.
static void recorded_hash(const char *run_dir, const char *json, char out[17]) {
    char p[IO_DEEP_PATH_MAX];
    uint64_t h = IO_HASH_INIT;
    out[0] = '\0';
    if (json_field(json, "config_hash", out, 17)) return;
    if (io_hash_file(path_join(p, sizeof p, run_dir, "config.toml"), &h) == 0) io_hash_hex(h, out);
}

int run_state(const char *run_dir, const Config *c, char *why, size_t cap) {
    char p[IO_DEEP_PATH_MAX], status[64], was[17], now[17], err[IO_MSG_MAX], found[IO_DEEP_PATH_MAX];
    why[0] = '\0';
    if (config_hash_hex(c, now) != 0) return snprintf(why, cap, "out of memory"), RUN_STATE_CHANGED;
    char *json = read_text_file(path_join(p, sizeof p, run_dir, "manifest.json"));
    int ok = json && json_field(json, "status", status, sizeof status) && strcmp(status, "ok") == 0;
    if (ok) recorded_hash(run_dir, json, was);
    free(json);
    Config saved;
    if (ok) {
        if (strcmp(was, now) == 0) return RUN_STATE_DONE;
        // the run's config.toml is the config it ran with: the keys that differ. None differ when
        // the run was made by a moesim with fewer keys (a key added since is at its default, which
        // keeps the old behaviour, so the text and its hash changed but the config did not); that
        // counts only while config.toml is the file the run wrote (its bytes still hash to `was`).
        if (ckpt_read_config(run_dir, &saved, err, sizeof err) != 0) {
            snprintf(why, cap, "its config: %s", err);
            return RUN_STATE_CHANGED;
        }
        if (config_diff(&saved, c, 3, why, cap) > 0) return RUN_STATE_CHANGED;
        uint64_t h;
        char file_hash[17] = "";
        if (io_hash_file(path_join(p, sizeof p, run_dir, "config.toml"), &h) == 0) io_hash_hex(h, file_hash);
        if (strcmp(file_hash, was) == 0) return RUN_STATE_DONE;
        snprintf(why, cap, "its config.toml was edited after the run (its hash %s is not the recorded %s)",
                 file_hash[0] ? file_hash : "unreadable", was);
        return RUN_STATE_CHANGED;
    }
    // unfinished: a checkpoint of another config must not be resumed either (an unreadable one is
    // train_resume_check's to report)
    if (ckpt_resolve(run_dir, 1, found, sizeof found, err, sizeof err) == 0 &&
        ckpt_read_config(found, &saved, err, sizeof err) == 0 && !config_equal(&saved, c)) {
        char d[IO_MSG_MAX];
        config_diff(&saved, c, 3, d, sizeof d);
        snprintf(why, cap, "its checkpoint %s: %s", found, d);
        return RUN_STATE_CHANGED;
    }
    return RUN_STATE_TODO;
}

// Removes what an interrupted run left behind: temporary files and folders (a checkpoint being
// written when the run was killed), a .prev cut short beside a complete folder, and the old
// manifest. The checkpoint itself stays, so the run
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
    // a .prev whose removal was cut short (a kill after the swap) beside a complete folder: junk
    // that no later write would take away (the complete one is what a reader takes)
    const char *whole[] = {"checkpoint", "model"};
    for (int i = 0; i < 2; i++) {
        char dir[IO_DEEP_PATH_MAX], prev[IO_DEEP_PATH_MAX + 8];
        if (!path_join(dir, sizeof dir, run_dir, whole[i]) || !path_join(p, sizeof p, dir, "state.json") ||
            !file_exists(p))
            continue;
        snprintf(prev, sizeof prev, "%s.prev", dir);
        remove_tree(prev);
    }
}

// Removes the temporary files (NAME.tmp.<pid>) a killed process left in dir: those of a pid that
// is gone. Another shard's process may be writing its own summary or report beside us: a live
// pid's are left alone.
static void remove_dead_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[IO_DEEP_PATH_MAX];
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".tmp."), *digits = t ? t + 5 : NULL;
        if (!digits || !*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 18) continue;
        long pid = atol(digits);
        if (pid > 0 && (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM)) continue;
        if (path_join(p, sizeof p, dir, de->d_name)) remove_tree(p);
    }
    closedir(d);
}

// ---- signals ----------------------------------------------------------------------------------

// The children of a parallel sweep (pid 0: free slot), to pass a signal on, and their points.
#define SWEEP_MAX_JOBS 256
static pid_t children[SWEEP_MAX_JOBS];
static long child_point[SWEEP_MAX_JOBS];

static void on_stop_signal(int sig) {
    train_stop_signal = sig;
    for (int i = 0; i < SWEEP_MAX_JOBS; i++)
        if (children[i] > 0) kill(children[i], sig);
}

// SIGTERM (Slurm's warning before a time limit or preemption), SIGINT (Ctrl-C) and SIGHUP (the
// terminal or the ssh session closed) let the current step finish, write a checkpoint and stop;
// no SA_RESTART, so a parent waiting on children wakes.
static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

// The folder's lock, held until the process exits (sweep.h); a -j child inherits it but never
// removes it, even if it should call exit().
static FolderLock held = {.fd = -1};
static pid_t held_by;
static void release_at_exit(void) {
    if (getpid() == held_by) folder_unlock(&held);
}

// Returns 0, 2 (another process holds it) or 1 (the lock file cannot be written: a full disk).
static int take_lock(const char *dir, int si, int sn) {
    static int registered;
    char note[IO_MSG_MAX], err[IO_MSG_MAX];
    folder_unlock(&held);  // a lock of an earlier call in this process
    int rc = folder_lock(&held, dir, si, sn, note, sizeof note, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "moesim: run: %s\n", err);
        return rc == -2 ? 1 : 2;
    }
    held_by = getpid();
    if (!registered) registered = atexit(release_at_exit) == 0;
    if (note[0]) fprintf(stderr, "moesim: run: %s\n", note);  // even with --quiet: it is no progress line
    return 0;
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
    fprintf(f, ",status,steps_done,loss,ce,eval_ce,tokens_per_s,wall_s,output_logit_norm,output_max_prob");
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
        const char *fields[] = {"status", "steps_done", "final_loss", "final_ce", "eval_ce", "tokens_per_s", "wall_s",
                                "output_logit_norm", "output_max_prob"};
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

// experiment.toml (the resolved base config, for people and for the next call's key-by-key
// comparison) and experiment.json (the folder's record: identity.h)
static int write_experiment_files(const Experiment *ex, const char *dir) {
    char p[IO_CHILD_PATH_MAX];
    ExperimentRecord rec;
    if (experiment_record(ex, &rec) != 0) { errno = ENOMEM; return -1; }
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, dir, "experiment.toml"));
    if (!f) return -1;
    fprintf(f, "# The resolved base configuration of %s (swept keys at their base values).\n", ex->path);
    config_write_toml(f, &ex->base);
    if (afile_commit(&a) != 0) return -1;
    return experiment_record_write(dir, &rec);
}

// Why the folder's record (was) is not this experiment's (now): the files, the grids and the base
// keys that differ (from the folder's experiment.toml). The caller says what it refuses.
static void explain_other_experiment(const Experiment *ex, const char *dir, const ExperimentRecord *was,
                                     const ExperimentRecord *now) {
    fprintf(stderr, "moesim: run: %s holds the results of another experiment (see its experiment.json)\n", dir);
    fprintf(stderr, "  made from:  %s%s%s\n", was->source, was->set[0] ? " --set " : "", was->set);
    fprintf(stderr, "  this call:  %s%s%s\n", now->source, now->set[0] ? " --set " : "", now->set);
    if (strcmp(was->grid, now->grid) != 0) {
        fprintf(stderr, "  its sweep:  %s\n", was->grid[0] ? was->grid : "(none)");
        fprintf(stderr, "  this sweep: %s\n", now->grid[0] ? now->grid : "(none)");
    }
    char p[IO_CHILD_PATH_MAX], d[IO_MSG_MAX];
    Experiment *old = calloc(1, sizeof *old);
    CfgErrors *e = calloc(1, sizeof *e);
    if (old && e && path_join(p, sizeof p, dir, "experiment.toml") && experiment_load(old, p, NULL, 0, e) == 0 &&
        config_diff(&old->base, &ex->base, 5, d, sizeof d) > 0)
        fprintf(stderr, "  keys:       %s\n", d);
    free(old);
    free(e);
}

// The run folders in dir (those with a manifest or a checkpoint) that are no point of ex's grid:
// their number, and the first few names in out ("a, b, c"). A grid that keeps every run the
// folder holds may grow (another seed, another value); one that would drop a run from the summary
// (a pinned swept key, a value taken out, another experiment's grid) may not.
static long runs_outside_grid(const Experiment *ex, const char *dir, char *out, size_t cap) {
    long n = 0;
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    char id[CFG_RUN_ID_MAX + 1], p[IO_DEEP_PATH_MAX], run_dir[IO_CHILD_PATH_MAX];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !path_join(run_dir, sizeof run_dir, dir, de->d_name)) continue;
        if (!file_exists(path_join(p, sizeof p, run_dir, "manifest.json")) &&
            !file_exists(path_join(p, sizeof p, run_dir, "checkpoint")) &&
            !file_exists(path_join(p, sizeof p, run_dir, "checkpoint.prev")))
            continue;
        int in_grid = 0;
        for (long i = 0; i < ex->npoints && !in_grid; i++) {
            experiment_run_id(ex, i, id, sizeof id);
            in_grid = strcmp(id, de->d_name) == 0;
        }
        if (in_grid) continue;
        size_t k = strlen(out), len = strlen(de->d_name);
        if (n < 3 && k + len + 3 < cap) {  // a name that does not fit is left to the count
            if (n) memcpy(out + k, ", ", 2), k += 2;
            memcpy(out + k, de->d_name, len + 1);
        }
        n++;
    }
    closedir(d);
    return n;
}

// The text world's corpus of point i, read whole (world_build) before any work: a missing path, an
// empty or too short domain or a binary file stops the command (exit 2) at the data.corpus line
// of the experiment. *last holds the last corpus read, which a sweep's next point usually shares.
static int check_corpus(const Experiment *ex, long i, const Config *c, Config *last, int *have_last) {
    if (c->data_world != WORLD_TEXT) return 0;
    WorldSpec ws;
    world_spec_from_config(&ws, c);
    if (*have_last) {  // the same corpus as the last point's, read in the same sequence length
        WorldSpec was;
        world_spec_from_config(&was, last);
        if (!memcmp(&ws.corpus, &was.corpus, sizeof ws.corpus) && !memcmp(&ws.exclude, &was.exclude, sizeof ws.exclude) &&
            !strcmp(ws.separator, was.separator) && ws.T == was.T && ws.V == was.V && ws.domains == was.domains)
            return 0;
    }
    World w;
    char msg[IO_MSG_MAX];
    int rc = world_build(&w, &ws, msg, sizeof msg);
    world_free(&w);
    if (rc != 0) {
        CfgOrigin o = experiment_origin(ex, i, CFGK_data_corpus);
        if (o.src >= 0) fprintf(stderr, "moesim: run: %s:%d: %s\n", ex->files[o.src], o.line, msg);
        else fprintf(stderr, "moesim: run: %s%s\n", o.src == CFG_SRC_SET ? "--set: " : "", msg);
        return 2;
    }
    *last = *c;
    *have_last = 1;
    return 0;
}

// Every point of this call against what the folder holds, before any work: the to-do list, and
// with list the --dry-run listing. Returns 0, or 2 after saying why it refuses (1: out of memory).
static int plan(const Experiment *ex, const SweepOptions *o, const char *dir, int si, int sn, int threads, int jobs,
                MemPlan *mem, long *todo, long *ntodo, long *nmine, int list) {
    char id[CFG_RUN_ID_MAX + 1], run_dir[IO_CHILD_PATH_MAX], err[IO_MSG_MAX], why[IO_MSG_MAX];
    ExperimentRecord now, was;
    if (experiment_record(ex, &now) != 0) { fprintf(stderr, "moesim: run: out of memory\n"); return 1; }
    int rec = experiment_record_read(dir, &was, err, sizeof err);
    if (rec < 0 && !o->force) {
        fprintf(stderr, "moesim: run: %s; use another --out, or --force to take the folder over\n", err);
        return 2;
    }
    char outside[256];
    // the folder's own experiment again (a repeat, a resume after a --force that took it over):
    // runs outside its grid are ones its summary already left out
    int same = rec == 1 && strcmp(was.hash, now.hash) == 0;
    long nout = same ? 0 : runs_outside_grid(ex, dir, outside, sizeof outside);
    if (nout > 0 && !o->force) {
        if (rec == 1) explain_other_experiment(ex, dir, &was, &now);
        fprintf(stderr, "moesim: run: %ld run%s in %s %s not in this experiment's grid (%s%s), so the summary "
                        "would lose %s; nothing was run. Use another --out, or --force to take the folder over\n",
                nout, nout == 1 ? "" : "s", dir, nout == 1 ? "is" : "are", outside, nout > 3 ? ", ..." : "",
                nout == 1 ? "it" : "them");
        return 2;
    }
    int other = rec == 1 && strcmp(was.hash, now.hash) != 0;
    long changed = 0;
    *ntodo = *nmine = 0;
    Config *last = malloc(sizeof *last);  // check_corpus's last corpus (a Config is ~20 KB)
    int have_last = 0;
    if (!last) { fprintf(stderr, "moesim: run: out of memory\n"); return 1; }
    memory_plan_begin(mem, jobs, o->max_memory);
    for (long i = 0; i < ex->npoints; i++) {
        int mine = experiment_in_shard(i, si, sn);
        experiment_run_id(ex, i, id, sizeof id);
        if (!path_join(run_dir, sizeof run_dir, dir, id)) {  // the later joins of dir and an id fit
            fprintf(stderr, "moesim: %s: %s\n", run_dir, strerror(ENAMETOOLONG));
            free(last);
            return 2;
        }
        Config c;
        experiment_point(ex, i, &c);
        int st = run_state(run_dir, &c, why, sizeof why);
        if (!mine) {
            // another shard's run: not this call's to do, but one of another config would leave
            // the folder (its record, summary and report) mixed, so it is refused all the same
            if (st == RUN_STATE_CHANGED && !o->force) {
                if (changed < 3) fprintf(stderr, "moesim: run: %s ran with another config: %s\n", run_dir, why);
                changed++;
            }
            continue;
        }
        (*nmine)++;
        char est[32] = "-";
        if (st != RUN_STATE_DONE || o->force) {
            char found[IO_DEEP_PATH_MAX];
            int start = !o->force && ckpt_resolve(run_dir, 1, found, sizeof found, err, sizeof err) == 0 ? MEM_RESUMES
                      : c.train_init_from[0] ? MEM_WARM_START : MEM_FRESH;
            MemEstimate me;
            if (check_corpus(ex, i, &c, last, &have_last) != 0) { free(last); return 2; }
            if (memory_estimate(&c, threads, start, &me, err, sizeof err) != 0) {
                fprintf(stderr, "moesim: %s: %s\n", id, err);
                free(last);
                return 2;
            }
            memory_plan_add(mem, id, &me);
            io_bytes_text(est, sizeof est, me.total);
            todo[(*ntodo)++] = i;
        }
        if (list)
            printf("%-40s %s  %10s  %s\n", id, run_dir, est,
                   o->force ? "to run" : st == RUN_STATE_DONE ? "done" : st == RUN_STATE_CHANGED ? "differs" : "to run");
        if (st == RUN_STATE_CHANGED && !o->force) {
            if (changed < 3) fprintf(stderr, "moesim: run: %s ran with another config: %s\n", run_dir, why);
            changed++;
        }
    }
    free(last);
    if (changed) {
        if (other) explain_other_experiment(ex, dir, &was, &now);
        fprintf(stderr, "moesim: run: %ld run%s in %s %s another config than this experiment's; nothing was run. "
                        "--force redoes %s with this one, or use another --out\n",
                changed, changed == 1 ? "" : "s", dir, changed == 1 ? "has" : "have", changed == 1 ? "it" : "them");
        return 2;
    }
    if (other && strcmp(was.grid, now.grid) != 0 && !o->quiet && !list)
        fprintf(stderr, "moesim: run: %s: the experiment now sweeps %s (was %s); its finished runs are kept\n", dir,
                now.grid[0] ? now.grid : "nothing", was.grid[0] ? was.grid : "nothing");
    return 0;
}

// A checkpoint to resume from and a warm start's saved model are read whole (every file against
// its list, the partial rows, finite arrays) before any work and any folder (exit 2).
static int check_saved_models(const Experiment *ex, const SweepOptions *o, const char *dir, const long *todo, long ntodo) {
    char id[CFG_RUN_ID_MAX + 1], run_dir[IO_CHILD_PATH_MAX];
    for (long k = 0; k < ntodo; k++) {
        Config c;
        char err[IO_MSG_MAX];
        experiment_point(ex, todo[k], &c);
        experiment_run_id(ex, todo[k], id, sizeof id);
        path_join(run_dir, sizeof run_dir, dir, id);
        if (run_check_saved(&c, run_dir, !o->force, err, sizeof err) != 0) {
            fprintf(stderr, "moesim: %s\n", err);
            return 2;
        }
    }
    return 0;
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

// A -j child killed by a signal wrote no manifest: the parent writes a "failed" one naming the
// signal, so the run keeps its row in summary.csv (and is redone, or resumed, by the next call).
static void write_killed_manifest(const Experiment *ex, long i, const char *dir, const char *reason) {
    char id[CFG_RUN_ID_MAX + 1], run_dir[IO_CHILD_PATH_MAX], p[IO_DEEP_PATH_MAX], hash[17] = "", status[IO_SHORT_MSG_MAX + 16];
    experiment_run_id(ex, i, id, sizeof id);
    if (!path_join(run_dir, sizeof run_dir, dir, id) || !path_join(p, sizeof p, run_dir, "manifest.json")) return;
    if (file_exists(p)) return;  // it wrote its own before the signal came
    mkdir_p(run_dir);            // killed before it made its folder: the row is kept all the same
    Config c;
    experiment_point(ex, i, &c);
    config_hash_hex(&c, hash);
    snprintf(status, sizeof status, "failed: %s", reason);
    AtomicFile a;
    FILE *f = afile_open(&a, p);
    if (f) {
        JsonWriter w;
        json_begin(&w, f);
        json_object(&w);
        json_key(&w, "run"); json_str(&w, id);
        json_key(&w, "status"); json_str(&w, status);
        json_key(&w, "reason"); json_str(&w, reason);
        json_key(&w, "config_hash"); json_str(&w, hash);
        json_end(&w);
    }
    if (!f || afile_commit(&a) != 0) fprintf(stderr, "moesim: run: cannot write %s: %s\n", p, strerror(errno));
}

int sweep_run(const Experiment *ex, const SweepOptions *o) {
    char dir[IO_PATH_MAX], id[CFG_RUN_ID_MAX + 1];
    sweep_out_dir(ex, o, dir, sizeof dir);
    int si = o->shard_count > 0 ? o->shard_index : 1, sn = o->shard_count > 0 ? o->shard_count : 1;
    // the work list: this shard's points that are not done (or all of them with --force)
    long *todo = malloc(sizeof(long) * (size_t)(ex->npoints > 0 ? ex->npoints : 1));
    long ntodo = 0, nmine = 0;
    if (!todo) return SWEEP_NOTHING_RUN;
    int jobs = o->jobs > 1 ? o->jobs : 1;
    if (jobs > SWEEP_MAX_JOBS) jobs = SWEEP_MAX_JOBS;
    int threads = 0;
#ifdef _OPENMP
    if (jobs > 1) { threads = omp_get_max_threads() / jobs; if (threads < 1) threads = 1; }
#endif
    // an existing folder is locked before it is read; a new one is made, and locked, only after
    // every check that needs no folder. Every run to do is estimated from its config (memory.h)
    // before anything is allocated, the saved models' checks included.
    MemPlan mem;
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {  // bad input, before any work (a full disk is 1)
        fprintf(stderr, "moesim: run: %s: a file of that name exists (the results are a folder): remove it or give "
                "another --out\n", dir);
        free(todo);
        return 2;
    }
    int existed = file_exists(dir), rc = 0;
    if (!o->dry_run && existed) rc = take_lock(dir, si, sn);
    if (rc == 0) rc = plan(ex, o, dir, si, sn, threads, jobs, &mem, todo, &ntodo, &nmine, o->dry_run);
    if (o->dry_run && rc == 0) printf("%ld points (%ld in this shard), %ld to run, results in %s\n", ex->npoints, nmine, ntodo, dir);
    if (rc == 0) rc = memory_plan_check(&mem, o->dry_run, stdout);  // 2: over the limit, said why
    if (o->dry_run) {
        free(todo);
        return rc;
    }
    if (rc == 0) rc = check_saved_models(ex, o, dir, todo, ntodo);
    if (rc == 0 && !existed) {
        if (mkdir_p(dir) != 0) {
            fprintf(stderr, "moesim: cannot create %s: %s\n", dir, strerror(errno));
            rc = errno == ENOTDIR || errno == EEXIST ? 2 : 1;  // a file in the way is the --out's fault
        } else if ((rc = take_lock(dir, si, sn)) == 0) {
            rc = plan(ex, o, dir, si, sn, threads, jobs, &mem, todo, &ntodo, &nmine, 0);  // another process may have made it meanwhile
        }
    }
    if (rc != 0) {
        free(todo);
        return rc == 1 ? SWEEP_NOTHING_RUN : rc;  // 1: a failure before any run (a full disk...)
    }
    // the summary's, the report's and the plots' temporary files of a killed call (the report's
    // writers use the same NAME.tmp.<pid>)
    char plots[IO_CHILD_PATH_MAX];
    remove_dead_tmp(dir);
    if (path_join(plots, sizeof plots, dir, "plots")) remove_dead_tmp(plots);
    if (write_experiment_files(ex, dir) != 0) {
        fprintf(stderr, "moesim: cannot write into %s: %s\n", dir, strerror(errno));
        free(todo);
        return SWEEP_NOTHING_RUN;
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
        pid_t parent = getpid();
        fflush(NULL);
        while ((next < ntodo && !train_stop_signal) || running > 0) {
            if (next < ntodo && running < jobs && !train_stop_signal) {
                int slot = 0;
                while (children[slot] > 0) slot++;
                pid_t pid = fork();
                // parallel runs print plain lines: in-place updates from several processes would clash
                if (pid == 0) {
                    memset(children, 0, sizeof children);
                    // a child stops (checkpoint, exit) when its parent dies, as on SIGTERM; the
                    // getppid() check covers a parent that died before prctl
#ifdef __linux__
                    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
                    if (getppid() != parent) _exit(3);
                    folder_lock_child(&held);
                    _exit(run_point(ex, todo[next], dir, threads, o->quiet, 0, o->force, next + 1, ntodo));
                }
                if (pid < 0) { fprintf(stderr, "moesim: fork failed: %s\n", strerror(errno)); failed++; next++; continue; }
                children[slot] = pid;
                child_point[slot] = todo[next];
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
            long point = -1;
            for (int i = 0; i < SWEEP_MAX_JOBS; i++)
                if (children[i] == pid) { children[i] = 0; point = child_point[i]; }
            running--;
            int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
            if (WIFSIGNALED(st) && point >= 0) {
                // said even with --quiet: a failure is not progress
                char reason[IO_SHORT_MSG_MAX];
                int sig = WTERMSIG(st);
                snprintf(reason, sizeof reason, "killed by signal %d (%s)", sig, strsignal(sig));
                experiment_run_id(ex, point, id, sizeof id);
                fprintf(stderr, "moesim: run: %s: %s\n", id, reason);
                write_killed_manifest(ex, point, dir, reason);
            }
            if (rc == 3 && !train_stop_signal && point >= 0) {
                // a signal to this child alone (not to the sweep): the run is not done, so neither
                // is the call; said even with --quiet
                experiment_run_id(ex, point, id, sizeof id);
                fprintf(stderr, "moesim: run: %s: interrupted by a signal to its process; it resumes from its "
                        "checkpoint when the same command is run again\n", id);
            }
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
    return failed || interrupted || files_failed ? 1 : 0;
}
