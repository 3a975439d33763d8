// main.c — the moesim command line: one table of commands (git's git.c), each command's options
// read by the one parser of cli/options.h. Every input problem is reported (all of a file's
// errors at once) and exits with status 2 before any output folder is created or any work starts.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tools/analyze.h"
#include "tools/compare.h"
#include "config/config.h"
#include "tools/export.h"
#include "tools/watch.h"
#include "models/checkpoint.h"
#include "models/corpus_check.h"
#include "use/generate.h"
#include "report/report.h"
#include "report/depth.h"
#include "use/route.h"
#include "train/memory.h"
#include "train/sweep.h"
#include "train/train.h"
#include "io.h"
#include "outdir.h"
#include "cli/options.h"
#include "cli/wait_policy.h"

_Static_assert(CLI_PATH_MAX == CFG_PATH_MAX, "a path the command line accepts must fit the config's");
_Static_assert(CFG_PATH_MAX <= IO_PATH_MAX, "a path the config or the command line accepts fits the buffers for a given path");
// sweep_out_dir writes --out, or "results/" + experiment.name (a string key), into IO_PATH_MAX
// bytes: neither can be cut
_Static_assert(sizeof "results/" + CFG_STR_MAX <= IO_PATH_MAX, "results/<experiment.name> fits a given path's buffer");

#ifndef MOESIM_VERSION
#define MOESIM_VERSION "0.1.0"
#endif

// The --out folder of eval, generate, analyze, compare and export (outdir.h): the command writes
// into od->tmp, begun after the input checks (a bad --out exits 2) and committed last, so the
// folder is whole or absent. own_file: the file every output of the command holds (an older
// moesim's output, without complete.json, may be replaced). out_begin and out_commit print the
// error; out_commit's is exit 1.
static int out_begin(const char *cmd, OutDir *od, const char *out, const char *own_file) {
    char err[IO_MSG_MAX];
    if (outdir_begin(od, out, own_file, err, sizeof err) == 0) return 0;
    fprintf(stderr, "moesim: %s: %s\n", cmd, err);
    return -1;
}

static int out_commit(const char *cmd, OutDir *od) {
    char err[IO_MSG_MAX];
    if (outdir_commit(od, cmd, MOESIM_VERSION, err, sizeof err) == 0) return 0;
    fprintf(stderr, "moesim: %s: %s\n", cmd, err);
    return -1;
}

static const char usage_run[] =
    "usage: moesim run FILE [--out DIR] [--set KEY=VALUE]... [-j N] [--shard I/N] [--dry-run] [--max-memory SIZE] [--force] [--quiet] [--live]\n"
    "\n"
    "Trains every point of the experiment (the grid of its [sweep] table) and writes\n"
    "results/<experiment.name>/<run-id>/ per run, then summary.csv, plots/ and report.html.\n"
    "Finished runs (manifest.json status \"ok\" with the point's config_hash) are skipped, so an\n"
    "interrupted sweep resumes. A finished run or a checkpoint of another config, or a folder of\n"
    "another experiment (its experiment.json), stops the command before any work (exit 2, naming\n"
    "the keys that differ). One run writes into a folder at a time (DIR/moesim.lock; shards of one\n"
    "grid side by side); SIGTERM, SIGINT and SIGHUP stop it with a checkpoint. docs/EXPERIMENTS.md,\n"
    "\"Results folders\".\n"
    "\n"
    "options:\n"
    "  --out DIR        write the experiment's results into DIR\n"
    "  --set KEY=VALUE  override a key (same checks as the file; repeatable), e.g. --set train.steps=50\n"
    "  -j N             run N points in parallel processes (OpenMP threads are divided among them)\n"
    "  --shard I/N      run only the I-th of N disjoint slices of the points (cluster job arrays)\n"
    "  --dry-run        list the points, their folders and each run's estimated peak memory, with\n"
    "                   the largest run's breakdown; run nothing\n"
    "  --max-memory SIZE  refuse (exit 2, before any work) runs whose estimated peak memory exceeds\n"
    "                   SIZE: bytes, or K, M, G, T (powers of 1024), e.g. 512M, 2G, 1.5GiB. Runs are\n"
    "                   also refused over the machine's available memory (MemAvailable); with -j N\n"
    "                   the N largest estimates are added\n"
    "  --force          redo finished runs too (also those of another config), and take over a\n"
    "                   folder of another experiment\n"
    "  --quiet          no progress output\n"
    "  --live           on a terminal, draw the runs while they train: each run's domain x expert\n"
    "                   heatmap (last layer), step, loss and a sparkline of freqsim_cross_domain,\n"
    "                   redrawn at every evaluation (eval.every); the runs' messages follow the view.\n"
    "                   The result files are the same as without it. Output not a terminal, or\n"
    "                   --quiet or --dry-run: no view, the usual lines\n";

static const char usage_watch[] =
    "usage: moesim watch DIR [--every S]\n"
    "\n"
    "Draws the runs of a results folder that a `moesim run` (or several shards) is writing, the\n"
    "live view of `moesim run`, reading their CSV files as they grow; ends when no `moesim run`\n"
    "holds the folder's lock (at once, after one view, when none does). On a terminal the view is\n"
    "redrawn in place; otherwise each new view is printed as plain lines. Exit 2 when DIR is not a\n"
    "results folder.\n"
    "\n"
    "options:\n"
    "  --every S        seconds between reads of the folder (default 0.2)\n";

