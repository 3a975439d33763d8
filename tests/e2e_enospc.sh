#!/bin/sh
# e2e_enospc.sh — folders that are whole or absent, and writes that fail on a full disk. Every
# command (run, eval, generate, analyze, compare, export) runs under the ENOSPC shim
# (tests/fault/enospc.c: LD_PRELOAD, writes fail once MOESIM_FAULT_WRITE_BYTES bytes are written)
# at a few limits, over an earlier output and into a fresh folder, and must: exit 1; name a file
# and "No space left on device"; leave no *.tmp* anywhere; leave the earlier output whole (every
# file's bytes as before) or no folder at all; print no result. The limit total - half of
# complete.json fails in the marker, the file written last. Also: a repeated eval replaces the whole
# folder (no stale dump/), compare refuses a folder without complete.json, and --out refuses to
# replace a folder that is not a moesim output. Prints "e2e_enospc: N passed, M failed, K skipped".
# covers: sim/outdir.c sim/main.c sim/use/generate.c sim/tools/analyze.c sim/tools/compare.c
# covers: sim/tools/export.c sim/evaluate/saved.c sim/report/depth.c
set -u
MOESIM=${MOESIM:-./moesim}
BUILD_DIR=${BUILD_DIR:-build/rel}
SHIM=$(pwd)/$BUILD_DIR/tests/enospc.so
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_enospc: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_enospc.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml
S="--set train.seed=1 --set balance.scope=\"micro\" --set train.steps=4 --set eval.every=4"

# The shim after ASan's runtime when the program has one (ASan must come first in the list).
PRE=$SHIM
asan=$(ldd "$MOESIM" 2>/dev/null | sed -n 's/.*libasan[^ ]* => \([^ ]*\) .*/\1/p')
[ -n "$asan" ] && PRE="$asan $SHIM"
# under the shim: limit, then the command (stdout and stderr to $T/o, $T/e)
full() { n=$1; shift; MOESIM_FAULT_WRITE_BYTES=$n LD_PRELOAD="$PRE" "$@" >"$T/o" 2>"$T/e"; }
# every file's bytes of a folder, for "left whole"
snap() { (cd "$1" 2>/dev/null && find . -type f | sort | xargs md5sum) 2>/dev/null; }
bytes() { find "$1" -type f -exec cat {} + | wc -c; }
notmp() { [ -z "$(find "$T" -name '*.tmp*')" ]; }

if [ ! -f "$SHIM" ]; then
    echo "skipped: $SHIM not built (make testbins builds it)"; skip=1
    echo "e2e_enospc: 0 passed, 0 failed, $skip skipped"; exit 0
fi
# the shim works here: with no byte to spare, export fails
full 0 $MOESIM export $FX $S --out "$T/probe"; rc=$?
rm -rf "$T/probe"*
if [ $rc -eq 0 ]; then
    echo "skipped: the LD_PRELOAD shim has no effect here ($(head -c 200 "$T/e"))"; skip=1
    echo "e2e_enospc: 0 passed, 0 failed, $skip skipped"; exit 0
fi
ok

# ---- earlier outputs, written without the shim -----------------------------------------------
$MOESIM run $FX $S --out "$T/r" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/r/run/model/state.json" ]' "setup: run exit $rc"
R=$T/r/run
$MOESIM eval "$R" --set eval.dump=true --out "$T/ev" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -d "$T/ev/dump" ] && [ -s "$T/ev/complete.json" ]' "setup: eval exit $rc, or no dump/ or complete.json"
check 'grep -q "\"command\": \"eval\"" "$T/ev/complete.json"' "complete.json does not name the command"
mkdir -p "$T/in"
for l in 0 1; do
    cp "$T/ev/dump/blocks.$l.hidden.npy" "$T/in/layer$l.hidden.npy"
    cp "$T/ev/dump/blocks.$l.router.npy" "$T/in/layer$l.router.npy"
done
GEN="generate $R --prompts 2 --samples 2 --tokens 4"
ANA="analyze --hidden $T/in/layer0.hidden.npy --router $T/in/layer0.router.npy --top-k 2 --seq-len 8"
LAY="analyze --layers $T/in --top-k 2"
$MOESIM $GEN --out "$T/g" >/dev/null 2>&1 && $MOESIM $GEN --seed 2 --out "$T/g2" >/dev/null 2>&1 &&
    $MOESIM $ANA --out "$T/a" >/dev/null 2>&1 && $MOESIM $LAY --out "$T/al" >/dev/null 2>&1 &&
    $MOESIM compare "$T/g" "$T/g2" --out "$T/c" >/dev/null 2>&1 && $MOESIM export $FX $S --out "$T/x" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ]' "setup: generate, analyze, compare or export failed (exit $rc)"

# ---- a repeated eval replaces the whole folder: no dump/ from the first --------------------
$MOESIM eval "$R" --out "$T/ev" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ ! -e "$T/ev/dump" ] && [ -s "$T/ev/eval.csv" ]' "a repeated eval without eval.dump left the first eval's dump/ (exit $rc)"

# ---- compare refuses a folder that is not complete -----------------------------------------
cp -r "$T/g2" "$T/gi" && rm "$T/gi/complete.json"
$MOESIM compare "$T/g" "$T/gi" --out "$T/ci" >"$T/o" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && grep -q "$T/gi" "$T/e" && grep -q "complete.json" "$T/e" && [ ! -e "$T/ci" ]' "compare of a folder without complete.json: exit $rc, expected 2 naming it ($(cat "$T/e"))"

