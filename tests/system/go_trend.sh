#!/usr/bin/env bash
# A slow leak in a Go service caught by trend rules, not by a spike: the heap
# and the RSS grow steadily after a flat phase; heap_inuse and rss trends fire,
# each with the fitted slope in the manifest, and nothing fires while flat.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go trend cache -rate 50 || { fail "Go target listens"; done_testing; exit 1; }

cat >"$T/trend.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-trend
targets:
  - name: trend
    match: {pid: $GO_PID}
    go: {url: $GO_URL}
    rules:
      - name: heap-creep
        metric: heap_inuse
        trend: {window: 1m, slope: 6MiB/m}
        cooldown: 1h
        capture: [heap]
      - name: rss-creep
        metric: rss
        trend: {window: 1m, slope: 6MiB/m}
        cooldown: 1h
        capture: [heap]
YAML
run_hound trend
sleep 35 # a flat phase longer than half the window: enough points for a fit
check "nothing fires while the heap is flat" bash -c "! ls -d '$T'/out-trend/bundles/trend/*/ 2>/dev/null"
kill -USR1 "$GO_PID" # 50 x 16 KiB/s: about 47 MiB/min
fired() { ls -d "$T"/out-trend/bundles/trend/*-"$1"/ >/dev/null 2>&1; }
check "the heap_inuse trend fires" wait_for 120 fired heap-creep
check "the rss trend fires" wait_for 120 fired rss-creep
stop_hound
for r in heap-creep rss-creep; do
	m=$(ls -d "$T"/out-trend/bundles/trend/*-$r/ | head -1)manifest.json
	diag "$r: $(json_get "$m" 'j["reason"]')"
	check "$r: the trigger is a trend with its slope over the threshold" python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["trigger"]
assert t["condition"] == "trend", t
assert t["value"] >= t["threshold"] > 0, t' "$m"
done
done_testing
