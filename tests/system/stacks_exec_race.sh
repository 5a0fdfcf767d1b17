#!/usr/bin/env bash
# stacks_exec_race: a process that calls exec in the middle of a stacks
# capture loses every thread but the one already captured ("1 of 102
# threads"). The bundle must say it is partial, and why, in the manifest's
# errors, not only in a note; hound capture still exits 0 (there is evidence).
. "$(dirname "$0")/lib.sh"

cc -O1 -g -pthread -o "$T/execrace" "$TOP_SRCDIR/tests/targets/execrace.c" ||
	{ fail "build the exec-race target"; done_testing; exit 1; }

# The target execs once its main thread has been released; a capture that
# reaches every thread before the target looks is a full one, so try a few
# times and require one real exec race.
raced=0
for attempt in 1 2 3 4 5 6 7 8; do
	"$T/execrace" -n 100 >"$T/t.out" &
	TPID=$!
	TEST_PIDS="$TEST_PIDS $TPID"
	wait_for 10 grep -q ready "$T/t.out" || { fail "target ready"; break; }
	rm -rf "$T/cap"
	"$HOUND" capture -p "$TPID" -k stacks -o "$T/cap" >"$T/cap.out" 2>"$T/cap.err"
	rc=$?
	m=$(find "$T/cap" -name manifest.json | head -1)
	comm=$(cat /proc/$TPID/comm 2>/dev/null)
	kill -9 "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null
	if [ "$comm" = sleep ] && [ -n "$m" ] &&
		python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if "1 of" in j["notes"].get("stacks","") else 1)' "$m"; then
		raced=1
		break
	fi
done
check "an exec raced a capture (attempt $attempt)" test $raced -eq 1
[ $raced -eq 1 ] || { done_testing; exit 1; }
diag "note: $(json_get "$m" 'j["notes"]["stacks"]')"
check "hound capture exits 0: one thread is evidence" test $rc -eq 0
err=$(json_get "$m" 'j["errors"].get("stacks", "")')
diag "error: $err"
check "the manifest's errors say the capture is partial" grep -q '^partial capture: 1 of 10[0-9] threads unwound' <<<"$err"
check "and that the process called exec" grep -q 'called exec during the capture' <<<"$err"
check "and how many threads were lost" grep -Eq '; [0-9]+ exited before they were reached' <<<"$err"
check "the stacks files are still in the bundle" test -s "$(dirname "$m")/stacks.txt"
done_testing
