// results.c — the trainer's own files (train_internal.h): metrics.csv and layers.csv, which grow
// during the run as temporary files, and manifest.json, written last, which marks a run as done
// (with the hash of its config: sweep.c's run_state).
// eval.csv and experts.csv grow beside them (evaluate/), and all four go into a checkpoint.
#include <errno.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "train_internal.h"
#include "../config/config.h"
#include "identity.h"

#ifndef MOESIM_VERSION
#define MOESIM_VERSION "0.1.0"
#endif
#ifndef MOESIM_BUILD_FLAGS
#define MOESIM_BUILD_FLAGS "unknown"
#endif

void iso_time(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int setfail(RunResult *r, const char *what, const char *msg) {
    r->status = RUN_FAILED;
    return io_fail(r->reason, sizeof r->reason, "%s: %s", what, msg);
}

AtomicFile *growing_file(TrainRun *R, int i) {
    AtomicFile *files[CKPT_NPARTIAL] = {&R->f_metrics, &R->f_layers, &R->ev.f_eval, &R->ev.f_experts};
    return files[i];
}

int open_outputs(TrainRun *R, RunResult *res) {
    char p[IO_DEEP_PATH_MAX];
    for (int i = 0; i < 2; i++)
        if (!afile_open(growing_file(R, i), path_join(p, sizeof p, R->ev.dir, ckpt_partial_names[i]))) {
            char msg[IO_MSG_MAX];
            snprintf(msg, sizeof msg, "cannot create %s: %s", errno == ENAMETOOLONG ? p : growing_file(R, i)->tmp,
                     strerror(errno));
            return setfail(res, "output", msg);
        }
    char err[IO_MSG_MAX];
    if (eval_open_outputs(&R->ev, err, sizeof err) != 0) {
        res->status = RUN_FAILED;
        snprintf(res->reason, sizeof res->reason, "%s", err);
        return -1;
    }
    return 0;
}

void metrics_csv_header(FILE *f, const Config *c) {
    fprintf(f, "step,loss,ce");
    if (c->balance_method == BAL_SWITCH || c->balance_method == BAL_L2) fprintf(f, ",aux");
    if (c->balance_z_alpha > 0) fprintf(f, ",z");
    if (c->balance_seq_alpha > 0) fprintf(f, ",seq_aux");
    fprintf(f, ",lr,grad_norm,maxvio_batch,tokens_per_s\n");
}

void layers_csv_header(FILE *f, int E) {
    fprintf(f, "step,layer,aux,z,seq_aux,maxvio_batch,bias_min,bias_max");
    for (int e = 0; e < E; e++) fprintf(f, ",load_%d", e);
    fputc('\n', f);
}

// Header rows, on a fresh start; a resumed run copies the checkpoint's rows instead.
void write_headers(TrainRun *R) {
    metrics_csv_header(R->f_metrics.f, R->ev.c);
    layers_csv_header(R->f_layers.f, R->ev.E);
    eval_write_headers(&R->ev);
}

void write_log_rows(TrainRun *R, int done, const Losses *l, double lr, double gn, double tps) {
    const Config *c = R->ev.c;
    const Model *m = &R->ev.model;
    double maxvio = 0;
    for (int i = 0; i < R->ev.L; i++) maxvio += m->blocks[i].maxvio / R->ev.L;
    FILE *f = R->f_metrics.f;
    fprintf(f, "%d,%.9g,%.9g", done, l->loss, l->ce);
    if (c->balance_method == BAL_SWITCH || c->balance_method == BAL_L2) fprintf(f, ",%.9g", l->aux);
    if (c->balance_z_alpha > 0) fprintf(f, ",%.9g", l->z);
    if (c->balance_seq_alpha > 0) fprintf(f, ",%.9g", l->seq_aux);
    fprintf(f, ",%.6g,%.9g,%.6g,%.1f\n", lr, gn, maxvio, tps);
    for (int i = 0; i < R->ev.L; i++) {
        const BlockActs *a = &m->blocks[i];
        const real *bias = m->bias + (size_t)i * R->ev.E;
        real bmin = bias[0], bmax = bias[0];
        for (int e = 1; e < R->ev.E; e++) { bmin = bias[e] < bmin ? bias[e] : bmin; bmax = bias[e] > bmax ? bias[e] : bmax; }
        fprintf(R->f_layers.f, "%d,%d,%.9g,%.9g,%.9g,%.6g,%.6g,%.6g", done, i, a->aux, a->zl, a->seq_aux, a->maxvio, bmin, bmax);
        for (int e = 0; e < R->ev.E; e++) fprintf(R->f_layers.f, ",%d", a->load[e]);
        fputc('\n', R->f_layers.f);
    }
}

int write_manifest(const TrainRun *R, const RunResult *res, const char *start, double wall) {
    char p[IO_DEEP_PATH_MAX], end[64];
    iso_time(end, sizeof end);
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->ev.dir, "manifest.json"));
    if (!f) return -1;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    char status[2100];
    if (res->status == RUN_OK) snprintf(status, sizeof status, "ok");
    else if (res->status == RUN_DIVERGED) snprintf(status, sizeof status, "diverged");
    else if (res->status == RUN_INTERRUPTED) snprintf(status, sizeof status, "interrupted");
    else snprintf(status, sizeof status, "failed: %s", res->reason);
    JsonWriter w;
    json_begin(&w, f);
    json_object(&w);
    json_key(&w, "run"); json_str(&w, R->opt->run_id ? R->opt->run_id : "run");
    json_key(&w, "status"); json_str(&w, status);
    json_key(&w, "reason"); json_str(&w, res->reason);
    json_key(&w, "resumed_from");
    if (R->resumed_from >= 0) json_int(&w, R->resumed_from); else json_null(&w);
    json_key(&w, "seed"); json_int(&w, R->ev.c->train_seed);
    json_key(&w, "data_seed"); json_int(&w, R->ev.c->data_seed);
    json_key(&w, "version"); json_str(&w, MOESIM_VERSION);
    json_key(&w, "build_flags"); json_str(&w, MOESIM_BUILD_FLAGS);
