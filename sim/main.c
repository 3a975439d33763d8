// main.c — the moesim command line: run, export, analyze, report, help.
// Every input problem is reported (all of a file's errors at once) and exits with status 2
// before any output folder is created or any work starts.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tools/analyze.h"
#include "tools/compare.h"
#include "config/config.h"
#include "tools/export.h"
#include "models/checkpoint.h"
#include "use/generate.h"
#include "report/report.h"
#include "report/depth.h"
#include "use/route.h"
#include "train/sweep.h"
#include "train/train.h"
#include "io.h"

#ifndef MOESIM_VERSION
#define MOESIM_VERSION "0.1.0"
#endif

static const char *usage_main =
    "moesim " MOESIM_VERSION " — a Mixture-of-Experts training simulator\n"
    "\n"
    "usage: moesim <command> [options]\n"
    "\n"
    "commands:\n"
    "  run FILE       train every point of an experiment file; results in results/<name>/\n"
    "  export FILE    write the model at initialization, one batch and its gradients as .npy\n"
    "  analyze        the paper's measurements on your own hidden states and router (.npy)\n"
    "  report DIR     rebuild summary plots and report.html of a results folder\n"
    "  eval RUN_DIR   evaluate a run's saved model (or checkpoint), optionally on another world\n"
    "  compare DIR... expert usage across the rollouts of several models (from generate)\n"
    "  generate RUN   sample continuations from a trained run's model, with every token's routing\n"
    "  help [TOPIC]   help on a command (run, export, analyze, report, eval, generate, compare)\n"
    "                 or `keys` (every config key)\n"
    "\n"
    "Start with `make run` (the classroom demo) and docs/EXPERIMENTS.md.\n";

static const char *usage_run =
    "usage: moesim run FILE [options]\n"
    "\n"
    "Trains every point of the experiment (the grid of its [sweep] table) and writes\n"
    "results/<experiment.name>/<run-id>/ per run, then summary.csv, plots/ and report.html.\n"
    "Finished runs (manifest.json status \"ok\") are skipped, so an interrupted sweep resumes.\n"
    "\n"
    "options:\n"
    "  --out DIR        write the experiment's results into DIR\n"
    "  --set KEY=VALUE  override a key (same checks as the file; repeatable), e.g. --set train.steps=50\n"
    "  -j N             run N points in parallel processes (OpenMP threads are divided among them)\n"
    "  --shard I/N      run only the I-th of N disjoint slices of the points (cluster job arrays)\n"
    "  --dry-run        list the points and their folders; run nothing\n"
    "  --force          redo finished runs too\n"
    "  --quiet          no progress output\n";

static const char *usage_export =
    "usage: moesim export FILE --out DIR [--set KEY=VALUE]...\n"
    "\n"
    "Builds the model of FILE (its first sweep point) at initialization, draws the first training\n"
    "batch, runs one forward/backward pass and writes, for numpy:\n"
    "  DIR/manifest.json                 config, parameter names and shapes, the step-0 loss\n"
    "  DIR/params/<name>.npy             every parameter (float32, C order)\n"
    "  DIR/grads/<name>.npy              its gradient\n"
    "  DIR/tokens.npy                    the batch, int32 B x (T+1) (router kind: hidden.npy)\n"
    "  DIR/acts/blocks.<l>.router_in.npy, router_logits.npy, topk.npy   the router's view\n"
    "  DIR/state/blocks.<l>.bias.npy     the aux-free selection bias\n";

static const char *usage_analyze =
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
    "                     D x D Gram matrix, O(D^3): off by default above D = 2048)\n";

static const char *usage_generate =
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

static const char *usage_report =
    "usage: moesim report DIR\n"
    "\n"
    "Rebuilds DIR/plots/*.svg and DIR/report.html from the CSV files of a results folder\n"
    "(summary.csv, and each run's metrics.csv, eval.csv, experts.csv, pairs.csv).\n";

static const char *usage_eval =
    "usage: moesim eval RUN_DIR [--checkpoint] [--set KEY=VALUE]... --out DIR\n"
    "\n"
    "Loads the model a run saved (RUN_DIR/model/, or its last checkpoint with --checkpoint; RUN_DIR\n"
    "may also name a model or checkpoint folder itself) and evaluates it, writing into DIR:\n"
    "  eval.csv, experts.csv   the measurements at the model's step (as the run's final rows)\n"
    "  pairs.csv, removal.csv  the Proposition 1 pairs and expert-removal sensitivity\n"
    "  config.toml             the resolved config of the evaluation; dump/ with eval.dump = true\n"
    "With --set, only data.* and eval.* keys may change (another transform, duplication, more\n"
    "sequences, another data seed); the model's own keys cannot. With no --set, eval.csv equals the\n"
    "run's final eval.csv rows exactly.\n";

