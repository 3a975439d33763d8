// file_edits.h — the damage the checkpoint tests do to a saved folder, written once: a file's text
// replaced, a string edited in place, and state.json turned back into the earlier format (1,
// without the "files" list). Include after harness.h and ../sim/io.h.
#ifndef MOESIM_TEST_FILE_EDITS_H
#define MOESIM_TEST_FILE_EDITS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

// Replaces the first `from` in the file at path by `to` (the same length keeps the size). 1 when found.
static int edit_file(const char *path, const char *from, const char *to) {
    char *text = read_text_file(path);
    char *at = text ? strstr(text, from) : NULL;
    if (at) {
        size_t n = strlen(text), fl = strlen(from), tl = strlen(to);
        char *out = malloc(n - fl + tl + 1);
        memcpy(out, text, (size_t)(at - text));
        memcpy(out + (at - text), to, tl);
        memcpy(out + (at - text) + tl, at + fl, n - (size_t)(at - text) - fl + 1);
        write_text(path, out);
        free(out);
    }
    free(text);
    return at != NULL;
}

// state.json as the earlier format wrote it: format 1, no "files" list.
static void downgrade(const char *dir) {
    char p[800];
    char *text = read_text_file(path_join(p, sizeof p, dir, "state.json"));
    char *files = text ? strstr(text, ",\n  \"files\": [") : NULL;
    CHECK(files != NULL);
    if (files) {
        strcpy(files, "\n}\n");
        write_text(p, text);
        CHECK(edit_file(p, "moesim-checkpoint-2", "moesim-checkpoint-1"));
    }
    free(text);
}

#endif
