#!/usr/bin/env bash
# The attach protocol against real JVMs: a Java deadlock in threads.txt, a
# JFR recording for `cpu` (and the running recording's "before" window),
# a stale .java_pid socket, and the refusals that must never hurt the JVM:
# -Xrs (SIGQUIT would kill it), -XX:+DisableAttachMechanism (no signal at
# all), and a JVM that exits while hound waits for its socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jvm_lib.sh"

build_jvm_target || { fail "javac JTarget"; done_testing; exit 1; }
mkdir -p "$T/cap"
errors_of() { json_get "$1/manifest.json" "j['errors'].get('$2', '')"; }

# A deadlock: both threads and both monitors.
start_jvm dl deadlock || { fail "deadlocked JVM ready"; done_testing; exit 1; }
B=$(capture_one "$JVM_PID" stacks)
check "hound capture stacks on a JVM writes a bundle" test -d "$B"
check "threads.txt reports the Java-level deadlock" grep -q 'Found one Java-level deadlock' "$B/threads.txt"
check "both threads are named" sh -c "grep -q '\"hound-deadlock-1\"' '$B/threads.txt' && grep -q '\"hound-deadlock-2\"' '$B/threads.txt'"
check "the monitors each waits for and holds" sh -c \
	"[ \$(grep -c 'waiting to lock <0x[0-9a-f]*> (a java.lang.Object)' '$B/threads.txt') -ge 2 ] &&
	 [ \$(grep -c -- '- locked <0x[0-9a-f]*> (a java.lang.Object)' '$B/threads.txt') -ge 2 ]"
check "native stacks as well" test -s "$B/stacks.txt"
check "no socket or trigger file left behind" sh -c "! ls '$T'/.attach_pid* 2>/dev/null"

# cpu: a JFR recording for the duration; with a recording already running,
# its content (the minutes before the firing) comes too.
start_jvm jfr idle -XX:StartFlightRecording=name=always,settings=default ||
	{ fail "JVM with a running JFR ready"; done_testing; exit 1; }
B=$(capture_one "$JVM_PID" cpu -d 2s)
jfr() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = 'FLR\0' ]; }
check "cpu.jfr is a JFR recording" jfr "$B/cpu.jfr"
check "cpu.before.jfr comes from the recording already running" jfr "$B/cpu.before.jfr"
check "no errors" [ "$(json_get "$B/manifest.json" 'len(j["errors"])')" = 0 ]
if command -v jcmd >/dev/null; then
	jcmd "$JVM_PID" JFR.check >"$T/jfr.check" 2>&1
	check "hound's recording is stopped afterwards, the service's keeps running" sh -c \
		"grep -q 'name=always.*(running)' '$T/jfr.check' && ! grep -q 'name=hound-' '$T/jfr.check'"
fi

# A stale socket (a dead JVM's, or planted) where the JVM's will be.
start_jvm stale idle || { fail "JVM ready"; done_testing; exit 1; }
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()" "/tmp/.java_pid$JVM_PID"
B=$(capture_one "$JVM_PID" stacks)
check "a stale .java_pid socket: the JVM is woken up and the dump taken" grep -q 'Full thread dump' "$B/threads.txt"

# -Xrs: the JVM does not handle SIGQUIT (sending it would kill the JVM), so
# it opens its attach socket at start-up: hound must use it without a signal,
# and refuse once that socket is gone.
start_jvm xrs idle -Xrs || { fail "-Xrs JVM ready"; done_testing; exit 1; }
check "-Xrs: the JVM opened its socket at start-up" wait_for 60 test -S "/tmp/.java_pid$JVM_PID"
B=$(capture_one "$JVM_PID" stacks)
check "-Xrs: the dump is taken through that socket" grep -q 'Full thread dump' "$B/threads.txt"
rm -f "/tmp/.java_pid$JVM_PID"
B=$(capture_one "$JVM_PID" stacks,heap)
check "-Xrs without its socket: attach refused with the reason" sh -c "echo '$(errors_of "$B" threads)' | grep -q -- '-Xrs'"
check "-Xrs without its socket: heap refused too" sh -c "echo '$(errors_of "$B" heap)' | grep -q 'SIGQUIT'"
check "-Xrs: the JVM is alive" kill -0 "$JVM_PID"
check "-Xrs: native stacks still taken" test -s "$B/stacks.txt"

# -XX:+DisableAttachMechanism: refused before any signal (a SIGQUIT would print a dump).
start_jvm noattach idle -XX:+DisableAttachMechanism || { fail "JVM ready"; done_testing; exit 1; }
B=$(capture_one "$JVM_PID" stacks)
check "DisableAttachMechanism: refused, the flag named" sh -c "echo '$(errors_of "$B" threads)' | grep -q DisableAttachMechanism"
check "DisableAttachMechanism: no SIGQUIT was sent" sh -c "! grep -q 'Full thread dump' '$T/noattach.out'"

# A JVM that exits during the attach. Its attach listener is off through a
# flags file hound cannot see, so hound waits for the socket; the JVM halts
# as soon as the trigger file appears.
echo "+DisableAttachMechanism" >"$T/flags"
start_jvm halt haltonattach "-XX:Flags=$T/flags" || { fail "JVM ready"; done_testing; exit 1; }
HALT=$JVM_PID
t0=$(date +%s)
B=$(capture_one "$HALT" stacks)
rc=$?
t1=$(date +%s)
check "the JVM did exit" wait_for 20 sh -c "! kill -0 $HALT"
check "exit during attach is reported as such" sh -c "echo '$(errors_of "$B" threads)' | grep -q 'exited during attach'"
diag "hound capture returned in $((t1 - t0)) s with status $rc"
check "hound did not wait for its whole socket timeout" [ $((t1 - t0)) -lt 10 ]
check "no trigger file left behind" sh -c "! ls '$T'/.attach_pid* 2>/dev/null"
done_testing