static const char *usage_compare =
    "usage: moesim compare GEN_DIR... --out DIR [--top-p P] [--include-prompt] [--route-with RUN_DIR]\n"
    "\n"
    "Compares expert usage across the rollouts of several models (arXiv 2604.09780, Figs. 6, 25).\n"
    "Each GEN_DIR is the output of `moesim generate` for one model (run); all must use the same\n"
    "prompts. A rollout (model, prompt, sample) is summarized per layer by its expert-frequency\n"
    "vector (Eq. 13) over its generated tokens (prompt tokens too with --include-prompt). Every\n"
    "unordered pair of rollouts counts once in one kind: same_prompt_other_model,\n"
    "other_prompt_same_model, same_prompt_same_model_other_sample, other_prompt_other_model.\n"
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

static int die_usage(const char *msg, const char *usage) {
    fprintf(stderr, "moesim: %s\n\n%s", msg, usage);
    return 2;
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

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

static int cmd_run(int argc, char **argv) {
    const char *file = NULL;
    const char *sets[64];
    int nsets = 0;
    SweepOptions o = {0};
    o.jobs = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--out") == 0 && i + 1 < argc) o.out_dir = argv[++i];
        else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            if (nsets == 64) return die_usage("too many --set options (64 at most)", usage_run);
            sets[nsets++] = argv[++i];
        } else if (strcmp(a, "-j") == 0 && i + 1 < argc) {
            if (parse_int(argv[++i], &o.jobs) != 0) return die_usage("-j: expected a positive integer", usage_run);
        } else if (strncmp(a, "-j", 2) == 0 && a[2]) {
            if (parse_int(a + 2, &o.jobs) != 0) return die_usage("-j: expected a positive integer", usage_run);
        } else if (strcmp(a, "--shard") == 0 && i + 1 < argc) {
            char err[200];
            if (experiment_shard_parse(argv[++i], &o.shard_index, &o.shard_count, err, sizeof err) != 0) {
                fprintf(stderr, "moesim: --shard: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "--dry-run") == 0) o.dry_run = 1;
        else if (strcmp(a, "--force") == 0) o.force = 1;
        else if (strcmp(a, "--quiet") == 0) o.quiet = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(usage_run, stdout); return 0; }
        else if (a[0] == '-') {
            char msg[300];
            snprintf(msg, sizeof msg, "run: unknown or incomplete option '%s'", a);
            return die_usage(msg, usage_run);
        } else if (!file) file = a;
        else return die_usage("run: only one experiment file at a time", usage_run);
    }
    if (!file) return die_usage("run: no experiment file given", usage_run);
    static Experiment ex;
    if (load_experiment(&ex, file, sets, nsets) != 0) return 2;
    if (!o.quiet && !o.dry_run) print_settings(&ex);
    int rc = sweep_run(&ex, &o);
    if (o.dry_run || rc == 2) return rc;
    if (rc > 128) {
        // interrupted: every unfinished run has a checkpoint; the same command resumes them
        fprintf(stderr, "moesim: stopped by signal %d; to resume, run the same command again: moesim run", rc - 128);
        for (int i = 0; i < argc; i++) fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
        return rc;
    }
    // the report reads the result files the sweep wrote; it never reaches into the training loop
    char dir[1024], err[512];
    sweep_out_dir(&ex, &o, dir, sizeof dir);
    int report_ok = report_build(dir, err, sizeof err) == 0;
    if (!report_ok) { fprintf(stderr, "moesim: report: %s\n", err); rc = 1; }
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
    const char *sets[64];
    int nsets = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 64) sets[nsets++] = argv[++i];
        else if (strcmp(argv[i], "--help") == 0) { fputs(usage_export, stdout); return 0; }
        else if (argv[i][0] == '-') return die_usage("export: unknown or incomplete option", usage_export);
        else if (!file) file = argv[i];
        else return die_usage("export: only one experiment file", usage_export);
    }
    if (!file || !out) return die_usage("export: needs FILE and --out DIR", usage_export);
    static Experiment ex;
    if (load_experiment(&ex, file, sets, nsets) != 0) return 2;
    Config c;
    experiment_point(&ex, 0, &c);
    char err[512];
    if (export_model(&c, out, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: export: %s\n", err);
        return 1;
    }
    fprintf(stderr, "moesim: exported to %s\n", out);
    return 0;
}

