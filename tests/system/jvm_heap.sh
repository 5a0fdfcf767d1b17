#!/usr/bin/env bash
# A leaking JVM service (a registry that never evicts): hound takes a class
# histogram baseline once the process is warm, the heap_live rule fires as
# the old generation fills, and the bundle names the leaking class on the
# first line of heap.diff.txt; heap_dump brings a gzipped HPROF moved out of
# the JVM's /tmp, and stacks a thread dump beside the native stacks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jvm_lib.sh"
command -v curl >/dev/null || skip_all "curl is not installed"

build_jvm_target || { fail "javac JTarget"; done_testing; exit 1; }
start_jvm leak leak -Xmx256m -XX:+UseSerialGC || { fail "leaking JVM ready"; done_testing; exit 1; }
LEAK=$JVM_PID
PORT=$(free_port)
cat >"$T/leak.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-leak
api: {listen: "127.0.0.1:$PORT"}
targets:
  - name: leak
    match: {pid: $LEAK}
    rules:
      - name: old-gen
        metric: heap_live
        abs: 48MiB
        cooldown: 1h
        capture: [heap, heap_dump, stacks]
YAML
run_hound leak
check "the baseline histogram is taken while the heap is still small" \
	wait_for 60 sh -c "ls '$T'/out-leak/baselines/leak/*/heap.base.histo.txt >/dev/null"
check "heap_live crosses 48MiB and the rule fires" wait_for 120 have_bundle leak
B=$(bundles_of leak | head -1)
check "manifest: rule old-gen on heap_live" \
	[ "$(json_get "$B/manifest.json" 'j["rule"]+"/"+j["trigger"]["metric"]')" = "old-gen/heap_live" ]
check "no capture errors" [ "$(json_get "$B/manifest.json" 'len(j["errors"])')" = 0 ]
first=$(grep -v '^#' "$B/heap.diff.txt" | head -1)
diag "heap.diff.txt first line: $first"
check "the leaking class is heap.diff.txt's first line" sh -c "echo '$first' | grep -q 'JTarget\$LeakySession\$'"
check "current and baseline histograms are in the bundle" test -s "$B/heap.histo.txt" -a -s "$B/heap.base.histo.txt"
check "heap.hprof.gz is a gzipped HPROF" python3 -c "
import gzip, sys
with gzip.open(sys.argv[1]) as f: sys.exit(0 if f.read(18) == b'JAVA PROFILE 1.0.2' else 1)" "$B/heap.hprof.gz"
check "the manifest lists the heap dump with its kind" \
	[ "$(json_get "$B/manifest.json" '[f["kind"] for f in j["files"] if f["name"]=="heap.hprof.gz"][0]')" = heap_dump ]
check "no dump is left in the JVM's /tmp" sh -c "! ls /proc/$LEAK/root/tmp/.hound-* 2>/dev/null"
thread_dump() { grep -q '^Full thread dump' "$1" && grep -q '^"main" #1 ' "$1" &&
	grep -q 'java.lang.Thread.State: TIMED_WAITING (sleeping)' "$1"; }
check "threads.txt is the JVM's thread dump (main sleeping in the leak loop)" thread_dump "$B/threads.txt"
check "native stacks are there too" test -s "$B/stacks.txt"
check "hound report shows the diff's top class" sh -c "'$HOUND' report '$B' | grep -q LeakySession"
stop_hound
check "the JVM survived every capture" kill -0 "$LEAK"
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/leak.log'"
done_testing
