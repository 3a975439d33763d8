#!/bin/sh
# e2e_report_browser.sh — report.html's classroom sections in a real browser, and the routes.json
# behind them. Without a browser: eval.show_tokens = n writes routes.json (n sequences, seq_len
# tokens, L x seq_len x top_k experts and gates, gates summing to 1) and changes no other result
# file; the page declares a Content-Security-Policy that allows no network and names no http(s)
# resource. With headless Chromium (/usr/bin/chromium, or $CHROMIUM): screenshots of the page at
# the first and the last evaluation (#classroom&step=N) differ, the page's script put the slider
# where the fragment asked (data-step), the token view rendered every token as a span (a text
# world's bytes as characters), and
# Chromium's network log holds no request of the page (a control page with one external image
# must show one, so the check can fail). Without Chromium those checks are counted skips; so are
# they in the builds other than build/rel (the page is the same).
# SHOTS_DIR=DIR keeps the two screenshots there (report_step_first.png, report_step_last.png)
# and takes one of the whole classroom view, tokens included (report_tokens.png);
# REPORT_DIR=DIR shows that results folder instead of the test's own run (docs/CLASSROOM.md's
# screenshots are made so); LIVE_TEXT=FILE also renders a frame of the live view (text) as
# live_view.png.
# Prints "e2e_report_browser: N passed, M failed, K skipped".
# covers: sim/report/html_timeline.c sim/report/html_tokens.c sim/report/html.c sim/evaluate/routes.c
set -u
MOESIM=${MOESIM:-./moesim}
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "e2e_report_browser: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
T=$(mktemp -d /tmp/moesim_browser.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
grep -v '"train.seed"' tests/fixtures/e2e/tiny.toml >"$T/two.toml"

# 1. routes.json: written only when asked, nothing else changes
$MOESIM run "$T/two.toml" --out "$T/plain" --quiet >/dev/null 2>&1; rc1=$?
$MOESIM run "$T/two.toml" --out "$T/tok" --set eval.show_tokens=2 --quiet >/dev/null 2>&1; rc2=$?
check '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]' "runs exit $rc1, $rc2"
check '[ ! -e "$T/plain/scope=micro/routes.json" ] && [ -s "$T/tok/scope=micro/routes.json" ]' "routes.json only with eval.show_tokens"
same=1
for r in scope=micro scope=global; do
    for f in layers.csv eval.csv experts.csv pairs.csv removal.csv; do cmp -s "$T/plain/$r/$f" "$T/tok/$r/$f" || same=0; done
    cut -d, -f1-7 "$T/plain/$r/metrics.csv" >"$T/m1"; cut -d, -f1-7 "$T/tok/$r/metrics.csv" >"$T/m2"; cmp -s "$T/m1" "$T/m2" || same=0
    for p in "$T/plain/$r/model/params/"*.npy; do cmp -s "$p" "$T/tok/$r/model/params/${p##*/}" || same=0; done
done
check '[ $same -eq 1 ]' "eval.show_tokens changed a result file (CSV or saved parameters)"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/tok/scope=micro/routes.json" <<'EOF'; rc=$?
import json, sys
d = json.load(open(sys.argv[1]))
L, K, T, E = d["layers"], d["top_k"], d["seq_len"], d["experts"]
assert (L, K, T, E) == (2, 2, 8, 4) and d["bytes"] is False and d["world"] == "domains", d
assert len(d["sequences"]) == 2
for q in d["sequences"]:
    assert len(q["tokens"]) == T and all(0 <= t < d["vocab"] for t in q["tokens"])
    assert len(q["experts"]) == L and len(q["gates"]) == L
    for l in range(L):
        for ex, g in zip(q["experts"][l], q["gates"][l]):
            assert len(ex) == K and len(set(ex)) == K and all(0 <= e < E for e in ex)
            assert all(0 < x <= 1 for x in g), g     # softmax probabilities of the chosen experts
assert [q["index"] for q in d["sequences"]] == [0, 8] and [q["domain"] for q in d["sequences"]] == [0, 2]
EOF
    check '[ $rc -eq 0 ]' "routes.json: wrong shape or values"
else
    skip=$((skip + 1)); echo "e2e_report_browser: skipped: the routes.json shape check needs python3"
fi

# 1b. the text world: routes.json says its tokens are bytes (the page shows them as characters)
FX=$(pwd)/tests/fixtures/text
printf '[data]\nworld = "text"\ndomains = 3\nmix = "homogeneous"\nseparator = "%%"\ncorpus = ["ka=%s/ka", "zo=%s/zo", "cy=%s/cy"]\n[model]\nseq_len = 16\nd_model = 16\nd_ff = 16\nexperts = 4\n[train]\nsteps = 4\nbatch = 4\n[eval]\nevery = 0\nsequences = 4\npairs = 50\nshow_tokens = 2\n' \
    "$FX" "$FX" "$FX" >"$T/text.toml"
$MOESIM run "$T/text.toml" --out "$T/text" --quiet >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"bytes\": true" "$T/text/run/routes.json" && grep -q "\"world\": \"text\"" "$T/text/run/routes.json"' "text world: routes.json does not mark its tokens as bytes (exit $rc)"

# 2. the page: self-contained, no network by its own declaration
D=${REPORT_DIR:-$T/tok}
P="$D/report.html"
check 'grep -q "Content-Security-Policy\" content=\"default-src .none.; script-src .unsafe-inline.; style-src .unsafe-inline.; img-src data:\"" "$P"' "report.html: no Content-Security-Policy that forbids the network"
check '! grep -Eiq "(src|href|action)=\"(https?:|//|ws)" "$P" && ! grep -q "@import\|url(http" "$P"' "report.html names a network resource"
check 'grep -q "id=\"tl-slider\"" "$P" && grep -q "id=\"tl-play\"" "$P" && grep -q "class=\"routes\"" "$P" && grep -q "id=\"tok-layer\"" "$P"' "report.html: no slider, play button, routes or layer selector"

# 3. in the browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
case ${BUILD_DIR:-build/rel} in */rel|rel) other_build= ;; *) other_build=1 ;; esac
if [ -n "$other_build" ] && [ -z "${REPORT_DIR:-}" ]; then
    # the page's bytes do not depend on the build; three browsers per build would cost make test
    # a minute
    skip=$((skip + 7)); echo "e2e_report_browser: skipped: 7 browser checks: the page is the same in every build; they run with build/rel"
