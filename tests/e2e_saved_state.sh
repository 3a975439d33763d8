#!/bin/sh
# e2e_saved_state.sh — damaged checkpoints and models are refused before any work, at the command
# level: each case exits 2 naming the file, changes nothing and makes no folder. Resume (`run` over
# an interrupted run): an emptied partial/eval.csv, a truncated partial/metrics.csv, an edited
# state.json step, a truncated optimizer moment (advice: start over, never a warm-start key).
# eval/generate: a flipped byte in a parameter file, an edited model/config.toml (top_k, score), a
# NaN weight (in a folder of the earlier format, which is read with a warning). train.init_from at
# a damaged model. Prints "e2e_saved_state: N passed, M failed, 0 skipped".
# covers: sim/train/saved_state.c sim/models/checkpoint.c sim/train/sweep.c sim/main.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_saved_state: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_saved.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml
# one run: checkpoints at steps 2 and 4 (the last one stays), the model at step 6
S="--set train.seed=1 --set balance.scope=\"micro\" --set train.steps=6 --set train.checkpoint_every=2 --set train.log_every=1 --set eval.every=2 --set eval.sequences=2 --set eval.pairs=20"
G="--prompts 2 --samples 1 --prompt-len 3 --tokens 4 --seed 5"

$MOESIM run $FX $S --out "$T/base" --quiet >"$T/base.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/base/run/checkpoint/state.json" ] && [ -s "$T/base/run/model/state.json" ]' "base run exit $rc, or no checkpoint and model"
# an interrupted run: its checkpoint, no manifest
fresh() { rm -rf "$T/$1"; cp -r "$T/base" "$T/$1"; rm -f "$T/$1/run/manifest.json"; }
# `run` over the damaged run $1: exit 2 naming $2 and $3, the resume advice, nothing changed
# (check evals its condition in its own arguments: the cases' go through named variables)
refused_resume() {
    k=$1 file=$2 part=$3
    before=$(find "$T/$k" -type f -exec cksum {} + | sort)
    $MOESIM run $FX $S --out "$T/$k" --quiet >"$T/$k.out" 2>&1; rc=$?
    check '[ $rc -eq 2 ] && grep -q "$file" "$T/$k.out" && grep -q "$part" "$T/$k.out" && grep -q "damaged" "$T/$k.out" && grep -q -- "--force" "$T/$k.out" && ! grep -q "init_optimizer" "$T/$k.out"' "$k: expected exit 2 naming $file ($part) with the advice to start over (exit $rc): $(cat "$T/$k.out")"
    check '[ "$(find "$T/$k" -type f -exec cksum {} + | sort)" = "$before" ]' "$k: a refused resume changed files"
}

# a healthy interrupted run resumes
fresh good
$MOESIM run $FX $S --out "$T/good" --quiet >"$T/good.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"resumed_from\": 4" "$T/good/run/manifest.json"' "a healthy checkpoint must resume (exit $rc): $(cat "$T/good.out")"
check 'cmp -s "$T/good/run/eval.csv" "$T/base/run/eval.csv" && cmp -s "$T/good/run/experts.csv" "$T/base/run/experts.csv"' "resumed results differ from the uninterrupted run's"

# resume: each damage exits 2 naming the file
fresh empty; : >"$T/empty/run/checkpoint/partial/eval.csv"
refused_resume empty "partial/eval.csv" "0 bytes, state.json lists"
fresh trunc; f="$T/trunc/run/checkpoint/partial/metrics.csv"; head -c $(( $(wc -c <"$f") - 5 )) "$f" >"$T/x" && cp "$T/x" "$f"
refused_resume trunc "partial/metrics.csv" "bytes, state.json lists"
fresh step; sed -i 's/^  "step": 4,$/  "step": 3,/' "$T/step/run/checkpoint/state.json"
refused_resume step "partial/metrics.csv" "after the checkpoint's step 3"
fresh moment; f="$T/moment/run/checkpoint/optim/m/wte.npy"; head -c 200 "$f" >"$T/x" && cp "$T/x" "$f"
refused_resume moment "optim/m/wte.npy" "200 bytes"

# eval and generate: exit 2 naming the file, no output folder
refused_use() {  # case, command, two parts of the message
    k=$1 cmd=$2 file=$3 part=$4
    if [ "$cmd" = eval ]; then $MOESIM eval "$T/$k/run" --out "$T/$k.o" >"$T/$k.$cmd.out" 2>&1; rc=$?
    else $MOESIM generate "$T/$k/run" --out "$T/$k.o" $G >"$T/$k.$cmd.out" 2>&1; rc=$?; fi
    check '[ $rc -eq 2 ] && grep -q "$file" "$T/$k.$cmd.out" && grep -q "$part" "$T/$k.$cmd.out" && [ ! -e "$T/$k.o" ]' "$k: $cmd expected exit 2 naming $file ($part), no folder (exit $rc): $(cat "$T/$k.$cmd.out")"
}
fresh flip; f="$T/flip/run/model/params/blocks.0.router.npy"
printf 'x' | dd of="$f" bs=1 seek=$(( $(wc -c <"$f") - 2 )) conv=notrunc 2>/dev/null
refused_use flip eval "params/blocks.0.router.npy" "checksum"
fresh topk; sed -i 's/^top_k = 2$/top_k = 1/' "$T/topk/run/model/config.toml"
refused_use topk eval "model/config.toml" "checksum"
fresh score; sed -i 's/^score = "softmax"$/score = "sigmoid"/' "$T/score/run/model/config.toml"
refused_use score generate "model/config.toml" "checksum"
# a NaN weight in a folder of the earlier format (no file list: nothing else can see it)
fresh nan; s="$T/nan/run/model/state.json"
sed -i -e '/^  "files": \[$/,/^  \]$/d' -e 's/^  \],$/  ]/' -e 's/moesim-checkpoint-2/moesim-checkpoint-1/' "$s"
$MOESIM eval "$T/nan/run" --out "$T/nan.ok" >"$T/nan.ok.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "warning: .*earlier format moesim-checkpoint-1" "$T/nan.ok.out"' "a folder of the earlier format must be read, with a warning (exit $rc): $(cat "$T/nan.ok.out")"
f="$T/nan/run/model/params/blocks.0.router.npy"
printf '\000\000\300\177' | dd of="$f" bs=1 seek=$(( $(wc -c <"$f") - 8 )) conv=notrunc 2>/dev/null
refused_use nan eval "params/blocks.0.router.npy" "is NaN"
refused_use nan generate "params/blocks.0.router.npy" "is NaN"

# train.init_from at a damaged model: exit 2 as train.init_from, no folder
$MOESIM run $FX $S --set "train.init_from=\"$T/flip/run\"" --out "$T/warm" --quiet >"$T/warm.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "train.init_from: .*params/blocks.0.router.npy.*checksum" "$T/warm.out" && [ ! -e "$T/warm" ]' "init_from at a damaged model: expected exit 2 as train.init_from, no folder (exit $rc): $(cat "$T/warm.out")"

echo "e2e_saved_state: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
