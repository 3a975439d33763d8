// set_key.h — one config key set from its TOML text in a test, failing the test (with the
// parser's message) when the config refuses it. Include after harness.h and config.h.
#ifndef MOESIM_TESTS_SET_KEY_H
#define MOESIM_TESTS_SET_KEY_H

static inline void set(Config *c, const char *key, const char *value) {
    char err[300];
    int rc = config_set(c, key, value, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", key, err);
}

#endif
