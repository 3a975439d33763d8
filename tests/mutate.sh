#!/bin/sh
# mutate.sh — mutation testing, our own: each line of tests/mutants.txt is one plausible bug,
#   <path> <sed script>
# (the script finds its line by code content, never by line number). Each mutant is applied
# alone to a copy of the working tree, which is rebuilt (`make testbins` in its own BUILD) and run
# with the fast test configuration: the normal build's unit tests, then tests/e2e_*.sh, stopping
# at the first failure. A mutant is `killed` when a test fails (or times out), `SURVIVED` when
# every test passes, and an `ERROR` when its sed changes nothing or the mutated tree does not
# compile: a mutant that was never run is never counted as survived. Prints the totals and the
# runtime; exits non-zero if any mutant survived or errored.
#   sh tests/mutate.sh [mutants file] [only mutants whose line contains this text]
set -u
LIST=${1:-tests/mutants.txt}
ONLY=${2:-}
MAKE=${MAKE:-make}
TIMEOUT=${MUTATE_TIMEOUT:-600}  # seconds per test program: an endless loop counts as killed
t0=$(date +%s)
W=$(mktemp -d /tmp/moesim_mutate.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
mkdir "$W/tree"
tar --exclude=./.git --exclude=./build --exclude=./results --exclude=./moesim -cf - . | tar -xf - -C "$W/tree"
cp "$LIST" "$W/mutants.txt"
cd "$W/tree" || exit 2

# The fast configuration: every test program of the normal build, the quick ones first so most
# mutants die early (then any program not named here), then the e2e scripts. Prints the killer.
FIRST="test_world test_optim test_metrics dtest_layers test_config test_nn dtest_model test_report test_train"
run_tests() {
    seen=
    for t in $FIRST $(cd "$W/build/tests" && ls test_* dtest_* | grep -v '\.d$'); do
        case " $seen " in *" $t "*) continue ;; esac
        seen="$seen $t"
        [ -x "$W/build/tests/$t" ] || { echo "$t (missing)"; return 1; }
        timeout "$TIMEOUT" "$W/build/tests/$t" >"$W/out" 2>&1 || { echo "$t"; return 1; }
    done
    for t in tests/e2e_*.sh; do
        MOESIM=$W/build/moesim BUILD_DIR=$W/build timeout "$TIMEOUT" sh "$t" >"$W/out" 2>&1 || { echo "$(basename "$t")"; return 1; }
    done
    return 0
}

echo "mutate: building and testing the unmutated tree"
if ! $MAKE -s BUILD="$W/build" testbins >"$W/build.log" 2>&1; then cat "$W/build.log"; echo "mutate: the unmutated tree does not build"; exit 2; fi
if who=$(run_tests); then :; else tail -n 20 "$W/out"; echo "mutate: the unmutated tree fails $who"; exit 2; fi

killed=0; survived=0; errors=0; n=0; lineno=0
while IFS= read -r line; do
    lineno=$((lineno + 1))
    case $line in ''|'#'*) continue ;; esac
    [ -n "$ONLY" ] && case $line in *"$ONLY"*) ;; *) continue ;; esac
    n=$((n + 1))
    file=${line%% *}
    script=${line#* }
    m0=$(date +%s)
    tag=$(printf '%3d  %-28s line %3d' "$n" "$file" "$lineno")
    if [ ! -f "$file" ]; then echo "$tag  ERROR    no such file"; errors=$((errors + 1)); continue; fi
    cp "$file" "$W/orig"
    if ! sed -e "$script" "$W/orig" >"$W/mutant" 2>"$W/sed.err"; then
        echo "$tag  ERROR    sed: $(cat "$W/sed.err")"; errors=$((errors + 1)); continue
    fi
    if cmp -s "$W/orig" "$W/mutant"; then
        echo "$tag  ERROR    the sed script changes nothing (the code moved?)"; errors=$((errors + 1)); continue
    fi
    cp "$W/mutant" "$file"
    if ! $MAKE -s BUILD="$W/build" testbins >"$W/build.log" 2>&1; then
        echo "$tag  ERROR    does not compile: $(grep -m1 'error' "$W/build.log")"; errors=$((errors + 1))
    elif who=$(run_tests); then
        echo "$tag  SURVIVED ($(($(date +%s) - m0)) s)"; survived=$((survived + 1))
    else
        echo "$tag  killed   by $who ($(($(date +%s) - m0)) s)"; killed=$((killed + 1))
    fi
    cp "$W/orig" "$file"  # a fresh mtime: make rebuilds what the mutant touched
done <"$W/mutants.txt"

echo "mutate: $n mutants: $killed killed, $survived survived, $errors errors; $(($(date +%s) - t0)) s"
[ "$survived" -eq 0 ] && [ "$errors" -eq 0 ]
