#!/bin/sh
# e2e_cli.sh — the program end to end: bad input exits 2 and leaves nothing behind; a sweep runs,
# resumes after being killed to the same results, gives the same results with -j 2; shards are
# disjoint and cover the points; a diverging run is recorded and the sweep goes on; export
# writes .npy files whose gradients agree with a float64 finite-difference check; analyze
# reproduces a run's measurements, and those agree with a recomputation in Python from the
# dumped arrays. A check that cannot run here (no Python 3.11) prints "skipped: <why>" and is
# counted. Prints "e2e_cli: N passed, M failed, K skipped".
# covers: sim/main.c sim/train/sweep.c sim/train/results.c sim/config/load.c sim/report/html.c
# covers: sim/tools/export.c sim/tools/analyze.c
set -u
MOESIM=${MOESIM:-./moesim}
BUILD_DIR=${BUILD_DIR:-build/rel}
pass=0; fail=0; skipped=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_cli: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
skip() { skipped=$((skipped + 1)); echo "e2e_cli: skipped: $*"; }
# python3 of version 3.11 or later (tomllib), or nothing
PY=
if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then PY=python3; fi
nopy="python3 >= 3.11 not found"
T=$(mktemp -d /tmp/moesim_e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
FX=tests/fixtures/e2e

# 1. bad input: every error at once, exit 2, nothing created
$MOESIM run $FX/bad.toml --out "$T/bad" >"$T/bad.out" 2>&1; rc=$?
check '[ $rc -eq 2 ]' "bad config exit status $rc, expected 2"
check '[ ! -e "$T/bad" ]' "bad config created its output folder"
check 'grep -q "bad.toml:4: unknown key" "$T/bad.out"' "unknown key not reported with file:line"
check 'grep -q "top_k" "$T/bad.out" && grep -q "micro_batch" "$T/bad.out"' "cross-field errors not all reported"
$MOESIM run $FX/tiny.toml --set model.experts=x --out "$T/bad2" >"$T/bad2.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && [ ! -e "$T/bad2" ] && grep -q -- "--set" "$T/bad2.out"' "bad --set not rejected cleanly"
$MOESIM run /nonexistent.toml >"$T/bad3.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "nonexistent.toml" "$T/bad3.out"' "missing file not reported (exit $rc)"

# 2. dry run lists 4 points and creates nothing
$MOESIM run $FX/tiny.toml --out "$T/dry" --dry-run >"$T/dry.out" 2>&1
check '[ $(grep -c "  to run$" "$T/dry.out") -eq 4 ] && [ ! -e "$T/dry" ]' "dry run did not list 4 points or created files"

# 3. a full sweep, once uninterrupted
$MOESIM run $FX/tiny.toml --out "$T/a" --quiet >"$T/a.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "sweep exit status $rc"
check '[ $(ls -d "$T"/a/*=*-seed=* | wc -l) -eq 4 ]' "expected 4 run folders"
for f in summary.csv report.html experiment.toml; do check '[ -s "$T/a/$f" ]' "missing $f"; done
check '[ $(wc -l <"$T/a/summary.csv") -eq 5 ]' "summary.csv should have a header and 4 rows"
check 'head -1 "$T/a/scope=micro-seed=1/metrics.csv" | grep -q "^step,loss,ce,aux,lr,grad_norm,maxvio_batch,tokens_per_s$"' "metrics.csv columns"
check 'head -1 "$T/a/scope=micro-seed=1/eval.csv" | grep -q "^step,layer,eval_ce,router_confidence,"' "eval.csv columns"
check 'grep -q "\"status\": \"ok\"" "$T/a/scope=global-seed=2/manifest.json"' "manifest status ok"
check '[ $(wc -l <"$T/a/scope=micro-seed=1/removal.csv") -ge 3 ] && head -1 "$T/a/scope=micro-seed=1/removal.csv" | grep -q "^r,masked_experts,eval_ce,delta_ce$"' "removal.csv missing or empty"
check '! ls "$T"/a/*/*.tmp.* >/dev/null 2>&1' "temporary files left behind"
if [ -n "$PY" ]; then
    $PY -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$T/a/report.html" 2>"$T/xml.err"
    check '[ $? -eq 0 ]' "report.html is not well-formed XML: $(cat "$T/xml.err")"
    $PY -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$T/a/scope=micro-seed=1/config.toml"
    check '[ $? -eq 0 ]' "config.toml is not valid TOML"
else
    skip "$nopy: report.html not parsed as XML, config.toml not read by tomllib"
fi
# train.clip (0.5 in tiny.toml) is active, and matters: gradient norms above it were clipped,
# and the same point with clipping off ends elsewhere (guards against a clip that is ignored)
check 'awk -F, "NR > 1 && \$6 > 0.5 { n++ } END { exit !(n > 0) }" "$T/a/scope=micro-seed=1/metrics.csv"' "no gradient norm above train.clip = 0.5: the clip is never active"
$MOESIM run $FX/tiny.toml --out "$T/clip0" --shard 1/4 --set train.steps=10 --set train.clip=0 --quiet >/dev/null 2>&1
$MOESIM run $FX/tiny.toml --out "$T/clip1" --shard 1/4 --set train.steps=10 --quiet >/dev/null 2>&1
check '[ -s "$T/clip0/scope=micro-seed=1/metrics.csv" ] && ! cmp -s "$T/clip0/scope=micro-seed=1/eval.csv" "$T/clip1/scope=micro-seed=1/eval.csv"' "train.clip = 0.5 and no clipping give the same run"
# a second call has nothing to do
$MOESIM run $FX/tiny.toml --out "$T/a" >"$T/a2.out" 2>&1
check 'grep -q "4 of 4 runs already done" "$T/a2.out"' "re-running did not skip finished runs"

# results without the timing columns (tokens_per_s, wall clock) must be identical
strip() { for r in "$1"/*=*/; do n=$(basename "$r"); cut -d, -f1-7 "$r/metrics.csv"; cat "$r/eval.csv" "$r/experts.csv" "$r/pairs.csv"; done; }

# 4. killed mid-sweep, then resumed: the same results as the uninterrupted sweep of 5. Runs of
# 120 steps (three times tiny.toml's), so the sweep outlasts the poll: the kill comes as soon as
# the first run is done (polled every 0.02 s); the check that some runs were unfinished at the
# kill proves it landed before the sweep ended, and the resume must say how many it found done.
LONG="--set train.steps=120"
$MOESIM run $FX/tiny.toml --out "$T/b" $LONG --quiet >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 1500 ] && ! grep -qs '"status": "ok"' "$T"/b/*/manifest.json; do sleep 0.02; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
done_at_kill=$(grep -ls '"status": "ok"' "$T"/b/*/manifest.json | wc -l)
check '[ $done_at_kill -ge 1 ] && [ $done_at_kill -lt 4 ]' "the kill did not land mid-sweep: $done_at_kill of 4 runs were done at the kill"
$MOESIM run $FX/tiny.toml --out "$T/b" $LONG >"$T/b.out" 2>&1
check 'grep -q "$done_at_kill of 4 runs already done" "$T/b.out"' "the resume did not find the $done_at_kill finished runs: $(head -3 "$T/b.out")"

