#!/bin/sh
# section5.sh — the experiments of the paper's §5 and the appendix figures that need trained
# models afterwards (claims 11-15; claims 16 and 17 read the runs of claims 5, 3 and 6), run by
# experiments/reproduce.sh after the other claims:
#
#   11  cross-model overlap (Figs. 6, 25): 6 models (claim11_models.toml) and 3 models that write
#       differently (claim11_style.toml) generate from the same prompts; one analyzer model
#       (claim11_analyzer.toml) routes every rollout; moesim compare at p = 0.5, 0.8, 0.9
#   12  prompt → rollout tracking (Fig. 7): the track files of claim 11's comparison, and the pooled
#       hidden-state cosine over depth, prompt vs prompt + rollout (Fig. 14: track_pairs.csv's
#       pooled_prompt, pooled_full, read by the analyzer); then the same 6 models continue the same
#       prompts for 500 tokens (sampling seed 11; each model's own routes, as the analyzer's context
#       holds 32 tokens), a setting where a rollout can leave its prompt's domain
#   13  pruning by usage (Figs. 8-9): moesim eval of the analyzer and of claim 11's AdamW models,
#       keeping 6 of 16 experts in the last layer, ranked on one evaluation sequence; then the same
#       pruning of claim 15's micro-batch-balanced baselines (prefill usage alike across domains)
#   14  truncation to the leading directions (Fig. 24): the truncation.csv of claim 11's models
#   15  switching balancing scope part-way (Qiu et al. 2025, Table 3): claim15_stage1 (micro,
#       100 steps) continued by claim15_switch (global, 100 steps, train.init_from), against
#       claim15_baselines (200 steps of each)
#
#   sh experiments/section5.sh [--resume] [--check] [--confirm]
#     --resume   keep finished runs and outputs (after an interruption)
#     --confirm  the confirmation run (issue 22): experiments/confirm/*.toml (fresh training seeds
#                2101-2105, fresh world data.seed 2100) into results/confirm/, sampling seeds 2107
#                and 2111 instead of 7 and 11; the rules that judge it are frozen in
#                experiments/claims/freeze.toml
#     --check    a reduced version into build/reproduce-check/section5 (fewer models, prompts and
#                steps; CI runs it through reproduce.sh --check), then `python3 -m claims check`
#                (experiments/claims/) judges it and exits 1 if a robust result no longer holds
# The verdicts of claims 11-17 are judged when results/README.md is written (reproduce.sh --readme:
# `python3 -m claims page`; rules in experiments/claims/rules/claim1[1-7].toml).
# Environment: MOESIM (default ./moesim), JOBS (parallel runs, default 2), OUT (default results).
set -eu
cd "$(dirname "$0")/.."
MOESIM=${MOESIM:-./moesim}
JOBS=${JOBS:-2}
OUT=${OUT:-results}
FORCE=--force
CHECK=0
CONFIRM=0
EXP=experiments          # where the experiment files are (experiments/confirm for --confirm)
SEEDS="1 2 3"            # claim 15's per-seed switch runs
GEN_SEED=7 LONG_SEED=11  # sampling seeds of the rollouts and of the long rollouts
for a in "$@"; do
    case $a in
        --resume) FORCE= ;;
        --check) CHECK=1; OUT=build/reproduce-check/section5 ;;
        --confirm) CONFIRM=1; OUT=${OUT%/}/confirm; EXP=experiments/confirm; SEEDS="2101 2102 2103 2104 2105"
                   GEN_SEED=2107 LONG_SEED=2111 ;;
        *) echo "usage: sh experiments/section5.sh [--resume] [--check] [--confirm]" >&2; exit 2 ;;
    esac
done
# the check: 3 models (one optimizer), fewer steps, one prompt per domain
if [ $CHECK = 1 ]; then
    MODELS_SET="--set train.steps=120 --set optim.name=\"adamw\""
    PER_DOMAIN=1; SAMPLES=2
else
    MODELS_SET=""
    PER_DOMAIN=2; SAMPLES=3
fi
run() {  # run NAME OUTDIR [--set ...]
    name=$1 dir=$2; shift 2
    # shellcheck disable=SC2086
    "$MOESIM" run "$EXP/$name.toml" -j "$JOBS" --quiet $FORCE --out "$dir" "$@"
}
gen() {  # gen RUN_DIR OUT_DIR: the same prompts for every model (8 prompt tokens, 24 new ones)
    [ -n "$FORCE" ] || [ ! -s "$2/complete.json" ] || return 0  # whole (docs/EXPERIMENTS.md)
    mkdir -p "$(dirname "$2")"
    "$MOESIM" generate "$1" --out "$2" --prompts-per-domain $PER_DOMAIN --samples $SAMPLES --prompt-len 8 \
        --tokens 24 --temperature 1 --seed $GEN_SEED >"$2.log" 2>&1 && rm -f "$2.log" || { cat "$2.log" >&2; exit 1; }
}

