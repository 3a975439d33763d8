// html.c — report.html: one self-contained page (settings, tables, figures inlined, glossary),
// and report_build, which reads a results folder, draws every figure and writes the files.
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  // open_memstream
#endif
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

// ---- report.html --------------------------------------------------------------------------------

static void esc(FILE *f, const char *s) { svg_escape(f, s); }

// A column header: underscores and dots may break the line (<wbr/>), so long names stay narrow.
static void esc_header(FILE *f, const char *s) {
    int long_name = strlen(s) > 12;
    for (; *s; s++) {
        char c[2] = {*s, 0};
        esc(f, c);
        if (long_name && (*s == '_' || *s == '.') && s[1]) fputs("<wbr/>", f);
    }
}

static void num_cell(FILE *f, double v) {
    char b[40];
    svg_num(b, sizeof b, v, 4);
    fprintf(f, "<td class=\"n\">%s</td>", b);
}

static void mean_sd_cell(FILE *f, double m, double sd, int n) {
    char a[40], b[40];
    svg_num(a, sizeof a, m, 4);
    if (n > 1 && isfinite(sd)) {
        svg_num(b, sizeof b, sd, 2);
        fprintf(f, "<td class=\"n\">%s \xc2\xb1 %s</td>", a, b);
    } else fprintf(f, "<td class=\"n\">%s</td>", a);
}

static const char *CSS =
    "body{margin:0;background:#eef0f2;color:#1d1d1f;font:15px/1.5 \"DejaVu Sans\",Helvetica,Arial,sans-serif}\n"
    "main{max-width:1100px;margin:0 auto;padding:28px 32px 56px;background:#fff;box-shadow:0 0 12px rgba(0,0,0,.08)}\n"
    "h1{font-size:26px;margin:0 0 12px}\n"
    "h2{font-size:19px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid #ddd}\n"
    ".lead{background:#f6f8fa;border-left:4px solid #0072b2;padding:10px 14px;margin:0 0 12px}\n"
    ".lead p{margin:4px 0}\n"
    ".meta{color:#555;font-size:14px}\n"
    "nav{font-size:14px}nav a{margin-right:14px}\n"
    "a{color:#0b5fa5}\n"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
    "th,td{border:1px solid #d8dadd;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:#f2f3f5;font-weight:600}\n"
    "td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    "tr.bad td{background:#fdecea}\n"
    "td.id{white-space:nowrap}\n"
    ".bad-status{color:#b00020;font-weight:bold}\n"
    "tr.group th{background:#e8ecf0;text-align:left}\n"
    "tr.changed td{background:#fffbe6}\n"
    ".scroll{overflow-x:auto}\n"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;vertical-align:-1px}\n"
    "figure{margin:20px 0 34px}\n"
    "figure svg{max-width:100%;height:auto;display:block}\n"
    "figcaption{font-size:13.5px;color:#333;margin-top:6px;max-width:980px}\n"
    "code{font-family:\"DejaVu Sans Mono\",Menlo,monospace;font-size:13px}\n"

    "details{margin-top:10px}summary{cursor:pointer;color:#0b5fa5}\n"
    ".tl-maps{display:flex;flex-wrap:wrap;gap:18px}.tl-map{margin:10px 0}.tl-map canvas{display:block;border:1px solid #ccc}\n"
    ".seq{font-family:\"DejaVu Sans Mono\",Menlo,monospace;font-size:13px;line-height:1.9;margin:4px 0}\n"
    "body.focus main>*:not(.classroom):not(h1){display:none}\n"
    ".tok{display:inline-block;padding:0 3px;margin:1px;border-radius:3px;white-space:pre}.tok:hover{outline:2px solid #000}\n";

// The swept values of key k as "a, b, c".
static void swept_values(const Report *R, int k, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < R->keys[k].nvals; i++) {
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s", i ? ", " : "", R->keys[k].vals[i]);
        if (o >= cap) return;
    }
}

static int swept_index(const Report *R, const char *key) {
    for (int k = 0; k < R->nkeys; k++)
        if (!strcmp(R->keys[k].key, key)) return k;
    return -1;
}

