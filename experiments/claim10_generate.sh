#!/bin/sh
# claim10_generate.sh — claim 10's sampled continuations (the paper's Fig. 29, App. C.2): from each
# seed's model (the duplicate=1 runs; training does not depend on eval.*) of claim10_duplicate or of
# claim10_copy (the models trained to copy; DIR names which),
# 8 samples of 8 new tokens after each of 4 prompts per domain, the prompt being its first 8
# tokens (the content the evaluation repeats) repeated k = 1, 2, 4, 8, 11 whole times (11 x 8 + 8
# = 96 = model.seq_len: no window restart). Keeps each call's generate.json and diversity.csv in
# DIR/generate/seed=<s>-k=<k>/ (the .npy files and the saved models are deleted: regenerable).
# 15 calls of ~0.3 s each.
#   sh experiments/claim10_generate.sh DIR [MOESIM]
# Environment: SEEDS (the training seeds of DIR's runs, default "1 2 3"), GEN_SEED (the sampling
# seed, default 1); the confirmation run (reproduce.sh --confirm) sets both to fresh seeds.
set -eu
DIR=$1
MOESIM=${2:-./moesim}
SEEDS=${SEEDS:-1 2 3}
GEN_SEED=${GEN_SEED:-1}
mkdir -p "$DIR/generate"
for s in $SEEDS; do
    run="$DIR/duplicate=1-seed=$s"
    for k in 1 2 4 8 11; do
        out="$DIR/generate/seed=$s-k=$k"
        rm -rf "$out"
        # one thread: a few rows per step are too little work to share (2 threads on a busy
        # machine: 3 s a call instead of 0.3 s); the bits do not depend on it
        OMP_NUM_THREADS=1 "$MOESIM" generate "$run" --out "$out" --prompts-per-domain 4 --samples 8 --prompt-len 8 \
            --tokens 8 --duplicate "$k" --seed "$GEN_SEED" 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
        rm -f "$out"/*.npy "$out.log"
    done
done
rm -rf "$DIR"/*/model
