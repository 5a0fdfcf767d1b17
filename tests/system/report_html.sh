#!/usr/bin/env bash
# `hound report --html`: the page for a real CPU capture of a spinning process
# and for a Go heap diff, loaded in headless Chromium (playwright-core from
# npm driving Debian's chromium): no console error, no fetch, the hot function
# in the flame graph's DOM, zoom and search work, hostile bundle text stays
# text. Also the text report's order and the command's errors.
. "$(dirname "$0")/lib.sh"

chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip_all "chromium is not installed (apt-get install chromium)"
need_npm playwright-core@1.65.1
# browse PAGE HOT GRAPHS: TAP lines from the browser run
browse() {
	while IFS='|' read -r st what; do
		case $st in
		PASS) pass "$2: $what" ;;
		FAIL) fail "$2: $what" ;;
		*) diag "$st$what" ;;
		esac
	done < <(CHROMIUM=$chromium NODE_PATH=$HOUND_NPM_DIR/node_modules timeout 180 \
		node "$TOP_SRCDIR/tests/system/report_browser.js" "$@" 2>&1)
}

cc -O1 -g -pthread -o "$T/spin" "$TOP_SRCDIR/tests/targets/spin.c" || skip_all "cannot build the target"
bg "$T/spin" >"$T/spin.out"
SPID=$!
wait_for 10 grep -q ready "$T/spin.out"
"$HOUND" capture -p "$SPID" -k cpu,stacks -d 2s -o "$T/out" >"$T/capture.out" 2>"$T/capture.err"
B=$(cat "$T/capture.out")
kill "$SPID"
if ! [ -f "$B/cpu.pb.gz" ]; then
	cat "$T/capture.err"
	grep -q "perf_event" "$T/capture.err" && skip_all "perf_event_open is not allowed here"
	fail "a CPU capture of the spinning target"
fi

# 1. the real capture
check "report --html -o writes the page" "$HOUND" report --html "$B" -o "$T/cpu.html"
check "the page is one file that names no external resource" \
	bash -c "! grep -Eiq '(src|href)=\"(https?:)?//' '$T/cpu.html'"
browse "$T/cpu.html" hot_checksum 2
"$HOUND" report --html "$B" >"$T/stdout.html"
check "without -o the page goes to stdout" grep -q 'id="flamegraphs"' "$T/stdout.html"
"$HOUND" report "$B" >"$T/text.out"
f=$(grep -n '^busiest functions' "$T/text.out" | head -1 | cut -d: -f1)
l=$(grep -n '^files:' "$T/text.out" | cut -d: -f1)
check "the text report gives the findings before the files ($f < $l)" test -n "$f" -a -n "$l" -a "${f:-0}" -lt "${l:-0}"

# 2. a Go heap diff: heap in use, its growth as a differential graph, the baseline
G="$T/go-bundle"
mkdir -p "$G"
cp "$TOP_SRCDIR/tests/fixtures/go/heap.now.pb.gz" "$G/heap.pb.gz"
cp "$TOP_SRCDIR/tests/fixtures/go/heap.base.pb.gz" "$G/heap.base.pb.gz"
cat >"$G/manifest.json" <<'JSON'
{"id": "20260101T000010Z-42-rss-spike", "target": "api", "rule": "rss-spike",
 "reason": "rss 286.1MiB >= avg 190.7MiB * 1.25",
 "trigger": {"kind": "rule", "metric": "rss", "value": 300000000, "avg": 200000000, "threshold": 250000000},
 "process": {"pid": 42, "comm": "api"},
 "history": [{"t": "2026-01-01T00:00:00Z", "value": 190000000}, {"t": "2026-01-01T00:00:05Z", "value": 200000000},
             {"t": "2026-01-01T00:00:10Z", "value": 300000000}],
 "files": [{"name": "heap.pb.gz", "kind": "heap", "format": "pprof"},
           {"name": "heap.base.pb.gz", "kind": "heap", "format": "pprof"}]}
JSON
check "the Go bundle's page is written" "$HOUND" report --html "$G" -o "$T/go.html"
browse "$T/go.html" 'main.(*requestCache).remember' 3
check "the page has the metric's history chart" grep -q '<svg class="chart"' "$T/go.html"
check "the heap growth is drawn as a diff" grep -q 'Heap growth since the baseline' "$T/go.html"

# 3. hostile text in every field of a bundle stays text
H="$T/hostile"
mkdir -p "$H"
cp "$B/cpu.pb.gz" "$H/"
x='<img src=x onerror=alert(1)><script>alert(2)</script>'
python3 - "$H/manifest.json" "$x" <<'PY'
import json, sys
x = sys.argv[2]
json.dump({"id": x, "target": x, "rule": x, "reason": x,
           "trigger": {"kind": "alert", "labels": {x: x}, "generator_url": "javascript:alert(3)"},
           "process": {"pid": 1, "comm": x, "cmdline": x}, "host": x,
           "history": [{"t": x, "value": 1}, {"t": x, "value": 2}],
           "files": [{"name": "cpu.pb.gz", "kind": x, "format": x}, {"name": "../../etc/passwd.pb.gz"}],
           "errors": {x: x}, "notes": {x: x}}, open(sys.argv[1], "w"))
PY
check "the hostile bundle's page is written" "$HOUND" report --html "$H" -o "$T/hostile.html"
browse "$T/hostile.html" hot_checksum 1
check "the hostile text is on the page, escaped" grep -q '&lt;img src=x onerror=alert(1)&gt;' "$T/hostile.html"

# 4. errors
"$HOUND" report --html "$T/nope" >/dev/null 2>"$T/err1"
check "a missing bundle exits 1" test $? -eq 1
check "... naming the manifest" grep -q 'nope/manifest.json' "$T/err1"
"$HOUND" report -o "$T/x.html" "$B" 2>/dev/null
check "-o without --html is a usage error (2)" test $? -eq 2
check "... and writes nothing" test ! -e "$T/x.html"
"$HOUND" report --html "$B" -o "$T/no/such/dir/x.html" 2>"$T/err2"
check "an unwritable -o exits 1 with the reason" test $? -eq 1 -a -s "$T/err2"
done_testing
