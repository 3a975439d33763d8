#!/bin/sh
# e2e_text.sh — the text world end to end on the fixture corpora (tests/fixtures/text): a run
# records its corpus and byte baselines (manifest.json, report.html with named heatmap rows); a run
# killed in a checkpoint resumes, with one thread instead of two, to the uninterrupted run's
# results; generate writes samples.txt and eval runs; each bad input stops before anything is
# written (exit 2, the experiment's file:line); resume, train.init_from, eval and generate refuse a
# corpus whose content changed, naming the domain (eval takes it under a new name); and a run on the installed fortunes (a counted skip when
# they are not installed). Prints "e2e_text: N passed, M failed, K skipped".
# covers: sim/worlds/corpus.c sim/worlds/text.c sim/train/sweep.c sim/train/saved_state.c
# covers: sim/evaluate/writers.c sim/report/text_world.c sim/use/generate.c sim/tools/compare.c sim/use/prune.c
# covers: sim/models/corpus_check.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_text: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_text.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
FX=$(pwd)/tests/fixtures/text

# a tiny model on the three fixture languages (line 6 is data.corpus: the errors point at it)
exp() {  # exp NAME CORPUS [MORE TOML]
    printf '[data]\nworld = "text"\ndomains = 3\nmix = "homogeneous"\nseparator = "%%"\ncorpus = %s\n%s\n[model]\nseq_len = 16\nd_model = 16\nd_ff = 16\nexperts = 4\n[train]\nsteps = 6\nbatch = 4\nlog_every = 2\ncheckpoint_every = 2\n[eval]\nevery = 0\nsequences = 4\npairs = 50\n' "$2" "${3:-}" >"$T/$1.toml"
}
C3="[\"ka=$FX/ka\", \"zo=$FX/zo\", \"cy=$FX/cy\"]"
same_results() {
    for f in metrics.csv layers.csv eval.csv experts.csv; do
        if [ "$f" = metrics.csv ]; then
            cut -d, -f1-6 "$1/run/$f" >"$T/x1"; cut -d, -f1-6 "$2/run/$f" >"$T/x2"
            cmp -s "$T/x1" "$T/x2" || return 1
        else
            cmp -s "$1/run/$f" "$2/run/$f" || return 1
        fi
    done
}

# 1. a run: the corpus record and the baselines in manifest.json and the report
exp fx "$C3"
OMP_NUM_THREADS=2 $MOESIM run "$T/fx.toml" --out "$T/ref" --quiet >"$T/ref.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"status\": \"ok\"" "$T/ref/run/manifest.json"' "fixture run exit $rc: $(tail -2 "$T/ref.out")"
check 'grep -q "\"name\": \"zo\"" "$T/ref/run/manifest.json" && grep -q "\"documents\": 80" "$T/ref/run/manifest.json" && grep -q "\"fnv1a64\": \"[0-9a-f]\{16\}\"" "$T/ref/run/manifest.json"' "manifest.json: no corpus record"
check 'grep -q "\"bigram_ce\": [0-9]" "$T/ref/run/manifest.json" && grep -q "\"unigram_ce\": [0-9]" "$T/ref/run/manifest.json"' "manifest.json: no baselines"
check 'grep -q "\"corpus\": \"ka:[0-9a-f]\{16\} zo:" "$T/ref/run/model/state.json"' "the saved model keeps no corpus record"
check 'grep -q "id=\"corpus\"" "$T/ref/report.html" && grep -q ">cy<" "$T/ref/plots/heatmaps.svg"' "report: no corpus table or no named heatmap rows"

# 2. killed in its 2nd checkpoint, resumed with one thread: the uninterrupted run's results
MOESIM_CKPT_KILL=2 OMP_NUM_THREADS=2 $MOESIM run "$T/fx.toml" --out "$T/k" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 137 ] && [ -s "$T/k/run/checkpoint/state.json" ]' "kill in the 2nd checkpoint: exit $rc"
OMP_NUM_THREADS=1 $MOESIM run "$T/fx.toml" --out "$T/k" --quiet >"$T/k.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"resumed_from\": 2" "$T/k/run/manifest.json" && same_results "$T/ref" "$T/k"' "resume with 1 thread: results differ from the uninterrupted run (exit $rc)"

