// toml.c — the strict streaming parser of toml.h. One pass over the text; a cursor, a line
// number, and a small trie of the keys and tables defined so far (for duplicates and TOML's rules
// on redefining tables). Errors are reported and the parser resynchronizes at the next line.
// One file of ~1,000 lines on purpose: the cursor, the value grammar (strings with escapes,
// numbers parsed whole, arrays) and the key trie are one state machine over one cursor; split,
// each part would need the others' internals, as inih and tomlc99 also keep them together.
#include "toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOML_POOL (64 * 1024)  // bytes of key parts held by the trie

#define MIN(a, b) ((a) < (b) ? (a) : (b))

// A node of the trie of defined keys and tables; the root (the top-level table) is index -1.
enum {
    N_VALUE = 1,     // a key = value
    N_TABLE = 2,     // a table (created by a header, as a header's parent, or by a dotted key)
    N_EXPLICIT = 4,  // defined by a [header], or by dotted keys of an earlier section: closed
    N_PENDING = 8,   // created by dotted keys in the current section (closed at the next header)
    N_HEADER = 16,   // defined by a [header] (for the message)
};

typedef struct {
    int parent;
    unsigned off;         // part name in the pool
    unsigned short len;
    unsigned char flags;
    int line;             // line of the definition
} Node;

typedef struct {
    const char *p, *end;  // cursor
    int line;
    const TomlHandler *h;
    int nerr;
    int fatal;            // a limit was hit: stop
    int resync;           // after an error the cursor already sits at the start of a line
    // current [table]: ntable < 0 after a broken header (its keys get no callbacks)
    int ntable, table_node;
    const char *table[TOML_PARTS_MAX];
    char tablebuf[TOML_KEY_MAX];
    // key being parsed (the parts written on its line)
    int nkey;
    const char *key[TOML_PARTS_MAX];
    char keybuf[TOML_KEY_MAX];  // the parts, NUL-terminated one after the other
    size_t keyused;
    const char *partp[2 * TOML_PARTS_MAX];
    char name[2 * TOML_KEY_MAX + 2 * TOML_PARTS_MAX + 8];  // display name for messages
    // The arrays below live in the same allocation, sized from the text's length (a value cannot
    // hold more elements, nor a file more keys, than it has characters) and capped by the limits.
    char *arena;          // the current value's decoded strings and source texts
    size_t arena_cap, used;
    TomlScalar *items;    // the current array's elements
    int items_cap;
    Node *nodes;          // defined keys and tables (none for a standalone value)
    int nodes_cap, nnodes;
    char *pool;           // their part names
    size_t pool_cap, pool_used;
} Parser;

// ---- errors and small helpers ----------------------------------------------------------------

