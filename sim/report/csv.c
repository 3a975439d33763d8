// csv.c — the result-CSV reader (see csv.h).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "csv.h"

void csv_free(Csv *t) {
    free(t->names);
    free(t->cells);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

// Appends one cell pointer to a growing array.
static int push_cell(char ***v, size_t *n, size_t *cap, char *cell) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **p = realloc(*v, nc * sizeof *p);
        if (!p) return -1;
        *v = p;
        *cap = nc;
    }
    (*v)[(*n)++] = cell;
    return 0;
}

int csv_parse(Csv *t, const char *name, const char *text, size_t len, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    // Decoded cells never need more bytes than the text plus one terminator per field, and every
    // field but the last of the text ends at a delimiter it replaces: len + 2 is enough.
    char *out = malloc(len + 2);
    char **cells = NULL;
    size_t ncells = 0, cap = 0;
    if (!out) { snprintf(err, errlen, "%s: out of memory", name); return -1; }
    size_t o = 0, i = 0;
    int line = 1, ncols = -1, fields = 0;
    while (i < len) {
        // A blank line (also a final one) is skipped; it never counts as a row.
        if (fields == 0 && (text[i] == '\n' || text[i] == '\r')) {
            if (text[i] == '\n') line++;
            i++;
            continue;
        }
        char *cell = out + o;
        if (text[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    snprintf(err, errlen, "%s:%d: unterminated quoted field", name, line);
                    goto fail;
                }
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') { out[o++] = '"'; i += 2; continue; }
                    i++;
                    break;
                }
                if (text[i] == '\n') line++;
                out[o++] = text[i++];
            }
            if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                snprintf(err, errlen, "%s:%d: text after a closing quote", name, line);
                goto fail;
            }
        } else {
            while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                if (text[i] == '\0') {
                    snprintf(err, errlen, "%s:%d: NUL byte in the file", name, line);
                    goto fail;
                }
                out[o++] = text[i++];
            }
        }
        out[o++] = '\0';
        if (push_cell(&cells, &ncells, &cap, cell) != 0) {
            snprintf(err, errlen, "%s: out of memory", name);
            goto fail;
        }
        fields++;
        if (i < len && text[i] == ',') {
            i++;
            if (i < len) continue;
            // A trailing ',' at the very end of the text: one more, empty field.
            out[o] = '\0';
            if (push_cell(&cells, &ncells, &cap, out + o) != 0) {
                snprintf(err, errlen, "%s: out of memory", name);
                goto fail;
            }
            o++;
            fields++;
        }
        // End of a record: the field count must match the header's.
        if (i < len && text[i] == '\r') i++;
        if (i < len && text[i] == '\n') i++;
        if (ncols < 0) ncols = fields;
        else if (fields != ncols) {
            snprintf(err, errlen, "%s:%d: expected %d fields (as in the header), found %d", name, line,
                     ncols, fields);
            goto fail;
        }
        fields = 0;
        line++;
    }
    if (ncols < 0) {
        snprintf(err, errlen, "%s: empty file (no header)", name);
        goto fail;
    }
    t->ncols = ncols;
    t->nrows = ncells / (size_t)ncols - 1;
    t->buf = out;
    // The header names are the first ncols cells; the rows follow them in the same array.
    t->names = malloc((size_t)ncols * sizeof *t->names);
    if (!t->names) {
        snprintf(err, errlen, "%s: out of memory", name);
        t->buf = NULL;
        goto fail;
    }
    memcpy(t->names, cells, (size_t)ncols * sizeof *t->names);
    memmove(cells, cells + ncols, (ncells - (size_t)ncols) * sizeof *cells);
    t->cells = cells;
    return 0;
fail:
    free(out);
    free(cells);
    memset(t, 0, sizeof *t);
    return -1;
}

int csv_read(Csv *t, const char *path, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text) {
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *p = realloc(text, cap * 2);
        if (!p) { free(text); text = NULL; break; }
        text = p;
        cap *= 2;
    }
    int bad = !text || ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        snprintf(err, errlen, "%s: cannot read%s", path, text ? "" : " (out of memory)");
        return -1;
    }
    int rc = csv_parse(t, path, text, len, err, errlen);
    free(text);
    return rc;
}

int csv_col(const Csv *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

const char *csv_cell(const Csv *t, size_t row, int col) {
    if (col < 0 || col >= t->ncols || row >= t->nrows) return "";
    return t->cells[row * (size_t)t->ncols + (size_t)col];
}

double csv_parse_num(const char *s) {
    if (!s || !*s) return NAN;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0') return NAN;
    return v;
}

double csv_num(const Csv *t, size_t row, int col) {
    if (col < 0) return NAN;
    return csv_parse_num(csv_cell(t, row, col));
}
