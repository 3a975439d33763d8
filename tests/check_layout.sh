#!/bin/sh
# check_layout.sh — the rooms of sim/ and which way their includes may point (README "Layout").
# Every #include "..." in nn/, optim/ and sim/ is resolved to its room, and each edge must be on
# the allowed list below; an include that points up or sideways fails with file:line. Also: a
# source file over 800 lines must say in its opening comment why it is one file ("One file"). And
# within each folder the include graph of its files has no circle: a file and its header (x.c, x.h,
# x_internal.h) are one node, and "a -> b" means a.c, a.h or a_internal.h includes b.h; a circle
# fails with its nodes, unless it is on the list of algorithms that genuinely call each other.
# And every test names, in its opening comment, the sources it exercises and checks, on one or
# more lines "// covers: a.c b.c" ("# covers: ..." in shell and Python); a test program without
# such a line fails, a named file that does not exist fails, and so does a source file of nn/,
# optim/ or sim/ that no test names (write a test for it; naming it is not testing it).
# And measure/ does no file I/O and returns no exit codes. And the top level holds only the
# folders and files the README's layout names.
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
        measure) echo "measure nn" ;;
        report) echo "report config measure io nn optim" ;;
        models) echo "models config worlds io nn optim" ;;
        use) echo "use models measure worlds config io nn optim" ;;
        evaluate) echo "evaluate use models measure worlds config io nn optim" ;;
        train) echo "train evaluate use models measure worlds config io nn optim" ;;
        tools) echo "tools train evaluate use models measure worlds config report io nn optim" ;;
        cli) echo "cli io" ;;
        io) echo "io" ;;
        main) echo "main cli tools train evaluate use models measure worlds config report io nn optim" ;;
    esac
}
# Circles allowed within a folder, one a line: "folder/a folder/b: why" (the circle's nodes, sorted).
# None today: nn/'s types live in model_types.h, so balance.c, moe.c and block.c read them without
# including model.h, whose model.c calls them.
allowed_cycles='
'
room_of() {  # path relative to the repository -> room
    case $1 in
        nn/*) echo nn ;; optim/*) echo optim ;;
        sim/config/*) echo config ;; sim/worlds/*) echo worlds ;; sim/measure/*) echo measure ;;
        sim/report/*) echo report ;; sim/models/*) echo models ;; sim/use/*) echo use ;;
        sim/evaluate/*) echo evaluate ;; sim/train/*) echo train ;; sim/tools/*) echo tools ;;
        sim/cli/*) echo cli ;;
        sim/io.[ch]|sim/outdir.[ch]|sim/npy_read.c) echo io ;; sim/main.c) echo main ;;
        *) echo "?" ;;
    esac
}
# Every file's room, once (room_of and allowed above are the one definition of the rooms); then
# one awk pass over every include line of every file (a process per line took seconds).
files=$(find nn optim sim -name '*.[ch]' | sort)
file_rooms=$(for f in $files; do echo "$f $(room_of "$f")"; done)
allowed_table=$(for r in nn optim config worlds measure report models use evaluate train tools cli io main; do
    echo "$r $(allowed "$r")"; done)
for f in $(printf '%s\n' "$file_rooms" | awk '$2 == "?" { print $1 }'); do
    fail=$((fail + 1)); echo "check_layout: FAILED: $f is in no room" >&2
done
counts=$(grep -n '^#include "' $files | awk -v rooms="$file_rooms" -v allowed="$allowed_table" '
    BEGIN {
        n = split(rooms, L, "\n"); for (i = 1; i <= n; i++) { split(L[i], a, " "); room[a[1]] = a[2] }
        n = split(allowed, L, "\n")
        for (i = 1; i <= n; i++) { k = split(L[i], a, " "); for (j = 2; j <= k; j++) ok[a[1] " " a[j]] = 1 }
    }
    {
        i1 = index($0, ":"); f = substr($0, 1, i1 - 1); rest = substr($0, i1 + 1)
        i2 = index(rest, ":"); ln = substr(rest, 1, i2 - 1); line = substr(rest, i2 + 1)
        match(line, /"[^"]*"/); inc = substr(line, RSTART + 1, RLENGTH - 2)
        dir = f; sub(/\/[^\/]*$/, "", dir)
        np = split(dir "/" inc, parts, "/"); m = 0   # dir/inc without "." and ".."
        for (k = 1; k <= np; k++) { if (parts[k] == "..") m--; else if (parts[k] != ".") st[++m] = parts[k] }
        t = st[1]; for (k = 2; k <= m; k++) t = t "/" st[k]
        from = room[f]; to = (t in room) ? room[t] : "?"
        if (from == "?") next
        if ((from " " to) in ok) pass++
        else { bad++; printf "check_layout: FAILED: %s:%s includes %s (%s -> %s is not allowed)\n", f, ln, inc, from, to > "/dev/stderr" }
    }
    END { print pass + 0, bad + 0 }')
pass=$((pass + ${counts% *}))
fail=$((fail + ${counts#* }))
for f in $(find nn optim sim -name "*.c" | sort) tests/bench.c; do
    n=$(wc -l <"$f")
    if [ "$n" -gt 800 ]; then
        if awk '!/^\/\//{exit} {print}' "$f" | grep -q 'One file'; then pass=$((pass + 1))
        else fail=$((fail + 1)); echo "check_layout: FAILED: $f has $n lines and its opening comment does not say why it is one file" >&2; fi
    fi
done
# measure/ is pure: arrays in, numbers out. No file I/O (FILE, fopen, fprintf, fputs, fwrite,
# fread, io.h) and no exit codes (exit); its headers do not include stdio.h, and a .c file may
# (snprintf into an error message).
for f in $(find sim/measure -name "*.[ch]" | sort); do
    pat='(\bFILE\b|\bf(open|printf|puts|write|read|close)\(|\bexit\(|io\.h")'
    case $f in *.h) pat='(\bFILE\b|\bf(open|printf|puts|write|read|close)\(|\bexit\(|io\.h"|#include <stdio\.h>)' ;; esac
    hit=$(grep -nE "$pat" "$f" | head -n 1)
    if [ -z "$hit" ]; then pass=$((pass + 1))
    else fail=$((fail + 1)); echo "check_layout: FAILED: $f:${hit%%:*}: measure/ does no I/O (${hit#*:})" >&2; fi
done
# The include graph of each folder: a circle is a pair of files that cannot be read (or changed)
# one without the other.
grep -H '^#include "[^/"]*"' $files | awk '{
    i = index($0, ":"); f = substr($0, 1, i - 1); line = substr($0, i + 1)
    d = f; sub(/\/[^\/]*$/, "", d); m = f; sub(/^.*\//, "", m); sub(/\.[ch]$/, "", m); sub(/_internal$/, "", m)
    match(line, /"[^"]*"/); t = substr(line, RSTART + 1, RLENGTH - 2); sub(/\.[ch]$/, "", t); sub(/_internal$/, "", t)
    if (t != m) print d "/" m " " d "/" t
}' | sort -u | awk -v allowed="$allowed_cycles" '
    { adj[$1] = adj[$1] " " $2; node[$1] = 1; node[$2] = 1 }
    function dfs(v,    n, i, w, k, cyc, list, nl, j, a, b, t) {
        state[v] = 1; stack[++depth] = v
        n = split(adj[v], w, " ")
        for (i = 1; i <= n; i++) {
            if (state[w[i]] == 1) {  # a back edge: the circle is the stack from w[i] up
                nl = 0
                for (k = depth; k >= 1; k--) { list[++nl] = stack[k]; if (stack[k] == w[i]) break }
                for (a = 1; a <= nl; a++) for (b = a + 1; b <= nl; b++) if (list[b] < list[a]) { t = list[a]; list[a] = list[b]; list[b] = t }
                cyc = list[1]; for (j = 2; j <= nl; j++) cyc = cyc " " list[j]
                if (index(allowed, "\n" cyc ":") == 0 && !(cyc in seen)) { seen[cyc] = 1; print "circle " cyc }
            } else if (state[w[i]] == 0) dfs(w[i])
        }
        depth--; state[v] = 2
    }
    END { for (v in node) if (state[v] == 0) dfs(v); print "nodes " length(node) }
' > /tmp/check_layout_cycles.$$
ncyc=$(grep -c '^circle ' /tmp/check_layout_cycles.$$)
if [ "$ncyc" -eq 0 ]; then pass=$((pass + 1))
else
    fail=$((fail + ncyc))
    sed -n 's/^circle \(.*\)/check_layout: FAILED: an include circle within a folder: \1 (move what both need into a third file)/p' /tmp/check_layout_cycles.$$ >&2
fi
rm -f /tmp/check_layout_cycles.$$
# Tests findable by file: the covers: lines of the test programs (check_*.sh are static checks of
# the source, and bench.c measures speed: neither is a test of a file).
tests=$(ls tests/test_*.c tests/test_*.py tests/dtest_*.c tests/e2e_*.sh tests/verify_* tests/fuzz/*.c 2>/dev/null)
for t in $tests; do
    if grep -q '^\(//\|#\) covers: ' "$t"; then pass=$((pass + 1))
    else fail=$((fail + 1)); echo "check_layout: FAILED: $t has no \"covers:\" line naming the sources it tests" >&2; fi
done
covered=$(for t in $tests; do sed -n 's,^\(//\|#\) covers: ,,p' "$t"; done | tr ' ' '\n' | sed '/^$/d' | sort -u)
for f in $covered; do
    if [ -f "$f" ]; then pass=$((pass + 1))
    else fail=$((fail + 1)); echo "check_layout: FAILED: $f is named in a covers: line but does not exist ($(grep -l "^\(//\|#\) covers: .*$f" $tests | tr '\n' ' '))" >&2; fi
done
for f in $(find nn optim sim -name '*.c' | sort); do
    if printf '%s\n' "$covered" | grep -Fqx "$f"; then pass=$((pass + 1))
    else fail=$((fail + 1)); echo "check_layout: FAILED: $f is covered by no test (no tests/* names it in a covers: line)" >&2; fi
done
# The repository's top level is fixed (README "Layout"): these and nothing else. A new folder goes
# under one of them (a new ground room of nn/ and optim/, say, lives in nn/).
top_allowed='.ci .gitignore Makefile README.md docs experiments nn optim results sim tests'
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
    for t in $(git ls-files 2>/dev/null | sed 's|/.*||' | sort -u); do
        case " $top_allowed " in
            *" $t "*) pass=$((pass + 1)) ;;
            *) fail=$((fail + 1)); echo "check_layout: FAILED: $t is at the top level; only $top_allowed may be" >&2 ;;
        esac
    done
fi
echo "check_layout: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
