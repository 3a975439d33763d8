// params.h — the parameter table: every trainable tensor is an entry (name, offset, shape, kind)
// into ONE flat parameter array; gradients and optimizer state use the same offsets in arrays of
// their own (kann's collation, llm.c's size tables). The optimizer decides who gets Muon by kind,
// never by a list of indices.
#ifndef MOESIM_PARAMS_H
#define MOESIM_PARAMS_H

#include <stddef.h>

typedef enum {
    PARAM_EMBED,   // wte: V x D token embedding
    PARAM_POS,     // wpe: T x D position embedding
    PARAM_GAIN,    // RMSNorm gains (vectors)
    PARAM_ATTN,    // wqkv, wo: hidden matrices of attention
    PARAM_ROUTER,  // router P: E x D
    PARAM_EXPERT,  // w1, w2, shared_w1, shared_w2: stacks of per-expert matrices
    PARAM_HEAD,    // head: V x D output projection (not tied)
    PARAM_KIND_COUNT
} ParamKind;

enum { OPT_GROUP_ADAMW = 0, OPT_GROUP_MUON = 1, OPT_GROUP_SGD = 2, OPT_GROUP_LION = 3, OPT_GROUP_ADAFACTOR = 4,
       OPT_GROUP_SOAP = 5, OPT_GROUP_COUNT, OPT_GROUP_NONE = -1 };

#define PARAM_NAME_MAX 48
#define PARAM_MAX 1024

typedef struct {
    char name[PARAM_NAME_MAX];  // stable public name, e.g. "blocks.0.w1"
    ParamKind kind;
    size_t offset;              // first element in the flat arrays
    int count;                  // stacked matrices (experts); 1 otherwise
    int rows, cols;             // one matrix is rows x cols (out x in); a vector is 1 x n
    int decay;                  // 1 if weight decay applies (matrices), 0 for gains
    int group;                  // optimizer group, assigned by the optimizer's init
} ParamInfo;

typedef struct {
    ParamInfo info[PARAM_MAX];
    int n;
    size_t total;               // elements in the flat array
} ParamTable;

// Appends an entry; returns its index, or -1 if the table is full.
int param_add(ParamTable *t, const char *name, ParamKind kind, int count, int rows, int cols);
size_t param_numel(const ParamInfo *p);
// Returns the entry with this name, or NULL.
const ParamInfo *param_find(const ParamTable *t, const char *name);
const char *param_kind_name(ParamKind k);

#endif
