// svg.c — SVG figures for the report (see svg.h): colours, ticks, and the panel layout.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "svg.h"

// ---- colours and numbers ----------------------------------------------------------------------

// Okabe–Ito's colour-blind-safe colours first (yellow left out: unreadable on white), then a
// few distinct extras; beyond those, hues spaced by the golden angle.
static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
                                      "#56b4e9", "#9467bd", "#8c564b", "#17becf", "#bcbd22"};

const char *svg_color(int i, char buf[8]) {
    int np = (int)(sizeof palette / sizeof palette[0]);
    if (i >= 0 && i < np) {
        memcpy(buf, palette[i], 8);
        return buf;
    }
    // HSL(h, 0.6, 0.42) -> RGB.
    double h = fmod(37.0 + 137.508 * (i < 0 ? -i : i), 360.0) / 60.0, s = 0.6, l = 0.42;
    double c = (1 - fabs(2 * l - 1)) * s, x = c * (1 - fabs(fmod(h, 2.0) - 1)), m = l - c / 2;
    double r = 0, g = 0, b = 0;
    switch ((int)h) {
    case 0: r = c; g = x; break;
    case 1: r = x; g = c; break;
    case 2: g = c; b = x; break;
    case 3: g = x; b = c; break;
    case 4: r = x; b = c; break;
    default: r = c; b = x; break;
    }
    snprintf(buf, 8, "#%02x%02x%02x", (int)lround((r + m) * 255), (int)lround((g + m) * 255),
             (int)lround((b + m) * 255));
    return buf;
}

// Viridis at nine evenly spaced stops, linearly interpolated.
static const unsigned char viridis[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 82, 139},
                                            {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                            {94, 201, 98},  {173, 220, 48}, {253, 231, 37}};

const char *svg_viridis(double t, char buf[8]) {
    if (!(t > 0)) t = 0;  // NaN too
    if (t > 1) t = 1;
    double u = t * 8;
    int k = (int)u;
    if (k > 7) k = 7;
    double w = u - k;
    int rgb[3];
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(viridis[k][c] * (1 - w) + viridis[k + 1][c] * w);
    snprintf(buf, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
    return buf;
}

int svg_ticks(double lo, double hi, int target, double *ticks, int max, double *step) {
    if (!isfinite(lo) || !isfinite(hi) || max < 1) { *step = 1; return 0; }
    if (hi < lo) { double t = lo; lo = hi; hi = t; }
    if (target < 2) target = 2;
    double span = hi - lo;
    if (span <= 0) span = fabs(lo) > 0 ? fabs(lo) : 1;
    double raw = span / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double nice = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
    double s = nice * mag;
    *step = s;
    int n = 0;
    for (double k = ceil(lo / s - 1e-9); k <= floor(hi / s + 1e-9) && n < max; k++) {
        double v = k * s;
        if (fabs(v) < s * 1e-9) v = 0;  // no "-0"
        ticks[n++] = v;
    }
    return n;
}

void svg_tick_label(char *buf, size_t cap, double v, double step) {
    if (v == 0) { snprintf(buf, cap, "0"); return; }
    double a = fabs(v);
    if (a >= 1e6 || step < 1e-4) { snprintf(buf, cap, "%g", v); return; }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, cap, "%.*f", dec, v);
}

void svg_num(char *buf, size_t cap, double v, int sig) {
    if (isnan(v)) snprintf(buf, cap, "nan");
    else if (isinf(v)) snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else {
        snprintf(buf, cap, "%.*g", sig, v);
        if (strcmp(buf, "-0") == 0) snprintf(buf, cap, "0");
    }
}

void svg_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            // Control characters are not allowed in XML 1.0; show them as spaces.
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', f);
            else fputc(*s, f);
        }
    }
}

double svg_text_width(const char *s, double size) {
    double w = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xc0) == 0x80) continue;  // UTF-8 continuation byte
        // Narrow and wide glyphs of a typical sans-serif, roughly.
        if (c >= '0' && c <= '9') w += 0.64;  // digits are tabular
        else if (strchr("il.,:;|'!()[]tfj ", c)) w += 0.34;
        else if (strchr("mwMW@%", c)) w += 0.86;
        else if (c >= 'A' && c <= 'Z') w += 0.68;
        else w += 0.57;
    }
    return w * size;
}

