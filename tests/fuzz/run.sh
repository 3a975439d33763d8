#!/bin/sh
# Fuzzes the experiment-file parser with libFuzzer for a bounded time and keeps the corpus.
#
#   sh tests/fuzz/run.sh [SECONDS]      (default 60; also FUZZ_SECONDS)   — `make fuzz` runs this
#
# Needs clang with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev). Builds
# build/fuzz/fuzz_config with ASan + UBSan, seeds tests/fuzz/corpus/ from experiments/*.toml and
# the config fixtures, fuzzes with a dictionary of TOML tokens and schema keys, then minimizes the
# corpus in place. Exits non-zero if the fuzzer found a crash (the input is left in build/fuzz/).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-${FUZZ_SECONDS:-60}}
cc=${FUZZ_CC:-clang}
out=build/fuzz
corpus=tests/fuzz/corpus
mkdir -p "$out" "$corpus"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)"; exit 1
fi
{
    printf '#include <stdint.h>\n#include <stddef.h>\n'
    printf 'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n'
} > "$out/probe.c"
if ! "$cc" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null; then
    echo "fuzz: $cc cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-14-dev)"; exit 1
fi

"$cc" -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
    tests/fuzz/fuzz_config.c sim/config/*.c -lm -o "$out/fuzz_config"

# Seeds: every experiment and fixture (copied under stable names; libFuzzer adds its own finds).
for f in experiments/*.toml tests/fixtures/config/good/*.toml tests/fixtures/config/good/inc/*.toml \
         tests/fixtures/config/bad/*.toml tests/fixtures/config/bad/inc/*.toml; do
    [ -f "$f" ] || continue
    name=seed-$(printf '%s' "$f" | tr '/' '_')
    [ -f "$corpus/$name" ] || cp "$f" "$corpus/$name"
done

# Dictionary: TOML punctuation and literals, and every schema key (from sim/config/schema.h).
{
    for t in '[' ']' '[[' '=' '.' ',' '#' '"' "'" '"""' '\\u' '\\U' '\\n' '{' '}' '_' 'e' 'E' '+' '-' \
             '0x' '0o' '0b' 'inf' 'nan' 'true' 'false' '1e' '0.5' '3e-4' '1_000' '[sweep]' 'include' \
             '[model]' '[train]' '[data]' '"micro"' '"global"' '"router"' '"geometry"' '"muon"'; do
        printf '"%s"\n' "$(printf '%s' "$t" | sed 's/\\/\\\\/g; s/"/\\"/g')"
    done
    sed -n 's/^ *X("\([a-z_.]*\)".*/"\1"/p' sim/config/schema.h
} > "$out/toml.dict"

status=0
"$out/fuzz_config" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -dict="$out/toml.dict" -artifact_prefix="$out/" -print_final_stats=1 "$corpus" >"$out/fuzz.log" 2>&1 || status=$?
tail -n 25 "$out/fuzz.log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log" | tail -n 1)
if [ $status -ne 0 ]; then
    echo "fuzz: FAILED after ${execs:-?} executions (log: $out/fuzz.log; crashing input in $out/)"
    exit $status
fi

# Keep the corpus small: merge it into a minimal set with the same coverage.
rm -rf "$out/corpus.min" && mkdir -p "$out/corpus.min"
if "$out/fuzz_config" -merge=1 -max_len=8192 "$out/corpus.min" "$corpus" >"$out/merge.log" 2>&1; then
    rm -f "$corpus"/* && cp "$out/corpus.min"/* "$corpus"/ 2>/dev/null || true
fi
echo "fuzz: ok, ${execs:-?} executions in ${secs} s; corpus: $(ls "$corpus" | wc -l) files in $corpus"
