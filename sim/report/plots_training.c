// plots_training.c — the figures over training and over swept values: the loss curves, one
// figure per swept key (measurements vs the key's values), the measurements over training; and
// what every figure shares (emit, the variant legend, the panel grid).
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  // open_memstream
#endif
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

// ---- figures ------------------------------------------------------------------------------------

// Renders a figure into memory and keeps it with its caption.
int report_emit(Report *R, const char *name, const SvgFigure *fig, const char *fmt, ...) {
    if (R->nplots == MAX_PLOTS) return report_fail(R, "too many plots");
    Plot *P = &R->plots[R->nplots];
    memset(P, 0, sizeof *P);
    snprintf(P->name, sizeof P->name, "%s", name);
    FILE *m = open_memstream(&P->svg, &P->len);
    if (!m) return report_fail(R, "out of memory");
    int bad = svg_figure(m, fig);
    if (fclose(m) != 0) bad = -1;
    if (bad) { free(P->svg); P->svg = NULL; return report_fail(R, "cannot render %s.svg", name); }
    char cap[2000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cap, sizeof cap, fmt, ap);
    va_end(ap);
    P->caption = rstrdup(R, cap);
    if (!P->caption) { free(P->svg); P->svg = NULL; return report_fail(R, "out of memory"); }
    R->nplots++;
    return 0;
}

// The legend of variants, in variant order.
void variant_legend(Report *R, SvgFigure *fig, int style) {
    if (R->nvars < 2) return;
    const char **names = ralloc(R, (size_t)R->nvars * sizeof *names);
    const char **cols = ralloc(R, (size_t)R->nvars * sizeof *cols);
    int *st = ralloc(R, (size_t)R->nvars * sizeof *st);
    if (!names || !cols || !st) return;
    for (int v = 0; v < R->nvars; v++) { names[v] = R->vars[v].label; cols[v] = R->vars[v].color; st[v] = style; }
    fig->nlegend = R->nvars;
    fig->legend_names = names;
    fig->legend_colors = cols;
    fig->legend_style = st;
}

int grid_cols(int npanels, int max_cols) { return npanels < max_cols ? (npanels > 0 ? npanels : 1) : max_cols; }

// Training curves: ce (and loss when balancing terms exist) vs step, mean ± sd over seeds.
int plot_loss(Report *R) {
    int has_terms = 0;
    for (int r = 0; r < R->nruns; r++)
        if (csv_col(&R->runs[r].metrics, "aux") >= 0 || csv_col(&R->runs[r].metrics, "z") >= 0 ||
            csv_col(&R->runs[r].metrics, "seq_aux") >= 0)
            has_terms = 1;
    const char *cols[2] = {"ce", "loss"};
    const char *titles[2] = {"training cross-entropy (ce)", "training loss (ce + balancing terms)"};
    int np = has_terms ? 2 : 1;
    SvgPanel panels[2];
    memset(panels, 0, sizeof panels);
    int log_y = 0;
    for (int k = 0; k < np; k++) {
        SvgSeries *S = ralloc(R, (size_t)R->nvars * sizeof *S);
        if (!S) return report_fail(R, "out of memory");
        for (int v = 0; v < R->nvars; v++) {
            Curve c;
            if (var_curve(R, &R->vars[v], 0, cols[k], &c) != 0) return -1;
            S[v] = (SvgSeries){.name = R->vars[v].label, .color = R->vars[v].color, .style = SVG_LINE,
                               .n = c.n, .x = c.x, .y = c.y, .sd = c.sd, .count = c.count};
        }
        // Losses spanning more than 30x (a run blowing up) go on a log axis; else a linear one,
        // cut at a robust upper limit.
        double lo = INFINITY, hi = 0;
        for (int v = 0; v < R->nvars; v++)
            for (size_t i = 0; i < S[v].n; i++)
                if (isfinite(S[v].y[i]) && S[v].y[i] > 0) { lo = fmin(lo, S[v].y[i]); hi = fmax(hi, S[v].y[i]); }
        int lg = hi > 30 * lo;
        log_y |= lg;
        panels[k] = (SvgPanel){.kind = SVG_PANEL_XY, .title = titles[k], .xlabel = "step",
                               .ylabel = lg ? "nats (log scale)" : "nats", .nseries = R->nvars, .series = S,
                               .robust_y = !lg, .log_y = lg};
    }
    int any = 0;
    for (int k = 0; k < np; k++)
        for (int v = 0; v < R->nvars; v++)
            for (size_t i = 0; i < panels[k].series[v].n; i++) any |= isfinite(panels[k].series[v].y[i]);
    if (!any) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No training curves: no run has a metrics.csv with values.");
        return 0;
    }
    SvgFigure fig = {.title = "Training loss", .subtitle = "mean over seeds; band: \xc2\xb1 1 sd",
                     .npanels = np, .panels = panels, .cols = np, .panel_w = np == 2 ? 400 : 620,
                     .panel_h = 260};
    variant_legend(R, &fig, SVG_LINE);
    return report_emit(R, "loss", &fig,
                "Training cross-entropy%s against the optimizer step, one line per variant: the mean over "
                "its seeds (ok runs only when it has any), with a band of \xc2\xb1 1 standard deviation.%s",
                has_terms ? " and the total loss (cross-entropy plus the active balancing terms)" : "",
                log_y ? " The losses span more than a factor of 30, so the y axis is logarithmic."
                      : " A curve that diverges is cut at the top of the range.");
}

