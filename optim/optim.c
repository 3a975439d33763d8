// optim.c — the optimizer as the trainer sees it: optim_init assigns every table entry to exactly
// one group by kind and allocates all state once (a table of named buffers); optim_step walks the
// table and hands each entry to AdamW (adamw.c), SGD (sgd.c) or Lion (lion.c), and each matrix
// (an expert stack: each expert) to Muon (muon.c), Adafactor (adafactor.c) or SOAP (soap.c), one
// matrix per thread; optim_free releases it all.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "optim.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *const optim_names[OPTIM_NAMES] = {"adamw", "muon", "sgd", "lion", "adafactor", "soap"};

// In id order, which is the order a checkpoint lists them (m, v, mom as before issue 25).
const OptimStateKind optim_state_kinds[OPTIM_STATE_KINDS] = {
    [OPTIM_STATE_M] = {"m", OPTIM_LAYOUT_PARAM, OPT_GROUP_ADAMW, "the AdamW first moments"},
    [OPTIM_STATE_V] = {"v", OPTIM_LAYOUT_PARAM, OPT_GROUP_ADAMW, "the AdamW second moments"},
    [OPTIM_STATE_MOM] = {"mom", OPTIM_LAYOUT_PARAM, OPT_GROUP_MUON, "the Muon momentum"},
    [OPTIM_STATE_SGD_MOM] = {"sgd_mom", OPTIM_LAYOUT_PARAM, OPT_GROUP_SGD, "the SGD momentum"},
    [OPTIM_STATE_LION_M] = {"lion_m", OPTIM_LAYOUT_PARAM, OPT_GROUP_LION, "the Lion momentum"},
    [OPTIM_STATE_AF_ROW] = {"af_row", OPTIM_LAYOUT_ROWS, OPT_GROUP_ADAFACTOR, "the Adafactor row statistics"},
    [OPTIM_STATE_AF_COL] = {"af_col", OPTIM_LAYOUT_COLS, OPT_GROUP_ADAFACTOR, "the Adafactor column statistics"},
    [OPTIM_STATE_AF_V] = {"af_v", OPTIM_LAYOUT_VECTOR, OPT_GROUP_ADAFACTOR, "the Adafactor vector second moments"},
    [OPTIM_STATE_AF_M] = {"af_m", OPTIM_LAYOUT_PARAM, OPT_GROUP_ADAFACTOR, "the Adafactor momentum"},
    [OPTIM_STATE_SOAP_M] = {"soap_m", OPTIM_LAYOUT_PARAM, OPT_GROUP_SOAP, "the SOAP first moments"},
    [OPTIM_STATE_SOAP_V] = {"soap_v", OPTIM_LAYOUT_PARAM, OPT_GROUP_SOAP, "the SOAP second moments"},
    [OPTIM_STATE_SOAP_L] = {"soap_l", OPTIM_LAYOUT_LEFT, OPT_GROUP_SOAP, "the SOAP left statistics"},
    [OPTIM_STATE_SOAP_R] = {"soap_r", OPTIM_LAYOUT_RIGHT, OPT_GROUP_SOAP, "the SOAP right statistics"},
    [OPTIM_STATE_SOAP_QL] = {"soap_ql", OPTIM_LAYOUT_LEFT, OPT_GROUP_SOAP, "the SOAP left eigenbases"},
    [OPTIM_STATE_SOAP_QR] = {"soap_qr", OPTIM_LAYOUT_RIGHT, OPT_GROUP_SOAP, "the SOAP right eigenbases"},
};

