// depth.c — per-depth plots of `moesim analyze --layers` (depth.h).
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../io.h"
#include "csv.h"
#include "depth.h"
#include "svg.h"

typedef struct {
    const char *title, *ylabel;
    const char *keys[4];       // columns of depth.csv, NULL-terminated
    const char *labels[4];     // legend names
} DepthPanel;

// One figure: panels of lines over the layer index, one series per key that exists.
static int depth_figure(const Csv *t, const char *path, const char *title, const char *subtitle,
                        const DepthPanel *dp, int np, char *err, size_t errlen) {
    const int L = (int)t->nrows, lc = csv_col(t, "layer");
    double *x = malloc(sizeof(double) * (L ? L : 1));
    double *y = malloc(sizeof(double) * (size_t)(L ? L : 1) * np * 4);
    SvgSeries *ser = calloc((size_t)np * 4, sizeof(SvgSeries));
    SvgPanel *pan = calloc((size_t)np, sizeof(SvgPanel));
    const char *lnames[16], *lcolors[16];
    char colors[16][8];
    int nl = 0, rc = -1;
    if (!x || !y || !ser || !pan) { snprintf(err, errlen, "out of memory"); goto done; }
    for (int i = 0; i < L; i++) x[i] = csv_num(t, (size_t)i, lc);
    for (int p = 0; p < np; p++) {
        int ns = 0;
        for (int s = 0; s < 4 && dp[p].keys[s]; s++) {
            int c = csv_col(t, dp[p].keys[s]);
            if (c < 0) continue;
            double *ys = y + ((size_t)p * 4 + s) * L;
            for (int i = 0; i < L; i++) ys[i] = csv_num(t, (size_t)i, c);
            SvgSeries *sr = &ser[p * 4 + ns];
            sr->name = dp[p].labels[s];
            sr->color = svg_color(s, colors[s]);
            sr->style = SVG_LINE_MARKERS;
            sr->n = (size_t)L;
            sr->x = x;
            sr->y = ys;
            ns++;
            int seen = 0;
            for (int j = 0; j < nl; j++) seen |= strcmp(lnames[j], dp[p].labels[s]) == 0;
            if (!seen && nl < 16) { lnames[nl] = dp[p].labels[s]; lcolors[nl] = colors[s]; nl++; }
        }
        pan[p].kind = SVG_PANEL_XY;
        pan[p].title = dp[p].title;
        pan[p].xlabel = "layer";
        pan[p].ylabel = dp[p].ylabel;
        pan[p].nseries = ns;
        pan[p].series = &ser[p * 4];
        pan[p].integer_x = 1;
        pan[p].zero_y = 1;
    }
    // legend colours are per slot (the same slot colour in every panel): name them per panel
    // in the titles instead of one shared legend when the names differ between panels
    SvgFigure fig = {.title = title, .subtitle = subtitle, .npanels = np, .panels = pan,
                     .cols = np < 3 ? np : 3, .panel_w = 300, .panel_h = 200,
                     .nlegend = 0, .legend_names = lnames, .legend_colors = lcolors};
    AtomicFile af;
    errno = 0;
    FILE *f = afile_open(&af, path);
    if (!f) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); goto done; }
    errno = 0;
    if (svg_figure(f, &fig) != 0) {  // out of memory, or a failed write: no .tmp is left
        int e = errno;
        afile_abort(&af);
        snprintf(err, errlen, "cannot write %s: %s", path, e ? strerror(e) : "out of memory");
        goto done;
    }
    if (afile_commit(&af) != 0) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); goto done; }
    rc = 0;
done:
    free(x); free(y); free(ser); free(pan);
    return rc;
}

int report_depth(const char *csv_path, const char *plots_dir, char *err, size_t errlen) {
    Csv t;
    if (csv_read(&t, csv_path, err, errlen) != 0) return -1;
    if (csv_col(&t, "layer") < 0) { csv_free(&t); snprintf(err, errlen, "%s: no layer column", csv_path); return -1; }
    if (mkdir_p(plots_dir) != 0) { snprintf(err, errlen, "cannot create %s: %s", plots_dir, strerror(errno)); csv_free(&t); return -1; }
    // Each panel names its lines in its title (1st = blue, 2nd = orange, 3rd = green).
    static const DepthPanel energy[] = {
        {"Eq. 7: energy of v1 / v2 / v3", "share of |H|_F^2",
         {"energy_first", "energy_dir2", "energy_dir3", NULL}, {"v1", "v2", "v3", NULL}},
        {"Eq. 8: retained energy of v1 / v2 / v3", "share of |P|_F^2",
         {"retained_energy_first", "retained_energy_dir2", "retained_energy_dir3", NULL}, {"v1", "v2", "v3", NULL}},
        {"whole set: energy of v1 / mean direction", "share of |H|_F^2",
         {"energy_first_wholeset", "energy_mean_dir", NULL}, {"v1", "mean", NULL}},
    };
    static const DepthPanel sim[] = {
        {"Eq. 10: cosine of hidden states / logits", "mean over token pairs",
         {"cosine_hidden", "cosine_logits", NULL}, {"hidden", "logits", NULL}},
        {"Eq. 11: shared experts / E", "mean over token pairs", {"hamming_similarity", NULL}, {"m.m/E", NULL}},
        {"Eq. 17: pooled cosine / Eq. 14 FreqSim of sequences", "mean over sequence pairs",
         {"pooled_cosine_seq", "freqsim_seq", NULL}, {"pooled cos", "FreqSim", NULL}},
    };
    static const DepthPanel routing[] = {
        {"Eq. 12: router confidence / top-K score mass", "mean over tokens",
         {"router_confidence", "topk_score_sum", NULL}, {"max p", "top-K sum", NULL}},
        {"Eq. 19: top-P Jaccard of sequences", "mean over sequence pairs", {"jaccard_seq", NULL}, {"Jaccard", NULL}},
        {"suppression rho of v1 / mean direction", "|Pi P v| / |Pi P|_2",
         {"suppression_rho", "suppression_rho_mean", NULL}, {"v1", "mean", NULL}},
        {"MaxVio", "max load / mean - 1", {"maxvio", NULL}, {"MaxVio", NULL}},
    };
    char p[3][IO_DEEP_PATH_MAX];
    if (!path_join(p[0], sizeof p[0], plots_dir, "depth_energy.svg") ||
        !path_join(p[1], sizeof p[1], plots_dir, "depth_similarity.svg") ||
        !path_join(p[2], sizeof p[2], plots_dir, "depth_routing.svg")) {
        csv_free(&t);
        return io_fail(err, errlen, "%s/depth_*.svg: %s", plots_dir, strerror(ENAMETOOLONG));
    }
    int rc = 0;
    rc |= depth_figure(&t, p[0],
                       "Energy along the leading directions over depth (Fig. 2)",
                       "per sequence, mean over sequences; lines: 1st, 2nd, 3rd key of each title", energy, 3, err, errlen);
    if (!rc) rc |= depth_figure(&t, p[1],
                                "Similarity of hidden states, logits and routing over depth (Figs. 15-19)",
                                "within sequences (Eqs. 10, 11) and between sequences (Eqs. 14, 17)", sim, 3, err, errlen);
    if (!rc) rc |= depth_figure(&t, p[2],
                                "Router confidence, overlap, suppression and balance over depth",
                                "docs/METRICS.md defines every key", routing, 4, err, errlen);
    csv_free(&t);
    return rc ? -1 : 0;
}
