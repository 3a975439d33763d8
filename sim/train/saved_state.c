// saved_state.c — a run's saved state, checked before any work: the checkpoint it resumes from
// (its own, in the run folder) and the model it warm-starts from (train.init_from). Both are read
// whole by ckpt_read (every file against state.json's list, finite arrays) into scratch objects,
// the checkpoint's partial CSVs against the rules of their writers (results.c, evaluate/writers.c).
// The sweep calls run_check_saved for every point before it creates any folder; train_run reads
// the same way when it starts, so a run started some other way is checked too.
#define _XOPEN_SOURCE 700  // realpath
#include <stdlib.h>
#include <string.h>
#include "train_internal.h"
#include "../config/config.h"
#include "../models/corpus_check.h"
#include "../models/spec.h"

// The text a header writer writes, without its newline (malloc'ed; NULL when out of memory).
static char *header_text(void (*write)(FILE *, const Config *, int), const Config *c, int E) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    write(f, c, E);
    if (fclose(f) != 0) { free(buf); return NULL; }
    if (len > 0 && buf[len - 1] == '\n') buf[len - 1] = 0;
    return buf;
}

static void w_metrics(FILE *f, const Config *c, int E) { (void)E; metrics_csv_header(f, c); }
static void w_layers(FILE *f, const Config *c, int E) { (void)c; layers_csv_header(f, E); }
static void w_eval(FILE *f, const Config *c, int E) { (void)c; (void)E; eval_csv_header(f); }
static void w_experts(FILE *f, const Config *c, int E) { (void)c; (void)E; experts_csv_header(f); }

// The rules of the four partial CSVs (ckpt_partial_names' order) of a run of config c, as the
// loop in train.c writes them: metrics.csv one row and layers.csv L rows at every multiple of
// train.log_every; eval.csv L rows and experts.csv L x domains x E rows at step 0 and at every
// multiple of eval.every (0: at the end only, which no checkpoint holds). Returns 0, or -1 (out of
// memory) with the headers freed.
static int partial_rules(const Config *c, CkptCsvRule rules[CKPT_NPARTIAL]) {
    ModelSpec ms;
    model_spec_from_config(&ms, c);
    int E = c->model_experts, L = ms.L, log = c->train_log_every, ev = c->eval_every;
    void (*writers[CKPT_NPARTIAL])(FILE *, const Config *, int) = {w_metrics, w_layers, w_eval, w_experts};
    CkptCsvRule r[CKPT_NPARTIAL] = {
        {.first = log, .every = log},
        {.first = log, .every = log, .nkeys = 1, .radix = {L}},
        {.first = 0, .every = ev, .nkeys = 1, .radix = {L}},
        {.first = 0, .every = ev, .nkeys = 3, .radix = {L, c->data_domains, E}},
    };
    int bad = 0;
    for (int i = 0; i < CKPT_NPARTIAL; i++) bad |= !(r[i].header = header_text(writers[i], c, E));
    memcpy(rules, r, sizeof r);
    if (bad)
        for (int i = 0; i < CKPT_NPARTIAL; i++) { free(rules[i].header); rules[i].header = NULL; }
    return bad ? -1 : 0;
}

static void partial_rules_free(CkptCsvRule rules[CKPT_NPARTIAL]) {
    for (int i = 0; i < CKPT_NPARTIAL; i++) free(rules[i].header);
}

// A checkpoint that cannot be resumed is damaged, and the way on is to start the run over (never
// a warm-start key: the checkpoint is the run's own).
static int damaged(char *err, size_t errlen, const char *found) {
    char why[IO_MSG_MAX];
    snprintf(why, sizeof why, "%s", err);
    return io_fail(err, errlen, "the checkpoint %s is damaged: %s; to start the run over, remove %s or run with "
                   "--force", found, why, found);
}

// The text world: a run of c that resumes or warm-starts from a saved model must read the same
// text under each domain name it shares (sim/models/corpus_check.h). Returns 0, or -1 with err
// naming the domain.
static int check_corpus(const char *found, const Config *c, char *err, size_t errlen) {
    char msg[IO_MSG_MAX];
    int rc = saved_corpus_check(found, c, msg, sizeof msg);
    if (rc > 0) return io_fail(err, errlen, "%s: %s; data.corpus must name the text the model was trained on", found, msg);
    if (rc < 0) return io_fail(err, errlen, "%s", msg);
    return 0;
}