// Final measurements against one swept key (k >= 0) or against the variants (k < 0, no key).
int plot_by_key(Report *R, int k) {
    // Categories: the key's values, or the variants. Groups (series): the combinations of the
    // other non-seed keys; with a single key each variant is its own one-point group.
    int ncat = k >= 0 ? R->keys[k].nvals : R->nvars;
    const char **cat = ralloc(R, (size_t)(ncat > 0 ? ncat : 1) * sizeof *cat);
    int *group = ralloc(R, (size_t)R->nvars * sizeof *group), *first = ralloc(R, (size_t)R->nvars * sizeof *first);
    if (!cat || !group || !first) return report_fail(R, "out of memory");
    for (int i = 0; i < ncat; i++) cat[i] = k >= 0 ? R->keys[k].vals[i] : R->vars[i].label;
    int others = 0;
    for (int j = 0; j < R->nkeys; j++)
        if (j != k && !R->keys[j].seed) others++;
    int ng = 0;
    for (int v = 0; v < R->nvars; v++) {
        int g = 0;
        if (others == 0) g = ng;  // every variant its own group
        else {
            while (g < ng) {
                int same = 1;
                for (int j = 0; j < R->nkeys; j++)
                    if (j != k && !R->keys[j].seed && R->vars[first[g]].val[j] != R->vars[v].val[j]) same = 0;
                if (same) break;
                g++;
            }
        }
        if (g == ng) first[ng++] = v;
        group[v] = g;
    }
    // Group names: the other keys' values.
    const char **gname = ralloc(R, (size_t)ng * sizeof *gname);
    const char **gcolor = ralloc(R, (size_t)ng * sizeof *gcolor);
    int *gstyle = ralloc(R, (size_t)ng * sizeof *gstyle);
    if (!gname || !gcolor || !gstyle) return report_fail(R, "out of memory");
    for (int g = 0; g < ng; g++) {
        char buf[400];
        size_t o = 0;
        buf[0] = '\0';
        for (int j = 0; j < R->nkeys; j++) {
            if (j == k || R->keys[j].seed) continue;
            o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, "%s%s=%s", o ? ", " : "",
                                  R->keys[j].label, R->keys[j].vals[R->vars[first[g]].val[j]]);
            if (o >= sizeof buf) o = sizeof buf - 1;
        }
        gname[g] = rstrdup(R, others ? buf : R->vars[first[g]].label);
        gcolor[g] = R->vars[first[g]].color;
        gstyle[g] = SVG_LINE_MARKERS;
        if (!gname[g]) return report_fail(R, "out of memory");
    }
    SvgPanel panels[COUNT(KEY_MEAS)];
    int np = 0;
    char skipped[600] = "";
    for (int m = 0; m < COUNT(KEY_MEAS); m++) {
        int col = csv_col(&R->sum, KEY_MEAS[m]);
        if (!col_has_data(R, KEY_MEAS[m])) {
            size_t o = strlen(skipped);
            snprintf(skipped + o, sizeof skipped - o, "%s%s", o ? ", " : "", KEY_MEAS[m]);
            continue;
        }
        // Per group: means at each category; per variant: its seeds as hollow circles.
        SvgSeries *S = ralloc(R, (size_t)(ng + R->nvars) * sizeof *S);
        if (!S) return report_fail(R, "out of memory");
        for (int g = 0; g < ng; g++) {
            double *x = ralloc(R, (size_t)ncat * sizeof *x), *y = ralloc(R, (size_t)ncat * sizeof *y);
            double *sd = ralloc(R, (size_t)ncat * sizeof *sd);
            int *cnt = ralloc(R, (size_t)ncat * sizeof *cnt);
            if (!x || !y || !sd || !cnt) return report_fail(R, "out of memory");
            size_t n = 0;
            for (int v = 0; v < R->nvars; v++) {
                if (group[v] != g) continue;
                x[n] = k >= 0 ? R->vars[v].val[k] : v;
                cnt[n] = var_stat(R, &R->vars[v], col, &y[n], &sd[n]);
                n++;
            }
            S[g] = (SvgSeries){.name = gname[g], .color = gcolor[g],
                               .style = others ? SVG_LINE_MARKERS : SVG_MARKERS, .n = n, .x = x, .y = y,
                               .sd = sd, .count = cnt, .slot = others ? g : 0};
        }
        for (int v = 0; v < R->nvars; v++) {
            const Variant *V = &R->vars[v];
            double *x = ralloc(R, (size_t)V->nused * sizeof *x), *y = ralloc(R, (size_t)V->nused * sizeof *y);
            if (!x || !y) return report_fail(R, "out of memory");
            for (int i = 0; i < V->nused; i++) {
                x[i] = k >= 0 ? V->val[k] : v;
                y[i] = csv_num(&R->sum, (size_t)V->used[i], col);
            }
            S[ng + v] = (SvgSeries){.color = others ? gcolor[group[v]] : V->color, .style = SVG_HOLLOW,
                                    .n = (size_t)V->nused, .x = x, .y = y, .slot = others ? group[v] : 0};
        }
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_XY, .title = KEY_MEAS[m],
                                  .xlabel = k >= 0 ? R->keys[k].label : "variant", .nseries = ng + R->nvars,
                                  .series = S, .ncat = ncat, .cat = cat, .dodge = others ? ng : 0};
    }
    if (np == 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No final measurements to plot: every one is nan.");
        return 0;
    }
    char title[200], name[120];
    if (k >= 0) {
        snprintf(title, sizeof title, "Final measurements vs %s", R->keys[k].key);
        size_t o = snprintf(name, sizeof name, "by_");
        for (const char *s = R->keys[k].label; *s && o + 1 < sizeof name; s++)
            name[o++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ? *s : '_');
        name[o] = '\0';
    } else {
        snprintf(title, sizeof title, "Final measurements");
        snprintf(name, sizeof name, "measurements");
    }
    SvgFigure fig = {.title = title,
                     .subtitle = "last layer, final evaluation; dot and bar: mean \xc2\xb1 1 sd over seeds; circles: single seeds",
                     .npanels = np, .panels = panels, .cols = grid_cols(np, 3), .panel_w = 255, .panel_h = 170};
    if (others) {
        fig.nlegend = ng;
        fig.legend_names = gname;
        fig.legend_colors = gcolor;
        fig.legend_style = gstyle;
    }
    char skip[700] = "";
    if (skipped[0]) snprintf(skip, sizeof skip, " Not shown (nan in every run): %s.", skipped);
    if (k >= 0)
        return report_emit(R, name, &fig,
                    "Final measurements of the last layer against %s%s: each dot is the mean over a variant's "
                    "seeds (ok runs only when it has any), the bar \xc2\xb1 1 standard deviation, the small "
                    "circles beside it the individual seeds.%s%s",
                    R->keys[k].key, others ? " (one line per combination of the other swept keys)" : "",
                    others ? " Colours here follow those combinations." : "", skip);
    return report_emit(R, name, &fig,
                "Final measurements of the last layer: the mean over the seeds (dot), \xc2\xb1 1 standard "
                "deviation (bar), and each seed (small circles).%s", skip);
}