// ---- layout -------------------------------------------------------------------------------------

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define OUTER 12.0      // outer margin of the figure
#define PANEL_TOP 24.0  // room for a panel's title above its plotting area
#define PANEL_RIGHT 16.0
#define PANEL_GAP 14.0  // vertical gap between rows of panels
#define TICK_FONT 11.0
#define LABEL_FONT 12.0
#define CAT_MAX_CHARS 30
#define ROT_DEG 35.0
#define TICKS_MAX 40

// Axis ranges and ticks of one panel, computed before layout.
typedef struct {
    int empty;                    // no finite point to draw
    int log_y;                    // y0, y1 are log10 of the range; ticks are values
    double x0, x1, y0, y1;
    int nxt, nyt;
    double xt[TICKS_MAX], yt[TICKS_MAX], xstep, ystep;
    int rotate;                   // categorical labels drawn at an angle
    double ylab_w;                // widest y tick label
    double bottom;                // room needed below the plotting area
    double left;                  // room needed left of it
    double pw, ph;                // plotting area
    int cell;                     // heatmap cell size
    int col_every;                // heatmap: label every n-th column
} Axes;

// A categorical label, cut to CAT_MAX_CHARS characters (with an ellipsis).
static void cat_label(char *buf, size_t cap, const char *s) {
    size_t n = 0, chars = 0;
    for (; s[n] && n + 4 < cap; n++) {
        if (((unsigned char)s[n] & 0xc0) != 0x80) {
            if (chars == CAT_MAX_CHARS) break;
            chars++;
        }
        buf[n] = s[n];
    }
    buf[n] = '\0';
    if (s[n] && n + 4 < cap) strcat(buf, "\xe2\x80\xa6");
}

// The axis [lo - pad_lo*span, hi + pad_hi*span] (a degenerate range widened first) and its
// ticks inside it.
static void padded_axis(double lo, double hi, double pad_lo, double pad_hi, int target, double *a0,
                        double *a1, double *t, int *nt, double *step) {
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-12 * fmax(1, fabs(lo))) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d;
        hi += d;
    }
    double span = hi - lo;
    *a0 = lo - pad_lo * span;
    *a1 = hi + pad_hi * span;
    *nt = svg_ticks(*a0, *a1, target, t, TICKS_MAX, step);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// A y tick label: by the tick spacing, or on a log axis by the value (1000, 2, 0.05).
static void y_tick_label(char *buf, size_t cap, const Axes *ax, double v) {
    if (!ax->log_y) svg_tick_label(buf, cap, v, ax->ystep);
    else if (v >= 1 && v < 1e6) snprintf(buf, cap, "%.0f", v);
    else snprintf(buf, cap, "%g", v);
}

