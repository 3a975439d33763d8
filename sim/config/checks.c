// checks.c — the error list and the cross-field checks (`top_k <= experts`, …) that every sweep
// point must pass before any work starts. Each check names every key it involves.
#include "config.h"
#include "config_internal.h"
#include "toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// ---- errors -----------------------------------------------------------------------------------

static void err_addv(CfgErrors *e, const char *fmt, va_list ap) {
    if (e->n < CFG_ERRORS_MAX) vsnprintf(e->msg[e->n], CFG_ERROR_LEN, fmt, ap);
    e->n++;
}

void err_add(CfgErrors *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err_addv(e, fmt, ap);
    va_end(ap);
}

void cfg_errors_print(const CfgErrors *e, FILE *f) {
    int kept = e->n < CFG_ERRORS_MAX ? e->n : CFG_ERRORS_MAX;
    for (int i = 0; i < kept; i++) fprintf(f, "%s\n", e->msg[i]);
    if (e->n > kept) fprintf(f, "... and %d more errors\n", e->n - kept);
}

// ---- cross-field checks -----------------------------------------------------------------------


typedef struct {
    FailFn fail;
    void *u;
    int n;
} Checks;

static void xfail(Checks *x, int k1, int k2, int k3, const char *fmt, ...) {
    int keys[3], n = 0;
    if (k1 >= 0) keys[n++] = k1;
    if (k2 >= 0) keys[n++] = k2;
    if (k3 >= 0) keys[n++] = k3;
    char msg[TOML_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->fail(x->u, keys, n, msg);
    x->n++;
}

static const char *choice(const Config *c, int k, char *buf, size_t cap) {
    if (!config_choice_name(k, *CFIELD(c, k, cfg_CHOICE), buf, cap)) snprintf(buf, cap, "?");
    return buf;
}

// The combinations a user can get wrong, each naming every key it involves.
int run_checks(const Config *c, FailFn fail, void *u) {
    Checks x = {fail, u, 0};
    char a[64];
    if (c->model_top_k > c->model_experts)
        xfail(&x, CFGK_model_top_k, CFGK_model_experts, -1, "model.top_k = %d must be at most model.experts = %d",
              c->model_top_k, c->model_experts);
    if (c->train_micro_batch > 0 && c->train_batch % c->train_micro_batch != 0)
        xfail(&x, CFGK_train_micro_batch, CFGK_train_batch, -1,
              "train.micro_batch = %d must divide train.batch = %d", c->train_micro_batch, c->train_batch);
    if (c->model_kind == MODEL_DECODER && c->model_attention && c->model_d_model % c->model_heads != 0)
        xfail(&x, CFGK_model_heads, CFGK_model_d_model, -1, "model.heads = %d must divide model.d_model = %d",
              c->model_heads, c->model_d_model);
    if (c->model_kind == MODEL_ROUTER && c->data_world != WORLD_GEOMETRY)
        xfail(&x, CFGK_model_kind, CFGK_data_world, -1,
              "model.kind = \"router\" requires data.world = \"geometry\", found \"%s\"",
              choice(c, CFGK_data_world, a, sizeof a));
    if (c->data_world == WORLD_GEOMETRY && c->model_kind != MODEL_ROUTER)
        xfail(&x, CFGK_data_world, CFGK_model_kind, -1,
              "data.world = \"geometry\" requires model.kind = \"router\", found \"%s\"",
              choice(c, CFGK_model_kind, a, sizeof a));
    if (c->train_warmup > c->train_steps)
        xfail(&x, CFGK_train_warmup, CFGK_train_steps, -1, "train.warmup = %d must be at most train.steps = %d",
              c->train_warmup, c->train_steps);
    if (c->optim_name == OPTIM_MUON && c->model_kind == MODEL_ROUTER && !c->optim_muon_router)
        xfail(&x, CFGK_optim_name, CFGK_optim_muon_router, CFGK_model_kind,
              "optim.name = \"muon\" has no matrix to update: with model.kind = \"router\" the router is the "
              "only matrix, and optim.muon_router = false");
    if (c->optim_sgd_nesterov && c->optim_sgd_momentum == 0)
        xfail(&x, CFGK_optim_sgd_nesterov, CFGK_optim_sgd_momentum, -1,
              "optim.sgd_nesterov = true needs optim.sgd_momentum > 0 (with momentum 0 there is nothing to look "
              "ahead along: it is plain SGD)");
    if ((long long)c->eval_sequences * c->data_domains > 100000000LL)
        xfail(&x, CFGK_eval_sequences, CFGK_data_domains, -1,
              "eval.sequences = %d times data.domains = %d is more than 1e8 evaluation sequences",
              c->eval_sequences, c->data_domains);
    if (c->data_world == WORLD_DOMAINS) {
        const int S = c->data_shared_vocab, K = c->data_domains, V = c->model_vocab, b = c->data_branching;
        const double sp = c->data_shared_prob;
        if ((long long)S + K > V) {
            xfail(&x, CFGK_data_shared_vocab, CFGK_data_domains, CFGK_model_vocab,
                  "data.shared_vocab = %d plus data.domains = %d must be at most model.vocab = %d (each domain "
                  "needs at least one private token)", S, K, V);
        } else if (sp > 0 && S == 0) {
            xfail(&x, CFGK_data_shared_prob, CFGK_data_shared_vocab, -1,
                  "data.shared_prob = %g needs shared tokens, but data.shared_vocab = 0", sp);
        } else {
            const int P = (V - S) / K, reach = sp == 0 ? P : sp == 1 ? S : S + P;
            const long long A = S + P, states = c->data_order == 1 ? A : A * A;
            if (b > reach)
                xfail(&x, CFGK_data_branching, CFGK_data_shared_vocab, CFGK_data_domains,
                      "data.branching = %d must be at most %d, the distinct tokens a state can reach "
                      "(data.shared_vocab = %d, private block (model.vocab - data.shared_vocab) / data.domains "
                      "= %d, data.shared_prob = %g)", b, reach, S, P, sp);
            else if ((double)K * (double)states * b > (double)WORLD_MAX_SLOTS)
                xfail(&x, CFGK_data_domains, CFGK_data_branching, CFGK_data_order,
                      "the domains world needs %.0f successor slots (data.domains = %d x %lld states "
                      "(data.order = %d) x data.branching = %d), over the limit of %zu: lower model.vocab, "
                      "data.domains, data.branching or data.order",
                      (double)K * (double)states * b, K, states, c->data_order, b, (size_t)WORLD_MAX_SLOTS);
        }
    }
    // The text world (docs/WORLDS.md): bytes, and one domain per distinct name of data.corpus. The
    // files themselves are read before any work too, but not here (sim/train/sweep.c).
    if (c->data_world == WORLD_TEXT) {
        if (c->model_vocab != 256)
            xfail(&x, CFGK_model_vocab, CFGK_data_world, -1,
                  "model.vocab = %d: data.world = \"text\" reads bytes, so model.vocab must be 256",
                  c->model_vocab);
        if (c->model_kind != MODEL_DECODER)
            xfail(&x, CFGK_model_kind, CFGK_data_world, -1, "data.world = \"text\" requires model.kind = \"decoder\"");
        const cfg_STRS *cs = &c->data_corpus;
        int names = 0, bad = 0;
        for (int i = 0; i < cs->n && !bad; i++) {
            const char *eq = strchr(cs->s[i], '=');
            if (!eq || eq == cs->s[i] || !eq[1]) {
                xfail(&x, CFGK_data_corpus, -1, -1,
                      "data.corpus: element %d \"%.80s\": expected \"name=path\" (a name, '=', a file, folder or "
                      "glob pattern)", i + 1, cs->s[i]);
                bad = 1;
                break;
            }
            int seen = 0;
            for (int j = 0; j < i && !seen; j++) {
                const char *e2 = strchr(cs->s[j], '=');
                seen = e2 && e2 - cs->s[j] == eq - cs->s[i] && !strncmp(cs->s[j], cs->s[i], (size_t)(eq - cs->s[i]));
            }
            names += !seen;
        }
        if (cs->n == 0)
            xfail(&x, CFGK_data_corpus, CFGK_data_world, -1,
                  "data.world = \"text\" needs data.corpus: a list of \"name=path\" domains");
        else if (!bad && names != c->data_domains)
            xfail(&x, CFGK_data_domains, CFGK_data_corpus, -1,
                  "data.domains = %d must equal the %d domain name%s of data.corpus (a name given again adds paths "
                  "to its domain)", c->data_domains, names, names == 1 ? "" : "s");
    }
    if (c->data_world == WORLD_CYCLIC && c->data_domains > c->model_vocab)
        xfail(&x, CFGK_data_domains, CFGK_model_vocab, -1,
              "data.domains = %d must be at most model.vocab = %d (the cyclic world gives each domain "
              "model.vocab / data.domains tokens)", c->data_domains, c->model_vocab);
    // Copy training (data.repeat_prob > 0): the repeated prefix fits a sequence; only token worlds.
    if (c->data_repeat_prob > 0) {
        if (c->data_world == WORLD_GEOMETRY)
            xfail(&x, CFGK_data_repeat_prob, CFGK_data_world, -1,
                  "data.repeat_prob = %g needs token sequences: data.world = \"geometry\" has none",
                  c->data_repeat_prob);
        if (c->data_repeat_len > c->model_seq_len)
            xfail(&x, CFGK_data_repeat_len, CFGK_model_seq_len, -1,
                  "data.repeat_len = %d must be at most model.seq_len = %d (data.repeat_prob = %g repeats the "
                  "first data.repeat_len tokens of a sequence)", c->data_repeat_len, c->model_seq_len,
                  c->data_repeat_prob);
    }
    // The paper's duplication (eval.duplicate_content = m > 0): n whole copies of m tokens fit the
    // learned positions, each copy holds a next-token prediction, only token worlds, no transform.
    if (c->eval_duplicate_content == 1)
        xfail(&x, CFGK_eval_duplicate_content, -1, -1,
              "eval.duplicate_content = 1: expected 0 (off) or at least 2 (the last copy's next-token loss "
              "needs two tokens)");
    if (c->eval_duplicate_content > 0) {
        if ((long long)c->eval_duplicate * c->eval_duplicate_content > c->model_seq_len)
            xfail(&x, CFGK_eval_duplicate_content, CFGK_eval_duplicate, CFGK_model_seq_len,
                  "eval.duplicate = %d copies of eval.duplicate_content = %d tokens need %lld positions, more than "
                  "model.seq_len = %d (the positions the model learned)", c->eval_duplicate,
                  c->eval_duplicate_content, (long long)c->eval_duplicate * c->eval_duplicate_content,
                  c->model_seq_len);
        if (c->data_world == WORLD_GEOMETRY)
            xfail(&x, CFGK_eval_duplicate_content, CFGK_data_world, -1,
                  "eval.duplicate_content = %d needs token sequences: data.world = \"geometry\" has none",
                  c->eval_duplicate_content);
        if (c->eval_transform != TRANSFORM_NONE)
            xfail(&x, CFGK_eval_duplicate_content, CFGK_eval_transform, -1,
                  "eval.duplicate_content = %d cannot be combined with eval.transform = \"%s\" (a transform "
                  "would break the copies)", c->eval_duplicate_content, choice(c, CFGK_eval_transform, a, sizeof a));
    }
    // Pruning (sim/use/prune.c): only checked against the model when it is on (prune_keep > 0).
    int pdom = 0, pidx = 0;
    if (config_prune_on(c->eval_prune_on, &pdom, &pidx) != 0)
        xfail(&x, CFGK_eval_prune_on, -1, -1,
              "eval.prune_on = \"%.60s\": expected \"sequence:<i>\" (evaluation sequence i) or \"domain:<d>\" "
              "(all evaluation sequences of domain d), i and d whole numbers >= 0", c->eval_prune_on);
    else if (c->eval_prune_keep > 0 && !pdom && (long long)pidx >= (long long)c->eval_sequences * c->data_domains)
        xfail(&x, CFGK_eval_prune_on, CFGK_eval_sequences, CFGK_data_domains,
              "eval.prune_on = \"%s\": the evaluation set has eval.sequences = %d x data.domains = %d sequences "
              "(0..%lld)", c->eval_prune_on, c->eval_sequences, c->data_domains,
              (long long)c->eval_sequences * c->data_domains - 1);
    else if (c->eval_prune_keep > 0 && pdom && pidx >= c->data_domains)
        xfail(&x, CFGK_eval_prune_on, CFGK_data_domains, -1,
              "eval.prune_on = \"%s\": the world has data.domains = %d (domains 0..%d)", c->eval_prune_on,
              c->data_domains, c->data_domains - 1);
    if (c->eval_prune_keep > 0) {
        if (c->model_kind != MODEL_DECODER)
            xfail(&x, CFGK_eval_prune_keep, CFGK_model_kind, -1,
                  "eval.prune_keep = %d needs model.kind = \"decoder\": pruning measures next-token NLL",
                  c->eval_prune_keep);
        if (c->eval_prune_keep < c->model_top_k)
            xfail(&x, CFGK_eval_prune_keep, CFGK_model_top_k, -1,
                  "eval.prune_keep = %d must be at least model.top_k = %d (every token chooses top_k kept experts)",
                  c->eval_prune_keep, c->model_top_k);
        else if (c->eval_prune_keep >= c->model_experts)
            xfail(&x, CFGK_eval_prune_keep, CFGK_model_experts, -1,
                  "eval.prune_keep = %d must be less than model.experts = %d (keeping every expert prunes nothing; "
                  "0 turns pruning off)", c->eval_prune_keep, c->model_experts);
        if (c->eval_prune_layers > c->model_layers)
            xfail(&x, CFGK_eval_prune_layers, CFGK_model_layers, -1,
                  "eval.prune_layers = %d must be at most model.layers = %d", c->eval_prune_layers, c->model_layers);
    }
    // The name becomes a directory: results/<name>/.
    const char *nm = c->experiment_name;
    int ok = nm[0] != '.';
    for (const char *p = nm; *p; p++)
        ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.';
    if (!ok)
        xfail(&x, CFGK_experiment_name, -1, -1,
              "experiment.name = \"%.60s\": use only letters, digits, '_', '-' and '.' (not first); it names "
              "the results folder", nm);
    return x.n;
}

int config_prune_on(const char *s, int *domain, int *index) {
    const char *p;
    if (!strncmp(s, "sequence:", 9)) { *domain = 0; p = s + 9; }
    else if (!strncmp(s, "domain:", 7)) { *domain = 1; p = s + 7; }
    else return -1;
    long long v = 0;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (*p - '0')) > 2147483647LL) return -1;
    if (*p) return -1;
    *index = (int)v;
    return 0;
}

typedef struct {
    CfgErrors *e;
    const char *where;
} ValidateCtx;

static void validate_fail(void *u, const int *keys, int nkeys, const char *msg) {
    ValidateCtx *v = u;
    (void)keys; (void)nkeys;
    if (v->where) err_add(v->e, "%s: %s", v->where, msg);
    else err_add(v->e, "%s", msg);
}

int config_validate(const Config *c, const char *where, CfgErrors *e) {
    ValidateCtx v = {e, where};
    return run_checks(c, validate_fail, &v);
}
