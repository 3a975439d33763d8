// prune.h — expert pruning by usage (the paper's §5.3, Figs. 8–9): keep, in each of the last
// eval.prune_layers layers, only the eval.prune_keep experts a small validation set uses most, and
// see which negative log-likelihoods move.
//
// The protocol, for a trained decoder m, its world's evaluation set (M sequences of T+1 tokens,
// world_eval_set) and c's eval.prune_* keys:
//   1. Usage. The FULL model runs over the validation set (eval.prune_on: "sequence:<i>" = the
//      evaluation sequence i, "domain:<d>" = every evaluation sequence of domain d). usage[l][e] =
//      how many of the (validation sequences x T positions x K choices) top-K choices of layer l
//      went to expert e (with the aux-free bias, as the model routes).
//   2. Mask. In each pruned layer l >= L - eval.prune_layers the keep experts of highest usage are
//      kept (ties: the lower index); the other layers keep every expert. The pruned model is the
//      same parameters with that mask as ForwardSwitches.allowed: every token still chooses its top K, among
//      the kept experts only, and its gates follow the usual rule over the chosen experts (softmax
//      scores of the chosen, renormalized when model.gate_norm or sigmoid).
//   3. NLLs. nll = the mean, over scored positions, of −ln p(x[t+1] | x[0..t]) (natural log, nats,
//      the same quantity as eval_ce), teacher-forced, one model_forward per chunk of sequences.
//      Per domain (of the evaluation sequence, or of the prompt a row was generated from), and
//      over all ("all"). Three sets:
//      - prompts: every evaluation sequence of the domain, all T positions (the domain's eval_ce),
//        under the full and under the pruned model.
//      - off_policy: each evaluation sequence cut to its first n = max(1, T/2) tokens is a prompt;
//        the FULL model samples T+1−n tokens after it (temperature 1, top-p 1, sampling seed
//        train.seed, gen_run), making one T+1-token row. The scored positions are the generated
//        tokens only (targets n..T); nll_full = the full model on its own continuations,
//        nll_pruned = the pruned model on the same tokens.
//      - on_policy: the same prompts and seed, the PRUNED model samples; nll_pruned = the pruned
//        model on its own continuations, nll_full = the full model on the same tokens.
//      change = (nll_pruned − nll_full) / nll_full in every set.
// The validation sequences are also among the prompts (the paper's paragraph is separate from its
// corpora; here it is one evaluation sequence, so its domain's rows include it).
//
// Cost: a forward over the validation set, four over the evaluation set, two generations of
// T+1−n tokens per evaluation sequence and four forwards over the generated rows. Deterministic:
// the same bits for any thread count (model_forward and gen_run are; every sum here is serial, in
// row and position order).
#ifndef MOESIM_PRUNE_H
#define MOESIM_PRUNE_H

#include <stddef.h>
#include <stdint.h>
#include "../config/config.h"
#include "../worlds/world.h"
#include "../../nn/model.h"

enum { PRUNE_PROMPTS, PRUNE_OFF_POLICY, PRUNE_ON_POLICY, PRUNE_SETS };

typedef struct {
    int L, E, K, T;
    int keep, first;          // experts kept per pruned layer; pruned layers are first..L-1
    int domains;              // the world's domains; index `domains` of the per-domain arrays = all
    int val_n;                // validation sequences
    int prompt_len;           // n: tokens of each generation prompt
    int64_t *usage;           // L x E        top-K choices per expert on the validation set (full model)
    uint8_t *allowed;         // L x E        1: kept (every expert of an unpruned layer)
    double *nll;              // PRUNE_SETS x 2 x (domains+1): [set][0 = full, 1 = pruned][domain]
    int64_t *tokens;          // PRUNE_SETS x (domains+1): scored positions
    int *rows;                // PRUNE_SETS x (domains+1): sequences
} PruneResult;

#define PRUNE_NLL(r, set, pruned, d) ((r)->nll[((size_t)(set) * 2 + (pruned)) * ((r)->domains + 1) + (d)])
#define PRUNE_AT(r, arr, set, d) ((r)->arr[(size_t)(set) * ((r)->domains + 1) + (d)])

// The mask from usage (L x E): in layers first..L-1 the keep most used experts (ties: lower
// index) get allowed = 1, the rest 0; layers before first are all 1. Pure; exposed for tests.
void prune_mask(uint8_t *allowed, const int64_t *usage, int L, int E, int first, int keep);

// Steps 1–3 above for model m (a decoder) on world w's evaluation set, with eval.prune_keep
// (top_k..experts; experts prunes nothing, a check), eval.prune_layers and eval.prune_on of c.
// Allocates r and every buffer before any forward (gen_run allocates its own outputs, once per
// generation); overwrites m's activation caches. Returns 0, or -1 with err (bad settings, out of
// memory).
int prune_run(PruneResult *r, const Config *c, Model *m, const World *w, char *err, size_t errlen);
void prune_result_free(PruneResult *r);

// Writes, atomically, into dir:
//   prune.csv          set,domain,sequences,tokens,nll_full,nll_pruned,change
//                      set: prompts | off_policy | on_policy; domain: 0..domains-1, then all
//   prune_experts.csv  layer,expert,usage,rank,kept   (every layer; rank 0 = most used)
// Returns 0, or -1 with errno set.
int prune_write_files(const PruneResult *r, const char *dir);

// The evaluation's hook: nothing when eval.prune_keep = 0 or the model is not a decoder; else
// prune_run and prune_write_files. Returns 0, or -1 with err naming the file or the reason.
int prune_write(const Config *c, Model *m, const World *w, const char *dir, char *err, size_t errlen);

#endif
