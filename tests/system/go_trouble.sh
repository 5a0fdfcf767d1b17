#!/usr/bin/env bash
# A Go target whose endpoint is down or slow: the native metrics go on (an rss
# rule still fires), and the Go failure is in the log and in the manifest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }

# write_config NAME PID GO_URL
write_config() {
	cat >"$T/$1.yaml" <<YAML
interval: 300ms
history: 3
output: $T/out-$1
targets:
  - name: $1
    match: {pid: $2}
    go: {url: $3}
    rules:
      - {name: heap-huge, metric: heap_inuse, abs: 64GiB, capture: [heap]}
      - {name: rss-any, metric: rss, abs: 1MiB, capture: [heap, goroutines]}
YAML
}

# Down: nothing listens at go.url.
start_go down steady || { fail "Go target listens"; done_testing; exit 1; }
port=$(free_port)
write_config down "$GO_PID" "http://127.0.0.1:$port"
run_hound down
if wait_for 20 have_bundle down; then pass "down: the native rss rule still fires"; else
	fail "down: the native rss rule still fires"; tail -20 "$T/down.log"; fi
check "down: the sampling error is logged with its URL" \
	grep -q "go endpoint failed.*127.0.0.1:$port/debug/vars" "$T/down.log"
stop_hound
B=$(bundles_of down | head -1)
check "down: rule in the manifest is rss-any" [ "$(json_get "$B/manifest.json" 'j["rule"]')" = rss-any ]
check "down: the heap capture error is in the manifest" python3 - "$B/manifest.json" "$port" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
errs = json.dumps(j["errors"])
assert "heap" in errs and "goroutines" in errs, errs
assert "127.0.0.1:" + sys.argv[2] in errs, errs
PY
check "down: hound kept running" grep -q 'hound stopped' "$T/down.log"

# Slow: /debug/vars answers after 30 s; the pprof endpoints answer at once.
start_go slow steady -slow-vars 30s || { fail "slow Go target listens"; done_testing; exit 1; }
write_config slow "$GO_PID" "$GO_URL"
run_hound slow
if wait_for 20 have_bundle slow; then pass "slow: the native rss rule still fires"; else
	fail "slow: the native rss rule still fires"; tail -20 "$T/slow.log"; fi
check "slow: the timeout is logged" grep -qi "go endpoint failed.*debug/vars.*time" "$T/slow.log"
stop_hound
B=$(bundles_of slow | head -1)
check "slow: the rss history kept every sample" \
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert len(j["history"]) >= 3, j["history"]' "$B/manifest.json"
check "slow: the heap profile was still captured" [ -s "$B/heap.pb.gz" ]
done_testing
