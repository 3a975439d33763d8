// config.h — configuration and experiments on top of the schema (sim/config/schema.h): defaults,
// strict loading of experiment files (include, [sweep], --set), cross-field checks, sweep points
// and run ids, shards, and the resolved-config dumps (TOML, JSON), `moesim help` and the docs
// table. Everything is generated from MOESIM_SCHEMA; no key is known here by hand except in the
// cross-field checks, which name their keys through the CFGK_* indices.
//
// Errors. Nothing here prints or exits. Every problem becomes one line in a CfgErrors list,
// formatted `FILE:LINE: message` (`--set: message` for command-line overrides), and the loading
// call returns how many it found, all of a file at once. The caller prints them and exits with
// status 2 before creating anything. Messages name the key, what was expected and what was found:
//   exp.toml:7: unknown key 'model.topk' (did you mean 'model.top_k'?)
//   exp.toml:9: model.top_k: expected an integer in [1, 64], found 100
//   exp.toml:9: model.top_k = 9 must be at most model.experts = 8
//   exp.toml:12: point 'experts=4-seed=1': model.top_k = 6 must be at most model.experts = 4
// docs/EXPERIMENTS.md documents the file format and lists every message kind.
#ifndef MOESIM_CONFIG_H
#define MOESIM_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "schema.h"

// ---- the schema as a table --------------------------------------------------------------------

// Key indices, in schema order: CFGK_model_top_k, ...
enum {
#define CFG_ENUM(key, field, type, def, lo, hi, choices, help) CFGK_##field,
    MOESIM_SCHEMA(CFG_ENUM)
#undef CFG_ENUM
    CFG_NKEYS
};

typedef enum { CFG_INT, CFG_REAL, CFG_BOOL, CFG_CHOICE, CFG_STR, CFG_REALS, CFG_STRS } CfgType;

// The longest value config_format_value writes (a STRS key's strings, each quoted with every byte
// escaped as \uXXXX at worst), NUL included.
#define CFG_VALUE_MAX (CFG_STRS_MAX * (CFG_STR_MAX * 6 + 4) + 16)

typedef struct {
    const char *key;      // "model.top_k"
    CfgType type;
    const char *def;      // default, in TOML syntax
    double lo, hi;        // inclusive range (INT, REAL, REALS elements)
    const char *choices;  // "a|b|c" (CHOICE), else NULL
    const char *help;
    size_t offset;        // of the field in Config
} CfgKey;

extern const CfgKey cfg_keys[CFG_NKEYS];

// Index of a key ("model.top_k"), or -1.
int config_find(const char *key);
// Number of choices of a CHOICE key (0 for other keys).
int config_choice_count(int key);
// Writes the name of choice `index` of a CHOICE key into buf; returns buf, or NULL if out of range.
const char *config_choice_name(int key, int index, char *buf, size_t cap);
// Index of a choice name of a CHOICE key, or -1.
int config_choice_index(int key, const char *name);
// Writes a key's value: toml = 1 in TOML syntax (strings quoted, reals always with '.' or 'e',
// arrays in brackets); toml = 0 plain (no quotes; for CSV cells and labels). Reals use the
// shortest form that reads back to the same double. Returns snprintf's count.
int config_format_value(const Config *c, int key, int toml, char *buf, size_t cap);

// ---- single configurations --------------------------------------------------------------------

// Every key's default, each parsed by the same code as a file's value. Returns the number of
// defaults that failed to parse or to pass their own range (0 unless the schema is broken).
int config_defaults(Config *c);
// Sets one key from TOML value text ("2", "\"micro\"", "[0.1, 0.2]"), with the type and range
// checks of a file. Returns 0, or -1 with a message `key: expected ..., found ...` in err.
int config_set(Config *c, const char *key, const char *value, char *err, size_t errlen);
// 1 if every key has the same value (strings compared as strings, arrays element-wise).
int config_equal(const Config *a, const Config *b);

// Error lines collected by the loaders. n counts every error; the first CFG_ERRORS_MAX are kept.
#define CFG_ERRORS_MAX 64
#define CFG_ERROR_LEN 1024
typedef struct {
    int n;
    char msg[CFG_ERRORS_MAX][CFG_ERROR_LEN];
} CfgErrors;
// Prints the kept lines, then "... and N more errors" if some were only counted.
void cfg_errors_print(const CfgErrors *e, FILE *f);

