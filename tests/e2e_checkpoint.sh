#!/bin/sh
# e2e_checkpoint.sh — trained models that outlive their run, end to end: a run killed with kill -9
# or stopped with SIGTERM resumes from its checkpoint to result files identical to an
# uninterrupted run's (also with another thread count); a kill during a checkpoint write leaves the
# previous checkpoint usable; the final model is saved; a warm start continues from it; and bad
# checkpoints, shape mismatches and a full disk give clear errors. Prints
# "e2e_checkpoint: N passed, M failed".
# covers: sim/models/checkpoint.c sim/train/train.c sim/evaluate/saved.c sim/use/generate.c
# covers: sim/use/route.c sim/tools/compare.c sim/main.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_checkpoint: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_ckpt.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml
# one run (no sweep) of the tiny world, long enough to be stopped in the middle
S="--set train.seed=1 --set balance.scope=\"micro\" --set train.steps=400 --set train.checkpoint_every=50 --set eval.every=100"

# the same result files, timing columns (tokens_per_s, wall_s) dropped
same_results() {
    for f in metrics.csv layers.csv eval.csv experts.csv pairs.csv removal.csv; do
        if [ "$f" = metrics.csv ]; then
            cut -d, -f1-7 "$1/run/$f" >"$T/x1"; cut -d, -f1-7 "$2/run/$f" >"$T/x2"
            cmp -s "$T/x1" "$T/x2" || return 1
        else
            cmp -s "$1/run/$f" "$2/run/$f" || return 1
        fi
    done
}

# 1. uninterrupted reference (its checkpoints and its final model)
$MOESIM run $FX $S --out "$T/ref" --quiet >"$T/ref.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "reference run exit $rc"
check '[ -s "$T/ref/run/model/state.json" ] && [ -s "$T/ref/run/model/params/wte.npy" ]' "no saved model in run/model/"
check 'grep -q "\"kind\": \"model\"" "$T/ref/run/model/state.json" && grep -q "\"step\": 400" "$T/ref/run/model/state.json"' "model state.json kind/step"
check 'grep -q "\"resumed_from\": null" "$T/ref/run/manifest.json"' "an uninterrupted run must record resumed_from null"
steps_of() { sed -n 's/^  "step": \([0-9]*\),$/\1/p' "$1/state.json"; }

