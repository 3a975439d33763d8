// set_key.h — one config key set from its TOML text in a test, failing the test (with the
// parser's message) when the config refuses it; and the tiny decoder several tests build on.
// Include after harness.h and config.h.
#ifndef MOESIM_TESTS_SET_KEY_H
#define MOESIM_TESTS_SET_KEY_H

static inline void set(Config *c, const char *key, const char *value) {
    char err[300];
    int rc = config_set(c, key, value, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", key, err);
}

// The defaults, then a 2-layer decoder of width 16 (2 heads, 4 experts of width 8, top-2) over
// sequences of 8 tokens of a `vocab`-token world with 2 domains and 4 shared tokens.
static inline void tiny_decoder(Config *c, const char *vocab) {
    CHECK(config_defaults(c) == 0);
    set(c, "model.vocab", vocab);
    set(c, "model.d_model", "16");
    set(c, "model.layers", "2");
    set(c, "model.heads", "2");
    set(c, "model.seq_len", "8");
    set(c, "model.experts", "4");
    set(c, "model.top_k", "2");
    set(c, "model.d_ff", "8");
    set(c, "data.domains", "2");
    set(c, "data.shared_vocab", "4");
}

#endif
