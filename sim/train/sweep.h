// sweep.h — running an experiment's points: output folders, resume (a run is done only when its
// manifest says ok), parallel processes (-j), shards (--shard I/N), the summary and the report.
#ifndef MOESIM_SWEEP_H
#define MOESIM_SWEEP_H

#include "../config/config.h"

typedef struct {
    const char *out_dir;   // NULL: results/<experiment.name>
    int jobs;              // parallel runs (processes); OpenMP threads are divided among them
    int shard_index, shard_count;  // run only points i with i mod count == index - 1
    int force;             // redo finished runs too
    int dry_run;           // list the points and their folders, run nothing
    int quiet;             // no progress output
    double max_memory;     // --max-memory in bytes (0: none): runs whose estimate exceeds it are refused
} SweepOptions;

// Runs every selected point, then rebuilds summary.csv and the report from what is on disk.
// Before any work, every run to do is estimated (memory.h); over --max-memory or the available
// memory nothing runs. Returns the process exit status: 0, 2 when refused before any work, or 1
// if any run failed (diverged runs are results, not failures).
int sweep_run(const Experiment *ex, const SweepOptions *o);

// Rebuilds DIR/summary.csv from the run folders listed by the experiment (points without a
// manifest are left out). Returns 0 or -1.
int sweep_write_summary(const Experiment *ex, const char *dir);

// The folder of an experiment's results.
void sweep_out_dir(const Experiment *ex, const SweepOptions *o, char *buf, size_t cap);

// Status of a run folder: 1 if its manifest.json says "ok", 0 otherwise.
int run_is_done(const char *run_dir);

#endif
