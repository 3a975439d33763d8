#!/bin/sh
# e2e_analyze.sh — `moesim analyze` on inputs as real models produce them (issue 16): the same
# hidden states as float16, bfloat16 bits, float64, Fortran order and B x T x D give exactly the
# measurements of the equivalent float32 C-order N x D input with --seq-len; the model's own
# choices (--topk-file) equal to the logits' top-K change nothing, and different ones change the
# mask-based keys only; a folder of layers (--layers) gives each layer's analysis.json, a
# depth.csv and the depth plots; bad inputs exit 2 naming the file, crafted .npy headers (a
# wrapping shape, a file shorter than its shape, trailing bytes) included. The forms are written by
# tests/verify_npy_forms.py (Python standard library); without Python 3 those checks print
# "skipped: <why>" and are counted. Prints "e2e_analyze: N passed, M failed, K skipped".
# covers: sim/tools/analyze.c sim/report/depth.c sim/io.c sim/npy_read.c sim/main.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0; skipped=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_analyze: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
skip() { skipped=$((skipped + 1)); echo "e2e_analyze: skipped: $*"; }
T=$(mktemp -d /tmp/moesim_analyze.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

# a small trained model's evaluation states (128 tokens = 16 sequences of 8, D = 16, E = 4, K = 2)
$MOESIM run tests/fixtures/e2e/tiny.toml --set train.seed=1 --set 'balance.scope="micro"' --set eval.dump=true \
    --set train.save_model=false --out "$T/run" --quiet >/dev/null 2>&1
D=$T/run/run/dump
tail -n +2 "$T/run/run/truncation.csv" >"$T/run/run/truncation.csv.rows" 2>/dev/null
check '[ -s "$D/blocks.0.hidden.npy" ] && [ -s "$D/blocks.1.router.npy" ]' "no dump to analyze"
an() {  # an OUT ARGS...: analyze the layer-0 router over the given hidden states
    out=$1; shift
    $MOESIM analyze --router "$D/blocks.0.router.npy" --top-k 2 --out "$T/$out" "$@" >"$T/$out.log" 2>&1
}

if ! command -v python3 >/dev/null 2>&1; then
    skip "python3 is not installed: the float16, bfloat16, float64, Fortran-order, B x T x D and --topk-file forms are not written"
else
    F=$T/forms
    mkdir -p "$F"
    python3 tests/verify_npy_forms.py make "$D/blocks.0.hidden.npy" "$D/blocks.0.router.npy" 8 "$F"
    same() { python3 tests/verify_npy_forms.py same "$@" >/dev/null; }
    an base --hidden "$D/blocks.0.hidden.npy" --seq-len 8
    an f16 --hidden "$F/f16.npy" --seq-len 8;            an f16r --hidden "$F/f16_as32.npy" --seq-len 8
    an bf16 --hidden "$F/bf16.npy" --seq-len 8 --dtype bfloat16
    an bf16r --hidden "$F/bf16_as32.npy" --seq-len 8
    an f64 --hidden "$F/f64.npy" --seq-len 8
    an fortran --hidden "$F/fortran.npy" --seq-len 8
    an btd --hidden "$F/btd.npy"
    an topk --hidden "$D/blocks.0.hidden.npy" --seq-len 8 --topk-file "$F/topk.npy"
    an rev --hidden "$D/blocks.0.hidden.npy" --seq-len 8 --topk-file "$F/topk_rev.npy"
    check 'same "$T/f16/analysis.json" "$T/f16r/analysis.json"' "float16 input differs from its values as float32"
    check '! same "$T/f16/analysis.json" "$T/base/analysis.json" energy_first router_confidence' "float16 rounding changed nothing: the float16 test is vacuous"
    check 'same "$T/bf16/analysis.json" "$T/bf16r/analysis.json"' "bfloat16 bits differ from their values as float32"
    check 'same "$T/f64/analysis.json" "$T/base/analysis.json"' "float64 input differs from float32"
    check 'same "$T/fortran/analysis.json" "$T/base/analysis.json"' "Fortran-order input differs from C order"
    check 'same "$T/btd/analysis.json" "$T/base/analysis.json"' "B x T x D input differs from N x D with --seq-len"
    check 'grep -q "\"seq_len\": 8" "$T/btd/analysis.json"' "B x T x D did not give the sequences"
    check 'same "$T/topk/analysis.json" "$T/base/analysis.json"' "--topk-file with the logits' own top-K changed the measurements"
    check '! same "$T/rev/analysis.json" "$T/base/analysis.json" hamming_similarity && same "$T/rev/analysis.json" "$T/base/analysis.json" cosine_hidden energy_first router_confidence' "--topk-file with other choices: mask keys must change, the others not"
    # a bfloat16 file read without --dtype is an error naming the flag
    an bf16bad --hidden "$F/bf16.npy" --seq-len 8; rc=$?
    check '[ $rc -eq 2 ] && grep -q -- "--dtype bfloat16" "$T/bf16bad.log"' "2-byte bits without --dtype: expected exit 2 naming --dtype bfloat16 (exit $rc)"
fi

# a folder of layers: per-layer analysis.json equal to single-layer calls, depth.csv, plots
L=$T/layers
mkdir -p "$L"
for l in 0 1; do
    cp "$D/blocks.$l.hidden.npy" "$L/layer$l.hidden.npy"
    cp "$D/blocks.$l.router.npy" "$L/layer$l.router.npy"
done
$MOESIM analyze --layers "$L" --top-k 2 --seq-len 8 --out "$T/depth" >"$T/depth.log" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/depth/layer0/analysis.json" ] && [ -s "$T/depth/layer1/analysis.json" ]' "--layers: per-layer analysis.json (exit $rc)"
check '[ $(wc -l <"$T/depth/depth.csv") -eq 3 ]' "--layers: depth.csv should have a header and 2 rows"
check '[ -n "$(ls "$T/depth/plots/"depth_*.svg 2>/dev/null)" ]' "--layers: no depth plots"
# truncation.csv in the trainer's layout, layer = i: the layers' rows together are the run's file
check 'head -1 "$T/depth/layer1/truncation.csv" | grep -qx "layer,rank,m,agreement" && [ -z "$(tail -n +2 "$T/depth/layer1/truncation.csv" | grep -v "^1,")" ]' "--layers: layer1/truncation.csv should be layer,rank,m,agreement with layer 1"
check 'tail -q -n +2 "$T/depth/layer0/truncation.csv" "$T/depth/layer1/truncation.csv" | cmp -s - "$T/run/run/truncation.csv.rows"' "--layers: truncation.csv rows differ from the run's truncation.csv"
$MOESIM analyze --hidden "$D/blocks.1.hidden.npy" --router "$D/blocks.1.router.npy" --top-k 2 --seq-len 8 --out "$T/one1" >/dev/null 2>&1
if command -v python3 >/dev/null 2>&1; then
    check 'python3 tests/verify_npy_forms.py same "$T/depth/layer1/analysis.json" "$T/one1/analysis.json" >/dev/null' "--layers: layer 1 differs from analyzing it alone"
else
    skip "python3 is not installed: layer 1 of --layers is not compared with a single call"
fi

# bad inputs: exit 2, the file named, nothing written
printf 'not an npy' >"$T/junk.npy"
an junk --hidden "$T/junk.npy"; rc=$?
check '[ $rc -eq 2 ] && grep -q "junk.npy" "$T/junk.log" && [ ! -e "$T/junk/analysis.json" ]' "a corrupt .npy: expected exit 2 naming it (exit $rc)"
an miss --hidden "$T/none.npy"; rc=$?
check '[ $rc -eq 2 ] && grep -q "none.npy" "$T/miss.log"' "a missing .npy: expected exit 2 naming it (exit $rc)"
# crafted headers (issue 21): a shape whose element count wraps size_t ((2^62 + 1) x 16 = 16 mod
# 2^64: 64 bytes "fit"; it crashed analyze), and a 4 KB file claiming 2^40 rows ("out of memory")
craft() {  # craft FILE SHAPE NBYTES: a float32 .npy header (numpy's padding) and NBYTES zero bytes
    h="{'descr': '<f4', 'fortran_order': False, 'shape': $2, }"
    while [ $(((10 + ${#h} + 1) % 64)) -ne 0 ]; do h="$h "; done
    n=$((${#h} + 1))
    { printf '\223NUMPY\001\000'; printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256)))"
      printf '%s\n' "$h"; head -c "$3" /dev/zero; } >"$1"
}
craft "$T/wrap.npy" "(4611686018427387905, 16)" 64
an wrap --hidden "$T/wrap.npy"; rc=$?
check '[ $rc -eq 2 ] && grep -q "wrap.npy: shape (4611686018427387905, 16) has more elements than this machine can count" "$T/wrap.log" && [ ! -e "$T/wrap/analysis.json" ]' \
    "a shape whose element count wraps: expected exit 2 naming it (exit $rc: $(head -c 300 "$T/wrap.log"))"
craft "$T/huge.npy" "(1099511627776, 16)" 3968
an huge --hidden "$T/huge.npy"; rc=$?
check '[ $rc -eq 2 ] && grep -q "huge.npy: shape (1099511627776, 16) needs 70368744177664 bytes but the file holds 3968 after its header" "$T/huge.log"' \
    "2^40 rows in a 4 KB file: expected exit 2, the file shorter than its shape (exit $rc: $(head -c 300 "$T/huge.log"))"
craft "$T/trail.npy" "(8, 16)" 520
an trail --hidden "$T/trail.npy"; rc=$?
check '[ $rc -eq 2 ] && grep -q "trail.npy: 8 bytes after the data" "$T/trail.log"' "trailing bytes: expected exit 2 (exit $rc: $(head -c 300 "$T/trail.log"))"
# a NaN in the hidden states: the file's fault (exit 2 naming it and the element), not the work's
craft "$T/nan.npy" "(8, 16)" 512
printf '\000\000\300\177' | dd of="$T/nan.npy" bs=1 seek=$(( $(wc -c <"$T/nan.npy") - 4 )) conv=notrunc 2>/dev/null
an nan --hidden "$T/nan.npy"; rc=$?
check '[ $rc -eq 2 ] && grep -q "nan.npy: hidden state 7, column 15 is NaN" "$T/nan.log" && [ ! -e "$T/nan" ]' \
    "a NaN in the hidden states: expected exit 2 naming the file and the element (exit $rc: $(head -c 300 "$T/nan.log"))"
# empty arrays: 2^40 rows of 0 columns hold no byte; refused before any allocation
craft "$T/empty_h.npy" "(1099511627776, 0)" 0
craft "$T/empty_p.npy" "(4, 0)" 0
$MOESIM analyze --hidden "$T/empty_h.npy" --router "$T/empty_p.npy" --top-k 2 --out "$T/empty" >"$T/empty.log" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "N = 1099511627776 hidden states, D = 0, E = 4 experts: each must be 1..2147483647" "$T/empty.log"' \
    "empty arrays: expected exit 2 (exit $rc: $(head -c 300 "$T/empty.log"))"
mkdir -p "$T/emptylayers"
$MOESIM analyze --layers "$T/emptylayers" --top-k 2 --out "$T/el" >"$T/el.log" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "emptylayers" "$T/el.log"' "--layers on a folder without layers: expected exit 2 (exit $rc)"

echo "e2e_analyze: $pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