# ---- claims 11, 12, 14: models, analyzer, rollouts, comparison ----------------------------------
c11=$OUT/claim11_cross_model
# shellcheck disable=SC2086
run claim11_models "$c11/models" $MODELS_SET
run claim11_analyzer "$c11/analyzer" $( [ $CHECK = 1 ] && echo "--set train.steps=120" )
[ $CHECK = 1 ] || run claim11_style "$c11/style"
for variant in models style; do
    [ -d "$c11/$variant" ] || continue
    gens=""
    for r in "$c11/$variant"/*=*; do
        [ -s "$r/model/state.json" ] || continue
        g="$c11/gen_$variant/$(basename "$r")"
        gen "$r" "$g"
        gens="$gens $g"
    done
    for p in 0.5 0.8 0.9; do
        [ $CHECK = 1 ] && [ $p != 0.8 ] && continue
        # shellcheck disable=SC2086
        "$MOESIM" compare $gens --out "$c11/compare_${variant}_p$p" --top-p $p --route-with "$c11/analyzer/run" 2>/dev/null
        # one row per pair of rollouts (tens of thousands): regenerable, not kept in results/
        rm -f "$c11/compare_${variant}_p$p/compare_pairs.csv"
    done
done

# claim 12 in long rollouts: 500 new tokens (the sliding window restarts; docs/EXPERIMENTS.md,
# Generation), each model's own routes (compare without --route-with: one model at a time in track*.csv)
if [ -d "$c11/models" ]; then
    gens=""
    for r in "$c11/models"/*=*; do
        [ -s "$r/model/state.json" ] || continue
        g="$c11/gen_long/$(basename "$r")"
        if [ -n "$FORCE" ] || [ ! -s "$g/complete.json" ] || [ ! -s "$g/routes.npy" ]; then
            mkdir -p "$c11/gen_long"
            "$MOESIM" generate "$r" --out "$g" --prompts-per-domain $PER_DOMAIN --samples 1 --prompt-len 8 \
                --tokens 500 --temperature 1 --seed $LONG_SEED >"$g.log" 2>&1 && rm -f "$g.log" || { cat "$g.log" >&2; exit 1; }
        fi
        gens="$gens $g"
    done
    # shellcheck disable=SC2086
    "$MOESIM" compare $gens --out "$c11/compare_long" 2>/dev/null
    rm -f "$c11/compare_long/compare_pairs.csv"
    # claims/claim12.py reads only tokens.npy and generate.json of these (the domain drift); the routes,
    # gates and confidences of 500-token rollouts (2 MB, regenerable) are not kept in results/
    for g in $gens; do rm -f "$g/routes.npy" "$g/gates.npy" "$g/confidence.npy"; done
fi

# ---- claim 13: pruning ---------------------------------------------------------------------------
c13=$OUT/claim13_pruning
mkdir -p "$c13"
for r in "$c11/analyzer/run" "$c11"/models/name=adamw-seed=* "$c11"/models/seed=*; do
    [ -s "$r/model/state.json" ] || continue
    id=$(basename "$r"); [ "$id" = run ] && id=analyzer
    "$MOESIM" eval "$r" --out "$c13/$id" --set eval.prune_keep=6 --set eval.prune_layers=1 \
        --set 'eval.prune_on="sequence:0"' >/dev/null 2>&1
done

# ---- claim 15: switching the balancing scope part-way --------------------------------------------
c15=$OUT/claim15_switch_scope
if [ $CHECK = 0 ]; then
    run claim15_baselines "$c15/baselines"
    run claim15_stage1 "$c15/stage1"
    for s in $SEEDS; do
        run claim15_switch "$c15/switch/seed$s" --set "train.seed=$s" \
            --set "train.init_from=\"$c15/stage1/seed=$s\""
    done
    awk 'FNR > 1 || NR == 1' "$c15"/switch/seed*/summary.csv > "$c15/switch/summary.csv"
    # claim 13 where prefill usage has collapsed: the micro-batch-balanced baselines, pruned alike
    for r in "$c15"/baselines/scope=micro-seed=*; do
        [ -s "$r/model/state.json" ] || continue
        "$MOESIM" eval "$r" --out "$OUT/claim13_pruning_micro/$(basename "$r")" --set eval.prune_keep=6 \
            --set eval.prune_layers=1 --set 'eval.prune_on="sequence:0"' >/dev/null 2>&1
    done
fi

# ---- the check's verdicts (the full run's, exploration and confirmation, are judged by
# reproduce.sh --readme against the frozen rules) -------------------------------------------------
if [ $CHECK = 1 ]; then PYTHONPATH=experiments python3 -m claims check "$OUT"; fi