# 5. the same sweep uninterrupted with -j 2 gives the same results as the resumed -j 1 sweep
$MOESIM run $FX/tiny.toml --out "$T/c" $LONG -j 2 --quiet >/dev/null 2>&1
check '[ -s "$T/c/summary.csv" ] && [ "$(strip "$T/b" | md5sum)" = "$(strip "$T/c" | md5sum)" ]' "the resumed sweep (-j 1) and the uninterrupted -j 2 sweep differ"

# 6. shards: disjoint, and together the whole sweep
$MOESIM run $FX/tiny.toml --out "$T/d" --shard 1/3 --quiet >/dev/null 2>&1
n1=$(ls -d "$T"/d/*=*/ | wc -l)
$MOESIM run $FX/tiny.toml --out "$T/d" --shard 2/3 --quiet >/dev/null 2>&1
$MOESIM run $FX/tiny.toml --out "$T/d" --shard 3/3 --quiet >/dev/null 2>&1
check '[ $n1 -eq 2 ] && [ $(ls -d "$T"/d/*=*/ | wc -l) -eq 4 ]' "shards: first had $n1 runs (expected 2), total should be 4"
check '[ "$(strip "$T/a" | md5sum)" = "$(strip "$T/d" | md5sum)" ]' "sharded sweep differs"
$MOESIM run $FX/tiny.toml --shard 4/3 --out "$T/e" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ] && [ ! -e "$T/e" ]' "--shard 4/3 not rejected"

