// toml.h — a strict streaming parser for the TOML subset of experiment files (docs/EXPERIMENTS.md).
//
// In inih's manner: the parser walks the text once and calls a handler for every [table] header
// and every key = value, in file order; it never exits and never prints. Unlike inih it does not
// stop at the first error: each syntax error is reported (with its line) through the handler, the
// parser skips to a safe point (the next line, or past the end of a broken array) and goes on,
// so a file's errors are all reported at once.
//
// Accepted (a subset of TOML 1.0; anything outside it is a clear error, never a guess):
//   [table] and [a.b] headers; key = value; bare keys (A-Z a-z 0-9 _ -), "quoted" and 'literal'
//   keys; dotted keys (a.b = 1) with TOML's rules on redefining tables; basic strings "..." with
//   the escapes \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX, literal strings '...'; integers (decimal
//   with optional sign and _ between digits, 0x / 0o / 0b); floats (1.5, 3e-4, 1.0e2; inf and nan
//   are rejected); true / false; arrays of scalars, which may span lines and end with a comma;
//   # comments. Duplicate keys and tables are errors naming the line of the first definition.
// Not accepted: inline tables, arrays of tables [[...]], nested arrays, multi-line strings,
//   dates and times.
//
// Memory: each parse allocates one block, sized from the text's length and freed before it
// returns. Limits: a value's text (strings and arrays together) TOML_VALUE_MAX bytes,
// TOML_ARRAY_MAX array elements, TOML_PARTS_MAX key parts in TOML_KEY_MAX bytes, TOML_NODES_MAX
// keys and tables per file; exceeding one is an error.
#ifndef MOESIM_TOML_H
#define MOESIM_TOML_H

#include <stddef.h>
#include <stdint.h>

#define TOML_PARTS_MAX 16          // parts of a key, table parts included
#define TOML_KEY_MAX 512           // bytes of a key's parts (and of a [table] name's)
#define TOML_ARRAY_MAX 256         // elements of one array
#define TOML_VALUE_MAX (64 * 1024) // bytes of one value's decoded strings and source text
#define TOML_NODES_MAX 4096        // keys and tables one file may define
#define TOML_FILE_MAX (1 << 20)    // bytes of a file toml_read_file accepts
#define TOML_MSG_MAX 512           // bytes of one error message

typedef enum { TOML_STRING, TOML_INT, TOML_FLOAT, TOML_BOOL, TOML_ARRAY } TomlType;

// A [table] header, or the key of a key = value. parts[0..nparts) are the decoded parts: first the
// ntable parts of the enclosing [table] header, then the parts written on the line. So both
// `top_k = 2` under [model] and `model.top_k = 2` at the top level arrive as {"model", "top_k"}
// (ntable 1 and 0). A quoted part may contain dots: `"balance.scope" = ...` is one part.
typedef struct {
    int line;
    int nparts, ntable;
    const char *const *parts;
    const char *name;  // display name: the parts joined by '.', non-bare parts in quotes
} TomlKey;

typedef struct {
    TomlType type;     // never TOML_ARRAY
    int line;
    const char *text;  // the value as written (e.g. `3e-4`, `"micro"`), for messages
    const char *s;     // TOML_STRING: decoded, NUL-terminated (a \u0000 escape is rejected)
    size_t len;        // TOML_STRING: bytes of s
    int64_t i;         // TOML_INT
    double f;          // TOML_FLOAT, and TOML_INT converted (so numbers read as f either way)
    int b;             // TOML_BOOL
} TomlScalar;

typedef struct {
    TomlType type;            // a scalar's type, or TOML_ARRAY
    int line;                 // line where the value starts
    TomlScalar scalar;        // the value when not an array
    int n;                    // TOML_ARRAY: elements (any mix of scalar types)
    const TomlScalar *items;  // TOML_ARRAY: n elements, each with its own line
    const char *text;         // the whole value as written (arrays: from '[' to ']')
} TomlValue;

// The handler. Pointers passed to a callback are valid during that call only. on_table and
// on_value may be NULL. on_error receives each syntax error; msg has no "file:line: " prefix.
typedef struct {
    void (*on_table)(void *user, const TomlKey *table);
    void (*on_value)(void *user, const TomlKey *key, const TomlValue *value);
    void (*on_error)(void *user, int line, const char *msg);
    void *user;
} TomlHandler;

// Parses a whole document held in memory (it need not be NUL-terminated; NUL bytes in it are
// errors). Returns the number of syntax errors reported (0: the text is valid in our subset).
int toml_parse_buffer(const char *buf, size_t len, const TomlHandler *h);

// Parses one standalone value (e.g. a schema default or the right side of --set) as if it were
// written after `name = `: on success calls h->on_value once with a one-part key `name` at line 1.
// Errors name `name`. Returns the number of errors.
int toml_parse_value(const char *text, const char *name, const TomlHandler *h);

// Reads a whole file (at most TOML_FILE_MAX bytes) into a malloc'd, NUL-terminated buffer.
// Returns the buffer (free it) and its length in *len, or NULL with a reason in err.
char *toml_read_file(const char *path, size_t *len, char *err, size_t errlen);

// Writes s as a TOML basic string (quoted, escaped) into out; returns the length it needed
// (like snprintf: output is truncated when that is >= cap).
size_t toml_quote(char *out, size_t cap, const char *s);

#endif
