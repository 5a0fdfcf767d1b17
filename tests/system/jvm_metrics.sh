#!/usr/bin/env bash
# JVM metrics from PerfData, without attaching: a GC storm (a large live set
# replaced without pause, serial collector, small heap) fires gc_cpu and
# gc_pause while an idle JVM watched by the same rules does not; the status
# view shows the JVM's collector, threads and safepoints; a JVM started with
# -XX:-UsePerfData gets a status message; jvm: false turns it all off. No
# sample may trigger a safepoint: the JVM's safepoint count is compared.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jvm_lib.sh"
command -v curl >/dev/null || skip_all "curl is not installed"

build_jvm_target || { fail "javac JTarget"; done_testing; exit 1; }
start_jvm storm gcstorm -XX:+UseSerialGC -Xmx64m || { fail "storm JVM ready"; done_testing; exit 1; }
STORM=$JVM_PID
start_jvm idle idle -Xmx64m || { fail "idle JVM ready"; done_testing; exit 1; }
IDLE=$JVM_PID
start_jvm noperf idle -XX:-UsePerfData || { fail "-XX:-UsePerfData JVM ready"; done_testing; exit 1; }
NOPERF=$JVM_PID
start_jvm off idle || { fail "jvm: false JVM ready"; done_testing; exit 1; }
OFF=$JVM_PID
PORT=$(free_port)

rules='
      - {name: gc, metric: gc_cpu, abs: 20%, cooldown: 1h, capture: [stacks]}
      - {name: pause, metric: gc_pause, abs: 5ms, cooldown: 1h, capture: [stacks]}
      - {name: live, metric: heap_live, abs: 10GiB, capture: [heap]}'
cat >"$T/m.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-storm
api: {listen: "127.0.0.1:$PORT"}
targets:
  - name: storm
    match: {pid: $STORM}
    rules: $rules
  - name: idle
    match: {pid: $IDLE}
    rules: $rules
  - name: noperf
    match: {pid: $NOPERF}
    rules:
      - {name: rss, metric: rss, abs: 100GiB, capture: [stacks]}
  - name: off
    jvm: false
    match: {pid: $OFF}
    rules:
      - {name: rss, metric: rss, abs: 100GiB, capture: [stacks]}
YAML
hcheck() { "$HOUND" check -c "$1" >"$T/check.out" 2>&1; }
check "hound check accepts JVM metrics without go.url" hcheck "$T/m.yaml"
run_hound m
firings() { proc_json "$PORT" "$1" "[r for r in t['rules'] if r['name'] == '$2'][0]['firings']"; }
fired() { [ "$(firings "$1" "$2")" -ge 1 ] 2>/dev/null; }
check "gc_cpu fires in the GC storm" wait_for 60 fired storm gc
check "gc_pause fires in the GC storm" wait_for 60 fired storm pause
check "a storm bundle is written" wait_for 60 have_bundle storm
idle_sampled() { [ "$(proc_json "$PORT" idle "isinstance(p['metrics']['gc_cpu'], (int, float))")" = True ]; }
check "the idle JVM reports gc_cpu too" wait_for 30 idle_sampled
# gc_cpu is per interval: a storm JVM stopped for a capture, or between two
# collections, reads low for a sample. Wait (bounded) for a sample in the storm.
storm_above() {
	storm_cpu=$(proc_json "$PORT" storm "p['metrics']['gc_cpu']")
	idle_cpu=$(proc_json "$PORT" idle "p['metrics']['gc_cpu']")
	python3 -c "import sys; sys.exit(0 if $storm_cpu > 10 * $idle_cpu + 1 else 1)" 2>/dev/null
}
check "the storm's gc_cpu is far above the idle JVM's" wait_for 60 storm_above
diag "gc_cpu: storm $storm_cpu%, idle $idle_cpu%"
check "the idle JVM's heap baseline is taken (a class histogram: a full GC)" \
	wait_for 30 sh -c "ls '$T'/out-storm/baselines/idle/*/heap.base.histo.txt >/dev/null"
n0=$(proc_json "$PORT" idle "p['samples']")
more_samples() { [ "$(proc_json "$PORT" idle "p['samples']")" -ge $((n0 + 3)) ]; }
check "three more samples of the idle JVM" wait_for 30 more_samples
check "the idle JVM fires neither rule (hound's own baseline GC does not count)" \
	[ "$(firings idle gc)/$(firings idle pause)" = "0/0" ]
check "heap_live of the idle JVM is its old generation, in bytes" \
	python3 -c "import sys; v=float('$(proc_json "$PORT" idle "p['metrics']['heap_live']")'); sys.exit(0 if 1e5 < v < 64 * 2**20 else 1)"
check "the status view names the collector" [ "$(proc_json "$PORT" storm "p['jvm']['gc']")" = "Copy:MSC" ]
check "live Java threads in the status view" python3 -c "import sys; sys.exit(0 if int('$(proc_json "$PORT" idle "p['jvm']['threads']")') >= 5 else 1)"
check "safepoint share in the status view" [ -n "$(proc_json "$PORT" storm "p['jvm']['safepoint_pct']")" ]
nosp() { proc_json "$PORT" noperf "p['jvm']['status']" | grep -q -- '-XX:-UsePerfData'; }
check "-XX:-UsePerfData: a status message names the flag" wait_for 30 nosp
check "jvm: false: no jvm view" [ "$(proc_json "$PORT" off "'jvm' in p")" = "False" ]

# No safepoint from sampling: the idle JVM's own count does not move while
# hound samples it 20 times (its own periodic work may add a few; compare
# with a window in which hound is stopped).
sp() { proc_json "$PORT" idle "p['jvm']['safepoints']"; }
s0=$(sp); sleep 10; s1=$(sp)
diag "idle JVM safepoints over 10 s of sampling every 500 ms: $s0 -> $s1"
check "sampling does not trigger safepoints (at most 1 per 5 s of the JVM's own)" \
	python3 -c "import sys; sys.exit(0 if int('$s1') - int('$s0') <= 2 else 1)"
stop_hound

cat >"$T/bad.yaml" <<YAML
targets:
  - name: x
    jvm: false
    match: {pid: 1}
    rules:
      - {name: p, metric: gc_pause, abs: 1s, capture: [heap_dump]}
YAML
out=$("$HOUND" check -c "$T/bad.yaml" 2>&1); rc=$?
check "jvm: false with a JVM metric is a config error (exit 2)" [ "$rc" = 2 ]
check "the error names file:line:column and the fix" sh -c "echo '$out' | grep -q 'bad.yaml:6:.*drop jvm: false'"
check "heap_dump on jvm: false is an error" sh -c "echo '$out' | grep -q 'heap_dump.*jvm: false'"
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/m.log'"
done_testing
