// optim.h — optimizers over the parameter table and flat arrays (init / step / free).
// An optimizer knows nothing of the model beyond the table: kinds decide groups.
#ifndef MOESIM_OPTIM_H
#define MOESIM_OPTIM_H

#include <stddef.h>
#include "../nn/params.h"

// optim.name's choices, in the schema's order (sim/config/schema.h).
enum { OPTIM_ADAMW = 0, OPTIM_MUON = 1, OPTIM_SGD = 2, OPTIM_LION = 3, OPTIM_NAMES };
extern const char *const optim_names[OPTIM_NAMES];  // "adamw", "muon", "sgd", "lion"
enum { MUON_SCALE_MOONLIGHT = 0, MUON_SCALE_KJ = 1 };
enum { SCHEDULE_CONSTANT = 0, SCHEDULE_COSINE = 1 };

typedef struct {
    int name;             // OPTIM_ADAMW | OPTIM_MUON | OPTIM_SGD | OPTIM_LION
    double beta1, beta2;  // AdamW moments (also the inner AdamW of the others)
    double eps;
    double weight_decay;  // decoupled, applied as w *= 1 - lr*wd to params with decay = 1
    double momentum;      // Muon momentum (0.95)
    int nesterov;         // Muon Nesterov (1)
    int ns_steps;         // Newton–Schulz iterations (5)
    int muon_scale;       // MUON_SCALE_MOONLIGHT: 0.2*sqrt(max(r,c)); MUON_SCALE_KJ: max(1,r/c)^0.5
    int muon_router;      // 1: the router joins the Muon group
    double sgd_momentum;  // SGD momentum mu (0.9)
    int sgd_nesterov;     // SGD Nesterov (0)
    double lion_beta1;    // Lion's interpolation of momentum and gradient for the sign (0.9)
    double lion_beta2;    // Lion's momentum decay (0.99)
    // Per-group learning rates: the router's entries step with lr*lr_scale_router, the token and
    // position embeddings and the head with lr*lr_scale_embed (decay too: w *= 1 - lr*scale*wd),
    // whichever optimizer takes them. 1 changes nothing; 0 freezes them.
    double lr_scale_router, lr_scale_embed;
} OptimConfig;

// ---- Optimizer state: a table of named buffers ----
// Every buffer any optimizer keeps has an id, a name (its folder under optim/ in a checkpoint:
// DIR/optim/<name>/<param>.npy) and a layout (how an entry's slice is placed and shaped). The
// ids are stable: a checkpoint lists its buffers in id order.
enum {
    OPTIM_STATE_M,        // "m": the AdamW group's first moment
    OPTIM_STATE_V,        // "v": the AdamW group's second moment
    OPTIM_STATE_MOM,      // "mom": the Muon group's momentum
    OPTIM_STATE_SGD_MOM,  // "sgd_mom": the SGD group's momentum buffer
    OPTIM_STATE_LION_M,   // "lion_m": the Lion group's momentum
    OPTIM_STATE_KINDS
};
// OPTIM_LAYOUT_PARAM: one float per parameter element at the parameter's offset, an entry's slice
// shaped as the parameter. (A factored state, e.g. Adafactor's row and column statistics, adds a
// layout with its own slice offsets and shapes.)
enum { OPTIM_LAYOUT_PARAM = 0 };
typedef struct {
    const char *name;     // folder under optim/ in a checkpoint
    int layout;           // OPTIM_LAYOUT_*
    int group;            // the group whose entries it updates (OPT_GROUP_*)
    const char *what;     // what it is, for messages ("the AdamW first moments")
} OptimStateKind;
extern const OptimStateKind optim_state_kinds[OPTIM_STATE_KINDS];
#define OPTIM_STATE_MAX OPTIM_STATE_KINDS

// One buffer an optimizer holds: kind (OPTIM_STATE_*), len floats at data (NULL in OptimSizes).
typedef struct {
    int kind;
    size_t len;           // floats
    size_t touched;       // floats a step reads and writes (its group's elements)
    float *data;
} OptimState;

typedef struct {
    OptimConfig cfg;
    ParamTable *table;
    size_t n;             // elements
    // The buffers this optimizer keeps, in kind order: a group's buffers exist when some entry
    // joins the group (AdamW and Muon: m and v of n floats, updated only on the AdamW group's
    // elements; Muon's mom of n floats, only on its own; SGD's sgd_mom; Lion's lion_m).
    OptimState state[OPTIM_STATE_MAX];
    int n_state;
    float *scratch;       // Muon workspace: scratch_slots slots of scratch_len floats (one per thread)
    size_t scratch_len;   // floats per slot, sized at init from the largest matrix
    int scratch_slots;
    int *muon_jobs;       // the Muon matrices as (table entry, expert) pairs: 2 ints each
    int n_muon_jobs;
    long t;               // steps taken (AdamW bias correction)
} Optimizer;

// What optim_init allocates for cfg over table, found by its own checks and group assignment
// (written into info[i].group) without allocating: the state buffers (each with its length and
// the floats a step touches: m and v are n floats each, of which only the AdamW group's are
// updated) and one Muon scratch slot of scratch_len floats per thread (optim_scratch_slots). sim/train/memory.c
// estimates a run's memory from it. Returns 0, or -1 with a message in err (optim_init's).
typedef struct {
    size_t n;             // elements of the flat array
    size_t group[OPT_GROUP_COUNT];  // elements in each group (they add up to n)
    OptimState state[OPTIM_STATE_MAX];  // the buffers optim_init allocates (data NULL)
    int n_state;
    int muon_entries;     // table entries in the Muon group (0: no momentum, no scratch)
    int muon_jobs;        // Muon matrices (an expert stack counts each expert)
    size_t scratch_len;   // floats of one Muon scratch slot
} OptimSizes;
int optim_sizes(const OptimConfig *cfg, ParamTable *table, OptimSizes *sizes, char *err, size_t errlen);
// Muon scratch slots optim_init allocates: the most threads an OpenMP region can get now (1
// without OpenMP).
int optim_scratch_slots(void);
// The buffer of this kind the optimizer holds, or NULL.
float *optim_state_data(const Optimizer *o, int kind);
// Where entry p's slice of a buffer of this kind starts in it, in floats (OPTIM_LAYOUT_PARAM: the
// parameter's own offset; the slice is as long as the parameter).
size_t optim_state_offset(int kind, const ParamInfo *p);

