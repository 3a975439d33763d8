// saved.c — `moesim eval` (evaluate.h): the evaluator on a saved model, without training. The
// files are those of a finished run's final evaluation, for the model's step.
#include <errno.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "evaluate.h"
#include "../models/checkpoint.h"

int eval_saved(const Config *c, const char *model_dir, const char *out, const RunOptions *opt, char *err, size_t errlen) {
    Evaluator R_, *R = &R_;
#ifdef _OPENMP
    if (opt->threads > 0) omp_set_num_threads(opt->threads);
#else
    (void)opt;
#endif
    int step = 0, rc = -1;
    CkptRead r = {.step = &step};
    if (evaluator_setup(R, c, out, err, errlen) != 0 || eval_open_outputs(R, err, errlen) != 0) {
        // err says why
    } else if (ckpt_read(model_dir, &R->model, &r, err, errlen) == 0) {
        eval_write_headers(R);
        eval_measure(R, step, 1);
        rc = 0;
        if (afile_commit(&R->f_eval) != 0) { snprintf(err, errlen, "cannot write %s: %s", R->f_eval.path, strerror(errno)); rc = -1; }
        else if (afile_commit(&R->f_experts) != 0) { snprintf(err, errlen, "cannot write %s: %s", R->f_experts.path, strerror(errno)); rc = -1; }
        else if (write_final_evaluation(R, err, errlen) != 0) rc = -1;
        else if (write_config(R) != 0) { snprintf(err, errlen, "cannot write %s/config.toml: %s", out, strerror(errno)); rc = -1; }
    }
    afile_abort(&R->f_eval);
    afile_abort(&R->f_experts);
    evaluator_teardown(R);
    return rc;
}