#ifdef _OPENMP
    json_key(&w, "openmp"); json_bool(&w, 1);
#else
    json_key(&w, "openmp"); json_bool(&w, 0);
#endif
    json_key(&w, "threads"); json_int(&w, threads);
    json_key(&w, "start"); json_str(&w, start);
    json_key(&w, "end"); json_str(&w, end);
    json_key(&w, "wall_s"); json_fixed(&w, wall, 3);
    json_key(&w, "steps_done"); json_int(&w, res->steps_done);
    json_key(&w, "final_loss"); json_double(&w, res->loss);
    json_key(&w, "final_ce"); json_double(&w, res->ce);
    json_key(&w, "eval_ce"); json_double(&w, R->ev.ev_ce);
    json_key(&w, "output_logit_norm"); json_double(&w, R->ev.ev_out_norm);
    json_key(&w, "output_max_prob"); json_double(&w, R->ev.ev_out_maxp);
    json_key(&w, "tokens_per_s"); json_fixed(&w, res->tokens_per_s, 1);
    json_key(&w, "parameters"); json_uint(&w, R->ev.model.table.total);
    json_text_world(&w, &R->ev);  // the text world's corpus and baselines (nothing for the others)
    json_key(&w, "final_eval");
    json_array(&w);
    for (int l = 0; l < R->ev.L; l++) {
        json_object(&w);
        json_key(&w, "layer"); json_int(&w, l);
        json_metrics(&w, &R->ev.lm[l]);
        json_end(&w);
    }
    json_end(&w);
    // what makes the run done for a sweep: its config, hashed as its config.toml (identity.h)
    char hash[17] = "";
    config_hash_hex(R->ev.c, hash);
    json_key(&w, "config_hash"); json_str(&w, hash);
    json_key(&w, "config"); json_config(&w, R->ev.c);
    json_end(&w);
    return afile_commit(&a);
}

void abort_outputs(TrainRun *R) {
    for (int i = 0; i < CKPT_NPARTIAL; i++) afile_abort(growing_file(R, i));
}
