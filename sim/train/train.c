// train.c — one training run, top to bottom (train_run, at the end of this file): build the world,
// the model and the evaluation set (evaluate/), the optimizer and the batch source (all memory
// allocated here, before the first step), then per step: train_step (batch → zero grads → forward
// → NaN check → backward → gradient norm → NaN check → clip → optimizer step → aux-free bias,
// step.c) → log rows (results.c); evaluations at step 0, every eval.every steps and at the end;
// checkpoints every train.checkpoint_every steps or on a signal. Files are written atomically;
// manifest.json comes last and is what marks a run as done.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "train_internal.h"
#include "../config/config.h"
#include "../models/spec.h"

volatile sig_atomic_t train_stop_signal = 0;

// The evaluator builds the world, the model and the evaluation set; the model is initialized here
// (train.seed), then the optimizer and the batch source.
static int run_setup(TrainRun *R, const Config *c, const char *dir, RunResult *res) {
    char err[IO_MSG_MAX];
    if (evaluator_setup(&R->ev, c, dir, err, sizeof err) != 0) {
        res->status = RUN_FAILED;
        snprintf(res->reason, sizeof res->reason, "%s", err);
        return -1;
    }
    if (R->ev.world.text) text_corpus_record(R->ev.world.text, R->corpus, sizeof R->corpus);
    model_init_params(&R->ev.model, (uint64_t)c->train_seed, c->model_init_std, c->model_embed_shared);
    OptimConfig oc;
    optim_config_from_config(&oc, c);
    if (optim_init(&R->optim, &oc, &R->ev.model.table, err, sizeof err) != 0) return setfail(res, "optim", err);
    R->optim_ok = 1;
    if (batch_source_init(&R->batches, c, &R->ev.world) != 0) {
        char sz[32];
        snprintf(err, sizeof err, "out of memory allocating the training batches (%s)",
                 io_bytes_text(sz, sizeof sz, batch_source_bytes(c)));
        return setfail(res, "memory", err);
    }
    R->batches_ok = 1;
    return 0;
}

static void run_teardown(TrainRun *R) {
    if (R->optim_ok) optim_free(&R->optim);
    if (R->batches_ok) batch_source_free(&R->batches);
    evaluator_teardown(&R->ev);
}

static void progress_line(const TrainRun *R, int step, int steps, const Losses *l, double tps, double eta) {
    if (R->opt->quiet) return;
    FILE *out = R->opt->progress ? R->opt->progress : stderr;
    if (R->opt->tty) fputs("\r\033[K", out);  // rewrite the line in place
    fprintf(out, "%s step %d/%d  loss %.4f  ce %.4f", R->opt->run_id ? R->opt->run_id : "run", step, steps, l->loss, l->ce);
    if (R->ev.c->balance_method == BAL_SWITCH || R->ev.c->balance_method == BAL_L2) fprintf(out, "  aux %.4f", l->aux);
    fprintf(out, "  %.0f tok/s  ETA %.0fs", tps, eta);
    fputs(R->opt->tty && step < steps ? "" : "\n", out);
    fflush(out);
}