static void perr(Parser *P, int line, const char *fmt, ...) {
    char msg[TOML_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    P->nerr++;
    if (P->h->on_error) P->h->on_error(P->h->user, line, msg);
}

static int is_ws(char c) { return c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_bare(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '-'; }
// Characters a number, boolean or stray word is made of (scanned whole, then judged whole).
static int is_word(char c) { return is_bare(c) || c == '+' || c == '.'; }
// TOML forbids control characters other than tab anywhere except as escapes.
static int is_ctrl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static int at_eol(const Parser *P) {
    return P->p >= P->end || *P->p == '\n' || (*P->p == '\r' && P->p + 1 < P->end && P->p[1] == '\n');
}

static void skip_ws(Parser *P) {
    while (P->p < P->end && is_ws(*P->p)) P->p++;
}

// Consumes one line ending if the cursor is at one.
static void eat_newline(Parser *P) {
    if (P->p < P->end && *P->p == '\n') { P->p++; P->line++; }
    else if (P->p + 1 < P->end && P->p[0] == '\r' && P->p[1] == '\n') { P->p += 2; P->line++; }
}

// Moves the cursor to the end of the current line (before its newline).
static void skip_to_eol(Parser *P) {
    while (!at_eol(P)) P->p++;
}

// Length of the valid UTF-8 sequence at s (1 for ASCII), or 0 if it is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
static int utf8_seq(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0], cp, min;
    int n;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (end - s < n) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

// Describes what the cursor is looking at, for "found X" in messages: 'word', end of line, ...
static const char *describe(const Parser *P, char *out, size_t cap) {
    if (P->p >= P->end) return "end of file";
    if (at_eol(P)) return "end of line";
    size_t o = 0;
    out[o++] = '\'';
    const char *q = P->p;
    // One character if it is punctuation, else the run of word characters.
    int word = is_word(*q);
    for (int k = 0; q < P->end && o + 6 < cap && k < 24; k++, q++) {
        unsigned char c = (unsigned char)*q;
        if (k > 0 && (!word || !is_word((char)c))) break;
        if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

// Writes a key part for display: bare if it can be, else as a quoted string.
static size_t put_part(char *out, size_t cap, const char *s) {
    int bare = *s != '\0';
    for (const char *c = s; *c; c++) bare &= is_bare(*c);
    if (bare) return (size_t)snprintf(out, cap, "%s", s);
    return toml_quote(out, cap, s);
}

size_t toml_quote(char *out, size_t cap, const char *s) {
    size_t o = 0;
#define PUT(ch) do { if (o + 1 < cap) out[o] = (ch); o++; } while (0)
    PUT('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = NULL;
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\f': esc = "\\f"; break;
        case '\r': esc = "\\r"; break;
        default: break;
        }
        if (esc) { for (; *esc; esc++) PUT(*esc); }
        else if (is_ctrl(*c)) {
            char u[8];
            snprintf(u, sizeof u, "\\u%04X", *c);
            for (char *e = u; *e; e++) PUT(*e);
        } else PUT((char)*c);
    }
    PUT('"');
#undef PUT
    if (cap > 0) out[o < cap ? o : cap - 1] = '\0';
    return o;
}

// ---- comments and strings ---------------------------------------------------------------------

// At '#': checks the comment's characters and leaves the cursor at the end of the line.
static int scan_comment(Parser *P) {
    while (!at_eol(P)) {
        unsigned char c = (unsigned char)*P->p;
        if (is_ctrl(c)) {
            perr(P, P->line, "control character 0x%02X in a comment", c);
            return -1;
        }
        int n = utf8_seq((const unsigned char *)P->p, (const unsigned char *)P->end);
        if (!n) { perr(P, P->line, "invalid UTF-8 in a comment"); return -1; }
        P->p += n;
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(unsigned cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// At an opening quote (" or '): decodes a one-line string into out (cap bytes, NUL-terminated).
// `what` names the string in messages (the key, or "a quoted key"). Returns 0 or -1 (reported).
static int scan_string(Parser *P, char *out, size_t cap, size_t *outlen, const char *what) {
    const char q = *P->p;
    if (P->end - P->p >= 3 && P->p[1] == q && P->p[2] == q) {
        perr(P, P->line, "%s: multi-line strings (%c%c%c) are not supported", what, q, q, q);
        return -1;
    }
    P->p++;
    size_t o = 0;
    for (;;) {
        if (at_eol(P)) {
            perr(P, P->line, "%s: unterminated string (missing closing %c)", what, q);
            return -1;
        }
        unsigned char c = (unsigned char)*P->p;
        char tmp[4];
        size_t n = 1;
        const char *src = P->p;
        if (c == (unsigned char)q) { P->p++; break; }
        if (is_ctrl(c)) {
            perr(P, P->line, "%s: control character 0x%02X in a string (write it as an escape)", what, c);
            return -1;
        }
        if (c == '\\' && q == '"') {
            char e = P->p + 1 < P->end ? P->p[1] : '\0';
            const char *simple = strchr("btnfr\"\\", e);
            if (e && simple) {
                static const char map[] = "\b\t\n\f\r\"\\";
                tmp[0] = map[simple - "btnfr\"\\"];
                src = tmp;
                P->p += 2;
            } else if (e == 'u' || e == 'U') {
                int nd = e == 'u' ? 4 : 8;
                unsigned cp = 0;
                for (int k = 0; k < nd; k++) {
                    int h = P->p + 2 + k < P->end ? hexval(P->p[2 + k]) : -1;
                    if (h < 0) {
                        perr(P, P->line, "%s: \\%c needs %d hexadecimal digits", what, e, nd);
                        return -1;
                    }
                    cp = cp << 4 | (unsigned)h;
                }
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    perr(P, P->line, "%s: \\%c%0*X is not an allowed character", what, e, nd, cp);
                    return -1;
                }
                n = utf8_put(cp, tmp);
                src = tmp;
                P->p += 2 + nd;
            } else {
                char d[32];
                if (e && (unsigned char)e >= 0x20 && (unsigned char)e < 0x7f) snprintf(d, sizeof d, "\\%c", e);
                else snprintf(d, sizeof d, "\\ followed by 0x%02X", (unsigned char)e);
                perr(P, P->line, "%s: invalid escape '%s' in a string (allowed: \\b \\t \\n \\f \\r \\\" "
                     "\\\\ \\uXXXX \\UXXXXXXXX)", what, d);
                return -1;
            }
        } else {
            n = (size_t)utf8_seq((const unsigned char *)P->p, (const unsigned char *)P->end);
            if (!n) { perr(P, P->line, "%s: invalid UTF-8 in a string", what); return -1; }
            P->p += n;
        }
        if (o + n >= cap) {
            perr(P, P->line, "%s: string too long (at most %zu bytes here)", what, cap - 1);
            return -1;
        }
        memcpy(out + o, src, n);
        o += n;
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

// ---- keys -------------------------------------------------------------------------------------

// Parses a (dotted) key into P->key[] (stored in P->keybuf); P->nkey parts. Returns 0 or -1.
static int parse_key(Parser *P) {
    char d[64];
    P->nkey = 0;
    P->keyused = 0;
    for (;;) {
        skip_ws(P);
        if (P->nkey == TOML_PARTS_MAX) {
            perr(P, P->line, "key has more than %d parts", TOML_PARTS_MAX);
            return -1;
        }
        char *part = P->keybuf + P->keyused;
        const size_t cap = TOML_KEY_MAX - P->keyused;
        size_t len = 0;
        if (P->p < P->end && (*P->p == '"' || *P->p == '\'')) {
            if (scan_string(P, part, cap, &len, "quoted key")) return -1;
            for (size_t k = 0; k < len; k++)
                if (is_ctrl((unsigned char)part[k])) {
                    perr(P, P->line, "quoted key: control characters in keys are not supported");
                    return -1;
                }
        } else if (P->p < P->end && is_bare(*P->p)) {
            while (P->p < P->end && is_bare(*P->p)) {
                if (len + 1 >= cap) {
                    perr(P, P->line, "key longer than %d bytes", TOML_KEY_MAX - 1);
                    return -1;
                }
                part[len++] = *P->p++;
            }
            part[len] = '\0';
        } else {
            perr(P, P->line, "expected a key, found %s", describe(P, d, sizeof d));
            return -1;
        }
        P->key[P->nkey++] = part;
        P->keyused += len + 1;
        skip_ws(P);
        if (P->p < P->end && *P->p == '.') { P->p++; continue; }
        return 0;
    }
}

// Joins parts for messages into P->name.
static void make_name(Parser *P, const char *const *a, int na, const char *const *b, int nb) {
    size_t o = 0, cap = sizeof P->name;
    P->name[0] = '\0';
    for (int k = 0; k < na + nb && o < cap; k++) {
        if (k) P->name[o++] = '.';
        if (o < cap) o += put_part(P->name + o, cap - o, k < na ? a[k] : b[k - na]);
    }
    P->name[cap - 1] = '\0';
}

// ---- the trie of defined keys and tables ------------------------------------------------------

static int node_find(const Parser *P, int parent, const char *part) {
    size_t len = strlen(part);
    for (int k = 0; k < P->nnodes; k++) {
        const Node *n = &P->nodes[k];
        if (n->parent == parent && n->len == len && memcmp(P->pool + n->off, part, len) == 0) return k;
    }
    return -1;
}

static int node_add(Parser *P, int parent, const char *part, int flags, int line) {
    size_t len = strlen(part);
    if (P->nnodes == P->nodes_cap || P->pool_used + len > P->pool_cap) {
        perr(P, line, "too many keys and tables (at most %d per file); stopping", TOML_NODES_MAX);
        P->fatal = 1;
        return -1;
    }
    Node *n = &P->nodes[P->nnodes];
    n->parent = parent;
    n->off = (unsigned)P->pool_used;
    n->len = (unsigned short)len;
    n->flags = (unsigned char)flags;
    n->line = line;
    memcpy(P->pool + P->pool_used, part, len);
    P->pool_used += len;
    return P->nnodes++;
}

// ---- numbers ----------------------------------------------------------------------------------

// Scans digits of `base` with '_' allowed only between two digits, from t[*i]. Returns the count
// of digits, or -1 with *why set.
static int scan_digits(const char *t, size_t n, size_t *i, int base, const char **why) {
    int count = 0;
    while (*i < n) {
        char c = t[*i];
        int v = hexval(c);
        if (c == '_') {
            if (count == 0 || *i + 1 >= n || hexval(t[*i + 1]) < 0 || hexval(t[*i + 1]) >= base) {
                *why = "'_' must stand between two digits";
                return -1;
            }
            (*i)++;
            continue;
        }
        if (v < 0 || v >= base) break;
        count++;
        (*i)++;
    }
    return count;
}

// Judges a whole number token by TOML's grammar. Returns NULL if valid (*is_float set), else why.
static const char *check_number(const char *t, size_t n, int *is_float) {
    const char *why = NULL;
    size_t i = 0;
    *is_float = 0;
    if (n >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
        int base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
        i = 2;
        if (i == n) return base == 16 ? "no digits after '0x'" : base == 8 ? "no digits after '0o'"
                                                                       : "no digits after '0b'";
        if (t[i] == '_') return "'_' must stand between two digits";
        int c = scan_digits(t, n, &i, base, &why);
        if (c < 0) return why;
        if (c == 0 || i != n)
            return base == 16 ? "not a hexadecimal digit after '0x'" : base == 8 ? "not an octal digit after '0o'"
                                                                               : "not a binary digit after '0b'";
        return NULL;
    }
    if (t[i] == '+' || t[i] == '-') {
        i++;
        if (i + 1 < n && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b'))
            return "a sign is not allowed before 0x, 0o or 0b";
    }
    if (i == n) return "a sign needs digits after it";
    if (t[i] == '.') return "a digit must come before the decimal point";
    if (t[i] == '_') return "'_' must stand between two digits";
    if (!is_digit(t[i])) return "expected a digit";
    size_t start = i;
    int c = scan_digits(t, n, &i, 10, &why);
    if (c < 0) return why;
    if (t[start] == '0' && i - start > 1) return "leading zeros are not allowed";
    if (i < n && t[i] == '.') {
        i++;
        if (i == n || !is_digit(t[i])) return "a digit must follow the decimal point";
        if (scan_digits(t, n, &i, 10, &why) < 0) return why;
        *is_float = 1;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-')) i++;
        if (i == n || !is_digit(t[i])) return "the exponent has no digits";
        if (scan_digits(t, n, &i, 10, &why) < 0) return why;
        *is_float = 1;
    }
    if (i != n) {
        if (n >= 5 && i == 4 && t[4] == '-') return "dates and times are not supported";
        if (t[i] == '.') return "more than one decimal point";
        return "unexpected character in a number";
    }
    return NULL;
}

// Converts a valid number token (check_number returned NULL). Returns NULL or why it cannot.
static const char *convert_number(const char *t, size_t n, int is_float, TomlScalar *s) {
    char buf[512];
    size_t o = 0;
    if (n >= sizeof buf) return "too many digits";
    for (size_t i = 0; i < n; i++) if (t[i] != '_') buf[o++] = t[i];
    buf[o] = '\0';
    if (is_float) {
        errno = 0;
        double f = strtod(buf, NULL);  // the C locale: the program never calls setlocale
        if (isinf(f)) return "out of the range of a double";
        s->type = TOML_FLOAT;
        s->f = f;
        return NULL;
    }
    int base = 10;
    const char *digits = buf;
    if (o >= 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'o' || buf[1] == 'b')) {
        base = buf[1] == 'x' ? 16 : buf[1] == 'o' ? 8 : 2;
        digits = buf + 2;
    }
    int neg = digits[0] == '-';
    if (digits[0] == '+' || digits[0] == '-') digits++;
    // Accumulate as a negative number so INT64_MIN fits.
    int64_t v = 0;
    for (const char *c = digits; *c; c++) {
        int d = hexval(*c);
        if (v < (INT64_MIN + d) / base) return "does not fit in a 64-bit integer";
        v = v * base - d;
    }
    if (!neg) {
        if (v == INT64_MIN) return "does not fit in a 64-bit integer";
        v = -v;
    }
    s->type = TOML_INT;
    s->i = v;
    s->f = (double)v;
    return NULL;
}

// ---- values -----------------------------------------------------------------------------------

// Copies n bytes into the value arena, NUL-terminated. Returns NULL if the arena is full.
static char *arena_put(Parser *P, const char *s, size_t n) {
    if (P->used + n + 1 > P->arena_cap) return NULL;
    char *o = P->arena + P->used;
    memcpy(o, s, n);
    o[n] = '\0';
    P->used += n + 1;
    return o;
}

// Parses one scalar at the cursor (string, number, boolean). Returns 0 or -1 (reported).
static int parse_scalar(Parser *P, TomlScalar *s) {
    char d[64];
    const char *start = P->p;
    memset(s, 0, sizeof *s);
    s->line = P->line;
    if (*P->p == '"' || *P->p == '\'') {
        size_t len, cap = P->arena_cap - P->used;
        char *out = P->arena + P->used;
        if (cap < 2) { perr(P, P->line, "%s: value too long (at most %d bytes)", P->name, TOML_VALUE_MAX); return -1; }
        if (scan_string(P, out, cap, &len, P->name)) return -1;
        P->used += len + 1;
        s->type = TOML_STRING;
        s->s = out;
        s->len = len;
        if (!(s->text = arena_put(P, start, (size_t)(P->p - start)))) {
            perr(P, P->line, "%s: value too long (at most %d bytes)", P->name, TOML_VALUE_MAX);
            return -1;
        }
        return 0;
    }
    while (P->p < P->end && is_word(*P->p)) P->p++;
    size_t n = (size_t)(P->p - start);
    if (n == 0) {
        perr(P, P->line, "%s: expected a value, found %s", P->name, describe(P, d, sizeof d));
        return -1;
    }
    char tok[80];
    snprintf(tok, sizeof tok, "%.*s%s", n > 60 ? 60 : (int)n, start, n > 60 ? "..." : "");
    if (!(s->text = arena_put(P, start, n))) {
        perr(P, P->line, "%s: value too long (at most %d bytes)", P->name, TOML_VALUE_MAX);
        return -1;
    }
    if ((n == 4 && !memcmp(start, "true", 4)) || (n == 5 && !memcmp(start, "false", 5))) {
        s->type = TOML_BOOL;
        s->b = n == 4;
        return 0;
    }
    const char *u = start + (*start == '+' || *start == '-');
    size_t un = n - (size_t)(u - start);
    if (un == 3 && (!memcmp(u, "inf", 3) || !memcmp(u, "nan", 3))) {
        perr(P, P->line, "%s: inf and nan are not allowed, found '%s'", P->name, tok);
        return -1;
    }
    if (is_alpha(*start)) {
        if ((n == 4 && !strncmp(tok, "True", 4)) || (n == 4 && !strncmp(tok, "TRUE", 4)) ||
            (n == 5 && (!strncmp(tok, "False", 5) || !strncmp(tok, "FALSE", 5))))
            perr(P, P->line, "%s: expected a value, found '%s' (booleans are lowercase: true, false)", P->name, tok);
        else
            perr(P, P->line, "%s: expected a value, found '%s' (a string needs double quotes: \"%s\")",
                 P->name, tok, tok);
        return -1;
    }
    // "8 0": a second number after spaces is the classic lenient-parser trap; name it.
    const char *q = P->p;
    while (q < P->end && is_ws(*q)) q++;
    if (q > P->p && q < P->end && is_digit(*q)) {
        const char *e = q;
        while (e < P->end && is_word(*e)) e++;
        perr(P, P->line, "%s: malformed number '%.*s': spaces are not allowed inside a number", P->name,
             (int)(e - start > 60 ? 60 : e - start), start);
        return -1;
    }
    int is_float;
    const char *why = check_number(start, n, &is_float);
    if (!why) why = convert_number(start, n, is_float, s);
    if (why) {
        perr(P, P->line, "%s: malformed number '%s': %s", P->name, tok, why);
        return -1;
    }
    return 0;
}

// Inside an array, at the start of a line: does this line look like a new statement (a table
// header or a key = value)? Then the array was never closed. Arrays of scalars hold no '=' and no
// header-like line, so this cannot misfire on a valid file.
static int looks_like_statement(const char *p, const char *end) {
    while (p < end && is_ws(*p)) p++;
    if (p < end && *p == '[') {
        int comma = 0, close = 0;
        for (const char *q = p; q < end && *q != '\n' && *q != '#'; q++) {
            comma |= *q == ',';
            close |= *q == ']';
        }
        return close && !comma;
    }
    char inq = 0;
    for (; p < end && *p != '\n'; p++) {
        if (inq) { if (*p == inq) inq = 0; else if (*p == '\\' && inq == '"' && p + 1 < end && p[1] != '\n') p++; }
        else if (*p == '"' || *p == '\'') inq = *p;
        else if (*p == '#') return 0;
        else if (*p == '=') return 1;
    }
    return 0;
}

// Skips whitespace, newlines and comments between array elements. Returns 0, or -1 if the array
// was left unclosed (reported at its opening line; cursor at the start of the next statement).
static int skip_array_space(Parser *P, int open_line) {
    for (;;) {
        skip_ws(P);
        if (P->p < P->end && *P->p == '#') {
            if (scan_comment(P)) return -2;
            continue;
        }
        if (P->p < P->end && at_eol(P)) {
            eat_newline(P);
            if (looks_like_statement(P->p, P->end)) {
                perr(P, open_line, "%s: unterminated array (missing ']')", P->name);
                P->resync = 1;
                return -1;
            }
            continue;
        }
        if (P->p >= P->end) {
            perr(P, open_line, "%s: unterminated array (missing ']')", P->name);
            return -1;
        }
        return 0;
    }
}

// After an error inside an array: skips past its ']' (or to the next statement), so the rest of
// the array does not produce a cascade of errors.
static void recover_array(Parser *P) {
    char inq = 0;
    while (P->p < P->end) {
        char c = *P->p;
        if (at_eol(P)) {
            inq = 0;
            eat_newline(P);
            if (looks_like_statement(P->p, P->end)) { P->resync = 1; return; }
            continue;
        }
        P->p++;
        if (inq) { if (c == inq) inq = 0; else if (c == '\\' && inq == '"' && !at_eol(P)) P->p++; }
        else if (c == '"' || c == '\'') inq = c;
        else if (c == '#') skip_to_eol(P);
        else if (c == ']') return;
    }
}

// At '[' of an array value.
static int parse_array(Parser *P, TomlValue *v) {
    char d[64];
    const int open_line = P->line;
    P->p++;
    v->type = TOML_ARRAY;
    v->n = 0;
    v->items = P->items;
    for (;;) {
        int rc = skip_array_space(P, open_line);
        if (rc == -1) return -1;
        if (rc == -2) { recover_array(P); return -1; }
        if (*P->p == ']') { P->p++; return 0; }
        if (*P->p == '[' || *P->p == '{') {
            perr(P, P->line, "%s: %s inside arrays are not supported (arrays hold numbers, strings or "
                 "booleans)", P->name, *P->p == '[' ? "arrays" : "inline tables");
            recover_array(P);
            return -1;
        }
        if (v->n == P->items_cap) {
            perr(P, P->line, "%s: array with more than %d elements", P->name, TOML_ARRAY_MAX);
            recover_array(P);
            return -1;
        }
        if (parse_scalar(P, &P->items[v->n])) { recover_array(P); return -1; }
        v->n++;
        rc = skip_array_space(P, open_line);
        if (rc == -1) return -1;
        if (rc == -2) { recover_array(P); return -1; }
        if (*P->p == ',') { P->p++; continue; }
        if (*P->p == ']') { P->p++; return 0; }
        perr(P, P->line, "%s: expected ',' or ']' after an array element, found %s", P->name,
             describe(P, d, sizeof d));
        recover_array(P);
        return -1;
    }
}

// Parses the value after '=' (cursor past the spaces). Returns 0 or -1 (reported).
static int parse_value(Parser *P, TomlValue *v) {
    char d[64];
    const char *start = P->p;
    memset(v, 0, sizeof *v);
    P->used = 0;
    v->line = P->line;
    if (at_eol(P) || *P->p == '#') {
        perr(P, P->line, "%s: missing value after '='", P->name);
        return -1;
    }
    if (*P->p == '{') {
        perr(P, P->line, "%s: inline tables are not supported (write a [table] or dotted keys)", P->name);
        return -1;
    }
    if (*P->p == '[') {
        if (parse_array(P, v)) return -1;
        size_t n = (size_t)(P->p - start);
        v->text = arena_put(P, start, n > 200 ? 200 : n);
        if (!v->text) v->text = "[...]";
        return 0;
    }
    if (!is_word(*P->p) && *P->p != '"' && *P->p != '\'') {
        perr(P, P->line, "%s: expected a value, found %s", P->name, describe(P, d, sizeof d));
        return -1;
    }
    if (parse_scalar(P, &v->scalar)) return -1;
    v->type = v->scalar.type;
    v->text = v->scalar.text;
    return 0;
}

// After a statement: only spaces and a comment may follow on the line.
static int end_of_statement(Parser *P, const char *after) {
    char d[64];
    skip_ws(P);
    if (P->p < P->end && *P->p == '#') return scan_comment(P);
    if (at_eol(P)) return 0;
    perr(P, P->line, "unexpected %s after %s (expected the end of the line)", describe(P, d, sizeof d), after);
    return -1;
}

// ---- statements -------------------------------------------------------------------------------

static void fill_key(Parser *P, TomlKey *k, int line, int with_table) {
    int n = 0;
    if (with_table)
        for (int i = 0; i < P->ntable; i++) P->partp[n++] = P->table[i];
    for (int i = 0; i < P->nkey; i++) P->partp[n++] = P->key[i];
    k->line = line;
    k->nparts = n;
    k->ntable = with_table ? P->ntable : 0;
    k->parts = P->partp;
    k->name = P->name;
}

// At '[': a table header.
static int parse_header(Parser *P) {
    char d[64];
    const int line = P->line;
    P->p++;
    P->ntable = -1;  // until the header is known to be good
    if (P->p < P->end && *P->p == '[') {
        perr(P, line, "arrays of tables ([[...]]) are not supported");
        return -1;
    }
    if (parse_key(P)) return -1;
    make_name(P, P->key, P->nkey, NULL, 0);
    if (P->p >= P->end || *P->p != ']') {
        perr(P, line, "expected ']' after the table name [%s, found %s", P->name, describe(P, d, sizeof d));
        return -1;
    }
    P->p++;
    // Dotted keys of the section that just ended close their tables (TOML: no reopening them).
    for (int k = 0; k < P->nnodes; k++)
        if (P->nodes[k].flags & N_PENDING)
            P->nodes[k].flags = (unsigned char)((P->nodes[k].flags & ~N_PENDING) | N_EXPLICIT);
    int parent = -1, bad = 0;
    for (int i = 0; i < P->nkey; i++) {
        int idx = node_find(P, parent, P->key[i]);
        const int last = i == P->nkey - 1;
        if (idx >= 0 && (P->nodes[idx].flags & N_VALUE)) {
            char pre[sizeof P->name];
            memcpy(pre, P->name, sizeof pre);
            make_name(P, P->key, i + 1, NULL, 0);
            perr(P, line, "table [%s]: '%s' is already a key with a value (line %d)", pre, P->name,
                 P->nodes[idx].line);
            make_name(P, P->key, P->nkey, NULL, 0);
            return -1;  // the table cannot exist: its keys get no callbacks (ntable < 0)
        } else if (last && idx >= 0 && (P->nodes[idx].flags & N_EXPLICIT)) {
            if (P->nodes[idx].flags & N_HEADER)
                perr(P, line, "duplicate table [%s] (first defined at line %d)", P->name, P->nodes[idx].line);
            else
                perr(P, line, "table [%s] was already defined by dotted keys at line %d", P->name,
                     P->nodes[idx].line);
            bad = 1;
        } else if (last && idx >= 0) {
            P->nodes[idx].flags |= N_TABLE | N_EXPLICIT | N_HEADER;
            P->nodes[idx].line = line;
        } else if (idx < 0) {
            idx = node_add(P, parent, P->key[i], last ? N_TABLE | N_EXPLICIT | N_HEADER : N_TABLE, line);
            if (idx < 0) return -1;
        }
        parent = idx;
    }
    if (end_of_statement(P, "the table header")) return -1;
    // A redefined table is an error, but its keys are still read and checked (the user's intent
    // is clear, and their own mistakes are worth reporting in the same run).
    P->ntable = P->nkey;
    P->table_node = parent;
    memcpy(P->tablebuf, P->keybuf, P->keyused);
    for (int i = 0; i < P->nkey; i++) P->table[i] = P->tablebuf + (P->key[i] - P->keybuf);
    if (P->h->on_table) {
        TomlKey k;
        fill_key(P, &k, line, 0);
        P->h->on_table(P->h->user, &k);
    }
    return bad ? -1 : 0;
}

// A key = value line.
static int parse_keyvalue(Parser *P) {
    char d[64];
    const int line = P->line;
    if (parse_key(P)) return -1;
    const int nt = P->ntable < 0 ? 0 : P->ntable;
    if (P->ntable >= 0 && nt + P->nkey > TOML_PARTS_MAX) {
        perr(P, line, "key has more than %d parts (with its table)", TOML_PARTS_MAX);
        return -1;
    }
    make_name(P, P->table, nt, P->key, P->nkey);
    if (P->p >= P->end || *P->p != '=') {
        perr(P, line, "expected '=' after the key '%s', found %s", P->name, describe(P, d, sizeof d));
        return -1;
    }
    P->p++;
    skip_ws(P);
    TomlValue v;
    if (parse_value(P, &v)) return -1;
    char after[sizeof P->name + 32];
    snprintf(after, sizeof after, "the value of %s", P->name);
    if (end_of_statement(P, after)) return -1;
    if (P->ntable < 0) return 0;  // under a broken header: checked for syntax only
    // Intermediate parts of a dotted key are tables created (or extended) in this section.
    int parent = P->table_node;
    for (int i = 0; i < P->nkey; i++) {
        int idx = node_find(P, parent, P->key[i]);
        const int last = i == P->nkey - 1;
        if (idx >= 0 && (last || (P->nodes[idx].flags & N_VALUE))) {
            char full[sizeof P->name];
            memcpy(full, P->name, sizeof full);
            make_name(P, P->table, nt, P->key, i + 1);
            if (last)
                perr(P, line, "duplicate key '%s' (first defined at line %d)", full, P->nodes[idx].line);
            else
                perr(P, line, "%s: '%s' is already a key with a value (line %d)", full, P->name,
                     P->nodes[idx].line);
            return -1;
        }
        if (idx >= 0 && (P->nodes[idx].flags & N_EXPLICIT)) {
            char full[sizeof P->name];
            memcpy(full, P->name, sizeof full);
            make_name(P, P->table, nt, P->key, i + 1);
            perr(P, line, "%s: table [%s] was defined at line %d; a dotted key cannot add to it (write the "
                 "key under [%s])", full, P->name, P->nodes[idx].line, P->name);
            return -1;
        }
        if (idx < 0) idx = node_add(P, parent, P->key[i], last ? N_VALUE : N_TABLE | N_PENDING, line);
        if (idx < 0) return -1;
        parent = idx;
    }
    if (P->h->on_value) {
        TomlKey k;
        fill_key(P, &k, line, 1);
        P->h->on_value(P->h->user, &k, &v);
    }
    return 0;
}

// The Parser and its arrays in one block, the arrays sized from the text's length `len`.
static size_t parser_size(size_t len, int with_keys, size_t caps[4]) {
    caps[0] = MIN((size_t)TOML_ARRAY_MAX, len / 2 + 1);                 // items
    caps[1] = with_keys ? MIN((size_t)TOML_NODES_MAX, len / 2 + 2) : 0;  // nodes
    caps[2] = MIN((size_t)TOML_VALUE_MAX, 3 * len + 256);               // arena
    caps[3] = with_keys ? MIN((size_t)TOML_POOL, len + 1) : 0;           // pool
    return sizeof(Parser) + caps[0] * sizeof(TomlScalar) + caps[1] * sizeof(Node) + caps[2] + caps[3];
}

static Parser *parser_init(void *mem, const size_t caps[4], const char *buf, size_t len, const TomlHandler *h) {
    Parser *P = mem;
    P->items = (TomlScalar *)(P + 1);
    P->items_cap = (int)caps[0];
    P->nodes = (Node *)(P->items + caps[0]);
    P->nodes_cap = (int)caps[1];
    P->arena = (char *)(P->nodes + caps[1]);
    P->arena_cap = caps[2];
    P->pool = P->arena + caps[2];
    P->pool_cap = caps[3];
    P->p = buf;
    P->end = buf + len;
    P->line = 1;
    P->h = h;
    P->nerr = P->fatal = P->resync = 0;
    P->ntable = 0;
    P->table_node = -1;
    P->nkey = 0;
    P->keyused = 0;
    P->name[0] = '\0';
    P->used = 0;
    P->nnodes = 0;
    P->pool_used = 0;
    return P;
}

int toml_parse_buffer(const char *buf, size_t len, const TomlHandler *h) {
    size_t caps[4];
    void *mem = malloc(parser_size(len, 1, caps));
    if (!mem) {
        if (h->on_error) h->on_error(h->user, 0, "out of memory");
        return 1;
    }
    Parser *P = parser_init(mem, caps, buf, len, h);
    while (P->p < P->end && !P->fatal) {
        skip_ws(P);
        int rc = 0;
        if (P->p >= P->end) break;
        unsigned char c = (unsigned char)*P->p;
        if (at_eol(P)) { eat_newline(P); continue; }
        if (c == '#') rc = scan_comment(P);
        else if (c == '[') rc = parse_header(P);
        else if (is_bare((char)c) || c == '"' || c == '\'') rc = parse_keyvalue(P);
        else if (is_ctrl(c)) { perr(P, P->line, "control character 0x%02X", c); rc = -1; }
        else if (c == 0xEF && P->p == buf && len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
            perr(P, P->line, "byte-order mark at the start of the file (save it as plain UTF-8)");
            rc = -1;
        } else {
            char d[64];
            perr(P, P->line, "expected a key or a [table], found %s", describe(P, d, sizeof d));
            rc = -1;
        }
        if (rc) {
            if (!P->resync) skip_to_eol(P);
            P->resync = 0;
        }
        eat_newline(P);
        // A lone '\r' (not before '\n') would stop the loop forever: report and step over it.
        if (P->p < P->end && *P->p == '\r' && !at_eol(P)) {
            perr(P, P->line, "control character 0x0D (a carriage return not followed by a newline)");
            P->p++;
            skip_to_eol(P);
        }
    }
    int n = P->nerr;
    free(P);
    return n;
}

int toml_parse_value(const char *text, const char *name, const TomlHandler *h) {
    // Short values (every schema default) parse in a block on the stack: no allocation.
    _Alignas(max_align_t) unsigned char local[8192];
    size_t caps[4], len = strlen(text), need = parser_size(len, 0, caps);
    void *mem = need <= sizeof local ? (void *)local : malloc(need);
    if (!mem) {
        if (h->on_error) h->on_error(h->user, 0, "out of memory");
        return 1;
    }
    Parser *P = parser_init(mem, caps, text, len, h);
    snprintf(P->name, sizeof P->name, "%s", name);
    snprintf(P->keybuf, sizeof P->keybuf, "%s", name);
    P->key[0] = P->keybuf;
    P->nkey = 1;
    skip_ws(P);
    TomlValue v;
    if (!parse_value(P, &v)) {
        char after[sizeof P->name + 32];
        snprintf(after, sizeof after, "the value of %s", P->name);
        if (!end_of_statement(P, after)) {
            if (P->p < P->end) perr(P, P->line, "%s: the value must be on one line", P->name);
            else if (h->on_value) {
                TomlKey k;
                fill_key(P, &k, 1, 0);
                h->on_value(h->user, &k, &v);
            }
        }
    }
    int n = P->nerr;
    if (mem != local) free(mem);
    return n;
}

char *toml_read_file(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap > TOML_FILE_MAX) break;
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int failed = buf ? ferror(f) : 0;
    int e = errno;
    fclose(f);
    if (!buf) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (failed) { free(buf); snprintf(err, errlen, "%s", strerror(e)); return NULL; }
    if (n > TOML_FILE_MAX) {
        free(buf);
        snprintf(err, errlen, "file larger than %d bytes", TOML_FILE_MAX);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