# 3. generate writes readable text; eval runs on a text run
$MOESIM generate "$T/ref/run" --out "$T/gen" --prompts-per-domain 1 --prompt-len 8 --tokens 12 >"$T/gen.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ "$(grep -c "^--- prompt$" "$T/gen/samples.txt")" = 3 ] && [ "$(grep -c "^--- continuation$" "$T/gen/samples.txt")" = 3 ] && grep -q "domain cy" "$T/gen/samples.txt"' "generate: samples.txt (exit $rc)"
$MOESIM eval "$T/ref/run" --set eval.transform=\"reverse\" --out "$T/ev" >"$T/ev.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/ev/eval.csv" ]' "eval on a text run with eval.transform reverse (exit $rc)"
# compare (two generations of the same model, other sampling seeds) and prune (eval keeping 2 experts)
$MOESIM generate "$T/ref/run" --out "$T/gen2" --prompts-per-domain 1 --prompt-len 8 --tokens 12 --seed 9 >"$T/gen2.out" 2>&1
$MOESIM compare "$T/gen" "$T/gen2" --out "$T/cmp" >"$T/cmp.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/cmp/compare.csv" ] && [ "$(wc -l < "$T/cmp/compare.csv")" -ge 2 ]' "compare on a text run's generations (exit $rc: $(tail -1 "$T/cmp.out"))"
$MOESIM eval "$T/ref/run" --set eval.prune_keep=2 --set eval.prune_layers=1 --out "$T/pr" >"$T/pr.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/pr/prune.csv" ] && [ "$(wc -l < "$T/pr/prune.csv")" -ge 2 ]' "prune (eval.prune_keep) on a text run (exit $rc: $(tail -1 "$T/pr.out"))"

# 4. bad input: exit 2, the experiment's file and line, and nothing written
refused() {  # refused NAME NEEDLE [--set ...]: the run of $T/NAME.toml stops before anything is written
    n=$1; needle=$2; shift 2
    $MOESIM run "$T/$n.toml" "$@" --out "$T/$n-out" >"$T/$n.out" 2>&1; rc=$?
    check '[ $rc -eq 2 ] && [ ! -e "$T/$n-out" ] && grep -q "$needle" "$T/$n.out"' "$n: expected exit 2 with '$needle' and no folder (exit $rc: $(tail -1 "$T/$n.out"))"
}
exp missing "[\"ka=$FX/ka\", \"zo=$FX/nope\", \"cy=$FX/cy\"]"
refused missing "missing.toml:6: data.corpus: .*nope: no such file or folder"
exp fortune "[\"ka=$FX/ka\", \"zo=/usr/share/games/fortunes/zz\", \"cy=$FX/cy\"]"
refused fortune "apt-get install fortunes"
exp binary "[\"ka=$FX/ka\", \"zo=$FX/binary.bin\", \"cy=$FX/cy\"]"
refused binary "binary.toml:6: .*binary.bin is not text"
exp empty "$C3" 'exclude = ["a.txt", "b.txt"]'
refused empty "empty.toml:6: .*domain \"ka\" is empty"
exp short "$C3"
refused short "short.toml:6: .*shorter than one sequence" --set model.seq_len=3000
exp twice "[\"ka=$FX/ka\", \"zo=$FX/ka/a.txt\", \"cy=$FX/cy\"]"
refused twice "is in two domains"
exp names "[\"ka=$FX/ka\", \"ka=$FX/zo\", \"cy=$FX/cy\"]"
refused names "must equal the 2 domain names"
exp vocab "$C3"
refused vocab "model.vocab = 128" --set model.vocab=128