static void axes_xy(Axes *ax, const SvgPanel *p, double pw, double ph) {
    memset(ax, 0, sizeof *ax);
    ax->pw = pw;
    ax->ph = ph;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t ny = 0, cap = 0;
    double *ys = NULL, firstmax = -INFINITY;
    int marks = 0;  // markers or dots: keep them off the frame's left and right edges
    for (int s = 0; s < p->nseries; s++) {
        const SvgSeries *S = &p->series[s];
        int first = 1;
        marks |= S->style != SVG_LINE;
        for (size_t i = 0; i < S->n; i++) {
            double x = S->x[i], y = S->y[i];
            // x spans every point with a finite x, so panels of one figure share their steps.
            if (isfinite(x)) { xmin = fmin(xmin, x); xmax = fmax(xmax, x); }
            if (!isfinite(x) || !isfinite(y) || (p->log_y && y <= 0)) continue;
            double lo = y, hi = y;
            if (S->sd && isfinite(S->sd[i])) { lo = y - S->sd[i]; hi = y + S->sd[i]; }
            else if (!S->sd && S->lo && S->hi && isfinite(S->lo[i]) && isfinite(S->hi[i])) {
                lo = fmin(y, S->lo[i]);
                hi = fmax(y, S->hi[i]);
            }
            if (p->log_y && lo <= 0) lo = y;  // a band reaching zero runs off the bottom
            ymin = fmin(ymin, lo);
            ymax = fmax(ymax, hi);
            if (first) { firstmax = fmax(firstmax, y); first = 0; }
            if (p->robust_y) {
                if (ny == cap) {
                    cap = cap ? cap * 2 : 256;
                    double *q = realloc(ys, cap * sizeof *q);
                    if (!q) { free(ys); ys = NULL; cap = 0; ny = 0; continue; }
                    ys = q;
                }
                if (ys) ys[ny++] = hi;
            }
        }
    }
    if (!isfinite(ymin)) {
        ax->empty = 1;
        ymin = 0; ymax = 1;
    }
    if (!isfinite(xmin)) { xmin = 0; xmax = 1; }
    // A diverging curve would flatten the others: cap the range at 1.15 x max(the curves' first
    // values, the 75th percentile), when the data go beyond that.
    if (p->robust_y && ny > 0) {
        qsort(ys, ny, sizeof *ys, cmp_double);
        double cap_y = fmax(firstmax, ys[(ny * 3) / 4]);
        cap_y = cap_y + 0.15 * fabs(cap_y - ymin);
        if (ymax > cap_y && cap_y > ymin) ymax = cap_y;
    }
    free(ys);
    if (p->zero_y && !p->log_y) { ymin = fmin(ymin, 0); ymax = fmax(ymax, 0); }
    if (p->zero_x) { xmin = fmin(xmin, 0); xmax = fmax(xmax, 0); }
    if (p->log_y && !ax->empty) {
        // Log axis: the range in decades with a 4% margin, ticks at 1, 2 and 5 times powers of
        // ten (powers alone when the range spans more than three decades).
        ax->log_y = 1;
        double a = log10(ymin), b = log10(ymax);
        if (b - a < 0.3) { a -= 0.15; b += 0.15; }
        double pad = 0.04 * (b - a);
        ax->y0 = a - pad;
        ax->y1 = b + pad;
        static const double mult[3] = {1, 2, 5};
        int nm = ax->y1 - ax->y0 > 3 ? 1 : 3;
        for (double k = floor(ax->y0); k <= ceil(ax->y1) && ax->nyt < TICKS_MAX; k++)
            for (int m = 0; m < nm && ax->nyt < TICKS_MAX; m++) {
                double v = mult[m] * pow(10, k), lv = log10(v);
                if (lv >= ax->y0 && lv <= ax->y1) ax->yt[ax->nyt++] = v;
            }
        ax->ystep = 0;  // labels by value (y_tick_label)
    } else {
        // A margin of 6% above and below (none below a zero baseline), so no mark sits on the frame.
        padded_axis(ymin, ymax, p->zero_y && ymin == 0 ? 0 : 0.06, 0.06, ph >= 200 ? 6 : 5, &ax->y0, &ax->y1,
                    ax->yt, &ax->nyt, &ax->ystep);
    }
    if (p->ncat > 0) {
        ax->x0 = -0.5;
        ax->x1 = p->ncat - 0.5;
    } else {
        int target = (int)(pw / 80);
        double pad = marks ? 0.03 : 0;
        padded_axis(xmin, xmax, p->zero_x && xmin == 0 ? 0 : pad, pad, target < 3 ? 3 : target, &ax->x0, &ax->x1,
                    ax->xt, &ax->nxt, &ax->xstep);
        if (p->integer_x && ax->xstep < 1) {
            // Integer positions (layers): one tick per integer.
            ax->xstep = 1;
            ax->nxt = 0;
            ax->x0 = floor(xmin) - 0.25;
            ax->x1 = ceil(xmax) + 0.25;
            if (xmax - xmin < 1) { ax->x0 -= 0.5; ax->x1 += 0.5; }
            for (double v = ceil(ax->x0); v <= ax->x1 && ax->nxt < TICKS_MAX; v++) ax->xt[ax->nxt++] = v;
        }
    }
    char buf[64];
    for (int i = 0; i < ax->nyt; i++) {
        y_tick_label(buf, sizeof buf, ax, ax->yt[i]);
        ax->ylab_w = fmax(ax->ylab_w, svg_text_width(buf, TICK_FONT));
    }
    ax->left = ax->ylab_w + 8 + (p->ylabel ? 20 : 0);
    ax->bottom = 8 + TICK_FONT + (p->xlabel ? 22 : 6);
    if (p->ncat > 0) {
        double widest = 0, slot = pw / p->ncat;
        char lab[160];
        for (int i = 0; i < p->ncat; i++) {
            cat_label(lab, sizeof lab, p->cat[i]);
            widest = fmax(widest, svg_text_width(lab, TICK_FONT));
        }
        if (widest > slot - 6) {
            ax->rotate = 1;
            double a = ROT_DEG * 3.14159265358979 / 180;
            ax->bottom = 8 + widest * sin(a) + TICK_FONT * cos(a) + (p->xlabel ? 22 : 6);
            // The first label leans left past the axis.
            ax->left = fmax(ax->left, widest * cos(a) - slot / 2 + 4);
        }
    }
}

