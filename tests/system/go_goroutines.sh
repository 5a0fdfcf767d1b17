#!/usr/bin/env bash
# Goroutines parked forever on a stopped ticker: the goroutines rule fires and
# the dump's largest group sits in the leaking function, in the text dump and
# in the pprof profile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go ticker ticker -rate 400 -leak-after 4s || { fail "Go target listens"; done_testing; exit 1; }

cat >"$T/gr.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-gr
targets:
  - name: gr
    match: {pid: $GO_PID}
    go: {url: $GO_URL, metrics: $GO_URL/metrics}
    rules:
      - name: goroutine-leak
        metric: goroutines
        min: 40
        diff: 50%
        capture: [goroutines]
YAML
run_hound gr
if wait_for 40 have_bundle gr; then pass "goroutines rule fired"; else
	fail "goroutines rule fired"; tail -20 "$T/gr.log"; fi
stop_hound
B=$(bundles_of gr | head -1)
check "manifest names rule and metric" \
	[ "$(json_get "$B/manifest.json" 'j["rule"]+"/"+j["trigger"]["metric"]')" = "goroutine-leak/goroutines" ]
check "goroutines.txt and goroutines.pb.gz are in the bundle" \
	[ -s "$B/goroutines.txt" -a -s "$B/goroutines.pb.gz" ]
g=$(largest_goroutine_group "$B/goroutines.txt")
diag "largest group in goroutines.txt: $g"
check "largest goroutine group is the leaking function" bash -c "[[ '$g' == *' main.pollUpstream' ]]"
check "it holds more than 30 goroutines" [ "${g%% *}" -gt 30 ]
if [ -x "$GO_PROBE" ]; then
	"$GO_PROBE" dump "$B/goroutines.pb.gz" goroutine >"$T/dump.txt"
	top=$(sed 1d "$T/dump.txt" | sort -rn | head -1)
	check "largest sample of goroutines.pb.gz is in the leaking function" \
		bash -c "[[ '$top' == *' main.pollUpstream' ]]"
	check "decoder total equals go tool pprof's" [ "$(awk 'NR==1{print $3}' "$T/dump.txt")" = \
		"$(go tool pprof -top "$B/goroutines.pb.gz" 2>/dev/null | sed -n 's/.*of \([0-9]*\) total/\1/p')" ]
fi

# Without go.metrics, goroutines come from the goroutine profile header.
"$GO_PROBE" sample "$GO_URL" - 1 500 >"$T/probe.txt"
check "goroutines from the profile header" grep -Eq 'goroutines=[0-9]{2,}' "$T/probe.txt"
# hound report groups the dump: the leak is the largest group, named and counted.
"$HOUND" report "$B" >"$T/report.txt" 2>&1
top=$(sed -n '/^largest goroutine groups (goroutines.txt):/,/^$/p' "$T/report.txt" | sed -n '3p')
diag "report's largest group: $top"
check "hound report's largest goroutine group is the leak" \
	bash -c "[[ '$top' == *'[chan receive]  main.pollUpstream  (created by main.tickerTick)' ]]"
check "and counts more than 30 goroutines in it" test "$(echo "$top" | awk '{print $1}')" -gt 30
done_testing
