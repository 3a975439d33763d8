// checkpoint_internal.h — what checkpoint.c and file_list.c share: the format's names, the files a
// folder holds, and the checks of state.json's lists.
#ifndef MOESIM_CHECKPOINT_INTERNAL_H
#define MOESIM_CHECKPOINT_INTERNAL_H

#include <errno.h>
#include <string.h>
#include "checkpoint.h"
#include "../io.h"

#define CKPT_FORMAT "moesim-checkpoint-2"
// the format before the file list (2026-12-06, issue #21): read with a warning, unverified
#define CKPT_FORMAT_1 "moesim-checkpoint-1"
// a file's name inside the folder ("params/<tensor>.npy", "optim/m/<tensor>.npy", ...)
#define CKPT_NAME_MAX 300

// The optimizer arrays a folder may hold: every kind of optimizer state (optim/optim.h), each in
// the subfolder of optim/ its name gives, one file per parameter.
#define OPT_COUNT OPTIM_STATE_KINDS
#define opt_name(k) (optim_state_kinds[k].name)

// One file a folder of this model holds: its name in the folder, and for an array its shape.
typedef struct {
    char name[CKPT_NAME_MAX];
    int npy;          // a float32 .npy array (else a text file)
    int opt;          // the optimizer array it belongs to (OPT_M ...), -1: none
    int listed;       // (check_files) state.json lists it
    int nd;
    size_t shape[3];
} FileSpec;

// The files of a folder of model m, in the order state.json lists them: config.toml, the
// parameters, the optimizer arrays opt[] says it has, the biases, and the partial CSVs. *n gets
// the count; NULL when out of memory.
FileSpec *ckpt_file_specs(const Model *m, const int opt[OPT_COUNT], int partials, int *n);
// The shape of one entry's slice of a state buffer in its .npy file, by the buffer's layout.
int ckpt_state_npy_shape(int which, const ParamInfo *p, size_t *shape);
// "2x3x4" ("(none)" for no dimension).
void ckpt_shape_text(char *out, size_t cap, int nd, const size_t *shape);

// io_fail with the reason errno gives.
static inline int ckpt_fail_errno(char *err, size_t errlen, const char *what, const char *path) {
    return io_fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

// state.json's parameter list against the model's table: the same names and shapes, in order.
// Returns 0, or -1 with err naming what differs.
int ckpt_check_parameters(const char *dir, const char *json, const Model *m, char *err, size_t errlen);
// The files of the folder against state.json's "files" list (every file the model needs listed
// with its dtype and shape, nothing unknown listed or present, every listed file of its size and
// checksum); opt_have[] gets which optimizer arrays the folder holds. Returns 0, or -1 with err.
int ckpt_check_files(const char *dir, const char *json, const Model *m, int checkpoint, int opt_have[OPT_COUNT],
                     char *err, size_t errlen);

#endif
