#!/usr/bin/env bash
# A hand-written /metrics whose label values are unbounded: the series rule
# (abs) fires; the steady phase does not fire it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go labels labels -rate 400 -leak-after 4s || { fail "Go target listens"; done_testing; exit 1; }

cat >"$T/series.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-series
targets:
  - name: series
    match: {pid: $GO_PID}
    go: {url: $GO_URL, metrics: $GO_URL/metrics}
    rules:
      - name: label-explosion
        metric: series
        abs: 500
        capture: [heap]
YAML
run_hound series
if wait_for 40 have_bundle series; then pass "series rule fired"; else
	fail "series rule fired"; tail -20 "$T/series.log"; fi
stop_hound
B=$(bundles_of series | head -1)
m=$B/manifest.json
check "manifest names rule and metric" \
	[ "$(json_get "$m" 'j["rule"]+"/"+j["trigger"]["metric"]')" = "label-explosion/series" ]
check "the value that fired is over 500" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["trigger"]["value"] > 500, j["trigger"]' "$m"
check "the history starts at the steady count" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); v=[h["value"] for h in j["history"]]; assert min(v) < 100, v' "$m"
check "heap capture on the Go target" [ -s "$B/heap.pb.gz" ]

# hound's count equals a plain count of sample lines on a page that holds still
# (a second labels service that never leaks: its 20 paths plus 2 other series)
start_go still labels -rate 400 || fail "second Go target listens"
wait_for 30 bash -c "[ \$(curl -s '$GO_URL/metrics' | grep -vc '^#') -eq 22 ]"
want=$(curl -s "$GO_URL/metrics" | grep -v '^#' | grep -vc '^$')
got=$("$GO_PROBE" sample "$GO_URL" "$GO_URL/metrics" 1 500 | sed -n 's/.*series=\([0-9]*\).*/\1/p')
check "series count equals the sample lines curl sees ($got = $want)" [ "$got" = "$want" ]
done_testing