# 2. kill -9 in the middle, then resume (with one OpenMP thread: the numbers must not care)
$MOESIM run $FX $S --out "$T/k9" --quiet >/dev/null 2>&1 &
pid=$!
i=0; while [ ! -s "$T/k9/run/checkpoint/state.json" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check '[ ! -s "$T/k9/run/model/state.json" ] && grep -vq "\"status\": \"ok\"" "$T/k9/run/manifest.json" 2>/dev/null || [ ! -e "$T/k9/run/manifest.json" ]' "kill -9 landed after the run finished (the test proves nothing)"
k=$(steps_of "$T/k9/run/checkpoint")
check '[ -n "$k" ] && [ "$k" -lt 400 ]' "no mid-run checkpoint before the kill (step '$k')"
OMP_NUM_THREADS=1 $MOESIM run $FX $S --out "$T/k9" --quiet >"$T/k9.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "resume after kill -9 exit $rc"
check 'grep -q "\"resumed_from\": $k" "$T/k9/run/manifest.json"' "manifest resumed_from $k"
check 'same_results "$T/ref" "$T/k9"' "kill -9 + resume: result files differ from the uninterrupted run"
check '[ -z "$(find "$T/k9" -name "*.tmp.*")" ]' "temporary files left after the resume"

# 3. SIGTERM: the step finishes, a checkpoint is written, status interrupted, exit 143, no temp files
$MOESIM run $FX $S --out "$T/term" --quiet >"$T/term.out" 2>&1 &
pid=$!
i=0; while [ ! -s "$T/term/run/checkpoint/state.json" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $pid; wait $pid; rc=$?
check '[ $rc -eq 143 ]' "SIGTERM exit status $rc, expected 143"
check 'grep -q "\"status\": \"interrupted\"" "$T/term/run/manifest.json"' "manifest status interrupted"
check 'grep -q "to resume, run the same command again" "$T/term.out"' "no line saying how to resume"
check '[ -z "$(find "$T/term" -name "*.tmp.*")" ]' "SIGTERM left temporary files"
check '[ ! -e "$T/term/run/metrics.csv" ]' "an interrupted run must not leave a half metrics.csv"
$MOESIM run $FX $S --out "$T/term" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && same_results "$T/ref" "$T/term"' "SIGTERM + resume: result files differ (exit $rc)"

# 4. kill -9 while a checkpoint is being written: the previous one stays usable
MOESIM_CKPT_KILL=3 $MOESIM run $FX $S --out "$T/kw" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 137 ]' "fault hook MOESIM_CKPT_KILL did not kill the run (exit $rc)"
check '[ "$(steps_of "$T/kw/run/checkpoint")" = 100 ]' "after a kill in the 3rd checkpoint, the 2nd (step 100) must be intact"
MOESIM_CKPT_KILL_SWAP=3 $MOESIM run $FX $S --out "$T/ks" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 137 ] && [ ! -e "$T/ks/run/checkpoint" ] && [ -s "$T/ks/run/checkpoint.prev/state.json" ]' "kill between the renames: expected only checkpoint.prev (exit $rc)"
cp -r "$T/kw" "$T/corrupt"  # for part 7, before kw resumes
for d in kw ks; do
    $MOESIM run $FX $S --out "$T/$d" --quiet >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 0 ] && same_results "$T/ref" "$T/$d"' "resume after a kill during a checkpoint write ($d, exit $rc)"
done

# 5. --force starts over (resumed_from null again)
$MOESIM run $FX $S --out "$T/k9" --force --quiet >/dev/null 2>&1
check 'grep -q "\"resumed_from\": null" "$T/k9/run/manifest.json" && same_results "$T/ref" "$T/k9"' "--force did not start over"

# 6. warm start from a saved model
H="--set train.seed=1 --set balance.scope=\"micro\" --set eval.every=500"
$MOESIM run $FX $H --set train.steps=150 --out "$T/half" --quiet >/dev/null 2>&1
$MOESIM run $FX $H --set train.steps=150 --set "train.init_from=\"$T/half/run\"" --out "$T/warm" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ]' "warm start exit $rc"
l_warm=$(tail -1 "$T/warm/run/metrics.csv" | cut -d, -f2)
l_half=$(tail -1 "$T/half/run/metrics.csv" | cut -d, -f2)
check '[ -n "$l_warm" ] && [ "$l_warm" != "$l_half" ]' "warm start did not train on"
ce0=$(sed -n 2p "$T/warm/run/eval.csv" | cut -d, -f3); ce_end=$(tail -1 "$T/half/run/eval.csv" | cut -d, -f3)
check '[ "$ce0" = "$ce_end" ]' "the warm start's step-0 eval_ce ($ce0) must equal the saved model's final one ($ce_end)"
$MOESIM run $FX $H --set train.steps=10 --set model.experts=8 --set "train.init_from=\"$T/half/run\"" --out "$T/shape" >"$T/shape.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "model.experts = 4" "$T/shape.out" && grep -q "model.experts = 8" "$T/shape.out" && [ ! -e "$T/shape" ]' "shape mismatch: expected exit 2 naming model.experts and both values, nothing written (exit $rc)"
$MOESIM run $FX $H --set "train.init_from=\"$T/nothing\"" --out "$T/nf" >"$T/nf.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "$T/nothing: no such folder" "$T/nf.out" && [ ! -e "$T/nf" ]' "missing init_from: exit 2 naming the folder (exit $rc)"
mkdir -p "$T/nomodel/run"
$MOESIM run $FX $H --set "train.init_from=\"$T/nomodel/run\"" --out "$T/nm" >"$T/nm.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "no saved model here" "$T/nm.out"' "run folder without a model: exit 2 (exit $rc)"

