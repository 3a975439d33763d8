// corpus.c — reading data.corpus (corpus.h): the entries' files, their documents, the split and
// the per-domain streams and hashes.
#define _XOPEN_SOURCE 700  // lstat, fnmatch
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "corpus.h"
#include "fail.h"


uint64_t text_fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}

// ---- entries ------------------------------------------------------------------------------------

int text_entry_parse(const char *entry, char name[TEXT_NAME_MAX], const char **path, char *err, size_t errlen) {
    const char *eq = strchr(entry, '=');
    if (!eq) return world_fail(err, errlen, "\"%s\": expected \"name=path\"", entry);
    size_t n = (size_t)(eq - entry);
    if (n == 0 || n >= TEXT_NAME_MAX)
        return world_fail(err, errlen, "\"%s\": the name before '=' must have 1 to %d bytes", entry, TEXT_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        char ch = entry[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.' || ch == '+'))
            return world_fail(err, errlen, "\"%s\": a domain name may hold only letters, digits, '_', '-', '.' and '+'",
                        entry);
    }
    if (!eq[1]) return world_fail(err, errlen, "\"%s\": no path after '='", entry);
    memcpy(name, entry, n);
    name[n] = '\0';
    *path = eq + 1;
    return 0;
}

int text_domain_count(const cfg_STRS *corpus, char *err, size_t errlen) {
    char names[CFG_STRS_MAX][TEXT_NAME_MAX];
    int k = 0;
    for (int i = 0; i < corpus->n; i++) {
        char name[TEXT_NAME_MAX];
        const char *path;
        if (text_entry_parse(corpus->s[i], name, &path, err, errlen) != 0) return -1;
        int seen = 0;
        for (int j = 0; j < k && !seen; j++) seen = !strcmp(names[j], name);
        if (!seen) memcpy(names[k++], name, TEXT_NAME_MAX);
    }
    return k;
}

const char *text_fortune_package(const char *path) {
    static const char root[] = "/usr/share/games/fortunes";
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0')) return NULL;
    const char *sub = path[n] == '/' ? path + n + 1 : "";
    static const struct { const char *dir, *pkg; } langs[] = {
        {"de", "fortunes-de"}, {"es", "fortunes-es"}, {"it", "fortunes-it"}, {"pl", "fortunes-pl"},
        {"ru", "fortunes-ru"}, {"cs", "fortunes-cs"}, {"cz", "fortunes-cs"}, {"sk", "fortunes-cs"},
        {"fr", "fortunes-fr"},
    };
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        size_t m = strlen(langs[i].dir);
        if (!strncmp(sub, langs[i].dir, m) && (sub[m] == '/' || sub[m] == '\0')) return langs[i].pkg;
    }
    if (!strcmp(sub, "fortunes")) return "fortunes-min";
    return strchr(sub, '/') ? NULL : "fortunes";  // the English files lie in the folder itself
}

// ---- files ------------------------------------------------------------------------------------

typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
    double size;
} FileRef;

typedef struct {
    FileRef *f;
    int n, cap;
} FileList;

static void list_free(FileList *L) {
    for (int i = 0; i < L->n; i++) free(L->f[i].path);
    free(L->f);
    memset(L, 0, sizeof *L);
}

// Adds a regular file unless the list has it already (the same device and inode).
static int list_add(FileList *L, const char *path, const struct stat *st, char *err, size_t errlen) {
    for (int i = 0; i < L->n; i++)
        if (L->f[i].dev == st->st_dev && L->f[i].ino == st->st_ino) return 0;
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 64;
        FileRef *f = realloc(L->f, sizeof *f * (size_t)cap);
        if (!f) return world_fail(err, errlen, "out of memory listing the corpus files");
        L->f = f;
        L->cap = cap;
    }
    char *p = strdup(path);
    if (!p) return world_fail(err, errlen, "out of memory listing the corpus files");
    L->f[L->n++] = (FileRef){p, st->st_dev, st->st_ino, (double)st->st_size};
    return 0;
}

static int excluded(const char *path, const cfg_STRS *exclude) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = 0; i < exclude->n; i++)
        if (fnmatch(exclude->s[i], base, 0) == 0) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_found(FileList *L, const char *path, const cfg_STRS *exclude, int depth, char *err, size_t errlen);

// A folder's entries in byte order, each through add_found (links skipped).
static int walk_dir(FileList *L, const char *dir, const cfg_STRS *exclude, int depth, char *err, size_t errlen) {
    if (depth > 64) return world_fail(err, errlen, "%s: folders nested more than 64 deep", dir);
    DIR *d = opendir(dir);
    if (!d) return world_fail(err, errlen, "%s: cannot read the folder: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, sizeof *nn * (size_t)cap);
            if (!nn) { rc = world_fail(err, errlen, "out of memory listing %s", dir); break; }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) { rc = world_fail(err, errlen, "out of memory listing %s", dir); break; }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (rc == 0) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && rc == 0; i++) rc = add_found(L, names[i], exclude, depth + 1, err, errlen);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