static int cmd_analyze(int argc, char **argv) {
    AnalyzeArgs a = {0};
    const char *layers = NULL;
    int trunc = -1;                                   // -1: by D (on up to 2048)
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--help") == 0) { fputs(usage_analyze, stdout); return 0; }
        if (!v) return die_usage("analyze: option without a value", usage_analyze);
        i++;
        if (strcmp(k, "--hidden") == 0) a.hidden = v;
        else if (strcmp(k, "--router") == 0) a.router = v;
        else if (strcmp(k, "--domains") == 0) a.domains = v;
        else if (strcmp(k, "--topk-file") == 0) a.topk_file = v;
        else if (strcmp(k, "--layers") == 0) layers = v;
        else if (strcmp(k, "--out") == 0) a.out = v;
        else if (strcmp(k, "--top-k") == 0) { if (parse_int(v, &a.top_k)) return die_usage("--top-k: expected a positive integer", usage_analyze); }
        else if (strcmp(k, "--seq-len") == 0) { if (parse_int(v, &a.seq_len)) return die_usage("--seq-len: expected a positive integer", usage_analyze); }
        else if (strcmp(k, "--pairs") == 0) { if (parse_int(v, &a.pairs)) return die_usage("--pairs: expected a positive integer", usage_analyze); }
        else if (strcmp(k, "--score") == 0) {
            if (strcmp(v, "softmax") == 0) a.sigmoid = 0;
            else if (strcmp(v, "sigmoid") == 0) a.sigmoid = 1;
            else return die_usage("--score: expected softmax or sigmoid", usage_analyze);
        } else if (strcmp(k, "--dtype") == 0) {
            if (strcmp(v, "bfloat16") != 0) return die_usage("--dtype: expected bfloat16 (other dtypes are read from the file)", usage_analyze);
            a.dtype = v;
        } else if (strcmp(k, "--truncation") == 0) {
            if (strcmp(v, "on") == 0) trunc = 1;
            else if (strcmp(v, "off") == 0) trunc = 0;
            else return die_usage("--truncation: expected on or off", usage_analyze);
        } else if (strcmp(k, "--top-p") == 0) {
            char *end;
            a.top_p = strtod(v, &end);
            if (*end || !(a.top_p > 0 && a.top_p <= 1)) return die_usage("--top-p: expected a number in (0, 1]", usage_analyze);
        } else return die_usage("analyze: unknown option", usage_analyze);
    }
    a.truncation = trunc;                             // resolved per layer below when -1
    char err[1024];
    if (layers) {
        if (a.hidden || a.router || a.topk_file || !a.out)
            return die_usage("analyze --layers: needs --out, and takes no --hidden, --router or --topk-file", usage_analyze);
        int n = analyze_folder(layers, &a, err, sizeof err);
        if (n < 0) { fprintf(stderr, "moesim: analyze: %s\n", err); return 2; }
        char csv[1100], plots[1100];
        snprintf(csv, sizeof csv, "%s/depth.csv", a.out);
        snprintf(plots, sizeof plots, "%s/plots", a.out);
        if (report_depth(csv, plots, err, sizeof err) != 0) { fprintf(stderr, "moesim: analyze: %s\n", err); return 1; }
        fprintf(stderr, "moesim: analyzed %d layers: %s/layer<i>/analysis.json, %s, %s/depth_*.svg\n", n, a.out, csv, plots);
        return 0;
    }
    if (!a.hidden || !a.router || (!a.top_k && !a.topk_file) || !a.out)
        return die_usage("analyze: needs --hidden, --router, --top-k (or --topk-file) and --out", usage_analyze);
    if (analyze_files(&a, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: analyze: %s\n", err);
        return 2;
    }
    if (a.seq_len <= 0)
        fprintf(stderr, "moesim: analyze: no --seq-len: a B x T x D input gives the sequences; an N x D one is one "
                        "sequence (the per-sequence measurements cover all rows, the sequence-pair ones are null)\n");
    fprintf(stderr, "moesim: wrote %s/analysis.json\n", a.out);
    return 0;
}

static int cmd_report(int argc, char **argv) {
    if (argc != 1 || argv[0][0] == '-') return die_usage("report: needs one results folder", usage_report);
    char err[512];
    if (report_build(argv[0], err, sizeof err) != 0) {
        fprintf(stderr, "moesim: report: %s\n", err);
        return 1;
    }
    fprintf(stderr, "moesim: wrote %s/report.html\n", argv[0]);
    return 0;
}