// The whole rule: Muon takes the hidden matrices (attention, experts, and the router when
// muon_router), the inner AdamW takes embeddings, gains and the head (Jordan et al.'s and
// Moonlight's practice). AdamW alone takes all. SGD and Lion take every parameter, embeddings,
// gains and head included, as their papers train them (Chen et al. 2023 run Lion on whole
// models; SGD with momentum is the classic all-parameter baseline): no inner AdamW. Adafactor
// takes every parameter too (Shazeer & Stern train all of a Transformer with it, embeddings
// included; vectors get full second moments). SOAP takes the hidden matrices, the router
// included (attention, experts: each expert's own L and R); embeddings, gains and head go to
// the inner AdamW (SOAP preconditions 2-D layers only and its paper runs Adam on 1-D ones; an
// embedding's or head's V x V left factor over one-hot rows is the case Shampoo practice leaves
// to Adam, as Muon's rule does here).
int optim_group_of(const OptimConfig *cfg, ParamKind kind) {
    if (kind < 0 || kind >= PARAM_KIND_COUNT) return OPT_GROUP_NONE;
    if (cfg->name == OPTIM_ADAMW) return OPT_GROUP_ADAMW;
    if (cfg->name == OPTIM_SGD) return OPT_GROUP_SGD;
    if (cfg->name == OPTIM_LION) return OPT_GROUP_LION;
    if (cfg->name == OPTIM_ADAFACTOR) return OPT_GROUP_ADAFACTOR;
    if (cfg->name != OPTIM_MUON && cfg->name != OPTIM_SOAP) return OPT_GROUP_NONE;
    const int mat = cfg->name == OPTIM_MUON ? OPT_GROUP_MUON : OPT_GROUP_SOAP;
    switch (kind) {
    case PARAM_ATTN:
    case PARAM_EXPERT: return mat;
    case PARAM_ROUTER: return cfg->name == OPTIM_SOAP || cfg->muon_router ? mat : OPT_GROUP_ADAMW;
    case PARAM_EMBED:
    case PARAM_POS:
    case PARAM_GAIN:
    case PARAM_HEAD: return OPT_GROUP_ADAMW;
    default: return OPT_GROUP_NONE;
    }
}

double optim_lr_scale(const OptimConfig *cfg, ParamKind kind) {
    switch (kind) {
    case PARAM_ROUTER: return cfg->lr_scale_router;
    case PARAM_EMBED:
    case PARAM_POS:
    case PARAM_HEAD: return cfg->lr_scale_embed;
    default: return 1.0;
    }
}

// Settings the update formulas cannot survive; the config validator should have caught them
// already, but the optimizer must not depend on that.
static int check_config(const OptimConfig *c, char *err, size_t errlen) {
    if (c->name < 0 || c->name >= OPTIM_NAMES)
        return fail(err, errlen, "optimizer: unknown optimizer %d (adamw = %d, muon = %d, sgd = %d, lion = %d, "
                    "adafactor = %d, soap = %d)", c->name, OPTIM_ADAMW, OPTIM_MUON, OPTIM_SGD, OPTIM_LION,
                    OPTIM_ADAFACTOR, OPTIM_SOAP);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return fail(err, errlen, "optimizer: AdamW betas must be in [0, 1), got beta1 = %g, beta2 = %g",
                    c->beta1, c->beta2);
    if (!(c->eps > 0))
        return fail(err, errlen, "optimizer: AdamW eps must be > 0, got %g", c->eps);
    if (!(c->weight_decay >= 0))
        return fail(err, errlen, "optimizer: weight_decay must be >= 0, got %g", c->weight_decay);
    if (!(c->lr_scale_router >= 0) || !(c->lr_scale_embed >= 0))
        return fail(err, errlen, "optimizer: learning-rate scales must be >= 0, got router %g, embed %g",
                    c->lr_scale_router, c->lr_scale_embed);
    if (c->name == OPTIM_SGD && !(c->sgd_momentum >= 0 && c->sgd_momentum < 1))
        return fail(err, errlen, "optimizer: SGD momentum must be in [0, 1), got %g", c->sgd_momentum);
    if (c->name == OPTIM_LION && (!(c->lion_beta1 >= 0 && c->lion_beta1 < 1) || !(c->lion_beta2 >= 0 && c->lion_beta2 < 1)))
        return fail(err, errlen, "optimizer: Lion betas must be in [0, 1), got beta1 = %g, beta2 = %g",
                    c->lion_beta1, c->lion_beta2);
    if (c->name == OPTIM_ADAFACTOR) {
        // decay_rate in (0, 1]: beta2_t = 1 - t^(-c) rises to 1 (c <= 0 would make it <= 0 for ever;
        // the paper requires c <= 1 for the average to converge)
        if (!(c->adafactor_decay_rate > 0 && c->adafactor_decay_rate <= 1))
            return fail(err, errlen, "optimizer: Adafactor decay_rate must be in (0, 1], got %g", c->adafactor_decay_rate);
        if (!(c->adafactor_clip > 0))
            return fail(err, errlen, "optimizer: Adafactor clip must be > 0, got %g", c->adafactor_clip);
        if (!(c->adafactor_beta1 >= 0 && c->adafactor_beta1 < 1))
            return fail(err, errlen, "optimizer: Adafactor beta1 must be in [0, 1), got %g", c->adafactor_beta1);
        if (!(c->adafactor_eps > 0))
            return fail(err, errlen, "optimizer: Adafactor eps must be > 0, got %g", c->adafactor_eps);
    }
    if (c->name == OPTIM_SOAP) {
        if (!(c->soap_beta1 >= 0 && c->soap_beta1 < 1) || !(c->soap_beta2 >= 0 && c->soap_beta2 < 1))
            return fail(err, errlen, "optimizer: SOAP betas must be in [0, 1), got beta1 = %g, beta2 = %g",
                        c->soap_beta1, c->soap_beta2);
        if (c->precondition_every < 1)
            return fail(err, errlen, "optimizer: SOAP needs precondition_every >= 1, got %d", c->precondition_every);
    }
    if (c->name == OPTIM_MUON) {
        if (!(c->momentum >= 0 && c->momentum < 1))
            return fail(err, errlen, "optimizer: Muon momentum must be in [0, 1), got %g", c->momentum);
        if (c->ns_steps < 1)
            return fail(err, errlen, "optimizer: Muon needs ns_steps >= 1, got %d", c->ns_steps);
        if (c->muon_scale != MUON_SCALE_MOONLIGHT && c->muon_scale != MUON_SCALE_KJ)
            return fail(err, errlen, "optimizer: unknown muon_scale %d (moonlight = %d, kj = %d)",
                        c->muon_scale, MUON_SCALE_MOONLIGHT, MUON_SCALE_KJ);
    }
    return 0;
}

