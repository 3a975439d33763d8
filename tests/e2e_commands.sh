#!/bin/sh
# e2e_commands.sh — the command table and the option parser (sim/main.c, sim/cli/options.c), end
# to end: the README's command list is `moesim help`'s (both directions, and each README line is
# a synopsis of that command's usage); every command answers -h and --help with its usage (exit
# 0, the same text as `moesim help CMD`); every option its usage names is known to its parser;
# the same error gets the same one-line wording in every command, exit 2, nothing created:
# an unknown option, a missing value, an empty or over-long path (nothing created in / or the
# working folder), a 65th --set, a number out of
# range or with trailing junk. Fast: no command here trains anything but a dry run.
# Prints "e2e_commands: N passed, M failed".
# covers: sim/main.c sim/cli/options.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_commands: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_cmds.XXXXXX)
trap 'rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml

# run CMD ARGS...: exit status in $rc, stdout in $T/out, stderr in $T/err
run() { "$MOESIM" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# expect_error WHAT LINE CMD ARGS...: exit 2, stderr exactly LINE, nothing on stdout
expect_error() {
    what=$1; line=$2; shift 2
    run "$@"
    check '[ $rc -eq 2 ] && [ "$(cat "$T/err")" = "$line" ] && [ ! -s "$T/out" ]' \
        "$what: moesim $(echo "$*" | cut -c1-80): exit $rc, stderr '$(head -c 200 "$T/err")', expected exit 2 and '$line'"
}

# 1. the commands: `moesim help` lists them (two spaces, the name, its arguments, a summary)
"$MOESIM" help >"$T/help" 2>&1
awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' "$T/help" | sort >"$T/cmds"
check '[ $(wc -l <"$T/cmds") -ge 8 ]' "moesim help lists $(wc -l <"$T/cmds") commands, expected at least 8"
"$MOESIM" --help >"$T/help2" 2>&1
check 'awk "/^commands:/ { on = 1; next } on && /^\$/ { exit } on && /^  [a-z]/ { print \$1 }" "$T/help2" | sort | cmp -s - "$T/cmds"' "moesim --help and moesim help list different commands"

# 2. README.md's "Commands" block: its ./moesim lines name exactly these commands, and each line
# (comment stripped) is a synopsis line of that command's usage
awk '/^## Commands/ { on = 1; next } on && /^## / { exit } on && /^```/ { n++; if (n == 2) exit; next } on && n == 1 && /^\.\/moesim / { print }' README.md \
    | sed 's/^\.\///; s/  *#.*$//; s/ *$//' >"$T/readme_lines"
cut -d' ' -f2 "$T/readme_lines" | sort -u >"$T/readme_cmds"
check '[ -s "$T/readme_cmds" ]' "README.md has no ./moesim lines in its Commands block"
for c in $(comm -23 "$T/cmds" "$T/readme_cmds"); do bad "README.md's Commands list lacks '$c' (moesim help lists it)"; done
for c in $(comm -13 "$T/cmds" "$T/readme_cmds"); do bad "README.md's Commands list has '$c', which moesim help does not list"; done
[ -z "$(comm -3 "$T/cmds" "$T/readme_cmds")" ] && ok
while IFS= read -r line; do
    c=$(echo "$line" | cut -d' ' -f2)
    "$MOESIM" "$c" --help 2>/dev/null | sed -n 's/^usage: //p; s/^       \(moesim \)/\1/p' >"$T/syn"
    check 'grep -qxF -- "$line" "$T/syn"' "README.md's line '$line' is not a synopsis of 'moesim $c --help'"
done <"$T/readme_lines"

# 3. every command: -h and --help (anywhere among the arguments) print its usage on stdout, exit 0,
# the same text as `moesim help CMD`
for c in $(cat "$T/cmds"); do
    "$MOESIM" help "$c" >"$T/h.help" 2>&1; rh=$?
    check '[ $rh -eq 0 ] && head -1 "$T/h.help" | grep -q "^usage: moesim $c"' "moesim help $c: exit $rh, or no 'usage: moesim $c' line"
    for h in -h --help; do
        run "$c" "$h"
        check '[ $rc -eq 0 ] && [ ! -s "$T/err" ] && cmp -s "$T/out" "$T/h.help"' "moesim $c $h: exit $rc, or its usage differs from moesim help $c"
        run "$c" --no-such-option "$h" x
        check '[ $rc -eq 0 ] && cmp -s "$T/out" "$T/h.help"' "moesim $c --no-such-option $h x: exit $rc (help must win anywhere)"
    done
    # every option its usage names is one its parser knows
    for o in $(grep -o -- '--[a-z][a-z-]*' "$T/h.help" | sort -u) $(grep -q -- '-j N' "$T/h.help" && echo -j); do
        run "$c" "$o"
        check '! grep -q "unknown option" "$T/err"' "moesim $c: its usage names $o, which its parser does not know"
    done
    # 4. an unknown option: the same line for every command
    expect_error "unknown option" "moesim: $c: unknown option '--no-such-option' (see moesim $c --help)" "$c" --no-such-option
done

# the first argument a command takes: a positional one, or analyze's --hidden
first() { case $1 in analyze) echo "--hidden x" ;; *) echo x ;; esac; }