// moesim generate: every flag is checked before the model is loaded, the prompts before the output
// folder is created; bad input exits 2, a failed write 1.
static int cmd_generate(int argc, char **argv) {
    GenArgs a;
    gen_args_defaults(&a);
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char msg[300], *end = NULL;
        if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) { fputs(usage_generate, stdout); return 0; }
        if (k[0] != '-') {
            if (a.run_dir) return die_usage("generate: only one RUN_DIR", usage_generate);
            a.run_dir = k;
            continue;
        }
        if (!v) {
            snprintf(msg, sizeof msg, "generate: %s needs a value", k);
            return die_usage(msg, usage_generate);
        }
        i++;
        int *ip = strcmp(k, "--prompts") == 0 ? &a.prompts : strcmp(k, "--samples") == 0 ? &a.samples
                : strcmp(k, "--prompt-len") == 0 ? &a.prompt_len : strcmp(k, "--tokens") == 0 ? &a.tokens
                : strcmp(k, "--duplicate") == 0 ? &a.duplicate : NULL;
        if (ip) {
            if (parse_int(v, ip) != 0) {
                snprintf(msg, sizeof msg, "%s '%s': expected an integer in 1..1000000", k, v);
                return die_usage(msg, usage_generate);
            }
        } else if (strcmp(k, "--temperature") == 0 || strcmp(k, "--top-p") == 0) {
            double x = strtod(v, &end);
            if (*v == '\0' || *end != '\0') {
                snprintf(msg, sizeof msg, "%s '%s': expected a number", k, v);
                return die_usage(msg, usage_generate);
            }
            *(k[2] == 't' && k[3] == 'e' ? &a.temperature : &a.top_p) = x;
        } else if (strcmp(k, "--seed") == 0) {
            a.seed = strtoull(v, &end, 10);
            if (*v < '0' || *v > '9' || *end != '\0') {
                snprintf(msg, sizeof msg, "--seed '%s': expected a non-negative integer", v);
                return die_usage(msg, usage_generate);
            }
        } else if (strcmp(k, "--prompt-domain") == 0) {
            long d = strtol(v, &end, 10);
            if (*v < '0' || *v > '9' || *end != '\0' || d > 1000000) {
                snprintf(msg, sizeof msg, "--prompt-domain '%s': expected a domain index >= 0", v);
                return die_usage(msg, usage_generate);
            }
            a.prompt_domain = (int)d;
        } else if (strcmp(k, "--prompts-per-domain") == 0) {
            long d = strtol(v, &end, 10);
            if (*v < '0' || *v > '9' || *end != '\0' || d < 1 || d > 1000000) {
                snprintf(msg, sizeof msg, "--prompts-per-domain '%s': expected an integer >= 1", v);
                return die_usage(msg, usage_generate);
            }
            a.per_domain = (int)d;
        } else if (strcmp(k, "--prompt-file") == 0) a.prompt_file = v;
        else if (strcmp(k, "--out") == 0) a.out = v;
        else {
            snprintf(msg, sizeof msg, "generate: unknown option '%s'", k);
            return die_usage(msg, usage_generate);
        }
    }
    if (!a.run_dir || !a.out) return die_usage("generate: needs RUN_DIR and --out DIR", usage_generate);
    char err[1024];
    if (gen_check_args(&a, err, sizeof err) != 0) return die_usage(err, usage_generate);
    static Config c;
    Model m;
    int step = 0;
    if (ckpt_open_model(a.run_dir, 0, &c, &m, &step, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: generate: %s\n", err);
        return 2;
    }
    GenPrompts p;
    if (gen_prompts(&p, &a, &c, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: generate: %s\n", err);
        model_free(&m);
        return 2;
    }
    int rc = 0;
    GenOutput o;
    a.progress = stderr;
    if (gen_run(&o, &m, &p, &a, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: %s\n", err);
        rc = 1;
    } else {
        if (gen_write(&o, &p, &a, &c, step, err, sizeof err) != 0) {  // creates --out, then the files
            fprintf(stderr, "moesim: generate: %s\n", err);
            rc = 1;
        } else {
            fprintf(stderr, "moesim: generated %d rows (%d prompts x %d samples) of %d + %d tokens in %.2f s "
                    "(%.0f new tokens/s); wrote %s/{tokens,routes,gates,confidence}.npy, diversity.csv and "
                    "generate.json\n", o.rows, p.N, a.samples, p.n, a.tokens, o.seconds,
                    o.seconds > 0 ? (double)o.rows * a.tokens / o.seconds : 0.0, a.out);
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
    const char *sets[64];
    int nsets = 0, prefer_checkpoint = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 64) sets[nsets++] = argv[++i];
        else if (strcmp(argv[i], "--checkpoint") == 0) prefer_checkpoint = 1;
        else if (strcmp(argv[i], "--help") == 0) { fputs(usage_eval, stdout); return 0; }
        else if (argv[i][0] == '-') return die_usage("eval: unknown or incomplete option", usage_eval);
        else if (!run) run = argv[i];
        else return die_usage("eval: only one run folder", usage_eval);
    }
    if (!run || !out) return die_usage("eval: needs RUN_DIR and --out DIR", usage_eval);
    for (int i = 0; i < nsets; i++)
        if (strncmp(sets[i], "data.", 5) != 0 && strncmp(sets[i], "eval.", 5) != 0) {
            fprintf(stderr, "moesim: eval: --set %s: only data.* and eval.* keys can change for a trained model\n", sets[i]);
            return 2;
        }
    char dir[1100], err[1400], cfg_path[1200];
    if (ckpt_resolve(run, prefer_checkpoint, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: eval: %s\n", err);
        return 2;
    }
    // the saved run's config with the overrides, through the same checks as an experiment file
    static Experiment ex;
    if (load_experiment(&ex, path_join(cfg_path, sizeof cfg_path, dir, "config.toml"), sets, nsets) != 0) return 2;
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
    if (mkdir_p(out) != 0) {
        fprintf(stderr, "moesim: eval: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    TrainOptions to = {.run_id = "eval", .quiet = 1};
    if (eval_saved(&c, dir, out, &to, err, sizeof err) != 0) {
        fprintf(stderr, "moesim: eval: %s\n", err);
        return 1;
    }
    fprintf(stderr, "moesim: evaluated %s; results in %s\n", dir, out);
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
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) a.out = argv[++i];
        else if (strcmp(argv[i], "--route-with") == 0 && i + 1 < argc) route_with = argv[++i];
        else if (strcmp(argv[i], "--top-p") == 0 && i + 1 < argc) {
            char *end;
            a.top_p = strtod(argv[++i], &end);
            if (*end || end == argv[i]) return die_usage("compare: --top-p expects a number in (0, 1]", usage_compare);
        } else if (strcmp(argv[i], "--include-prompt") == 0) a.include_prompt = 1;
        else if (strcmp(argv[i], "--help") == 0) { fputs(usage_compare, stdout); return 0; }
        else if (argv[i][0] == '-') return die_usage("compare: unknown or incomplete option", usage_compare);
        else if (a.ndirs < 256) dirs[a.ndirs++] = argv[i];
        else return die_usage("compare: at most 256 folders", usage_compare);
    }
    if (a.ndirs < 1 || !a.out) return die_usage("compare: needs GEN_DIR... and --out DIR", usage_compare);
    char err[1600];
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
    int rc = compare_dirs(&a, err, sizeof err);
    if (route_with) model_free(&analyzer);
    if (rc != 0) { fprintf(stderr, "moesim: compare: %s\n", err); return rc; }
    fprintf(stderr, "moesim: wrote compare.csv, compare_pairs.csv, track.csv and track_pairs.csv in %s\n", a.out);
    return 0;
}

static int cmd_help(int argc, char **argv) {
    const char *t = argc > 0 ? argv[0] : "";
    if (strcmp(t, "run") == 0) fputs(usage_run, stdout);
    else if (strcmp(t, "export") == 0) fputs(usage_export, stdout);
    else if (strcmp(t, "analyze") == 0) fputs(usage_analyze, stdout);
    else if (strcmp(t, "report") == 0) fputs(usage_report, stdout);
    else if (strcmp(t, "eval") == 0) fputs(usage_eval, stdout);
    else if (strcmp(t, "generate") == 0) fputs(usage_generate, stdout);
    else if (strcmp(t, "compare") == 0) fputs(usage_compare, stdout);
    else if (strcmp(t, "keys") == 0 || strcmp(t, "config") == 0) config_print_help(stdout);
    else if (!*t) { fputs(usage_main, stdout); printf("\nconfiguration keys (moesim help keys):\n\n"); config_print_help(stdout); }
    else { fprintf(stderr, "moesim: no help on '%s'\n\n%s", t, usage_main); return 2; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fputs(usage_main, stderr); return 2; }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) { fputs(usage_main, stdout); return 0; }
    if (strcmp(cmd, "--version") == 0) { puts("moesim " MOESIM_VERSION); return 0; }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 2, argv + 2);
    if (strcmp(cmd, "analyze") == 0) return cmd_analyze(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0) return cmd_report(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 2, argv + 2);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 2, argv + 2);
    if (strcmp(cmd, "help") == 0) return cmd_help(argc - 2, argv + 2);
    fprintf(stderr, "moesim: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
