// live.c — the live view's reading and drawing (live.h).
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "live.h"
#include "csv.h"
#include "../io.h"
#include "../config/config.h"

static const char SHADES[] = " .:-=+*#%@";
static const char *const SPARK[8] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                                     "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};

int live_cols(const char *s, size_t n) {
    int c = 0;
    for (size_t i = 0; i < n && s[i]; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

// ---- reading ------------------------------------------------------------------------------------

// The newest of dir/name and dir/name.tmp.<pid> (a run's file while it grows) into path; 0, or -1
// when there is none. sig (may be NULL) gets its size and modification time mixed in.
static int newest_file_sig(const char *dir, const char *name, char *path, size_t cap, unsigned long long *sig);
static int newest_file(const char *dir, const char *name, char *path, size_t cap) {
    return newest_file_sig(dir, name, path, cap, NULL);
}

static int newest_file_sig(const char *dir, const char *name, char *path, size_t cap, unsigned long long *sig) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t nl = strlen(name);
    double best = -1;
    struct dirent *de;
    char p[IO_DEEP_PATH_MAX];
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, name, nl) != 0 || (de->d_name[nl] != '\0' && strncmp(de->d_name + nl, ".tmp.", 5) != 0))
            continue;
        struct stat st;
        if (!path_join(p, sizeof p, dir, de->d_name) || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        double t = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
        if (t > best) {
            best = t;
            snprintf(path, cap, "%s", p);
            if (sig) *sig = *sig * 1000003ULL ^ (unsigned long long)st.st_size ^ (unsigned long long)st.st_mtim.tv_nsec ^
                            (unsigned long long)st.st_mtim.tv_sec << 20 ^ (unsigned long long)st.st_ino << 40;
        }
    }
    closedir(d);
    return best >= 0 ? 0 : -1;
}

// The complete lines of a growing CSV (a line still being written is left out). 0, or -1.
static int read_growing(Csv *t, const char *dir, const char *name) {
    char path[IO_DEEP_PATH_MAX], err[IO_MSG_MAX];
    memset(t, 0, sizeof *t);
    if (newest_file(dir, name, path, sizeof path) != 0) return -1;
    char *text = read_text_file(path);
    if (!text) return -1;
    char *end = strrchr(text, '\n');
    size_t len = end ? (size_t)(end - text) + 1 : 0;
    int rc = len ? csv_parse(t, path, text, len, err, sizeof err) : -1;
    free(text);
    return rc;
}

static void read_metrics(LiveRun *r, const char *dir) {
    Csv t;
    r->log_step = -1;
    r->loss = NAN;
    if (read_growing(&t, dir, "metrics.csv") != 0) return;
    int cs = csv_col(&t, "step"), cl = csv_col(&t, "loss");
    if (t.nrows > 0 && cs >= 0) {
        r->log_step = (int)csv_num(&t, t.nrows - 1, cs);
        r->loss = csv_num(&t, t.nrows - 1, cl);
    }
    csv_free(&t);
}

static void read_eval(LiveRun *r, const char *dir) {
    Csv t;
    r->nhist = 0;
    if (read_growing(&t, dir, "eval.csv") != 0) return;
    int cs = csv_col(&t, "step"), cl = csv_col(&t, "layer"), cf = csv_col(&t, "freqsim_cross_domain");
    int last = -1;
    for (size_t i = 0; i < t.nrows; i++) last = fmax(last, csv_num(&t, i, cl));
    // one value per evaluation: its row of the last layer (an evaluation without one is not whole)
    int skip = 0;
    for (size_t i = 0; i < t.nrows; i++)
        if ((int)csv_num(&t, i, cl) == last) skip++;
    skip = skip > LIVE_MAX_EVALS ? skip - LIVE_MAX_EVALS : 0;
    for (size_t i = 0; i < t.nrows && cs >= 0; i++) {
        if ((int)csv_num(&t, i, cl) != last) continue;
        if (skip > 0) { skip--; continue; }
        r->hist[r->nhist++] = cf >= 0 ? csv_num(&t, i, cf) : NAN;
    }
    csv_free(&t);
}

