// corpus.h — the text world's corpus (data.world = "text", docs/WORLDS.md): data.corpus's
// "name=path" entries read into one byte stream per domain and split, by document, into training
// and evaluation text. Everything is read and indexed here, once, before any training step.
//
// Paths. A path is a file, a folder (read recursively) or a glob pattern (glob(3)); each entry's
// files are taken in sorted (byte-wise) order, entries in the order given. Inside folders and
// among a pattern's matches, symbolic links are skipped (fortune folders hold "x.u8 -> x" links
// to the same files, and the English folder links the Italian ones in); a path named directly is
// followed. data.exclude's patterns (fnmatch(3) on the file's name) leave files out of folders
// and patterns. A file reached twice within a domain is read once; a file in two domains is an
// error (its documents would be labelled twice).
//
// Documents. With data.separator = s, a line holding only s (a trailing "\r" allowed) ends a
// document; a file's end ends one too. s = "": each file is one document. Documents of white space
// only are dropped. A document goes to evaluation when mix64(FNV-1a 64 of its bytes) mod 10 == 0
// (TEXT_EVAL_MODULUS: a tenth), else to training: deterministic, the same for every train.seed
// and data.seed, and identical documents always land on the same side.
//
// Streams. A domain's training documents, in file order, joined by the separator line (s + "\n";
// nothing when s = ""), form its training stream; the evaluation documents form its evaluation
// stream the same way. Sequences are windows of T+1 bytes of a stream (text.c), so short
// documents are packed within their domain and never with another domain's.
//
// Hash. A domain's content hash is FNV-1a 64 over its files in reading order, each file as its
// size in decimal, a NUL, then its bytes (the io room's io_hash_bytes, written out here because
// worlds/ does not include io/; tests/test_text.c checks that both agree).
#ifndef MOESIM_CORPUS_H
#define MOESIM_CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../config/schema.h"

#define TEXT_EVAL_MODULUS 10      // one document in TEXT_EVAL_MODULUS goes to evaluation
#define TEXT_NAME_MAX 64          // a domain's name: [A-Za-z0-9_.+-], 1..63 bytes
#define TEXT_BINARY_SHARE 0.01    // a file with more invalid UTF-8 bytes than this share is binary

typedef struct {
    char name[TEXT_NAME_MAX];
    int entries[CFG_STRS_MAX];    // indices into data.corpus of this domain's "name=path" entries
    int nentries;
    int files;                    // files read
    long documents;               // non-blank documents, train + eval
    long train_documents, eval_documents;
    size_t bytes;                 // bytes of its files
    uint64_t hash;                // content hash (above)
    uint8_t *train, *eval;        // the streams
    size_t train_len, eval_len;
} TextDomain;

typedef struct {
    int n;                        // domains: the distinct names of data.corpus
    TextDomain d[CFG_STRS_MAX];
} TextCorpus;

// FNV-1a 64 continued over n bytes (h starts at 0xcbf29ce484222325).
uint64_t text_fnv1a(uint64_t h, const void *data, size_t n);

// Parses "name=path": writes the name (TEXT_NAME_MAX bytes) and points *path into entry. Returns
// 0, or -1 with err saying what is wrong with the entry (no '=', an empty or bad name, no path).
int text_entry_parse(const char *entry, char name[TEXT_NAME_MAX], const char **path, char *err, size_t errlen);
// The number of distinct names of corpus (its domains), or -1 with err if an entry is malformed.
int text_domain_count(const cfg_STRS *corpus, char *err, size_t errlen);

// Reads the whole corpus. Returns 0, or -1 with err naming the entry, the path and what is wrong
// (missing, with the Debian package that provides a fortune folder; empty; binary); the corpus is
// then empty (text_corpus_free on it is safe).
int text_corpus_read(TextCorpus *tc, const cfg_STRS *corpus, const cfg_STRS *exclude, const char *separator,
                     char *err, size_t errlen);
void text_corpus_free(TextCorpus *tc);

// The bytes of the files the corpus names, without reading them (stat only; the memory estimate):
// *total their sum, *largest the largest file. Returns 0, or -1 with err as text_corpus_read's.
int text_corpus_size(const cfg_STRS *corpus, const cfg_STRS *exclude, double *total, double *largest, char *err,
                     size_t errlen);

// The record a saved model keeps: "name:hash name:hash ..." (the hashes in 16 hex digits), into out.
void text_corpus_record(const TextCorpus *tc, char *out, size_t cap);
// Checks a saved record against the corpus read now: every domain name in both must have the same
// hash (a name in only one of them is another domain, not a changed one). Returns 0, or -1 with
// err naming the first domain whose content changed.
int text_corpus_compare(const char *saved, const TextCorpus *tc, char *err, size_t errlen);

// The Debian package that provides path when it lies under /usr/share/games/fortunes ("fortunes",
// "fortunes-de", ...), else NULL.
const char *text_fortune_package(const char *path);

// The documents of one file's bytes, as text_corpus_read splits them: calls each(doc, len, u) for
// every non-blank document in order (exposed for tests).
void text_split_documents(const uint8_t *buf, size_t n, const char *separator,
                          void (*each)(const uint8_t *doc, size_t len, void *u), void *u);
// 1 if a document of these bytes goes to evaluation.
int text_is_eval(const uint8_t *doc, size_t len);
// The length (1-4) of the valid UTF-8 sequence at p (n bytes left), 0 if none starts there.
int text_utf8_len(const uint8_t *p, size_t n);
// Writes bytes (tokens 0..255) as UTF-8 text: valid sequences as they are, newlines and tabs too;
// every other byte (invalid UTF-8, control characters) as \xNN, and the backslash as \\, so the
// text reads back to the exact bytes.
void text_write_escaped(FILE *f, const int32_t *tok, int n);
// Bytes of buf that are not part of a valid UTF-8 sequence; *nul = 1 if buf holds a NUL byte.
size_t text_invalid_utf8(const uint8_t *buf, size_t n, int *nul);

#endif
