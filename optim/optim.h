// optim.h — optimizers over the parameter table and flat arrays (init / step / free).
// An optimizer knows nothing of the model beyond the table: kinds decide groups.
#ifndef MOESIM_OPTIM_H
#define MOESIM_OPTIM_H

#include <stddef.h>
#include "../nn/params.h"

// optim.name's choices, in the schema's order (sim/config/schema.h).
enum { OPTIM_ADAMW = 0, OPTIM_MUON = 1, OPTIM_SGD = 2, OPTIM_LION = 3, OPTIM_ADAFACTOR = 4, OPTIM_SOAP = 5, OPTIM_NAMES };
extern const char *const optim_names[OPTIM_NAMES];  // "adamw", "muon", "sgd", "lion", "adafactor", "soap"
enum { MUON_SCALE_MOONLIGHT = 0, MUON_SCALE_KJ = 1 };
enum { SCHEDULE_CONSTANT = 0, SCHEDULE_COSINE = 1 };

typedef struct {
    int name;             // OPTIM_ADAMW | OPTIM_MUON | OPTIM_SGD | OPTIM_LION | OPTIM_ADAFACTOR | OPTIM_SOAP
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
    // Adafactor (Shazeer & Stern 2018), the learning rate given (no relative step):
    double adafactor_decay_rate;  // c in beta2_t = 1 - t^(-c) (0.8)
    double adafactor_clip;        // update clipping threshold d: U /= max(1, RMS(U)/d) (1.0)
    double adafactor_beta1;       // momentum on the clipped update; 0: none (0, the paper's default)
    double adafactor_eps;         // eps1 added to g² (1e-30)
    // SOAP (Vyas et al. 2024): Adam in the eigenbasis of Shampoo's L and R.
    double soap_beta1, soap_beta2;  // Adam's betas in the eigenbasis; beta2 also averages L, R (0.95, 0.95)
    int precondition_every;         // the eigenbases are recomputed every this many Adam steps (10)
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
    OPTIM_STATE_AF_ROW,   // "af_row": Adafactor's row statistics of its factored entries
    OPTIM_STATE_AF_COL,   // "af_col": Adafactor's column statistics of its factored entries
    OPTIM_STATE_AF_V,     // "af_v": Adafactor's full second moments of its vectors (gains)
    OPTIM_STATE_AF_M,     // "af_m": Adafactor's momentum (only with adafactor_beta1 > 0)
    OPTIM_STATE_SOAP_M,   // "soap_m": SOAP's first moment (in the parameter's own basis)
    OPTIM_STATE_SOAP_V,   // "soap_v": SOAP's second moment (in the eigenbasis)
    OPTIM_STATE_SOAP_L,   // "soap_l": SOAP's left statistic L (rows x rows per matrix)
    OPTIM_STATE_SOAP_R,   // "soap_r": SOAP's right statistic R (cols x cols per matrix)
    OPTIM_STATE_SOAP_QL,  // "soap_ql": the eigenbasis of L (column j: eigenvector j, descending)
    OPTIM_STATE_SOAP_QR,  // "soap_qr": the eigenbasis of R
    OPTIM_STATE_KINDS
};
// How an entry's slice of a buffer is placed and shaped (count, rows, cols: the entry's):
//   OPTIM_LAYOUT_PARAM:  one float per parameter element at the parameter's offset, shaped as
//                        the parameter (every entry has a slice; the buffer is n floats);
//   OPTIM_LAYOUT_ROWS:   count x rows, for the entries optim_factored says are factored;
//   OPTIM_LAYOUT_COLS:   count x cols, likewise;
//   OPTIM_LAYOUT_VECTOR: shaped as the parameter, for the group's entries that are not factored;
//   OPTIM_LAYOUT_LEFT:   count x rows x rows, for the group's entries;
//   OPTIM_LAYOUT_RIGHT:  count x cols x cols, likewise.
// All but PARAM are packed: the entries that have a slice, in table order, nothing between.
enum { OPTIM_LAYOUT_PARAM = 0, OPTIM_LAYOUT_ROWS, OPTIM_LAYOUT_COLS, OPTIM_LAYOUT_VECTOR, OPTIM_LAYOUT_LEFT,
       OPTIM_LAYOUT_RIGHT };
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
    float *scratch;       // per-matrix workspace: scratch_slots slots of scratch_len floats (one per thread)
    size_t scratch_len;   // floats per slot, sized at init from the largest matrix (Muon, SOAP)
    int scratch_slots;
    double *dscratch;     // the same slots in double (Adafactor's column sums, SOAP's eigen-solver)
    size_t dscratch_len;
    int *iscratch;        // and in ints (the eigen-solver's sort order)
    size_t iscratch_len;
    int *jobs;            // the matrices stepped one per thread (Muon, Adafactor, SOAP) as
    int n_jobs;           // (table entry, expert) pairs: 2 ints each
    long t;               // steps taken (AdamW bias correction, Adafactor's beta2 schedule, SOAP)
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
    int muon_entries;     // table entries in the Muon group (0: no momentum)
    int jobs;             // matrices stepped one per thread (Muon, Adafactor, SOAP; an expert
                          // stack counts each expert); 0: no scratch
    size_t scratch_len;   // floats of one scratch slot
    size_t dscratch_len;  // doubles of one slot
    size_t iscratch_len;  // ints of one slot
} OptimSizes;
// Bytes of one thread's scratch slot.
double optim_slot_bytes(const OptimSizes *sz);
int optim_sizes(const OptimConfig *cfg, ParamTable *table, OptimSizes *sizes, char *err, size_t errlen);
// Muon scratch slots optim_init allocates: the most threads an OpenMP region can get now (1
// without OpenMP).
int optim_scratch_slots(void);
// The buffer of this kind the optimizer holds, or NULL.
float *optim_state_data(const Optimizer *o, int kind);
// Floats of entry p's slice of a buffer of this kind (0: the entry has none), by the layout and the
// entry's kind and shape alone (not p->group: a checkpoint's files are known without an optimizer).
size_t optim_state_numel(int kind, const ParamInfo *p);
// Where entry i's slice of a buffer of this kind starts in it, in floats (OPTIM_LAYOUT_PARAM: the
// parameter's own offset; the packed layouts: the slices of the entries before it).
size_t optim_state_offset(int kind, const ParamTable *t, int i);
// Adafactor factors an entry's second moment (row and column statistics) unless it is a vector
// (a gain): embeddings, head, attention, router and expert matrices are factored, the last per
// expert.
int optim_factored(const ParamInfo *p);

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