static void settings_row(FILE *f, const Report *R, const Config *def, int k, int show_help) {
    char v[1024], d[CFG_STR_MAX * 2];
    config_format_value(&R->ex->base, k, 0, v, sizeof v);
    config_format_value(def, k, 0, d, sizeof d);
    int s = swept_index(R, cfg_keys[k].key);
    if (s >= 0) {
        char sv[600];
        swept_values(R, s, sv, sizeof sv);
        snprintf(v, sizeof v, "swept: %s", sv);
    }
    int changed = s >= 0 || strcmp(v, d) != 0;
    fprintf(f, "<tr%s><td><code>", changed ? " class=\"changed\"" : "");
    esc(f, cfg_keys[k].key);
    fputs("</code></td><td><code>", f);
    esc(f, v);
    fputs("</code></td><td><code>", f);
    esc(f, d);
    fputs("</code></td>", f);
    if (show_help) {
        fputs("<td>", f);
        esc(f, cfg_keys[k].help);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

static void write_settings(FILE *f, const Report *R) {
    Config def;
    config_defaults(&def);
    fputs("<h2 id=\"settings\">Settings</h2>\n<p>The experiment's base configuration "
          "(<code>experiment.toml</code>): the keys that differ from the defaults or are swept.</p>\n"
          "<div class=\"scroll\"><table>\n<tr><th>key</th><th>value</th><th>default</th><th>meaning</th></tr>\n", f);
    int n = 0;
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (!strncmp(cfg_keys[k].key, "experiment.", 11)) continue;
        char v[CFG_STR_MAX * 2], d[CFG_STR_MAX * 2];
        config_format_value(&R->ex->base, k, 0, v, sizeof v);
        config_format_value(&def, k, 0, d, sizeof d);
        if (swept_index(R, cfg_keys[k].key) < 0 && !strcmp(v, d)) continue;
        settings_row(f, R, &def, k, 1);
        n++;
    }
    if (n == 0) fputs("<tr><td colspan=\"4\">every key at its default</td></tr>\n", f);
    fputs("</table></div>\n<details><summary>All settings, by table</summary>\n<div class=\"scroll\"><table>\n"
          "<tr><th>key</th><th>value</th><th>default</th></tr>\n", f);
    const char *prev = "";
    size_t plen = 0;
    for (int k = 0; k < CFG_NKEYS; k++) {
        const char *key = cfg_keys[k].key, *dot = strchr(key, '.');
        size_t tl = dot ? (size_t)(dot - key) : 0;
        if (tl != plen || strncmp(key, prev, tl)) {
            fputs("<tr class=\"group\"><th colspan=\"3\">[", f);
            char t[64];
            snprintf(t, sizeof t, "%.*s", (int)tl, key);
            esc(f, t);
            fputs("]</th></tr>\n", f);
            prev = key;
            plen = tl;
        }
        settings_row(f, R, &def, k, 0);
    }
    fputs("</table></div>\n</details>\n", f);
}

static void write_tables(FILE *f, const Report *R) {
    int show[COUNT(TABLE_MEAS)], cols[COUNT(TABLE_MEAS)];
    for (int m = 0; m < COUNT(TABLE_MEAS); m++) {
        cols[m] = csv_col(&R->sum, TABLE_MEAS[m]);
        show[m] = col_has_data(R, TABLE_MEAS[m]);
    }
    // Variants: mean ± sd over seeds.
    fputs("<h2 id=\"variants\">Variants</h2>\n<p>Final values (last layer), mean \xc2\xb1 sd over each variant's "
          "ok seeds.</p>\n<div class=\"scroll\"><table>\n<tr><th>variant</th><th>ok / runs</th>", f);
    for (int m = 0; m < COUNT(TABLE_MEAS); m++)
        if (show[m]) { fputs("<th>", f); esc_header(f, TABLE_MEAS[m]); fputs("</th>", f); }
    fputs("</tr>\n", f);
    for (int v = 0; v < R->nvars; v++) {
        const Variant *V = &R->vars[v];
        int ok = 0;
        for (int i = 0; i < V->nruns; i++) ok += R->runs[V->runs[i]].ok;
        fprintf(f, "<tr%s><td class=\"id\"><span class=\"sw\" style=\"background:%s\"></span>", ok ? "" : " class=\"bad\"", V->color);
        esc(f, V->label);
        fprintf(f, "</td><td class=\"n\">%d / %d</td>", ok, V->nruns);
        for (int m = 0; m < COUNT(TABLE_MEAS); m++) {
            if (!show[m]) continue;
            double mean, sd;
            int n = var_stat(R, V, cols[m], &mean, &sd);
            mean_sd_cell(f, mean, sd, n);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
    // Runs: every row of summary.csv.
    fputs("<h2 id=\"runs\">Runs</h2>\n<p>One row per run (<code>summary.csv</code>); diverged and failed runs "
          "are marked in red and left out of the means.</p>\n<div class=\"scroll\"><table>\n<tr><th>run</th>", f);
    for (int k = 0; k < R->nkeys; k++) { fputs("<th>", f); esc_header(f, R->keys[k].key); fputs("</th>", f); }
    fputs("<th>status</th><th>steps</th>", f);
    for (int m = 0; m < COUNT(TABLE_MEAS); m++)
        if (show[m]) { fputs("<th>", f); esc_header(f, TABLE_MEAS[m]); fputs("</th>", f); }
    fputs("</tr>\n", f);
    for (int r = 0; r < R->nruns; r++) {
        const ReportRun *U = &R->runs[r];
        fprintf(f, "<tr%s><td class=\"id\"><span class=\"sw\" style=\"background:%s\"></span><code>", U->ok ? "" : " class=\"bad\"",
                R->vars[U->variant].color);
        esc(f, U->id);
        fputs("</code></td>", f);
        for (int k = 0; k < R->nkeys; k++) {
            fputs("<td>", f);
            esc(f, csv_cell(&R->sum, (size_t)r, R->keys[k].col));
            fputs("</td>", f);
        }
        fprintf(f, "<td%s>", U->ok ? "" : " class=\"bad-status\"");
        esc(f, U->status);
        fputs("</td>", f);
        num_cell(f, csv_num(&R->sum, (size_t)r, R->c_steps));
        for (int m = 0; m < COUNT(TABLE_MEAS); m++)
            if (show[m]) num_cell(f, csv_num(&R->sum, (size_t)r, cols[m]));
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void write_glossary(FILE *f) {
    const char *names[METRICS_NSCALARS], *help[METRICS_NSCALARS];
    LayerMetrics dummy;
    memset(&dummy, 0, sizeof dummy);
    metrics_list(names, help, NULL, &dummy);
    fputs("<h2 id=\"glossary\">Measurements</h2>\n<p>The columns of <code>summary.csv</code> and "
          "<code>eval.csv</code> (docs/METRICS.md gives each formula).</p>\n<table>\n"
          "<tr><th>name</th><th>meaning</th></tr>\n"
          "<tr><td><code>ce</code>, <code>loss</code></td><td>training cross-entropy of the last step "
          "(nats); loss adds the active balancing terms</td></tr>\n"
          "<tr><td><code>eval_ce</code></td><td>cross-entropy on the evaluation set (nats)</td></tr>\n", f);
    for (int i = 0; i < METRICS_NSCALARS; i++) {
        fputs("<tr><td><code>", f);
        esc(f, names[i]);
        fputs("</code></td><td>", f);
        esc(f, help[i]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int write_html(Report *R) {
    char p[IO_CHILD_PATH_MAX];
    AtomicFile a;
    FILE *f = afile_open(&a, path_join(p, sizeof p, R->dir, "report.html"));
    if (!f) return report_fail(R, "%s: cannot create: %s", p, strerror(errno));
    const Config *c = &R->ex->base;
    int ok = 0, div = 0, failed = 0;
    for (int r = 0; r < R->nruns; r++) {
        if (R->runs[r].ok) ok++;
        else if (!strcmp(R->runs[r].status, "diverged")) div++;
        else failed++;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
          // nothing from the network: inline script and style only (the page opens from a file)
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
          "style-src 'unsafe-inline'; img-src data:\"/>\n<title>", f);
    esc(f, c->experiment_name);
    fputs(" \xe2\x80\x94 moesim report</title>\n<style>\n", f);
    fputs(CSS, f);
    fputs("</style>\n</head>\n<body>\n<main>\n<h1>", f);
    esc(f, c->experiment_name);
    fputs("</h1>\n<div class=\"lead\">\n", f);
    fputs("<p><b>Question.</b> ", f);
    esc(f, c->experiment_question[0] ? c->experiment_question : "(none given: set experiment.question)");
    fputs("</p>\n<p><b>Expected.</b> ", f);
    esc(f, c->experiment_expect[0] ? c->experiment_expect : "(none given: set experiment.expect)");
    fputs("</p>\n</div>\n", f);
    int seeds = 0;
    for (int v = 0; v < R->nvars; v++) seeds = R->vars[v].nruns > seeds ? R->vars[v].nruns : seeds;
    fprintf(f, "<p class=\"meta\">%d run%s: %d ok, %d diverged, %d failed \xe2\x80\x94 %d variant%s, up to %d seed%s each.",
            R->nruns, R->nruns == 1 ? "" : "s", ok, div, failed, R->nvars, R->nvars == 1 ? "" : "s", seeds,
            seeds == 1 ? "" : "s");
    if (R->nkeys > 0) {
        fputs(" Swept: ", f);
        for (int k = 0; k < R->nkeys; k++) {
            char sv[600];
            swept_values(R, k, sv, sizeof sv);
            fputs(k ? "; <code>" : "<code>", f);
            esc(f, R->keys[k].key);
            fputs("</code> = ", f);
            esc(f, sv);
        }
        fputs(".", f);
    }
    fputs("</p>\n<nav><a href=\"#variants\">Variants</a><a href=\"#runs\">Runs</a><a href=\"#timeline\">Over training</a>"
          "<a href=\"#plots\">Plots</a><a href=\"#settings\">Settings</a><a href=\"#glossary\">Measurements</a></nav>\n", f);
    write_tables(f, R);
    write_text_world(f, R);  // the text world's corpus and baselines
    if (html_timeline(f, R) != 0 || html_tokens(f, R) != 0) {
        afile_abort(&a);
        return -1;
    }
    fputs("<h2 id=\"plots\">Plots</h2>\n", f);
    for (int i = 0; i < R->nnotes && i < MAX_NOTES; i++) {
        fputs("<p class=\"meta\">", f);
        esc(f, R->notes[i]);
        fputs("</p>\n", f);
    }
    for (int i = 0; i < R->nplots; i++) {
        const Plot *P = &R->plots[i];
        fprintf(f, "<figure id=\"fig-%s\">\n", P->name);
        fwrite(P->svg, 1, P->len, f);
        fprintf(f, "<figcaption><b>Figure %d.</b> ", i + 1);
        esc(f, P->caption);
        fprintf(f, " <a href=\"plots/%s.svg\">plots/%s.svg</a></figcaption>\n</figure>\n", P->name, P->name);
    }
    write_settings(f, R);
    write_glossary(f);
    fputs("<p class=\"meta\">Written by <code>moesim report</code> from the CSV files of this folder; rebuild "
          "it with <code>./moesim report DIR</code>.</p>\n</main>\n</body>\n</html>\n", f);
    if (afile_commit(&a) != 0) return report_fail(R, "%s: cannot write: %s", p, strerror(errno));
    return 0;
}

// ---- the entry points -----------------------------------------------------------------------------

static int build(Report *R) {
    char p[IO_CHILD_PATH_MAX];
    if (!path_join(p, sizeof p, R->dir, "experiment.toml")) return report_fail(R, "%s: %s", p, strerror(ENAMETOOLONG));
    R->ex = malloc(sizeof *R->ex);
    CfgErrors *e = malloc(sizeof *e);
    if (!R->ex || !e) { free(e); return report_fail(R, "out of memory"); }
    memset(e, 0, sizeof *e);
    if (!file_exists(p)) { free(e); return report_fail(R, "%s: no such file (the experiment's resolved configuration)", p); }
    if (experiment_load(R->ex, p, NULL, 0, e) != 0) {
        report_fail(R, "%s", e->n > 0 ? e->msg[0] : "cannot load");
        free(e);
        return -1;
    }
    free(e);
    if (load_summary(R) || load_runs(R)) return -1;
    if (plot_loss(R)) return -1;
    int nonseed = 0;
    for (int k = 0; k < R->nkeys; k++)
        if (!R->keys[k].seed) {
            nonseed++;
            if (plot_by_key(R, k)) return -1;
        }
    if (nonseed == 0 && plot_by_key(R, -1)) return -1;
    if (plot_training(R) || plot_heatmaps(R) || plot_prop1(R) || plot_layers(R)) return -1;
    // Files: plots first, the page that shows them last.
    char pd[IO_CHILD_PATH_MAX];
    if (!path_join(pd, sizeof pd, R->dir, "plots")) return report_fail(R, "%s: %s", pd, strerror(ENAMETOOLONG));
    if (mkdir_p(pd) != 0) return report_fail(R, "%s: cannot create the folder: %s", pd, strerror(errno));
    for (int i = 0; i < R->nplots; i++) {
        char name[200], path[IO_DEEP_PATH_MAX];
        snprintf(name, sizeof name, "%s.svg", R->plots[i].name);
        AtomicFile a;
        FILE *f = afile_open(&a, path_join(path, sizeof path, pd, name));
        if (!f) return report_fail(R, "%s: cannot create: %s", path, strerror(errno));
        fwrite(R->plots[i].svg, 1, R->plots[i].len, f);
        if (afile_commit(&a) != 0) return report_fail(R, "%s: cannot write: %s", path, strerror(errno));
    }
    // plots/ belongs to the report: an .svg it did not write this time (a swept key renamed, a
    // figure with no data any more) is stale and goes, so the folder shows exactly this report.
    DIR *d = opendir(pd);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".svg") != 0) continue;
        int ours = 0;
        for (int i = 0; i < R->nplots && !ours; i++)
            ours = n - 4 == strlen(R->plots[i].name) && !strncmp(de->d_name, R->plots[i].name, n - 4);
        if (!ours) {
            char path[IO_DEEP_PATH_MAX];
            if (path_join(path, sizeof path, pd, de->d_name)) remove(path);  // a name too long is not ours
        }
    }
    if (d) closedir(d);
    return write_html(R);
}

int report_build(const char *dir, char *err, size_t errlen) {
    Report R;
    memset(&R, 0, sizeof R);
    R.dir = dir;
    R.err = err;
    R.errlen = errlen;
    int rc = build(&R);
    report_free(&R);
    return rc;
}