static void axes_heatmap(Axes *ax, const SvgPanel *p, double pw, double ph) {
    memset(ax, 0, sizeof *ax);
    int cell = (int)fmin(pw / (p->cols > 0 ? p->cols : 1), ph / (p->rows > 0 ? p->rows : 1));
    if (cell > 28) cell = 28;
    if (cell < 3) cell = 3;
    ax->cell = cell;
    ax->pw = pw;
    ax->ph = ph;
    char buf[64];
    snprintf(buf, sizeof buf, "%s%d", p->col_prefix ? p->col_prefix : "", p->cols - 1);
    double cw = svg_text_width(buf, TICK_FONT) + 4;
    ax->col_every = (int)ceil(cw / cell);
    if (ax->col_every < 1) ax->col_every = 1;
    snprintf(buf, sizeof buf, "%s%d", p->row_prefix ? p->row_prefix : "", p->rows - 1);
    ax->ylab_w = svg_text_width(buf, TICK_FONT);
    for (int r = 0; p->row_names && r < p->rows; r++) ax->ylab_w = fmax(ax->ylab_w, svg_text_width(p->row_names[r], TICK_FONT));
    ax->left = ax->ylab_w + 8 + (p->ylabel ? 20 : 0);
    ax->bottom = 8 + TICK_FONT + (p->xlabel ? 22 : 6);
}

// ---- drawing ------------------------------------------------------------------------------------

static void text(FILE *f, double x, double y, double size, const char *anchor, const char *extra,
                 const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\"", x, y, size);
    if (anchor) fprintf(f, " text-anchor=\"%s\"", anchor);
    if (extra) fprintf(f, " %s", extra);
    fputc('>', f);
    svg_escape(f, s);
    fputs("</text>\n", f);
}

typedef struct {
    double px, py, pw, ph;  // plotting area
    double x0, x1, y0, y1;
    int log_y;              // y0, y1 in log10 units
} Frame;

// 1 if y can be drawn (finite; positive on a log axis).
static int yok(const Frame *F, double y) { return isfinite(y) && (!F->log_y || y > 0); }

static double fx(const Frame *F, double x) { return F->px + (x - F->x0) / (F->x1 - F->x0) * F->pw; }
static double fy(const Frame *F, double y) {
    if (F->log_y) y = y > 0 ? log10(y) : F->y0 - 1;  // zero or less: the bottom edge
    double v = F->py + F->ph - (y - F->y0) / (F->y1 - F->y0) * F->ph;
    // Values beyond the range (the robust cap) are drawn at the edge.
    if (v < F->py) v = F->py;
    if (v > F->py + F->ph) v = F->py + F->ph;
    return v;
}

// The pixel x of point i of a series, dodged sideways by its slot (10 px apart, closer when
// there are many) on a categorical or integer axis.
static double series_px(const Frame *F, const SvgPanel *p, const SvgSeries *S, size_t i) {
    double X = fx(F, S->x[i]);
    if ((p->ncat > 0 || p->integer_x) && p->dodge > 1) X += (S->slot - (p->dodge - 1) / 2.0) * fmin(10, 40.0 / p->dodge);
    return X;
}

static void x_name(char *buf, size_t cap, const SvgPanel *p, double x) {
    if (p->ncat > 0) {
        int i = (int)lround(x);
        snprintf(buf, cap, "%s", i >= 0 && i < p->ncat ? p->cat[i] : "?");
    } else svg_num(buf, cap, x, 6);
}