# 5. --out: missing value (at the end, or followed by an option), empty, too long; one wording
long=$(printf '%0600d' 0)
for c in run export analyze eval compare generate; do
    # shellcheck disable=SC2046
    expect_error "missing value" "moesim: $c: --out needs a value" "$c" $(first $c) --out
    # shellcheck disable=SC2046
    expect_error "value is an option" "moesim: $c: --out needs a value, found the option --quiet (a value that starts with \"--\" is given as --out=VALUE)" "$c" $(first $c) --out --quiet
    # shellcheck disable=SC2046
    expect_error "empty path" "moesim: $c: --out '': expected a path" "$c" $(first $c) --out ''
    # shellcheck disable=SC2046
    expect_error "empty path (--out=)" "moesim: $c: --out '': expected a path" "$c" $(first $c) --out=
    # shellcheck disable=SC2046
    run "$c" $(first $c) --out "$T/$long"
    check '[ $rc -eq 2 ] && grep -q "^moesim: $c: --out .*: path longer than 511 bytes$" "$T/err" && [ ! -e "$T/$long" ]' "moesim $c --out <600 bytes>: exit $rc, $(head -c 200 "$T/err")"
done

# 5b. the same bad --out forms (and a 2000-byte one, over the buffers' IO_PATH_MAX) create nothing:
# neither in / (where --out '' once wrote) nor in the working folder nor under $T
abs_moesim=$(cd "$(dirname "$MOESIM")" && pwd)/$(basename "$MOESIM")
mkdir -p "$T/cwd"
long2000=$(printf '%02000d' 0)
ls -a / >"$T/root.before"
for c in run export analyze eval compare generate; do
    for form in "--out ''" "--out" "--out --quiet" "--out $long2000"; do
        # shellcheck disable=SC2046
        (cd "$T/cwd" && eval "\"\$abs_moesim\" $c $(first $c) $form" >/dev/null 2>"$T/err5"); rc=$?
        check '[ $rc -eq 2 ] && grep -q "^moesim: $c: --out" "$T/err5"' "moesim $c $(echo "$form" | cut -c1-20): exit $rc, $(head -c 200 "$T/err5")"
    done
done
ls -a / >"$T/root.after"
check 'cmp -s "$T/root.before" "$T/root.after"' "a rejected --out changed /: $(diff "$T/root.before" "$T/root.after" | head -3)"
check '[ -z "$(ls -A "$T/cwd")" ]' "a rejected --out created $(ls -A "$T/cwd" | head -3) in the working folder"