// Assigns every table entry to exactly one group (written into info[i].group), allocates state.
// Returns 0, or -1 with a message in err (e.g. Muon with no matrix parameter; out of memory: the
// state that could not be allocated and its size).
int optim_init(Optimizer *o, const OptimConfig *cfg, ParamTable *table, char *err, size_t errlen);
// One update with learning rate lr (the schedule's value for this step). No allocation.
void optim_step(Optimizer *o, float *params, const float *grads, double lr);
// The same with every gradient read as grads[i]·(float)grad_scale: clipping folded into the
// update's own pass over memory, bit for bit what clip_grad then optim_step would do.
void optim_step_scaled(Optimizer *o, float *params, const float *grads, double lr, double grad_scale);
void optim_free(Optimizer *o);

// Muon's orthogonalization of one rows x cols matrix in place (transposes tall matrices):
// X = G/(‖G‖_F + 1e-7), then `steps` quintic iterations with (3.4445, -4.7750, 2.0315).
// scratch needs newton_schulz_scratch(rows, cols) floats.
size_t newton_schulz_scratch(int rows, int cols);
void newton_schulz(float *G, int rows, int cols, int steps, float *scratch);

// Learning rate at step (0-based) of `steps`: constant, or linear warm-up over `warmup` steps
// then cosine decay from lr to lr*min_ratio at the last step.
double schedule_lr(int schedule, double lr, int step, int steps, int warmup, double min_ratio);

// Global gradient L2 norm computed in a fixed order (deterministic for any thread count).
double grad_norm(const float *g, size_t n);
// The factor that brings a gradient of this norm to at most max_norm: max_norm/(norm + 1e-6), or
// 1 when max_norm <= 0, norm <= max_norm or norm is NaN.
double clip_factor(double norm, double max_norm);
// Scales g by clip_factor(norm, max_norm) (nothing when it is 1). Returns the factor.
double clip_grad(float *g, size_t n, double norm, double max_norm);

// ---- Building blocks: pure functions of arrays. optim_step calls them; tests call them alone. ----

// The group an entry of this kind joins under cfg: OPT_GROUP_ADAMW, _MUON, _SGD or _LION, or
// OPT_GROUP_NONE for a kind no rule covers (optim_init turns that into an error).
int optim_group_of(const OptimConfig *cfg, ParamKind kind);
// The factor on lr for an entry of this kind: lr_scale_router for the router, lr_scale_embed for
// the token and position embeddings and the head, 1 for the rest.
double optim_lr_scale(const OptimConfig *cfg, ParamKind kind);

// AdamW on n elements at 1-based step t (bias correction 1 - beta^t): w *= 1 - lr*wd when
// decay, then w -= lr * m̂ / (sqrt(v̂) + eps). Uses cfg's beta1, beta2, eps, weight_decay.
void adamw_update(float *w, const float *g, float *m, float *v, size_t n,
                  const OptimConfig *cfg, double lr, long t, int decay);
// The same with g read as g·gscale (optim_step_scaled).
void adamw_update_scaled(float *w, const float *g, float *m, float *v, size_t n,
                         const OptimConfig *cfg, double lr, long t, int decay, float gscale);

// Muon's update scale for one rows x cols matrix (MUON_SCALE_MOONLIGHT or MUON_SCALE_KJ).
double muon_scale(int which, int rows, int cols);
// Floats of scratch muon_update_matrix needs for one rows x cols matrix (u, then NS space).
size_t muon_scratch(int rows, int cols);
// Muon on one rows x cols matrix (an expert stack is count such matrices, each orthogonalized
// alone), with g read as g·gscale:
// buf = mom*buf + g;  u = nesterov ? g + mom*buf : buf;  O = NS(u);
// W *= 1 - lr*wd (when decay);  W -= lr*scale*O. optim_step runs these in parallel, one matrix
// per thread at a time: a matrix's result never depends on the thread.
void muon_update_matrix(float *w, const float *g, float *buf, int rows, int cols, int decay,
                        const OptimConfig *cfg, double lr, float *scratch, float gscale);

// SGD with momentum on n elements, g read as g·gscale (sgd.c):
// buf = mu*buf + g;  u = nesterov ? g + mu*buf : buf;  w *= 1 - lr*wd (when decay);  w -= lr*u.
void sgd_update(float *w, const float *g, float *buf, size_t n, const OptimConfig *cfg, double lr, int decay,
                float gscale);
// Lion on n elements, g read as g·gscale (lion.c; Chen et al. 2023, Algorithm 2):
// c = b1*m + (1-b1)*g;  w *= 1 - lr*wd (when decay);  w -= lr*sign(c) (sign(0) = 0);
// m = b2*m + (1-b2)*g.
void lion_update(float *w, const float *g, float *m, size_t n, const OptimConfig *cfg, double lr, int decay,
                 float gscale);

// The plain reference Newton–Schulz (full triple loops, no symmetry shortcuts), kept beside the
// fast one so the tests can compare the two. Same scratch size, same results up to rounding.
void newton_schulz_ref(float *G, int rows, int cols, int steps, float *scratch);

#endif
