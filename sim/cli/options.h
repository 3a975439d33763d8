// options.h — the one option parser of the command line (git's parse_options): each command
// describes its options as a table, and opt_parse reads argv against it. Every command thus
// behaves alike:
//   - `-h` / `--help` anywhere prints the command's usage to stdout (exit status 0);
//   - every error is one line in one wording, e.g.
//       moesim: run: unknown option '--x' (see moesim run --help)
//       moesim: run: --out needs a value
//       moesim: run: --out needs a value, found the option --quiet (a value that starts with "--" is given as --out=VALUE)
//       moesim: generate: --top-p 1.5: expected a number in (0, 1]
//       moesim: run: too many --set (at most 64)
//     and exits with status 2 before any work starts;
//   - a value is the next argument or `--name=value`; it is missing at the end of argv or when
//     it starts with "--" (so `--out --quiet` is an error, while `--temperature -1` reaches the
//     range check, and `--out=--odd` is the folder "--odd"); numbers are read whole (no trailing junk) and range-checked here, once;
//   - a path is never empty and never longer than CLI_PATH_MAX - 1 bytes (an error, not a
//     truncation: the program's buffers are sized for it).
#ifndef MOESIM_CLI_OPTIONS_H
#define MOESIM_CLI_OPTIONS_H

#include <stddef.h>

// The longest path (+ NUL) a command accepts: the config's CFG_PATH_MAX (main.c checks they agree).
#define CLI_PATH_MAX 512

typedef enum {
    OPT_FLAG,    // --force: *(int *)dst = 1
    OPT_PATH,    // --out DIR: *(const char **)dst = the argument (non-empty, < CLI_PATH_MAX)
    OPT_INT,     // --pairs N: *(int *)dst, an integer in [lo, hi]
    OPT_U64,     // --seed s: *(unsigned long long *)dst, an integer >= 0
    OPT_DOUBLE,  // --top-p P: *(double *)dst, a finite number in [lo, hi] ((lo, hi] with OPT_LO_OPEN)
    OPT_CHOICE,  // --score S: *(int *)dst = the index of S in choices ("softmax|sigmoid")
    OPT_CUSTOM,  // --shard I/N: parse(value, dst, err, errlen) != 0 is an error, err its whole message
    OPT_LIST,    // --set KEY=VALUE, repeatable: ((const char **)dst)[(*count)++], at most hi of them
    OPT_ARGS,    // the positional arguments (name NULL), paths: as OPT_LIST, at most hi of them
} OptKind;

enum {
    OPT_REQUIRED = 1,  // the command needs it ("moesim: export: needs --out DIR")
    OPT_LO_OPEN = 2,   // OPT_DOUBLE: lo itself is out of range
};

typedef struct {
    const char *name;   // "--out"; NULL for OPT_ARGS and for a short-only option (-j)
    char short_name;    // 'j' for -j N and -jN; 0 for none
    OptKind kind;
    const char *meta;   // the value's name in messages: "DIR", "N", "KEY=VALUE", "FILE"
    void *dst;
    double lo, hi;      // OPT_INT, OPT_DOUBLE: the range; OPT_LIST, OPT_ARGS: hi = the cap
    int flags;          // OPT_REQUIRED | OPT_LO_OPEN
    int *count;         // OPT_LIST, OPT_ARGS: how many were given (may be NULL when hi = 1)
    const char *choices;                                        // OPT_CHOICE: "a|b|c"
    int (*parse)(const char *v, void *dst, char *err, size_t errlen);  // OPT_CUSTOM
} Option;

// opt_parse's "go on": anything else is the command's exit status (0 after help, 2 on an error).
#define OPT_CONTINUE (-1)

// Reads argv[0..argc) (the arguments after the command's name) against opts[0..nopts).
// Returns OPT_CONTINUE when every argument was valid and every OPT_REQUIRED one present; 0 when
// -h/--help was given (usage printed to stdout); 2 on an error (one line printed to stderr).
int opt_parse(const char *cmd, const char *usage, const Option *opts, int nopts, int argc, char **argv);

// Prints "moesim: <cmd>: <message>\n" to stderr and returns 2: the command's own checks of its
// arguments (a combination the table cannot express) in the parser's wording.
int opt_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
