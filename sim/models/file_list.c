// file_list.c — the files a model or checkpoint folder holds, and state.json's two lists of them:
// "parameters" (names and shapes, against the model built from config.toml) and "files" (every
// file with its size and checksum, arrays with dtype and shape), checked against the folder
// before anything is loaded (checkpoint.h).
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "checkpoint.h"
#include "checkpoint_internal.h"
#include "../io.h"

// ---- the files a folder holds --------------------------------------------------------------------


// The files of a folder of model m, in the order state.json lists them: config.toml, the
// parameters, the optimizer arrays opt[] says it has, the biases, and the partial CSVs. *n gets
// the count; NULL when out of memory.
FileSpec *ckpt_file_specs(const Model *m, const int opt[OPT_COUNT], int partials, int *n) {
    int nopt = 0;
    for (int o = 0; o < OPT_COUNT; o++) nopt += opt[o] != 0;
    size_t cap = 1 + (size_t)m->table.n * (1 + (size_t)nopt) + (size_t)m->spec.L + CKPT_NPARTIAL;
    FileSpec *f = calloc(cap, sizeof *f);
    if (!f) return NULL;
    for (size_t i = 0; i < cap; i++) f[i].opt = -1;
    int k = 0;
    snprintf(f[k++].name, CKPT_NAME_MAX, "config.toml");
    for (int o = -1; o < OPT_COUNT; o++) {
        if (o >= 0 && !opt[o]) continue;
        for (int i = 0; i < m->table.n; i++, k++) {
            const ParamInfo *pi = &m->table.info[i];
            if (o >= 0 && !optim_state_numel(o, pi)) { k--; continue; }  // no slice: no file
            if (o < 0) snprintf(f[k].name, CKPT_NAME_MAX, "params/%s.npy", pi->name);
            else snprintf(f[k].name, CKPT_NAME_MAX, "optim/%s/%s.npy", opt_name(o), pi->name);
            f[k].npy = 1;
            f[k].opt = o;
            f[k].nd = o < 0 ? param_npy_shape(pi, f[k].shape) : ckpt_state_npy_shape(o, pi, f[k].shape);
        }
    }
    for (int l = 0; l < m->spec.L; l++, k++) {
        snprintf(f[k].name, CKPT_NAME_MAX, "state/blocks.%d.bias.npy", l);
        f[k].npy = 1;
        f[k].nd = 1;
        f[k].shape[0] = (size_t)m->spec.E;
    }
    for (int i = 0; partials && i < CKPT_NPARTIAL; i++)
        snprintf(f[k++].name, CKPT_NAME_MAX, "partial/%s", ckpt_partial_names[i]);
    *n = k;
    return f;
}

void ckpt_shape_text(char *out, size_t cap, int nd, const size_t *shape) {
    out[0] = 0;
    for (int k = 0; k < nd; k++) snprintf(out + strlen(out), cap - strlen(out), "%s%zu", k ? "x" : "", shape[k]);
    if (nd == 0) snprintf(out, cap, "(none)");
}

// ---- state.json's lists ----------------------------------------------------------------------------

// One entry of state.json's "parameters" or "files" list (flat objects, one a line).
typedef struct {
    char name[CKPT_NAME_MAX];
    char dtype[16];     // "" when not given
    int nd;             // -1 when no shape is given
    size_t shape[3];
    long long bytes;    // -1 when not given
    char hash[17];      // "" when not given
    int used;
} Listed;

// The value of `"key": ` inside the flat object [obj, end): a string unquoted, an array with its
// brackets, else the text up to the next ',' or '}'. NULL when missing.
static const char *flat_value(const char *obj, const char *end, const char *key, char *out, size_t cap) {
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    size_t pl = strlen(pat);
    for (const char *q = obj; q + pl <= end; q++) {
        if (memcmp(q, pat, pl) != 0) continue;
        const char *v = q + pl, *e;
        if (*v == '"') { v++; for (e = v; e < end && *e != '"'; e++) if (*e == '\\') return NULL; }
        else if (*v == '[') { for (e = v; e < end && *e != ']'; e++) {} if (e < end) e++; }
        else for (e = v; e < end && *e != ',' && *e != '}'; e++) {}
        if (e > end || (size_t)(e - v) >= cap) return NULL;
        memcpy(out, v, (size_t)(e - v));
        out[e - v] = 0;
        return out;
    }
    return NULL;
}

// "[a, b, c]" into shape; the number of dimensions, or -1.
static int parse_shape(const char *v, size_t *shape) {
    if (*v != '[') return -1;
    const char *q = v + 1;
    int nd = 0;
    while (*q == ' ') q++;
    if (*q == ']') return 0;
    for (;;) {
        char *e;
        if (nd == 3 || *q < '0' || *q > '9') return -1;
        shape[nd++] = (size_t)strtoull(q, &e, 10);
        q = e;
        if (*q == ']') return nd;
        if (*q != ',') return -1;
        q++;
        while (*q == ' ') q++;
    }
}

