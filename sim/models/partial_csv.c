// partial_csv.c — the check of a checkpoint's partial CSV against its writer's rule (CkptCsvRule,
// checkpoint.h): the header, the field counts, a final newline, and the rows' steps and key columns
// in order up to the checkpoint's step. A truncated file, two merged lines, repeated or missing
// rows and a state.json step that disagrees with the rows are all caught here.
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "../io.h"

// The n-th field (0-based) of the line [s, e) as an int; 0 when it is a whole integer.
static int field_int(const char *s, const char *e, int n, long *v) {
    for (; n > 0 && s < e; s++)
        if (*s == ',') n--;
    if (n > 0 || s >= e || *s == ',') return -1;
    char *end;
    *v = strtol(s, &end, 10);
    return end > s && (end == e || *end == ',') ? 0 : -1;
}

// The step of block b of a rule's rows, or -1 when the rule has no block b at or before `step`.
static long block_step(const CkptCsvRule *rule, long b, int step) {
    long s = (long)rule->first + b * rule->every;
    return (b == 0 || rule->every > 0) && s <= step ? s : -1;
}

int ckpt_check_csv(const char *path, const char *text, const CkptCsvRule *rule, int step, char *err, size_t errlen) {
    const char *nl = strchr(text, '\n');
    if (!text[0])
        return io_fail(err, errlen, "%s: empty (expected the header \"%.60s...\" and the rows up to step %d)", path,
                       rule->header, step);
    if (!nl) return io_fail(err, errlen, "%s line 1: cut short (no newline: the file was truncated)", path);
    size_t hl = strlen(rule->header);
    if ((size_t)(nl - text) != hl || memcmp(text, rule->header, hl) != 0)
        return io_fail(err, errlen, "%s line 1: not the header this run writes (expected \"%.80s%s\", found \"%.*s%s\")",
                       path, rule->header, hl > 80 ? "..." : "", (int)(nl - text < 80 ? nl - text : 80), text,
                       nl - text > 80 ? "..." : "");
    int nfields = 1;
    for (const char *c = rule->header; *c; c++) nfields += *c == ',';
    long per_block = 1;
    for (int k = 0; k < rule->nkeys; k++) per_block *= rule->radix[k];
    // the expected row: row r of block b (of step `want`; -1: no more rows)
    long b = 0, r = 0, line = 1, want = per_block > 0 ? block_step(rule, 0, step) : -1;
    for (const char *s = nl + 1; *s; line++) {
        const char *e = strchr(s, '\n');
        if (!e)
            return io_fail(err, errlen, "%s line %ld: cut short (no newline: the file was truncated)", path, line + 1);
        int f = 1;
        for (const char *c = s; c < e; c++) f += *c == ',';
        long v;
        if (f != nfields)
            return io_fail(err, errlen, "%s line %ld: %d fields, the header has %d", path, line + 1, f, nfields);
        if (field_int(s, e, 0, &v) != 0)
            return io_fail(err, errlen, "%s line %ld: the step is not a whole number", path, line + 1);
        if (want < 0)
            return io_fail(err, errlen, "%s line %ld: a row of step %ld after the checkpoint's step %d (state.json's "
                           "step and the rows disagree)", path, line + 1, v, step);
        if (v != want)
            return io_fail(err, errlen, "%s line %ld: step %ld, expected step %ld (the rows must follow each other up "
                           "to the checkpoint's step %d)", path, line + 1, v, want, step);
        long rest = r;
        for (int k = rule->nkeys - 1; k >= 0; k--) {
            long key = rest % rule->radix[k];
            rest /= rule->radix[k];
            if (field_int(s, e, 1 + k, &v) != 0 || v != key)
                return io_fail(err, errlen, "%s line %ld: field %d should be %ld (the rows of step %ld are numbered "
                               "in order)", path, line + 1, 2 + k, key, want);
        }
        if (++r == per_block) { r = 0; want = block_step(rule, ++b, step); }
        s = e + 1;
    }
    if (want >= 0)
        return io_fail(err, errlen, "%s: ends at line %ld, before the rows of step %ld (the checkpoint is at step %d: "
                       "the file was truncated, or state.json's step was changed)", path, line, want, step);
    return 0;
}
