// terminal.c — the terminal view of `make run`: each variant's domain x expert heatmap in
// characters and the ranking of the variants by one measurement, of the runs that finished ok
// only (a variant without one is named with its runs' statuses; with none at all, no table).
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  // open_memstream
#endif
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

// ---- the terminal ---------------------------------------------------------------------------------

#define TERM_W 80
static const char SHADES[] = " .:-=+*#%@";

// Appends up to cap-1 bytes of formatted text to a line.
static void lput(char *line, size_t cap, const char *fmt, ...) {
    size_t o = strlen(line);
    if (o + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + o, cap - o, fmt, ap);
    va_end(ap);
}

// Display columns of UTF-8 text (continuation bytes take none).
static int ucols(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void fmt_mean_sd(char *buf, size_t cap, double m, double sd, int n) {
    char a[40], b[40];
    svg_num(a, sizeof a, m, 4);
    if (n > 1 && isfinite(sd)) {
        svg_num(b, sizeof b, sd, 2);
        snprintf(buf, cap, "%s \xc2\xb1 %s (%d seeds)", a, b, n);
    } else snprintf(buf, cap, "%s (%d seed%s)", a, n, n == 1 ? "" : "s");
}

// Runs that did not finish ok, by kind ("2 failed, 1 diverged"), into buf.
static void count_not_ok(const Report *R, const Variant *V, char *buf, size_t cap) {
    static const char *const kinds[] = {"failed", "diverged", "interrupted"};
    int n[4] = {0};
    for (int i = 0; i < (V ? V->nruns : R->nruns); i++) {
        const ReportRun *U = &R->runs[V ? V->runs[i] : i];
        if (U->ok) continue;
        int k = 0;
        while (k < 3 && strncmp(U->status, kinds[k], strlen(kinds[k])) != 0) k++;
        n[k]++;
    }
    buf[0] = '\0';
    for (int k = 0; k < 4; k++)
        if (n[k]) lput(buf, cap, "%s%d %s", buf[0] ? ", " : "", n[k], k < 3 ? kinds[k] : "other");
}

static int terminal(Report *R, FILE *f, const char *metric) {
    if (load_summary(R) != 0) return -1;
    int col = csv_col(&R->sum, metric);
    if (col < 0) return report_fail(R, "%s/summary.csv: no column '%s'", R->dir, metric);
    // Measurements only of runs that finished ok: a variant without one is named, not drawn.
    int *vis = ralloc(R, ((size_t)R->nvars + 1) * sizeof *vis), nvis = 0;
    if (!vis) return report_fail(R, "out of memory");
    char why[200], missing[2048] = "";
    for (int v = 0; v < R->nvars; v++) {
        int ok = 0;
        for (int i = 0; i < R->vars[v].nruns; i++) ok |= R->runs[R->vars[v].runs[i]].ok;
        if (ok) { vis[nvis++] = v; continue; }
        count_not_ok(R, &R->vars[v], why, sizeof why);
        lput(missing, sizeof missing, "%s%.200s (%s)", missing[0] ? "; " : "", R->vars[v].label, why);
    }
    if (nvis == 0) {
        count_not_ok(R, NULL, why, sizeof why);
        fprintf(f, "No run finished ok (%d run%s: %s): no measurement to show.\nSee %s/summary.csv and each run's "
                "manifest.json for why.\n", R->nruns, R->nruns == 1 ? "" : "s", R->nruns ? why : "none in summary.csv",
                R->dir);
        return 0;
    }
    // Each variant's heatmap (experts.csv of its first run that has one).
    double **M = ralloc(R, (size_t)R->nvars * sizeof *M);
    int *D = ralloc(R, (size_t)R->nvars * sizeof *D), *E = ralloc(R, (size_t)R->nvars * sizeof *E);
    if (!M || !D || !E) return report_fail(R, "out of memory");
    double vmax = 0, step = 0;
    int layer = 0;
    for (int j = 0; j < nvis; j++) {
        int v = vis[j];
        Variant *V = &R->vars[v];
        for (int i = 0; i < V->nused && !M[v]; i++) {
            ReportRun *U = &R->runs[V->used[i]];
            if (load_run_file(R, U, "experts.csv", &U->experts, 0) != 0) return -1;
            M[v] = run_heatmap(R, U, &D[v], &E[v], &step, &layer);
        }
        for (size_t i = 0; M[v] && i < (size_t)D[v] * E[v]; i++)
            if (isfinite(M[v][i])) vmax = fmax(vmax, M[v][i]);
    }
    if (vmax <= 0) vmax = 1;
    fprintf(f, "Domain \xc3\x97 expert selection frequency (final evaluation, last layer, first seed)\n");
    fprintf(f, "shade \" .:-=+*#%%@\": share of a domain's tokens that pick the expert, 0 to %.2f\n", vmax);
    fprintf(f, "under each map: %.40s, mean \xc2\xb1 sd over seeds\n", metric);
    if (missing[0]) fprintf(f, "no run finished ok, not shown: %s\n", missing);
    fputc('\n', f);
    // Blocks of text lines, placed side by side while they fit in TERM_W columns.
    int v0 = 0;
    while (v0 < nvis) {
        enum { LINES = 72, LW = 256 };
        char (*lines)[LINES][LW] = ralloc(R, 8 * sizeof *lines);
        if (!lines) return report_fail(R, "out of memory");
        int width[8], nl[8], nb = 0, used = 0;
        for (int j = v0; j < nvis && nb < 8; j++) {
            int v = vis[j];
            int e = M[v] ? E[v] : 0, d = M[v] ? D[v] : 0;
            int cw = e <= 16 ? 3 : e <= 26 ? 2 : 1;
            int w = 5 + cw * e;
            char val[120];
            double m, sd;
            int n = var_stat(R, &R->vars[v], col, &m, &sd);
            fmt_mean_sd(val, sizeof val, m, sd, n);
            int vw = 2 + ucols(val), lw = ucols(R->vars[v].label);
            if (vw > w) w = vw;
            if (lw > w) w = lw;
            if (w > TERM_W) w = TERM_W;
            if (nb > 0 && used + 3 + w > TERM_W) break;
            // Render block nb.
            int L = 0;
            char (*B)[LW] = lines[nb];
            snprintf(B[L++], LW, "%.200s", R->vars[v].label);
            if (!M[v]) {
                snprintf(B[L++], LW, "(no experts.csv)");
            } else {
                // Column header: expert numbers, each where it fits.
                B[L][0] = '\0';
                char hdr[LW];
                memset(hdr, ' ', sizeof hdr);
                int next = 0, end = 5;
                for (int x = 0; x < e; x++) {
                    char num[12];
                    int len = snprintf(num, sizeof num, "%d", x);
                    int pos = 5 + x * cw + cw - len;
                    if (pos < 5) pos = 5 + x * cw;
                    if (pos < next || pos + len > LW - 1) continue;
                    memcpy(hdr + pos, num, (size_t)len);
                    next = pos + len + 1;
                    end = pos + len;
                }
                memcpy(hdr, "exp", 3);
                hdr[end] = '\0';
                snprintf(B[L++], LW, "%s", hdr);
                for (int r = 0; r < d && L < LINES - 2; r++) {
                    char row[LW];
                    int o = snprintf(row, sizeof row, "d%-3d ", r);
                    for (int x = 0; x < e && o + cw < LW; x++) {
                        double q = M[v][(size_t)r * e + x];
                        int s = !(q > 0) ? 0 : 1 + (int)floor(q / vmax * 8.999);
                        if (s > 9) s = 9;
                        for (int c = 0; c < cw; c++) row[o++] = isfinite(q) ? SHADES[s] : '?';
                    }
                    row[o] = '\0';
                    snprintf(B[L++], LW, "%s", row);
                }
            }
            snprintf(B[L++], LW, "\xe2\x86\x92 %s", val);
            width[nb] = w;
            nl[nb] = L;
            used += (nb ? 3 : 0) + w;
            nb++;
        }
        int maxl = 0;
        for (int b = 0; b < nb; b++) maxl = nl[b] > maxl ? nl[b] : maxl;
        for (int l = 0; l < maxl; l++) {
            char out[1024] = "";
            for (int b = 0; b < nb; b++) {
                const char *s = l < nl[b] ? lines[b][l] : "";
                int cols = ucols(s);  // pad by display columns
                if (b + 1 < nb) lput(out, sizeof out, "%s%*s   ", s, width[b] - cols > 0 ? width[b] - cols : 0, "");
                else lput(out, sizeof out, "%s", s);
            }
            // No trailing spaces.
            size_t n = strlen(out);
            while (n > 0 && out[n - 1] == ' ') out[--n] = '\0';
            fprintf(f, "%s\n", out);
        }
        fputc('\n', f);
        v0 += nb;
    }
    // The one line that compares the variants: highest mean first, wrapped at TERM_W.
    int *order = ralloc(R, (size_t)R->nvars * sizeof *order);
    double *mean = ralloc(R, (size_t)R->nvars * sizeof *mean), *sdv = ralloc(R, (size_t)R->nvars * sizeof *sdv);
    int *cnt = ralloc(R, (size_t)R->nvars * sizeof *cnt);
    if (!order || !mean || !sdv || !cnt) return report_fail(R, "out of memory");
    for (int j = 0; j < nvis; j++) {
        int v = vis[j];
        order[j] = v;
        cnt[v] = var_stat(R, &R->vars[v], col, &mean[v], &sdv[v]);
    }
    for (int i = 1; i < nvis; i++)  // insertion sort, NaN last, ties keep variant order
        for (int j = i; j > 0; j--) {
            double a = mean[order[j - 1]], b = mean[order[j]];
            if (!(isnan(a) || (!isnan(b) && b > a))) break;
            if (isnan(a) && isnan(b)) break;
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    // Each variant's "label value±sd" is kept on one line where it fits: its spaces are written as
    // '\1' while wrapping and printed as spaces.
    char line[4096];
    snprintf(line, sizeof line, "%.60s, highest first: ", metric);
    for (int i = 0; i < nvis; i++) {
        int v = order[i];
        char a[40], b[40], item[600];
        svg_num(a, sizeof a, mean[v], 3);
        svg_num(b, sizeof b, sdv[v], 2);
        snprintf(item, sizeof item, "%.400s %s%s%s", R->vars[v].label, a,
                 cnt[v] > 1 && isfinite(sdv[v]) ? "\xc2\xb1" : "", cnt[v] > 1 && isfinite(sdv[v]) ? b : "");
        for (char *q = item; *q; q++)
            if (*q == ' ') *q = '\1';
        lput(line, sizeof line, "%s%s", i ? " > " : "", item);
    }
    // Wrap at spaces so no printed line exceeds TERM_W columns.
    const char *s = line;
    int first = 1;
    while (*s) {
        int indent = first ? 0 : 4, room = TERM_W - indent, cols = 0;
        const char *q = s, *brk = NULL;
        while (*q && cols < room) {
            if (*q == ' ') brk = q;
            cols += ((unsigned char)*q & 0xc0) != 0x80;
            q++;
        }
        while (*q && ((unsigned char)*q & 0xc0) == 0x80) q++;
        const char *end = !*q ? q : (brk && brk > s ? brk : q);
        fprintf(f, "%*s", indent, "");
        for (const char *c = s; c < end; c++) fputc(*c == '\1' ? ' ' : *c, f);
        fputc('\n', f);
        s = end;
        while (*s == ' ') s++;
        first = 0;
    }
    return 0;
}

int report_print_terminal(FILE *f, const char *dir, const char *metric, char *err, size_t errlen) {
    Report R;
    memset(&R, 0, sizeof R);
    R.dir = dir;
    R.err = err;
    R.errlen = errlen;
    int rc = terminal(&R, f, metric);
    report_free(&R);
    return rc;
}
