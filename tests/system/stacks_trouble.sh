#!/bin/sh
# stacks_trouble: a debugger already attached, a target that exits mid-capture,
# threads born and dying during it, a stopped target, and no privilege. Each
# ends in a clean error or a correct result, never a crash or a stopped target.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (drops to nobody for one case)"
build_threads "$T/threads" -O2 -g || skip_all "cannot build the target"
HOLDER="$TOP_BUILDDIR/tests/targets/ptrace_holder"
[ -x "$HOLDER" ] || cc -O2 -o "$HOLDER" "$TOP_SRCDIR/tests/targets/ptrace_holder.c" 2>/dev/null ||
	{ HOLDER="$T/ptrace_holder"; cc -O2 -o "$HOLDER" "$TOP_SRCDIR/tests/targets/ptrace_holder.c"; }

# --- another tracer holds every thread (PTRACE_SEIZE, running) ---
start_threads "$T/threads" -n 8 || exit 1
pid=$TPID
"$HOLDER" "$pid" >"$T/holder.out" &
holder=$!
TEST_PIDS="$TEST_PIDS $holder"
check "the holder traces the target" wait_for 30 grep -q '^held' "$T/holder.out"
"$HOUND" stacks -p "$pid" >"$T/out.txt" 2>"$T/err.txt"
check "already traced: exit 1" test $? -eq 1
check "already traced: one-line error" test "$(wc -l <"$T/err.txt")" -eq 1
check "already traced: names PID and syscall" grep -q "ptrace(PTRACE_SEIZE, $pid): Operation not permitted" "$T/err.txt"
check "already traced: names the tracer" grep -q "already traced by PID $holder" "$T/err.txt"
kill -9 "$holder"; wait "$holder" 2>/dev/null
check "already traced: target not stopped after the tracer left" not_stopped "$pid"
"$HOUND" stacks -p "$pid" >/dev/null 2>&1
check "works again once the tracer is gone" test $? -eq 0

# --- gdb attached (it stops the threads itself) ---
if command -v gdb >/dev/null 2>&1; then
	gdb -q -nx -batch -p "$pid" -ex 'shell sleep 3' >/dev/null 2>&1 &
	gdbpid=$!
	TEST_PIDS="$TEST_PIDS $gdbpid"
	if wait_for 30 sh -c "awk '/^TracerPid:/ {exit \$2 == 0}' /proc/$pid/status"; then
		"$HOUND" stacks -p "$pid" >/dev/null 2>"$T/gdb.err"
		check "gdb attached: exit 1" test $? -eq 1
		check "gdb attached: clean error" grep -q "ptrace(PTRACE_SEIZE, $pid): Operation not permitted: already traced by PID" "$T/gdb.err"
	else
		fail "gdb did not attach"
	fi
	wait "$gdbpid"
	check "gdb detached: target running, no tracer" not_stopped "$pid"
fi

# --- a stopped (SIGSTOP) target is captured and left stopped ---
kill -STOP "$pid"
check "the target is stopped by SIGSTOP" wait_for 30 sh -c "grep -q '^State:.*T' /proc/$pid/status"
"$HOUND" stacks -p "$pid" >"$T/stopped.txt" 2>&1
check "stopped target: captured" sh -c "grep -q ' chain_beta - ' '$T/stopped.txt'"
check "stopped target: still stopped (job control kept)" grep -q '^State:.*T (stopped)' /proc/"$pid"/status
kill -CONT "$pid"
wait_for 30 not_stopped "$pid"
check "stopped target: runs after SIGCONT" not_stopped "$pid"

# --- no privilege: drop to nobody ---
if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$HOUND"; then
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$HOUND" stacks -p "$pid" >/dev/null 2>"$T/priv.err"
	check "unprivileged: exit 1" test $? -eq 1
	check "unprivileged: one-line error" test "$(wc -l <"$T/priv.err")" -eq 1
	check "unprivileged: names PID and syscall" grep -q "ptrace(PTRACE_SEIZE, $pid): Operation not permitted" "$T/priv.err"
	check "unprivileged: target not stopped" not_stopped "$pid"
else
	diag "setpriv cannot run $HOUND as nobody: unprivileged case not run"
fi
stop_target "$pid"

# --- threads born and exiting during the capture ---
start_threads "$T/threads" -n 20 -c || exit 1
pid=$TPID
rcs=""
for i in 1 2 3 4 5; do
	"$HOUND" stacks -p "$pid" >"$T/churn.txt" 2>&1
	rcs="$rcs$?"
done
check "churning threads: five captures exit 0 ($rcs)" test "$rcs" = 00000
check "churning threads: target not stopped" not_stopped "$pid"
stop_target "$pid"

# --- the target exits in the middle of the capture ---
# The target _exits as soon as it sees its main thread traced; a very quick
# capture can finish before it looks, so try a few times and require one
# real mid-capture exit. Every attempt must end in 0 or 1, never a crash.
crashed=0 exited=0
for attempt in 1 2 3 4 5 6; do
	start_threads "$T/threads" -n 200 -x || exit 1
	pid=$TPID
	"$HOUND" stacks -p "$pid" >"$T/exit.txt" 2>"$T/exit.err"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 1 ] || crashed=$((crashed + 1))
	if [ $rc -eq 1 ] && grep -q "process $pid exited during the capture" "$T/exit.err"; then
		exited=1
		wait_for 30 test ! -d /proc/"$pid"
		check "exit mid-capture: the target really exited" test ! -d /proc/"$pid"
	fi
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ $exited -eq 1 ] && break
done
check "exit mid-capture: no crash in $attempt attempts" test $crashed -eq 0
check "exit mid-capture: exit 1 saying the process exited during the capture" test $exited -eq 1
done_testing