// The last whole evaluation of experts.csv: the last layer's domain x expert grid of the newest
// step whose grid has every cell of the largest grid seen (an evaluation being written is not).
static void read_experts(LiveRun *r, const char *dir) {
    Csv t;
    r->step = -1;
    r->D = r->E = 0;
    if (read_growing(&t, dir, "experts.csv") != 0) return;
    int cs = csv_col(&t, "step"), cl = csv_col(&t, "layer"), cd = csv_col(&t, "domain"), ce = csv_col(&t, "expert"),
        cv = csv_col(&t, "frequency");
    if (cs < 0 || cl < 0 || cd < 0 || ce < 0 || cv < 0) { csv_free(&t); return; }
    int L = -1, D = 0, E = 0;
    for (size_t i = 0; i < t.nrows; i++) {
        int l = (int)csv_num(&t, i, cl), d = (int)csv_num(&t, i, cd), e = (int)csv_num(&t, i, ce);
        if (l > L) L = l;
        if (d + 1 > D) D = d + 1;
        if (e + 1 > E) E = e + 1;
    }
    if (L < 0 || D <= 0 || E <= 0 || D > 4096 || E > 4096) { csv_free(&t); return; }
    double *heat = malloc(sizeof *heat * (size_t)D * E);
    if (!heat) { csv_free(&t); return; }
    // walk back over the steps, newest first, to the first whole grid
    size_t end = t.nrows;
    while (end > 0) {
        int s = (int)csv_num(&t, end - 1, cs);
        size_t begin = end;
        while (begin > 0 && (int)csv_num(&t, begin - 1, cs) == s) begin--;
        int cells = 0;
        for (size_t i = 0; i < (size_t)D * E; i++) heat[i] = NAN;
        for (size_t i = begin; i < end; i++) {
            if ((int)csv_num(&t, i, cl) != L) continue;
            int d = (int)csv_num(&t, i, cd), e = (int)csv_num(&t, i, ce);
            if (d < 0 || e < 0 || d >= D || e >= E) continue;
            heat[(size_t)d * E + e] = csv_num(&t, i, cv);
            cells++;
        }
        if (cells == D * E) {
            free(r->heat);
            r->heat = heat;
            r->D = D; r->E = E; r->layer = L; r->step = s;
            csv_free(&t);
            return;
        }
        end = begin;
    }
    free(heat);
    csv_free(&t);
}

static void read_status(LiveRun *r, const char *dir) {
    char p[IO_DEEP_PATH_MAX], s[256];
    char *json = path_join(p, sizeof p, dir, "manifest.json") ? read_text_file(p) : NULL;
    if (json && json_field(json, "status", s, sizeof s)) {
        char *colon = strchr(s, ':');  // "failed: reason" -> "failed"
        if (colon) *colon = '\0';
        snprintf(r->status, sizeof r->status, "%.31s", s);
    } else snprintf(r->status, sizeof r->status, "%s", r->step >= 0 || r->log_step >= 0 ? "running" : "waiting");
    free(json);
}

static int is_run_dir(const char *dir) {
    char p[IO_DEEP_PATH_MAX];
    return newest_file(dir, "eval.csv", p, sizeof p) == 0 || newest_file(dir, "experts.csv", p, sizeof p) == 0 ||
           newest_file(dir, "metrics.csv", p, sizeof p) == 0 || file_exists(path_join(p, sizeof p, dir, "manifest.json"));
}

// Runs in the experiment's point order (its [sweep] grid, as `moesim run` runs them and the tables
// list them): dir/experiment.toml (the resolved base) with the grid experiment.json records
// ("key = [a, b]; key2 = [...]"); folders it does not name after them, by name.
typedef struct {
    long point;
    char *name;
} Named;

static int by_point(const void *a, const void *b) {
    const Named *x = a, *y = b;
    if (x->point != y->point) return x->point < y->point ? -1 : 1;
    return strcmp(x->name, y->name);
}

// 1 if the TOML line `line` of section `sec` sets one of the grid's keys ("sec.name = ...").
static int swept_line(const char *sec, const char *line, const char *grid) {
    size_t sl = strlen(sec);
    for (const char *g = grid; *g;) {
        const char *eq = strstr(g, " = ");
        if (!eq) break;
        size_t kl = (size_t)(eq - g);
        if (kl > sl + 1 && !strncmp(g, sec, sl) && g[sl] == '.') {
            size_t nl = kl - sl - 1;
            if (!strncmp(line, g + sl + 1, nl) && (line[nl] == ' ' || line[nl] == '=')) return 1;
        }
        const char *next = strstr(eq, "; ");
        if (!next) break;
        g = next + 2;
    }
    return 0;
}