# 6b. moesim eval: the saved model's evaluation equals the run's final rows; overrides limited
$MOESIM eval "$T/ref/run" --out "$T/ev" >"$T/ev.out" 2>&1; rc=$?
n=$(($(wc -l <"$T/ev/eval.csv") - 1))
check '[ $rc -eq 0 ] && [ $n -gt 0 ] && [ "$(tail -n $n "$T/ev/eval.csv")" = "$(tail -n $n "$T/ref/run/eval.csv")" ]' "eval: rows differ from the run's final eval.csv (exit $rc)"
check 'cmp -s "$T/ev/removal.csv" "$T/ref/run/removal.csv" && cmp -s "$T/ev/pairs.csv" "$T/ref/run/pairs.csv"' "eval: removal.csv or pairs.csv differ from the run's"
$MOESIM eval "$T/ref/run" --checkpoint --set data.seed=9 --set eval.sequences=8 --out "$T/ev2" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ "$(tail -1 "$T/ev2/eval.csv" | cut -d, -f1)" = 350 ] && ! cmp -s "$T/ev2/eval.csv" "$T/ev/eval.csv"' "eval --checkpoint with data overrides (exit $rc)"
$MOESIM eval "$T/ref/run" --set model.experts=8 --out "$T/ev3" >"$T/ev3.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "only data.\* and eval.\* keys" "$T/ev3.out" && [ ! -e "$T/ev3" ]' "eval must refuse model keys (exit $rc)"
$MOESIM eval "$T/nomodel/run" --out "$T/ev4" >"$T/ev4.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "no saved model here" "$T/ev4.out" && [ ! -e "$T/ev4" ]' "eval of a run without a model (exit $rc)"

# 6b'. the paper's duplication (eval.duplicate_content): the measured rows are the last copy's.
#      m = 2, n = 4 measures positions 6, 7 (T = 8) of sequences whose tokens are their first 2
#      repeated; eval.duplicate = 5 without content repeats the same 2 tokens (ceil(9/5) = 2) and
#      measures all 8 positions, so its rows 6, 7 of each sequence must be the same bytes.
E="--set eval.dump=true --set eval.sequences=4"
$MOESIM eval "$T/ref/run" $E --set eval.duplicate_content=2 --set eval.duplicate=4 --out "$T/evd" >"$T/evd.out" 2>&1; rc1=$?
$MOESIM eval "$T/ref/run" $E --set eval.duplicate=5 --out "$T/evo" >/dev/null 2>&1; rc2=$?
rows_of() { echo $(( ($(wc -c <"$1") - $2) / 64 )); }  # float32 rows of D = 16 (64 bytes)
check '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]' "eval with eval.duplicate_content (exit $rc1/$rc2)"
fd="$T/evd/dump/blocks.1.hidden.npy"; fo="$T/evo/dump/blocks.1.hidden.npy"
hd=$(( $(wc -c <"$fd") - 16 * 2 * 64 )); ho=$(( $(wc -c <"$fo") - 16 * 8 * 64 ))
same=0
for s in $(seq 0 15); do
    tail -c +$(( hd + s * 2 * 64 + 1 )) "$fd" | head -c 128 >"$T/r1"
    tail -c +$(( ho + (s * 8 + 6) * 64 + 1 )) "$fo" | head -c 128 >"$T/r2"
    cmp -s "$T/r1" "$T/r2" && same=$((same + 1))
done
check '[ $hd -eq $ho ] && [ $hd -ge 64 ] && [ $hd -le 256 ] && [ $same -eq 16 ]' "eval.duplicate_content: dumped rows are not the last copy's positions 6, 7 ($same of 16 sequences equal)"
# a wrong slice must not pass: positions 4, 5 (the copy before) differ somewhere
same=0
for s in $(seq 0 15); do
    tail -c +$(( hd + s * 2 * 64 + 1 )) "$fd" | head -c 128 >"$T/r1"
    tail -c +$(( ho + (s * 8 + 4) * 64 + 1 )) "$fo" | head -c 128 >"$T/r2"
    cmp -s "$T/r1" "$T/r2" && same=$((same + 1))
