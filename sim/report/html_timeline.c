// html_timeline.c — report.html's "Over training" section: a step slider and a play button over
// every evaluation, redrawing each variant's domain x expert heatmap (last layer, first used seed:
// experts.csv has every evaluation's rows) and its per-layer measurements (eval.csv) at that step.
// The data is inlined as JSON (no '<' or '&': the page stays well-formed XML) and drawn by an
// inline script in a CDATA section (no network; the page opens from a file). The fragment #step=N starts the page at the evaluation nearest step N; with "classroom"
// in the fragment (#classroom&step=N) the page shows only its title, this section and the tokens
// (the browser test takes its screenshots that way).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

// The measurements of the per-layer table (eval.csv columns), beside eval_ce.
static const char *const TL_MEAS[] = {"eval_ce", "freqsim_cross_domain", "nmi_domain_expert", "maxvio",
                                      "router_confidence", "energy_first", "cosine_hidden", "resid_norm_mean",
                                      "resid_norm_cv"};

static void jnum(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.4g", v);
    else fputs("null", f);
}

static void jstr(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '<' || c == '&') fprintf(f, "\\u%04x", c);  // no "</script>", and well-formed XML
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *TL_SCRIPT =
    "(function(){\n"
    "if(/classroom/.test(location.hash))document.body.classList.add('focus');\n"
    "var d=JSON.parse(document.getElementById('tl-data').textContent);\n"
    "var sl=document.getElementById('tl-slider'),lab=document.getElementById('tl-step'),"
    "btn=document.getElementById('tl-play'),box=document.getElementById('tl');\n"
    "function colour(q){if(q===null)return '#f4c7c3';var t=Math.max(0,Math.min(1,q/d.vmax));"
    "var a=[247,251,255],b=[8,48,107];return 'rgb('+a.map(function(x,i){return Math.round(x+(b[i]-x)*t)}).join(',')+')';}\n"
    "function draw(i){\n"
    "  box.dataset.step=d.steps[i];lab.textContent='step '+d.steps[i]+' ('+(i+1)+' of '+d.steps.length+' evaluations)';\n"
    "  d.runs.forEach(function(r,k){\n"
    "    var c=document.getElementById('tl-map-'+k),x=c.getContext('2d'),h=r.heat[i],cw=c.width/r.E,ch=c.height/r.D;\n"
    "    x.clearRect(0,0,c.width,c.height);\n"
    "    if(h){for(var a=0;a<r.D;a++)for(var e=0;e<r.E;e++){x.fillStyle=colour(h[a*r.E+e]);x.fillRect(e*cw,a*ch,cw-1,ch-1);}}\n"
    "    else{x.fillStyle='#888';x.fillText('no evaluation at this step',8,20);}\n"
    "    var m=r.meas[i];\n"
    "    for(var l=0;l<r.L;l++)for(var j=0;j<d.meas.length;j++){var td=document.getElementById('tl-v-'+k+'-'+l+'-'+j);"
    "if(td)td.textContent=m&&m[l]&&m[l][j]!==null?Number(m[l][j]).toPrecision(4):'\\u2013';}\n"
    "  });\n"
    "}\n"
    "var timer=null;\n"
    "function stop(){if(timer){clearInterval(timer);timer=null;btn.textContent='\\u25b6 play';}}\n"
    "btn.onclick=function(){if(timer){stop();return;}if(+sl.value>=d.steps.length-1)sl.value=0;"
    "btn.textContent='\\u275a\\u275a pause';draw(+sl.value);"
    "timer=setInterval(function(){if(+sl.value>=d.steps.length-1){stop();return;}sl.value=+sl.value+1;draw(+sl.value);},400);};\n"
    "sl.oninput=function(){stop();draw(+sl.value);};\n"
    "var start=d.steps.length-1,m=/(?:^#|&)step=(\\d+)/.exec(location.hash);\n"
    "if(m){var want=+m[1],best=0;d.steps.forEach(function(s,i){if(Math.abs(s-want)<Math.abs(d.steps[best]-want))best=i;});"
    "start=best;}\n"
    "sl.value=start;draw(start);\n"
    "})();\n";