static void point_order(const char *dir, Named *runs, int n) {
    char p[IO_CHILD_PATH_MAX], id[LIVE_NAME_MAX * 2], grid[8192], sec[64] = "";
    for (int i = 0; i < n; i++) runs[i].point = 1L << 40;
    char *base = path_join(p, sizeof p, dir, "experiment.toml") ? read_text_file(p) : NULL;
    char *json = path_join(p, sizeof p, dir, "experiment.json") ? read_text_file(p) : NULL;
    size_t len = base ? strlen(base) : 0;
    char *text = base && json && json_field(json, "sweep", grid, sizeof grid) && grid[0] ? malloc(len + 2 * sizeof grid + 16) : NULL;
    Experiment *ex = text ? malloc(sizeof *ex) : NULL;
    CfgErrors *e = ex ? calloc(1, sizeof *e) : NULL;
    if (e) {
        // the base without the swept keys' lines (a key is set or swept), then the grid as a
        // [sweep] table: one axis a line, its dotted key quoted
        size_t o = 0;
        for (char *line = base, *end; *line; line = end) {
            end = strchr(line, '\n');
            end = end ? end + 1 : line + strlen(line);
            if (line[0] == '[') sscanf(line, "[%63[^]]", sec);
            else if (sec[0] && swept_line(sec, line, grid)) continue;
            memcpy(text + o, line, (size_t)(end - line));
            o += (size_t)(end - line);
        }
        o += (size_t)snprintf(text + o, 16, "\n[sweep]\n\"");
        for (const char *g = grid; *g; g++) {
            if (*g == ' ' && g[1] == '=' && g[2] == ' ') { text[o++] = '"'; text[o++] = ' '; continue; }
            if (*g == ';' && g[1] == ' ') { text[o++] = '\n'; text[o++] = '"'; g++; continue; }
            text[o++] = *g;
        }
        text[o++] = '\n';
        if (experiment_load_buffer(ex, "experiment.toml", text, o, NULL, 0, e) == 0)
            for (long k = 0; k < ex->npoints; k++) {
                experiment_run_id(ex, k, id, sizeof id);
                for (int i = 0; i < n; i++)
                    if (strcmp(runs[i].name, id) == 0) runs[i].point = k;
            }
    }
    free(base); free(json); free(text); free(ex); free(e);
    qsort(runs, (size_t)n, sizeof *runs, by_point);
}