static void draw_series(FILE *f, const SvgPanel *p, const SvgSeries *S, const Frame *F) {
    const char *dash = S->dashed ? " stroke-dasharray=\"6 3\"" : "";
    size_t n = S->n;
    if (S->style == SVG_LINE || S->style == SVG_LINE_MARKERS) {
        // A band first (behind the line): y ± sd, or lo .. hi, over each run of finite values.
        // Lines with markers show the spread as error bars instead.
        if (S->style == SVG_LINE && (S->sd || (S->lo && S->hi))) {
            size_t i = 0;
            while (i < n) {
                size_t j = i;
                while (j < n) {
                    double y = S->y[j], lo, hi;
                    if (S->sd) { lo = y - S->sd[j]; hi = y + S->sd[j]; }
                    else { lo = S->lo[j]; hi = S->hi[j]; }
                    if (!isfinite(S->x[j]) || !yok(F, y) || !isfinite(lo) || !isfinite(hi)) break;
                    j++;
                }
                if (j - i >= 2) {
                    fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" d=\"", S->color);
                    for (size_t k = i; k < j; k++) {
                        double hi = S->sd ? S->y[k] + S->sd[k] : S->hi[k];
                        fprintf(f, "%c%.1f %.1f", k == i ? 'M' : 'L', series_px(F, p, S, k), fy(F, hi));
                    }
                    for (size_t k = j; k-- > i;) {
                        double lo = S->sd ? S->y[k] - S->sd[k] : S->lo[k];
                        fprintf(f, "L%.1f %.1f", series_px(F, p, S, k), fy(F, lo));
                    }
                    fputs("Z\"/>\n", f);
                }
                i = j + 1;
            }
        }
        fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"%s d=\"",
                S->color, dash);
        int pen = 0, any = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(S->x[i]) || !yok(F, S->y[i])) { pen = 0; continue; }
            fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', series_px(F, p, S, i), fy(F, S->y[i]));
            pen = 1;
            any = 1;
        }
        if (!any) fputs("M0 0", f);
        fputs("\"/>\n", f);
    }
    if (S->style == SVG_MARKERS || S->style == SVG_LINE_MARKERS) {
        for (size_t i = 0; i < n; i++) {
            double x = S->x[i], y = S->y[i];
            if (!isfinite(x) || !yok(F, y)) continue;
            double X = series_px(F, p, S, i), Y = fy(F, y);
            double sd = S->sd ? S->sd[i] : NAN;
            char xs[160], m[40], d[40];
            x_name(xs, sizeof xs, p, x);
            fprintf(f, "<g data-x=\"");
            svg_escape(f, xs);
            fprintf(f, "\" data-mean=\"%.9g\"", y);
            if (S->sd) fprintf(f, " data-sd=\"%.9g\"", sd);
            if (S->count) fprintf(f, " data-n=\"%d\"", S->count[i]);
            fputs("><title>", f);
            if (S->name) { svg_escape(f, S->name); fputs(" \xe2\x80\x94 ", f); }
            if (p->xlabel) { svg_escape(f, p->xlabel); fputs(" ", f); }
            svg_escape(f, xs);
            svg_num(m, sizeof m, y, 4);
            fprintf(f, ": %s", m);
            if (S->sd && isfinite(sd)) { svg_num(d, sizeof d, sd, 2); fprintf(f, " \xc2\xb1 %s", d); }
            if (S->count) fprintf(f, " (n=%d)", S->count[i]);
            fputs("</title>", f);
            double lo = NAN, hi = NAN;
            if (S->sd && isfinite(sd)) { lo = y - sd; hi = y + sd; }
            else if (!S->sd && S->lo && S->hi) { lo = S->lo[i]; hi = S->hi[i]; }
            if (isfinite(lo) && isfinite(hi) && fabs(fy(F, lo) - fy(F, hi)) > 0.5) {
                double a = fy(F, hi), b = fy(F, lo);
                fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.1f %.1fV%.1fM%.1f %.1fh9M%.1f %.1fh9\"/>",
                        S->color, X, a, b, X - 4.5, a, X - 4.5, b);
            }
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1\"/></g>\n",
                    X, Y, S->color);
        }
    }
    if (S->style == SVG_HOLLOW) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(S->x[i]) || !yok(F, S->y[i])) continue;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"none\" stroke=\"%s\" stroke-opacity=\"0.6\"/>\n",
                    series_px(F, p, S, i) + 8, fy(F, S->y[i]), S->color);
        }
    }
    if (S->style == SVG_DOTS) {
        // One path of zero-length segments with round caps: a dot per point, ~12 bytes each.
        fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linecap=\"round\" stroke-opacity=\"%s\" d=\"",
                S->color, S->emphasis ? "7" : S->n > 200 ? "4.5" : "6", S->emphasis ? "0.9" : S->n > 200 ? "0.45" : "0.7");
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(S->x[i]) || !yok(F, S->y[i])) continue;
            fprintf(f, "M%.1f %.1fh0", fx(F, S->x[i]), fy(F, S->y[i]));
            any = 1;
        }
        if (!any) fputs("M0 0", f);
        fputs("\"/>\n", f);
    }
}