# 5. a changed corpus: resume and warm start refuse it, naming the domain
cp -r "$FX" "$T/fx2"
exp cp "[\"ka=$T/fx2/ka\", \"zo=$T/fx2/zo\", \"cy=$T/fx2/cy\"]"
MOESIM_CKPT_KILL=2 $MOESIM run "$T/cp.toml" --out "$T/cpr" --quiet >/dev/null 2>&1
echo "Neue Zeile." >>"$T/fx2/zo/b.txt"
$MOESIM run "$T/cp.toml" --out "$T/cpr" --quiet >"$T/cpr.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "corpus of domain \"zo\" changed" "$T/cpr.out" && [ ! -e "$T/cpr/run/manifest.json" ]' "resume on a changed corpus: expected exit 2 naming zo (exit $rc)"
$MOESIM run "$T/cp.toml" --set train.init_from="\"$T/ref/run\"" --out "$T/warm" --quiet >"$T/warm.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "corpus of domain \"zo\" changed" "$T/warm.out" && [ ! -e "$T/warm" ]' "init_from on a changed corpus: expected exit 2 naming zo (exit $rc)"
# eval and generate on a finished run whose corpus changed afterwards: refused, naming the domain,
# with no output folder; eval on the changed text under a new domain name is other text, and runs
cp -r "$FX" "$T/fx3"
exp done3 "[\"ka=$T/fx3/ka\", \"zo=$T/fx3/zo\", \"cy=$T/fx3/cy\"]"
$MOESIM run "$T/done3.toml" --set train.checkpoint_every=0 --out "$T/d3" --quiet >"$T/d3.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "a run on a copy of the fixtures (exit $rc: $(tail -1 "$T/d3.out"))"
$MOESIM eval "$T/d3/run" --out "$T/d3ev0" >"$T/d3ev0.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/d3ev0/eval.csv" ]' "eval on an unchanged corpus (exit $rc: $(tail -1 "$T/d3ev0.out"))"
echo "Noch eine Zeile." >>"$T/fx3/zo/a.txt"
$MOESIM eval "$T/d3/run" --out "$T/d3ev" >"$T/d3ev.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "corpus of domain \"zo\" changed since it was saved" "$T/d3ev.out" && grep -q "give its domain a new name" "$T/d3ev.out" && [ ! -e "$T/d3ev" ]' "eval on a changed corpus: expected exit 2 naming zo and no folder (exit $rc: $(tail -1 "$T/d3ev.out"))"
$MOESIM generate "$T/d3/run" --out "$T/d3gen" --prompts-per-domain 1 --prompt-len 8 --tokens 4 >"$T/d3gen.out" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "corpus of domain \"zo\" changed since it was saved" "$T/d3gen.out" && [ ! -e "$T/d3gen" ]' "generate on a changed corpus: expected exit 2 naming zo and no folder (exit $rc: $(tail -1 "$T/d3gen.out"))"
$MOESIM eval "$T/d3/run" --set "data.corpus=[\"ka=$T/fx3/ka\", \"zo2=$T/fx3/zo\", \"cy=$T/fx3/cy\"]" --out "$T/d3ev2" >"$T/d3ev2.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/d3ev2/eval.csv" ]' "eval on the changed text under a new name zo2 (exit $rc: $(tail -1 "$T/d3ev2.out"))"

# 6. the installed fortunes (Debian: fortunes-de, fortunes-ru), two steps
F=/usr/share/games/fortunes
if [ -d $F/de ] && [ -d $F/ru ]; then
    exp fortunes "[\"de=$F/de\", \"ru=$F/ru\", \"cy=$FX/cy\"]" 'exclude = ["*.dat", "*.u8"]'
    $MOESIM run "$T/fortunes.toml" --set train.steps=2 --set train.checkpoint_every=0 --out "$T/fort" --quiet >"$T/fort.out" 2>&1; rc=$?
    check '[ $rc -eq 0 ] && grep -q "\"name\": \"ru\"" "$T/fort/run/manifest.json" && [ "$(grep -c "\"files\": [0-9][0-9]" "$T/fort/run/manifest.json")" -ge 2 ]' "a run on the installed fortunes (exit $rc: $(tail -1 "$T/fort.out"))"
else
    skip=$((skip + 1)); echo "e2e_text: skipped: the fortunes are not installed ($F/de, $F/ru)"
fi

echo "e2e_text: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