done
check '[ $same -lt 16 ]' "eval.duplicate_content: copies 3 and 4 have the same states, so the slice check says nothing"
$MOESIM eval "$T/ref/run" --set eval.duplicate_content=3 --set eval.duplicate=3 --out "$T/evb" >"$T/evb.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "eval.duplicate_content = 3 tokens need 9 positions, more than model.seq_len = 8" "$T/evb.out" && [ ! -e "$T/evb" ]' "eval: 3 copies of 3 tokens over seq_len 8 must exit 2 naming the keys (exit $rc)"
# generate --duplicate k: prompts of 2 tokens, 3 copies; diversity.csv per prompt
$MOESIM generate "$T/half/run" --out "$T/g5" --prompts 2 --samples 3 --prompt-len 2 --tokens 2 --duplicate 3 >"$T/g5.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"prompt_len\": 6" "$T/g5/generate.json" && grep -q "\"duplicate\": 3" "$T/g5/generate.json" && [ $(wc -l <"$T/g5/diversity.csv") -eq 3 ] && grep -q "distinct-token share" "$T/g5.out"' "generate --duplicate 3 (exit $rc)"
$MOESIM generate "$T/half/run" --out "$T/g6" --prompt-len 2 --duplicate 5 >"$T/g6.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--duplicate 5 copies" "$T/g6.out" && [ ! -e "$T/g6" ]' "generate --duplicate over seq_len: exit 2 naming the flag (exit $rc)"

# 6c. the paper's §5 pipeline from the command line: two models (the half run and its warm
#     start) generate from the same prompts, and compare classifies every pair of rollouts
G="--prompts 3 --samples 2 --prompt-len 4 --tokens 12 --seed 5"
$MOESIM generate "$T/half/run" --out "$T/g1" $G >/dev/null 2>&1; rc1=$?
$MOESIM generate "$T/warm/run" --out "$T/g2" $G >/dev/null 2>&1; rc2=$?
check '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -s "$T/g1/routes.npy" ] && [ -s "$T/g2/generate.json" ]' "generate exit $rc1/$rc2"
OMP_NUM_THREADS=1 $MOESIM generate "$T/half/run" --out "$T/g1b" $G >/dev/null 2>&1
check 'cmp -s "$T/g1/tokens.npy" "$T/g1b/tokens.npy" && cmp -s "$T/g1/routes.npy" "$T/g1b/routes.npy"' "generate: another thread count changed the tokens or routes"
$MOESIM compare "$T/g1" "$T/g2" --out "$T/cmp" >"$T/cmp.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && head -1 "$T/cmp/compare.csv" | grep -qx "layer,kind,pairs,overlap_mean,overlap_sd,freqsim_mean"' "compare exit $rc or columns"
# 12 rollouts: 66 pairs per layer = 6 same prompt and model, 12 same prompt other model, 24 other
# prompt same model, 24 nothing shared
check '[ "$(awk -F, '"'"'$1 == 0 {n += $3} END {print n}'"'"' "$T/cmp/compare.csv")" = 66 ] && grep -q "^0,same_prompt_other_model,12," "$T/cmp/compare.csv"' "compare pair counts"
check '[ $(wc -l <"$T/cmp/compare_pairs.csv") -eq $((66 * 2 + 1)) ]' "compare_pairs.csv rows"
# --route-with: the generating model itself re-routing its rows (they fit model.seq_len = 8)
# gives back its own routes, so compare's files are the same; rows longer than the context fail
$MOESIM generate "$T/half/run" --out "$T/g4" --prompts 4 --samples 2 --prompt-len 3 --tokens 5 >/dev/null 2>&1
$MOESIM compare "$T/g4" --out "$T/c4" >/dev/null 2>&1
$MOESIM compare "$T/g4" --out "$T/c4r" --route-with "$T/half/run" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/c4/compare.csv" "$T/c4r/compare.csv" && cmp -s "$T/c4/track.csv" "$T/c4r/track.csv"' "compare --route-with the generating model must reproduce its own routes (exit $rc)"
# track_pairs.csv: the same FreqSim columns; the pooled cosine (Fig. 14) only with --route-with, in [-1, 1]
cut -d, -f1-7 "$T/c4/track_pairs.csv" >"$T/c4.f7"; cut -d, -f1-7 "$T/c4r/track_pairs.csv" >"$T/c4r.f7"
check 'cmp -s "$T/c4.f7" "$T/c4r.f7" && awk -F, '"'"'NR > 1 && ($8 != "nan" || $9 != "nan") {bad = 1} END {exit bad}'"'"' "$T/c4/track_pairs.csv" && awk -F, '"'"'NR > 1 {n++; if (!($8 >= -1.000001 && $8 <= 1.000001 && $9 >= -1.000001 && $9 <= 1.000001 && $8 != "nan")) bad = 1} END {exit bad || n == 0}'"'"' "$T/c4r/track_pairs.csv"' "track_pairs.csv: pooled_prompt, pooled_full numbers with --route-with, nan without"
$MOESIM compare "$T/g1" --out "$T/c5" --route-with "$T/half/run" >"$T/c5.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "do not fit the model.s context" "$T/c5.out" && [ ! -e "$T/c5" ]' "compare --route-with rows longer than seq_len: exit 2 (exit $rc)"
$MOESIM generate "$T/half/run" --out "$T/g3" $G --temperature -1 >"$T/g3.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--temperature" "$T/g3.out" && [ ! -e "$T/g3" ]' "generate: a bad temperature must exit 2 naming the flag (exit $rc)"

