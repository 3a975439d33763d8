// memory.h — a training run's peak memory, known from its resolved config before anything is
// allocated, and the check of a call's runs against the memory there is (issue 21, finding 7).
//
// The estimate adds up what a run holds at once, at its peak (the final evaluation, when the
// training state is still allocated), each part from the size function its allocator uses, so
// the two cannot drift apart:
//   parameters   model_sizes (nn/model.h): the flat parameter array and the aux-free biases
//   gradients    as many floats as the parameters
//   optimizer    optim_sizes (optim/optim.h): its table of state buffers (AdamW's two moments,
//                Muon's momentum, SGD's and Lion's momentum); Muon's one scratch
//                slot per thread that runs a matrix (with Muon, the moments of the Muon group are
//                allocated but never touched, unless the state is saved: writing it reads them)
//   activations  model_sizes: the training step's activation and scratch slab, sized for train.batch
//   evaluation   evaluator_bytes (evaluate/): the evaluation set and its per-layer caches, the
//                measurements' scratch, and the final evaluation's largest transient: the D x D
//                eigen-decomposition of truncation.csv (about 8 D² doubles), or with
//                eval.prune_keep the rollouts' decoder (decoder_sizes and a transposed copy of
//                the parameters)
//   data         world_bytes (worlds/) and batch_source_bytes (batches.h)
//   checkpoint   a resume or warm start reads every array into a staging copy first (checkpoint.c);
//                it is freed before the first step, so it counts when that moment (parameters,
//                the optimizer arrays it fills, data, program and the copy) is the larger peak
//   process      the program itself: code, libc, libgomp, the threads' stacks (measured:
//                docs/PERFORMANCE.md)
// What is counted is what becomes resident, not what is reserved: Linux hands out pages when they
// are first touched. Tested within 25 % of the measured peak (tests/test_memory.c).
#ifndef MOESIM_MEMORY_H
#define MOESIM_MEMORY_H

#include <stdio.h>
#include "../config/config.h"

typedef enum {
    MEM_PARAMS, MEM_GRADS, MEM_OPTIM, MEM_ACTS, MEM_EVAL, MEM_DATA, MEM_CKPT, MEM_PROCESS, MEM_PARTS
} MemPart;
extern const char *const memory_part_names[MEM_PARTS];

typedef struct {
    double part[MEM_PARTS];  // bytes
    double total;            // the run's estimated peak resident memory: the sum of the parts but
                             // MEM_CKPT, or the moment the checkpoint is read if that is larger
} MemEstimate;

// Whether the run starts by reading saved state (its staging copy counts).
enum { MEM_FRESH, MEM_RESUMES, MEM_WARM_START };

// The estimate of one run of c on `threads` OpenMP threads (0: this process's default), starting
// as `start` says. Returns 0, or -1 with err (a config the model or optimizer would refuse).
int memory_estimate(const Config *c, int threads, int start, MemEstimate *out, char *err, size_t errlen);

// "parameters 18.2 MiB, gradients 18.2 MiB, ..." (the parts that are not zero).
void memory_breakdown(char *buf, size_t cap, const MemEstimate *e);

// The bytes of a size as --max-memory takes it: a number with an optional unit, K, M, G or T
// (powers of 1024; "KB", "KiB", "k" alike, any case) or B; "512M", "2G", "1.5GiB", "1000000".
// Returns 0, or -1 with err saying what was expected (a size must be > 0).
int memory_parse_size(const char *s, double *bytes, char *err, size_t errlen);

// MemAvailable of /proc/meminfo in bytes, or -1 where it is unknown (not Linux, no such line).
double memory_available(void);

// The runs of one call against the memory there is. With -j N, N runs go at once in as many
// processes, so the N largest estimates are added: that sum must fit.
#define MEM_PLAN_JOBS 256
typedef struct {
    int jobs;                    // runs at once (-j)
    double max_memory;           // --max-memory in bytes, 0: none
    double available;            // memory_available()
    long runs;                   // runs added
    double top[MEM_PLAN_JOBS];   // the largest totals, descending (min(jobs, runs) of them)
    MemEstimate largest;         // the largest run's estimate and its id
    char largest_id[256];
} MemPlan;

void memory_plan_begin(MemPlan *p, int jobs, double max_memory);
void memory_plan_add(MemPlan *p, const char *run_id, const MemEstimate *e);
// The peak of the whole call: the sum of the min(jobs, runs) largest estimates.
double memory_plan_peak(const MemPlan *p);
// The verdict. A dry run prints the breakdown of the largest run and the verdict to `out`. Over
// the limit (--max-memory, or what is available), the refusal goes to stderr, with the breakdown
// and what to do. Returns 0 (fits, or nothing to run), or 2 (refused).
int memory_plan_check(const MemPlan *p, int dry_run, FILE *out);

#endif