int optim_sizes(const OptimConfig *cfg, ParamTable *table, OptimSizes *sz, char *err, size_t errlen) {
    memset(sz, 0, sizeof *sz);
    if (check_config(cfg, err, errlen)) return -1;
    if (table->n <= 0 || table->total == 0)
        return fail(err, errlen, "optimizer: the parameter table is empty");

    // Every element of the flat array belongs to exactly one entry (the entries tile it in
    // order), and every entry to exactly one group; so every element is updated exactly once.
    size_t expect = 0;
    for (int i = 0; i < table->n; i++) {
        ParamInfo *p = &table->info[i];
        if (p->count < 1 || p->rows < 1 || p->cols < 1)
            return fail(err, errlen, "optimizer: parameter %s has shape %d x %d x %d; every size must be >= 1",
                        p->name, p->count, p->rows, p->cols);
        if (p->offset != expect)
            return fail(err, errlen, "optimizer: parameter %s starts at element %zu, expected %zu "
                        "(entries must tile the flat array in order)", p->name, p->offset, expect);
        expect += param_numel(p);
        p->group = optim_group_of(cfg, p->kind);
        if (p->group < 0 || p->group >= OPT_GROUP_COUNT)
            return fail(err, errlen, "optimizer: parameter %s (kind %d = %s) belongs to no optimizer group",
                        p->name, (int)p->kind, param_kind_name(p->kind));
        size_t fs = 0, ds = 0, is = 0;  // one slot's floats, doubles, ints for this matrix
        if (p->group == OPT_GROUP_MUON) {
            sz->muon_entries++;
            fs = muon_scratch(p->rows, p->cols);
        } else if (p->group == OPT_GROUP_ADAFACTOR) {
            ds = (size_t)p->cols;
        } else if (p->group == OPT_GROUP_SOAP) {
            soap_scratch(p->rows, p->cols, &fs, &ds, &is);
        }
        if (p->group == OPT_GROUP_MUON || p->group == OPT_GROUP_ADAFACTOR || p->group == OPT_GROUP_SOAP) {
            sz->jobs += p->count;
            if (fs > sz->scratch_len) sz->scratch_len = fs;
            if (ds > sz->dscratch_len) sz->dscratch_len = ds;
            if (is > sz->iscratch_len) sz->iscratch_len = is;
        }
        sz->group[p->group] += param_numel(p);
    }
    if (expect != table->total)
        return fail(err, errlen, "optimizer: the entries cover %zu elements but the table says %zu",
                    expect, table->total);
    if (cfg->name == OPTIM_MUON && sz->muon_entries == 0)
        return fail(err, errlen, "optimizer: Muon has no matrix parameter to update (no attn, expert%s entry); "
                    "use optim.name = \"adamw\"", cfg->muon_router ? " or router" : "");
    sz->n = table->total;
    // a group's buffers when some entry joins it (and has a slice of it); Adafactor's momentum
    // only with momentum
    for (int k = 0; k < OPTIM_STATE_KINDS; k++) {
        const OptimStateKind *sk = &optim_state_kinds[k];
        if (!sz->group[sk->group]) continue;
        if (k == OPTIM_STATE_AF_M && !(cfg->adafactor_beta1 > 0)) continue;
        if (sk->layout == OPTIM_LAYOUT_PARAM) {
            sz->state[sz->n_state++] = (OptimState){.kind = k, .len = sz->n, .touched = sz->group[sk->group]};
            continue;
        }
        size_t len = 0;
        for (int i = 0; i < table->n; i++) len += optim_state_numel(k, &table->info[i]);
        if (len) sz->state[sz->n_state++] = (OptimState){.kind = k, .len = len, .touched = len};
    }
    return 0;
}