// A path found inside a folder or by a pattern: links are skipped, folders walked, regular files
// added unless data.exclude names them.
static int add_found(FileList *L, const char *path, const cfg_STRS *exclude, int depth, char *err, size_t errlen) {
    struct stat st;
    if (lstat(path, &st) != 0) return world_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode)) return 0;
    if (S_ISDIR(st.st_mode)) return walk_dir(L, path, exclude, depth, err, errlen);
    if (!S_ISREG(st.st_mode) || excluded(path, exclude)) return 0;
    return list_add(L, path, &st, err, errlen);
}

static int missing(const char *entry, const char *path, const char *why, char *err, size_t errlen) {
    const char *pkg = text_fortune_package(path);
    if (pkg)
        return world_fail(err, errlen, "\"%s\": %s: %s (the Debian package %s provides it: apt-get install %s)", entry,
                    path, why, pkg, pkg);
    return world_fail(err, errlen, "\"%s\": %s: %s", entry, path, why);
}

// One "name=path" entry's files, appended to L.
static int expand_entry(FileList *L, const char *entry, const char *path, const cfg_STRS *exclude, char *err,
                        size_t errlen) {
    char msg[512];
    int rc = 0;
    if (strpbrk(path, "*?[")) {
        glob_t g;
        int gr = glob(path, 0, NULL, &g);
        if (gr == GLOB_NOMATCH) return missing(entry, path, "the pattern matches nothing", err, errlen);
        if (gr != 0) return world_fail(err, errlen, "\"%s\": %s: the pattern cannot be expanded", entry, path);
        qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
        for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) rc = add_found(L, g.gl_pathv[i], exclude, 0, msg, sizeof msg);
        globfree(&g);
    } else {
        struct stat st;
        if (stat(path, &st) != 0) {
            if (errno == ENOENT) return missing(entry, path, "no such file or folder", err, errlen);
            return world_fail(err, errlen, "\"%s\": %s: %s", entry, path, strerror(errno));
        }
        if (S_ISDIR(st.st_mode)) rc = walk_dir(L, path, exclude, 0, msg, sizeof msg);
        else if (S_ISREG(st.st_mode)) rc = list_add(L, path, &st, msg, sizeof msg);
        else return world_fail(err, errlen, "\"%s\": %s: neither a file nor a folder", entry, path);
    }
    return rc ? world_fail(err, errlen, "\"%s\": %s", entry, msg) : 0;
}

// The files of every domain of the corpus, in reading order (lists[d], the domains in order of
// their names' first appearance, their names into tc).
static int list_files(TextCorpus *tc, FileList lists[CFG_STRS_MAX], const cfg_STRS *corpus, const cfg_STRS *exclude,
                      char *err, size_t errlen) {
    memset(lists, 0, sizeof(FileList) * CFG_STRS_MAX);
    tc->n = 0;
    if (corpus->n == 0) return world_fail(err, errlen, "no domains: data.corpus is empty (expected \"name=path\" entries)");
    for (int i = 0; i < corpus->n; i++) {
        char name[TEXT_NAME_MAX];
        const char *path;
        if (text_entry_parse(corpus->s[i], name, &path, err, errlen) != 0) return -1;
        int d = 0;
        while (d < tc->n && strcmp(tc->d[d].name, name)) d++;
        if (d == tc->n) {
            memset(&tc->d[d], 0, sizeof tc->d[d]);
            memcpy(tc->d[d].name, name, TEXT_NAME_MAX);
            tc->n++;
        }
        tc->d[d].entries[tc->d[d].nentries++] = i;
        if (expand_entry(&lists[d], corpus->s[i], path, exclude, err, errlen) != 0) return -1;
    }
    for (int d = 0; d < tc->n; d++) {
        if (lists[d].n == 0)
            return world_fail(err, errlen, "domain \"%s\" is empty: its paths hold no files (after data.exclude)", tc->d[d].name);
        for (int e = 0; e < d; e++)
            for (int i = 0; i < lists[d].n; i++)
                for (int j = 0; j < lists[e].n; j++)
                    if (lists[d].f[i].dev == lists[e].f[j].dev && lists[d].f[i].ino == lists[e].f[j].ino)
                        return world_fail(err, errlen, "%s is in two domains, \"%s\" and \"%s\" (as %s): its documents "
                                    "would carry two labels", lists[d].f[i].path, tc->d[e].name, tc->d[d].name,
                                    lists[e].f[j].path);
    }
    return 0;
}

