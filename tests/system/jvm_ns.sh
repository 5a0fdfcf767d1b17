#!/usr/bin/env bash
# A JVM as a container runs it: its own mount and PID namespaces (it is PID 1
# there, with a private /tmp that only /proc/PID/root reaches) and another
# user. hound must find its PerfData by its namespace PID, sample it, and
# attach with the JVM's credentials in mind: the agent keeps CAP_KILL and
# CAP_DAC_OVERRIDE only with jvm: true, and says so when they are missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jvm_lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (unshare of mount and PID namespaces)"
command -v unshare >/dev/null || skip_all "unshare (util-linux) missing"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) missing"
command -v curl >/dev/null || skip_all "curl is not installed"
unshare --mount --pid --fork true 2>/dev/null || skip_all "cannot create namespaces here"

build_jvm_target || { fail "javac JTarget"; done_testing; exit 1; }
chmod -R a+rX "$T/jcls"
# The classes travel through fd 3: once /tmp is a fresh tmpfs, $T is hidden.
MARK="hound-ns-$$"
exec 3<"$T/jcls"
unshare --mount --pid --fork --propagation private sh -c '
	mount -t tmpfs -o mode=1777 tmpfs /tmp && mkdir /tmp/app && cp -r /proc/self/fd/3/. /tmp/app &&
	chmod -R a+rX /tmp/app && cd /tmp/app &&
	exec setpriv --reuid=65534 --regid=65534 --clear-groups java -Xmx64m -cp /tmp/app JTarget leak 2000 '"$MARK"'
' >"$T/ns.out" 2>&1 &
NSH=$!
TEST_PIDS="$TEST_PIDS $NSH"
exec 3<&-
check "the namespaced JVM is ready" wait_for 120 grep -qx ready "$T/ns.out"
JPID=$(pgrep -f "^java .*JTarget leak 2000 $MARK" | head -1)
diag "JVM host pid $JPID, $(grep NSpid /proc/$JPID/status)"
check "it is PID 1 in its namespace" sh -c "grep -q 'NSpid:.*[[:space:]]1\$' /proc/$JPID/status"
check "its PerfData is invisible from the host's /tmp" sh -c "! ls /tmp/hsperfdata_nobody/1 2>/dev/null"
check "and visible through /proc/PID/root" test -f "/proc/$JPID/root/tmp/hsperfdata_nobody/1"

PORT=$(free_port)
write_cfg() { cat >"$T/ns.yaml" <<YAML
interval: 500ms
history: 4
output: $T/out-ns
api: {listen: "127.0.0.1:$PORT"}
targets:
  - name: ns
    $1
    match: {pid: $JPID}
    rules:
      - {name: pause, metric: gc_pause, abs: 10s, capture: [heap, stacks]}
YAML
}
write_cfg "jvm: true"
run_hound ns
sampled() { [ "$(proc_json "$PORT" ns "isinstance(p['metrics']['gc_pause'], (int, float))")" = True ]; }
check "the agent samples the namespaced JVM's GC" wait_for 60 sampled
check "the status view has its PerfData" [ "$(proc_json "$PORT" ns "p['jvm']['perfdata']")" = True ]
check "jvm: true keeps what attaching to another uid needs" \
	grep -q 'keep=.*CAP_DAC_OVERRIDE.*CAP_KILL' "$T/ns.log"
post() { curl -s -o "$T/post.json" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/captures" \
	-d '{"target":"ns","capture":["stacks","heap"],"reason":"test"}'; }
check "an API capture is accepted" [ "$(post)" = 202 ]
done_ns() { B=$(bundles_of ns | head -1); [ -n "$B" ]; }
check "its bundle is written" wait_for 120 done_ns
B=$(bundles_of ns | head -1)
check "threads.txt from the JVM of another user in its own namespaces" grep -q 'Full thread dump' "$B/threads.txt"
check "and its class histogram" grep -q 'JTarget\$LeakySession' "$B/heap.histo.txt"
check "no errors" [ "$(json_get "$B/manifest.json" 'len(j["errors"])')" = 0 ]
stop_hound

# Without jvm: true the agent keeps only CAP_SYS_PTRACE: metrics still come,
# the attach to another uid's JVM fails with a sentence naming the fix.
rm -rf "$T/out-ns"
write_cfg ""
run_hound ns
check "without jvm: true the GC metrics still come (CAP_DAC_READ_SEARCH for the 0600 PerfData)" \
	wait_for 60 sampled
check "CAP_DAC_READ_SEARCH is kept for the JVM metric, and no attach capability" \
	sh -c "grep 'privileges dropped' '$T/ns.log' | grep 'CAP_DAC_READ_SEARCH' | grep -qv 'CAP_KILL'"
rm -f "/proc/$JPID/root/tmp/.java_pid1"
check "an API capture is accepted" [ "$(post)" = 202 ]
check "its bundle is written" wait_for 120 done_ns
B=$(bundles_of ns | head -1)
err=$(json_get "$B/manifest.json" "j['errors'].get('threads', '')")
diag "threads error: $err"
check "the refusal names the capability and jvm: true" sh -c "echo '$err' | grep -q 'CAP_.*jvm: true'"
stop_hound
check "the JVM survived" kill -0 "$JPID"
kill -9 "$JPID" 2>/dev/null
done_testing
