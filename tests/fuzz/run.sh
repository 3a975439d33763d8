#!/bin/sh
# Fuzzes the experiment-file parser and the .npy reader with libFuzzer for a bounded time each and
# keeps their corpora.
#
#   sh tests/fuzz/run.sh [SECONDS]      (default 60 per target; also FUZZ_SECONDS)   — `make fuzz`
#   FUZZ_TARGETS="npy" sh tests/fuzz/run.sh 30      (default "config npy")
#
# Needs clang with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev). Builds
# build/fuzz/fuzz_<target> with ASan + UBSan.
#   config: seeds tests/fuzz/corpus/ from experiments/*.toml and the config fixtures, fuzzes with a
#           dictionary of TOML tokens and schema keys.
#   npy:    seeds tests/fuzz/corpus_npy/ from tests/fuzz/npy_seeds/ (valid forms and hostile headers:
#           wrapping and huge shapes, negative dimensions, broken dicts, truncated data, trailing
#           bytes, wrong descr, Fortran order, header lengths past the end...), fuzzes with a
#           dictionary of .npy header tokens.
# Then minimizes each corpus in place. Exits non-zero if a fuzzer found a crash (the input is left
# in build/fuzz/).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-${FUZZ_SECONDS:-60}}
targets=${FUZZ_TARGETS:-config npy}
cc=${FUZZ_CC:-clang}
out=build/fuzz
mkdir -p "$out"

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
build() {  # build NAME SOURCES...
    name=$1; shift
    "$cc" -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror "$@" -lm -o "$out/fuzz_$name"
}
tok() { printf '"%s"\n' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# fuzz NAME CORPUS MAX_LEN: runs one target, then minimizes its corpus; status in $status
fuzz() {
    name=$1 corpus=$2 max=$3
    status=0
    "$out/fuzz_$name" -max_total_time="$secs" -max_len="$max" -timeout=10 -rss_limit_mb=2048 \
        -dict="$out/$name.dict" -artifact_prefix="$out/" -print_final_stats=1 "$corpus" >"$out/fuzz_$name.log" 2>&1 || status=$?
    tail -n 25 "$out/fuzz_$name.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz_$name.log" | tail -n 1)
    if [ $status -ne 0 ]; then
        echo "fuzz: $name FAILED after ${execs:-?} executions (log: $out/fuzz_$name.log; crashing input in $out/)"
        return
    fi
    # Keep the corpus small: merge it into a minimal set with the same coverage.
    rm -rf "$out/corpus.min" && mkdir -p "$out/corpus.min"
    if "$out/fuzz_$name" -merge=1 -max_len="$max" "$out/corpus.min" "$corpus" >"$out/merge_$name.log" 2>&1; then
        rm -f "$corpus"/* && cp "$out/corpus.min"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "fuzz: $name ok, ${execs:-?} executions in ${secs} s; corpus: $(ls "$corpus" | wc -l) files in $corpus"
}

failed=0
for t in $targets; do
    case $t in
    config)
        build config tests/fuzz/fuzz_config.c sim/config/*.c
        corpus=tests/fuzz/corpus
        mkdir -p "$corpus"
        # Seeds: every experiment and fixture (copied under stable names; libFuzzer adds its own finds).
        for f in experiments/*.toml tests/fixtures/config/good/*.toml tests/fixtures/config/good/inc/*.toml \
                 tests/fixtures/config/bad/*.toml tests/fixtures/config/bad/inc/*.toml; do
            [ -f "$f" ] || continue
            name=seed-$(printf '%s' "$f" | tr '/' '_')
            [ -f "$corpus/$name" ] || cp "$f" "$corpus/$name"
        done
        # Dictionary: TOML punctuation and literals, and every schema key (from sim/config/schema.h).
        {
            for t2 in '[' ']' '[[' '=' '.' ',' '#' '"' "'" '"""' '\\u' '\\U' '\\n' '{' '}' '_' 'e' 'E' '+' '-' \
                     '0x' '0o' '0b' 'inf' 'nan' 'true' 'false' '1e' '0.5' '3e-4' '1_000' '[sweep]' 'include' \
                     '[model]' '[train]' '[data]' '"micro"' '"global"' '"router"' '"geometry"' '"muon"'; do
                tok "$t2"
            done
            sed -n 's/^ *X("\([a-z_.]*\)".*/"\1"/p' sim/config/schema.h
        } > "$out/config.dict"
        fuzz config "$corpus" 8192 ;;
    npy)
        build npy tests/fuzz/fuzz_npy.c sim/npy_read.c sim/io.c
        corpus=tests/fuzz/corpus_npy
        mkdir -p "$corpus"
        for f in tests/fuzz/npy_seeds/*.npy; do
            [ -f "$corpus/seed-${f##*/}" ] || cp "$f" "$corpus/seed-${f##*/}"
        done
        # Dictionary: the header's keys, values and punctuation, dimensions that wrap size_t.
        {
            for t2 in "'descr'" "'fortran_order'" "'shape'" '"descr"' 'True' 'False' "'<f4'" "'<f8'" "'<f2'" \
                      "'<i4'" "'<i8'" "'<u2'" "'<i2'" "'|V2'" "'>f4'" '{' '}' '(' ')' ', ' ': ' '-1' '0' \
                      '18446744073709551615' '18446744073709551616' '4611686018427387905' '1099511627776' \
                      '4294967296'; do
                tok "$t2"
            done
            printf '"\\x93NUMPY\\x01\\x00"\n"\\x93NUMPY\\x02\\x00"\n"\\x93NUMPY\\x03\\x00"\n"\\xff\\xff\\xff\\xff"\n'
        } > "$out/npy.dict"
        fuzz npy "$corpus" 16384 ;;
    *) echo "fuzz: unknown target '$t' (config, npy)"; exit 2 ;;
    esac
    [ $status -eq 0 ] || failed=$status
done
exit $failed
