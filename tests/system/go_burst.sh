#!/usr/bin/env bash
# A Go service that loads one 128 MiB report and drops it: the in-use heap
# comes back down, RSS stays up (the runtime frees with MADV_FREE). The rss
# rule's bundle names the code behind the burst (alloc_space, since the
# in-use heap did not grow) and the report explains the RSS as LazyFree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
export GODEBUG=madvdontneed=0
start_go burst burst -rate 200 || { fail "Go target listens"; done_testing; exit 1; }
unset GODEBUG

cat >"$T/burst.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-burst
targets:
  - name: burst
    match: {pid: $GO_PID}
    go: {url: $GO_URL}
    rules:
      - {name: rss-high, metric: rss, abs: 100MiB, for: 6, capture: [heap]}
YAML
# for: 6 (3 s over the threshold): the burst is dropped well before the capture.
run_hound burst
if wait_for 40 bash -c "ls '$T'/out-burst/baselines/burst/*/heap.base.pb.gz"; then
	pass "heap baseline taken when warm-up ends"; else fail "heap baseline taken when warm-up ends"; fi
kill -USR1 "$GO_PID"
if wait_for 60 have_bundle burst; then pass "rss rule fired"; else
	fail "rss rule fired"; tail -20 "$T/burst.log"; fi
stop_hound
B=$(bundles_of burst | head -1)
check "smaps_rollup.txt is in the Go heap bundle" test -s "$B/smaps_rollup.txt"
top=$(first_data_line "$B/heap.diff.txt")
diag "top line: $top"
check "the in-use heap did not grow: heap.diff.txt says so" \
	grep -q "^# in-use heap did not grow" "$B/heap.diff.txt"
check "its first data line is the code behind the burst" \
	bash -c "[[ '$top' == *' main.loadReportBurst' ]]"
"$HOUND" report "$B" >"$T/report.txt" 2>&1
check "the report explains RSS as LazyFree" \
	grep -Eq "RSS [0-9]+ MiB, [0-9]+ MiB of it LazyFree: freed pages the kernel reclaims under pressure, not live data" "$T/report.txt"
check "the report gives the runtime's HeapReleased too" grep -Eq "the Go runtime reports [0-9]+ MiB HeapReleased" "$T/report.txt"
check "the report names the burst's code" grep -q "main.loadReportBurst" "$T/report.txt"
done_testing
