#!/bin/sh
# check_layout.sh — the rooms of sim/ and which way their includes may point (README "Layout").
# Every #include "..." in nn/, optim/ and sim/ is resolved to its room, and each edge must be on
# the allowed list below; an include that points up or sideways fails with file:line. Also: a
# source file over 800 lines must say in its opening comment why it is one file ("One file").
# Prints "check_layout: N passed, M failed".
set -u
pass=0; fail=0
# room -> rooms it may include (besides itself); io is the shared leaf of sim/
allowed() {
    case $1 in
        nn) echo "nn" ;;
        optim) echo "optim nn" ;;
        config) echo "config nn optim" ;;
        worlds) echo "worlds config nn" ;;
        measure) echo "measure io nn" ;;
        report) echo "report config measure io nn optim" ;;
        run) echo "run config worlds measure io nn optim" ;;
        io) echo "io" ;;
        cli) echo "cli io" ;;
        main) echo "main cli config worlds measure report run io nn optim" ;;
    esac
}
room_of() {  # path relative to the repository -> room
    case $1 in
        nn/*) echo nn ;; optim/*) echo optim ;;
        sim/config/*) echo config ;; sim/worlds/*) echo worlds ;; sim/measure/*) echo measure ;;
        sim/report/*) echo report ;; sim/run/*) echo run ;; sim/cli/*) echo cli ;;
        sim/io.[ch]) echo io ;; sim/main.c) echo main ;;
        *) echo "?" ;;
    esac
}
for f in $(find nn optim sim -name '*.[ch]' | sort); do
    from=$(room_of "$f")
    if [ "$from" = "?" ]; then fail=$((fail + 1)); echo "check_layout: FAILED: $f is in no room" >&2; continue; fi
    dir=$(dirname "$f")
    grep -n '^#include "' "$f" | while IFS= read -r line; do
        n=${line%%:*}
        inc=$(printf '%s' "$line" | sed 's/^[0-9]*:#include "\([^"]*\)".*/\1/')
        # normalize dir/inc without realpath's need for the file to exist
        target=$(printf '%s/%s\n' "$dir" "$inc" | awk -F/ '{n=0; for(i=1;i<=NF;i++){ if($i==".."){n--} else if($i!="."){a[++n]=$i} } s=a[1]; for(i=2;i<=n;i++) s=s"/"a[i]; print s}')
        to=$(room_of "$target")
        case " $(allowed "$from") " in
            *" $to "*) echo ok ;;
            *) echo "check_layout: FAILED: $f:$n includes $inc ($from -> $to is not allowed)" >&2; echo bad ;;
        esac
    done
done > /tmp/check_layout.$$ 2>&1
pass=$((pass + $(grep -c '^ok$' /tmp/check_layout.$$)))
bad=$(grep -c '^bad$' /tmp/check_layout.$$)
fail=$((fail + bad))
grep -v '^ok$\|^bad$' /tmp/check_layout.$$ >&2
rm -f /tmp/check_layout.$$
for f in $(find nn optim sim -name "*.c" | sort) tests/bench.c; do
    n=$(wc -l <"$f")
    if [ "$n" -gt 800 ]; then
        if awk '!/^\/\//{exit} {print}' "$f" | grep -q 'One file'; then pass=$((pass + 1))
        else fail=$((fail + 1)); echo "check_layout: FAILED: $f has $n lines and its opening comment does not say why it is one file" >&2; fi
    fi
done
echo "check_layout: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
