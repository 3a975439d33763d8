// text_world.c — the report's part of the text world (data.world = "text"): the domains' names
// for the heatmaps' rows, and the corpus table, each domain's record and its byte unigram and
// bigram baselines beside the model's eval_ce, read from the first finished run's manifest.json
// (sim/evaluate/writers.c, json_text_world, writes them).
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

int text_world_names(const Config *c, char names[][64], int max) {
    if (c->data_world != WORLD_TEXT) return 0;
    int n = 0;
    for (int i = 0; i < c->data_corpus.n && n < max; i++) {
        const char *s = c->data_corpus.s[i], *eq = strchr(s, '=');
        size_t len = eq ? (size_t)(eq - s) : strlen(s);
        if (len >= 64) len = 63;
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = strlen(names[j]) == len && !strncmp(names[j], s, len);
        if (seen) continue;
        memcpy(names[n], s, len);
        names[n++][len] = '\0';
    }
    return n;
}

// The value of "key": in [from, to) of the manifest's text (as json_text_world writes it): a
// string's characters or a number's text, into out. Returns out, or NULL.
static const char *field_in(const char *from, const char *to, const char *key, char *out, size_t cap) {
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    size_t pl = strlen(pat);
    for (const char *p = from; p + pl <= to; p++) {
        if (strncmp(p, pat, pl) != 0) continue;
        p += pl;
        size_t n = 0;
        if (*p == '"') {
            for (p++; p < to && *p != '"' && n + 1 < cap; p++) {
                if (*p == '\\' && p + 1 < to) p++;
                out[n++] = *p;
            }
        } else {
            while (p < to && *p != ',' && *p != '\n' && *p != '}' && *p != ']' && n + 1 < cap) out[n++] = *p++;
        }
        out[n] = '\0';
        return out;
    }
    return NULL;
}

// The end of the JSON value (object or array) that opens at p, or NULL.
static const char *value_end(const char *p) {
    int depth = 0, in_str = 0;
    for (; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_str = 0;
            continue;
        }
        if (*p == '"') in_str = 1;
        else if (*p == '{' || *p == '[') depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
    }
    return NULL;
}

static void cell(FILE *f, const char *s) {
    fputs("<td>", f);
    svg_escape(f, s);
    fputs("</td>", f);
}

void write_text_world(FILE *f, const Report *R) {
    if (!R->ex || R->ex->base.data_world != WORLD_TEXT) return;
    int r = 0;
    while (r < R->nruns && !R->runs[r].ok) r++;
    fputs("<h2 id=\"corpus\">Corpus</h2>\n", f);
    char p[IO_DEEP_PATH_MAX], rd[IO_CHILD_PATH_MAX];
    char *json = r < R->nruns && path_join(rd, sizeof rd, R->dir, R->runs[r].id) ?
                 read_text_file(path_join(p, sizeof p, rd, "manifest.json")) : NULL;
    if (!json) {
        fputs("<p class=\"meta\">No finished run: the corpus record and its baselines are in a finished run's "
              "<code>manifest.json</code>.</p>\n", f);
        return;
    }
    const char *c0 = strstr(json, "\"corpus\": ["), *c1 = c0 ? value_end(c0 + 10) : NULL;
    const char *b0 = strstr(json, "\"baselines\": {"), *b1 = b0 ? value_end(b0 + 13) : NULL;
    char ce[64] = "", uni[64] = "", bi[64] = "";
    json_field(json, "eval_ce", ce, sizeof ce);
    if (b0 && b1) {
        const char *d = strstr(b0, "\"domains\"");
        field_in(b0, d && d < b1 ? d : b1, "unigram_ce", uni, sizeof uni);
        field_in(b0, d && d < b1 ? d : b1, "bigram_ce", bi, sizeof bi);
    }
    fputs("<p>The text world: each domain is the text of its files (<code>data.corpus</code>), split by "
          "document into training and evaluation text by a hash of each document. Byte tokens. The baselines "
          "are the cross-entropies (nats per byte) of a byte unigram and a byte bigram model fit on all "
          "training text with add-one smoothing, on the same evaluation predictions as the model's "
          "<code>eval_ce</code>. ", f);
    fprintf(f, "Run <code>");
    svg_escape(f, R->runs[r].id);
    fprintf(f, "</code>: model eval_ce %.6s, bigram %.6s, unigram %.6s.</p>\n", ce, bi, uni);
    fputs("<div class=\"scroll\"><table>\n<tr><th>domain</th><th>paths</th><th>files</th><th>documents (train / "
          "eval)</th><th>bytes</th><th>content hash (FNV-1a 64)</th><th>unigram CE</th><th>bigram CE</th></tr>\n", f);
    const char *bd = b0 && b1 ? strstr(b0, "\"domains\": [") : NULL;
    for (const char *o = c0 && c1 ? strchr(c0 + 10, '{') : NULL; o && o < c1;) {
        const char *e = value_end(o);
        if (!e) break;
        char name[80] = "", files[32] = "", docs[32] = "", tr[32] = "", ev[32] = "", bytes[32] = "", hash[32] = "";
        field_in(o, e, "name", name, sizeof name);
        field_in(o, e, "files", files, sizeof files);
        field_in(o, e, "documents", docs, sizeof docs);
        field_in(o, e, "train_documents", tr, sizeof tr);
        field_in(o, e, "eval_documents", ev, sizeof ev);
        field_in(o, e, "bytes", bytes, sizeof bytes);
        field_in(o, e, "fnv1a64", hash, sizeof hash);
        const char *pa = strstr(o, "\"paths\": ["), *pe = pa && pa < e ? value_end(pa + 9) : NULL;
        char paths[600] = "";
        if (pa && pe) snprintf(paths, sizeof paths, "%.*s", (int)(pe - pa - 11 > 590 ? 590 : pe - pa - 11), pa + 10);
        char du[64] = "", db[64] = "";
        if (bd) {  // this domain's baselines: the object of the same name
            char want[100];
            snprintf(want, sizeof want, "\"name\": \"%s\"", name);
            const char *q = strstr(bd, want);
            const char *qe = q ? strchr(q, '}') : NULL;
            if (q && qe && qe < b1) {
                field_in(q, qe, "unigram_ce", du, sizeof du);
                field_in(q, qe, "bigram_ce", db, sizeof db);
            }
        }
        char dtext[128];
        snprintf(dtext, sizeof dtext, "%s (%s / %s)", docs, tr, ev);
        fputs("<tr>", f);
        cell(f, name); cell(f, paths); cell(f, files); cell(f, dtext); cell(f, bytes); cell(f, hash);
        fprintf(f, "<td>%.6s</td><td>%.6s</td></tr>\n", du, db);
        o = strchr(e, '{');
    }
    fprintf(f, "<tr><td><b>all</b></td><td colspan=\"5\">model eval_ce (this run): %.6s</td><td>%.6s</td>"
               "<td>%.6s</td></tr>\n</table></div>\n", ce, uni, bi);
    free(json);
}