# 6. --set: 64 are accepted, a 65th is an error with one wording (run, export, eval)
sets64=""; i=0
while [ $i -lt 64 ]; do sets64="$sets64 --set eval.sequences=$((i + 1))"; i=$((i + 1)); done
for c in run export eval; do
    # shellcheck disable=SC2086
    expect_error "65th --set" "moesim: $c: too many --set (at most 64)" "$c" x --out "$T/s" $sets64 --set eval.sequences=65
    run "$c" /nonexistent/x $sets64 --out "$T/s"   # 64: past the parser (the file is what is missing)
    check '[ $rc -eq 2 ] && ! grep -q "too many" "$T/err" && grep -q nonexistent "$T/err"' "moesim $c with 64 --set: $(head -c 200 "$T/err")"
done
check '[ ! -e "$T/s" ]' "a rejected command created its --out folder"

# 7. numbers: range-checked once, read whole; the same --top-p wording in three commands
for c in analyze compare generate; do
    for p in 1.5 0 -0.1 abc 0.5x ''; do
        pv=$p; [ -z "$p" ] && pv="''"
        # shellcheck disable=SC2046
        expect_error "--top-p $p" "moesim: $c: --top-p $pv: expected a number in (0, 1]" "$c" $(first $c) --out "$T/o" --top-p "$p"
    done
done
expect_error "-j 0" "moesim: run: -j 0: expected an integer in 1..1000000" run $FX -j 0
expect_error "-j2x" "moesim: run: -j 2x: expected an integer in 1..1000000" run $FX -j2x
expect_error "--pairs '8 0'" "moesim: analyze: --pairs '8 0': expected an integer in 1..1000000" analyze --pairs "8 0" --out "$T/o"
expect_error "--samples 1e3" "moesim: generate: --samples 1e3: expected an integer in 1..1000000" generate x --samples 1e3 --out "$T/o"
expect_error "--temperature -1" "moesim: generate: --temperature -1: expected a number >= 0" generate x --temperature -1 --out "$T/o"
expect_error "--seed -1" "moesim: generate: --seed -1: expected an integer >= 0" generate x --seed -1 --out "$T/o"
expect_error "--score" "moesim: analyze: --score max: expected softmax or sigmoid" analyze --score max --out "$T/o"
expect_error "flag with a value" "moesim: run: --force takes no value" run $FX --force=1
expect_error "two files" "moesim: run: unexpected argument b.toml (one FILE only)" run $FX b.toml
expect_error "no file" "moesim: export: needs FILE (see moesim export --help)" export --out "$T/o"
expect_error "no --out" "moesim: eval: needs --out DIR (see moesim eval --help)" eval x
check '[ ! -e "$T/o" ]' "a rejected command created its --out folder"

# 8. --name=value is --name value; -jN is -j N
# (the dry run's memory: lines name the machine's available memory, which moves between two calls)
run run $FX --out "$T/dry" --dry-run -j 2; grep -v '^memory: ' "$T/out" >"$T/dry1"
run run $FX --out="$T/dry" --dry-run -j2; grep -v '^memory: ' "$T/out" >"$T/dry2"
check '[ $rc -eq 0 ] && grep -q "$T/dry/" "$T/dry2" && cmp -s "$T/dry2" "$T/dry1" && [ ! -e "$T/dry" ]' "--out=DIR -j2 and --out DIR -j 2 differ (exit $rc)"

# 9. the top level: unknown command and unknown help topic exit 2; no arguments exit 2
run no-such-command
check '[ $rc -eq 2 ] && grep -q "unknown command" "$T/err"' "unknown command: exit $rc"
expect_error "help topic" "moesim: help: no help on 'bogus' (see moesim help)" help bogus
run
check '[ $rc -eq 2 ]' "moesim without arguments: exit $rc"
run help keys
check '[ $rc -eq 0 ] && grep -q "train.steps" "$T/out"' "moesim help keys: exit $rc or no train.steps"

echo "e2e_commands: $pass passed, $fail failed"
[ $fail -eq 0 ]
