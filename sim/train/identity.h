// identity.h — what a result belongs to. A run belongs to its resolved configuration: its
// config hash is the 64-bit FNV-1a (io_hash_bytes) of the text config_write_toml writes for it,
// byte for byte the run's config.toml, so `manifest.json`'s "config_hash" can be checked against
// that file by anyone. An experiment folder belongs to a resolved experiment: its base
// configuration (experiment.toml's text) and its grid (each swept key with its values), recorded
// in experiment.json beside experiment.toml with the file it was made from.
#ifndef MOESIM_IDENTITY_H
#define MOESIM_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include "../config/config.h"

// The hash of c's config.toml text, as 16 hex digits (out holds 17 bytes). Returns 0, or -1 when
// out of memory.
int config_hash_hex(const Config *c, char out[17]);

// The keys whose values differ between a (was) and b (now), as "key = A there, B now" joined by
// "; ", at most max keys then "(and N more)". Returns the number of differing keys.
int config_diff(const Config *a, const Config *b, int max, char *out, size_t cap);

// The grid of an experiment: each swept key as `key = [v1, v2]` (values in TOML syntax), in sweep
// order, joined by "; " ("" without a sweep).
void experiment_grid_text(const Experiment *ex, char *out, size_t cap);

// The record of an experiment folder (experiment.json).
typedef struct {
    char source[CFG_PATH_MAX];   // the experiment file as given
    char source_hash[17];        // the hash of its bytes
    char set[2048];              // the --set overrides, "key=value" joined by " "
    char grid[4096];             // experiment_grid_text
    char hash[17];               // the resolved experiment: base config.toml text + grid
} ExperimentRecord;

// The record of ex. Returns 0, or -1 (out of memory).
int experiment_record(const Experiment *ex, ExperimentRecord *r);
// Reads DIR/experiment.json: 1 read, 0 absent, -1 unreadable (err says why).
int experiment_record_read(const char *dir, ExperimentRecord *r, char *err, size_t errlen);
// Writes DIR/experiment.json atomically. Returns 0, or -1 with errno.
int experiment_record_write(const char *dir, const ExperimentRecord *r);

#endif