# ---- --out never replaces what is not a moesim output ----------------------------------------
mkdir -p "$T/mine" && echo keep >"$T/mine/notes.txt"
$MOESIM $GEN --out "$T/mine" >"$T/o" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && [ "$(cat "$T/mine/notes.txt")" = keep ] && grep -q "not a moesim output" "$T/e"' "generate --out over someone's folder: exit $rc, expected 2 and the folder untouched"
# a dead writer's temporary sibling is removed, never read
mkdir -p "$T/g.tmp.999999999" && echo junk >"$T/g.tmp.999999999/tokens.npy"
$MOESIM $GEN --out "$T/g" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ ! -e "$T/g.tmp.999999999" ]' "a dead writer's g.tmp.<pid> was not cleaned (exit $rc)"
rm -rf "$T/g.tmp.999999999"

# ---- the depth plots (report/depth.c): the limit falls inside the first .svg ------------------
n=$(( $(bytes "$T/al") - $(bytes "$T/al/plots") - $(wc -c <"$T/al/complete.json" 2>/dev/null || echo 0) + 100 ))
full $n $MOESIM $LAY --out "$T/ald"; rc=$?
check '[ $rc -eq 1 ] && grep -q "depth_energy.svg: No space left on device" "$T/e"' "analyze --layers failing in depth_energy.svg: exit $rc, $(head -c 300 "$T/e")"
check 'notmp && [ ! -e "$T/ald" ]' "analyze --layers failing in depth_energy.svg left $(find "$T" -name '*.tmp*' | head -3)"
rm -rf "$T/ald"

# ---- each command under the shim --------------------------------------------------------------
# fails NAME DIR CMD...: at N = 0, half and total - half the marker bytes over the earlier DIR, and at
# half into a fresh folder: exit 1, a file named with ENOSPC, no *.tmp*, DIR whole, nothing printed
# as a result. CMD's settings differ from DIR's (another seed...): a mixed folder would show.
fails() {
    name=$1; dir=$2; shift 2
    total=$(bytes "$dir"); before=$(snap "$dir"); mark=$(wc -c <"$dir/complete.json" 2>/dev/null || echo 2)
    for n in 0 $((total / 2)) $((total - mark / 2)); do
        full $n "$@" --out "$dir"; rc=$?
        check '[ $rc -eq 1 ]' "$name at $n of $total bytes: exit $rc, expected 1 ($(head -c 300 "$T/e"))"
        check 'grep -q "$T/[^ ]*: No space left on device" "$T/e"' "$name at $n bytes: no file named with the system's reason: $(head -c 300 "$T/e")"
        check 'notmp' "$name at $n bytes: left $(find "$T" -name '*.tmp*' | head -3)"
        check '[ "$(snap "$dir")" = "$before" ]' "$name at $n bytes: the earlier output $dir is not whole"
        check '[ ! -s "$T/o" ] && ! grep -q "^moesim: \(wrote\|generated\|diversity\|evaluated\|analyzed\|exported\)" "$T/e"' "$name at $n bytes: a result was printed"
    done
    full $((total / 2)) "$@" --out "$T/fresh"; rc=$?
    check '[ $rc -eq 1 ] && [ ! -e "$T/fresh" ] && notmp' "$name into a fresh folder: exit $rc, or a partial folder or *.tmp* left"
}
fails eval "$T/ev" $MOESIM eval "$R" --set eval.pairs=50 --set eval.dump=true
fails generate "$T/g" $MOESIM $GEN --seed 3
fails analyze "$T/a" $MOESIM $ANA --pairs 100
fails "analyze --layers" "$T/al" $MOESIM $LAY --pairs 100
fails compare "$T/c" $MOESIM compare "$T/g" "$T/g2" --top-p 0.5
fails export "$T/x" $MOESIM export $FX $S --set train.seed=2

# run: exit 1, the file and the reason, no *.tmp* (its run folder keeps a failed manifest to resume)
total=$(bytes "$T/r")
full $((total / 2)) $MOESIM run $FX $S --out "$T/rf" --quiet; rc=$?
check '[ $rc -eq 1 ] && grep -q "No space left on device" "$T/e" && notmp' "run at $((total / 2)) bytes: exit $rc, $(head -c 300 "$T/e"), $(find "$T" -name '*.tmp*' | head -3)"

# its lock file is its first write: a full disk there is a failure (exit 1), not a refusal (2)
for d in "$T/rl" "$T/r"; do
    full 0 $MOESIM run $FX $S --out "$d" --quiet; rc=$?
    check '[ $rc -eq 1 ] && grep -q "moesim.lock: No space left on device" "$T/e"' "run at 0 bytes into $d: exit $rc, expected 1 naming moesim.lock ($(head -c 300 "$T/e"))"
done
# ... and no report is built, nor results shown, for a call that ran nothing
full 0 $MOESIM run $FX $S --out "$T/rl2"; rc=$?
check '[ $rc -eq 1 ] && ! grep -q "report\|results in" "$T/e" && [ ! -s "$T/o" ]' "run at 0 bytes: a report or results after a failure before any run: $(grep -v "^ " "$T/e" | head -c 300)"


echo "e2e_enospc: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
