// corpus_check.h — a saved text-world model against the corpus a command reads now.
// A text-world model records its domains' content hashes (state.json's "corpus",
// text_corpus_record). Whatever reads its data again — a resume, a warm start, `moesim eval`,
// `moesim generate` — must find the same text under every domain name it shares with that record,
// or its numbers and prompts would silently come from other text. A domain under a new name is
// new text, and is not compared.
#ifndef MOESIM_CORPUS_CHECK_H
#define MOESIM_CORPUS_CHECK_H

#include <stddef.h>
#include "../config/config.h"

// dir: the saved model's folder (a checkpoint or a run's final model); c: the configuration whose
// data.corpus is read now. Returns 0 when it is not the text world, the model has no record, or
// the text is the same; 1 with err "the corpus of domain "x" changed since it was saved (content
// hash A then, B now)" (the caller says what to do); -1 with err when the record or the corpus
// cannot be read ("data.corpus: ..." for the latter).
int saved_corpus_check(const char *dir, const Config *c, char *err, size_t errlen);

#endif