int train_resume_check(const char *run_dir, const Config *c, Config *saved, char *found, size_t cap, char *err,
                       size_t errlen) {
    if (ckpt_resolve(run_dir, 1, found, cap, err, errlen) != 0) return 0;  // nothing to resume
    if (ckpt_read_config(found, saved, err, errlen) != 0) return damaged(err, errlen, found);
    if (!config_same_results(saved, c))
        return io_fail(err, errlen, "%s/config.toml: the experiment changed since this checkpoint was written "
                       "(run with --force to start over)", found);
    if (check_corpus(found, c, err, errlen) != 0) {
        char why[IO_MSG_MAX];
        snprintf(why, sizeof why, "%s", err);
        return io_fail(err, errlen, "%s (run with --force to start over)", why);
    }
    return 1;
}

int train_resume_read(const char *found, const Config *c, Model *m, Optimizer *o, Rng *batch_rng,
                      FILE *const partial[CKPT_NPARTIAL], int *step, char *err, size_t errlen) {
    CkptCsvRule rules[CKPT_NPARTIAL];
    if (partial_rules(c, rules) != 0) return io_fail(err, errlen, "%s: out of memory checking the checkpoint", found);
    CkptRead r = {.optim = o, .batch_rng = batch_rng, .step = step, .partial_rules = rules, .purpose = CKPT_FOR_RESUME};
    for (int i = 0; partial && i < CKPT_NPARTIAL; i++) r.partial[i] = partial[i];
    int rc = ckpt_read(found, m, &r, err, errlen);
    partial_rules_free(rules);
    if (rc != 0) return damaged(err, errlen, found);
    if (*step > c->train_steps)
        return io_fail(err, errlen, "%s: checkpoint at step %d, beyond train.steps = %d", found, *step, c->train_steps);
    return 0;
}

int train_init_from_check(const Config *c, Config *saved, char *found, size_t cap, char *err, size_t errlen) {
    if (ckpt_resolve(c->train_init_from, 0, found, cap, err, errlen) != 0 ||
        ckpt_read_config(found, saved, err, errlen) != 0 || ckpt_check_shapes(saved, c, found, err, errlen) != 0 ||
        check_corpus(found, c, err, errlen) != 0)
        return -1;
    return 0;
}

int train_init_from_read(const char *found, Model *m, Optimizer *o, char *err, size_t errlen) {
    CkptRead r = {.optim = o, .purpose = CKPT_FOR_WARM_START};
    return ckpt_read(found, m, &r, err, errlen);
}

// A model and an optimizer of config c, built to be read into and thrown away.
static int scratch_build(const Config *c, int with_optim, Model *m, Optimizer *o, char *err, size_t errlen) {
    ModelSpec ms;
    model_spec_from_config(&ms, c);
    if (model_build(m, &ms, err, errlen) != 0) return -1;
    if (!with_optim) return 0;
    OptimConfig oc;
    optim_config_from_config(&oc, c);
    if (optim_init(o, &oc, &m->table, err, errlen) != 0) { model_free(m); return -1; }
    return 0;
}

int run_check_saved(const Config *c, const char *run_dir, int resume, char *err, size_t errlen) {
    char found[IO_DEEP_PATH_MAX], msg[IO_MSG_MAX];
    Config saved;
    Model m;
    Optimizer o;
    int rc = resume ? train_resume_check(run_dir, c, &saved, found, sizeof found, msg, sizeof msg) : 0;
    if (rc > 0) {
        int step;
        Rng rng;
        rc = scratch_build(c, 1, &m, &o, msg, sizeof msg);
        if (rc == 0) {
            rc = train_resume_read(found, c, &m, &o, &rng, NULL, &step, msg, sizeof msg);
            optim_free(&o);
            model_free(&m);
        }
    }
    if (rc < 0) return io_fail(err, errlen, "cannot resume %s: %s", run_dir, msg);
    if (!c->train_init_from[0]) return 0;
    int opt = c->train_init_optimizer;
    if (train_init_from_check(c, &saved, found, sizeof found, msg, sizeof msg) != 0 ||
        scratch_build(c, opt, &m, &o, msg, sizeof msg) != 0)
        return io_fail(err, errlen, "train.init_from: %s", msg);
    // the run's own folder: the run replaces its model/ and checkpoint/ (--force removes them
    // before it starts), so it would warm-start from nothing, or from itself
    char *own = realpath(run_dir, NULL), *from = realpath(found, NULL);
    size_t n = own ? strlen(own) : 0;
    int inside = own && from && strncmp(from, own, n) == 0 && (from[n] == '/' || from[n] == '\0');
    free(own);
    free(from);
    if (inside) {
        if (opt) optim_free(&o);
        model_free(&m);
        return io_fail(err, errlen, "train.init_from: %s is in this run's own folder %s, which the run replaces: "
                       "copy the model elsewhere first, or start from another run", found, run_dir);
    }
    rc = train_init_from_read(found, &m, opt ? &o : NULL, msg, sizeof msg);
    if (opt) optim_free(&o);
    model_free(&m);
    return rc != 0 ? io_fail(err, errlen, "train.init_from: %s", msg) : 0;
}