double optim_slot_bytes(const OptimSizes *sz) {
    return (double)sz->scratch_len * sizeof(float) + (double)sz->dscratch_len * sizeof(double) +
           (double)sz->iscratch_len * sizeof(int);
}

int optim_factored(const ParamInfo *p) { return p->kind != PARAM_GAIN; }

size_t optim_state_numel(int kind, const ParamInfo *p) {
    const OptimStateKind *sk = &optim_state_kinds[kind];
    const size_t count = (size_t)p->count, rows = (size_t)p->rows, cols = (size_t)p->cols;
    if (sk->layout == OPTIM_LAYOUT_PARAM) return param_numel(p);
    // Whether the entry is in the buffer's group by its kind alone (not p->group): a folder's
    // files are known from the model, whichever optimizer (if any) reads it. The packed layouts
    // belong to Adafactor and SOAP, whose rules depend on no other setting.
    const OptimConfig owner = {.name = sk->group == OPT_GROUP_SOAP ? OPTIM_SOAP : OPTIM_ADAFACTOR};
    if (optim_group_of(&owner, p->kind) != sk->group) return 0;
    switch (sk->layout) {
    case OPTIM_LAYOUT_ROWS: return optim_factored(p) ? count * rows : 0;
    case OPTIM_LAYOUT_COLS: return optim_factored(p) ? count * cols : 0;
    case OPTIM_LAYOUT_VECTOR: return optim_factored(p) ? 0 : param_numel(p);
    case OPTIM_LAYOUT_LEFT: return count * rows * rows;
    case OPTIM_LAYOUT_RIGHT: return count * cols * cols;
    default: return 0;
    }
}

size_t optim_state_offset(int kind, const ParamTable *t, int i) {
    if (optim_state_kinds[kind].layout == OPTIM_LAYOUT_PARAM) return t->info[i].offset;
    size_t off = 0;
    for (int j = 0; j < i; j++) off += optim_state_numel(kind, &t->info[j]);
    return off;
}

float *optim_state_data(const Optimizer *o, int kind) {
    for (int s = 0; s < o->n_state; s++)
        if (o->state[s].kind == kind) return o->state[s].data;
    return NULL;
}

int optim_scratch_slots(void) {
    // One scratch slot per thread that may run a matrix (the most threads a region can get).
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// calloc(n, size), or NULL with err naming the state that could not be had and its size.
static void *alloc_named(size_t n, size_t size, const char *what, char *err, size_t errlen, int *bad) {
    if (*bad) return NULL;
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        *bad = 1;
        fail(err, errlen, "optimizer: out of memory allocating %s (%.1f MiB)", what, (double)n * size / 1048576.0);
    }
    return p;
}