int text_corpus_size(const cfg_STRS *corpus, const cfg_STRS *exclude, double *total, double *largest, char *err,
                     size_t errlen) {
    TextCorpus *tc = calloc(1, sizeof *tc);
    FileList *lists = calloc(CFG_STRS_MAX, sizeof *lists);
    int rc = tc && lists ? list_files(tc, lists, corpus, exclude, err, errlen) : world_fail(err, errlen, "out of memory");
    *total = *largest = 0;
    for (int d = 0; lists && d < CFG_STRS_MAX; d++) {
        for (int i = 0; i < lists[d].n; i++) {
            *total += lists[d].f[i].size;
            if (lists[d].f[i].size > *largest) *largest = lists[d].f[i].size;
        }
        list_free(&lists[d]);
    }
    free(lists);
    free(tc);
    return rc;
}

// ---- documents ------------------------------------------------------------------------------------

int text_utf8_len(const uint8_t *p, size_t n) {
    if (n == 0) return 0;
    const uint8_t c = p[0];
    if (c < 0x80) return 1;
    int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    int ok = len > 0 && (size_t)len <= n;
    for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xC0) == 0x80;
    if (ok && len == 3) ok = !(c == 0xE0 && p[1] < 0xA0) && !(c == 0xED && p[1] >= 0xA0);  // overlong, surrogates
    if (ok && len == 4) ok = !(c == 0xF0 && p[1] < 0x90) && !(c == 0xF4 && p[1] >= 0x90);  // overlong, > U+10FFFF
    return ok ? len : 0;
}

size_t text_invalid_utf8(const uint8_t *p, size_t n, int *nul) {
    size_t bad = 0, i = 0;
    *nul = 0;
    while (i < n) {
        if (p[i] == 0) *nul = 1;
        int len = text_utf8_len(p + i, n - i);
        if (len) i += (size_t)len;
        else { bad++; i++; }
    }
    return bad;
}

void text_write_escaped(FILE *f, const int32_t *tok, int n) {
    uint8_t b[4];
    for (int i = 0; i < n;) {
        int m = 0;
        while (m < 4 && i + m < n) { b[m] = (uint8_t)tok[i + m]; m++; }
        int len = text_utf8_len(b, (size_t)m);
        if (len == 1 && b[0] == '\\') fputs("\\\\", f);
        else if (len == 1 && b[0] < 0x20 && b[0] != '\n' && b[0] != '\t') fprintf(f, "\\x%02X", b[0]);
        else if (len == 1 && b[0] == 0x7F) fputs("\\x7F", f);
        else if (len) fwrite(b, 1, (size_t)len, f);
        else fprintf(f, "\\x%02X", b[0]);
        i += len ? len : 1;
    }
}

static int blank(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f' && p[i] != '\v') return 0;
    return 1;
}

void text_split_documents(const uint8_t *buf, size_t n, const char *separator,
                          void (*each)(const uint8_t *doc, size_t len, void *u), void *u) {
    const size_t sl = strlen(separator);
    size_t start = 0, i = 0;
    while (sl > 0 && i < n) {
        size_t e = i;  // the line [i, e), its newline at e (or the end)
        while (e < n && buf[e] != '\n') e++;
        size_t len = e - i;
        if (len > 0 && buf[i + len - 1] == '\r') len--;
        size_t next = e < n ? e + 1 : n;
        if (len == sl && memcmp(buf + i, separator, sl) == 0) {
            if (!blank(buf + start, i - start)) each(buf + start, i - start, u);
            start = next;
        }
        i = next;
    }
    if (start < n && !blank(buf + start, n - start)) each(buf + start, n - start, u);
}

// splitmix64's finalizer: FNV's low bits alone follow the last bytes too closely.
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int text_is_eval(const uint8_t *doc, size_t len) {
    return mix64(text_fnv1a(0xcbf29ce484222325ULL, doc, len)) % TEXT_EVAL_MODULUS == 0;
}

// ---- streams --------------------------------------------------------------------------------------

typedef struct {
    uint8_t *p;
    size_t n, cap;
} Buf;

static int buf_put(Buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return 0;
}

typedef struct {
    TextDomain *d;
    Buf train, eval;
    const char *joiner;      // the separator line between two documents of a stream ("" : none)
    int oom;
} Splitter;

static void take_document(const uint8_t *doc, size_t len, void *u) {
    Splitter *s = u;
    int ev = text_is_eval(doc, len);
    Buf *b = ev ? &s->eval : &s->train;
    if (b->n > 0 && s->joiner[0]) s->oom |= buf_put(b, s->joiner, strlen(s->joiner));
    s->oom |= buf_put(b, doc, len);
    if (ev) s->d->eval_documents++;
    else s->d->train_documents++;
    s->d->documents++;
}

