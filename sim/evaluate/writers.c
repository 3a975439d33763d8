// writers.c — the evaluator's files (evaluate.h): eval.csv and experts.csv (rows by eval_measure),
// and those of the final evaluation: pairs.csv, removal.csv, prune.csv, truncation.csv, dump/,
// config.toml. Every file is written atomically (io.h). Also the JSON of a config and of a layer's
// scalars, and truncation.csv's rows, which tools/ writes too.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "evaluate.h"
#include "../config/config.h"
#include "../measure/truncation.h"
#include "../use/prune.h"

int eval_open_outputs(Evaluator *R, char *err, size_t errlen) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile *files[2] = {&R->f_eval, &R->f_experts};
    const char *names[2] = {"eval.csv", "experts.csv"};
    for (int i = 0; i < 2; i++)
        if (!afile_open(files[i], path_join(p, sizeof p, R->dir, names[i]))) {
            snprintf(err, errlen, "output: cannot create %s: %s", files[i]->tmp, strerror(errno));
            return -1;
        }
    return 0;
}

void eval_csv_header(FILE *f) {
    const char *names[METRICS_NSCALARS];
    LayerMetrics dummy = {0};
    int n = metrics_list(names, NULL, NULL, &dummy);
    fprintf(f, "step,layer,eval_ce");
    for (int i = 0; i < n; i++) fprintf(f, ",%s", names[i]);
    fputs(",output_logit_norm,output_max_prob\n", f);  // model-level, like eval_ce (issue 22)
}

void experts_csv_header(FILE *f) { fprintf(f, "step,layer,domain,expert,frequency\n"); }

void eval_write_headers(Evaluator *R) {
    eval_csv_header(R->f_eval.f);
    experts_csv_header(R->f_experts.f);
}

static int write_pairs(const Evaluator *R) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "pairs.csv"));
    if (!f) return -1;
    fprintf(f, "layer,i,j,rms_hidden,rms_logits,prop1_lhs,prop1_rhs\n");
    for (int i = 0; i < R->c->eval_pairs; i++)
        fprintf(f, "%d,%d,%d,%.6g,%.6g,%.6g,%.6g\n", R->L - 1, R->arrays.pairs[2 * i], R->arrays.pairs[2 * i + 1],
                R->arrays.rms_hidden[i], R->arrays.rms_logits[i], R->arrays.prop1_lhs[i], R->arrays.prop1_rhs[i]);
    return afile_commit(&a);
}

// Expert-removal sensitivity (DeepSeekMoE): the evaluation cross-entropy when every token's
// round(r·E) best experts are masked in every layer and the top K re-picked, for each r of
// eval.removal. Decoder only (the router kind has no language-model loss).
static int write_removal(Evaluator *R) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "removal.csv"));
    if (!f) return -1;
    fprintf(f, "r,masked_experts,eval_ce,delta_ce\n");
    double base = R->ev_ce;
    fprintf(f, "0,0,%.9g,0\n", base);
    for (int i = 0; i < R->c->eval_removal.n && !R->router; i++) {
        double r = R->c->eval_removal.v[i];
        int masked = (int)floor(r * R->E + 0.5);
        if (masked < 1 || masked + R->K > R->E) continue;
        const ForwardSwitches sw = {.mask_top = masked};
        double ce = eval_forward(R, &sw);
        fprintf(f, "%g,%d,%.9g,%.9g\n", r, masked, ce, ce - base);
    }
    return afile_commit(&a);
}

// Fig. 24: per layer, the share of evaluation tokens whose m-th expert by logit survives keeping
// only the top-r right singular directions of the router inputs (measure/truncation.h).
int truncation_csv_layer(FILE *f, int layer, const float *H, const float *P, size_t N, int D, int E, int K) {
    int rs[24], nr = truncation_ranks(rs, D);
    double *agree = malloc(sizeof(double) * (size_t)nr * K);
    if (!agree || truncation_agreement(agree, H, P, N, D, E, K, rs, nr) != 0) {
        free(agree);
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < nr; i++)
        for (int m = 0; m < K; m++) fprintf(f, "%d,%d,%d,%.6f\n", layer, rs[i], m + 1, agree[(size_t)i * K + m]);
    free(agree);
    return 0;
}

static int write_truncation(const Evaluator *R) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "truncation.csv"));
    if (!f) return -1;
    fputs(TRUNCATION_CSV_HEADER, f);
    int bad = 0;
    for (int l = 0; l < R->L && !bad; l++) {
        LayerData d = layer_data(R, l);
        bad = truncation_csv_layer(f, l, d.H, d.P, d.N, d.D, d.E, d.K) != 0;
    }
    if (bad) { afile_abort(&a); errno = ENOMEM; return -1; }
    return afile_commit(&a);
}

// The table part of a schema key ("model.top_k" -> 5, the length of "model"), as config's dumps
// split keys (config_write_toml).
static size_t key_table_len(const char *key) {
    const char *dot = strchr(key, '.');
    return dot ? (size_t)(dot - key) : 0;
}

