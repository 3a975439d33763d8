#!/bin/sh
# Builds and runs every unit test in three builds (normal, OpenMP off, ASan+UBSan) and prints the
# total as "N passed, M failed, K skipped" on the last line, with what failed listed just above
# it. Exits non-zero if a build fails or any check fails (a skip is not a failure, but it is
# counted and its reason printed).
# Each test binary prints "<name>: N passed, M failed, K skipped" as its last line; scripts
# tests/e2e_*.sh (end-to-end checks of the program) and tests/check_*.sh (static checks of the
# source, e.g. check_layout.sh, or against an outside reference, check_torch.sh's PyTorch model;
# run once, with the first build) do the same, and so do tests/test_*.py
# (python, run once with the first build; counted as a skip without python3 >= 3.11). Builds use two jobs
# (TEST_JOBS), and the tests of a build run in two lanes side by side (TEST_LANES). Every skip
# prints a line
# containing "skipped: <why>", which is shown here.
set -u
MAKE=${MAKE:-make}
# moesim re-executes itself once to make its OpenMP threads wait passively unless OMP_WAIT_POLICY
# is set (sim/cli/wait_policy.c); setting it here spares the hundreds of test invocations that
# second start (30 ms each under ASan). Results do not depend on it; e2e_wait_policy.sh unsets it
# to test the re-execution itself.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
total_pass=0
total_fail=0
total_skip=0
status=0
failures=$(mktemp /tmp/moesim_failures.XXXXXX)
for cfg in "rel:" "noomp:OMP=0" "san:SAN=1"; do
    name=${cfg%%:*}
    flags=${cfg#*:}
    dir=build/$name
    echo "== build $name ${flags}"
    # both cores build (the objects are the same whatever the order)
    if ! $MAKE -s -j"${TEST_JOBS:-2}" BUILD=$dir $flags testbins >build-$name.log 2>&1; then
        cat build-$name.log
        echo "build $name failed"
        echo "  build $name failed (build-$name.log)" >>"$failures"
        total_fail=$((total_fail + 1)); status=1
        continue
    fi
    rm -f build-$name.log
    # check_*.sh read the source, not a build: once, with the first build
    static=; [ "$name" = rel ] && static=$(ls tests/check_*.sh tests/test_*.py)
    tests=
    for t in $dir/tests/test_* $dir/tests/dtest_* tests/e2e_*.sh $static; do
        [ -e "$t" ] || continue
        case $t in *.d|*.o) continue ;; esac
        tests="$tests $t"
    done
    # The tests run in TEST_LANES lanes side by side (2: the two cores; most tests use one), each
    # lane taking the next test not yet taken (mkdir is the atomic claim); the results are then
    # read in the list's order, so the report is the same whatever finished first. The longest
    # are taken first (the slowest six under ASan, measured; then the other scripts, each many
    # runs of the program), so that no lane is left running a long one alone at the end.
    R=$(mktemp -d /tmp/moesim_run.XXXXXX)
    slowest=" e2e_checkpoint.sh test_train e2e_keys.sh e2e_commands.sh e2e_cli.sh e2e_live.sh "
    jobs_slow=; jobs_scripts=; jobs_rest=; i=0
    for t in $tests; do
        i=$((i + 1))
        case "$slowest" in *" $(basename "$t") "*) jobs_slow="$jobs_slow $i:$t"; continue ;; esac
        case $t in *.sh) jobs_scripts="$jobs_scripts $i:$t" ;; *) jobs_rest="$jobs_rest $i:$t" ;; esac
    done
    lane() {
        for j in $jobs_slow $jobs_scripts $jobs_rest; do
            i=${j%%:*}; t=${j#*:}
            mkdir "$R/claim.$i" 2>/dev/null || continue
            t0=$(date +%s)
            case $t in
                *.sh) MOESIM=$dir/moesim BUILD_DIR=$dir sh "$t" >"$R/$i.out" 2>&1; echo $? >"$R/$i.rc" ;;
                *.py) if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
                          PYTHONDONTWRITEBYTECODE=1 python3 "$t" >"$R/$i.out" 2>&1; echo $? >"$R/$i.rc"
                      else
                          n=$(basename "$t" .py)
                          printf '%s: skipped: python3 >= 3.11 (tomllib) not found\n%s: 0 passed, 0 failed, 1 skipped\n' \
                              "$n" "$n" >"$R/$i.out"; echo 0 >"$R/$i.rc"
                      fi ;;
                *) ASAN_OPTIONS=detect_leaks=1 "$t" >"$R/$i.out" 2>&1; echo $? >"$R/$i.rc" ;;
            esac
            echo $(($(date +%s) - t0)) >"$R/$i.secs"
        done
    }
    l=0
    while [ $l -lt "${TEST_LANES:-2}" ]; do lane & l=$((l + 1)); done
    wait
    i=0
    for t in $tests; do
        i=$((i + 1))
        out=$(cat "$R/$i.out" 2>/dev/null); rc=$(cat "$R/$i.rc" 2>/dev/null || echo 1); secs=$(cat "$R/$i.secs" 2>/dev/null || echo 0)
        line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
        p=$(printf '%s' "$line" | sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p')
        f=$(printf '%s' "$line" | sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p')
        k=$(printf '%s' "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
        p=${p:-0}; f=${f:-0}; k=${k:-0}
        if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
            printf '%s\n' "$out" | tail -n 30
            [ "$f" -eq 0 ] && f=1
            # again under the total at the end, where a log's tail is read first
            { printf '  [%s] %s (exit %s):\n' "$name" "$(basename $t)" "$rc"
              printf '%s\n' "$out" | grep -E 'FAIL|rror' | head -n 8 | cut -c1-300 | sed 's/^/      /'; } >>"$failures"
            status=1
        fi
        printf '  [%s] %-28s %-40s %4ss\n' "$name" "$(basename $t)" "${line#*: }" "$secs"
        printf '%s\n' "$out" | grep 'skipped: ' | sed "s/^/    [$name] /"
        total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + k))
    done
    rm -rf "$R"
done
if [ -s "$failures" ]; then echo "what failed:"; cat "$failures"; fi
rm -f "$failures"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ $status -eq 0 ] && [ $total_fail -eq 0 ]