// The section; nothing when no run has expert frequencies.
int html_timeline(FILE *f, Report *R) {
    int nshow = 0, *show = ralloc(R, sizeof(int) * ((size_t)R->nvars + 1));
    if (!show) return report_fail(R, "out of memory");
    for (int v = 0; v < R->nvars; v++) {
        int r = heatmap_run(R, &R->vars[v]);
        if (r >= 0) show[nshow++] = r;
    }
    if (nshow == 0) return 0;
    // every evaluation step of the runs shown, ascending, once
    size_t cap = 0;
    for (int j = 0; j < nshow; j++) cap += R->runs[show[j]].experts.nrows;
    double *steps = ralloc(R, sizeof(double) * (cap + 1));
    if (!steps) return report_fail(R, "out of memory");
    size_t ns = 0;
    for (int j = 0; j < nshow; j++) {
        const Csv *t = &R->runs[show[j]].experts;
        int cs = csv_col(t, "step");
        for (size_t i = 0; i < t->nrows; i++) steps[ns++] = csv_num(t, i, cs);
    }
    qsort(steps, ns, sizeof *steps, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < ns; i++)
        if (isfinite(steps[i]) && (u == 0 || steps[i] != steps[u - 1])) steps[u++] = steps[i];
    ns = u;
    if (ns == 0) return 0;
    // each run's last-layer grid at every step, and its per-layer measurements
    double vmax = 0;
    fputs("<section id=\"timeline\" class=\"classroom\">\n<h2>Over training</h2>\n<p>Each variant's domain \xc3\x97 expert selection frequency "
          "(last layer, first seed; darker: a larger share of the domain's tokens pick the expert) and its "
          "measurements per layer, at every evaluation. Drag the slider or press play.</p>\n"
          "<div id=\"tl\"><button id=\"tl-play\" type=\"button\">\xe2\x96\xb6 play</button> "
          "<input id=\"tl-slider\" type=\"range\" min=\"0\" step=\"1\" ", f);
    fprintf(f, "max=\"%zu\" value=\"%zu\" style=\"width:420px;vertical-align:middle\"/> <span id=\"tl-step\"></span></div>\n"
            "<div class=\"tl-maps\">\n", ns - 1, ns - 1);
    for (int j = 0; j < nshow; j++) {
        const ReportRun *U = &R->runs[show[j]];
        int D, E, layer;
        double st;
        double *M = run_heatmap(R, U, &D, &E, &st, &layer);
        int cw = E <= 16 ? 22 : E <= 64 ? 8 : 3, chh = D <= 16 ? 22 : 8;
        fputs("<figure class=\"tl-map\"><figcaption><span class=\"sw\" style=\"background:", f);
        svg_escape(f, R->vars[U->variant].color);
        fputs("\"></span>", f);
        svg_escape(f, R->vars[U->variant].label);
        fprintf(f, " <span class=\"meta\">layer %d</span></figcaption><canvas id=\"tl-map-%d\" width=\"%d\" "
                "height=\"%d\" title=\"run ", layer, j, M ? cw * E : 200, M ? chh * D : 40);
        svg_escape(f, U->id);
        fprintf(f, ": %d domains (rows) x %d experts (columns)\"></canvas></figure>\n", D, E);
    }
    fputs("</div>\n<div class=\"scroll\"><table id=\"tl-layers\">\n<tr><th>variant</th><th>layer</th>", f);
    for (int m = 0; m < COUNT(TL_MEAS); m++) { fputs("<th>", f); svg_escape(f, TL_MEAS[m]); fputs("</th>", f); }
    fputs("</tr>\n", f);
    int *Ls = ralloc(R, sizeof(int) * (size_t)nshow);
    if (!Ls) return report_fail(R, "out of memory");
    for (int j = 0; j < nshow; j++) {
        const ReportRun *U = &R->runs[show[j]];
        Ls[j] = U->last_layer + 1 > 0 ? U->last_layer + 1 : 0;
        for (int l = 0; l < Ls[j]; l++) {
            fputs("<tr><td class=\"id\">", f);
            svg_escape(f, R->vars[U->variant].label);
            fprintf(f, "</td><td class=\"n\">%d</td>", l);
            for (int m = 0; m < COUNT(TL_MEAS); m++) fprintf(f, "<td class=\"n\" id=\"tl-v-%d-%d-%d\"></td>", j, l, m);
            fputs("</tr>\n", f);
        }
    }
    fputs("</table></div>\n<script type=\"application/json\" id=\"tl-data\">{\"steps\":[", f);
    for (size_t s = 0; s < ns; s++) fprintf(f, "%s%.17g", s ? "," : "", steps[s]);
    fputs("],\"meas\":[", f);
    for (int m = 0; m < COUNT(TL_MEAS); m++) { fputs(m ? "," : "", f); jstr(f, TL_MEAS[m]); }
    fputs("],\"runs\":[", f);
    for (int j = 0; j < nshow; j++) {
        const ReportRun *U = &R->runs[show[j]];
        int D = 0, E = 0, layer = 0;
        double st;
        if (!run_heatmap(R, U, &D, &E, &st, &layer)) D = E = 0;
        const Csv *t = &U->experts;
        int cs = csv_col(t, "step"), cl = csv_col(t, "layer"), cd = csv_col(t, "domain"), ce = csv_col(t, "expert"),
            cf = csv_col(t, "frequency");
        fprintf(f, "%s{\"label\":", j ? "," : "");
        jstr(f, R->vars[U->variant].label);
        fprintf(f, ",\"D\":%d,\"E\":%d,\"L\":%d,\"heat\":[", D, E, Ls[j]);
        double *grid = ralloc(R, sizeof(double) * ((size_t)D * E + 1));
        if (!grid) return report_fail(R, "out of memory");
        size_t row = 0;
        for (size_t s = 0; s < ns; s++) {
            int have = 0;
            for (size_t i = 0; i < (size_t)D * E; i++) grid[i] = NAN;
            // the rows are in step order: advance through this step's
            while (row < t->nrows && csv_num(t, row, cs) < steps[s]) row++;
            for (; row < t->nrows && csv_num(t, row, cs) == steps[s]; row++) {
                if ((int)csv_num(t, row, cl) != layer) continue;
                int d = (int)csv_num(t, row, cd), e = (int)csv_num(t, row, ce);
                if (d < 0 || e < 0 || d >= D || e >= E) continue;
                grid[(size_t)d * E + e] = csv_num(t, row, cf);
                if (isfinite(grid[(size_t)d * E + e])) vmax = fmax(vmax, grid[(size_t)d * E + e]);
                have = 1;
            }
            fputs(s ? "," : "", f);
            if (!have) { fputs("null", f); continue; }
            fputc('[', f);
            for (size_t i = 0; i < (size_t)D * E; i++) { fputs(i ? "," : "", f); jnum(f, grid[i]); }
            fputc(']', f);
        }
        fputs("],\"meas\":[", f);
        const Csv *ev = &U->eval;
        int es = csv_col(ev, "step"), el = csv_col(ev, "layer"), col[COUNT(TL_MEAS)];
        for (int m = 0; m < COUNT(TL_MEAS); m++) col[m] = csv_col(ev, TL_MEAS[m]);
        for (size_t s = 0; s < ns; s++) {
            fputs(s ? ",[" : "[", f);
            for (int l = 0; l < Ls[j]; l++) {
                size_t at = ev->nrows;
                for (size_t i = 0; i < ev->nrows && at == ev->nrows; i++)
                    if (csv_num(ev, i, es) == steps[s] && (int)csv_num(ev, i, el) == l) at = i;
                fputs(l ? "," : "", f);
                if (at == ev->nrows) { fputs("null", f); continue; }
                fputc('[', f);
                for (int m = 0; m < COUNT(TL_MEAS); m++) { fputs(m ? "," : "", f); jnum(f, col[m] >= 0 ? csv_num(ev, at, col[m]) : NAN); }
                fputc(']', f);
            }
            fputc(']', f);
        }
        fputs("]}", f);
    }
    fprintf(f, "],\"vmax\":%.4g}</script>\n<script>//<![CDATA[\n%s//]]></script>\n</section>\n", vmax > 0 ? vmax : 1.0, TL_SCRIPT);
    return 0;
}