// The group an entry of this kind joins under cfg: OPT_GROUP_ADAMW, _MUON, _SGD, _LION, _ADAFACTOR or _SOAP, or
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

// Adafactor's beta2 at 1-based step t: 1 - t^(-decay_rate) (0 at t = 1: the first statistics are
// the first gradient's).
double adafactor_beta2(double decay_rate, long t);
// Adafactor (Shazeer & Stern 2018, Algorithms 4 and 5, the learning rate given) on one
// rows x cols matrix at step t, g read as g·gscale. Factored (row, col non-NULL):
//   row_i = b2·row_i + (1-b2)·Σ_j (g_ij² + eps1);  col_j = b2·col_j + (1-b2)·Σ_i (g_ij² + eps1);
//   V̂_ij = row_i·col_j / Σ_i row_i.
// Not factored (v non-NULL, rows x cols elements): v = b2·v + (1-b2)·(g² + eps1); V̂ = v.
// Then U = g/√V̂;  U /= max(1, RMS(U)/clip);  with beta1 > 0: m = beta1·m + (1-beta1)·U, U = m;
// W *= 1 - lr*wd (when decay);  W -= lr·U. dscratch: cols doubles (the column sums).
void adafactor_update_matrix(float *w, const float *g, float *row, float *col, float *v, float *m, int rows,
                             int cols, int decay, const OptimConfig *cfg, double lr, long t, double *dscratch,
                             float gscale);

// SOAP (Vyas et al. 2024) on one rows x cols matrix at optimizer step t, g read as g·gscale
// (soap.c; β = soap_beta2 for L and R, as the paper's default):
//   t = 1: L = (1-β)·G Gᵀ, R = (1-β)·Gᵀ G, QL, QR their eigenbases; no update (the official
//          implementation's first step: the basis never sees a gradient before it is used).
//   t > 1, s = t - 1 (Adam's step):  G' = QLᵀ G QR;  M = b1·M + (1-b1)·G;  M' = QLᵀ M QR;
//          V = b2·V + (1-b2)·G'²;  N = QL (M' / (√V + eps)) QRᵀ;
//          W *= 1 - lr*wd (when decay);  W -= lr·√(1-b2^s)/(1-b1^s)·N;
//          L = β·L + (1-β)·G Gᵀ;  R = β·R + (1-β)·Gᵀ G;
//          when s % precondition_every == 0: QL, QR = the eigenbases of the new L, R (eigenvectors
//          sorted by eigenvalue, descending, so V's index keeps following the rank).
// Eigenbases by the project's Jacobi solver (nn/jacobi_psd.h) in double, warm-started from the
// previous bases after the first (soap_eigenbasis). scratch, dscratch,
// iscratch: soap_scratch(rows, cols, ...) of each; nothing is allocated.
void soap_scratch(int rows, int cols, size_t *floats, size_t *doubles, size_t *ints);
void soap_update_matrix(float *w, const float *g, float *m, float *v, float *L, float *R, float *QL, float *QR,
                        int rows, int cols, int decay, const OptimConfig *cfg, double lr, long t, float *scratch,
                        double *dscratch, int *iscratch, float gscale);
// The eigenbasis Q (n x n float, column j the unit eigenvector of eigenvalue j, descending) of a
// symmetric PSD S (n x n float), through jacobi_psd in double. warm: Q holds the previous basis
// (orthonormal), and the solver runs on Qᵀ S Q (nearly diagonal: a few sweeps), the result
// rotated back; the same eigenbasis up to rounding (and, for repeated eigenvalues, the choice
// within their space). dscratch: 4n² + n + jacobi_psd_work(n) doubles, iscratch n ints.
void soap_eigenbasis(float *Q, const float *S, int n, int warm, double *dscratch, int *iscratch);

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