static const char usage_export[] =
    "usage: moesim export FILE --out DIR [--set KEY=VALUE]...\n"
    "\n"
    "Builds the model of FILE (its first sweep point) at initialization, draws the first training\n"
    "batch, runs one forward/backward pass and writes, for numpy:\n"
    "  DIR/manifest.json                 config, parameter names and shapes, the step-0 loss\n"
    "  DIR/params/<name>.npy             every parameter (float32, C order)\n"
    "  DIR/grads/<name>.npy              its gradient\n"
    "  DIR/tokens.npy                    the batch, int32 B x (T+1) (router kind: hidden.npy)\n"
    "  DIR/acts/blocks.<l>.router_in.npy, router_logits.npy, topk.npy   the router's view\n"
    "  DIR/state/blocks.<l>.bias.npy     the aux-free selection bias\n"
    "  DIR/complete.json                 written last: the folder is whole (an earlier DIR is replaced whole)\n";

static const char usage_analyze[] =
    "usage: moesim analyze --hidden H.npy --router P.npy [--top-k K | --topk-file I.npy] [options] --out DIR\n"
    "       moesim analyze --layers DIR [options] --out OUT\n"
    "\n"
    "Computes the measurements of docs/METRICS.md on hidden states dumped from a MoE (N x D, or\n"
    "B x T x D: B sequences of T tokens) and its E x D router, and writes DIR/analysis.json.\n"
    "Inputs: float32, float64 or float16 .npy, C or Fortran order; bfloat16 saved as 2-byte raw bits\n"
    "(<u2, <i2 or |V2) with --dtype bfloat16. docs/ANALYZE.md: the layout, memory, and a recipe\n"
    "for dumping a PyTorch / Hugging Face model.\n"
    "\n"
    "Most measurements are defined per sequence (arXiv 2604.09780, Appendix A) and averaged over\n"
    "sequences. A B x T x D input gives the sequences; else give --seq-len to split the rows into\n"
    "consecutive sequences of T. Without either the N rows are one sequence: the per-sequence keys\n"
    "are taken over all of them and the keys that compare sequences (freqsim_seq,\n"
    "pooled_cosine_seq, freqsim_pooled_corr, jaccard_seq) are null. analysis.json says which\n"
    "(\"sequences\", \"sequences_from\") and why each null key is null (\"null_because\").\n"
    "\n"
    "--layers DIR analyzes every layer<i>.hidden.npy / layer<i>.router.npy of DIR (with\n"
    "layer<i>.topk.npy and labels.npy or layer<i>.labels.npy when present) into OUT/layer<i>/,\n"
    "writes OUT/depth.csv (one row per layer) and OUT/plots/depth_*.svg (the measurements over depth).\n"
    "\n"
    "options:\n"
    "  --seq-len T        rows per sequence (default: T of a B x T x D input, else one sequence)\n"
    "  --top-k K          experts per token: the K largest logits (or check --topk-file's K)\n"
    "  --topk-file I.npy  the model's own choices, N x K or B x T x K int32/int64 (aux-free bias,\n"
    "                     grouped routing: not the top-K of the logits)\n"
    "  --score S          softmax (default) or sigmoid: the score statistics (router_confidence,\n"
    "                     topk_score_sum, router_entropy) on softmax(z) or on sigmoid(z) / sum\n"
    "  --dtype bfloat16   2-byte .npy inputs hold bfloat16 bits\n"
    "  --domains D.npy    int32 domain label per row (enables the cross-domain measurements)\n"
    "  --pairs N          token pairs sampled for Eq. 5 and Proposition 1 (default 2048)\n"
    "  --top-p P          mass of the top-P expert sets (default 0.8)\n"
    "  --truncation on|off  also write truncation.csv (Fig. 24; a full eigen-decomposition of the\n"
    "                     D x D Gram matrix, O(D^3): off by default above D = 2048)\n"
    "  --alignment on|off  router_data_alignment and data_energy_top_r (the D/8 leading directions of\n"
    "                     H: off by default above D = 2048, where they would cost minutes; null then)\n";

static const char usage_generate[] =
    "usage: moesim generate RUN_DIR --out DIR [options]\n"
    "\n"
    "Loads the model of RUN_DIR (its model/, else its checkpoint/) and samples continuations\n"
    "autoregressively. Each prompt gets M samples; rows are ordered prompt by prompt. Writes, for numpy:\n"
    "  DIR/tokens.npy       int32 (N*M) x (n+T), prompt then continuation\n"
    "  DIR/routes.npy       int32 (N*M) x L x (n+T) x K, the experts chosen at every position and layer\n"
    "  DIR/gates.npy        float32, same shape, their gate weights\n"
    "  DIR/confidence.npy   float32 (N*M) x L x (n+T), the router's largest softmax probability\n"
    "  DIR/diversity.csv    per prompt, how alike its M continuations are (distinct, entropy, share)\n"
    "  DIR/generate.json    settings, prompt_len, diversity means, per row its prompt, sample, domain, seed\n"
    "  DIR/samples.txt      text world only: every row as UTF-8 text, prompt and continuation marked\n"
    "                       (bytes that are not text as \\xNN)\n"
    "  DIR/complete.json    written last: the folder is whole (an earlier DIR is replaced whole)\n"
    "\n"
    "options:\n"
    "  --prompts N          prompts (default 16, or the prompt file's rows)\n"
    "  --samples M          samples per prompt (default 1)\n"
    "  --prompt-len n       prompt tokens, at most model.seq_len (default min(16, model.seq_len))\n"
    "  --tokens T           new tokens per row (default 64; any number: see below)\n"
    "  --temperature t      softmax temperature, >= 0; 0 is greedy (default 1)\n"
    "  --top-p p            nucleus sampling mass in (0, 1] (default 1: the whole softmax)\n"
    "  --seed s             sampling seed (default 1); the same seed gives the same rows for any thread count\n"
    "  --prompt-domain d    prompts from domain d's evaluation sequences only\n"
    "  --prompts-per-domain N  the first N evaluation sequences of every domain, domain by domain\n"
    "  --prompt-file P.npy  prompts from an int32 N x n array (tokens 0..model.vocab-1)\n"
    "  --duplicate k        every prompt repeated k whole times (k x n <= model.seq_len; the paper's Fig. 29)\n"
    "\n"
    "Prompts are the first N evaluation sequences of the run's world (domain-major) cut to n tokens.\n"
    "Past model.seq_len tokens the context is a sliding window that restarts at position 0 from the\n"
    "last seq_len/2 tokens (a KV cache in between); docs/EXPERIMENTS.md, \"Generation\".\n";

