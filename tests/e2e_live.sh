#!/bin/sh
# e2e_live.sh — the live view end to end: `moesim run --live` on a terminal (a pseudo-terminal made
# by script(1)) writes the same result files as a run without it, at -j 1 and -j 2, draws on the
# alternate screen and prints today's tables after; Ctrl-C during --live leaves the terminal clean
# (cursor shown, alternate screen left) and the run resumable to the uninterrupted result;
# `moesim watch` follows a run started in the background, sees evaluations while it runs (the
# growing files are flushed at each evaluation) and exits when it ends; and a folder that is not a
# results folder is exit 2. Without script(1) the --live checks are counted skips.
# Prints "e2e_live: N passed, M failed, K skipped".
# covers: sim/tools/watch.c sim/report/live.c sim/train/train.c sim/main.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_live: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_live.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
case $MOESIM in /*) ;; *) MOESIM=$(pwd)/$MOESIM ;; esac
# two runs (micro, global) of the tiny world
grep -v '"train.seed"' tests/fixtures/e2e/tiny.toml >"$T/two.toml"
# long enough to be watched (every 0.02 s) and interrupted in any build (OpenMP's overhead per
# step is small beside a step of 32 sequences of 16 tokens); one layer, two domains: an evaluation
# adds 8 rows (136 bytes) to experts.csv, so without the flush at each evaluation nothing of it
# would reach the disk before the end (a 4 KB buffer; no checkpoints, which flush too)
LONG="--set train.steps=150 --set eval.every=10 --set model.layers=1 --set data.domains=2"
LONG="$LONG --set train.batch=32 --set model.seq_len=16 --set model.d_model=32"
export OMP_NUM_THREADS=1  # the same results at any thread count; one thread: steadier timing

# every result file the same, timing fields aside
same_results() {
    for r in "scope=micro" "scope=global"; do
        for f in layers.csv eval.csv experts.csv pairs.csv removal.csv config.toml; do
            cmp -s "$1/$r/$f" "$2/$r/$f" || { echo "e2e_live: $r/$f differs" >&2; return 1; }
        done
        cut -d, -f1-7 "$1/$r/metrics.csv" >"$T/m1"; cut -d, -f1-7 "$2/$r/metrics.csv" >"$T/m2"
        cmp -s "$T/m1" "$T/m2" || { echo "e2e_live: $r/metrics.csv differs" >&2; return 1; }
        grep -v '"resumed_from"\|"start"\|"end"\|wall_s\|tokens_per_s\|"threads"\|"pid"' "$1/$r/manifest.json" >"$T/j1"
        grep -v '"resumed_from"\|"start"\|"end"\|wall_s\|tokens_per_s\|"threads"\|"pid"' "$2/$r/manifest.json" >"$T/j2"
        cmp -s "$T/j1" "$T/j2" || { echo "e2e_live: $r/manifest.json differs" >&2; diff "$T/j1" "$T/j2" >&2; return 1; }
    done
    cut -d, -f1-5 "$1/summary.csv" >"$T/s1"; cut -d, -f1-5 "$2/summary.csv" >"$T/s2"
    cmp -s "$T/s1" "$T/s2"
}

# 1. the reference, without the view
$MOESIM run "$T/two.toml" --out "$T/ref" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ]' "reference run exit $rc"
$MOESIM run "$T/two.toml" $LONG --out "$T/ref_long" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ]' "long reference run exit $rc"

# 2. --live on a terminal: the same files at -j 1 and -j 2; the view, then today's tables
if command -v script >/dev/null 2>&1 && script -qec true /dev/null >/dev/null 2>&1; then
    for j in 1 2; do
        COLUMNS=80 LINES=24 script -qec "$MOESIM run $T/two.toml --out $T/live$j -j $j --live" "$T/live$j.tty" >/dev/null 2>&1
        rc=$?
        check '[ $rc -eq 0 ]' "--live -j $j exit $rc"
        check 'same_results "$T/ref" "$T/live$j"' "--live -j $j: result files differ from the run without the view"
        check 'grep -q "$(printf "\033")\[?1049h" "$T/live$j.tty" && grep -q "FreqSim" "$T/live$j.tty"' "--live -j $j: no view on the alternate screen"
        check 'grep -q "freqsim_cross_domain, highest first" "$T/live$j.tty" && grep -q "report: " "$T/live$j.tty"' "--live -j $j: today's tables not printed after the view"
        check '[ ! -e "$T/live$j/moesim.lock" ]' "--live -j $j: the folder's lock is left behind"
    done
    # not a terminal: today's lines, no escape codes
    $MOESIM run "$T/two.toml" --out "$T/plain" --live >"$T/plain.out" 2>"$T/plain.err"; rc=$?
    check '[ $rc -eq 0 ] && ! grep -q "$(printf "\033")" "$T/plain.out" && grep -q "\[1/2\]" "$T/plain.err"' "--live into a file: expected today's lines (exit $rc)"
    # 3. Ctrl-C (SIGINT to the viewer): terminal restored, exit 130, resumable to the same result
    COLUMNS=80 LINES=24 script -qec "$MOESIM run $T/two.toml $LONG --out $T/int --live" "$T/int.tty" >/dev/null 2>&1 &
    spid=$!
    # as soon as the first run has evaluated after step 0, its process is stopped (SIGSTOP) so that
    # the Ctrl-C surely lands in the middle of the run; the viewer gets SIGINT, then the run goes on
    i=0; while [ -z "$(cat "$T"/int/scope=micro/eval.csv.tmp.* 2>/dev/null | sed -n 2p)" ] && [ $i -lt 400 ]; do sleep 0.01; i=$((i + 1)); done
    worker=$(sed -n 's/^pid //p' "$T/int/moesim.lock" 2>/dev/null)
    [ -n "$worker" ] && kill -STOP "$worker"
    viewer=$( [ -n "$worker" ] && ps -o ppid= -p "$worker" 2>/dev/null | tr -d ' ')
    if [ -n "$viewer" ]; then kill -INT "$viewer"; sleep 0.2; fi
    [ -n "$worker" ] && kill -CONT "$worker"
    wait $spid; rc=$?
    check '[ -n "$viewer" ] && [ $rc -eq 130 ]' "Ctrl-C during --live: expected exit 130, got $rc (viewer '$viewer')"
    check 'tail -c 2000 "$T/int.tty" | grep -q "$(printf "\033")\[?25h$(printf "\033")\[?1049l"' "Ctrl-C: the cursor is not shown again / the alternate screen is not left"
    check 'grep -q "to resume, run the same command again" "$T/int.tty"' "Ctrl-C: the run's message is not printed after the view"
    $MOESIM run "$T/two.toml" $LONG --out "$T/int" --quiet >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 0 ] && same_results "$T/ref_long" "$T/int"' "resumed after Ctrl-C during --live: exit $rc or results differ"
else
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do skip=$((skip + 1)); done
    echo "e2e_live: skipped: the --live checks need script(1) (util-linux) for a pseudo-terminal"
fi

# 4. watch follows a run started in the background and ends when it ends
$MOESIM run "$T/two.toml" $LONG --out "$T/w" --quiet >/dev/null 2>&1 &
rpid=$!
i=0; while [ ! -e "$T/w/moesim.lock" ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i + 1)); done
$MOESIM watch "$T/w" --every 0.02 >"$T/watch.out" 2>"$T/watch.err"; rc=$?
# the run's last files (the summary and the report, written under the lock) are there when watch
# ends: it did not end before the run (the process itself may still be exiting)
done_files=0; [ -s "$T/w/summary.csv" ] && [ -s "$T/w/report.html" ] && done_files=1
wait $rpid
check '[ $rc -eq 0 ] && [ $done_files -eq 1 ]' "watch: exit $rc; the run's summary and report there when it ended: $done_files"
frames=$(grep -c "^moesim watch" "$T/watch.out")
check '[ "$frames" -ge 2 ]' "watch: $frames views of two runs of 16 evaluations"
# a view of an evaluation taken while its run was still running (steps 10..140)
check 'grep -Eq "^step ([1-9]0|1[0-4]0) " "$T/watch.out"' "watch saw no evaluation while the runs were running"
check 'grep -q "scope=global  ok" "$T/watch.out" && grep -q "^scope=micro  ok" "$T/watch.out" && grep -q "^step 150 " "$T/watch.out"' "watch: the last view does not show both runs done at step 150"
check 'same_results "$T/ref_long" "$T/w"' "a watched run's files differ from an unwatched one"
check 'grep -q "^scope=micro .*scope=global  ok" "$T/watch.out"' "watch: the runs are not in the experiment's order (micro, then global)"

# 5. bad folders: exit 2 with a message, before anything
$MOESIM watch "$T/w/scope=micro" >/dev/null 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "moesim: watch: .*is not a results folder" "$T/bad.err"' "watch on a run folder: exit $rc"
$MOESIM watch "$T/nothing" >/dev/null 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "moesim: watch: .*nothing" "$T/bad.err"' "watch on a missing folder: exit $rc"
$MOESIM watch >/dev/null 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 2 ]' "watch without DIR: exit $rc"
$MOESIM watch "$T/w" --every 0 >/dev/null 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--every" "$T/bad.err"' "watch --every 0: exit $rc"

echo "e2e_live: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