# 7. a corrupt or truncated checkpoint: the run fails naming the file, and nothing is half-written
# (the lock file the killed run left is taken over and removed: not counted)
rm -rf "$T/corrupt/run/checkpoint.prev" "$T/corrupt/run/checkpoint."tmp.* 2>/dev/null
f=$(ls "$T/corrupt/run/checkpoint/params/"*.npy | head -1)
head -c $(( $(wc -c <"$f") - 4 )) "$f" >"$T/trunc" && cp "$T/trunc" "$f"
before=$(find "$T/corrupt" ! -name moesim.lock | sort | md5sum)
$MOESIM run $FX $S --out "$T/corrupt" --quiet >"$T/corrupt.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "$(basename "$f")" "$T/corrupt.out" && grep -q "bytes, state.json lists" "$T/corrupt.out"' "truncated checkpoint: expected exit 2 naming $(basename "$f") (exit $rc)"
check '[ "$(find "$T/corrupt" ! -name moesim.lock | sort | md5sum)" = "$before" ]' "a refused resume wrote something"
$MOESIM eval "$T/corrupt/run" --checkpoint --out "$T/ev5" >"$T/ev5.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "bytes, state.json lists" "$T/ev5.out" && [ ! -e "$T/ev5" ]' "eval of a truncated checkpoint: exit 2, nothing written (exit $rc)"
rm -f "$T/corrupt/run/checkpoint/state.json"
$MOESIM eval "$T/corrupt/run" --checkpoint --out "$T/ev6" >"$T/ev6.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "no checkpoint here" "$T/ev6.out"' "eval of a checkpoint without state.json (exit $rc)"
echo "not json" >"$T/corrupt/run/checkpoint/state.json"
$MOESIM eval "$T/corrupt/run" --checkpoint --out "$T/ev7" >"$T/ev7.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "state.json: not a moesim checkpoint" "$T/ev7.out"' "eval of a corrupt state.json (exit $rc)"

