// test_options.c — sim/cli/options.c, the option parser, on hand-made argv: values stored by kind,
// --name=value and -jN, numbers read whole and range-checked at both ends, the caps of repeatable
// options and positional arguments, required options, help winning anywhere (return 0) and every
// error returning 2 (the messages themselves: tests/e2e_commands.sh, which reads stderr).
// covers: sim/cli/options.c
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "../sim/cli/options.h"
#include "harness.h"

typedef struct {
    const char *file, *out, *sets[3];
    int nsets, n, flag, choice;
    double p;
    unsigned long long seed;
} Got;

static int parse(Got *g, int argc, char **argv) {
    memset(g, 0, sizeof *g);
    g->n = 7;
    g->p = 0.5;
    g->choice = -1;
    const Option opts[] = {
        {.kind = OPT_ARGS, .meta = "FILE", .dst = &g->file, .hi = 1, .flags = OPT_REQUIRED},
        {.name = "--out", .kind = OPT_PATH, .meta = "DIR", .dst = &g->out},
        {.name = "--set", .kind = OPT_LIST, .meta = "KEY=VALUE", .dst = g->sets, .hi = 3, .count = &g->nsets},
        {.name = "--n", .short_name = 'j', .kind = OPT_INT, .meta = "N", .dst = &g->n, .lo = 1, .hi = 10},
        {.name = "--flag", .kind = OPT_FLAG, .dst = &g->flag},
        {.name = "--p", .kind = OPT_DOUBLE, .meta = "P", .dst = &g->p, .lo = 0, .hi = 1, .flags = OPT_LO_OPEN},
        {.name = "--seed", .kind = OPT_U64, .meta = "s", .dst = &g->seed},
        {.name = "--mode", .kind = OPT_CHOICE, .meta = "M", .dst = &g->choice, .choices = "a|bb|c"},
    };
    return opt_parse("test", "usage: test\n", opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
}

#define ARGV(...) (char *[]){__VA_ARGS__}, (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *))
static int run(Got *g, char **argv, int argc) { return parse(g, argc, argv); }

int main(void) {
    Got g;
    fprintf(stderr, "test_options: the 'moesim: test:' lines below are expected errors\n");
    // values by kind, both spellings
    CHECK(run(&g, ARGV("f.toml", "--out", "o", "--set", "a=1", "--set=b=2", "-j3", "--flag", "--p=1", "--seed", "18446744073709551615",
                       "--mode", "bb")) == OPT_CONTINUE);
    CHECK(strcmp(g.file, "f.toml") == 0 && strcmp(g.out, "o") == 0 && g.nsets == 2 && strcmp(g.sets[1], "b=2") == 0);
    CHECK(g.n == 3 && g.flag == 1 && g.p == 1.0 && g.seed == 18446744073709551615ull && g.choice == 1);
    CHECK(run(&g, ARGV("f", "-j", "10", "--n=1")) == OPT_CONTINUE && g.n == 1);  // the last one wins
    CHECK(run(&g, ARGV("f", "--", "--not-an-option")) == 2);                     // a second FILE
    CHECK(run(&g, ARGV("--", "-f")) == OPT_CONTINUE && strcmp(g.file, "-f") == 0);
    // defaults untouched when absent
    CHECK(run(&g, ARGV("f")) == OPT_CONTINUE && g.n == 7 && g.p == 0.5 && g.choice == -1 && !g.out && !g.flag);
    // help anywhere, even after an error
    CHECK(run(&g, ARGV("-h")) == 0);
    CHECK(run(&g, ARGV("f", "--bogus", "--help")) == 0);
    CHECK(run(&g, ARGV("f", "--out", "--help")) == 0);
    // errors: 2 (stderr gets one line each)
    CHECK(run(&g, ARGV("--out", "o")) == 2);                  // FILE required
    CHECK(run(&g, ARGV("f", "--bogus")) == 2);
    CHECK(run(&g, ARGV("f", "-x")) == 2);
    CHECK(run(&g, ARGV("f", "--out")) == 2);
    CHECK(run(&g, ARGV("f", "--out", "--flag")) == 2);
    CHECK(run(&g, ARGV("f", "--out", "")) == 2);
    CHECK(run(&g, ARGV("f", "--out=")) == 2);
    CHECK(run(&g, ARGV("f", "--flag=1")) == 2);
    // a value that starts with "--" only as --name=value; a 2000-byte path (over IO_PATH_MAX, the
    // buffers' size) is an error as an option and as a positional argument
    CHECK(run(&g, ARGV("f", "--out=--odd")) == OPT_CONTINUE && strcmp(g.out, "--odd") == 0);
    static char long_path[2001];
    memset(long_path, 'a', 2000);
    CHECK(run(&g, ARGV("f", "--out", long_path)) == 2 && !g.out);
    CHECK(run(&g, ARGV(long_path)) == 2 && !g.file);
    CHECK(run(&g, ARGV("f", "--out=", "--flag")) == 2);
    CHECK(run(&g, ARGV("f", "--set", "a", "--set", "b", "--set", "c", "--set", "d")) == 2);  // cap 3
    CHECK(run(&g, ARGV("f", "--set", "a", "--set", "b", "--set", "c")) == OPT_CONTINUE && g.nsets == 3);
    const char *bad_int[] = {"0", "11", "", " 5", "5 ", "5x", "0x5", "1e1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_int / sizeof *bad_int; i++)
        CHECK_MSG(run(&g, ARGV("f", "--n", (char *)bad_int[i])) == 2, "--n '%s' accepted", bad_int[i]);
    CHECK(run(&g, ARGV("f", "--n", "+10")) == OPT_CONTINUE && g.n == 10);
    const char *bad_p[] = {"0", "-0", "1.0000001", "-1", "nan", "inf", "", ".", "0.5.", "0.5 "};
    for (size_t i = 0; i < sizeof bad_p / sizeof *bad_p; i++)
        CHECK_MSG(run(&g, ARGV("f", "--p", (char *)bad_p[i])) == 2, "--p '%s' accepted", bad_p[i]);
    CHECK(run(&g, ARGV("f", "--p", "1e-300")) == OPT_CONTINUE && g.p == 1e-300);
    CHECK(run(&g, ARGV("f", "--p", ".25")) == OPT_CONTINUE && g.p == 0.25);
    CHECK(run(&g, ARGV("f", "--seed", "-1")) == 2);
    CHECK(run(&g, ARGV("f", "--seed", "18446744073709551616")) == 2);
    CHECK(run(&g, ARGV("f", "--mode", "b")) == 2);
    CHECK(run(&g, ARGV("f", "--mode", "c")) == OPT_CONTINUE && g.choice == 2);
    // a path of CLI_PATH_MAX - 1 bytes fits; one more is an error, never truncated
    static char path[CLI_PATH_MAX + 1];
    memset(path, 'x', CLI_PATH_MAX - 1);
    CHECK(run(&g, ARGV(path)) == OPT_CONTINUE && strlen(g.file) == CLI_PATH_MAX - 1);
    path[CLI_PATH_MAX - 1] = 'x';
    CHECK(run(&g, ARGV(path)) == 2);
    CHECK(run(&g, ARGV("f", "--out", path)) == 2);
    return test_summary("test_options");
}