elif [ -x "$CHROMIUM" ]; then
    FL="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync
        --no-first-run --disable-default-apps --disable-extensions --hide-scrollbars --window-size=1000,760"
    last=$(sed -n 's/.*"steps":\[\([0-9,]*\)\].*/\1/p' "$P" | tr ',' '\n' | tail -1)
    url="file://$(cd "$D" && pwd)/report.html"
    printf '<html><body><img src="http://moesim-test.invalid/x.png">control</body></html>\n' >"$T/control.html"
    # three browsers side by side: the first evaluation (with the DOM and the network log), the
    # last one, and the control page
    timeout 60 "$CHROMIUM" $FL --user-data-dir="$T/u1" --log-net-log="$T/net1.json" --screenshot="$T/first.png" --dump-dom \
        "$url#classroom&step=0" >"$T/dom.html" 2>"$T/c1.err" &
    p1=$!
    timeout 60 "$CHROMIUM" $FL --user-data-dir="$T/u2" --screenshot="$T/last.png" "$url#classroom&step=$last" >/dev/null 2>"$T/c2.err" &
    p2=$!
    timeout 60 "$CHROMIUM" $FL --user-data-dir="$T/u3" --log-net-log="$T/net3.json" --dump-dom "file://$T/control.html" >/dev/null 2>"$T/c3.err" &
    p3=$!
    timeout 60 "$CHROMIUM" $FL --user-data-dir="$T/u6" --dump-dom "file://$T/text/report.html#classroom" >"$T/text_dom.html" 2>/dev/null &
    p4=$!
    wait $p1; wait $p2; wait $p3; wait $p4
    # bytes as characters: letters of the fixture languages, one a span
    check 'tr "\n" " " <"$T/text_dom.html" | grep -Eq "class=\"tok\"[^>]*data-expert=\"[0-9]+\"[^>]*>[a-z]</span>"' "text world: the token view does not show bytes as characters"
    check '[ -s "$T/first.png" ] && [ -s "$T/last.png" ] && ! cmp -s "$T/first.png" "$T/last.png"' "the screenshots at step 0 and step $last are the same (the slider does not move the heatmap)"
    check 'grep -q "id=\"tl\" data-step=\"0\"" "$T/dom.html"' "the page's script did not put the slider at step 0"
    ntok=$(grep -o "class=\"tok\"[^>]*data-expert=" "$T/dom.html" | wc -l)
    if [ -z "${REPORT_DIR:-}" ]; then
        check '[ "$ntok" -eq 32 ]' "the token view shows $ntok tokens, expected 2 runs x 2 sequences x 8"
    else
        check '[ "$ntok" -gt 0 ]' "the token view shows no token"
    fi
    check 'grep -q "<option value=\"1\">layer 1</option>" "$T/dom.html"' "no layer selector options"
    # a request of the page carries its network isolation key file:// (Chromium's own background
    # requests carry none): the URL_REQUEST_START_JOB events of the network log
    page_requests() {
        python3 - "$1" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:  # a log cut short: its events up to the cut
    text = open(sys.argv[1]).read().rstrip().rstrip(",")
    d = json.loads(text + "]}")
names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
n = 0
for e in d["events"]:
    p = e.get("params") or {}
    url = str(p.get("url", ""))
    if names.get(e["type"]) == "URL_REQUEST_START_JOB" and url.split(":")[0] in ("http", "https", "ws", "wss", "ftp") \
            and "file://" in str(p.get("network_isolation_key", "")) + str(p.get("initiator", "")):
        n += 1
print(n)
EOF
    }
    n1=$(page_requests "$T/net1.json"); n3=$(page_requests "$T/net3.json")
    check '[ -s "$T/net1.json" ] && [ "$n1" -eq 0 ]' "report.html made $n1 network requests"
    check '[ "$n3" -ge 1 ]' "the control page's external image is not in the network log: the no-request check cannot see requests"
    if [ -n "${SHOTS_DIR:-}" ]; then
        mkdir -p "$SHOTS_DIR" && cp "$T/first.png" "$SHOTS_DIR/report_step_first.png" && cp "$T/last.png" "$SHOTS_DIR/report_step_last.png"
        # the whole classroom view, tokens included (a tall window)
        timeout 60 "$CHROMIUM" $FL --user-data-dir="$T/u5" --window-size=1000,1500 --screenshot="$SHOTS_DIR/report_tokens.png" \
            "$url#classroom" >/dev/null 2>&1
        if [ -n "${LIVE_TEXT:-}" ]; then
            { printf '<html><body style="margin:0;background:#111"><pre style="margin:0;padding:10px;color:#ddd;'
              printf 'font:15px/1.25 DejaVu Sans Mono,monospace">'
              sed 's/&/\&amp;/g; s/</\&lt;/g' "$LIVE_TEXT"; printf '</pre></body></html>\n'; } >"$T/live.html"
            lines=$(wc -l <"$LIVE_TEXT")
            timeout 60 "$CHROMIUM" $FL --user-data-dir="$T/u4" --window-size=760,$((lines * 19 + 24)) \
                --screenshot="$SHOTS_DIR/live_view.png" "file://$T/live.html" >/dev/null 2>&1
        fi
    fi
else
    skip=$((skip + 7)); echo "e2e_report_browser: skipped: no Chromium at $CHROMIUM (apt-get install chromium): 7 browser checks"
fi

echo "e2e_report_browser: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