// Where the run starts: from a checkpoint of its own (resume), from a saved model (warm start),
// or afresh. Returns the first step to run, or -1 with res failed.
static int run_start(TrainRun *R, RunResult *res) {
    const Config *c = R->ev.c;
    char err[IO_MSG_MAX], found[IO_DEEP_PATH_MAX];
    R->resumed_from = -1;
    Config saved;
    int resume = R->opt->resume ? train_resume_check(R->ev.dir, c, &saved, found, sizeof found, err, sizeof err) : 0;
    if (resume < 0) return setfail(res, "checkpoint", err);
    if (resume) {
        int step = 0;
        FILE *partial[CKPT_NPARTIAL];
        for (int i = 0; i < CKPT_NPARTIAL; i++) partial[i] = growing_file(R, i)->f;
        if (train_resume_read(found, c, &R->ev.model, &R->optim, &R->batches.rng, partial, &step, err, sizeof err) != 0)
            return setfail(res, "checkpoint", err);
        R->resumed_from = step;
        if (!R->opt->quiet) fprintf(R->opt->progress ? R->opt->progress : stderr, "%s: resuming from step %d (%s)\n",
                                    R->opt->run_id ? R->opt->run_id : "run", step, found);
        return step;
    }
    write_headers(R);
    if (c->train_init_from[0]) {
        if (train_init_from_check(c, &saved, found, sizeof found, err, sizeof err) != 0 ||
            train_init_from_read(found, &R->ev.model, c->train_init_optimizer ? &R->optim : NULL, err, sizeof err) != 0)
            return setfail(res, "train.init_from", err);
    }
    eval_measure(&R->ev, 0, c->train_steps == 0);
    return 0;
}

// Writes <dir>/checkpoint/ with the rows written so far. Returns 0, or -1 with res failed.
static int write_checkpoint(TrainRun *R, int step, RunResult *res) {
    char path[IO_DEEP_PATH_MAX], err[IO_MSG_MAX];
    CkptWrite w = {.step = step, .optim = &R->optim, .batch_rng = &R->batches.rng, .corpus = R->corpus};
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        AtomicFile *a = growing_file(R, i);
        if (fflush(a->f) != 0) {
            snprintf(err, sizeof err, "cannot write %s: %s", a->tmp, strerror(errno));
            return setfail(res, "output", err);
        }
        w.partial[i] = a->tmp;
    }
    if (!path_join(path, sizeof path, R->ev.dir, "checkpoint")) {
        snprintf(err, sizeof err, "%s: %s", path, strerror(ENAMETOOLONG));
        return setfail(res, "checkpoint", err);
    }
    if (ckpt_write(path, R->ev.c, &R->ev.model, &w, err, sizeof err) != 0) return setfail(res, "checkpoint", err);
    return 0;
}

