// corpus_check.c — a saved text-world model's corpus record against the corpus read now
// (corpus_check.h).
#include <stdio.h>
#include <stdlib.h>
#include "corpus_check.h"
#include "checkpoint.h"
#include "../io.h"
#include "../worlds/corpus.h"

int saved_corpus_check(const char *dir, const Config *c, char *err, size_t errlen) {
    if (c->data_world != WORLD_TEXT) return 0;
    char saved[CKPT_CORPUS_MAX], msg[IO_MSG_MAX];
    if (ckpt_read_corpus(dir, saved, sizeof saved, err, errlen) != 0) return -1;
    if (!saved[0]) return 0;  // trained on another world: nothing to compare
    TextCorpus *tc = calloc(1, sizeof *tc);
    if (!tc) { snprintf(err, errlen, "out of memory"); return -1; }
    int rc = 0;
    if (text_corpus_read(tc, &c->data_corpus, &c->data_exclude, c->data_separator, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "data.corpus: %s", msg);
        rc = -1;
    } else if (text_corpus_compare(saved, tc, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s", msg);
        rc = 1;
    }
    text_corpus_free(tc);
    free(tc);
    return rc;
}