static int read_file(const char *path, uint8_t **out, size_t *n, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return world_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    Buf b = {0};
    uint8_t chunk[1 << 16];
    size_t got;
    int oom = 0;
    while (!oom && (got = fread(chunk, 1, sizeof chunk, f)) > 0) oom = buf_put(&b, chunk, got);
    int bad = ferror(f);
    fclose(f);
    if (oom || bad) {
        free(b.p);
        return oom ? world_fail(err, errlen, "%s: out of memory reading it", path)
                   : world_fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    }
    *out = b.p;
    *n = b.n;
    return 0;
}

// One domain's files read, checked (NUL bytes, invalid UTF-8), hashed and split into its streams.
static int read_domain(TextDomain *d, const FileList *L, const char *separator, char *err, size_t errlen) {
    char joiner[CFG_STR_MAX + 2] = "";
    if (separator[0]) snprintf(joiner, sizeof joiner, "%s\n", separator);
    Splitter s = {.d = d, .joiner = joiner};
    uint64_t h = 0xcbf29ce484222325ULL;
    int rc = 0;
    for (int i = 0; i < L->n && rc == 0; i++) {
        uint8_t *buf = NULL;
        size_t n = 0;
        if (read_file(L->f[i].path, &buf, &n, err, errlen) != 0) { rc = -1; break; }
        int nul;
        size_t bad = text_invalid_utf8(buf, n, &nul);
        if (nul || (double)bad > TEXT_BINARY_SHARE * (double)n)
            rc = world_fail(err, errlen, "domain \"%s\": %s is not text (%s): leave it out with data.exclude", d->name,
                      L->f[i].path, nul ? "it holds NUL bytes" : "over 1% of its bytes are not UTF-8");
        if (rc == 0) {
            char size[32];
            snprintf(size, sizeof size, "%zu", n);
            h = text_fnv1a(h, size, strlen(size) + 1);
            h = text_fnv1a(h, buf, n);
            d->bytes += n;
            d->files++;
            text_split_documents(buf, n, separator, take_document, &s);
            if (s.oom) rc = world_fail(err, errlen, "domain \"%s\": out of memory holding the corpus", d->name);
        }
        free(buf);
    }
    d->hash = h;
    d->train = s.train.p; d->train_len = s.train.n;
    d->eval = s.eval.p; d->eval_len = s.eval.n;
    if (rc == 0 && d->documents == 0)
        rc = world_fail(err, errlen, "domain \"%s\" is empty: its %d file%s hold no document", d->name, d->files,
                  d->files == 1 ? "" : "s");
    return rc;
}

int text_corpus_read(TextCorpus *tc, const cfg_STRS *corpus, const cfg_STRS *exclude, const char *separator,
                     char *err, size_t errlen) {
    memset(tc, 0, sizeof *tc);
    FileList *lists = calloc(CFG_STRS_MAX, sizeof *lists);
    if (!lists) return world_fail(err, errlen, "out of memory");
    int rc = list_files(tc, lists, corpus, exclude, err, errlen);
    for (int d = 0; d < tc->n && rc == 0; d++) rc = read_domain(&tc->d[d], &lists[d], separator, err, errlen);
    for (int d = 0; d < CFG_STRS_MAX; d++) list_free(&lists[d]);
    free(lists);
    if (rc != 0) text_corpus_free(tc);
    return rc;
}

void text_corpus_free(TextCorpus *tc) {
    for (int d = 0; d < tc->n; d++) {
        free(tc->d[d].train);
        free(tc->d[d].eval);
    }
    memset(tc, 0, sizeof *tc);
}

void text_corpus_record(const TextCorpus *tc, char *out, size_t cap) {
    size_t o = 0;
    if (cap) out[0] = '\0';
    for (int d = 0; d < tc->n && o < cap; d++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s:%016llx", d ? " " : "", tc->d[d].name,
                              (unsigned long long)tc->d[d].hash);
}

int text_corpus_compare(const char *saved, const TextCorpus *tc, char *err, size_t errlen) {
    const char *p = saved;
    while (*p) {
        while (*p == ' ') p++;
        const char *colon = strchr(p, ':');
        if (!colon) break;
        size_t n = (size_t)(colon - p);
        const char *h = colon + 1;
        size_t hl = strcspn(h, " ");
        for (int d = 0; d < tc->n; d++) {
            char now[17];
            snprintf(now, sizeof now, "%016llx", (unsigned long long)tc->d[d].hash);
            if (strlen(tc->d[d].name) == n && !strncmp(tc->d[d].name, p, n) && (hl != 16 || strncmp(h, now, 16)))
                return world_fail(err, errlen, "the corpus of domain \"%s\" changed since it was saved (content hash %.*s "
                            "then, %s now)", tc->d[d].name, (int)hl, h, now);
        }
        p = h + hl;
    }
    return 0;
}
