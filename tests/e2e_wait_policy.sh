#!/bin/sh
# e2e_wait_policy.sh — OpenMP threads wait passively (sim/cli/wait_policy.c): a moesim process
# started without OMP_WAIT_POLICY runs with it set to "passive" (the program re-executes itself
# once, since the runtime reads it before main), the training process included; a value the user
# set is kept; and the results are bitwise the same whatever the waiting policy. Skipped (counted)
# in the OMP=0 build, which has no threads to wait.
# Prints "e2e_wait_policy: N passed, M failed, K skipped".
# covers: sim/cli/wait_policy.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_wait_policy: FAILED: $*" >&2; }
T=$(mktemp -d /tmp/moesim_wait.XXXXXX)
trap 'rm -rf "$T"' EXIT
FX=tests/fixtures/e2e/tiny.toml

v=$(env -u OMP_WAIT_POLICY "$MOESIM" --version | sed -n 's/^OpenMP threads wait: //p')
if [ "$v" = off ]; then
    skip=3
    echo "e2e_wait_policy: skipped: built without OpenMP (3 checks)"
else
    [ "$v" = passive ] && ok || bad "without OMP_WAIT_POLICY, --version says threads wait '$v', expected passive"
    v=$(OMP_WAIT_POLICY=active "$MOESIM" --version | sed -n 's/^OpenMP threads wait: //p')
    [ "$v" = active ] && ok || bad "with OMP_WAIT_POLICY=active, --version says '$v', expected the user's active"
    # the training process itself: its environment, read from /proc while it runs (it stops itself
    # on SIGTERM with a checkpoint, which the rerun below does not need)
    env -u OMP_WAIT_POLICY "$MOESIM" run "$FX" --out "$T/slow" --quiet --set train.steps=100000 \
        --set eval.every=100000 >/dev/null 2>&1 &
    pid=$!
    env_seen=
    i=0
    while [ $i -lt 100 ]; do  # up to 10 s: the machine may be busy with other tests
        i=$((i + 1))
        if [ -d "$T/slow" ] && [ -r /proc/$pid/environ ]; then
            env_seen=$(tr '\0' '\n' </proc/$pid/environ | grep '^OMP_WAIT_POLICY=')
            break
        fi
        sleep 0.1
    done
    kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
    [ "$env_seen" = OMP_WAIT_POLICY=passive ] && ok || bad "the training process's environment holds '$env_seen', expected OMP_WAIT_POLICY=passive"
fi

# the same results whatever the threads do while they wait (metrics.csv's last column, tokens_per_s,
# is a timing)
for p in active passive; do
    OMP_WAIT_POLICY=$p "$MOESIM" run "$FX" --out "$T/$p" --quiet --set train.steps=20 --set eval.every=10 \
        >/dev/null 2>&1 || bad "run with OMP_WAIT_POLICY=$p failed"
done
n=0
for f in "$T"/active/*/eval.csv "$T"/active/*/experts.csv "$T"/active/*/metrics.csv; do
    g=$T/passive/${f#"$T"/active/}
    n=$((n + 1))
    case $f in
        */metrics.csv) same() { [ "$(sed 's/,[^,]*$//' "$1")" = "$(sed 's/,[^,]*$//' "$2")" ]; } ;;
        *) same() { cmp -s "$1" "$2"; } ;;
    esac
    same "$f" "$g" || bad "$g differs from $f (active and passive waiting must give the same bits)"
done
[ $n -ge 6 ] && ok || bad "found only $n result files to compare"
echo "e2e_wait_policy: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
