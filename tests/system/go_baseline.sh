#!/usr/bin/env bash
# The Go heap baseline: taken when warm-up ends, refreshed once per cooldown
# period while no rule fires or cools, so a bundle's heap.base.pb.gz is the
# latest healthy heap, not the one from the process's first minute.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go base cache -rate 1000 || { fail "Go target listens"; done_testing; exit 1; }

cat >"$T/base.yaml" <<YAML
interval: 250ms
history: 4
output: $T/out-base
targets:
  - name: base
    match: {pid: $GO_PID}
    go: {url: $GO_URL}
    rules:
      - name: heap-growth
        metric: heap_inuse
        min: 8MiB
        diff: 50%
        cooldown: 2s
        capture: [heap]
YAML
run_hound base
base_file() { ls "$T"/out-base/baselines/base/*/heap.base.pb.gz 2>/dev/null | head -1; }
check "a baseline is taken when warm-up ends" wait_for 20 bash -c "[ -n \"\$(ls '$T'/out-base/baselines/base/*/heap.base.pb.gz 2>/dev/null)\" ]"
BASE=$(base_file)
cp "$BASE" "$T/first.pb.gz"
mtimes() { stat -c %y "$BASE" 2>/dev/null; }
seen=$(mtimes) n=1
for _ in $(seq 1 80); do # up to 20 s: a healthy process gets a fresh baseline every 2 s
	sleep 0.25
	m=$(mtimes)
	[ "$m" != "$seen" ] && { n=$((n + 1)); seen=$m; }
	[ "$n" -ge 3 ] && break
done
check "while healthy it is refreshed once per cooldown period ($n baselines seen)" test "$n" -ge 3
check "a refreshed baseline is a new profile" bash -c "! cmp -s '$T/first.pb.gz' '$BASE'"

kill -USR1 "$GO_PID" # the leak begins
if wait_for 40 have_bundle base; then pass "heap_inuse rule fired"; else
	fail "heap_inuse rule fired"; tail -20 "$T/base.log"; fi
stop_hound
B=$(bundles_of base | head -1)
check "the bundle's baseline is not the first one taken" bash -c "! cmp -s '$T/first.pb.gz' '$B/heap.base.pb.gz'"
top=$(first_data_line "$B/heap.diff.txt")
diag "top line: $top"
check "the diff against the latest healthy baseline names the leak" \
	bash -c "[[ '$top' == *' main.(*requestCache).remember' ]]"
done_testing