static void draw_xy(FILE *f, const SvgPanel *p, const Axes *ax, double px, double py) {
    Frame F = {px, py, ax->pw, ax->ph, ax->x0, ax->x1, ax->y0, ax->y1, ax->log_y};
    char buf[160];
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfc\" stroke=\"none\"/>\n",
            px, py, ax->pw, ax->ph);
    // Grid lines and y tick labels.
    for (int i = 0; i < ax->nyt; i++) {
        double Y = fy(&F, ax->yt[i]);
        fprintf(f, "<path stroke=\"#e3e3e3\" d=\"M%.1f %.1fH%.1f\"/>\n", px, Y, px + ax->pw);
        y_tick_label(buf, sizeof buf, ax, ax->yt[i]);
        text(f, px - 6, Y + 4, TICK_FONT, "end", "fill=\"#333\"", buf);
    }
    if (p->ncat > 0) {
        for (int i = 0; i < p->ncat; i++) {
            double X = fx(&F, i);
            char lab[160];
            cat_label(lab, sizeof lab, p->cat[i]);
            if (i > 0) fprintf(f, "<path stroke=\"#eeeeee\" d=\"M%.1f %.1fV%.1f\"/>\n", fx(&F, i - 0.5), py, py + ax->ph);
            if (ax->rotate) {
                fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-%g)\" font-size=\"%g\" text-anchor=\"end\" fill=\"#333\">",
                        X + 3, py + ax->ph + 14, ROT_DEG, TICK_FONT);
                svg_escape(f, lab);
                fputs("</text>\n", f);
            } else {
                text(f, X, py + ax->ph + 8 + TICK_FONT, TICK_FONT, "middle", "fill=\"#333\"", lab);
            }
        }
    } else {
        for (int i = 0; i < ax->nxt; i++) {
            double X = fx(&F, ax->xt[i]);
            fprintf(f, "<path stroke=\"#eeeeee\" d=\"M%.1f %.1fV%.1f\"/>\n", X, py, py + ax->ph);
            svg_tick_label(buf, sizeof buf, ax->xt[i], ax->xstep);
            text(f, X, py + ax->ph + 8 + TICK_FONT, TICK_FONT, "middle", "fill=\"#333\"", buf);
        }
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
            px, py, ax->pw, ax->ph);
    for (int s = 0; s < p->nseries; s++) draw_series(f, p, &p->series[s], &F);
    if (ax->empty) text(f, px + ax->pw / 2, py + ax->ph / 2, LABEL_FONT, "middle", "fill=\"#999\"", "no data");
}