// Measurements of the last layer over training (eval.csv), one line per variant.
int plot_training(Report *R) {
    SvgPanel panels[COUNT(TRAIN_MEAS)];
    int np = 0;
    for (int m = 0; m < COUNT(TRAIN_MEAS); m++) {
        SvgSeries *S = ralloc(R, (size_t)R->nvars * sizeof *S);
        if (!S) return report_fail(R, "out of memory");
        int any = 0;
        for (int v = 0; v < R->nvars; v++) {
            Curve c;
            if (var_curve(R, &R->vars[v], 1, TRAIN_MEAS[m], &c) != 0) return -1;
            for (size_t i = 0; i < c.n; i++) any |= isfinite(c.y[i]);
            S[v] = (SvgSeries){.name = R->vars[v].label, .color = R->vars[v].color, .style = SVG_LINE_MARKERS,
                               .n = c.n, .x = c.x, .y = c.y, .count = c.count};
        }
        if (!any) continue;
        panels[np++] = (SvgPanel){.kind = SVG_PANEL_XY, .title = TRAIN_MEAS[m], .xlabel = "step",
                                  .nseries = R->nvars, .series = S};
    }
    if (np == 0) {
        snprintf(R->notes[R->nnotes++ % MAX_NOTES], sizeof R->notes[0], "No measurements over training: eval.csv has no finite values.");
        return 0;
    }
    SvgFigure fig = {.title = "Measurements over training",
                     .subtitle = "last layer, at each evaluation; mean over seeds",
                     .npanels = np, .panels = panels, .cols = grid_cols(np, 3), .panel_w = 255, .panel_h = 170};
    variant_legend(R, &fig, SVG_LINE_MARKERS);
    return report_emit(R, "training", &fig,
                "Measurements of the last MoE layer on the evaluation set at every evaluation (step 0, every "
                "eval.every steps, and the end), one line per variant: the mean over its seeds.");
}

// Domain x expert heatmaps of each variant's first run, on one colour scale.