// The cross-field checks alone (the loaders run them on every sweep point). Each failure adds a
// line "where: message" (just the message if where is NULL). Returns the number of failures.
int config_validate(const Config *c, const char *where, CfgErrors *e);

// eval.prune_on: "sequence:<i>" (*domain = 0) or "domain:<d>" (*domain = 1), i, d whole numbers
// >= 0 written in decimal without sign or spaces. Returns 0, or -1 if the text is not of that form.
int config_prune_on(const char *s, int *domain, int *index);

// ---- dumps and help ---------------------------------------------------------------------------

// The resolved configuration as TOML, one [table] per schema table in schema order; loading it
// back gives an equal Config.
void config_write_toml(FILE *f, const Config *c);
// (The same as JSON: json_config in evaluate/evaluate.h, since config/ writes no JSON.)
// `moesim help`: every key with its type, default, range or choices, and help text.
void config_print_help(FILE *f);
// The key table of docs/EXPERIMENTS.md (Markdown), generated so the docs cannot drift.
void config_write_markdown(FILE *f);

// ---- experiments: a file, its includes, its [sweep], and --set overrides ----------------------

#define CFG_PATH_MAX 512
#define CFG_INCLUDE_DEPTH 8        // files in an include chain, the experiment itself included
#define CFG_SWEEP_KEYS_MAX 16
#define CFG_SWEEP_VALUES_MAX 64
#define CFG_POINTS_MAX 100000
#define CFG_RUN_ID_MAX 200         // characters of a run id (a directory name)

// Where a key's value came from: src is an index into Experiment.files, or one of these.
enum { CFG_SRC_DEFAULT = -1, CFG_SRC_SET = -2 };
typedef struct {
    int src, line;
    int seq;  // order of assignment: the highest among a check's keys locates its error
} CfgOrigin;

// One swept key: its values in file order (INT and REAL as numbers, BOOL 0/1, CHOICE the index).
typedef struct {
    int key;
    int n;
    double v[CFG_SWEEP_VALUES_MAX];
    CfgOrigin at[CFG_SWEEP_VALUES_MAX];
    char label[64];  // its name in run ids: the key's last part, or the whole key if two collide
    int src;         // file that defined the axis
} SweepAxis;

typedef struct {
    char path[CFG_PATH_MAX];        // the experiment file as given
    Config base;                    // defaults + includes + file + --set; swept keys not applied
    CfgOrigin origin[CFG_NKEYS];
    int naxes;
    SweepAxis axes[CFG_SWEEP_KEYS_MAX];
    long npoints;                   // product of the axes' sizes (1 without [sweep])
    int nfiles;
    char files[CFG_INCLUDE_DEPTH][CFG_PATH_MAX];  // [0] the experiment, then its includes
} Experiment;

// Loads an experiment file: defaults, the file (with its include chain), then each "key=value" of
// sets in order (--set; a set key also leaves the sweep). Then checks every sweep point. An empty
// experiment.name becomes the file's name without ".toml". Returns the number of errors added
// to e; the Experiment is usable only when that is 0.
int experiment_load(Experiment *ex, const char *path, const char *const *sets, int nsets, CfgErrors *e);
// The same for text in memory; `name` stands for the file in messages. include is an error here.
int experiment_load_buffer(Experiment *ex, const char *name, const char *buf, size_t len,
                           const char *const *sets, int nsets, CfgErrors *e);

// Point i (0 <= i < npoints) of the grid: the first swept key varies slowest.
void experiment_point(const Experiment *ex, long i, Config *out);
// Its run id, e.g. "scope=micro-seed=2" ("run" without a sweep). Needs CFG_RUN_ID_MAX + 1 bytes.
void experiment_run_id(const Experiment *ex, long i, char *buf, size_t cap);
// Where point i's value of key came from (for messages).
CfgOrigin experiment_origin(const Experiment *ex, long i, int key);

// --shard I/N: parses "I/N" (1 <= I <= N). Returns 0, or -1 with a message in err.
int experiment_shard_parse(const char *s, int *index, int *count, char *err, size_t errlen);
// Point i belongs to shard I of N when i mod N == I - 1; the shards are disjoint and cover all.
int experiment_in_shard(long i, int index, int count);

#endif
