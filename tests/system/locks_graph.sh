#!/usr/bin/env bash
# locks_graph: `hound capture -k locks` on real deadlocked, waiting and idle
# programs (-O1 -g, -O2, and -O2 stripped): cycles found and listed first with
# both threads and their functions, recursive and error-checking mutexes
# handled, condition variables / semaphores / joins never counted; the
# threads are never left stopped; without ptrace access a clear error.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (reads other processes' syscall and mem files)"
build_target locks || skip_all "cannot build the target"
cc -O2 -pthread -o "$T/locks-O2" "$TOP_SRCDIR/tests/targets/locks.c"
cp "$T/locks-O2" "$T/locks-stripped" && strip "$T/locks-stripped"

# capture BIN MODE [ARG]: starts the target, waits until the graph shows what the
# mode must show, leaves the bundle's locks.txt in $T/locks.txt.
WANT=""
graph_ready() {
	local d
	d=$("$HOUND" capture -p "$TPID" -k locks -o "$T/out" 2>>"$T/capture.err") || return 1
	cp "$d/locks.txt" "$T/locks.txt"
	grep -q "$WANT" "$T/locks.txt"
}

run_mode() { # BIN MODE ARG WANT
	start_threads "$1" "$2" $3 || return 1
	WANT=$4
	wait_for 30 graph_ready
}

for v in locks locks-O2 locks-stripped; do
	bin=$T/$v
	if run_mode "$bin" deadlock2 "" "in 1 wait-for cycle"; then
		pass "$v deadlock2: the cycle is found"
	else
		fail "$v deadlock2: the cycle is found"; cat "$T/locks.txt"
	fi
	check "$v deadlock2: 2 threads in the cycle" grep -q "2 waiting on a held lock, 2 in 1 wait-for cycle" "$T/locks.txt"
	check "$v deadlock2: both threads named, each held by the other" python3 - "$T/locks.txt" <<'PY'
import re, sys
rows = [l for l in open(sys.argv[1]) if l.startswith("cycle-1 ")]
assert len(rows) == 2, rows
edges = {}
names = {}
for r in rows:
    m = re.match(r"cycle-1\s+(\d+) \((\S+)\) in .*waits for 0x[0-9a-f]+\s+held by (\d+) \((\S+)\)", r)
    assert m, r
    edges[m.group(1)] = m.group(3)
    names[m.group(1)] = m.group(2)
a, b = list(edges)
assert edges[a] == b and edges[b] == a, edges
assert sorted(names.values()) == ["worker_ab", "worker_ba"], names
PY
	if [ "$v" != locks-stripped ]; then
		check "$v deadlock2: functions named" grep -q "in take_two < worker_ab .*held by .* in take_two < worker_ba" "$T/locks.txt"
	else
		check "$v deadlock2: stripped functions as module+offset" \
			grep -Eq "in locks-stripped\+0x[0-9a-f]+" "$T/locks.txt"
	fi
	check "$v deadlock2: target not left stopped" not_stopped "$TPID"
	stop_target "$TPID"

	if run_mode "$bin" cycle3 "" "3 in 1 wait-for cycle"; then
		pass "$v cycle3: the three-thread cycle is found"
	else
		fail "$v cycle3: the three-thread cycle is found"; cat "$T/locks.txt"
	fi
	check "$v cycle3: three rows in cycle 1" test "$(grep -c '^cycle-1 ' "$T/locks.txt")" -eq 3
	stop_target "$TPID"

	if run_mode "$bin" mixed "" "3 waiting on a held lock, 2 in 1 wait-for cycle"; then
		pass "$v mixed: recursive + error-checking cycle found, the third waiter outside it"
	else
		fail "$v mixed: recursive + error-checking cycle found, the third waiter outside it"
		cat "$T/locks.txt"
	fi
	check "$v mixed: cycle rows come before the plain waiter" python3 - "$T/locks.txt" <<'PY'
import sys
rows = [l.split()[0] for l in open(sys.argv[1]) if not l.startswith("#")]
assert rows == ["cycle-1", "cycle-1", "waiting"], rows
PY
	[ "$v" != locks-stripped ] &&
		check "$v mixed: the waiter outside the cycle is rec_waiter" \
			grep -q "^waiting  [0-9]* (rec_waiter) in rec_waiter" "$T/locks.txt"
	stop_target "$TPID"

	# 100 pool threads on a condition variable, two on a semaphore, one in
	# pthread_join: the scan must see them parked (every one in a futex wait)
	# and count none.
	start_threads "$bin" pool 100 || fail "$v pool: started"
	parked() {
		local n=0
		for s in /proc/"$TPID"/task/*/syscall; do
			case $(cut -d' ' -f1 "$s" 2>/dev/null) in 202) n=$((n + 1)) ;; esac
		done
		[ "$n" -ge 103 ]
	}
	check "$v pool: 103 threads are in futex waits" wait_for 20 parked
	d=$("$HOUND" capture -p "$TPID" -k locks -o "$T/out" 2>>"$T/capture.err")
	check "$v pool: no thread counted as waiting on a lock" \
		grep -q "104 threads, 0 waiting on a held lock, 0 in 0 wait-for cycles" "$d/locks.txt"
	stop_target "$TPID"
done

# Without ptrace access (another user, no capabilities): a clear error, no file.
if command -v setpriv >/dev/null; then
	start_threads "$T/locks" deadlock2 || fail "refused: started"
	# $T is private to root: the unprivileged run writes to a directory of its own.
	NB=$(mktemp -d /tmp/hound-locks-nobody.XXXXXX) && chmod 777 "$NB"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"$HOUND" capture -p "$TPID" -k locks -o "$NB" >"$T/nobody.out" 2>"$T/nobody.err"
	check "refused: hound capture exits 1 (nothing captured)" test $? -eq 1
	d=$(cat "$T/nobody.out")
	check "refused: the bundle lists the locks error" \
		python3 -c "import json,sys; j=json.load(open('$d/manifest.json')); sys.exit(0 if 'ptrace access' in j['errors'].get('locks', '') else 1)"
	check "refused: no locks.txt" test ! -e "$d/locks.txt"
	check "refused: the log says why" grep -q "syscall: Permission denied (needs ptrace access)" "$T/nobody.err"
	rm -rf "$NB"
	stop_target "$TPID"
else
	diag "setpriv missing: refused path not tested"
fi
done_testing
