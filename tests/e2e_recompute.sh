#!/bin/sh
# e2e_recompute.sh — train.recompute (issue 26) end to end: a short run with and without it
# writes the same result files bit for bit (timing fields and the key's own line aside), and the
# memory estimate (--dry-run) counts less activation memory with it. The key changes no result, so
# a finished run stays done and a checkpoint resumes when only it differs: a run that diverged
# after its checkpoint (MOESIM_INJECT_NAN) resumes with the other value to the same result files.
# Prints "e2e_recompute: N passed, M failed, K skipped".
# covers: sim/train/memory.c sim/evaluate/evaluate.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_recompute: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_recompute.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml
# one point of the tiny sweep, three layers (the middle one is recomputed), evaluations included
S="--set train.seed=1 --set balance.scope=\"micro\" --set model.layers=3 --set train.steps=12 --set eval.every=6 --set train.checkpoint_every=6 --set eval.prune_keep=2"

for r in false true; do
    $MOESIM run $FX $S --set train.recompute=$r --out "$T/$r" --quiet >"$T/$r.out" 2>&1; rc=$?
    check '[ $rc -eq 0 ]' "run with train.recompute=$r: exit $rc ($(head -c 300 "$T/$r.out"))"
done
# every file of the run but the ones that name the key or the time: metrics.csv without its
# timing column (tokens_per_s, the last), manifest.json, config.toml (and the copies in model/
# and checkpoint/, which their state.json's checksums cover)
n=0; differ=""
for f in $(cd "$T/false/run" && find . -type f | sort); do
    case "$f" in
    ./manifest.json|./config.toml|./*/config.toml|./*/state.json) continue ;;
    ./metrics.csv) sed 's/,[^,]*$//' "$T/false/run/$f" >"$T/m1"; sed 's/,[^,]*$//' "$T/true/run/$f" >"$T/m2"
                   cmp -s "$T/m1" "$T/m2" || differ="$differ $f" ;;
    *) cmp -s "$T/false/run/$f" "$T/true/run/$f" || differ="$differ $f" ;;
    esac
    n=$((n + 1))
done
check '[ -z "$differ" ]' "result files differ with train.recompute:$differ"
check '[ $n -ge 8 ]' "only $n result files compared (the comparison would prove little)"
check 'cmp -s "$T/false/run/model/params/blocks.1.w1.npy" "$T/true/run/model/params/blocks.1.w1.npy"' \
    "the trained middle layer's w1 differs"
# the only difference in the config: the key itself
check '[ "$(diff "$T/false/run/config.toml" "$T/true/run/config.toml" | grep -c "^[<>]")" -eq 2 ]' \
    "config.toml differs in more than train.recompute"

# a finished run is done for the other value: nothing runs again (its manifest stays as it was)
cp "$T/false/run/manifest.json" "$T/manifest.before"
$MOESIM run $FX $S --set train.recompute=true --out "$T/false" --quiet >"$T/again.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/manifest.before" "$T/false/run/manifest.json"' \
    "a finished run ran again (or failed, exit $rc) when only train.recompute changed: $(head -c 300 "$T/again.out")"
# a checkpoint of recompute = false resumes with true, to the uninterrupted run's result files
MOESIM_INJECT_NAN=10 $MOESIM run $FX $S --set train.recompute=false --out "$T/res" --quiet >"$T/res1.out" 2>&1
check 'grep -q "\"status\": \"diverged\"" "$T/res/run/manifest.json" && [ -d "$T/res/run/checkpoint" ]' \
    "the injected divergence left no diverged run with a checkpoint"
$MOESIM run $FX $S --set train.recompute=true --out "$T/res" --quiet >"$T/res2.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"resumed_from\": 6" "$T/res/run/manifest.json"' \
    "no resume from step 6 with the other train.recompute (exit $rc): $(head -c 300 "$T/res2.out")"
differ=""
for f in eval.csv layers.csv experts.csv pairs.csv removal.csv truncation.csv model/params/blocks.1.w1.npy; do
    cmp -s "$T/true/run/$f" "$T/res/run/$f" || differ="$differ $f"
done
sed 's/,[^,]*$//' "$T/true/run/metrics.csv" >"$T/m1"; sed 's/,[^,]*$//' "$T/res/run/metrics.csv" >"$T/m2"
cmp -s "$T/m1" "$T/m2" || differ="$differ metrics.csv"
check '[ -z "$differ" ]' "the resumed run's result files differ from the uninterrupted one:$differ"

# the estimate: activations smaller with recompute (std-like shape, where they dominate)
act() { $MOESIM run $FX $S --set model.d_model=64 --set model.d_ff=128 --set train.recompute=$1 --dry-run --out "$T/dry" 2>&1 |
        sed -n 's/^memory: the largest run.*activations \([0-9.]*\) \([KMG]i*B\).*/\1 \2/p'; }
a0=$(act false); a1=$(act true)
check '[ -n "$a0" ] && [ -n "$a1" ] && [ "$a0" != "$a1" ]' "--dry-run activations: '$a0' without, '$a1' with recompute"
kib() { echo "$1" | awk '{ m = $2 == "KiB" ? 1 : $2 == "MiB" ? 1024 : $2 == "GiB" ? 1048576 : 1 / 1024; print $1 * m }'; }
check 'awk -v x="$(kib "$a0")" -v y="$(kib "$a1")" "BEGIN { exit !(y + 0 < x + 0) }"' \
    "--dry-run activations not smaller with recompute: '$a0' without, '$a1' with"
check '[ ! -e "$T/dry" ]' "--dry-run made its folder"

echo "e2e_recompute: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