// Writes a zero into every 4 KiB of p (bytes long; calloc's zero pages are mapped on first write).
static void touch_pages(void *p, size_t bytes) {
    volatile unsigned char *b = p;
    for (size_t i = 0; b && i < bytes; i += 4096) b[i] = 0;
}

int optim_init(Optimizer *o, const OptimConfig *cfg, ParamTable *table, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    OptimSizes sz;
    if (optim_sizes(cfg, table, &sz, err, errlen) != 0) return -1;
    o->cfg = *cfg;
    o->table = table;
    o->n = table->total;
    // One allocation each, same offsets as the parameters; zero is the right start for all.
    int bad = 0;
    for (int s = 0; s < sz.n_state; s++) {
        o->state[s] = sz.state[s];
        o->state[s].data = alloc_named(sz.state[s].len, sizeof(float), optim_state_kinds[sz.state[s].kind].what,
                                       err, errlen, &bad);
    }
    o->n_state = sz.n_state;
    if (sz.jobs) {
        int slots = optim_scratch_slots();
        o->scratch = alloc_named(sz.scratch_len * (size_t)slots, sizeof *o->scratch, "the optimizer scratch", err,
                                 errlen, &bad);
        o->dscratch = alloc_named(sz.dscratch_len * (size_t)slots, sizeof *o->dscratch, "the optimizer scratch",
                                  err, errlen, &bad);
        o->iscratch = alloc_named(sz.iscratch_len * (size_t)slots, sizeof *o->iscratch, "the optimizer scratch",
                                  err, errlen, &bad);
        o->scratch_len = sz.scratch_len;
        o->dscratch_len = sz.dscratch_len;
        o->iscratch_len = sz.iscratch_len;
        o->scratch_slots = slots;
        o->jobs = alloc_named(2 * (size_t)sz.jobs, sizeof *o->jobs, "the optimizer's matrix list", err, errlen, &bad);
        for (int i = 0; o->jobs && i < table->n; i++) {
            const int g = table->info[i].group;
            if (g != OPT_GROUP_MUON && g != OPT_GROUP_ADAFACTOR && g != OPT_GROUP_SOAP) continue;
            for (int e = 0; e < table->info[i].count; e++) {
                o->jobs[2 * o->n_jobs] = i;
                o->jobs[2 * o->n_jobs + 1] = e;
                o->n_jobs++;
            }
        }
    }
    if (bad) {
        optim_free(o);
        return -1;
    }
    // Touch every page of the scratch now: parts of it (SOAP's warm-start buffers) are first
    // used at a basis refresh, and a first touch there would fault pages in during a step.
    touch_pages(o->scratch, o->scratch_len * (size_t)o->scratch_slots * sizeof *o->scratch);
    touch_pages(o->dscratch, o->dscratch_len * (size_t)o->scratch_slots * sizeof *o->dscratch);
    touch_pages(o->iscratch, o->iscratch_len * (size_t)o->scratch_slots * sizeof *o->iscratch);
    return 0;
}

void optim_step(Optimizer *o, float *params, const float *grads, double lr) {
    optim_step_scaled(o, params, grads, lr, 1.0);
}

// Entry i's (expert e's) slice of a buffer of this kind: its offset in the buffer plus e slices of
// `per` floats (the per-expert size in that layout). NULL when the optimizer has no such buffer.
static float *slice(const Optimizer *o, int kind, int i, int e, size_t per) {
    float *d = optim_state_data(o, kind);
    return d ? d + optim_state_offset(kind, o->table, i) + (size_t)e * per : NULL;
}