static void draw_heatmap(FILE *f, const SvgPanel *p, const Axes *ax, double px, double py) {
    int c = ax->cell;
    char col[8], buf[160], v[40];
    double span = p->vmax - p->vmin;
    for (int r = 0; r < p->rows; r++) {
        for (int e = 0; e < p->cols; e++) {
            double val = p->values[(size_t)r * p->cols + e];
            if (isfinite(val)) svg_viridis(span > 0 ? (val - p->vmin) / span : 0, col);
            else snprintf(col, sizeof col, "#dddddd");
            svg_num(v, sizeof v, val, 3);
            if (p->row_names) snprintf(buf, sizeof buf, "%.100s", p->row_names[r]);
            else snprintf(buf, sizeof buf, "%s%d", p->row_prefix ? p->row_prefix : "", r);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>",
                    px + (double)e * c, py + (double)r * c, c, c, col);
            svg_escape(f, buf);
            fprintf(f, ", %s%d: %s</title></rect>\n", p->col_prefix ? p->col_prefix : "", e, v);
        }
        if (p->row_names) snprintf(buf, sizeof buf, "%.100s", p->row_names[r]);
        else snprintf(buf, sizeof buf, "%s%d", p->row_prefix ? p->row_prefix : "", r);
        text(f, px - 5, py + r * c + c / 2.0 + 4, TICK_FONT, "end", "fill=\"#333\"", buf);
    }
    for (int e = 0; e < p->cols; e += ax->col_every) {
        snprintf(buf, sizeof buf, "%s%d", p->col_prefix ? p->col_prefix : "", e);
        text(f, px + e * c + c / 2.0, py + (double)p->rows * c + 8 + TICK_FONT, TICK_FONT, "middle", "fill=\"#333\"", buf);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", px, py,
            p->cols * c, p->rows * c);
}

// A panel title centred over the plotting area (width pw) if it fits at 13 px; else smaller and
// centred over the whole cell (centre cx, width cw); else cut with an ellipsis.
static void panel_title(FILE *f, const char *t, double px_mid, double cx, double y, double pw, double cw) {
    const char *bold = "font-weight=\"bold\" fill=\"#222\"";
    double w = svg_text_width(t, 13);
    if (w <= pw) { text(f, px_mid, y, 13, "middle", bold, t); return; }
    double size = fmax(10, 13 * cw / w);
    if (svg_text_width(t, size) <= cw) { text(f, cx, y, size, "middle", bold, t); return; }
    char buf[256];
    size_t n = strlen(t);
    if (n >= sizeof buf - 4) n = sizeof buf - 4;
    memcpy(buf, t, n);
    buf[n] = '\0';
    while (n > 1 && svg_text_width(buf, size) + 3 * size * 0.34 > cw) {
        n--;
        while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80) n--;  // whole UTF-8 characters
        buf[n] = '\0';
    }
    strcat(buf, "...");
    text(f, cx, y, size, "middle", bold, buf);
}

// ---- the figure -------------------------------------------------------------------------------