// The entries of the list `key` (a top-level key of state.json). Returns the count (*out malloc'ed,
// possibly 0 entries), or -1 with err: -2 when the key is missing.
static int parse_list(const char *dir, const char *json, const char *key, Listed **out, char *err, size_t errlen) {
    char pat[40];
    snprintf(pat, sizeof pat, "\n  \"%s\": [", key);
    const char *q = strstr(json, pat);
    *out = NULL;
    if (!q) return -2;
    q += strlen(pat);
    // the objects up to the list's own end (a line "  ]"; a ']' inside an object is a shape's)
    int cap = 0;
    for (const char *c = q; *c && !(c[0] == '\n' && c[1] == ' ' && c[2] == ' ' && c[3] == ']'); c++) cap += *c == '{';
    Listed *L = calloc((size_t)cap + 1, sizeof *L);
    if (!L) return io_fail(err, errlen, "%s/state.json: out of memory", dir);
    int n = 0;
    char v[CKPT_NAME_MAX];
    for (;;) {
        while (*q == ' ' || *q == '\n' || *q == ',') q++;
        if (*q == ']') break;
        const char *e = *q == '{' ? strchr(q, '}') : NULL;
        if (!e || n == cap) {
            free(L);
            return io_fail(err, errlen, "%s/state.json: bad \"%s\" list near entry %d", dir, key, n + 1);
        }
        Listed *x = &L[n];
        x->nd = -1;
        x->bytes = -1;
        if (!flat_value(q, e, "name", x->name, sizeof x->name) || !x->name[0]) {
            free(L);
            return io_fail(err, errlen, "%s/state.json: \"%s\" entry %d has no \"name\"", dir, key, n + 1);
        }
        flat_value(q, e, "dtype", x->dtype, sizeof x->dtype);
        if (flat_value(q, e, "shape", v, sizeof v) && (x->nd = parse_shape(v, x->shape)) < 0) {
            free(L);
            return io_fail(err, errlen, "%s/state.json: %s: bad \"shape\" %s", dir, x->name, v);
        }
        char *end;
        if (flat_value(q, e, "bytes", v, sizeof v) && ((x->bytes = strtoll(v, &end, 10)) < 0 || *end)) {
            free(L);
            return io_fail(err, errlen, "%s/state.json: %s: bad \"bytes\" %s", dir, x->name, v);
        }
        flat_value(q, e, "fnv1a64", x->hash, sizeof x->hash);
        for (int k = 0; k < n; k++)
            if (strcmp(L[k].name, x->name) == 0) {
                free(L);
                return io_fail(err, errlen, "%s/state.json: \"%s\" lists %s twice", dir, key, x->name);
            }
        n++;
        q = e + 1;
    }
    *out = L;
    return n;
}

// state.json's parameter list against the model's table: the same names and shapes, in order.
int ckpt_check_parameters(const char *dir, const char *json, const Model *m, char *err, size_t errlen) {
    Listed *L;
    int n = parse_list(dir, json, "parameters", &L, err, errlen);
    if (n == -2) return io_fail(err, errlen, "%s/state.json: no \"parameters\" list", dir);
    if (n < 0) return -1;
    int rc = 0;
    size_t shape[3];
    char a[64], b[64];
    for (int i = 0; i < m->table.n && rc == 0; i++) {
        const ParamInfo *pi = &m->table.info[i];
        int nd = param_npy_shape(pi, shape);
        if (i >= n) {
            rc = io_fail(err, errlen, "%s/state.json: the parameter list ends after %d entries; the model built from "
                         "config.toml has %d (next: %s)", dir, n, m->table.n, pi->name);
        } else if (strcmp(L[i].name, pi->name) != 0) {
            rc = io_fail(err, errlen, "%s/state.json: parameter %d is %s; the model built from config.toml has %s",
                         dir, i + 1, L[i].name, pi->name);
        } else if (L[i].nd != nd || memcmp(L[i].shape, shape, sizeof(size_t) * (size_t)nd) != 0) {
            ckpt_shape_text(a, sizeof a, L[i].nd, L[i].shape);
            ckpt_shape_text(b, sizeof b, nd, shape);
            rc = io_fail(err, errlen, "%s/state.json: parameter %s has shape %s; the model built from config.toml "
                         "has %s", dir, pi->name, a, b);
        }
    }
    if (rc == 0 && n > m->table.n)
        rc = io_fail(err, errlen, "%s/state.json: parameter %s is not one of the model built from config.toml "
                     "(an unknown tensor)", dir, L[m->table.n].name);
    free(L);
    return rc;
}

