#!/bin/sh
# e2e_keys.sh — every config key reaches its code: each key of the schema (sim/config/schema.h, as
# `moesim help keys` prints it) is set to a non-default value on top of a tiny base run
# (tests/fixtures/e2e/keys_base.toml), and something it should change must change: an output file
# of `moesim run` or `moesim export`, a column, a file appearing or going, an array's shape, or an
# exact value. A key that cannot be observed that way is named, with its reason, in UNOBSERVABLE
# below (the one place). A key of the schema in neither list, or a listed key the schema no longer
# has, fails. Values are chosen so a wrong formula gives a different answer: no factor of 1, no
# offset of 0, no setting the base already has. Prints "e2e_keys: N passed, M failed, K skipped".
# covers: sim/config/values.c sim/models/spec.c sim/train/train.c sim/evaluate/writers.c
# covers: sim/tools/export.c
set -u
MOESIM=${MOESIM:-./moesim}
BUILD_DIR=${BUILD_DIR:-build/rel}
pass=0; fail=0; skipped=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_keys: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
skip() { skipped=$((skipped + 1)); echo "e2e_keys: skipped: $*"; }
# one thread: the runs are tiny, and every number checked here is the same at any thread count
export OMP_NUM_THREADS=1
export LC_ALL=C  # sort and comm in one order; .npy headers read as bytes
T=$(mktemp -d /tmp/moesim_e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
BASE=tests/fixtures/e2e/keys_base.toml

# Keys that cannot be observed by changing one output of a run or an export, each with its
# reason. Keep this list as short as honesty allows; a key that reaches no code is listed here as
# "BUG: ..." until it is fixed.
UNOBSERVABLE=$(cat <<'EOF'
EOF
)

# One row per key: key|value|base|with|kind|file|arg
#   value  the key's non-default value, in TOML syntax (@B@ is the plain base run's folder)
#   base   the run the variant is compared with: plain (keys_base.toml), or keys_base.toml with
#          the key's precondition (see base_sets): cosine, auxfree, muon, sgd, lion, adafactor, soap,
#          geometry, warm, repeat, dup, prune, text (the text world on tests/fixtures/text)
#   with   further --set KEY=VALUE of the variant alone, space-separated ("-": none), for a key
#          that cannot change on its own (model.kind = "router" requires data.world = "geometry")
#   kind   what must change, in file (under the run folder; x/... under the export's folder):
#          differs       the file (timing columns removed) differs from the base's
#          col NAME      the CSV column NAME differs from the base's
#          equals NAME   the CSV column NAME, rows joined by spaces, is exactly arg
#          has TEXT      the file contains TEXT and the base's does not
#          shape SHAPE   the .npy's shape is SHAPE (the base's is not)
#          appears/gone  file exists in the variant only / in the base only
#          rows N        the CSV has N rows after its header (the base's does not)
#          alpha A       every metrics.csv row has loss - ce = A * aux (relative 1e-5)
# Lines starting with # are comments; empty lines are skipped.
TABLE=$(cat <<'EOF'
experiment.name|"keyname7"|plain|-|has|../report.html|keyname7
experiment.question|"Question-of-keys-7?"|plain|-|has|../report.html|Question-of-keys-7?
experiment.expect|"Expectation-of-keys-7"|plain|-|has|../report.html|Expectation-of-keys-7
model.kind|"router"|plain|data.world="geometry"|gone|x/params/wte.npy|
model.vocab|40|plain|-|shape|x/params/wte.npy|(40, 16)
model.d_model|24|plain|-|shape|x/params/wte.npy|(48, 24)
model.layers|3|plain|-|appears|x/params/blocks.2.w1.npy|
model.heads|4|plain|-|differs|x/grads/blocks.0.wqkv.npy|
model.attention|false|plain|-|gone|x/params/blocks.0.wqkv.npy|
model.seq_len|12|plain|-|shape|x/tokens.npy|(8, 13)
model.experts|6|plain|-|shape|x/params/blocks.0.router.npy|(6, 16)
model.top_k|3|plain|-|shape|x/acts/blocks.0.topk.npy|(64, 3)
model.d_ff|24|plain|-|shape|x/params/blocks.0.w1.npy|(4, 24, 16)
model.shared_experts|1|plain|-|appears|x/params/blocks.0.shared_w1.npy|
model.score|"sigmoid"|plain|-|differs|x/grads/blocks.0.router.npy|
model.gate_norm|true|plain|-|differs|x/grads/blocks.0.router.npy|
model.init_std|0.05|plain|-|differs|x/params/blocks.0.w1.npy|
model.embed_shared|2|plain|-|differs|x/params/wte.npy|
train.steps|9|plain|-|equals|metrics.csv|step|3 6 9
train.batch|12|plain|-|shape|x/tokens.npy|(12, 9)
train.micro_batch|2|plain|-|col|metrics.csv|aux
train.seed|3|plain|-|differs|x/params/wte.npy|
train.lr|0.005|plain|-|equals|metrics.csv|lr|0.005 0.005 0.005 0.005
# the warm-up ramps the default constant schedule: lr at 0-based step 2 is 3e-3 * 3/4
train.warmup|4|plain|-|equals|metrics.csv|lr|0.00225 0.003 0.003 0.003
# the lr logged at step s is that of step s (0-based s - 1): cosine from 3e-3 to 3e-4 over 12 steps
train.schedule|"cosine"|plain|-|equals|metrics.csv|lr|0.00278569 0.00184213 0.000765938 0.0003
train.min_lr_ratio|0.3|cosine|-|equals|metrics.csv|lr|0.00283332 0.00209943 0.0012624 0.0009
train.clip|0.5|plain|-|col|metrics.csv|loss
train.log_every|4|plain|-|equals|metrics.csv|step|4 8 12
train.save_model|false|plain|-|gone|model/params/wte.npy|
train.checkpoint_every|6|plain|-|appears|checkpoint|
train.recompute|true|plain|-|has|config.toml|recompute = true
train.init_from|"@B@"|plain|-|col|metrics.csv|loss
train.init_optimizer|false|warm|-|col|metrics.csv|loss
optim.name|"muon"|plain|-|col|metrics.csv|loss
optim.beta1|0.8|plain|-|col|metrics.csv|loss
optim.beta2|0.9|plain|-|col|metrics.csv|loss
optim.eps|1e-3|plain|-|col|metrics.csv|loss
optim.weight_decay|0.5|plain|-|differs|model/params/wte.npy|
optim.momentum|0.8|muon|-|col|metrics.csv|loss
optim.nesterov|false|muon|-|col|metrics.csv|loss
optim.ns_steps|3|muon|-|col|metrics.csv|loss
optim.muon_scale|"kj"|muon|-|col|metrics.csv|loss
optim.muon_router|false|muon|-|differs|model/params/blocks.0.router.npy|
optim.sgd_momentum|0.5|sgd|-|col|metrics.csv|loss
optim.sgd_nesterov|true|sgd|-|col|metrics.csv|loss
optim.lion_beta1|0.5|lion|-|col|metrics.csv|loss
optim.lion_beta2|0.9|lion|-|col|metrics.csv|loss
optim.adafactor_decay_rate|0.5|adafactor|-|col|metrics.csv|loss
optim.adafactor_clip|0.05|adafactor|-|col|metrics.csv|loss
optim.adafactor_beta1|0.5|adafactor|-|col|metrics.csv|loss
optim.adafactor_eps|1e-3|adafactor|-|col|metrics.csv|loss
optim.soap_beta1|0.5|soap|-|col|metrics.csv|loss
optim.soap_beta2|0.5|soap|-|col|metrics.csv|loss
optim.precondition_every|3|soap|-|col|metrics.csv|loss
optim.lr_scale_router|0.25|plain|-|differs|model/params/blocks.0.router.npy|
optim.lr_scale_embed|0.25|plain|-|differs|model/params/wte.npy|
balance.method|"l2"|plain|-|col|metrics.csv|aux
balance.scope|"global"|plain|-|col|metrics.csv|aux
balance.alpha|0.05|plain|-|alpha|metrics.csv|0.05
balance.p_source|"topk"|plain|-|col|metrics.csv|aux
balance.z_alpha|0.1|plain|-|col|layers.csv|z
balance.seq_alpha|0.1|plain|-|col|layers.csv|seq_aux
balance.bias_rate|0.01|auxfree|-|col|layers.csv|bias_max
balance.bias_update|"linear"|auxfree|-|col|layers.csv|bias_max
balance.bias_center|true|auxfree|-|col|layers.csv|bias_min
data.world|"cyclic"|plain|-|differs|x/tokens.npy|
data.seed|2|plain|-|differs|x/tokens.npy|
data.domains|3|plain|-|differs|x/tokens.npy|
data.mix|"homogeneous"|plain|-|differs|x/tokens.npy|
data.shared_vocab|12|plain|-|differs|x/tokens.npy|
data.shared_prob|0.2|plain|-|differs|x/tokens.npy|
data.branching|2|plain|-|differs|x/tokens.npy|
data.zipf|2|plain|-|differs|x/tokens.npy|
data.order|2|plain|-|differs|x/tokens.npy|
data.repeat_prob|0.5|plain|-|differs|x/tokens.npy|
data.repeat_len|4|repeat|-|differs|x/tokens.npy|
data.corpus|["ka=tests/fixtures/text/zo","zo=tests/fixtures/text/ka","cy=tests/fixtures/text/cy"]|text|-|differs|x/tokens.npy|
data.exclude|["b.txt"]|text|-|differs|x/tokens.npy|
data.separator|"~"|text|-|differs|x/tokens.npy|
data.shared_norm|4|geometry|-|differs|x/hidden.npy|
data.cluster_norm|5|geometry|-|differs|x/hidden.npy|
data.noise|0.5|geometry|-|differs|x/hidden.npy|
data.task|"cluster"|geometry|-|col|metrics.csv|ce
eval.every|4|plain|-|equals|eval.csv|step|0 0 4 4 8 8 12 12
eval.sequences|3|plain|-|differs|experts.csv|
eval.top_p|0.5|plain|-|col|eval.csv|jaccard_seq
eval.pairs|50|plain|-|rows|pairs.csv|50
eval.removal|[0.5]|plain|-|equals|removal.csv|r|0 0.5
eval.duplicate|2|plain|-|col|eval.csv|eval_ce
eval.duplicate_content|3|dup|-|col|eval.csv|eval_ce
eval.transform|"reverse"|plain|-|col|eval.csv|eval_ce
eval.dump|true|plain|-|appears|dump|
eval.show_tokens|3|plain|-|appears|routes.json|
eval.prune_keep|3|plain|-|appears|prune.csv|
eval.prune_layers|1|prune|-|differs|prune.csv|
eval.prune_on|"domain:1"|prune|-|differs|prune.csv|
EOF
)

# the --set arguments of each base (one word each)
base_sets() {
    case $1 in
        plain) ;;
        cosine) echo 'train.schedule="cosine"' ;;
        auxfree) echo 'balance.method="auxfree"' ;;
        muon) echo 'optim.name="muon"' ;;
        sgd) echo 'optim.name="sgd"' ;;
        lion) echo 'optim.name="lion"' ;;
        adafactor) echo 'optim.name="adafactor"' ;;
        soap) echo 'optim.name="soap"' ;;
        geometry) echo 'model.kind="router" data.world="geometry"' ;;
        warm) echo "train.init_from=\"$T/b-plain/run\"" ;;
        repeat) echo 'data.repeat_prob=0.5' ;;
        text) echo 'model.vocab=256 data.world="text" data.domains=3 data.corpus=["ka=tests/fixtures/text/ka","zo=tests/fixtures/text/zo","cy=tests/fixtures/text/cy"]' ;;
        dup) echo 'eval.duplicate=2' ;;
        prune) echo 'eval.prune_keep=3' ;;
        *) return 1 ;;
    esac
}
# sets "$@" as --set options: DIR KIND SET... -> runs `moesim run` (KIND run) or `moesim export`
# (KIND x) into DIR; its output is kept in DIR.out
go() {
    dir=$1; what=$2; shift 2
    args=
    for s in "$@"; do args="$args --set '$s'"; done
    if [ "$what" = run ]; then
        eval "\"\$MOESIM\" run \"\$BASE\" --out \"\$dir\" --quiet $args" </dev/null >"$dir.out" 2>&1
    else
        eval "\"\$MOESIM\" export \"\$BASE\" --out \"\$dir\" $args" </dev/null >"$dir.out" 2>&1
    fi
}
# the folder a file of the table lives in, for run/export DIR (ran once, on first use)
where() { # PREFIX SETS... ; PREFIX is $T/b-<base> or $T/v<i>; echoes the folder
    pre=$1; f=$2; shift 2
    case $f in
        x/*) [ -d "$pre-x" ] || go "$pre-x" x "$@"; echo "$pre-x" ;;
        *) [ -d "$pre" ] || go "$pre" run "$@"; echo "$pre/run" ;;
    esac
}
# a file without its timing columns (CSV) or as it is
norm() {
    case $1 in
        *.csv) awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = ($i == "tokens_per_s" || $i == "wall_s") }
                        { s = ""; for (i = 1; i <= NF; i++) if (!drop[i]) s = s $i ","; print s }' "$1" ;;
        *) cat "$1" ;;
    esac
}
# one column of a CSV by its header name, the rows joined by spaces ("" if no such column)
column() {
    awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                       k { printf "%s%s", (n++ ? " " : ""), $k }' "$1" 2>/dev/null
}
shape() { LC_ALL=C head -c 128 "$1" 2>/dev/null | LC_ALL=C tr -d '\000' | LC_ALL=C sed -n "s/.*'shape': \(([0-9, ]*)\).*/\1/p"; }

# 1. every key of the schema is in the table or UNOBSERVABLE, once; every listed key exists
"$MOESIM" help keys </dev/null 2>&1 | sed -n 's/^  \([a-z_]*\.[a-z0-9_]*\) .*/\1/p' | sort >"$T/schema"
printf '%s\n' "$TABLE" | grep -v -e '^#' -e '^$' | cut -d'|' -f1 >"$T/table"
printf '%s\n' "$UNOBSERVABLE" | sed -n 's/^\([a-z_]*\.[a-z0-9_]*\) .*/\1/p' >"$T/unobs"
cat "$T/table" "$T/unobs" | sort >"$T/listed"
check '[ $(wc -l <"$T/schema") -ge 70 ]' "moesim help keys listed only $(wc -l <"$T/schema") keys"
missing=$(comm -23 "$T/schema" "$T/listed" | tr '\n' ' ')
check '[ -z "$missing" ]' "keys in neither the table nor UNOBSERVABLE: $missing"
gone=$(sort -u "$T/listed" | comm -13 "$T/schema" - | tr '\n' ' ')
check '[ -z "$gone" ]' "listed keys the schema no longer has: $gone"
twice=$(uniq -d "$T/listed" | tr '\n' ' ')
check '[ -z "$twice" ]' "keys listed more than once: $twice"

# 2. the rows
i=0
while IFS='|' read -r key value base with kind file arg; do
    case $key in '#'* | '') continue ;; esac
    i=$((i + 1))
    value=$(printf '%s' "$value" | sed "s|@B@|$T/b-plain/run|")
    bs=$(base_sets "$base") || { bad "$key: unknown base $base"; continue; }
    [ "$with" = - ] && with=
    # shellcheck disable=SC2086
    bdir=$(where "$T/b-$base" "$file" $bs)
    # shellcheck disable=SC2086
    vdir=$(where "$T/v$i" "$file" $bs $with "$key=$value")
    f=${file#x/}
    case $file in x/*) x=-x ;; *) x= ;; esac
    if [ ! -e "$bdir/manifest.json" ]; then
        bad "$key: the base run ($base) failed: $(tail -n 3 "$T/b-$base$x.out" | tr '\n' ' ')"; continue
    fi
    if [ ! -e "$vdir/manifest.json" ]; then
        bad "$key = $value: the variant failed: $(tail -n 3 "$T/v$i$x.out" | tr '\n' ' ')"; continue
    fi
    case $kind in
        differs)
            if [ ! -e "$bdir/$f" ] || [ ! -e "$vdir/$f" ]; then bad "$key = $value: $file missing"; continue; fi
            norm "$bdir/$f" >"$T/a"; norm "$vdir/$f" >"$T/b"
            check '! cmp -s "$T/a" "$T/b"' "$key = $value does not change $file (base: $base)" ;;
        col)
            a=$(column "$bdir/$f" "$arg"); b=$(column "$vdir/$f" "$arg")
            check '[ -n "$a" ] && [ "$a" != "$b" ]' "$key = $value does not change column $arg of $file (base: $base; $a)" ;;
        equals)
            col=${arg%%|*}; want=${arg#*|}
            a=$(column "$bdir/$f" "$col"); b=$(column "$vdir/$f" "$col")
            check '[ "$b" = "$want" ] && [ "$a" != "$want" ]' "$key = $value: column $col of $file is \"$b\", expected \"$want\" (base: \"$a\")" ;;
        has)
            check 'grep -qF -- "$arg" "$vdir/$f" && ! grep -qF -- "$arg" "$bdir/$f"' "$key = $value: $file does not show \"$arg\"" ;;
        shape)
            a=$(shape "$bdir/$f"); b=$(shape "$vdir/$f")
            check '[ "$b" = "$arg" ] && [ "$a" != "$arg" ]' "$key = $value: $file has shape $b, expected $arg (base: $a)" ;;
        appears)
            check '[ -e "$vdir/$f" ] && [ ! -e "$bdir/$f" ]' "$key = $value: $file does not appear" ;;
        gone)
            check '[ ! -e "$vdir/$f" ] && [ -e "$bdir/$f" ]' "$key = $value: $file is not gone" ;;
        rows)
            a=$(($(wc -l <"$bdir/$f") - 1)); b=$(($(wc -l <"$vdir/$f") - 1))
            check '[ "$b" -eq "$arg" ] && [ "$a" -ne "$arg" ]' "$key = $value: $file has $b rows, expected $arg (base: $a)" ;;
        alpha)
            check 'awk -F, -v a="$arg" "NR > 1 { d = \$2 - \$3 - a * \$4; if (d < 0) d = -d; if (d > 1e-5 * (\$2 - \$3) || \$4 <= 0) e = 1; n++ } END { exit e || !n }" "$vdir/$f"' \
                "$key = $value: metrics.csv loss - ce is not $arg * aux" ;;
        *) bad "$key: unknown kind $kind" ;;
    esac
done <<EOF
$TABLE
EOF

echo "e2e_keys: $pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
