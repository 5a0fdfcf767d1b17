# jvm_lib.sh: helpers for the JVM system tests (sourced after lib.sh): compile
# tests/targets/jvm/JTarget.java with the JDK's javac and start it in a mode.
command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1 ||
	skip_all "no JDK (Debian package openjdk-17-jdk-headless)"

# A JVM killed with SIGKILL leaves its PerfData file and attach socket in
# /tmp: remove those of the JVMs this test started, after lib.sh's cleanup.
JVM_PIDS=""
jvm_cleanup() {
	cleanup
	for p in $JVM_PIDS; do rm -f /tmp/hsperfdata_*/"$p" "/tmp/.java_pid$p"; done
}
trap jvm_cleanup EXIT

build_jvm_target() {
	mkdir -p "$T/jcls" &&
		javac -d "$T/jcls" "$TOP_SRCDIR/tests/targets/jvm/JTarget.java" >"$T/javac.log" 2>&1 ||
		{ cat "$T/javac.log"; return 1; }
}

# start_jvm NAME MODE [JVM OPTIONS...]: starts JTarget; sets JVM_PID. A JVM
# takes a while to start on a busy machine: wait for its "ready" line.
start_jvm() {
	local name=$1 mode=$2; shift 2
	# in $T: attach clients drop their trigger file in the JVM's working directory
	(cd "$T" && exec java "$@" -cp "$T/jcls" JTarget "$mode") >"$T/$name.out" 2>&1 &
	JVM_PID=$!
	TEST_PIDS="$TEST_PIDS $JVM_PID"
	JVM_PIDS="$JVM_PIDS $JVM_PID"
	wait_for 120 grep -qx ready "$T/$name.out"
}

bundles_of() { ls -d "$T/out-$1/bundles/$1"/*/ 2>/dev/null | grep -v '\.tmp/$'; }
have_bundle() { [ -n "$(bundles_of "$1")" ]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_hound NAME: starts `hound run -c $T/NAME.yaml`; sets HPID.
run_hound() {
	"$HOUND" run -c "$T/$1.yaml" 2>"$T/$1.log" &
	HPID=$!
	TEST_PIDS="$TEST_PIDS $HPID"
}
stop_hound() {
	kill -TERM "$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null
}

# proc_json PORT TARGET EXPR: a Python expression on process 0 of a target in /v1/targets (as p).
proc_json() {
	curl -s "http://127.0.0.1:$1/v1/targets" | python3 -c '
import json, sys
j = json.load(sys.stdin)
t = [t for t in j["targets"] if t["name"] == sys.argv[1]][0]
p = t["processes"][0]
print(eval(sys.argv[2]))' "$2" "$3" 2>/dev/null
}

# capture_one PID KINDS [ARGS]: `hound capture`; prints the bundle directory.
capture_one() {
	local pid=$1 kinds=$2; shift 2
	"$HOUND" capture -p "$pid" -k "$kinds" -o "$T/cap" "$@" 2>>"$T/capture.err"
}
