#!/bin/sh
# core_safety: SIGKILL `hound capture -k core` at random points of 30 dumps of
# a multithreaded service. After each: no thread of the service is stopped or
# traced; at the end it still serves its socket and read every byte a client
# sent (no snapshot child touched it); any snapshot child seen holds no fd and
# blocks every signal; none outlives its bound (10 s).
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/core_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root or CAP_SYS_PTRACE"
port=$((20000 + $$ % 20000))
start_core_target -m 32 -t 4 -l "$port" || exit 1
pid=$CPID
nthreads=$(ls /proc/$pid/task | wc -l)

# A client that trickles bytes into the service during the whole test.
python3 - "$port" "$T/sent" "$T/stop-client" <<'PY' &
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n = 0
while not os.path.exists(sys.argv[3]):
    s.sendall(b"x" * 100)
    n += 100
    time.sleep(0.01)
s.close()
open(sys.argv[2], "w").write("%d\n" % n)
PY
client=$!
TEST_PIDS="$TEST_PIDS $client"

t0=$(date +%s%N)
"$HOUND" capture -p "$pid" -k core -o "$T/first" >/dev/null 2>"$T/first.err"
span_us=$(( ($(date +%s%N) - t0) / 1000 ))
check "a dump completes" test -n "$(ls "$T"/first/*/core* 2>/dev/null)"
diag "one dump takes ${span_us} us"

# During a dump the snapshot child exists, held by hound: look at it (a few
# tries, in case a dump ends between two looks).
c= tries=0
while [ -z "$c" ] && [ $tries -lt 5 ]; do
	tries=$((tries + 1))
	"$HOUND" capture -p "$pid" -k core -o "$T/watch$tries" >/dev/null 2>&1 &
	h=$!
	n=0
	while [ -z "$c" ] && [ $n -lt 3000 ] && ! grep -q '^State:[[:space:]]*Z' /proc/$h/status 2>/dev/null; do
		n=$((n + 1))
		c=$(snapshot_children "$pid" | head -1)
		[ -n "$c" ] && break
		sleep 0.02
	done
	[ -n "$c" ] || wait "$h"
done
check "a snapshot child exists during the dump" test -n "$c"
if [ -n "$c" ]; then
	# hound holds it once it has dropped the fds and gone to sleep.
	n=0
	while ! grep -q "^TracerPid:[[:space:]]*$h\$" /proc/"$c"/status 2>/dev/null && [ $n -lt 250 ]; do sleep 0.02; n=$((n + 1)); done
	check "it is traced by hound" grep -q "^TracerPid:[[:space:]]*$h\$" /proc/"$c"/status
	check "it holds none of the service's fds" test "$(ls /proc/"$c"/fd 2>/dev/null | wc -l)" -eq 0
	check "it blocks every signal" grep -q '^SigBlk:[[:space:]]*fffffffffffbfeff' /proc/"$c"/status
fi
wait "$h"
check "it is gone once the dump is written" sh -c "! kill -0 ${c:-0} 2>/dev/null || grep -q '^State:[[:space:]]*Z' /proc/${c:-0}/status"

killed=0 bad=0 childbad=0 seen=0
i=0
while [ $i -lt 30 ]; do
	i=$((i + 1))
	# Half the kills land in the first fifth, where the snapshot is taken.
	range=$span_us
	[ $((i % 2)) -eq 0 ] && range=$((span_us / 5))
	delay_us=$(( $(od -An -N4 -tu4 /dev/urandom) % (range + 1) ))
	"$HOUND" capture -p "$pid" -k core -o "$T/k$i" >/dev/null 2>&1 &
	h=$!
	sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
	kill -9 "$h" 2>/dev/null
	{ wait "$h"; } 2>/dev/null
	[ $? -eq 137 ] && killed=$((killed + 1))
	# hound is gone: the kernel has detached its tracees; a stopped thread here is a bug.
	if stopped_or_traced "$pid"; then
		bad=$((bad + 1))
		diag "kill $i (after ${delay_us} us) left the service stopped or traced"
	fi
	for c in $(snapshot_children "$pid"); do
		seen=$((seen + 1))
		nfd=$(ls /proc/"$c"/fd 2>/dev/null | wc -l)
		blk=$(awk '/^SigBlk:/ {print $2}' /proc/"$c"/status 2>/dev/null)
		# Every signal but SIGKILL and SIGSTOP (which cannot be blocked); an exited child reads as "".
		if [ -n "$blk" ] && { [ "$nfd" -ne 0 ] || [ "$blk" != fffffffffffbfeff ]; }; then
			childbad=$((childbad + 1))
			diag "snapshot child $c: $nfd fds, SigBlk $blk"
		fi
	done
done
diag "30 dumps: $killed killed mid-way; $seen snapshot-child sightings"
check "no kill left the service stopped or traced" test $bad -eq 0
check "the kills landed during dumps" test $killed -gt 0
check "snapshot children hold no fd and block every signal" test $childbad -eq 0
# The bound is 10 s from the child's birth; the last one was born at most a dump ago.
n=0
while [ -n "$(snapshot_children "$pid")" ] && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
check "no snapshot child outlives its bound" test -z "$(snapshot_children "$pid")"
check "the service kept all its threads" test "$(ls /proc/$pid/task | wc -l)" -eq "$nthreads"

touch "$T/stop-client"
wait "$client"
check "the service read every byte its client sent" wait_for 10 sh -c "grep -q \"^read $(cat "$T/sent")\$\" '$T/target.out'"
"$HOUND" capture -p "$pid" -k core -o "$T/after" >/dev/null 2>&1
check "a dump after all that works" test -n "$(ls "$T"/after/*/core* 2>/dev/null)"
done_testing