# 7. a diverging run is recorded and the sweep goes on
MOESIM_INJECT_NAN=5 $MOESIM run $FX/tiny.toml --out "$T/f" --set train.steps=10 --quiet >"$T/f.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "a diverged run is a result, not a failure (exit $rc)"
check '[ $(grep -l "\"status\": \"diverged\"" "$T"/f/*/manifest.json | wc -l) -eq 4 ]' "diverged runs not recorded as diverged"
check 'grep -q "step 5: loss is nan" "$T/f/scope=micro-seed=1/manifest.json"' "divergence message names the step"
check 'grep -c ",diverged," "$T/f/summary.csv" | grep -q 4' "summary.csv does not mark diverged runs"
# only an "ok" run is done: running the sweep again redoes the diverged ones (no NaN this time)
$MOESIM run $FX/tiny.toml --out "$T/f" --set train.steps=10 --quiet >/dev/null 2>&1
check '[ $(grep -l "\"status\": \"ok\"" "$T"/f/*/manifest.json | wc -l) -eq 4 ]' "diverged runs were taken as done and not run again"

# 8. export: .npy files, and their gradients against a float64 finite-difference check
$MOESIM export $FX/tiny.toml --out "$T/x" --set train.seed=3 >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/x/manifest.json" ] && [ -s "$T/x/params/blocks.1.w1.npy" ]' "export failed ($rc)"
check '[ -s "$T/x/acts/blocks.0.topk.npy" ] && [ -s "$T/x/state/blocks.1.bias.npy" ] && [ -s "$T/x/tokens.npy" ]' "export files missing"
if [ -x "$BUILD_DIR/tests/verify_export" ]; then
    out=$("$BUILD_DIR/tests/verify_export" "$T/x" 2>&1); rc=$?
    check '[ $rc -eq 0 ]' "exported gradients disagree with finite differences: $out"
fi
if [ -n "$PY" ]; then
    $PY tests/verify_npy.py "$T/x" >"$T/npy.out" 2>&1
    check '[ $? -eq 0 ]' "the .npy files do not parse: $(tail -3 "$T/npy.out")"
else
    skip "$nopy: the exported .npy files not parsed"
fi

# 9. analyze reproduces a run's measurements from its dumped arrays, and both agree with the
# same measurements recomputed in Python from those arrays (tests/verify_analyze.py: formulas
# written afresh; comparing analyze with eval.csv alone would only test the plumbing, since both
# come from the same metrics code)
$MOESIM run $FX/tiny.toml --out "$T/g" --set eval.dump=true --set 'balance.scope="micro"' --set train.seed=1 --quiet >/dev/null 2>&1
r="$T/g/run"
$MOESIM analyze --hidden "$r/dump/blocks.1.hidden.npy" --router "$r/dump/blocks.1.router.npy" --top-k 2 \
    --seq-len 8 --domains "$r/dump/domains.npy" --pairs 200 --out "$T/an" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/an/analysis.json" ]' "analyze failed ($rc)"
if [ -n "$PY" ]; then
    $PY - "$T/an/analysis.json" "$r/eval.csv" <<'PY'
import csv, json, math, sys
a = json.load(open(sys.argv[1]))
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["layer"] == "1"]
last = rows[-1]
for k in ["router_confidence", "hamming_similarity", "cosine_hidden", "energy_first", "maxvio",
          "freqsim_cross_domain", "nmi_domain_expert", "suppression_rho", "topk_score_sum"]:
    x, y = a[k], float(last[k])
    assert math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-7), (k, x, y)
PY
    check '[ $? -eq 0 ]' "analyze does not reproduce the run's eval.csv"
    $PY tests/verify_analyze.py "$r/dump" 1 2 8 0.8 "$r/eval.csv" "$T/an/analysis.json" >"$T/ca.out" 2>&1
    check '[ $? -eq 0 ]' "layer 1's measurements disagree with the recomputation: $(head -5 "$T/ca.out")"
    $PY tests/verify_analyze.py "$r/dump" 0 2 8 0.8 "$r/eval.csv" >"$T/ca0.out" 2>&1
    check '[ $? -eq 0 ]' "layer 0's measurements disagree with the recomputation: $(head -5 "$T/ca0.out")"
else
    skip "$nopy: analyze not compared with eval.csv, measurements not recomputed"
fi
$MOESIM analyze --hidden "$r/dump/blocks.1.hidden.npy" --router "$r/dump/domains.npy" --top-k 2 --out "$T/an2" >"$T/an2.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "domains.npy" "$T/an2.out"' "analyze with a wrong file not reported"

echo "e2e_cli: $pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