# 8. a full disk (a file may not grow past 8 KiB): the failure names a file and the system's reason,
#    the counts are true, and no report is announced
( trap '' XFSZ; ulimit -f 8; exec $MOESIM run $FX $S --set train.steps=400 --out "$T/full" ) >"$T/full.out" 2>&1; rc=$?
check '[ $rc -eq 1 ]' "disk full: exit $rc, expected 1"
check 'grep -q "File too large" "$T/full.out"' "disk full: the system's reason is not named"
check 'grep -q "1 run in this call: 0 ok, 0 diverged, 1 failed" "$T/full.out"' "disk full: the counts are not true"
check '! grep -q "^report: " "$T/full.out" || [ -s "$T/full/report.html" ]' "disk full: a report was announced that was not written"

# 9. SGD, Lion, Adafactor and SOAP: their state buffers are saved and listed (SGD, Lion and
#    Adafactor: no AdamW moments, they take every parameter; SOAP: its bases for the hidden
#    matrices, AdamW moments for the rest), a run killed in its 2nd checkpoint resumes to the
#    uninterrupted run's results, and a warm start from an AdamW model asks for the buffer it lacks.
#    Adafactor runs with momentum (af_m) and SOAP refreshes its bases every 3 steps, so the resumed
#    step 20 is not a refresh step (its bases come from the checkpoint, not from a recomputation).
for o in sgd lion adafactor soap; do
    file=wte; alone=1; extra=""; wbuf=""
    case $o in
        sgd) buf=sgd_mom ;; lion) buf=lion_m ;;
        adafactor) buf=af_row; extra="--set optim.adafactor_beta1=0.9" ;;
        soap) buf=soap_ql; file=blocks.0.router; alone=0; extra="--set optim.precondition_every=3"; wbuf=soap_m ;;
    esac
    wbuf=${wbuf:-$buf}  # the first buffer an AdamW folder lacks (SOAP's inner AdamW finds m and v)
    SO="--set train.seed=1 --set balance.scope=\"micro\" --set train.steps=60 --set train.checkpoint_every=20 --set eval.every=20 --set optim.name=\"$o\" --set optim.weight_decay=0.1 $extra"
    $MOESIM run $FX $SO --out "$T/$o-ref" --quiet >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 0 ]' "$o: reference run exit $rc"
    check 'grep -q "\"optimizer\": \"$o\"" "$T/$o-ref/run/model/state.json" && grep -q "\"optim/$buf/$file.npy\"" "$T/$o-ref/run/model/state.json" && [ -s "$T/$o-ref/run/model/optim/$buf/$file.npy" ] && { [ $alone = 0 ] || ! grep -q "\"optim/m/" "$T/$o-ref/run/model/state.json"; }' "$o: the model's state.json does not list optim/$buf/ (alone)"
    MOESIM_CKPT_KILL=2 $MOESIM run $FX $SO --out "$T/$o-k" --quiet >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 137 ] && [ "$(steps_of "$T/$o-k/run/checkpoint")" = 20 ] && grep -q "\"optim/$buf/$file.npy\"" "$T/$o-k/run/checkpoint/state.json"' "$o: killed in the 2nd checkpoint: expected the step-20 checkpoint with optim/$buf/ (exit $rc)"
    $MOESIM run $FX $SO --out "$T/$o-k" --quiet >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 0 ] && grep -q "\"resumed_from\": 20" "$T/$o-k/run/manifest.json" && same_results "$T/$o-ref" "$T/$o-k" && cmp -s "$T/$o-ref/run/model/optim/$buf/$file.npy" "$T/$o-k/run/model/optim/$buf/$file.npy"' "$o: resume from step 20: results differ from the uninterrupted run (exit $rc)"
    $MOESIM run $FX $SO --set train.init_from="\"$T/ref/run\"" --out "$T/$o-warm" --quiet >"$T/$o-warm.out" 2>&1; rc=$?
    check '[ $rc -eq 2 ] && grep -q "optim/$wbuf/" "$T/$o-warm.out" && grep -q "not this run.s $o" "$T/$o-warm.out"' "$o: warm start from an AdamW model: expected exit 2 naming optim/$wbuf/ (exit $rc)"
done

echo "e2e_checkpoint: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