static const char usage_report[] =
    "usage: moesim report DIR\n"
    "\n"
    "Rebuilds DIR/plots/*.svg and DIR/report.html from the CSV files of a results folder\n"
    "(summary.csv, and each run's metrics.csv, eval.csv, experts.csv, pairs.csv).\n";

static const char usage_eval[] =
    "usage: moesim eval RUN_DIR [--checkpoint] [--set KEY=VALUE]... --out DIR\n"
    "\n"
    "Loads the model a run saved (RUN_DIR/model/, or its last checkpoint with --checkpoint; RUN_DIR\n"
    "may also name a model or checkpoint folder itself) and evaluates it, writing into DIR:\n"
    "  eval.csv, experts.csv   the measurements at the model's step (as the run's final rows)\n"
    "  pairs.csv, removal.csv  the Proposition 1 pairs and expert-removal sensitivity\n"
    "  config.toml             the resolved config of the evaluation; dump/ with eval.dump = true\n"
    "  complete.json           written last: the folder is whole (an earlier DIR is replaced whole)\n"
    "With --set, only data.* and eval.* keys may change (another transform, duplication, more\n"
    "sequences, another data seed); the model's own keys cannot. With no --set, eval.csv equals the\n"
    "run's final eval.csv rows exactly.\n";

static const char usage_compare[] =
    "usage: moesim compare GEN_DIR... --out DIR [--top-p P] [--include-prompt] [--route-with RUN_DIR]\n"
    "\n"
    "Compares expert usage across the rollouts of several models (arXiv 2604.09780, Figs. 6, 25).\n"
    "Each GEN_DIR is the complete output of `moesim generate` (with its complete.json) for one\n"
    "model (run); all must use the same prompts. A rollout (model, prompt, sample) is summarized\n"
    "per layer by its expert-frequency vector (Eq. 13) over its generated tokens (prompt tokens\n"
    "too with --include-prompt). Every unordered pair of rollouts counts once in one kind:\n"
    "same_prompt_other_model, other_prompt_same_model, same_prompt_same_model_other_sample,\n"
    "other_prompt_other_model.\n"
    "Writes DIR/compare.csv (layer,kind,pairs,overlap_mean,overlap_sd,freqsim_mean; overlap is\n"
    "Eq. 19's Jaccard of the top-P sets, freqsim Eq. 14's cosine) and DIR/compare_pairs.csv.\n"
    "It also tracks each model's prompts as their rollouts grow (Fig. 7): DIR/track.csv\n"
    "(model,layer,kind,n,pairs,freqsim_mean,freqsim_sd: FreqSim of pairs of prompts, same_domain\n"
    "or cross_domain, over the prompt plus the first n generated tokens) and DIR/track_pairs.csv\n"
    "(each pair's FreqSim on the prompt alone and on the whole rollout, and with --route-with the\n"
    "pooled cosine of the analyzer's router inputs, Eqs. 15-17, over the prompt and over the whole\n"
    "rollout: Fig. 14).\n"
    "\n"
    "options:\n"
    "  --top-p P          P of the top-P sets (default 0.8, as the paper's Fig. 6)\n"
    "  --include-prompt   count the prompt's tokens too\n"
    "  --route-with RUN   route every folder's tokens through RUN's saved model instead of using each\n"
    "                     generating model's own routes: the paper reads the solutions of many models\n"
    "                     with one MoE (§5.1, Fig. 6). Without it, independently trained models are\n"
    "                     compared by expert index, and their experts have no correspondence.\n";

