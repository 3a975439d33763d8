// test_report.c — the report of a small hand-made results folder: 2 variants (balance.scope micro
// and global) x 2 seeds, one run diverged (no pairs.csv, nan values), one measurement nan in every
// run. Checks that every plot exists and is well-formed XML (our own checker, and Python's
// minidom when python3 is there), that report.html is well-formed and shows the question, every
// run and every plot, that the error bars carry the right mean ± sd, that the terminal heatmaps
// name each variant with its value and fit 80 columns, and that missing or broken files give
// errors naming the file. Also the CSV reader and the tick and mean/sd helpers on their own.
// covers: sim/report/csv.c sim/report/data.c sim/report/html.c sim/report/svg.c
// covers: sim/report/terminal.c sim/report/plots_layers.c sim/report/plots_training.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../sim/config/config.h"
#include "../sim/report/csv.h"
#include "../sim/io.h"
#include "../sim/measure/metrics.h"
#include "../sim/report/report.h"
#include "../sim/report/svg.h"
#include "harness.h"

// ---- helpers -------------------------------------------------------------------------------------

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        b = realloc(b, cap + 1);
    }
    fclose(f);
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

static void put(const char *dir, const char *name, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { fprintf(stderr, "cannot write %s\n", p); exit(1); }
    fputs(text, f);
    fclose(f);
}

// ---- a tiny XML well-formedness checker ------------------------------------------------------------
// One root element; tags balanced and properly nested; attribute values quoted, no '<' in them,
// no attribute twice on a tag; entity references only the five XML ones or numeric; comments,
// a DOCTYPE and processing instructions skipped. Returns NULL, or a message (static) with the
// byte offset of the problem.

