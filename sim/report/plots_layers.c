// plots_layers.c — the figures of routing and depth: the domain x expert heatmaps, the
// Proposition 1 scatter, and the measurements against layer.
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

int plot_heatmaps(Report *R) {
    SvgPanel *panels = ralloc(R, (size_t)R->nvars * sizeof *panels);
    if (!panels) return report_fail(R, "out of memory");
    int np = 0, maxD = 1, maxE = 1;
    double vmax = 0, step = 0;
    int layer = 0;
    char runs[1200] = "";
    // the text world's rows are its domains by name (a heatmap of another world: d0, d1, ...)
    char (*names)[64] = ralloc(R, sizeof(char[CFG_STRS_MAX][64]));
    const char **row_names = ralloc(R, sizeof(char *) * CFG_STRS_MAX);
    if (!names || !row_names) return report_fail(R, "out of memory");
    int nnames = R->ex ? text_world_names(&R->ex->base, names, CFG_STRS_MAX) : 0;
    for (int i = 0; i < nnames; i++) row_names[i] = names[i];
    for (int v = 0; v < R->nvars; v++) {
        int r = heatmap_run(R, &R->vars[v]);
        if (r < 0) continue;
        int D, E;
        double *M = run_heatmap(R, &R->runs[r], &D, &E, &step, &layer);
        if (!M) continue;
        for (size_t i = 0; i < (size_t)D * E; i++)
            if (isfinite(M[i])) vmax = fmax(vmax, M[i]);
        maxD = D > maxD ? D : maxD;
        maxE = E > maxE ? E : maxE;
        char *title = rstrdup(R, R->nvars > 1 ? R->vars[v].label : R->runs[r].id);
        if (!title) return report_fail(R, "out of memory");
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_HEATMAP, .title = title, .xlabel = "expert", .ylabel = "domain",
                                  .rows = D, .cols = E, .values = M, .row_prefix = "d", .col_prefix = "",
                                  .row_names = nnames == D ? row_names : NULL, .vmin = 0};
        size_t o = strlen(runs);
        snprintf(runs + o, sizeof runs - o, "%s%s", o ? ", " : "", R->runs[r].id);
    }
    if (np == 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No domain \xc3\x97 expert heatmaps: no run has an experts.csv with rows.");
        return 0;
    }
    // One scale for all: 0 up to the largest frequency, rounded up to a tenth.
    vmax = fmin(1, fmax(0.1, ceil(vmax * 10 - 1e-9) / 10));
    for (int i = 0; i < np; i++) panels[i].vmax = vmax;
    // Up to 3 panels a row (4 when they are narrow), cells as large as that allows.
    int cols = np < 3 ? np : 3;
    if (np >= 4 && maxE <= 8) cols = 4;
    double cell = floor(fmin(fmin(((PAGE_W - 24) / cols - 70) / maxE, 220.0 / maxD), 28));
    if (cell < 4) cell = 4;
    double pw = cell * maxE, ph = cell * maxD;
    SvgFigure fig = {.title = "Domain \xc3\x97 expert selection frequency",
                     .subtitle = "first seed of each variant, final evaluation, last layer",
                     .npanels = np, .panels = panels, .cols = cols,
                     .panel_w = pw, .panel_h = ph, .colorbar_label = "frequency", .vmin = 0, .vmax = vmax};
    return report_emit(R, "heatmaps", &fig,
                "For each variant, the share of each domain's evaluation tokens whose top-k choices include "
                "each expert (rows: domains, columns: experts; each row sums to k), at the final evaluation "
                "of the last layer, from its first seed (runs: %s). One colour scale for all panels, from 0 to "
                "%.1f. A specialized layer shows a few bright cells per row that differ between rows; a "
                "collapsed one shows the same columns in every row.",
                runs, vmax);
}

