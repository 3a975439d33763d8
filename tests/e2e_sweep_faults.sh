#!/bin/sh
# e2e_sweep_faults.sh — a results folder is never silently wrong: a changed experiment (also when
# the runs are another shard's), another file of the same name, a pinned swept key or a checkpoint
# of another config is refused (exit 2, naming the keys) and --force redoes; a grown sweep keeps its finished runs; a second run on a locked folder is refused naming the
# holder's PID and a dead owner's lock is taken over; a -j child killed by a signal is named with
# the signal and keeps a failed row in summary.csv, one stopped by SIGTERM alone makes the call
# exit 1; SIGHUP stops like SIGTERM and the rerun
# resumes; -j children stop when their parent is killed with -9; no heatmap is printed when every
# run failed. Prints "e2e_sweep_faults: N passed, M failed".
# covers: sim/train/sweep.c sim/train/identity.c sim/train/lock.c sim/train/results.c
# covers: sim/report/terminal.c sim/main.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_sweep_faults: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_faults.XXXXXX)
PIDS=""  # background processes to stop on exit, whatever happened
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1  # the runs are tiny; the timing of the kills below does not depend on it
FX=tests/fixtures/e2e/tiny.toml
Q="--set train.steps=4 --set eval.every=0"
ONE="--set train.seed=1 --set balance.scope=micro"  # one point: run id "run"
# wait_for CONDITION: polls up to about 10 s
wait_for() { i=0; while ! eval "$1" && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done; eval "$1"; }
children() { pgrep -P "$1" 2>/dev/null | tr '\n' ' '; }
alive() { for p in $1; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# 1. a finished sweep, then the same folder with a changed key: refused before any work, the key
# named with both values; --force redoes the runs with the new value
$MOESIM run $FX $Q --out "$T/a" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/a/summary.csv" ] && [ -s "$T/a/experiment.json" ]' "first sweep (exit $rc)"
cp "$T/a/summary.csv" "$T/sum.csv"
$MOESIM run $FX --set train.steps=5 --set eval.every=0 --out "$T/a" --quiet >"$T/c.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "train.steps = 4 there, 5 now" "$T/c.out"' "changed train.steps not refused with exit 2 naming the key (exit $rc): $(head -3 "$T/c.out")"
check 'cmp -s "$T/a/summary.csv" "$T/sum.csv" && grep -q "\"steps_done\": 4" "$T/a/scope=micro-seed=1/manifest.json"' "a refused call touched the results"
# the same without the folder's record (a folder of an older moesim): each finished run is checked
mv "$T/a/experiment.json" "$T/rec.json"
$MOESIM run $FX --set train.steps=5 --set eval.every=0 --out "$T/a" --quiet >"$T/c2.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "scope=micro-seed=1 ran with another config: train.steps = 4 there, 5 now" "$T/c2.out"' "a finished run of another config not refused naming its folder (exit $rc): $(head -3 "$T/c2.out")"
mv "$T/rec.json" "$T/a/experiment.json"

# 1b. a run made by a moesim with fewer keys (simulated: a key at its default left out of its
# config.toml, and a manifest without config_hash, as before hashes were recorded) is done: the
# config is the same, only its text changed. The same edit made to a run's config.toml after the
# run to match another config (the recorded hash no longer matches the file) does not make the
# run that config's: refused; and so is a changed value.
cp -r "$T/a" "$T/old"
for r in "$T"/old/*/; do
    [ -e "$r/manifest.json" ] || continue
    sed -i '/^warmup = 0$/d' "$r/config.toml"
    sed -i '/^  "config_hash": /d' "$r/manifest.json"
done
$MOESIM run $FX $Q --out "$T/old" >"$T/old.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "4 of 4 runs already done" "$T/old.out"' "runs of an older moesim (a default key missing from config.toml) not taken as done (exit $rc): $(head -3 "$T/old.out")"
cp -r "$T/a" "$T/edit"
for r in "$T"/edit/*/; do [ -e "$r/config.toml" ] && sed -i 's/^steps = 4$/steps = 5/' "$r/config.toml"; done
$MOESIM run $FX --set train.steps=5 --set eval.every=0 --out "$T/edit" --quiet >"$T/edit.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "ran with another config: its config.toml was edited after the run" "$T/edit.out"' "a config.toml edited after the run to match a new config not refused (exit $rc): $(head -3 "$T/edit.out")"
sed -i 's/^d_ff = 16$/d_ff = 17/' "$T/old/scope=micro-seed=1/config.toml"
$MOESIM run $FX $Q --out "$T/old" --quiet >"$T/old2.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "model.d_ff = 17 there, 16 now" "$T/old2.out"' "an older run with another value not refused naming the key (exit $rc): $(head -3 "$T/old2.out")"

# 2. another file with the same experiment name is refused, naming it and the key
mkdir -p "$T/other"
sed 's/^d_ff = 16/d_ff = 24/' $FX >"$T/other/tiny.toml"
$MOESIM run "$T/other/tiny.toml" $Q --out "$T/a" --quiet >"$T/o.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "other/tiny.toml" "$T/o.out" && grep -q "model.d_ff = 16 there, 24 now" "$T/o.out"' "another tiny.toml took over the folder (exit $rc): $(head -3 "$T/o.out")"

# 3. pinning a swept key is another grid: refused, summary.csv unchanged
$MOESIM run $FX $Q --set train.seed=1 --out "$T/a" --quiet >"$T/p.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "train.seed = \[1, 2\]" "$T/p.out" && cmp -s "$T/a/summary.csv" "$T/sum.csv"' "--set train.seed=1 not refused, or summary.csv rewritten (exit $rc): $(head -3 "$T/p.out")"

# 3e. --force takes the folder over for a pinned grid; the same call again (a repeat, or a resume)
# continues it: the runs left outside the grid by --force are no reason to refuse
cp -r "$T/a" "$T/f"
$MOESIM run $FX $Q --set train.seed=1 --force --out "$T/f" --quiet >/dev/null 2>&1; rc=$?
$MOESIM run $FX $Q --set train.seed=1 --out "$T/f" --quiet >"$T/f.out" 2>&1; rc2=$?
check '[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ $(wc -l <"$T/f/summary.csv") -eq 3 ]' "the same call after --force refused (exit $rc, then $rc2): $(head -3 "$T/f.out")"

# 3f. a run killed while it removed checkpoint.prev after the swap (a partial .prev beside a
# complete checkpoint/): the rerun resumes and takes the partial .prev away
$MOESIM run $FX $ONE --set train.steps=6 --set train.checkpoint_every=2 --set eval.every=0 --out "$T/pv" --quiet >/dev/null 2>&1
rm -f "$T/pv/run/manifest.json"
mkdir -p "$T/pv/run/checkpoint.prev/state" && echo junk >"$T/pv/run/checkpoint.prev/state/blocks.0.bias.npy"
$MOESIM run $FX $ONE --set train.steps=6 --set train.checkpoint_every=2 --set eval.every=0 --out "$T/pv" --quiet >"$T/pv.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ ! -e "$T/pv/run/checkpoint.prev" ] && [ -s "$T/pv/run/checkpoint/state.json" ]' "a partial checkpoint.prev beside a complete checkpoint was left (exit $rc): $(head -2 "$T/pv.out")"

# 3g. the temporary files of a call killed while it wrote the summary or the report (a pid that is
# gone) are removed by the next call; a live process's are left (another shard may be writing)
cp -r "$T/a" "$T/tm"
for f in summary.csv.tmp.999999999 report.html.tmp.999999999 plots/loss.svg.tmp.999999999 summary.csv.tmp.1; do
    echo junk >"$T/tm/$f"
done
$MOESIM run $FX $Q --out "$T/tm" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ "$(find "$T/tm" -name "*.tmp.9*" | wc -l)" -eq 0 ] && [ -e "$T/tm/summary.csv.tmp.1" ]' "a killed call's summary/report .tmp files were left, or a live pid's removed (exit $rc): $(find "$T/tm" -name "*.tmp*")"

