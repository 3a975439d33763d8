// config_internal.h — what the files of sim/config/ share among themselves (not part of config.h's
// interface): the table helpers and value parsing (values.c), the error list and the checks
// (checks.c), and the loading context (load.c) that sweep expansion (points.c) reports into.
#ifndef MOESIM_CONFIG_INTERNAL_H
#define MOESIM_CONFIG_INTERNAL_H

#include <sys/types.h>
#include "config.h"
#include "toml.h"

// A key's field inside a Config, typed.
#define FIELD(c, k, T) ((T *)((char *)(c) + cfg_keys[k].offset))
#define CFIELD(c, k, T) ((const T *)((const char *)(c) + cfg_keys[k].offset))

// ---- values.c: the table and typed values ----
const char *last_part(const char *key);          // "model.top_k" -> "top_k"
size_t table_len(const char *key);               // length of the table part ("model")
int first_of_table(int k);                       // 1 if key k is the first of its table
int same_table(int a, int b);
int table_known(const char *name);               // 1 if some key lives in table `name`
void fmt_real_short(double v, char *buf, size_t cap);  // shortest form, for run ids
const char *shown(const char *text, char *buf, size_t cap);  // text cut for a message
void store_number(Config *c, int k, double v);   // INT/REAL/BOOL/CHOICE value into its field
int scalar_number(int k, const TomlScalar *s, const char *kname, double *out, char *err, size_t cap);
int set_value(Config *c, int k, const TomlValue *v, const char *kname, char *err, size_t cap);

// ---- checks.c: errors and cross-field checks ----
void err_add(CfgErrors *e, const char *fmt, ...);
// A failed check calls fail with the keys it involves (their values are in the message); the
// caller locates the error at the most recently assigned of them.
typedef void (*FailFn)(void *u, const int *keys, int nkeys, const char *msg);
// Runs every cross-field check on c; each failure calls fail. Returns the number of failures.
int run_checks(const Config *c, FailFn fail, void *u);

// ---- load.c: the loading context ----
typedef struct {
    Experiment *ex;
    CfgErrors *e;
    int nerr;                       // errors added by this load
    int seq;                        // assignments so far (CfgOrigin.seq)
    int allow_include;
    unsigned char bad[CFG_NKEYS];   // the last assignment of the key failed: skip its checks
} Ctx;

enum { T_KNOWN, T_UNKNOWN, T_SWEEP };

// One file being loaded (or one --set argument, src CFG_SRC_SET).
typedef struct File {
    Ctx *x;
    int src;
    int has_id;                     // dev/ino identify the file, for cycle detection
    dev_t dev;
    ino_t ino;
    const struct File *parent;      // the file that includes this one
    int depth;
    int seen;                       // a table or key came first (include must be first)
    int table;                      // T_* of the current [table]
    int set_line[CFG_NKEYS];        // line where this file sets the key (0: it does not)
    int swept_line[CFG_NKEYS];      // line where this file sweeps it
} File;

// Adds an error located at file src, line (or --set / defaults) and counts it in x->nerr.
void lerr(Ctx *x, int src, int line, const char *fmt, ...);
int axis_of(const Experiment *ex, int k);        // the sweep axis of key k, or -1

// ---- points.c: sweep expansion, run once the file, its includes and --set are read ----
void finish_axes(Ctx *x);                        // labels, point count, run-id length
void check_points(Ctx *x);                       // the cross-field checks on every point

#endif