// The Proposition 1 scatter of the first ok run with a pairs.csv.
int plot_prop1(Report *R) {
    Csv t = {0};
    int r = -1;
    char p[IO_DEEP_PATH_MAX], sub[IO_CHILD_PATH_MAX], e[IO_MSG_MAX];
    for (int i = 0; i < R->nruns && r < 0; i++) {
        if (!R->runs[i].ok) continue;
        if (!path_join(sub, sizeof sub, R->dir, R->runs[i].id)) return report_fail(R, "%s: %s", sub, strerror(ENAMETOOLONG));
        if (!path_join(p, sizeof p, sub, "pairs.csv")) return report_fail(R, "%s: %s", p, strerror(ENAMETOOLONG));
        if (!file_exists(p)) continue;
        if (csv_read(&t, p, e, sizeof e) != 0) return report_fail(R, "%s", e);
        r = i;
    }
    if (r < 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0],
                 "No Proposition 1 scatter: no ok run has a pairs.csv.");
        return 0;
    }
    int ch = csv_col(&t, "rms_hidden"), cz = csv_col(&t, "rms_logits"), cl = csv_col(&t, "prop1_lhs"),
        cr = csv_col(&t, "prop1_rhs");
    if (ch < 0 || cz < 0) {
        csv_free(&t);
        return report_fail(R, "%s: needs columns rms_hidden and rms_logits", p);
    }
    size_t n = t.nrows, nh = 0, nv = 0;
    double *hx = ralloc(R, (n + 1) * sizeof *hx), *hy = ralloc(R, (n + 1) * sizeof *hy);
    double *vx = ralloc(R, (n + 1) * sizeof *vx), *vy = ralloc(R, (n + 1) * sizeof *vy);
    if (!hx || !hy || !vx || !vy) { csv_free(&t); return report_fail(R, "out of memory"); }
    for (size_t i = 0; i < n; i++) {
        double x = csv_num(&t, i, ch), y = csv_num(&t, i, cz);
        double lhs = csv_num(&t, i, cl), rhs = csv_num(&t, i, cr);
        // The bound with the relative slack the measurement uses (metrics.h).
        if (cl >= 0 && cr >= 0 && lhs > rhs * (1 + 1e-5)) { vx[nv] = x; vy[nv++] = y; }
        else { hx[nh] = x; hy[nh++] = y; }
    }
    csv_free(&t);
    int bound = cl >= 0 && cr >= 0;
    char lh[80], lv[80];
    snprintf(lh, sizeof lh, bound ? "bound holds (%zu pair%s)" : "token pairs (%zu)", nh, nh == 1 ? "" : "s");
    snprintf(lv, sizeof lv, "bound violated (%zu pair%s)", nv, nv == 1 ? "" : "s");
    SvgSeries S[2] = {{.name = lh, .color = "#0072b2", .style = SVG_DOTS, .n = nh, .x = hx, .y = hy},
                      {.name = lv, .color = "#d55e00", .style = SVG_DOTS, .n = nv, .x = vx, .y = vy, .emphasis = 1}};
    SvgPanel panel = {.kind = SVG_PANEL_XY, .title = "token pairs", .xlabel = "RMS distance of hidden states (Eq. 5)",
                      .ylabel = "RMS distance of router logits", .nseries = nv ? 2 : 1, .series = S,
                      .zero_x = 1, .zero_y = 1};
    const char *names[2] = {lh, lv}, *colors[2] = {"#0072b2", "#d55e00"};
    int styles[2] = {SVG_DOTS, SVG_DOTS};
    char sub2[400];
    snprintf(sub2, sizeof sub2, "run %s, last layer, final evaluation", R->runs[r].id);
    SvgFigure fig = {.title = "Proposition 1: similar hidden states, similar router logits", .subtitle = sub2,
                     .npanels = 1, .panels = &panel, .cols = 1, .panel_w = 620, .panel_h = 400,
                     .nlegend = bound ? (nv ? 2 : 1) : 0, .legend_names = names, .legend_colors = colors,
                     .legend_style = styles};
    return report_emit(R, "prop1", &fig,
                "Proposition 1 (paper Fig. 1): for %zu sampled pairs of evaluation tokens of run %s (last "
                "layer, final evaluation), the RMS distance of their hidden states (x) against that of their "
                "router logits (y). Proposition 1 bounds the logit distance by the hidden-state distance "
                "along the top singular directions plus the rest; pairs are coloured by whether the bound "
                "holds (relative slack 1e-5).",
                nh + nv, R->runs[r].id);
}

// Measurements against depth, from the summary's l<i>. columns.
int plot_layers(Report *R) {
    if (R->nlayers < 2) return 0;
    SvgPanel panels[COUNT(LAYER_MEAS)];
    int np = 0, L = R->nlayers;
    for (int m = 0; m < COUNT(LAYER_MEAS); m++) {
        int *cols = ralloc(R, (size_t)L * sizeof *cols);
        if (!cols) return report_fail(R, "out of memory");
        int any = 0;
        for (int l = 0; l < L; l++) {
            char name[160];
            snprintf(name, sizeof name, "l%d.%s", l, LAYER_MEAS[m]);
            cols[l] = csv_col(&R->sum, name);
            any |= col_has_data(R, name);
        }
        if (!any) continue;
        SvgSeries *S = ralloc(R, (size_t)R->nvars * sizeof *S);
        if (!S) return report_fail(R, "out of memory");
        for (int v = 0; v < R->nvars; v++) {
            double *x = ralloc(R, (size_t)L * sizeof *x), *y = ralloc(R, (size_t)L * sizeof *y);
            double *sd = ralloc(R, (size_t)L * sizeof *sd);
            int *cnt = ralloc(R, (size_t)L * sizeof *cnt);
            if (!x || !y || !sd || !cnt) return report_fail(R, "out of memory");
            for (int l = 0; l < L; l++) {
                x[l] = l;
                cnt[l] = var_stat(R, &R->vars[v], cols[l], &y[l], &sd[l]);
            }
            S[v] = (SvgSeries){.name = R->vars[v].label, .color = R->vars[v].color, .style = SVG_LINE_MARKERS,
                               .n = (size_t)L, .x = x, .y = y, .sd = sd, .count = cnt, .slot = v};
        }
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_XY, .title = LAYER_MEAS[m], .xlabel = "layer",
                                  .nseries = R->nvars, .series = S, .integer_x = 1, .dodge = R->nvars};
    }
    if (np == 0) return 0;
    SvgFigure fig = {.title = "Measurements by layer", .subtitle = "final evaluation; mean \xc2\xb1 1 sd over seeds",
                     .npanels = np, .panels = panels, .cols = grid_cols(np, 3), .panel_w = 255, .panel_h = 170};
    variant_legend(R, &fig, SVG_LINE_MARKERS);
    return report_emit(R, "layers", &fig,
                "Final measurements of every MoE layer (0 = first) against depth, one line per variant: the "
                "mean over its seeds with \xc2\xb1 1 standard deviation as bars.");
}