int svg_figure(FILE *f, const SvgFigure *fig) {
    int np = fig->npanels, cols = fig->cols < 1 ? 1 : fig->cols;
    if (cols > np && np > 0) cols = np;
    Axes *ax = calloc(np > 0 ? (size_t)np : 1, sizeof *ax);
    if (!ax) return -1;
    double left = 0, bottom = 0;
    for (int i = 0; i < np; i++) {
        if (fig->panels[i].kind == SVG_PANEL_HEATMAP) axes_heatmap(&ax[i], &fig->panels[i], fig->panel_w, fig->panel_h);
        else axes_xy(&ax[i], &fig->panels[i], fig->panel_w, fig->panel_h);
        left = fmax(left, ax[i].left);
        bottom = fmax(bottom, ax[i].bottom);
    }
    double cell_w = left + fig->panel_w + PANEL_RIGHT;
    double cell_h = PANEL_TOP + fig->panel_h + bottom + PANEL_GAP;
    int rows = np > 0 ? (np + cols - 1) / cols : 0;
    double W = 2 * OUTER + cols * cell_w;
    if (W < 420) W = 420;

    // Header: title, subtitle, legend rows, colour scale. Measure the legend first.
    double y = OUTER + 16;
    double title_y = y, sub_y = 0;
    if (fig->subtitle && *fig->subtitle) { y += 18; sub_y = y; }
    y += 8;
    double legend_y = y;
    int legend_rows = 0;
    if (fig->nlegend > 0) {
        double x = OUTER;
        legend_rows = 1;
        for (int i = 0; i < fig->nlegend; i++) {
            double w = 28 + svg_text_width(fig->legend_names[i], LABEL_FONT) + 18;
            if (x + w > W - OUTER && x > OUTER) { legend_rows++; x = OUTER; }
            x += w;
        }
        y += legend_rows * 20 + 4;
    }
    double cbar_y = y;
    if (fig->colorbar_label) y += 44;
    double top = y + 4;
    double H = top + rows * cell_h + OUTER - PANEL_GAP;

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"%s\" font-size=\"12\">\n",
            W, H, W, H, FONT);
    fputs("<title>", f);
    svg_escape(f, fig->title);
    fputs("</title>\n", f);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W, H);
    text(f, OUTER, title_y, 16, NULL, "font-weight=\"bold\" fill=\"#111\"", fig->title ? fig->title : "");
    if (sub_y > 0) text(f, OUTER, sub_y, LABEL_FONT, NULL, "fill=\"#555\"", fig->subtitle);

    if (fig->nlegend > 0) {
        double x = OUTER, ly = legend_y + 12;
        for (int i = 0; i < fig->nlegend; i++) {
            double w = 28 + svg_text_width(fig->legend_names[i], LABEL_FONT) + 18;
            if (x + w > W - OUTER && x > OUTER) { x = OUTER; ly += 20; }
            int st = fig->legend_style ? fig->legend_style[i] : SVG_LINE;
            const char *c = fig->legend_colors[i];
            if (st == SVG_LINE || st == SVG_LINE_MARKERS)
                fprintf(f, "<path stroke=\"%s\" stroke-width=\"2.5\" d=\"M%.1f %.1fh22\"/>\n", c, x, ly - 4);
            if (st != SVG_LINE)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>\n", x + 11, ly - 4, c);
            text(f, x + 28, ly, LABEL_FONT, NULL, "fill=\"#222\"", fig->legend_names[i]);
            x += w;
        }
    }
    if (fig->colorbar_label) {
        double lw = svg_text_width(fig->colorbar_label, LABEL_FONT);
        double bx = OUTER + lw + 10, bw = 260, bh = 12, by = cbar_y + 4;
        text(f, OUTER, by + 10, LABEL_FONT, NULL, "fill=\"#222\"", fig->colorbar_label);
        char col[8], buf[64];
        const int steps = 52;
        for (int i = 0; i < steps; i++) {
            svg_viridis((i + 0.5) / steps, col);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.0f\" fill=\"%s\"/>\n",
                    bx + i * bw / steps, by, bw / steps + 0.3, bh, col);
        }
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", bx, by, bw, bh);
        double t[TICKS_MAX], step;
        int nt = svg_ticks(fig->vmin, fig->vmax, 5, t, TICKS_MAX, &step);
        double span = fig->vmax - fig->vmin;
        for (int i = 0; i < nt && span > 0; i++) {
            double X = bx + (t[i] - fig->vmin) / span * bw;
            fprintf(f, "<path stroke=\"#333\" d=\"M%.1f %.1fv4\"/>\n", X, by + bh);
            svg_tick_label(buf, sizeof buf, t[i], step);
            text(f, X, by + bh + 16, TICK_FONT, "middle", "fill=\"#333\"", buf);
        }
    }

    for (int i = 0; i < np; i++) {
        const SvgPanel *p = &fig->panels[i];
        int r = i / cols, c = i % cols;
        double cx = OUTER + c * cell_w, cy = top + r * cell_h;
        double px = cx + left, py = cy + PANEL_TOP;
        double pw = ax[i].pw, ph = ax[i].ph;
        if (p->kind == SVG_PANEL_HEATMAP) { pw = (double)p->cols * ax[i].cell; ph = (double)p->rows * ax[i].cell; }
        fputs("<g>\n", f);
        if (p->title) panel_title(f, p->title, px + pw / 2, cx + cell_w / 2, cy + 16, pw, cell_w - 10);
        if (p->kind == SVG_PANEL_HEATMAP) draw_heatmap(f, p, &ax[i], px, py);
        else draw_xy(f, p, &ax[i], px, py);
        if (p->xlabel) text(f, px + pw / 2, py + ph + ax[i].bottom - 6, LABEL_FONT, "middle", "fill=\"#222\"", p->xlabel);
        if (p->ylabel) {
            char tr[96];
            double X = px - ax[i].ylab_w - 14, Y = py + ph / 2;
            snprintf(tr, sizeof tr, "transform=\"rotate(-90 %.1f %.1f)\" fill=\"#222\"", X, Y);
            text(f, X, Y, LABEL_FONT, "middle", tr, p->ylabel);
        }
        fputs("</g>\n", f);
    }
    fputs("</svg>\n", f);
    free(ax);
    return ferror(f) ? -1 : 0;
}
