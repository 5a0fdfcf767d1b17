#!/bin/sh
# stacks_safety: SIGKILL `hound stacks` at random points during 50 captures of
# a 200-thread target; after each, every thread runs or sleeps (no t/T state)
# and has TracerPid 0: a killed agent never leaves its target stopped.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root or CAP_SYS_PTRACE"
build_threads "$T/threads" -O2 -g || skip_all "cannot build the target"
start_threads "$T/threads" -n 200 || exit 1
pid=$TPID

# How long one whole capture takes, to spread the kills over it.
t0=$(date +%s%N)
"$HOUND" stacks -p "$pid" >/dev/null 2>&1
span_us=$(( ($(date +%s%N) - t0) / 1000 ))
diag "one capture takes ${span_us} us"

killed=0 finished=0 bad=0
i=0
while [ $i -lt 50 ]; do
	i=$((i + 1))
	delay_us=$(( $(od -An -N4 -tu4 /dev/urandom) % (span_us + 1) ))
	"$HOUND" stacks -p "$pid" >/dev/null 2>&1 &
	h=$!
	sleep "$(printf '0.%06d' "$delay_us")"
	kill -9 "$h" 2>/dev/null
	{ wait "$h"; } 2>/dev/null
	if [ $? -eq 137 ]; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
	if ! not_stopped "$pid"; then
		bad=$((bad + 1))
		diag "capture $i (killed after ${delay_us} us) left the target stopped or traced"
	fi
done
diag "50 captures: $killed killed mid-way, $finished finished first"
check "no capture left a thread stopped or traced" test $bad -eq 0
check "the kills landed during captures" test $killed -gt 0
check "the target is alive with all its threads" test "$(thread_count "$pid")" -eq 201
"$HOUND" stacks -p "$pid" >"$T/after.txt" 2>&1
check "a capture after all that works" grep -q " chain_gamma - " "$T/after.txt"
stop_target "$pid"
done_testing