static int load_experiment(Experiment *ex, const char *file, const char **sets, int nsets) {
    static CfgErrors errs;
    memset(&errs, 0, sizeof errs);
    int n = experiment_load(ex, file, sets, nsets, &errs);
    if (n > 0) {
        cfg_errors_print(&errs, stderr);
        fprintf(stderr, "moesim: %d error%s; nothing was run\n", n, n == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

// The settings that differ from the defaults, as a table (llm.c prints its settings at start).
static void print_settings(const Experiment *ex) {
    Config def;
    config_defaults(&def);
    char a[300], b[300];
    fprintf(stderr, "moesim: experiment %s (%s), %ld point%s\n", ex->base.experiment_name, ex->path, ex->npoints,
            ex->npoints == 1 ? "" : "s");
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (k <= CFGK_experiment_expect) continue;
        config_format_value(&ex->base, k, 1, a, sizeof a);
        config_format_value(&def, k, 1, b, sizeof b);
        int swept = 0;
        for (int i = 0; i < ex->naxes; i++) swept |= ex->axes[i].key == k;
        if (strcmp(a, b) != 0 || swept) fprintf(stderr, "  %-24s %s%s\n", cfg_keys[k].key, swept ? "(swept) " : "", swept ? "" : a);
    }
}

// --shard I/N through the config's parser, whose message names --shard and the value
static int parse_shard(const char *v, void *dst, char *err, size_t errlen) {
    SweepOptions *o = dst;
    return experiment_shard_parse(v, &o->shard_index, &o->shard_count, err, errlen);
}

// --max-memory SIZE through the estimate's parser (its message names --max-memory and the value)
static int parse_max_memory(const char *v, void *dst, char *err, size_t errlen) {
    SweepOptions *o = dst;
    return memory_parse_size(v, &o->max_memory, err, errlen);
}

// The options every command reads the same way: --out DIR and the repeatable --set KEY=VALUE.
#define MAX_SETS 64
#define OPT_OUT(p, req) {.name = "--out", .kind = OPT_PATH, .meta = "DIR", .dst = (p), .flags = (req)}
#define OPT_SETS(arr, n) {.name = "--set", .kind = OPT_LIST, .meta = "KEY=VALUE", .dst = (arr), .hi = MAX_SETS, .count = (n)}
// One positional path (FILE, RUN_DIR, ...), required
#define OPT_ONE(meta_, p) {.kind = OPT_ARGS, .meta = (meta_), .dst = (p), .hi = 1, .flags = OPT_REQUIRED}
// The integer counts of every command: 1..1000000
#define OPT_COUNT(name_, meta_, p) {.name = (name_), .kind = OPT_INT, .meta = (meta_), .dst = (p), .lo = 1, .hi = 1000000}
// A probability mass in (0, 1]: --top-p of analyze, compare and generate
#define OPT_TOP_P(p) {.name = "--top-p", .kind = OPT_DOUBLE, .meta = "P", .dst = (p), .lo = 0, .hi = 1, .flags = OPT_LO_OPEN}
#define NOPTS(t) ((int)(sizeof t / sizeof t[0]))

// What `moesim run` does before it prints the results: the sweep, then the report. Returns the
// command's status so far; RUN_WORK_NOTHING_RUN when nothing ran (said why: no report).
#define RUN_WORK_NOTHING_RUN 100
typedef struct {
    const Experiment *ex;
    const SweepOptions *o;
    int argc;
    char **argv;
    int report_ok;
} RunWork;

static int run_work(void *ctx) {
    RunWork *w = ctx;
    int rc = sweep_run(w->ex, w->o);
    if (rc == SWEEP_NOTHING_RUN) return RUN_WORK_NOTHING_RUN;
    if (w->o->dry_run || rc == 2) return rc;
    if (rc > 128) {
        // interrupted: every unfinished run has a checkpoint; the same command resumes them
        fprintf(stderr, "moesim: stopped by signal %d; to resume, run the same command again: moesim run", rc - 128);
        for (int i = 0; i < w->argc; i++) fprintf(stderr, " %s", w->argv[i]);
        fputc('\n', stderr);
        return rc;
    }
    // the report reads the result files the sweep wrote; it never reaches into the training loop
    char dir[IO_PATH_MAX], err[IO_MSG_MAX];
    sweep_out_dir(w->ex, w->o, dir, sizeof dir);
    w->report_ok = report_build(dir, err, sizeof err) == 0;
    if (!w->report_ok) { fprintf(stderr, "moesim: report: %s\n", err); rc = 1; }
    return rc;
}

static int cmd_watch(int argc, char **argv) {
    const char *dir = NULL;
    double every = 0.2;
    const Option opts[] = {
        OPT_ONE("DIR", &dir),
        {.name = "--every", .kind = OPT_DOUBLE, .meta = "S", .dst = &every, .lo = 0, .hi = 3600, .flags = OPT_LO_OPEN},
    };
    int rc = opt_parse("watch", usage_watch, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    char err[IO_MSG_MAX] = "";
    rc = watch_folder(dir, every, err, sizeof err);
    if (rc == 1 || rc == 2) fprintf(stderr, "moesim: watch: %s\n", err);
    return rc;
}

static int cmd_run(int argc, char **argv) {
    const char *file = NULL;
    const char *sets[MAX_SETS];
    int nsets = 0;
    SweepOptions o = {0};
    o.jobs = 1;
    int live = 0;
    const Option opts[] = {
        OPT_ONE("FILE", &file),
        OPT_OUT(&o.out_dir, 0),
        OPT_SETS(sets, &nsets),
        {.short_name = 'j', .kind = OPT_INT, .meta = "N", .dst = &o.jobs, .lo = 1, .hi = 1000000},
        {.name = "--shard", .kind = OPT_CUSTOM, .meta = "I/N", .dst = &o, .parse = parse_shard},
        {.name = "--dry-run", .kind = OPT_FLAG, .dst = &o.dry_run},
        {.name = "--force", .kind = OPT_FLAG, .dst = &o.force},
        {.name = "--quiet", .kind = OPT_FLAG, .dst = &o.quiet},
        {.name = "--live", .kind = OPT_FLAG, .dst = &live},
        {.name = "--max-memory", .kind = OPT_CUSTOM, .meta = "SIZE", .dst = &o, .parse = parse_max_memory},
    };
    int rc = opt_parse("run", usage_run, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    static Experiment ex;
    if (load_experiment(&ex, file, sets, nsets) != 0) return 2;
    if (!o.quiet && !o.dry_run) print_settings(&ex);
    char dir[IO_PATH_MAX], err[IO_MSG_MAX];
    sweep_out_dir(&ex, &o, dir, sizeof dir);
    RunWork w = {&ex, &o, argc, argv, 0};
    live = live && !o.quiet && !o.dry_run && isatty(STDOUT_FILENO);
    if (live) {
        // the sweep in a child process, as without the view but with no progress lines; its
        // messages are printed when the view ends
        SweepOptions quiet = o;
        quiet.quiet = 1;
        w.o = &quiet;
        char title[IO_PATH_MAX + 64];
        snprintf(title, sizeof title, "moesim run %s --live: %s", file, dir);
        rc = watch_child(dir, title, run_work, &w, err, sizeof err);
        if (rc < 0) { fprintf(stderr, "moesim: run: %s\n", err); return 1; }
        if (rc == RUN_WORK_NOTHING_RUN) return 1;
        w.report_ok = rc <= 1 && file_exists(path_join(err, sizeof err, dir, "report.html"));
    } else rc = run_work(&w);
    if (rc == RUN_WORK_NOTHING_RUN) return 1;
    if (o.dry_run || rc == 2 || rc > 128) return rc;
    int report_ok = w.report_ok;
    if (!o.quiet) {
        fprintf(stderr, "moesim: results in %s\n", dir);
        const char *metric = ex.base.data_world == WORLD_GEOMETRY ? "suppression_rho" : "freqsim_cross_domain";
        fputc('\n', stdout);
        if (report_print_terminal(stdout, dir, metric, err, sizeof err) != 0) fprintf(stderr, "moesim: %s\n", err);
        if (report_ok) printf("\nreport: %s/report.html\n", dir);
    }
    return rc;
}

static int cmd_export(int argc, char **argv) {
    const char *file = NULL, *out = NULL;
    const char *sets[MAX_SETS];
    int nsets = 0;
    const Option opts[] = {OPT_ONE("FILE", &file), OPT_OUT(&out, OPT_REQUIRED), OPT_SETS(sets, &nsets)};
    int rc = opt_parse("export", usage_export, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    static Experiment ex;
    if (load_experiment(&ex, file, sets, nsets) != 0) return 2;
    Config c;
    experiment_point(&ex, 0, &c);
    char err[IO_MSG_MAX];
    OutDir od;
    if (out_begin("export", &od, out, "manifest.json") != 0) return 2;
    if (export_model(&c, od.tmp, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: export: %s\n", err);
        outdir_abort(&od);
        return 1;
    }
    if (out_commit("export", &od) != 0) return 1;
    fprintf(stderr, "moesim: exported to %s\n", od.dir);
    return 0;
}

static int cmd_analyze(int argc, char **argv) {
    AnalyzeArgs a = {0};
    const char *layers = NULL;
    int trunc = -1;                                   // -1: by D (on up to 2048)
    int align = -1;                                   // -1: by D (on up to 2048)
    int dtype = -1;                                   // 0: bfloat16
    const Option opts[] = {
        {.name = "--hidden", .kind = OPT_PATH, .meta = "H.npy", .dst = &a.hidden},
        {.name = "--router", .kind = OPT_PATH, .meta = "P.npy", .dst = &a.router},
        {.name = "--domains", .kind = OPT_PATH, .meta = "D.npy", .dst = &a.domains},
        {.name = "--topk-file", .kind = OPT_PATH, .meta = "I.npy", .dst = &a.topk_file},
        {.name = "--layers", .kind = OPT_PATH, .meta = "DIR", .dst = &layers},
        OPT_OUT(&a.out, OPT_REQUIRED),
        OPT_COUNT("--top-k", "K", &a.top_k),
        OPT_COUNT("--seq-len", "T", &a.seq_len),
        OPT_COUNT("--pairs", "N", &a.pairs),
        {.name = "--score", .kind = OPT_CHOICE, .meta = "S", .dst = &a.sigmoid, .choices = "softmax|sigmoid"},
        {.name = "--dtype", .kind = OPT_CHOICE, .meta = "bfloat16", .dst = &dtype, .choices = "bfloat16"},
        {.name = "--truncation", .kind = OPT_CHOICE, .meta = "on|off", .dst = &trunc, .choices = "off|on"},
        {.name = "--alignment", .kind = OPT_CHOICE, .meta = "on|off", .dst = &align, .choices = "off|on"},
        OPT_TOP_P(&a.top_p),
    };
    int rc = opt_parse("analyze", usage_analyze, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    if (dtype == 0) a.dtype = "bfloat16";
    a.truncation = trunc;                             // resolved per layer below when -1
    a.alignment = align;                              // likewise
    char err[IO_MSG_MAX];
    if (layers && (a.hidden || a.router || a.topk_file))
        return opt_fail("analyze", "--layers takes no --hidden, --router or --topk-file (see moesim analyze --help)");
    if (!layers && (!a.hidden || !a.router || (!a.top_k && !a.topk_file)))
        return opt_fail("analyze", "needs --hidden, --router and --top-k (or --topk-file), or --layers (see moesim analyze --help)");
    OutDir od;
    if (out_begin("analyze", &od, a.out, layers ? "depth.csv" : "analysis.json") != 0) return 2;
    a.out = od.tmp;
    // bad input: exit 2; a failed write (or out of memory): exit 1 (analyze.h)
    if (layers) {
        int n = analyze_folder(layers, &a, err, sizeof err);
        char csv[IO_CHILD_PATH_MAX], plots[IO_CHILD_PATH_MAX];
        if (n >= 0 && (!path_join(csv, sizeof csv, a.out, "depth.csv") || !path_join(plots, sizeof plots, a.out, "plots"))) {
            io_fail(err, sizeof err, "%s: %s", a.out, strerror(ENAMETOOLONG));
            n = ANALYZE_FAILED;
        }
        if (n >= 0 && report_depth(csv, plots, err, sizeof err) != 0) n = ANALYZE_FAILED;
        if (n < 0) {
            fprintf(stderr, "moesim: analyze: %s\n", err);
            outdir_abort(&od);
            return n == ANALYZE_BAD_INPUT ? 2 : 1;
        }
        if (out_commit("analyze", &od) != 0) return 1;
        fprintf(stderr, "moesim: analyzed %d layers: %s/layer<i>/analysis.json, %s/depth.csv, %s/plots/depth_*.svg\n", n,
                od.dir, od.dir, od.dir);
        return 0;
    }
    rc = analyze_files(&a, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "moesim: analyze: %s\n", err);
        outdir_abort(&od);
        return rc == ANALYZE_BAD_INPUT ? 2 : 1;
    }
    if (out_commit("analyze", &od) != 0) return 1;
    if (a.seq_len <= 0)
        fprintf(stderr, "moesim: analyze: no --seq-len: a B x T x D input gives the sequences; an N x D one is one "
                        "sequence (the per-sequence measurements cover all rows, the sequence-pair ones are null)\n");
    fprintf(stderr, "moesim: wrote %s/analysis.json\n", od.dir);
    return 0;
}

static int cmd_report(int argc, char **argv) {
    const char *dir = NULL;
    const Option opts[] = {OPT_ONE("DIR", &dir)};
    int rc = opt_parse("report", usage_report, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    char err[IO_MSG_MAX];
    if (report_build(dir, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: report: %s\n", err);
        return 1;
    }
    fprintf(stderr, "moesim: wrote %s/report.html\n", dir);
    return 0;
}

// moesim generate: every flag is checked before the model is loaded, the prompts before the output
// folder is created; bad input exits 2, a failed write 1.
static int cmd_generate(int argc, char **argv) {
    GenArgs a;
    gen_args_defaults(&a);
    unsigned long long seed = a.seed;
    const Option opts[] = {
        OPT_ONE("RUN_DIR", &a.run_dir),
        OPT_OUT(&a.out, OPT_REQUIRED),
        OPT_COUNT("--prompts", "N", &a.prompts),
        OPT_COUNT("--samples", "M", &a.samples),
        OPT_COUNT("--prompt-len", "n", &a.prompt_len),
        OPT_COUNT("--tokens", "T", &a.tokens),
        OPT_COUNT("--duplicate", "k", &a.duplicate),
        {.name = "--temperature", .kind = OPT_DOUBLE, .meta = "t", .dst = &a.temperature, .lo = 0, .hi = INFINITY},
        OPT_TOP_P(&a.top_p),
        {.name = "--seed", .kind = OPT_U64, .meta = "s", .dst = &seed},
        {.name = "--prompt-domain", .kind = OPT_INT, .meta = "d", .dst = &a.prompt_domain, .lo = 0, .hi = 1000000},
        OPT_COUNT("--prompts-per-domain", "N", &a.per_domain),
        {.name = "--prompt-file", .kind = OPT_PATH, .meta = "P.npy", .dst = &a.prompt_file},
    };
    int rc = opt_parse("generate", usage_generate, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    a.seed = seed;
    char err[IO_MSG_MAX];
    if (gen_check_args(&a, err, sizeof err) != 0) return opt_fail("generate", "%s", err);
    static Config c;
    Model m;
    int step = 0;
    if (ckpt_open_model(a.run_dir, 0, &c, &m, &step, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: generate: %s\n", err);
        return 2;
    }
    // prompts drawn from the corpus must come from the text the model was trained on
    char dir[IO_DEEP_PATH_MAX];
    int cc = a.prompt_file ? 0 : ckpt_resolve(a.run_dir, 0, dir, sizeof dir, err, sizeof err) != 0 ? -1
                                 : saved_corpus_check(dir, &c, err, sizeof err);
    if (cc != 0) {
        fprintf(stderr, "moesim: generate: %s: %s%s\n", a.prompt_file ? a.run_dir : dir, err,
                cc > 0 ? "; its prompts would come from other text: restore the corpus, or give prompts with --prompt-file" : "");
        model_free(&m);
        return 2;
    }
    GenPrompts p;
    if (gen_prompts(&p, &a, &c, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: generate: %s\n", err);
        model_free(&m);
        return 2;
    }
    OutDir od;
    if (out_begin("generate", &od, a.out, "generate.json") != 0) {
        gen_prompts_free(&p);
        model_free(&m);
        return 2;
    }
    rc = 0;
    GenOutput o;
    a.progress = stderr;
    GenArgs into = a;  // the files go to the temporary folder
    into.out = od.tmp;
    if (gen_run(&o, &m, &p, &a, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: %s\n", err);
        rc = 1;
    } else {
        if (gen_write(&o, &p, &into, &c, step, err, sizeof err) != 0) {  // creates od.tmp, then the files
            fprintf(stderr, "moesim: generate: %s\n", err);
            outdir_abort(&od);
            rc = 1;
        } else if (out_commit("generate", &od) != 0) {
            rc = 1;
        } else {
            fprintf(stderr, "moesim: generated %d rows (%d prompts x %d samples) of %d + %d tokens in %.2f s "
                    "(%.0f new tokens/s); wrote %s/{tokens,routes,gates,confidence}.npy, diversity.csv%s and "
                    "generate.json\n", o.rows, p.N, a.samples, p.n, a.tokens, o.seconds,
                    o.seconds > 0 ? (double)o.rows * a.tokens / o.seconds : 0.0, od.dir,
                    c.data_world == WORLD_TEXT ? ", samples.txt" : "");
            Diversity *dv = malloc(sizeof *dv * (size_t)p.N);
            double dd, de, ds;
            if (dv && gen_diversity(dv, &o, &p, a.samples) == 0) {
                gen_diversity_mean(dv, p.N, &dd, &de, &ds);
                fprintf(stderr, "moesim: diversity of the %d samples per prompt (mean over prompts): %.2f distinct "
                        "continuations, per-position entropy %.3f nats, distinct-token share %.3f\n",
                        a.samples, dd, de, ds);
            }
            free(dv);
        }
        gen_output_free(&o);
    }
    gen_prompts_free(&p);
    model_free(&m);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    const char *run = NULL, *out = NULL;
    const char *sets[MAX_SETS];
    int nsets = 0, prefer_checkpoint = 0;
    const Option opts[] = {
        OPT_ONE("RUN_DIR", &run),
        OPT_OUT(&out, OPT_REQUIRED),
        OPT_SETS(sets, &nsets),
        {.name = "--checkpoint", .kind = OPT_FLAG, .dst = &prefer_checkpoint},
    };
    int rc = opt_parse("eval", usage_eval, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    for (int i = 0; i < nsets; i++)
        if (strncmp(sets[i], "data.", 5) != 0 && strncmp(sets[i], "eval.", 5) != 0)
            return opt_fail("eval", "--set %s: only data.* and eval.* keys can change for a trained model", sets[i]);
    char dir[IO_DEEP_PATH_MAX], err[IO_MSG_MAX], cfg_path[IO_DEEP_PATH_MAX];
    if (ckpt_resolve(run, prefer_checkpoint, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: eval: %s\n", err);
        return 2;
    }
    // the saved run's config with the overrides, through the same checks as an experiment file
    static Experiment ex;
    if (!path_join(cfg_path, sizeof cfg_path, dir, "config.toml")) {
        fprintf(stderr, "moesim: eval: %s: %s\n", cfg_path, strerror(ENAMETOOLONG));
        return 2;
    }
    if (load_experiment(&ex, cfg_path, sets, nsets) != 0) return 2;
    Config c, saved;
    experiment_point(&ex, 0, &c);
    // every file of the saved model is read once before anything is written
    Model m;
    int step;
    if (ckpt_open_model(dir, prefer_checkpoint, &saved, &m, &step, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: eval: %s\n", err);
        return 2;
    }
    model_free(&m);
    // the same text under every domain name the model was trained on (a new name is other text)
    int cc = saved_corpus_check(dir, &c, err, sizeof err);
    if (cc != 0) {
        fprintf(stderr, "moesim: eval: %s: %s%s\n", dir, err,
                cc > 0 ? "; to evaluate on other text, give its domain a new name in --set data.corpus" : "");
        return 2;
    }
    OutDir od;
    if (out_begin("eval", &od, out, "eval.csv") != 0) return 2;
    if (mkdir_p(od.tmp) != 0) {
        fprintf(stderr, "moesim: eval: cannot create %s: %s\n", od.tmp, strerror(errno));
        outdir_abort(&od);
        return 1;
    }
    RunOptions to = {.run_id = "eval", .quiet = 1};
    if (eval_saved(&c, dir, od.tmp, &to, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: eval: %s\n", err);
        outdir_abort(&od);
        return 1;
    }
    if (out_commit("eval", &od) != 0) return 1;
    fprintf(stderr, "moesim: evaluated %s; results in %s\n", dir, od.dir);
    return 0;
}

// --route-with: the analyzer model routes each folder's tokens (compare.h's route callback)
static int route_with_model(void *ctx, const int32_t *tokens, int rows, int len, int32_t **routes, float **hidden,
                            int *L, int *K, int *E, int *D, char *err, size_t errlen) {
    Model *m = ctx;
    *L = m->spec.L; *K = m->spec.K; *E = m->spec.E; *D = m->spec.D;
    *routes = malloc(sizeof(int32_t) * ((size_t)rows * m->spec.L * len * m->spec.K + 1));
    *hidden = malloc(sizeof(float) * ((size_t)rows * m->spec.L * len * m->spec.D + 1));
    if (!*routes || !*hidden || route_tokens(m, tokens, rows, len, *routes, *hidden, err, errlen) != 0) {
        if (!*routes || !*hidden) snprintf(err, errlen, "out of memory");
        free(*routes); free(*hidden);
        *routes = NULL; *hidden = NULL;
        return -1;
    }
    return 0;
}

static int cmd_compare(int argc, char **argv) {
    static const char *dirs[256];
    const char *route_with = NULL;
    CompareArgs a = {.dirs = dirs, .top_p = 0.8};
    const Option opts[] = {
        {.kind = OPT_ARGS, .meta = "GEN_DIR", .dst = dirs, .hi = 256, .count = &a.ndirs, .flags = OPT_REQUIRED},
        OPT_OUT(&a.out, OPT_REQUIRED),
        OPT_TOP_P(&a.top_p),
        {.name = "--include-prompt", .kind = OPT_FLAG, .dst = &a.include_prompt},
        {.name = "--route-with", .kind = OPT_PATH, .meta = "RUN_DIR", .dst = &route_with},
    };
    int rc = opt_parse("compare", usage_compare, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    char err[IO_MSG_MAX];
    OutDir od;
    if (out_begin("compare", &od, a.out, "compare.csv") != 0) return 2;
    a.out = od.tmp;
    Model analyzer;
    if (route_with) {
        Config c;
        int step;
        if (ckpt_open_model(route_with, 0, &c, &analyzer, &step, err, sizeof err) != 0) {
            fprintf(stderr, "moesim: compare: --route-with: %s\n", err);
            return 2;
        }
        a.route = route_with_model;
        a.route_ctx = &analyzer;
    }
    rc = compare_dirs(&a, err, sizeof err);
    if (route_with) model_free(&analyzer);
    if (rc != 0) { fprintf(stderr, "moesim: compare: %s\n", err); outdir_abort(&od); return rc; }
    if (out_commit("compare", &od) != 0) return 1;
    fprintf(stderr, "moesim: wrote compare.csv, compare_pairs.csv, track.csv and track_pairs.csv in %s\n", od.dir);
    return 0;
}

static const char usage_help[] =
    "usage: moesim help [COMMAND | keys]\n"
    "\n"
    "Without an argument: every command, then every configuration key. `moesim help COMMAND` prints\n"
    "COMMAND's usage (the same as `moesim COMMAND --help`); `moesim help keys` every configuration\n"
    "key with its type, default, range and meaning.\n";

static int cmd_help(int argc, char **argv);

// ---- the command table ------------------------------------------------------------------------
// One entry per command: `moesim help` lists them, `moesim help CMD` prints the usage, and the
// README's "Commands" list is checked against this table (tests/e2e_commands.sh).
typedef struct {
    const char *name;
    const char *args;                  // its arguments in `moesim help`'s list
    int (*fn)(int argc, char **argv);  // argv: the arguments after the command's name
    const char *usage;                 // printed by -h / --help and `moesim help NAME`
    const char *summary;               // one line in `moesim help`'s list
} Command;

static const Command commands[] = {
    {"run", "FILE", cmd_run, usage_run, "train every point of an experiment file; results in results/<name>/"},
    {"export", "FILE", cmd_export, usage_export, "write the model at initialization, one batch and its gradients as .npy"},
    {"analyze", "", cmd_analyze, usage_analyze, "the paper's measurements on your own hidden states and router (.npy)"},
    {"report", "DIR", cmd_report, usage_report, "rebuild summary plots and report.html of a results folder"},
    {"watch", "DIR", cmd_watch, usage_watch, "draw the runs of a results folder while another moesim run writes it"},
    {"eval", "RUN_DIR", cmd_eval, usage_eval, "evaluate a run's saved model (or checkpoint), optionally on another world"},
    {"compare", "GEN_DIR...", cmd_compare, usage_compare, "expert usage across the rollouts of several models (from generate)"},
    {"generate", "RUN_DIR", cmd_generate, usage_generate, "sample continuations from a trained run's model, with every token's routing"},
    {"help", "[COMMAND|keys]", cmd_help, usage_help, "help on a command, or `keys` (every config key)"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const Command *find_command(const char *name) {
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

// `moesim`, `moesim --help`: the program and every command of the table, one line each.
static void print_main_usage(FILE *f) {
    fprintf(f, "moesim " MOESIM_VERSION " — a Mixture-of-Experts training simulator\n\n"
               "usage: moesim <command> [options]     (moesim <command> --help: its options)\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
        fprintf(f, "  %-24s %s\n", head, commands[i].summary);
    }
    fprintf(f, "\nStart with `make run` (the classroom demo) and docs/EXPERIMENTS.md.\n");
}

static int cmd_help(int argc, char **argv) {
    const char *topic = NULL;
    const Option opts[] = {{.kind = OPT_ARGS, .meta = "COMMAND", .dst = &topic, .hi = 1}};
    int rc = opt_parse("help", usage_help, opts, NOPTS(opts), argc, argv);
    if (rc != OPT_CONTINUE) return rc;
    const Command *c = topic ? find_command(topic) : NULL;
    if (c) fputs(c->usage, stdout);
    else if (topic && (strcmp(topic, "keys") == 0 || strcmp(topic, "config") == 0)) config_print_help(stdout);
    else if (!topic) {
        print_main_usage(stdout);
        printf("\nconfiguration keys (moesim help keys):\n\n");
        config_print_help(stdout);
    } else return opt_fail("help", "no help on '%s' (see moesim help)", topic);
    return 0;
}

int main(int argc, char **argv) {
    wait_policy_apply(argv);  // may re-execute the program once, before anything else happens
    if (argc < 2) { print_main_usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) { print_main_usage(stdout); return 0; }
    if (strcmp(cmd, "--version") == 0) {
        puts("moesim " MOESIM_VERSION);
        printf("OpenMP threads wait: %s\n", wait_policy_name());
        return 0;
    }
    const Command *c = find_command(cmd);
    if (c) return c->fn(argc - 2, argv + 2);
    fprintf(stderr, "moesim: unknown command '%s'\n\n", cmd);
    print_main_usage(stderr);
    return 2;
}