# 3c. the shards of one grid with another config: shard 2's points are new, but shard 1's finished
# runs have another train.steps: refused (the folder would hold runs of two configs under one record)
$MOESIM run $FX $Q --shard 1/2 --out "$T/sh" --quiet >/dev/null 2>&1
$MOESIM run $FX --set train.steps=5 --set eval.every=0 --shard 2/2 --out "$T/sh" --quiet >"$T/sh.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "sh/scope=micro-seed=1 ran with another config: train.steps = 4 there, 5 now" "$T/sh.out" && [ ! -e "$T/sh/scope=micro-seed=2" ]' "a shard with another config beside the other shard's runs (exit $rc): $(head -3 "$T/sh.out")"

# 3d. --out naming a file, or a path through one: bad input (exit 2), not a failure
echo keep >"$T/afile"
for o in "$T/afile" "$T/afile/sub"; do
    $MOESIM run $FX $Q --out "$o" --quiet >"$T/af.out" 2>&1; rc=$?
    check '[ $rc -eq 2 ] && grep -q "afile" "$T/af.out" && [ "$(cat "$T/afile")" = keep ]' "run --out $o: exit $rc, expected 2: $(head -2 "$T/af.out")"
done

# 3b. a grown sweep (another seed) keeps every run the folder holds: accepted, the finished runs
# are not redone, and the summary has the old rows and the new ones
cp -r "$T/a" "$T/g"
sed 's/^"train.seed" = \[1, 2\]/"train.seed" = [1, 2, 3]/' $FX >"$T/grown.toml"
m0=$(md5sum "$T/g/scope=micro-seed=1/manifest.json")
$MOESIM run "$T/grown.toml" $Q --out "$T/g" >"$T/g.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ "$(md5sum "$T/g/scope=micro-seed=1/manifest.json")" = "$m0" ] && [ $(wc -l <"$T/g/summary.csv") -eq 7 ] && grep -q "4 of 6 runs already done" "$T/g.out"' "a grown sweep was refused, redid finished runs or lost rows (exit $rc): $(head -3 "$T/g.out")"