void json_config(JsonWriter *w, const Config *c) {
    char v[CFG_VALUE_MAX], table[128];
    json_object(w);
    for (int t = 0; t < CFG_NKEYS; t++) {
        // a table starts at its first key (its keys need not be adjacent in the schema)
        size_t tl = key_table_len(cfg_keys[t].key);
        int first = 1;
        for (int k = 0; k < t && first; k++)
            first = !(key_table_len(cfg_keys[k].key) == tl && !strncmp(cfg_keys[k].key, cfg_keys[t].key, tl));
        if (!first) continue;
        snprintf(table, sizeof table, "%.*s", (int)tl, cfg_keys[t].key);
        json_key(w, table);
        json_object(w);
        for (int k = t; k < CFG_NKEYS; k++) {
            if (key_table_len(cfg_keys[k].key) != tl || strncmp(cfg_keys[k].key, cfg_keys[t].key, tl)) continue;
            const char *dot = strrchr(cfg_keys[k].key, '.');
            json_key(w, dot ? dot + 1 : cfg_keys[k].key);
            const CfgType ty = cfg_keys[k].type;
            if (ty == CFG_STR || ty == CFG_CHOICE) {
                config_format_value(c, k, 0, v, sizeof v);
                json_str(w, v);
            } else {
                config_format_value(c, k, 1, v, sizeof v);  // TOML numbers, booleans, arrays are JSON
                json_raw(w, v);
            }
        }
        json_end(w);
    }
    json_end(w);
}

void json_text_world(JsonWriter *w, const Evaluator *R) {
    const TextCorpus *tc = R->world.text;
    if (!tc) return;
    const cfg_STRS *cs = &R->world.spec.corpus;
    char hex[17];
    json_key(w, "corpus");
    json_array(w);
    for (int d = 0; d < tc->n; d++) {
        const TextDomain *td = &tc->d[d];
        json_object(w);
        json_key(w, "name"); json_str(w, td->name);
        json_key(w, "paths");
        json_array_flat(w);
        for (int i = 0; i < td->nentries; i++) {
            const char *e = cs->s[td->entries[i]], *eq = strchr(e, '=');
            json_str(w, eq ? eq + 1 : e);
        }
        json_end(w);
        json_key(w, "files"); json_int(w, td->files);
        json_key(w, "documents"); json_int(w, td->documents);
        json_key(w, "train_documents"); json_int(w, td->train_documents);
        json_key(w, "eval_documents"); json_int(w, td->eval_documents);
        json_key(w, "bytes"); json_uint(w, (unsigned long long)td->bytes);
        json_key(w, "train_bytes"); json_uint(w, (unsigned long long)td->train_len);
        json_key(w, "eval_bytes"); json_uint(w, (unsigned long long)td->eval_len);
        io_hash_hex(td->hash, hex);
        json_key(w, "fnv1a64"); json_str(w, hex);
        json_end(w);
    }
    json_end(w);
    if (!R->has_baselines) return;
    json_key(w, "baselines");
    json_object(w);
    json_key(w, "unigram_ce"); json_double(w, R->base_uni[tc->n]);
    json_key(w, "bigram_ce"); json_double(w, R->base_bi[tc->n]);
    json_key(w, "domains");
    json_array(w);
    for (int d = 0; d < tc->n; d++) {
        json_object_flat(w);
        json_key(w, "name"); json_str(w, tc->d[d].name);
        json_key(w, "unigram_ce"); json_double(w, R->base_uni[d]);
        json_key(w, "bigram_ce"); json_double(w, R->base_bi[d]);
        json_end(w);
    }
    json_end(w);
    json_end(w);
}

void json_metrics(JsonWriter *w, const LayerMetrics *m) {
    const char *names[METRICS_NSCALARS];
    double values[METRICS_NSCALARS];
    metrics_list(names, NULL, values, m);
    for (int i = 0; i < METRICS_NSCALARS; i++) {
        json_key(w, names[i]);
        json_double(w, values[i]);
    }
}

int write_config(const Evaluator *R) {
    char p[IO_DEEP_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "config.toml"));
    if (!f) return -1;
    config_write_toml(f, R->c);
    return afile_commit(&a);
}

static int write_dumps(const Evaluator *R) {
    char p[IO_DEEP_PATH_MAX], name[128];
    if (mkdir_p(path_join(p, sizeof p, R->dir, "dump")) != 0) return -1;
    int bad = 0;
    for (int l = 0; l < R->L; l++) {
        LayerData d = layer_data(R, l);
        size_t sh[2] = {R->ev_n, (size_t)R->D};
        snprintf(name, sizeof name, "dump/blocks.%d.hidden.npy", l);
        bad |= npy_write(path_join(p, sizeof p, R->dir, name), "<f4", d.H, 2, sh);
        size_t shp[2] = {(size_t)R->E, (size_t)R->D};
        snprintf(name, sizeof name, "dump/blocks.%d.router.npy", l);
        bad |= npy_write(path_join(p, sizeof p, R->dir, name), "<f4", d.P, 2, shp);
    }
    size_t sh1[1] = {R->ev_n};
    bad |= npy_write(path_join(p, sizeof p, R->dir, "dump/domains.npy"), "<i4", R->ev_tok_domain, 1, sh1);
    return bad ? -1 : 0;
}

// The files of the final evaluation beside eval.csv, shared by a finished run and `moesim eval`:
// pairs.csv, removal.csv, prune.csv (eval.prune_keep > 0), truncation.csv, dump/ (eval.dump),
// routes.json (eval.show_tokens, token worlds).
// Returns 0, or -1 with err naming the first file that could not be written and why.
int write_final_evaluation(Evaluator *R, char *err, size_t errlen) {
    const char *name = NULL;
    if (write_pairs(R) != 0) name = "pairs.csv";
    else if (write_removal(R) != 0) name = "removal.csv";
    else if (prune_write(R->c, &R->model, &R->world, R->dir, err, errlen) != 0) return -1;
    else if (write_truncation(R) != 0) name = "truncation.csv";
    else if (R->c->eval_dump && write_dumps(R) != 0) name = "dump/";
    else if (R->c->eval_show_tokens > 0 && !R->router && write_routes(R) != 0) name = "routes.json";
    if (!name) return 0;
    snprintf(err, errlen, "cannot write %s/%s: %s", R->dir, name, strerror(errno));
    return -1;
}