int live_scan(LiveView *v, const char *dir, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) return io_fail(err, errlen, "%s: %s", dir, strerror(errno));
    static Named found[1024];
    char *names[1024];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 1024) {
        char p[IO_CHILD_PATH_MAX];
        struct stat st;
        if (de->d_name[0] == '.' || strcmp(de->d_name, "plots") == 0) continue;
        if (!path_join(p, sizeof p, dir, de->d_name) || stat(p, &st) != 0 || !S_ISDIR(st.st_mode) || !is_run_dir(p))
            continue;
        names[n] = strdup(de->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    for (int i = 0; i < n; i++) found[i].name = names[i];
    point_order(dir, found, n);
    for (int i = 0; i < n; i++) names[i] = found[i].name;
    v->more = n > LIVE_MAX_RUNS ? n - LIVE_MAX_RUNS : 0;
    int keep = n - v->more;
    for (int i = keep; i < v->nruns; i++) { free(v->runs[i].heat); v->runs[i].heat = NULL; }
    v->nruns = keep;
    for (int i = 0; i < n; i++) {
        if (i < keep) {
            LiveRun *r = &v->runs[i];
            char p[IO_CHILD_PATH_MAX];
            if (strcmp(r->name, names[i]) != 0) { free(r->heat); r->heat = NULL; r->sig = 0; }
            snprintf(r->name, sizeof r->name, "%s", names[i]);
            path_join(p, sizeof p, dir, names[i]);
            // a run whose files have not changed since the last scan is not read again (a view
            // redrawn every fraction of a second must not compete with the runs for the disk)
            unsigned long long sig = 1;
            char f[IO_DEEP_PATH_MAX];
            static const char *const files[] = {"metrics.csv", "eval.csv", "experts.csv", "manifest.json"};
            for (int k = 0; k < 4; k++)
                if (newest_file_sig(p, files[k], f, sizeof f, &sig) != 0) sig = sig * 31 + (unsigned long long)k;
            if (sig == r->sig && r->sig != 0) { free(names[i]); continue; }
            r->sig = sig;
            read_metrics(r, p);
            read_eval(r, p);
            read_experts(r, p);
            read_status(r, p);
        }
        free(names[i]);
    }
    return 0;
}

void live_free(LiveView *v) {
    for (int i = 0; i < v->nruns; i++) { free(v->runs[i].heat); v->runs[i].heat = NULL; }
    v->nruns = 0;
}

int live_is_results_dir(const char *dir) {
    static const char *const marks[] = {"experiment.toml", "experiment.json", "summary.csv", "moesim.lock"};
    char p[IO_CHILD_PATH_MAX];
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (file_exists(path_join(p, sizeof p, dir, marks[i]))) return 1;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int yes = 0;
    struct dirent *de;
    while (!yes && (de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.') continue;
        if (strncmp(de->d_name, "moesim.shard-", 13) == 0) yes = 1;
        else if (path_join(p, sizeof p, dir, de->d_name) && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) yes = is_run_dir(p);
    }
    closedir(d);
    return yes;
}

// ---- drawing ------------------------------------------------------------------------------------

int live_sparkline(const double *x, int n, int width, char *out, size_t cap) {
    int from = n > width ? n - width : 0, cells = 0;
    size_t o = 0;
    out[0] = '\0';
    for (int i = from; i < n; i++) {
        const char *c = "\xc2\xb7";  // NaN
        if (!isnan(x[i])) {
            int lv = (int)floor(x[i] * 8);
            c = SPARK[lv < 0 ? 0 : lv > 7 ? 7 : lv];
        }
        size_t len = strlen(c);
        if (o + len + 1 > cap) break;
        memcpy(out + o, c, len + 1);
        o += len;
        cells++;
    }
    return cells;
}

// One text line of a block, at most LW bytes.
enum { LW = 1024 };

typedef struct {
    char (*line)[LW];
    int n, cap, W;
} Lines;

// Appends a line cut to W display columns.
static void add(Lines *b, const char *fmt, ...) {
    if (b->n >= b->cap) return;
    char tmp[LW];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    size_t i = 0;
    int cols = 0;
    while (tmp[i]) {
        size_t j = i + 1;
        while (tmp[j] && ((unsigned char)tmp[j] & 0xc0) == 0x80) j++;
        if (cols + 1 > b->W) break;
        cols++;
        i = j;
    }
    tmp[i] = '\0';
    memcpy(b->line[b->n++], tmp, i + 1);
}

static void num(char *buf, size_t cap, double x, const char *fmt) {
    if (isnan(x)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, fmt, x);
}

// A run's block: its name, "step S loss L", "FreqSim F sparkline", the expert numbers, one row per
// domain with cw characters a cell (shade of the frequency against vmax), into b (b->W wide).
static void draw_run(Lines *b, const LiveRun *r, int cw, int rows, double vmax) {
    char loss[32], fs[32], spark[LW];
    add(b, "%s%s%s", r->name, strcmp(r->status, "running") == 0 ? "" : "  ", strcmp(r->status, "running") == 0 ? "" : r->status);
    num(loss, sizeof loss, r->loss, "%.4f");
    if (r->step >= 0) add(b, "step %-6d loss %s", r->log_step > r->step ? r->log_step : r->step, loss);
    else add(b, "step -      loss %s", loss);
    num(fs, sizeof fs, r->nhist ? r->hist[r->nhist - 1] : NAN, "%.3f");
    int room = b->W - 9 - (int)strlen(fs);
    live_sparkline(r->hist, r->nhist, room > 0 ? room : 0, spark, sizeof spark);
    add(b, "FreqSim %s %s", fs, spark);
    if (!r->heat) { add(b, "(no evaluation yet)"); return; }
    char hdr[LW];
    memset(hdr, ' ', sizeof hdr);
    int next = 0, end = 4;
    for (int x = 0; x < r->E; x++) {
        char n[12];
        int len = snprintf(n, sizeof n, "%d", x), pos = 4 + x * cw + cw - len;
        if (pos < 4 + x * cw) pos = 4 + x * cw;
        if (pos < next || pos + len > b->W || pos + len >= LW) continue;
        memcpy(hdr + pos, n, (size_t)len);
        next = pos + len + 1;
        end = pos + len;
    }
    memcpy(hdr, "L", 1);
    snprintf(hdr + 1, 3, "%-2d", r->layer);
    hdr[3] = ' ';
    hdr[end] = '\0';
    add(b, "%s", hdr);
    int shown = r->D <= rows ? r->D : rows - 1;
    for (int d = 0; d < shown; d++) {
        char row[LW];
        int o = snprintf(row, sizeof row, "d%-2d ", d);
        for (int x = 0; x < r->E && o + cw < LW - 1; x++) {
            double q = r->heat[(size_t)d * r->E + x];
            int s = !(q > 0) ? 0 : 1 + (int)floor(q / vmax * 8.999);
            if (s > 9) s = 9;
            for (int c = 0; c < cw; c++) row[o++] = isfinite(q) ? SHADES[s] : '?';
        }
        row[o] = '\0';
        add(b, "%s", row);
    }
    if (shown < r->D) add(b, "... %d more domains", r->D - shown);
}

int live_render(const LiveView *v, const char *title, int W, int H, char *buf, size_t cap) {
    if (W < 20) W = 20;
    if (H < 6) H = 6;
    Lines out = {.line = malloc(sizeof(char[LW]) * (size_t)H), .cap = H, .W = W};
    if (!out.line) { if (cap) buf[0] = '\0'; return 0; }
    add(&out, "%s", title);
    double vmax = 0;
    int E = 1, D = 1;
    for (int i = 0; i < v->nruns; i++) {
        const LiveRun *r = &v->runs[i];
        for (size_t k = 0; r->heat && k < (size_t)r->D * r->E; k++)
            if (isfinite(r->heat[k])) vmax = fmax(vmax, r->heat[k]);
        if (r->E > E) E = r->E;
        if (r->D > D) D = r->D;
    }
    if (vmax <= 0) vmax = 1;
    add(&out, "shade \" .:-=+*#%%@\": share of a domain's tokens picking the expert, 0 to %.2f", vmax);
    if (v->nruns == 0) add(&out, "(no run has written anything yet)");
    // the widest cells (1..4 characters) with which the blocks fit side by side, as many
    // blocks a row as fit at 1 character a cell, rows of blocks as the height allows
    int gap = 3, minw = 24;
    int bw1 = 4 + E > minw ? 4 + E : minw;
    int per = (W + gap) / (bw1 + gap);
    if (per < 1) per = 1;
    if (per > v->nruns) per = v->nruns > 0 ? v->nruns : 1;
    int cw = 1;
    while (cw < 4 && per * (4 + (cw + 1) * E) + (per - 1) * gap <= W) cw++;
    int bw = 4 + cw * E > minw ? 4 + cw * E : minw;
    if (bw > W) bw = W;
    int head = 4;                             // name, step, FreqSim, expert numbers
    int avail = H - out.n - (v->more ? 1 : 0);
    int rows = D;                             // domain rows a block shows
    int brows = (v->nruns + per - 1) / per;   // rows of blocks
    if (brows < 1) brows = 1;
    // fewer domain rows, then fewer rows of blocks, until it fits
    while (brows * (head + rows + 1) > avail + 1 && rows > 2) rows--;
    while (brows > 1 && brows * (head + rows + 1) > avail + 1) brows--;
    int shown = brows * per < v->nruns ? brows * per : v->nruns;
    Lines blk = {.line = malloc(sizeof(char[LW]) * (size_t)(head + rows + 2)), .cap = head + rows + 2, .W = bw};
    if (!blk.line) { free(out.line); if (cap) buf[0] = '\0'; return 0; }
    for (int r0 = 0; r0 < shown; r0 += per) {
        if (r0 > 0) add(&out, "%s", "");
        int nb = shown - r0 < per ? shown - r0 : per;
        char (*text)[LW] = malloc(sizeof(char[LW]) * (size_t)blk.cap * (size_t)nb);
        int *nl = calloc((size_t)nb, sizeof *nl), maxl = 0;
        if (!text || !nl) { free(text); free(nl); break; }
        for (int j = 0; j < nb; j++) {
            blk.n = 0;
            draw_run(&blk, &v->runs[r0 + j], cw, rows, vmax);
            memcpy(text + (size_t)j * blk.cap, blk.line, sizeof(char[LW]) * (size_t)blk.n);
            nl[j] = blk.n;
            if (blk.n > maxl) maxl = blk.n;
        }
        for (int l = 0; l < maxl; l++) {
            char line[LW * 2] = "";
            size_t o = 0;
            for (int j = 0; j < nb; j++) {
                const char *s = l < nl[j] ? text[(size_t)j * blk.cap + l] : "";
                int pad = j + 1 < nb ? bw + gap - live_cols(s, strlen(s)) : 0;
                o += (size_t)snprintf(line + o, sizeof line - o, "%s%*s", s, pad > 0 ? pad : 0, "");
                if (o >= sizeof line) { o = sizeof line - 1; break; }
            }
            while (o > 0 && line[o - 1] == ' ') line[--o] = '\0';
            add(&out, "%s", line);
        }
        free(text);
        free(nl);
    }
    if (shown < v->nruns || v->more) add(&out, "... %d more runs not shown (a larger terminal shows them)", v->nruns - shown + v->more);
    free(blk.line);
    size_t o = 0;
    if (cap) buf[0] = '\0';
    for (int i = 0; i < out.n; i++) {
        int k = snprintf(buf + o, cap > o ? cap - o : 0, "%s\n", out.line[i]);
        if (k < 0 || o + (size_t)k >= cap) break;
        o += (size_t)k;
    }
    int n = out.n;
    free(out.line);
    return n;
}
