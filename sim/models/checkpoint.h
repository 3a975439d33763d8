// checkpoint.h — trained models that outlive their run: the final model (<run>/model/), the
// checkpoints a run writes every train.checkpoint_every steps (<run>/checkpoint/), resuming from
// one, and warm starts (train.init_from). One folder format serves all three:
//
//   DIR/state.json                  "format": "moesim-checkpoint-2", "kind": "model" | "checkpoint",
//                                   "step", "optimizer_t", the batch stream's RNG state, the
//                                   parameter list with shapes, and "files": every other file of
//                                   the folder with its size in bytes and 64-bit FNV-1a checksum
//                                   ("fnv1a64", io_hash_hex), .npy files with dtype and shape;
//                                   a text world's model also "corpus", its domains' content hashes
//   DIR/config.toml                 the run's resolved config (what rebuilds the model)
//   DIR/params/<name>.npy           every parameter, float32, named as `moesim export` names them
//   DIR/state/blocks.<l>.bias.npy   the aux-free selection bias of layer l (float32, E)
//   DIR/optim/{m,v,mom}/<name>.npy  the AdamW moments and the Muon momentum (those the optimizer
//                                   has), so a warm start can continue the optimizer
//   DIR/partial/<file>.csv          checkpoints only: the result rows written so far
//                                   (metrics, layers, eval, experts), so a resumed run's files are
//                                   byte-identical to those of an uninterrupted run
//
// Reading checks the whole folder before anything is loaded (ckpt_read): state.json's parameter
// list against the model built from the config, every file against the list (missing, unknown,
// size, shape, dtype, checksum), every array finite, and, asked, the partial CSVs against their
// rules (header, field counts, the rows' steps up to the checkpoint's step). A folder of the
// earlier format "moesim-checkpoint-1" has no file list: it is read with a warning on stderr that
// its files cannot be verified (the other checks still apply).
//
// Writing is atomic: everything goes into DIR.tmp.<pid>, then the old DIR is renamed to DIR.prev,
// the new one to DIR, and DIR.prev is removed. A kill at any instant leaves DIR or DIR.prev
// complete, and the readers take DIR.prev when DIR is missing.
#ifndef MOESIM_CHECKPOINT_H
#define MOESIM_CHECKPOINT_H

#include <stddef.h>
#include "../config/config.h"
#include "../../nn/model.h"
#include "../../optim/optim.h"

// Shape of a table entry as numpy sees it ([count,] rows, cols; gains are vectors): the shape of
// params/<name>.npy here and in `moesim export`. Returns the number of dimensions.
int param_npy_shape(const ParamInfo *p, size_t *shape);

#define CKPT_NPARTIAL 4
extern const char *const ckpt_partial_names[CKPT_NPARTIAL];  // metrics.csv layers.csv eval.csv experts.csv

// What a checkpoint holds besides the model. Any pointer may be NULL (the final model has no
// partial files; an evaluation needs no optimizer).
typedef struct {
    int step;                               // steps done
    const Optimizer *optim;                 // moments / momentum and t
    const Rng *batch_rng;                   // the RNG state of the training batches (BatchSource.rng)
    const char *partial[CKPT_NPARTIAL];     // paths of the result files written so far, or NULL
    const char *corpus;                     // the text world's corpus record ("name:hash ...",
                                            // text_corpus_record), kept as state.json's "corpus";
                                            // NULL or "": none (every other world)
} CkptWrite;

// Writes DIR (kind "checkpoint" when w->partial[0] is set, else "model") atomically. Returns 0,
// or -1 with err naming the file and the system's reason.
int ckpt_write(const char *dir, const Config *c, const Model *m, const CkptWrite *w, char *err, size_t errlen);

// Resolves what PATH names: a model or checkpoint folder (has state.json, or its .prev does), or a
// run folder (its model/, else its checkpoint/; prefer_checkpoint swaps the order). Writes the
// folder into out. Returns 0, or -1 with err saying what is missing where.
int ckpt_resolve(const char *path, int prefer_checkpoint, char *out, size_t cap, char *err, size_t errlen);

// Reads DIR/config.toml into c (the saved run's resolved config). Returns 0, or -1 with err.
int ckpt_read_config(const char *dir, Config *c, char *err, size_t errlen);

// DIR/state.json's "corpus" record (the text world's domains and content hashes) into out; ""
// when the folder has none. Returns 0, or -1 with err when state.json cannot be read.
#define CKPT_CORPUS_MAX (CFG_STRS_MAX * 82 + 1)  // a record: up to 32 domains of "name:16 hex digits "
int ckpt_read_corpus(const char *dir, char *out, size_t cap, char *err, size_t errlen);

// Checks that the model of the saved config `saved` has the shapes of `want`: every key that sizes
// a tensor (model.kind, vocab, d_model, layers, heads, attention, experts, top_k, d_ff, seq_len,
// shared_experts). Returns 0, or -1 with err naming the key and both values.
int ckpt_check_shapes(const Config *saved, const Config *want, const char *dir, char *err, size_t errlen);

// What a partial CSV must hold at a checkpoint of step S (the writers' rule, ckpt_partial_rules in
// train/): the header line exactly; then blocks of rows, one block for each of the steps first,
// first + every, ... that are <= S (every = 0: the block of `first` only, when first <= S); each
// block's rows numbered by the key columns after the step (nkeys columns counting 0..radix[k]-1,
// the last fastest); every row has as many fields as the header.
typedef struct {
    char *header;   // without the newline
    int first, every;
    int nkeys;
    int radix[3];
} CkptCsvRule;

// (partial_csv.c) Checks the partial CSV at path (its text `text`, NUL-terminated) against rule for
// a checkpoint of step `step`. Returns 0, or -1 with err naming the file, the line and what differs.
int ckpt_check_csv(const char *path, const char *text, const CkptCsvRule *rule, int step, char *err, size_t errlen);

// Why a folder is read: the advice in the messages depends on it.
typedef enum {
    CKPT_FOR_MODEL = 0,    // eval, generate, compare --route-with
    CKPT_FOR_RESUME,       // a run continuing from its own checkpoint
    CKPT_FOR_WARM_START,   // train.init_from
} CkptPurpose;

// What to read back.
typedef struct {
    Optimizer *optim;        // NULL: leave the optimizer as it is
    Rng *batch_rng;          // the training batches' RNG (BatchSource.rng); NULL: leave it as it is
    int *step;               // NULL: not needed
    // partial result files: each is copied into the matching FILE* (NULL: skip)
    FILE *partial[CKPT_NPARTIAL];
    // the rules of the partial CSVs (CKPT_NPARTIAL of them; NULL: not checked); given, the folder
    // must be a checkpoint and each partial file must follow its rule
    const CkptCsvRule *partial_rules;
    CkptPurpose purpose;
} CkptRead;

// Reads DIR into a model already built with the saved config's shapes (params and biases), and
// what r asks for. The whole folder is checked first (see the top of this file: the parameter list,
// every listed file, finite arrays, the partial rules), then the model is touched. Returns 0, or
// -1 with err naming the file and what is wrong.
int ckpt_read(const char *dir, Model *m, const CkptRead *r, char *err, size_t errlen);

// Convenience for eval and generate: resolves PATH, reads its config, builds the model from it and
// loads the weights. *c receives the saved config, *step the model's step. Returns 0, or -1 with
// err (nothing is left allocated).
int ckpt_open_model(const char *path, int prefer_checkpoint, Config *c, Model *m, int *step, char *err,
                    size_t errlen);

#endif
