#!/usr/bin/env bash
# A Go service whose request cache only grows: the heap_inuse rule fires, the
# bundle holds heap.pb.gz, the baseline heap.base.pb.gz and a heap.diff.txt
# whose top line is the leaking function; `hound report` prints it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go cache cache -rate 1000 || { fail "Go target listens"; done_testing; exit 1; }

cat >"$T/heap.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-heap
targets:
  - name: heap
    match: {pid: $GO_PID}
    go: {url: $GO_URL}
    rules:
      - name: heap-growth
        metric: heap_inuse
        min: 8MiB
        diff: 50%
        capture: [heap]
YAML
run_hound heap
# The leak starts once the baseline is on disk, however slow the machine is.
if wait_for 40 bash -c "ls '$T'/out-heap/baselines/heap/*/heap.base.pb.gz"; then
	pass "heap baseline taken when warm-up ends"; else fail "heap baseline taken when warm-up ends"; fi
kill -USR1 "$GO_PID"
if wait_for 40 have_bundle heap; then pass "heap_inuse rule fired"; else
	fail "heap_inuse rule fired"; tail -20 "$T/heap.log"; fi
stop_hound
B=$(bundles_of heap | head -1)
m=$B/manifest.json
check "manifest names rule and metric" \
	[ "$(json_get "$m" 'j["rule"]+"/"+j["trigger"]["metric"]')" = "heap-growth/heap_inuse" ]
check "fired after the leak began, not in the steady phase" \
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["trigger"]["value"] >= 8*2**20' "$m"
for f in heap.pb.gz heap.base.pb.gz heap.diff.txt; do
	check "bundle has $f listed in the manifest" \
		python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert sys.argv[2] in [f["name"] for f in j["files"]]' "$m" "$f"
done
check "no capture errors" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert not j["errors"], j["errors"]' "$m"
top=$(first_data_line "$B/heap.diff.txt")
diag "top line: $top"
check "top line of heap.diff.txt is the leaking function" \
	bash -c "[[ '$top' == *' main.(*requestCache).remember' ]]"
check "the top line's growth is positive" bash -c "[[ '$(echo "$top" | awk '{print $2}')' == +* ]]"
# The same answer from go tool pprof -base: the leaking function leads there too.
if go tool pprof -top -sample_index=inuse_space -base "$B/heap.base.pb.gz" "$B/heap.pb.gz" >"$T/pprof.top" 2>/dev/null; then
	check "go tool pprof -base agrees on the top function" \
		bash -c "sed -n '6p' '$T/pprof.top' | grep -q 'main.(\*requestCache).remember'"
else
	fail "go tool pprof reads the bundle's profiles"
fi
"$HOUND" report "$B" >"$T/report.txt" 2>&1
check "hound report prints the heap diff" grep -q 'main.(\*requestCache).remember' "$T/report.txt"
done_testing