// One matrix of a per-matrix group (Muon, Adafactor, SOAP) with its own scratch slot.
static void step_matrix(Optimizer *o, int i, int e, float *params, const float *grads, double lr, float gs,
                        int slot) {
    const ParamInfo *p = &o->table->info[i];
    const size_t r = (size_t)p->rows, c = (size_t)p->cols, mn = r * c, off = p->offset + (size_t)e * mn;
    const double lr_p = lr * optim_lr_scale(&o->cfg, p->kind);
    float *scratch = o->scratch + (size_t)slot * o->scratch_len;
    double *dscratch = o->dscratch + (size_t)slot * o->dscratch_len;
    if (p->group == OPT_GROUP_MUON) {
        muon_update_matrix(params + off, grads + off, optim_state_data(o, OPTIM_STATE_MOM) + off, p->rows, p->cols,
                           p->decay, &o->cfg, lr_p, scratch, gs);
    } else if (p->group == OPT_GROUP_ADAFACTOR) {
        const int fac = optim_factored(p);
        float *m = optim_state_data(o, OPTIM_STATE_AF_M);
        adafactor_update_matrix(params + off, grads + off, fac ? slice(o, OPTIM_STATE_AF_ROW, i, e, r) : NULL,
                                fac ? slice(o, OPTIM_STATE_AF_COL, i, e, c) : NULL,
                                fac ? NULL : slice(o, OPTIM_STATE_AF_V, i, e, mn), m ? m + off : NULL, p->rows,
                                p->cols, p->decay, &o->cfg, lr_p, o->t, dscratch, gs);
    } else if (p->group == OPT_GROUP_SOAP) {
        soap_update_matrix(params + off, grads + off, optim_state_data(o, OPTIM_STATE_SOAP_M) + off,
                           optim_state_data(o, OPTIM_STATE_SOAP_V) + off, slice(o, OPTIM_STATE_SOAP_L, i, e, r * r),
                           slice(o, OPTIM_STATE_SOAP_R, i, e, c * c), slice(o, OPTIM_STATE_SOAP_QL, i, e, r * r),
                           slice(o, OPTIM_STATE_SOAP_QR, i, e, c * c), p->rows, p->cols, p->decay, &o->cfg, lr_p,
                           o->t, scratch, dscratch, o->iscratch + (size_t)slot * o->iscratch_len, gs);
    }
}

void optim_step_scaled(Optimizer *o, float *params, const float *grads, double lr, double grad_scale) {
    const float gs = (float)grad_scale;  // the float clip_grad multiplies by
    o->t++;
    const ParamTable *tb = o->table;
    float *m = optim_state_data(o, OPTIM_STATE_M), *v = optim_state_data(o, OPTIM_STATE_V);
    float *sgd_mom = optim_state_data(o, OPTIM_STATE_SGD_MOM), *lion_m = optim_state_data(o, OPTIM_STATE_LION_M);
    for (int i = 0; i < tb->n; i++) {
        const ParamInfo *p = &tb->info[i];
        const size_t off = p->offset, n = param_numel(p);
        const double lr_p = lr * optim_lr_scale(&o->cfg, p->kind);  // lr*1.0 is lr: no change
        if (p->group == OPT_GROUP_ADAMW)
            adamw_update_scaled(params + off, grads + off, m + off, v + off, n, &o->cfg, lr_p, o->t, p->decay, gs);
        else if (p->group == OPT_GROUP_SGD)
            sgd_update(params + off, grads + off, sgd_mom + off, n, &o->cfg, lr_p, p->decay, gs);
        else if (p->group == OPT_GROUP_LION)
            lion_update(params + off, grads + off, lion_m + off, n, &o->cfg, lr_p, p->decay, gs);
    }
    // Muon, Adafactor, SOAP: whole matrices in parallel, each on one thread with its own scratch
    // slot (the gemm inside runs single-threaded when nested). Matrices are independent, so the
    // bits do not depend on which thread takes which, nor on how many there are.
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
    if (threads > o->scratch_slots) threads = o->scratch_slots;
    if (threads > o->n_jobs) threads = o->n_jobs;
    if (threads < 1) threads = 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (int j = 0; j < o->n_jobs; j++) {
        int slot = 0;
#ifdef _OPENMP
        slot = omp_get_thread_num();
#endif
        step_matrix(o, o->jobs[2 * j], o->jobs[2 * j + 1], params, grads, lr, gs, slot);
    }
    (void)threads;
}

void optim_free(Optimizer *o) {
    for (int s = 0; s < o->n_state; s++) free(o->state[s].data);
    free(o->scratch);
    free(o->dscratch);
    free(o->iscratch);
    free(o->jobs);
    memset(o, 0, sizeof *o);
}