static int name_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
static int name_char(int c) { return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

static const char *xml_entity(const char *s, size_t *adv) {
    static const char *const named[] = {"amp;", "lt;", "gt;", "quot;", "apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(s + 1, named[i], strlen(named[i]))) { *adv = 1 + strlen(named[i]); return NULL; }
    size_t i = 1;
    if (s[i] == '#') {
        i++;
        int hex = s[i] == 'x';
        if (hex) i++;
        size_t d0 = i;
        while ((s[i] >= '0' && s[i] <= '9') || (hex && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))) i++;
        if (i > d0 && s[i] == ';') { *adv = i + 1; return NULL; }
    }
    return "invalid entity reference";
}

static const char *xml_check(const char *s, size_t n, size_t *where) {
    static char msg[200];
    char stack[512][64];
    int depth = 0, roots = 0;
    size_t i = 0;
#define XFAIL(m) do { *where = i; snprintf(msg, sizeof msg, "%s at byte %zu", m, i); return msg; } while (0)
    while (i < n) {
        if (s[i] == '<') {
            if (!strncmp(s + i, "<!--", 4)) {
                const char *e = strstr(s + i + 4, "-->");
                if (!e) XFAIL("unterminated comment");
                i = (size_t)(e - s) + 3;
                continue;
            }
            if (!strncmp(s + i, "<![CDATA[", 9)) {  // report.html's scripts
                const char *e = strstr(s + i + 9, "]]>");
                if (!e || depth == 0) XFAIL(e ? "CDATA section outside the root" : "unterminated CDATA section");
                i = (size_t)(e - s) + 3;
                continue;
            }
            if (!strncmp(s + i, "<!DOCTYPE", 9) || !strncmp(s + i, "<?", 2)) {
                if (depth > 0 || roots > 0) XFAIL("declaration inside the document");
                const char *e = strchr(s + i, '>');
                if (!e) XFAIL("unterminated declaration");
                i = (size_t)(e - s) + 1;
                continue;
            }
            int closing = s[i + 1] == '/';
            i += closing ? 2 : 1;
            if (!name_start((unsigned char)s[i])) XFAIL("bad tag name");
            size_t n0 = i;
            while (name_char((unsigned char)s[i])) i++;
            size_t nl = i - n0;
            if (nl >= 64) XFAIL("tag name too long");
            char name[64];
            memcpy(name, s + n0, nl);
            name[nl] = '\0';
            if (closing) {
                while (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') i++;
                if (s[i] != '>') XFAIL("bad closing tag");
                if (depth == 0 || strcmp(stack[depth - 1], name)) XFAIL("closing tag does not match the open one");
                depth--;
                i++;
                continue;
            }
            if (depth == 0 && roots++ > 0) XFAIL("more than one root element");
            char attrs[64][64];
            int na = 0;
            for (;;) {
                size_t ws = i;
                while (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') i++;
                if (s[i] == '/' && s[i + 1] == '>') { i += 2; break; }
                if (s[i] == '>') {
                    if (depth == 512) XFAIL("too deep");
                    memcpy(stack[depth++], name, nl + 1);
                    i++;
                    break;
                }
                if (i == ws) XFAIL("attributes must be separated by white space");
                if (!name_start((unsigned char)s[i])) XFAIL("bad attribute name");
                size_t a0 = i;
                while (name_char((unsigned char)s[i])) i++;
                size_t al = i - a0;
                if (al >= 64 || na == 64) XFAIL("attribute name too long or too many");
                char an[64];
                memcpy(an, s + a0, al);
                an[al] = '\0';
                for (int k = 0; k < na; k++)
                    if (!strcmp(attrs[k], an)) XFAIL("duplicate attribute");
                memcpy(attrs[na++], an, al + 1);
                while (s[i] == ' ') i++;
                if (s[i] != '=') XFAIL("attribute without a value");
                i++;
                while (s[i] == ' ') i++;
                char q = s[i];
                if (q != '"' && q != '\'') XFAIL("unquoted attribute value");
                i++;
                while (i < n && s[i] != q) {
                    if (s[i] == '<') XFAIL("'<' in an attribute value");
                    if (s[i] == '&') {
                        size_t adv;
                        if (xml_entity(s + i, &adv)) XFAIL("invalid entity in an attribute");
                        i += adv;
                    } else i++;
                }
                if (i >= n) XFAIL("unterminated attribute value");
                i++;
            }
            continue;
        }
        if (s[i] == '&') {
            size_t adv;
            if (xml_entity(s + i, &adv)) XFAIL("invalid entity reference");
            i += adv;
            continue;
        }
        if (depth == 0 && !(s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) XFAIL("text outside the root element");
        i++;
    }
    if (depth != 0) XFAIL("unclosed element");
    if (roots != 1) XFAIL("no root element");
#undef XFAIL
    return NULL;
}

static int have_python = -1;

// Well-formed by our checker, and by Python's minidom when python3 exists.
static int well_formed(const char *path) {
    size_t n, where = 0;
    char *s = slurp(path, &n);
    if (!s) { fprintf(stderr, "%s: cannot read\n", path); return 0; }
    const char *e = xml_check(s, n, &where);
    if (e) {
        size_t a = where > 60 ? where - 60 : 0;
        fprintf(stderr, "%s: %s: ...%.120s...\n", path, e, s + a);
    }
    free(s);
    if (e) return 0;
    if (have_python < 0) {
        have_python = system("command -v python3 >/dev/null 2>&1") == 0;
        if (!have_python) printf("note: python3 not found; XML checked by the built-in checker only\n");
    }
    if (have_python) {
        char cmd[1400];
        snprintf(cmd, sizeof cmd,
                 "python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' '%s'", path);
        if (system(cmd) != 0) { fprintf(stderr, "%s: python3 minidom rejects it\n", path); return 0; }
    }
    return 1;
}

// ---- the fake results folder ------------------------------------------------------------------------

static const char *RUNS[4] = {"scope=micro-seed=1", "scope=micro-seed=2", "scope=global-seed=1", "scope=global-seed=2"};
static const char *SCOPE[4] = {"micro", "micro", "global", "global"};
static const char *STATUS[4] = {"ok", "ok", "ok", "diverged"};
static const double FREQSIM[4] = {0.8, 0.9, 0.5, NAN};
static const char *QUESTION = "Does micro-batch balancing collapse specialization (A < B & C > D)?";

static void num(FILE *f, double v) {
    if (isnan(v)) fputs(",nan", f);
    else fprintf(f, ",%.9g", v);
}

// Value of measurement i for run r at layer l (layer 1 is the last).
static double meas(int r, int i, const char *name, int l) {
    if (!strcmp(name, "freqsim_cross_domain")) return r == 3 ? NAN : FREQSIM[r] * (l ? 1 : 0.5);
    if (!strcmp(name, "suppression_rho")) return NAN;               // nan in every run: left out
    if (!strcmp(name, "maxvio") && r == 1) return NAN;              // one nan among the seeds
    if (r == 3) return NAN;
    return 0.1 + 0.02 * i + 0.01 * r + 0.05 * l;
}

static void make_results(const char *dir) {
    char p[1024], err[512];
    const char *names[METRICS_NSCALARS];
    LayerMetrics dummy = {0};
    metrics_list(names, NULL, NULL, &dummy);

    // experiment.toml: the defaults with a name, a question with XML specials and a few changes.
    Config c;
    CHECK(config_defaults(&c) == 0);
    CHECK(config_set(&c, "experiment.name", "\"toy-collapse\"", err, sizeof err) == 0);
    CHECK(config_set(&c, "experiment.question", "\"Does micro-batch balancing collapse specialization (A < B & C > D)?\"", err, sizeof err) == 0);
    CHECK(config_set(&c, "experiment.expect", "\"micro: higher cross-domain FreqSim than global\"", err, sizeof err) == 0);
    CHECK(config_set(&c, "model.experts", "4", err, sizeof err) == 0);
    CHECK(config_set(&c, "data.domains", "3", err, sizeof err) == 0);
    snprintf(p, sizeof p, "%s/experiment.toml", dir);
    FILE *f = fopen(p, "wb");
    config_write_toml(f, &c);
    fclose(f);

    // summary.csv
    snprintf(p, sizeof p, "%s/summary.csv", dir);
    f = fopen(p, "wb");
    fprintf(f, "run,balance.scope,train.seed,status,steps_done,loss,ce,eval_ce,tokens_per_s,wall_s");
    for (int i = 0; i < METRICS_NSCALARS; i++) fprintf(f, ",%s", names[i]);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < METRICS_NSCALARS; i++) fprintf(f, ",l%d.%s", l, names[i]);
    fputc('\n', f);
    for (int r = 0; r < 4; r++) {
        fprintf(f, "%s,%s,%d,%s,%d", RUNS[r], SCOPE[r], r % 2 + 1, STATUS[r], r == 3 ? 12 : 20);
        num(f, r == 3 ? NAN : 3.1 + 0.1 * r);
        num(f, r == 3 ? NAN : 3.0 + 0.1 * r);
        num(f, r == 3 ? NAN : 2.1 + 0.1 * r);
        num(f, 12345.6);
        num(f, 1.5);
        for (int i = 0; i < METRICS_NSCALARS; i++) num(f, meas(r, i, names[i], 1));
        for (int l = 0; l < 2; l++)
            for (int i = 0; i < METRICS_NSCALARS; i++) num(f, meas(r, i, names[i], l));
        fputc('\n', f);
    }
    fclose(f);

    for (int r = 0; r < 4; r++) {
        char rd[900];
        snprintf(rd, sizeof rd, "%s/%s", dir, RUNS[r]);
        CHECK(mkdir(rd, 0777) == 0);
        // metrics.csv: the diverged run goes to nan at step 20.
        snprintf(p, sizeof p, "%s/metrics.csv", rd);
        f = fopen(p, "wb");
        fprintf(f, "step,loss,ce,aux,lr,grad_norm,maxvio_batch,tokens_per_s\n");
        for (int s = 0; s <= 20; s += 10) {
            double ce = 5.5 - 0.1 * s + 0.05 * r;
            if (r == 3 && s == 20) fprintf(f, "%d,nan,nan,nan,0.003,nan,nan,1000\n", s);
            else fprintf(f, "%d,%.4f,%.4f,0.01,0.003,1.5,0.4,1000\n", s, ce + 0.01, ce);
        }
        fclose(f);
        // eval.csv: steps 0 and 20, layers 0 and 1.
        snprintf(p, sizeof p, "%s/eval.csv", rd);
        f = fopen(p, "wb");
        fprintf(f, "step,layer,eval_ce");
        for (int i = 0; i < METRICS_NSCALARS; i++) fprintf(f, ",%s", names[i]);
        fputc('\n', f);
        for (int s = 0; s <= 20; s += 20)
            for (int l = 0; l < 2; l++) {
                fprintf(f, "%d,%d,%.4f", s, l, 5.5 - 0.1 * s);
                for (int i = 0; i < METRICS_NSCALARS; i++) num(f, s == 0 ? 0.3 : meas(r, i, names[i], l));
                fputc('\n', f);
            }
        fclose(f);
        // experts.csv: 3 domains x 4 experts, rows sum to K = 2.
        snprintf(p, sizeof p, "%s/experts.csv", rd);
        f = fopen(p, "wb");
        fprintf(f, "step,layer,domain,expert,frequency\n");
        for (int s = 0; s <= 20; s += 20)
            for (int l = 0; l < 2; l++)
                for (int d = 0; d < 3; d++)
                    for (int e = 0; e < 4; e++) {
                        double v = s == 0 ? 0.5 : (r < 2 ? (e == d || e == d + 1 ? 0.9 : 0.1) : 0.5);
                        fprintf(f, "%d,%d,%d,%d,%.6g\n", s, l, d, e, v);
                    }
        fclose(f);
        // pairs.csv for the ok runs only; pair 7 breaks the bound.
        if (r != 3) {
            snprintf(p, sizeof p, "%s/pairs.csv", rd);
            f = fopen(p, "wb");
            fprintf(f, "layer,i,j,rms_hidden,rms_logits,prop1_lhs,prop1_rhs\n");
            for (int k = 0; k < 60; k++) {
                double h = 0.02 * (k + 1), z = h * (0.2 + 0.01 * (k % 17));
                fprintf(f, "1,%d,%d,%.6g,%.6g,%.6g,%.6g\n", k, k + 1, h, z, z * 2, k == 7 ? z : z * 3);
            }
            fclose(f);
        }
        // manifest.json is not read by the report.
        put(rd, "manifest.json", r == 3 ? "{\"status\": \"diverged\"}\n" : "{\"status\": \"ok\"}\n");
    }
}

// The data-mean and data-sd of the error bar at category cat in the panel titled title.
static int bar_values(const char *svg, const char *title, const char *cat, double *mean, double *sd) {
    char t[200], g[200];
    snprintf(t, sizeof t, ">%s</text>", title);
    const char *p = strstr(svg, t);
    if (!p) return -1;
    snprintf(g, sizeof g, "<g data-x=\"%s\" data-mean=\"", cat);
    p = strstr(p, g);
    if (!p) return -1;
    p += strlen(g);
    *mean = strtod(p, NULL);
    const char *q = strstr(p, "data-sd=\"");
    if (!q) return -1;
    *sd = strtod(q + 9, NULL);
    return 0;
}

// Largest number of display columns of a line of text.
static int widest_line(const char *s) {
    int w = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\n') { w = cur > w ? cur : w; cur = 0; continue; }
        cur += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return cur > w ? cur : w;
}

// ---- tests ---------------------------------------------------------------------------------------------

static void test_csv(void) {
    Csv t;
    char err[300];
    const char *text = "a,b,c\r\n1,\"x, \"\"y\"\"\",nan\r\n\r\n2,failed: out of memory,-3.5e2\n3,,\n";
    CHECK(csv_parse(&t, "mem.csv", text, strlen(text), err, sizeof err) == 0);
    CHECK(t.ncols == 3 && t.nrows == 3);
    CHECK(csv_col(&t, "b") == 1 && csv_col(&t, "zz") == -1);
    CHECK(!strcmp(csv_cell(&t, 0, 1), "x, \"y\""));
    CHECK(isnan(csv_num(&t, 0, 2)));
    CHECK(!strcmp(csv_cell(&t, 1, 1), "failed: out of memory"));
    CHECK(isnan(csv_num(&t, 1, 1)));
    CHECK_NEAR(csv_num(&t, 1, 2), -350, 0, 0);
    CHECK(!strcmp(csv_cell(&t, 2, 1), "") && !strcmp(csv_cell(&t, 2, 2), ""));
    CHECK(isnan(csv_num(&t, 2, 2)));
    CHECK(!strcmp(csv_cell(&t, 9, 0), ""));
    csv_free(&t);
    CHECK(isnan(csv_parse_num("8 0")) && isnan(csv_parse_num("1e")) && csv_parse_num("-nan") != 0);
    const char *ragged = "a,b\n1,2\n3\n";
    CHECK(csv_parse(&t, "r.csv", ragged, strlen(ragged), err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "r.csv:3:") != NULL, "%s", err);
    const char *open_quote = "a\n\"x\n";
    CHECK(csv_parse(&t, "q.csv", open_quote, strlen(open_quote), err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "unterminated") != NULL, "%s", err);
    CHECK(csv_parse(&t, "e.csv", "", 0, err, sizeof err) == -1);
    CHECK(csv_read(&t, "/nonexistent/x.csv", err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "/nonexistent/x.csv") != NULL, "%s", err);
}

static void test_helpers(void) {
    double m, sd;
    double x[4] = {0.8, NAN, 0.9, INFINITY};
    CHECK(report_mean_sd(x, 4, &m, &sd) == 2);
    CHECK_NEAR(m, 0.85, 1e-15, 0);
    CHECK_NEAR(sd, 0.07071067811865475, 1e-15, 0);
    CHECK(report_mean_sd(x, 1, &m, &sd) == 1 && m == 0.8 && isnan(sd));
    CHECK(report_mean_sd(x + 1, 1, &m, &sd) == 0 && isnan(m) && isnan(sd));
    double t[40], step;
    int n = svg_ticks(0, 1, 5, t, 40, &step);
    CHECK(n == 6 && step == 0.2);
    CHECK_NEAR(t[5], 1, 1e-12, 0);
    n = svg_ticks(0, 300, 4, t, 40, &step);
    CHECK(n == 4 && step == 100);
    char b[32];
    svg_tick_label(b, sizeof b, 0.6000000001, 0.2);
    CHECK(!strcmp(b, "0.6"));
    svg_tick_label(b, sizeof b, 250, 50);
    CHECK(!strcmp(b, "250"));
    char c1[8], c2[8];
    CHECK(strcmp(svg_color(0, c1), svg_color(1, c2)) != 0);
    CHECK(strlen(svg_color(25, c1)) == 7 && c1[0] == '#');
    CHECK(!strcmp(svg_viridis(0, c1), "#440154") && !strcmp(svg_viridis(1, c2), "#fde725"));
    // The checker itself must reject what it is there to catch.
    size_t w;
    CHECK(xml_check("<a><b></b></a>", 14, &w) == NULL);
    CHECK(xml_check("<a><![CDATA[ x<y && ]]></a>", 27, &w) == NULL);
    CHECK(xml_check("<a><![CDATA[ x<y </a>", 21, &w) != NULL);
    CHECK(xml_check("<a><b></a></b>", 14, &w) != NULL);
    CHECK(xml_check("<a x=1/>", 8, &w) != NULL);
    CHECK(xml_check("<a>&nbsp;</a>", 13, &w) != NULL);
    CHECK(xml_check("<a>&#160;&amp;</a>", 18, &w) == NULL);
    CHECK(xml_check("<a x=\"1\" x=\"2\"/>", 16, &w) != NULL);
    CHECK(xml_check("<a/><b/>", 8, &w) != NULL);
}

// svg_figure alone: a log axis, a heatmap with a missing cell, text that needs escaping.
static void test_svg(const char *dir) {
    double x[4] = {0, 10, 20, 30}, y[4] = {5000, 300, 12, 3}, sd[4] = {1, 2, NAN, 0.5};
    double M[6] = {0.1, 0.9, NAN, 0.4, 0.0, 1.0};
    SvgSeries S = {.name = "a<b & \"c\"", .color = "#0072b2", .style = SVG_LINE_MARKERS, .n = 4, .x = x, .y = y, .sd = sd};
    SvgPanel P[2] = {{.kind = SVG_PANEL_XY, .title = "loss & co", .xlabel = "step", .ylabel = "nats", .nseries = 1,
                      .series = &S, .log_y = 1},
                     {.kind = SVG_PANEL_HEATMAP, .title = "map", .xlabel = "expert", .ylabel = "domain", .rows = 2,
                      .cols = 3, .values = M, .row_prefix = "d", .col_prefix = "", .vmin = 0, .vmax = 1}};
    const char *names[1] = {"a<b & \"c\""}, *colors[1] = {"#0072b2"};
    SvgFigure fig = {.title = "T <1>", .npanels = 2, .panels = P, .cols = 2, .panel_w = 200, .panel_h = 150,
                     .nlegend = 1, .legend_names = names, .legend_colors = colors, .colorbar_label = "freq",
                     .vmin = 0, .vmax = 1};
    char p[1024];
    snprintf(p, sizeof p, "%s/fig.svg", dir);
    FILE *f = fopen(p, "wb");
    CHECK(svg_figure(f, &fig) == 0);
    fclose(f);
    CHECK(well_formed(p));
    char *s = slurp(p, NULL);
    if (!s) return;
    CHECK(strstr(s, ">10</text>") && strstr(s, ">100</text>") && strstr(s, ">1000</text>"));  // decades
    CHECK(strstr(s, "T &lt;1&gt;") && strstr(s, "a&lt;b &amp; &quot;c&quot;"));
    CHECK(strstr(s, "fill=\"#dddddd\"><title>d0, 2: nan</title>") != NULL);   // the missing cell
    CHECK(strstr(s, "fill=\"#fde725\"><title>d1, 2: 1</title>") != NULL);    // the top of the scale
    CHECK(strstr(s, "data-mean=\"300\" data-sd=\"2\"") != NULL);
    free(s);
}

static void test_report(const char *dir) {
    char err[1024], p[1200];
    make_results(dir);
    int rc = report_build(dir, err, sizeof err);
    CHECK_MSG(rc == 0, "report_build: %s", err);
    if (rc != 0) return;

    const char *plots[] = {"loss", "by_scope", "training", "heatmaps", "prop1", "layers"};
    size_t hlen;
    snprintf(p, sizeof p, "%s/report.html", dir);
    char *html = slurp(p, &hlen);
    CHECK(html != NULL);
    if (!html) return;
    CHECK(well_formed(p));
    for (size_t i = 0; i < sizeof plots / sizeof plots[0]; i++) {
        snprintf(p, sizeof p, "%s/plots/%s.svg", dir, plots[i]);
        size_t n;
        char *svg = slurp(p, &n);
        CHECK_MSG(svg != NULL, "%s missing", p);
        if (!svg) continue;
        CHECK_MSG(well_formed(p), "%s", p);
        CHECK_MSG(strstr(html, svg) != NULL, "%s is not inlined in report.html", p);
        CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
        CHECK(strstr(svg, "<title>") != NULL);
        free(svg);
    }
    // The question (escaped), the expectation, every run, the diverged one marked.
    CHECK(strstr(html, "Does micro-batch balancing collapse specialization (A &lt; B &amp; C &gt; D)?") != NULL);
    CHECK(strstr(html, QUESTION) == NULL);  // never raw
    CHECK(strstr(html, "micro: higher cross-domain FreqSim than global") != NULL);
    CHECK(strstr(html, "<h1>toy-collapse</h1>") != NULL);
    for (int r = 0; r < 4; r++) CHECK_MSG(strstr(html, RUNS[r]) != NULL, "%s", RUNS[r]);
    CHECK(strstr(html, "<tr class=\"bad\"><td class=\"id\"><span class=\"sw\"") != NULL);
    CHECK(strstr(html, "class=\"bad-status\">diverged<") != NULL);
    CHECK(strstr(html, "<figcaption>") != NULL);
    // Settings: the changed keys with their defaults; the swept one with its values.
    CHECK(strstr(html, "<code>model.experts</code></td><td><code>4</code></td><td><code>8</code>") != NULL);
    CHECK(strstr(html, "swept: micro, global") != NULL);
    // The variant table: micro's freqsim 0.85 ± 0.071; global 0.5 from its single ok seed.
    CHECK(strstr(html, "0.85 \xc2\xb1 0.071") != NULL);

    // Error bars in by_scope.svg: freqsim micro = mean ± sd of 0.8, 0.9; maxvio micro has one seed.
    snprintf(p, sizeof p, "%s/plots/by_scope.svg", dir);
    char *svg = slurp(p, NULL);
    if (svg) {
        double m = NAN, sd = NAN;
        CHECK(bar_values(svg, "freqsim_cross_domain", "micro", &m, &sd) == 0);
        CHECK_NEAR(m, 0.85, 1e-8, 0);
        CHECK_NEAR(sd, 0.0707106781, 1e-8, 0);
        CHECK(bar_values(svg, "freqsim_cross_domain", "global", &m, &sd) == 0);
        CHECK_NEAR(m, 0.5, 1e-8, 0);
        CHECK(isnan(sd));  // one ok seed: no spread
        // suppression_rho is nan in every run: no panel; the caption says so.
        CHECK(strstr(svg, ">suppression_rho</text>") == NULL);
        free(svg);
    }
    CHECK(strstr(html, "Not shown (nan in every run): suppression_rho") != NULL);
    // Heatmaps: one panel per variant, each with 3 x 4 cells; a colour scale.
    snprintf(p, sizeof p, "%s/plots/heatmaps.svg", dir);
    svg = slurp(p, NULL);
    if (svg) {
        CHECK(strstr(svg, ">scope=micro</text>") && strstr(svg, ">scope=global</text>"));
        CHECK(strstr(svg, "<title>d2, 3: 0.9</title>") != NULL);
        CHECK(strstr(svg, ">frequency</text>") != NULL);
        free(svg);
    }
    // Prop. 1: 60 pairs of the first ok run, one violating the bound.
    CHECK(strstr(html, "bound violated (1 pair)") != NULL && strstr(html, "bound holds (59 pairs)") != NULL);

    // The same input gives the same bytes.
    CHECK(report_build(dir, err, sizeof err) == 0);
    snprintf(p, sizeof p, "%s/report.html", dir);
    size_t hlen2;
    char *html2 = slurp(p, &hlen2);
    CHECK(html2 && hlen2 == hlen && memcmp(html, html2, hlen) == 0);
    free(html2);
    free(html);
    // No temporary files left behind.
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "ls '%s' '%s/plots' | grep -q '\\.tmp\\.'", dir, dir);
    CHECK(system(cmd) != 0);

    // The terminal: each variant, its value, the ranking line; at most 80 columns.
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    rc = report_print_terminal(f, dir, "freqsim_cross_domain", err, sizeof err);
    fclose(f);
    CHECK_MSG(rc == 0, "%s", err);
    if (out) {
        if (getenv("MOESIM_SHOW")) fputs(out, stdout);
        CHECK(strstr(out, "scope=micro ") != NULL && strstr(out, "scope=global\n") != NULL);
        CHECK(strstr(out, "0.85 \xc2\xb1 0.071 (2 seeds)") != NULL);
        CHECK(strstr(out, "0.5 (1 seed)") != NULL);
        CHECK(strstr(out, "highest first: scope=micro 0.85\xc2\xb1" "0.071 > scope=global 0.5") != NULL);
        CHECK(strstr(out, "d2   ") != NULL && strstr(out, "@@@") != NULL);
        CHECK_MSG(widest_line(out) <= 80, "widest line %d", widest_line(out));
    }
    free(out);
    f = fopen("/dev/null", "w");
    CHECK(report_print_terminal(f, dir, "no_such_metric", err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "no_such_metric") != NULL, "%s", err);
    fclose(f);
}

static void test_errors(const char *dir) {
    char err[1024], p[1200], cmd[8192];
    // A copy of the good folder to break in turn.
    snprintf(p, sizeof p, "%s/broken", dir);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && cp -R '%s'/scope=* '%s'/summary.csv '%s'/experiment.toml '%s'", p, dir, dir, dir, p);
    CHECK(system(cmd) == 0);
    // An ok run without its metrics.csv.
    snprintf(cmd, sizeof cmd, "%s/scope=micro-seed=2/metrics.csv", p);
    CHECK(remove(cmd) == 0);
    CHECK(report_build(p, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "scope=micro-seed=2/metrics.csv") != NULL, "%s", err);
    // A diverged run may lack files.
    put(p, "scope=micro-seed=2/metrics.csv", "step,loss,ce\n0,5,5\n");
    snprintf(cmd, sizeof cmd, "%s/scope=global-seed=2/eval.csv", p);
    CHECK(remove(cmd) == 0);
    CHECK_MSG(report_build(p, err, sizeof err) == 0, "%s", err);
    // A ragged summary: the line is named.
    snprintf(cmd, sizeof cmd, "%s/summary.csv", p);
    char *s = slurp(cmd, NULL);
    put(p, "summary.csv.good", s ? s : "");
    put(p, "summary.csv", "run,status\nrun,ok,extra\n");
    CHECK(report_build(p, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "summary.csv:2:") != NULL, "%s", err);
    // No summary.csv at all.
    CHECK(remove(cmd) == 0);
    CHECK(report_build(p, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "summary.csv") != NULL && strstr(err, "cannot open") != NULL, "%s", err);
    CHECK(report_print_terminal(stdout, p, "freqsim_cross_domain", err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "summary.csv") != NULL, "%s", err);
    put(p, "summary.csv", s ? s : "");
    free(s);
    // No experiment.toml.
    snprintf(cmd, sizeof cmd, "%s/experiment.toml", p);
    CHECK(remove(cmd) == 0);
    CHECK(report_build(p, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "experiment.toml") != NULL, "%s", err);
    // A folder that does not exist.
    CHECK(report_build("/nonexistent/results/x", err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "/nonexistent/results/x/") != NULL, "%s", err);
}

// A folder without a sweep: one run called "run", one layer: measurements.svg, no layers.svg.
static void test_single(const char *dir) {
    char p[1200], err[1024];
    snprintf(p, sizeof p, "%s/single", dir);
    CHECK(mkdir(p, 0777) == 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp '%s/experiment.toml' '%s/' && cp -R '%s/scope=micro-seed=1' '%s/run'", dir, p, dir, p);
    CHECK(system(cmd) == 0);
    put(p, "summary.csv",
        "run,status,steps_done,loss,ce,eval_ce,tokens_per_s,wall_s,freqsim_cross_domain,l0.freqsim_cross_domain\n"
        "run,ok,20,3.1,3.0,2.9,1000,1.5,0.7,0.7\n");
    CHECK_MSG(report_build(p, err, sizeof err) == 0, "%s", err);
    snprintf(cmd, sizeof cmd, "%s/plots/measurements.svg", p);
    CHECK(file_exists(cmd) && well_formed(cmd));
    snprintf(cmd, sizeof cmd, "%s/plots/layers.svg", p);
    CHECK(!file_exists(cmd));
    snprintf(cmd, sizeof cmd, "%s/report.html", p);
    CHECK(well_formed(cmd));
    FILE *f = fopen("/dev/null", "w");
    CHECK(report_print_terminal(f, p, "freqsim_cross_domain", err, sizeof err) == 0);
    fclose(f);
    // Every run failed and left no files: still a report, with the failure shown.
    snprintf(cmd, sizeof cmd, "rm -rf '%s/run'", p);
    CHECK(system(cmd) == 0);
    put(p, "summary.csv",
        "run,status,steps_done,loss,ce,eval_ce,tokens_per_s,wall_s,freqsim_cross_domain\n"
        "run,\"failed: cannot allocate, 3 GB\",0,nan,nan,nan,nan,nan,nan\n");
    CHECK_MSG(report_build(p, err, sizeof err) == 0, "%s", err);
    snprintf(cmd, sizeof cmd, "%s/report.html", p);
    CHECK(well_formed(cmd));
    char *html = slurp(cmd, NULL);
    CHECK(html && strstr(html, "class=\"bad-status\">failed: cannot allocate, 3 GB<") != NULL);
    free(html);
    // The plots of the earlier build are gone with their data.
    snprintf(cmd, sizeof cmd, "%s/plots/measurements.svg", p);
    CHECK(!file_exists(cmd));
    snprintf(cmd, sizeof cmd, "%s/plots/loss.svg", p);
    CHECK(!file_exists(cmd));
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/moesim_report_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_csv();
    test_helpers();
    test_svg(dir);
    test_report(dir);
    test_errors(dir);
    test_single(dir);
    if (getenv("MOESIM_KEEP_TMP")) printf("kept %s\n", dir);
    else {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return test_summary("test_report");
}