// The files of the folder against state.json's "files" list: every file the model needs is listed
// with the model's dtype and shape, nothing unknown is listed or present, and every listed file
// has its size and checksum. opt_have[] gets which optimizer arrays the folder holds.
int ckpt_check_files(const char *dir, const char *json, const Model *m, int checkpoint, int opt_have[OPT_COUNT],
                       char *err, size_t errlen) {
    Listed *L;
    int n = parse_list(dir, json, "files", &L, err, errlen);
    if (n == -2) return io_fail(err, errlen, "%s/state.json: no \"files\" list (format %s has one)", dir, CKPT_FORMAT);
    if (n < 0) return -1;
    int all[OPT_COUNT], nspec = 0, rc = 0;
    for (int o = 0; o < OPT_COUNT; o++) all[o] = 1;
    FileSpec *fs = ckpt_file_specs(m, all, checkpoint, &nspec);
    if (!fs) { free(L); return io_fail(err, errlen, "%s: out of memory checking the files", dir); }
    char p[IO_DEEP_PATH_MAX], a[64], b[64];
    // what is listed: known, with the model's dtype and shape
    for (int i = 0; i < n && rc == 0; i++) {
        int k = 0;
        while (k < nspec && strcmp(fs[k].name, L[i].name) != 0) k++;
        path_join(p, sizeof p, dir, L[i].name);
        if (k == nspec) {
            rc = io_fail(err, errlen, "%s: listed in state.json, but not a file of the model built from config.toml "
                         "(an unknown tensor or file)", p);
        } else if (fs[k].npy && (strcmp(L[i].dtype, "<f4") != 0 || L[i].nd != fs[k].nd ||
                                 memcmp(L[i].shape, fs[k].shape, sizeof(size_t) * (size_t)fs[k].nd) != 0)) {
            ckpt_shape_text(a, sizeof a, L[i].nd, L[i].shape);
            ckpt_shape_text(b, sizeof b, fs[k].nd, fs[k].shape);
            rc = io_fail(err, errlen, "%s: state.json lists dtype %s shape %s; the model built from config.toml has "
                         "dtype <f4 shape %s", p, L[i].dtype[0] ? L[i].dtype : "(none)", a, b);
        } else if (L[i].bytes < 0 || strlen(L[i].hash) != 16) {
            rc = io_fail(err, errlen, "%s: state.json lists it without \"bytes\" or \"fnv1a64\"", p);
        } else {
            fs[k].listed = 1;
        }
    }
    // what must be listed: everything but the optimizer arrays, and those of an optimizer all or none
    for (int o = 0; o < OPT_COUNT; o++) opt_have[o] = 0;
    for (int k = 0; k < nspec; k++)
        if (fs[k].opt >= 0 && fs[k].listed) opt_have[fs[k].opt] = 1;
    for (int k = 0; k < nspec && rc == 0; k++) {
        if (fs[k].listed || (fs[k].opt >= 0 && !opt_have[fs[k].opt])) continue;
        rc = io_fail(err, errlen, "%s/%s: not in state.json's file list (the model built from config.toml has it)", dir,
                     fs[k].name);
    }
    // what is present: the listed files, each of its size and checksum
    for (int i = 0; i < n && rc == 0; i++) {
        struct stat st;
        uint64_t h;
        char hex[17];
        path_join(p, sizeof p, dir, L[i].name);
        if (stat(p, &st) != 0) {
            rc = io_fail(err, errlen, "%s: %s (state.json lists it)", p, errno == ENOENT ? "missing" : strerror(errno));
        } else if ((long long)st.st_size != L[i].bytes) {
            rc = io_fail(err, errlen, "%s: %lld bytes, state.json lists %lld (the file was truncated or changed)", p,
                         (long long)st.st_size, L[i].bytes);
        } else if (io_hash_file(p, &h) != 0) {
            rc = ckpt_fail_errno(err, errlen, "cannot read", p);
        } else if (io_hash_hex(h, hex), strcmp(hex, L[i].hash) != 0) {
            rc = io_fail(err, errlen, "%s: checksum %s, state.json lists %s (the file was changed after it was saved)",
                         p, hex, L[i].hash);
        }
    }
    // and nothing else in the folders of tensors and rows
    // (the folders of tensors: params, state, optim, one per kind of optimizer state, partial)
    enum { NSUBS = 4 + OPT_COUNT };
    char subs[NSUBS][CKPT_NAME_MAX] = {"params", "state", "optim", "partial"};
    for (int o = 0; o < OPT_COUNT; o++) snprintf(subs[4 + o], CKPT_NAME_MAX, "optim/%s", opt_name(o));
    for (size_t s = 0; s < NSUBS && rc == 0; s++) {
        char sub[IO_DEEP_PATH_MAX], name[CKPT_NAME_MAX + 260];
        DIR *d = opendir(path_join(sub, sizeof sub, dir, subs[s]));
        struct dirent *de;
        while (d && rc == 0 && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            int opt_folder = 0;  // optim/ holds one folder per kind of state
            for (int o = 0; s == 2 && o < OPT_COUNT; o++) opt_folder |= strcmp(de->d_name, opt_name(o)) == 0;
            if (opt_folder) continue;
            int listed = 0;
            if ((size_t)snprintf(name, sizeof name, "%s/%s", subs[s], de->d_name) < sizeof name)
                for (int i = 0; i < n && !listed; i++) listed = strcmp(L[i].name, name) == 0;
            if (!listed)
                rc = io_fail(err, errlen, "%s/%s: not in state.json's file list (an unknown tensor or file)", sub,
                             de->d_name);
        }
        if (d) closedir(d);
    }
    free(fs);
    free(L);
    return rc;
}
