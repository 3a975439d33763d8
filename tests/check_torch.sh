#!/bin/sh
# check_torch.sh — moesim against a PyTorch model written afresh (tests/torch_moe.py, issue 26):
# `moesim export` of four tiny decoders (scopes micro, global, sequence; softmax and sigmoid
# scores; gate_norm; 2 and 4 heads; 2 and 3 layers; no attention; no balancing), and PyTorch in
# float64 on the same parameters and batch must give the same step-0 loss (and its ce and aux),
# the same router inputs, logits and top-K, and every parameter's gradient, within float32
# rounding (the tolerances and their reasons are in torch_moe.py). The same PyTorch model is timed
# beside ours by `make bench` (tests/bench_torch.py), so this is what makes that comparison fair.
# Needs a python3 with torch and numpy (python3 on PATH, else /usr/bin/python3: Debian's
# python3-torch); without one it is one counted skip. Run once (a check_ script), with the first
# build's moesim. Prints "check_torch: N passed, M failed, K skipped".
# covers: nn/model.c nn/block.c nn/moe.c nn/balance.c nn/attention.c sim/tools/export.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "check_torch: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
# The probe imports what torch_moe.py imports and runs one backward: a torch that is only partly
# there (a leftover folder, a missing torch.nn) is no torch, and skips with its error.
PY=; why=
for p in python3 /usr/bin/python3; do
    command -v "$p" >/dev/null 2>&1 || continue
    if out=$(PYTHONDONTWRITEBYTECODE=1 "$p" tests/torch_moe.py --probe 2>&1); then PY=$p; break; fi
    why="$why; $p: $(printf '%s\n' "$out" | tail -1)"
done
if [ -z "$PY" ]; then
    echo "check_torch: skipped: no python3 with a working torch and numpy (apt-get install python3-torch)$why"
    echo "check_torch: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
T=$(mktemp -d /tmp/moesim_torch.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml
i=0
while read -r sets; do
    i=$((i + 1))
    eval "$MOESIM export $FX --out \"$T/x$i\" $sets" >"$T/x$i.out" 2>&1; rc=$?
    check '[ $rc -eq 0 ]' "moesim export $sets: exit $rc ($(head -c 300 "$T/x$i.out"))"
done <<'EOF'
--set train.seed=3
--set train.seed=5 --set 'balance.scope="global"' --set model.gate_norm=true --set model.heads=4
--set train.seed=7 --set 'balance.scope="sequence"' --set 'model.score="sigmoid"' --set model.layers=3 --set model.experts=8 --set model.top_k=3
--set train.seed=9 --set model.attention=false --set 'balance.method="none"'
EOF
PYTHONDONTWRITEBYTECODE=1 "$PY" tests/torch_moe.py "$T"/x1 "$T"/x2 "$T"/x3 "$T"/x4 >"$T/py.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "PyTorch and moesim disagree (exit $rc):
$(grep -v '^  ' "$T/py.out" | head -20)"
# the comparison ran on every export and every gradient (not an empty pass)
check '[ $(grep -c "gradients: .* tensors" "$T/py.out") -eq 4 ]' "not every export's gradients were compared: $(tail -3 "$T/py.out")"
echo "check_torch: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
