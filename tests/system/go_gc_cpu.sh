#!/usr/bin/env bash
# A GC storm: a pointer-rich live heap churned with a low GOGC. gc_cpu shows the
# storm at once (the runtime's cumulative GCCPUFraction dilutes it over the
# process's life), the gc_cpu rule fires with the heap in the bundle, and when
# the storm ends gc_cpu fades while the cumulative figure stays frozen.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"
command -v curl >/dev/null || skip_all "curl is not installed"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go gc gc -rate 1000 || { fail "Go target listens"; done_testing; exit 1; }
PORT=$(free_port)

cat >"$T/gc.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-gc
api: {listen: "127.0.0.1:$PORT"}
targets:
  - name: gc
    match: {pid: $GO_PID}
    go: {url: $GO_URL}
    rules:
      - name: gc-storm
        metric: gc_cpu
        abs: 10%
        cooldown: 1h
        capture: [heap]
YAML
run_hound gc
# hound's gc_cpu, and the runtime's own cumulative GCCPUFraction in %.
gc_cpu() { curl -s "http://127.0.0.1:$PORT/v1/targets" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["targets"][0]["processes"][0]["metrics"]["gc_cpu"])' 2>/dev/null; }
cumulative() { curl -s "$GO_URL/debug/vars" |
	python3 -c 'import json,sys; print(100 * json.load(sys.stdin)["memstats"]["GCCPUFraction"])'; }
above() { python3 -c "import sys; sys.exit(0 if float('$1' or 0) > float('$2') else 1)"; }
check "gc_cpu is sampled" wait_for 20 bash -c "[ -n \"\$(curl -s http://127.0.0.1:$PORT/v1/targets | grep -o '\"gc_cpu\":')\" ]"
sleep 8 # a calm phase: the cumulative fraction will dilute the storm over it
check "no firing in the calm phase (start-up collections fade)" bash -c "! ls -d '$T'/out-gc/bundles/gc/*/ 2>/dev/null"
kill -USR1 "$GO_PID"
if wait_for 40 have_bundle gc; then pass "the gc_cpu rule fired in the storm"; else
	fail "the gc_cpu rule fired in the storm"; tail -20 "$T/gc.log"; fi
B=$(bundles_of gc | head -1)
check "manifest names rule and metric" \
	[ "$(json_get "$B/manifest.json" 'j["rule"]+"/"+j["trigger"]["metric"]')" = "gc-storm/gc_cpu" ]
check "the heap profile is in the bundle" test -s "$B/heap.pb.gz"
storm=$(gc_cpu); cum=$(cumulative)
diag "in the storm: gc_cpu $storm%, cumulative GCCPUFraction $cum%"
check "in the storm gc_cpu is well above the cumulative fraction" above "$storm" "$(python3 -c "print(2 * $cum)")"

kill -USR2 "$GO_PID"
faded() { v=$(gc_cpu); [ -n "$v" ] && ! above "$v" "$(python3 -c "print($storm / 5)")"; }
check "after the storm gc_cpu fades below a fifth of its storm value" wait_for 30 faded
after=$(gc_cpu); cum2=$(cumulative)
diag "after the storm: gc_cpu $after%, cumulative GCCPUFraction $cum2%"
check "while the cumulative fraction stays where the storm left it" above "$cum2" "$(python3 -c "print(0.8 * $cum)")"
stop_hound
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/gc.log'"
done_testing
