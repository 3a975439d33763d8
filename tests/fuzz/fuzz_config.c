// fuzz_config.c — libFuzzer entry for the experiment-file parser (tests/fuzz/run.sh builds and
// runs it). Each input is loaded as an experiment file from memory; whatever loads without an
// error must dump to TOML and load back to the same configuration at every sweep point (checked
// up to 16 points), and must format its run ids and JSON. The input is also fed to the
// standalone value parser and to --set. A failed property aborts, so libFuzzer keeps the input.
// covers: sim/config/toml.c sim/config/load.c sim/config/values.c sim/config/checks.c
// covers: sim/config/points.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/config/config.h"
#include "../../sim/config/toml.h"

static Experiment ex, ex2;
static CfgErrors errs, errs2;

static void ignore_value(void *u, const TomlKey *k, const TomlValue *v) { (void)u; (void)k; (void)v; }
static void ignore_error(void *u, int line, const char *msg) { (void)u; (void)line; (void)msg; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    errs.n = 0;
    if (experiment_load_buffer(&ex, "fuzz.toml", (const char *)data, size, NULL, 0, &errs) == 0) {
        for (long i = 0; i < ex.npoints && i < 16; i++) {
            Config c;
            char id[CFG_RUN_ID_MAX + 1], *text = NULL;
            size_t len = 0;
            experiment_point(&ex, i, &c);
            experiment_run_id(&ex, i, id, sizeof id);
            if (strlen(id) > CFG_RUN_ID_MAX) abort();
            FILE *f = open_memstream(&text, &len);
            if (!f) abort();
            config_write_toml(f, &c);  // (the JSON dump is evaluate/'s json_config, not linked here)
            fclose(f);
            errs2.n = 0;
            if (experiment_load_buffer(&ex2, "roundtrip.toml", text, len, NULL, 0, &errs2) != 0 ||
                !config_equal(&ex2.base, &c)) {
                fprintf(stderr, "round trip failed at point %ld: %s\n", i, errs2.n ? errs2.msg[0] : "values differ");
                abort();
            }
            free(text);
        }
    }
    // The same bytes as one value and as a --set argument (up to the first NUL, at most 4 KiB).
    char arg[4096];
    size_t n = size < sizeof arg - 1 ? size : sizeof arg - 1;
    memcpy(arg, data, n);
    arg[n] = '\0';
    TomlHandler h = {NULL, ignore_value, ignore_error, NULL};
    toml_parse_value(arg, "fuzz", &h);
    const char *sets[] = {arg};
    errs.n = 0;
    experiment_load_buffer(&ex, "fuzz.toml", "", 0, sets, 1, &errs);
    return 0;
}