int train_run(const Config *c, const char *dir, const RunOptions *opt, RunResult *res) {
    TrainRun R_, *R = &R_;
    memset(R, 0, sizeof *R);
    memset(res, 0, sizeof *res);
    R->opt = opt;
    R->resumed_from = -1;
#ifdef _OPENMP
    if (opt->threads > 0) omp_set_num_threads(opt->threads);
#endif
    char start[64];
    iso_time(start, sizeof start);
    double t0 = io_now_s();
    int step0 = -1;
    if (run_setup(R, c, dir, res) != 0 || open_outputs(R, res) != 0 || (step0 = run_start(R, res)) < 0) {
        abort_outputs(R);
        write_manifest(R, res, start, io_now_s() - t0);
        run_teardown(R);
        return -1;
    }
    Model *m = &R->ev.model;
    int steps = c->train_steps;
    int eval_every = c->eval_every;
    double t_log = io_now_s(), tps = 0;
    int tokens_since_log = 0;
    Losses l = {0};
    res->status = RUN_OK;
    res->steps_done = step0;
    // Fault injection for the tests (docs/EXPERIMENTS.md): MOESIM_INJECT_NAN=k puts a NaN into a
    // parameter before step k, so the real divergence path below is exercised end to end.
    const char *inject = getenv("MOESIM_INJECT_NAN");
    int inject_step = inject ? atoi(inject) : 0;
    for (int step = step0; step < steps; step++) {
        if (inject_step > 0 && step + 1 == inject_step) m->params[0] = NAN;
        StepResult sr;
        StepStatus st = train_step(m, &R->optim, &R->batches, c, step, steps, &sr, NULL);
        if (st == STEP_BAD_BATCH) { setfail(res, "batch", sr.reason); break; }
        if (st == STEP_DIVERGED) {
            res->status = RUN_DIVERGED;
            snprintf(res->reason, sizeof res->reason, "%s", sr.reason);
            break;
        }
        l = sr.losses;
        double lr = sr.lr, gn = sr.grad_norm;
        res->steps_done = step + 1;
        res->loss = l.loss;
        res->ce = l.ce;
        tokens_since_log += R->ev.N;
        int done = step + 1;
        if (done % c->train_log_every == 0 || done == steps) {
            double t = io_now_s();
            tps = tokens_since_log / (t - t_log > 1e-9 ? t - t_log : 1e-9);
            t_log = t;
            tokens_since_log = 0;
            write_log_rows(R, done, &l, lr, gn, tps);
            double elapsed = t - t0, eta = elapsed / (done - step0) * (steps - done);
            progress_line(R, done, steps, &l, tps, eta);
        }
        if ((eval_every > 0 && done % eval_every == 0) || done == steps) {
            eval_measure(&R->ev, done, done == steps);
            // whole evaluations on disk for `moesim watch` and run --live, which read the growing
            // files (the bytes are the same; a failed write shows at the commit)
            for (int i = 0; i < CKPT_NPARTIAL; i++) fflush(growing_file(R, i)->f);
        }
        int stop = train_stop_signal != 0 && done < steps;
        if ((stop || (c->train_checkpoint_every > 0 && done % c->train_checkpoint_every == 0 && done < steps)) &&
            write_checkpoint(R, done, res) != 0)
            break;
        if (stop) {
            res->status = RUN_INTERRUPTED;
            snprintf(res->reason, sizeof res->reason, "signal %d after step %d; checkpoint in %s/checkpoint",
                     (int)train_stop_signal, done, dir);
            break;
        }
    }
    double wall = io_now_s() - t0;
    res->wall_s = wall;
    res->tokens_per_s = res->steps_done ? (double)res->steps_done * R->ev.N / wall : 0;
    if (res->status == RUN_DIVERGED && !opt->quiet)
        fprintf(opt->progress ? opt->progress : stderr, "%s: diverged at %s\n", opt->run_id ? opt->run_id : "run", res->reason);
    if (res->status == RUN_INTERRUPTED || res->status == RUN_FAILED) {
        // the checkpoint holds the rows so far; nothing half-written stays behind
        abort_outputs(R);
        write_manifest(R, res, start, wall);
        run_teardown(R);
        return res->status == RUN_FAILED ? -1 : 0;
    }
    char err[IO_MSG_MAX], path[IO_DEEP_PATH_MAX];
    const char *what = NULL;  // the first file that could not be written, and why
    for (int i = 0; i < CKPT_NPARTIAL; i++) {
        AtomicFile *a = growing_file(R, i);
        if (afile_commit(a) != 0 && !what) { snprintf(err, sizeof err, "cannot write %s: %s", a->path, strerror(errno)); what = err; }
    }
    if (res->status == RUN_OK && !what && write_final_evaluation(&R->ev, err, sizeof err) != 0) what = err;
    if (!what && write_config(&R->ev) != 0) { snprintf(err, sizeof err, "cannot write %s/config.toml: %s", dir, strerror(errno)); what = err; }
    if (res->status == RUN_OK && c->train_save_model && !what) {
        CkptWrite w = {.step = res->steps_done, .optim = &R->optim, .batch_rng = &R->batches.rng, .corpus = R->corpus};
        if (!path_join(path, sizeof path, R->ev.dir, "model")) {
            snprintf(err, sizeof err, "%s: %s", path, strerror(ENAMETOOLONG));
            what = err;
        } else if (ckpt_write(path, c, m, &w, err, sizeof err) != 0) what = err;
    }
    if (what) setfail(res, "output", what);
    if (write_manifest(R, res, start, wall) != 0 && res->status != RUN_FAILED) {
        snprintf(err, sizeof err, "cannot write %s/manifest.json: %s", dir, strerror(errno));
        setfail(res, "output", err);
    }
    run_teardown(R);
    return res->status == RUN_FAILED ? -1 : 0;
}
