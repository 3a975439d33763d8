"""svg.py — the suite's one SVG writer: side-by-side panels of lines against a numeric x, and the
figure helpers the claims share (per-layer panels, the paper's Fig. 2 layout). Standard library only.
"""
import math
import os

from .table import m, per_layer, sd, sel, vals, nlayers

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_panels(path, title, panels, xlabel):
    """One SVG with side-by-side panels. panels: [(panel title, x values, [(name, means, sds[, "dashed"])])].
    An sd of NaN (one seed) draws no bar."""
    W, H, L, R, T, B = 330, 240, 55, 12, 30, 42
    legend = []
    for _, _, series in panels:
        for name, *_ in series:
            if name not in legend:
                legend.append(name)
    width = W * len(panels)
    height = H + 22 * ((len(legend) + 2) // 3) + 36
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="8" y="18" font-size="14" font-weight="bold">{esc(title)}</text>']
    for p, (ptitle, xs, series) in enumerate(panels):
        x0 = p * W + L
        y0 = 36
        pw, ph = W - L - R, H - T - B
        ys = [v for _, mu, s, *_ in series for v, e in zip(mu, s) if not math.isnan(v)
              for v in (v - (0 if math.isnan(e) else e), v + (0 if math.isnan(e) else e))]
        lo, hi = (min(ys), max(ys)) if ys else (0, 1)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        pad = 0.06 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        xlo, xhi = min(xs), max(xs)
        if xhi == xlo:
            xhi = xlo + 1

        def X(x):
            return x0 + (x - xlo) / (xhi - xlo) * pw

        def Y(y):
            return y0 + ph - (y - lo) / (hi - lo) * ph

        o.append(f'<text x="{x0}" y="{y0 - 6}" font-weight="bold">{esc(ptitle)}</text>')
        o.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        for k in range(5):
            yv = lo + (hi - lo) * k / 4
            o.append(f'<line x1="{x0 - 4}" y1="{Y(yv):.1f}" x2="{x0}" y2="{Y(yv):.1f}" stroke="#999"/>')
            o.append(f'<text x="{x0 - 6}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
        for xv in xs:
            o.append(f'<text x="{X(xv):.1f}" y="{y0 + ph + 14}" text-anchor="middle">{xv:g}</text>')
        o.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 30}" text-anchor="middle">{esc(xlabel)}</text>')
        for name, mu, s, *style in series:
            c = COLORS[legend.index(name) % len(COLORS)]
            pts = [(X(x), Y(v)) for x, v in zip(xs, mu) if not math.isnan(v)]
            dash = ' stroke-dasharray="5,3"' if style and style[0] == "dashed" else ""
            o.append('<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>'
                     % (c, dash, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)))
            for x, v, e in zip(xs, mu, s):
                if math.isnan(v):
                    continue
                if not math.isnan(e):
                    o.append(f'<line x1="{X(x):.1f}" y1="{Y(v - e):.1f}" x2="{X(x):.1f}" y2="{Y(v + e):.1f}" stroke="{c}"/>')
                o.append(f'<circle cx="{X(x):.1f}" cy="{Y(v):.1f}" r="3" fill="{c}"/>')
    for i, name in enumerate(legend):
        lx, ly = 12 + (i % 3) * (width // 3), H + 14 + 22 * (i // 3)
        o.append(f'<rect x="{lx}" y="{ly - 9}" width="14" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
        o.append(f'<text x="{lx + 20}" y="{ly}">{esc(name)}</text>')
    o.append(f'<text x="12" y="{height - 8}" fill="#555">mean over seeds, bar ± 1 sd; written by '
             f'experiments/claims</text>')
    o.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(o) + "\n")
    os.replace(path + ".tmp", path)


def svg_points(path, title, panels, xlabel):
    """panels: [(panel title, y label, [(name, [(x, y), ...])])], drawn by svg_panels with one x list
    per panel (NaN where a series has no point) and no bars."""
    conv = []
    for ptitle, ylabel, series in panels:
        xs = sorted({x for _, pts in series for x, _ in pts})
        conv.append((f"{ptitle}: {ylabel}", xs,
                     [(name, [dict(pts).get(x, float("nan")) for x in xs], [0.0] * len(xs)) for name, pts in series]))
    svg_panels(path, title, conv, xlabel)


def layers_figure(res, fname, title, groups, measures):
    """groups: [(series name, rows)]; measures: [(column, panel title)]. Returns the relative link."""
    panels = []
    for col, ptitle in measures:
        L = nlayers(groups[0][1])
        series = [(name, *per_layer(rows, col)) for name, rows in groups]
        panels.append((ptitle, list(range(L)), series))
    svg_panels(res.fig(fname), title, panels, "layer")
    return f"figures/{fname}"


def fig2_figure(res, fname, title, groups):
    """Per layer, the four measurements of the paper's Fig. 2 (top row), one line per group:
    the energy of v1 (Eq. 7), the cosine of hidden states (Eq. 10) beside the router's Hamming
    similarity (Eq. 11), and the router's retained energy on v1 (Eq. 8, solid) and on v2
    (dashed; the middle columns of Figs. 16-19)."""
    L = nlayers(groups[0][1])
    xs = list(range(L))

    def ser(col):
        return [(name, *per_layer(rows, col)) for name, rows in groups]
    ret = ser("retained_energy_first") + [(name, *per_layer(rows, "retained_energy_dir2"), "dashed")
                                          for name, rows in groups]
    panels = [("energy of v1 (Eq. 7)", xs, ser("energy_first")),
              ("hidden-state cosine (Eq. 10)", xs, ser("cosine_hidden")),
              ("router Hamming similarity (Eq. 11)", xs, ser("hamming_similarity")),
              ("retained energy, v1 solid, v2 dashed (Eq. 8)", xs, ret)]
    svg_panels(res.fig(fname), title, panels, "layer")
    return f"figures/{fname}"


def layers_like_x(res, rows, key, xs, measures, fname, title, xlabel):
    """Figure of final (last-layer or plain) measurements against a swept numeric key."""
    panels = []
    for col, ptitle in measures:
        mu = [m(sel(rows, **{key: x}), col) for x in xs]
        s = [sd(vals(sel(rows, **{key: x}), col)) for x in xs]
        panels.append((ptitle, xs, [("mean over seeds", mu, s)]))
    svg_panels(res.fig(fname), title, panels, xlabel)
    return f"figures/{fname}"