# 4. a dead owner's lock is taken over (a PID that has exited, on this host)
dead=$(sh -c 'echo $$')
printf 'pid %s\nhost %s\nstarted 2026-01-01T00:00:00Z\nshard 1/1\n' "$dead" "$(uname -n)" >"$T/a/moesim.lock"
$MOESIM run $FX $Q --out "$T/a" --quiet >"$T/d.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "taking over .*moesim.lock from PID $dead" "$T/d.out" && [ ! -e "$T/a/moesim.lock" ]' "a dead owner's lock not taken over, or not removed at exit (exit $rc): $(head -3 "$T/d.out")"

# 5. --force redoes the changed runs
$MOESIM run $FX --set train.steps=5 --set eval.every=0 --out "$T/a" --force --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ $(grep -l "\"steps_done\": 5" "$T"/a/*/manifest.json | wc -l) -eq 4 ]' "--force did not redo the 4 runs with train.steps = 5 (exit $rc)"

# 6. an unfinished run whose checkpoint has another config is not resumed: refused naming the key
$MOESIM run $FX $Q --set train.checkpoint_every=2 --shard 1/4 --out "$T/ck" --quiet >/dev/null 2>&1
rm -f "$T/ck/scope=micro-seed=1/manifest.json" "$T/ck/experiment.json"
$MOESIM run $FX --set train.steps=6 --set eval.every=0 --set train.checkpoint_every=2 --shard 1/4 --out "$T/ck" --quiet >"$T/k.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "checkpoint.*train.steps = 4 there, 6 now" "$T/k.out"' "a checkpoint of another config not refused naming the key (exit $rc): $(head -3 "$T/k.out")"

# 7. one writer per folder: a second run on a locked folder stops at once naming the PID; the lock
# goes with its owner (SIGTERM). timeout: without a lock the second run would train for minutes.
$MOESIM run $FX $ONE --set train.steps=100000 --set eval.every=0 --out "$T/l" --quiet >/dev/null 2>&1 &
P=$!; PIDS="$PIDS $P"
wait_for '[ -s "$T/l/run/metrics.csv.tmp.$P" ] || [ -n "$(ls "$T/l/run/" 2>/dev/null | grep tmp)" ]'
timeout 5 $MOESIM run $FX $ONE --set train.steps=100000 --set eval.every=0 --out "$T/l" --quiet >"$T/l2.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "PID $P " "$T/l2.out"' "a second run on a locked folder not refused naming PID $P (exit $rc): $(head -3 "$T/l2.out")"
timeout 5 $MOESIM run $FX $ONE --set train.steps=100000 --set eval.every=0 --out "$T/l" --shard 1/2 --quiet >"$T/l3.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "PID $P " "$T/l3.out"' "a shard on a folder locked by a whole run not refused (exit $rc)"
kill -TERM $P; wait $P
check '[ ! -e "$T/l/moesim.lock" ]' "the lock file stayed after SIGTERM"

# 8. SIGHUP stops like SIGTERM (checkpoint, "interrupted"); the same command resumes from there
# (it is stopped again once it says so: the runs are long, so no kill can come too late)
H="$ONE --set train.steps=100000 --set eval.every=0 --out $T/h"
$MOESIM run $FX $H --quiet >"$T/h.out" 2>&1 &
P=$!; PIDS="$PIDS $P"
wait_for '[ -n "$(ls "$T/h/run/" 2>/dev/null | grep tmp)" ]'
kill -HUP $P; wait $P; rc=$?
check '[ $rc -eq 129 ] && grep -q "\"status\": \"interrupted\"" "$T/h/run/manifest.json" 2>/dev/null' "SIGHUP did not stop the run with a checkpoint (exit $rc)"
k=$(sed -n 's/^  "step": \([0-9]*\),$/\1/p' "$T/h/run/checkpoint/state.json" 2>/dev/null)
$MOESIM run $FX $H >"$T/h2.out" 2>&1 &
P=$!; PIDS="$PIDS $P"
wait_for 'grep -q "resuming from step" "$T/h2.out" || ! kill -0 $P 2>/dev/null'
kill -TERM $P; wait $P
check '[ -n "$k" ] && grep -q "run: resuming from step $k " "$T/h2.out"' "the run after SIGHUP did not resume from its checkpoint (step '$k'): $(grep -v step "$T/h2.out" | head -3)"

# 9. a -j child killed by a signal: named with its run id and the signal, a failed row kept. Two
# points, a short one and a long one: the long one's child is killed once the short one is done.
sed 's/^"balance.scope" = .*$/"train.steps" = [30, 100000]/; /^"train.seed"/d; /^steps = /d' $FX >"$T/two.toml"
$MOESIM run "$T/two.toml" --set eval.every=0 -j 2 --out "$T/j" >"$T/j.stdout" 2>"$T/j.out" &
P=$!; PIDS="$PIDS $P"
wait_for 'grep -qs "\"status\": \"ok\"" "$T/j/steps=30/manifest.json" && [ $(children $P | wc -w) -eq 1 ]'
c=$(children $P); PIDS="$PIDS $c"
[ -n "$c" ] && kill -KILL $c; wait $P; rc=$?
check '[ $rc -eq 1 ] && grep -q "^moesim: run: steps=100000: killed by signal 9 (Killed)$" "$T/j.out"' "a child killed by SIGKILL not named with its run and signal (exit $rc): $(grep -v "^\[" "$T/j.out" | head -3)"
check 'grep -q "^steps=100000,.*,failed: killed by signal 9 (Killed)," "$T/j/summary.csv" && grep -q "^steps=30,.*,ok," "$T/j/summary.csv"' "no failed row for the killed run in summary.csv"
# the terminal view: the finished variant's heatmap, the failed one named instead of measured
check 'grep -q "^no run finished ok, not shown: steps=100000 (1 failed)$" "$T/j.stdout" && grep -q "highest first: steps=30 [0-9.]*$" "$T/j.stdout"' "the terminal view measured the failed run, or not the ok one: $(cat "$T/j.stdout")"

# 9b. a -j child stopped by SIGTERM sent to it alone (not to the sweep): "interrupted", named, and
# the call is not ok (exit 1), as its run is not done
$MOESIM run "$T/two.toml" --set eval.every=0 -j 2 --out "$T/jt" --quiet >/dev/null 2>"$T/jt.out" &
P=$!; PIDS="$PIDS $P"
wait_for 'grep -qs "\"status\": \"ok\"" "$T/jt/steps=30/manifest.json" && [ $(children $P | wc -w) -eq 1 ]'
c=$(children $P); PIDS="$PIDS $c"
[ -n "$c" ] && kill -TERM $c; wait $P; rc=$?
check '[ $rc -eq 1 ] && grep -q "^moesim: run: steps=100000: interrupted by a signal to its process" "$T/jt.out" && grep -q "^steps=100000,.*,interrupted," "$T/jt/summary.csv"' "a child stopped by SIGTERM alone: exit $rc (expected 1), or not named: $(head -3 "$T/jt.out")"

# 10. no heatmap or ranking when every run failed: both children of a 2-point sweep killed
$MOESIM run $FX --set train.steps=100000 --set eval.every=0 --shard 1/2 -j 2 --out "$T/n" >"$T/n.out" 2>"$T/n.err" &
P=$!; PIDS="$PIDS $P"
wait_for '[ $(children $P | wc -w) -eq 2 ]'
kill -KILL $(children $P); wait $P; rc=$?
check '[ $rc -eq 1 ] && ! grep -q "expert selection frequency\|highest first" "$T/n.out" && grep -q "No run finished ok (2 runs: 2 failed)" "$T/n.out"' "measurements printed although every run failed (exit $rc): $(head -3 "$T/n.out")"

# 11. a -j parent killed with -9: its children stop (checkpoint, "interrupted") instead of
# running on as orphans
$MOESIM run $FX --set train.steps=100000 --set eval.every=0 -j 2 --out "$T/k9" --quiet >/dev/null 2>&1 &
P=$!; PIDS="$PIDS $P"
wait_for '[ $(children $P | wc -w) -eq 2 ]'
kids=$(children $P); PIDS="$PIDS $kids"
kill -9 $P; wait $P 2>/dev/null
wait_for '! alive "$kids"'
check '! alive "$kids"' "the children of a killed parent still run: $kids"
check '[ $(grep -l "\"status\": \"interrupted\"" "$T"/k9/*/manifest.json 2>/dev/null | wc -l) -eq 2 ]' "the orphaned children did not stop with a checkpoint"

echo "e2e_sweep_faults: $pass passed, $fail failed"
[ $fail -eq 0 ]
