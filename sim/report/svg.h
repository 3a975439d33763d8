// svg.h — the plots of the report as standalone SVG: figures made of panels (line charts with
// error bars or bands, scatter plots, heatmaps), laid out on a grid, with titles, labelled axes,
// ticks, grid lines, a shared legend and a colour scale.
//
// The output is well-formed XML that can also be inlined into an HTML page unchanged: no XML
// declaration, no ids (a page holds many figures), every text escaped, every tag closed. Numbers
// are printed with fixed precision, so the same data gives byte-identical files.
//
// Conventions: a NaN y value leaves a gap (lines) or no mark (points); non-finite x values are
// skipped. A categorical x axis puts x = 0, 1, ..., ncat-1 at evenly spaced slots labelled
// cat[i]. Nothing here prints (other than to the FILE it is given) or exits.
#ifndef MOESIM_SVG_H
#define MOESIM_SVG_H

#include <stddef.h>
#include <stdio.h>

// ---- colours and numbers ----------------------------------------------------------------------

// Categorical colour i as "#rrggbb" (a colour-blind-friendly palette, then golden-angle hues).
const char *svg_color(int i, char buf[8]);
// Sequential colour for t in [0, 1] (viridis, interpolated; t is clamped).
const char *svg_viridis(double t, char buf[8]);
// Up to max "nice" tick values (1, 2 or 5 times a power of ten) covering [lo, hi], aiming at
// about target ticks. Returns the count; *step receives the spacing.
int svg_ticks(double lo, double hi, int target, double *ticks, int max, double *step);
// A tick label: as many decimals as the tick spacing needs, %g for very large or small values.
void svg_tick_label(char *buf, size_t cap, double v, double step);
// v with `sig` significant digits ("nan" for NaN, "inf"/"-inf").
void svg_num(char *buf, size_t cap, double v, int sig);
// Writes s with & < > " ' escaped for XML text and attribute values.
void svg_escape(FILE *f, const char *s);
// Rough width in pixels of s in a sans-serif font of the given size (for layout).
double svg_text_width(const char *s, double size);

// ---- figures ----------------------------------------------------------------------------------

typedef enum {
    SVG_LINE,        // a polyline through the points (gaps at NaN); optional band lo..hi
    SVG_MARKERS,     // filled circles; optional error bars lo..hi (or y ± sd)
    SVG_LINE_MARKERS,
    SVG_HOLLOW,      // small hollow circles (individual seeds behind their mean)
    SVG_DOTS         // many small dots, one compact path (scatter of thousands of points)
} SvgStyle;

typedef struct {
    const char *name;        // legend entry and tooltip name (NULL: not in the legend)
    const char *color;       // "#rrggbb"
    SvgStyle style;
    int dashed;
    size_t n;
    const double *x, *y;     // n values each
    const double *sd;        // optional: error bars y ± sd (MARKERS) or a band (LINE)
    const int *count;        // optional: samples behind each mean (shown in tooltips)
    const double *lo, *hi;   // optional explicit band or bar ends (used when sd is NULL)
    int slot;                // categorical axis with dodge slots: which slot (0 .. dodge-1)
    int emphasis;            // DOTS: larger, opaque dots (a few points that must stand out)
} SvgSeries;

typedef enum { SVG_PANEL_XY, SVG_PANEL_HEATMAP } SvgPanelKind;

typedef struct {
    SvgPanelKind kind;
    const char *title;
    const char *xlabel, *ylabel;
    // XY panels.
    int nseries;
    const SvgSeries *series;
    int ncat;                  // > 0: categorical x axis with these labels
    const char *const *cat;
    int dodge;                 // categorical or integer x axis: number of side-by-side slots per
                               // position (series.slot picks one) so error bars do not overlap
    int robust_y;              // cap the y range at a robust upper limit (diverging curves);
                               // values beyond it are drawn at the edge
    int zero_x, zero_y;        // include 0 in the x / y range
    int log_y;                 // logarithmic y axis (values <= 0 are not drawn)
    int integer_x;             // x ticks at integers only
    // Heatmap panels: rows x cols values, row-major, coloured on [vmin, vmax].
    int rows, cols;
    const double *values;
    const char *row_prefix, *col_prefix;  // tick labels "d0", "e3", ... (tooltips too)
    const char *const *row_names;         // optional: rows' tick labels instead (the text world's domains)
    double vmin, vmax;
} SvgPanel;

typedef struct {
    const char *title;         // figure title (top)
    const char *subtitle;      // optional smaller line below it
    int npanels;
    const SvgPanel *panels;
    int cols;                  // panels per row (>= 1)
    double panel_w, panel_h;   // plotting area of a panel in pixels (axes excluded)
    // Legend: one entry per distinct named series, in the order given here.
    int nlegend;
    const char *const *legend_names;
    const char *const *legend_colors;
    const int *legend_style;   // optional SvgStyle per entry (a line, a dot) — NULL: a line
    // Colour scale for heatmaps (drawn when colorbar_label is not NULL).
    const char *colorbar_label;
    double vmin, vmax;
} SvgFigure;

// Writes the figure as one <svg> element. Returns 0, or -1 if the FILE reports a write error.
int svg_figure(FILE *f, const SvgFigure *fig);

#endif
