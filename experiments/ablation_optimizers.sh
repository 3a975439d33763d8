#!/bin/sh
# ablation_optimizers.sh — the optimizer ablation of issue 25 (exploration): every optimizer at
# its own learning rate, the one ablation_optimizers_lr.toml chose (lowest eval CE at seed 1; the
# table and the sweep's numbers are in docs/EXPERIMENTS.md), each a sweep over the seeds of
# ablation_optimizers.toml (its [sweep] "optim.name" is pinned per call). A learning rate is a
# per-optimizer setting, which a grid sweep cannot express, hence one call per optimizer, each
# into DIR/<optimizer>/ with its own summary.csv.
#   sh experiments/ablation_optimizers.sh DIR [MOESIM] [--set KEY=VALUE ...]
# Environment: EXP, the experiment file (default experiments/ablation_optimizers.toml; the
# confirmation run, issue 22, uses experiments/confirm/ablation_optimizers.toml: fresh seeds).
# Extra --set arguments go to every call (e.g. --set 'train.seed=[4, 5, 6]' is not allowed: a
# seed list is changed in ablation_optimizers.toml itself; --set train.steps=20 for a smoke run).
set -eu
EXP=${EXP:-experiments/ablation_optimizers.toml}
DIR=$1
MOESIM=${2:-./moesim}
[ $# -ge 2 ] && shift 2 || shift 1
for pair in adamw:3e-3 muon:3e-3 sgd:3e-2 lion:3e-3 adafactor:3e-3 soap:3e-3; do
    name=${pair%%:*}
    lr=${pair#*:}
    "$MOESIM" run "$EXP" --out "$DIR/$name" --quiet \
        --set "optim.name=\"$name\"" --set "train.lr=$lr" "$@"
done
