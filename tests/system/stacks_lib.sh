# stacks_lib.sh: helpers shared by the stacks_*.sh system tests (sourced after lib.sh).

# build_threads OUT CFLAGS...: compile tests/targets/threads.c.
build_threads() {
	local out=$1; shift
	cc "$@" -pthread -o "$out" "$TOP_SRCDIR/tests/targets/threads.c"
}

# start_threads BIN ARGS...: start a threads target, wait until every thread
# is parked; sets TPID. Its stdout goes to $T/threads.$TPID.out.
start_threads() {
	local out="$T/threads.$$.$RANDOM.out"
	"$@" >"$out" 2>&1 &
	TPID=$!
	TEST_PIDS="$TEST_PIDS $TPID"
	if ! wait_for 20 grep -q '^ready' "$out"; then
		diag "target $* did not get ready"; cat "$out"; return 1
	fi
}

# stop_target PID: kill a target and reap it.
stop_target() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }

# not_stopped PID: every thread runs or sleeps (no t/T state) and has no tracer.
not_stopped() {
	python3 - "$1" <<'PY'
import os, sys
pid, bad = sys.argv[1], 0
for tid in os.listdir("/proc/%s/task" % pid):
    try:
        stat = open("/proc/%s/task/%s/stat" % (pid, tid)).read()
        status = open("/proc/%s/task/%s/status" % (pid, tid)).read()
    except OSError:
        continue  # exited meanwhile
    state = stat.rsplit(")", 1)[1].split()[0]
    tracer = [l.split()[1] for l in status.splitlines() if l.startswith("TracerPid:")]
    if state in "tT" or (tracer and tracer[0] != "0"):
        print("# thread %s: state %s, TracerPid %s" % (tid, state, tracer))
        bad += 1
sys.exit(1 if bad else 0)
PY
}

# thread_count PID
thread_count() { ls /proc/"$1"/task | wc -l; }
