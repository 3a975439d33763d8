// sweep.h — running an experiment's points: output folders, resume (a run is done only when its
// manifest says ok and records the hash of the point's config), parallel processes (-j), shards
// (--shard I/N), the folder's lock and record, the summary.
#ifndef MOESIM_SWEEP_H
#define MOESIM_SWEEP_H

#include "../config/config.h"

typedef struct {
    const char *out_dir;   // NULL: results/<experiment.name>
    int jobs;              // parallel runs (processes); OpenMP threads are divided among them
    int shard_index, shard_count;  // run only points i with i mod count == index - 1
    int force;             // redo finished runs too, whatever config they ran with, and take over a
                           // folder of another experiment
    int dry_run;           // list the points and their folders, run nothing
    int quiet;             // no progress output
    double max_memory;     // --max-memory in bytes (0: none): runs whose estimate exceeds it are refused
} SweepOptions;

// Runs every selected point, then rebuilds summary.csv from what is on disk (main.c builds the
// report). Returns the process exit status: 0, 1 if any run failed (diverged runs are results,
// not failures), 2 when it refused before any work (bad input, runs over --max-memory or the
// available memory (memory.h), a folder of another experiment, a
// finished run or a checkpoint of another config, a folder locked by another process), 128 + the
// signal when stopped, or SWEEP_NOTHING_RUN when it failed before any run (a folder or a file it
// cannot write, out of memory: exit 1, with no report to build and no results to show). The
// folder's lock (lock.h) is taken here and held until the process exits, so the report main.c
// builds afterwards is written under it too.
#define SWEEP_NOTHING_RUN (-1)
int sweep_run(const Experiment *ex, const SweepOptions *o);

// Rebuilds DIR/summary.csv from the run folders listed by the experiment (points without a
// manifest are left out). Returns 0 or -1.
int sweep_write_summary(const Experiment *ex, const char *dir);

// The folder of an experiment's results.
void sweep_out_dir(const Experiment *ex, const SweepOptions *o, char *buf, size_t cap);

// A run folder against the config c of its point: done (manifest "ok" with c's config hash),
// changed (a finished run, or a checkpoint, of another config: why names the first keys that
// differ, "key = A there, B now"), or to do (nothing there, or unfinished: resumed from its
// checkpoint when there is one).
enum { RUN_STATE_TODO, RUN_STATE_DONE, RUN_STATE_CHANGED };
int run_state(const char *run_dir, const Config *c, char *why, size_t cap);

#endif
