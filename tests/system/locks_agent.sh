#!/usr/bin/env bash
# locks_agent: `hound run` with rules on deadlocked and lock_wait against real
# programs: a two-mutex deadlock fires deadlocked (bundle with locks.txt and
# fds.txt); a lock held for seconds then released fires lock_wait but never
# deadlocked; a healthy pool of 100 threads on condition variables fires
# neither, while being sampled all along.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/system/api_lib.inc"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (reads other processes' syscall and mem files)"
build_target locks -O2 || skip_all "cannot build the target"

start_threads "$T/locks" deadlock2 || fail "deadlock2 started"; DEAD=$TPID
start_threads "$T/locks" hold 3 || fail "hold started"; HOLD=$TPID
start_threads "$T/locks" pool 100 || fail "pool started"; POOL=$TPID
API=127.0.0.1:$(free_port)

rules() { # deadlocked and lock_wait rules, capturing locks (and fds for the first)
	cat <<YAML
    rules:
      - name: deadlock
        metric: deadlocked
        abs: 0
        capture: [locks, fds]
      - name: long-wait
        metric: lock_wait
        abs: 1500ms
        capture: [locks]
YAML
}
{
	cat <<YAML
interval: 250ms
history: 2
output: $T/out
api:
  listen: $API
targets:
YAML
	for t in dead:$DEAD hold:$HOLD pool:$POOL; do
		printf '  - name: %s\n    match:\n      pid: %s\n' "${t%%:*}" "${t#*:}"
		rules
	done
} >"$T/hound.yaml"
"$HOUND" check -c "$T/hound.yaml" >"$T/check.out" 2>&1
check "hound check accepts deadlocked, lock_wait, locks and fds" test $? -eq 0

start_hound agent "$T/hound.yaml" || fail "agent started"
bundles() { ls -d "$T/out/bundles/$1/"*-"$2"/ 2>/dev/null | grep -v '\.tmp/$'; }
have() { [ -n "$(bundles "$1" "$2")" ]; }

check "deadlock: the deadlocked rule fires" wait_for 30 have dead deadlock
b=$(bundles dead deadlock | head -1)
check "deadlock: manifest trigger value is 2 threads" \
	test "$(json_get "$b/manifest.json" 'int(j["trigger"]["value"])')" = 2
check "deadlock: locks.txt shows the cycle" grep -q "2 in 1 wait-for cycle" "$b/locks.txt"
check "deadlock: fds.txt lists the fd table with its limit" grep -q "open fds in .* groups; limit" "$b/fds.txt"
"$HOUND" report "$b" >"$T/report.txt" 2>&1
check "hound report shows the cycle" grep -q "^  # deadlock: cycle 1, 2 threads:" "$T/report.txt"
check "hound report shows the fd groups" grep -q "^  # hound fds: PID $DEAD" "$T/report.txt"

check "hold: lock_wait fires on a lock held for seconds" wait_for 30 have hold long-wait
b=$(bundles hold long-wait | head -1)
check "hold: trigger value is at least 1.5 s" python3 - "$b/manifest.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["trigger"]["value"] >= 1.5, j["trigger"]
PY
check "hold: locks.txt shows the waiter, no cycle" grep -q "^waiting  [0-9]* (waiter) in hold_waiter .*held by [0-9]* (holder) in holder" "$b/locks.txt"

# The pool and the hold target were sampled all along: enough samples for both
# rules to have fired had they held.
[ "$(http GET /v1/targets)" = 200 ] || fail "GET /v1/targets"
check "pool and hold were sampled (>= 8 samples each)" python3 - "$T/body" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for t in j["targets"]:
    if t["name"] in ("pool", "hold"):
        n = t["processes"][0]["samples"]
        assert n >= 8, (t["name"], n)
        m = t["processes"][0]["metrics"]
        assert m["deadlocked"] == 0, (t["name"], m)
PY
check "pool: no bundle at all" test -z "$(ls "$T/out/bundles/pool" 2>/dev/null)"
check "hold: deadlocked never fired" test -z "$(bundles hold deadlock)"
kill -TERM "$HOUND_PID"; wait "$HOUND_PID"
check "hound exits 0" test $? -eq 0

# Without ptrace access (another user, no capabilities): the rule is not judged,
# the error is in the status and the log, and nothing fires.
if command -v setpriv >/dev/null; then
	NB=$(mktemp -d /tmp/hound-locks-agent.XXXXXX) && chmod 777 "$NB"
	API=127.0.0.1:$(free_port)
	cat >"$NB/hound.yaml" <<YAML
interval: 250ms
history: 2
output: $NB/out
api:
  listen: $API
targets:
  - name: dead
    match:
      pid: $DEAD
YAML
	rules >>"$NB/hound.yaml"
	chmod 644 "$NB/hound.yaml"
	bg setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"$HOUND" run -c "$NB/hound.yaml" 2>"$T/nobody.log"
	NPID=$!
	sampled() { [ "$(http GET /v1/targets)" = 200 ] && python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["targets"][0]["processes"][0]
sys.exit(0 if p["samples"] >= 8 else 1)' "$T/body"; }
	check "refused: the agent samples on" wait_for 30 sampled
	check "refused: the lock graph error is in the status" python3 - "$T/body" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["targets"][0]["processes"][0]
assert "syscall: Permission denied (needs ptrace access)" in p["locks_error"], p
assert p["metrics"]["deadlocked"] is None, p["metrics"]
PY
	check "refused: and in the log" grep -q 'lock graph failed.*Permission denied (needs ptrace access)' "$T/nobody.log"
	check "refused: nothing fired" test -z "$(ls "$NB/out/bundles/dead" 2>/dev/null)"
	kill -TERM "$NPID"; wait "$NPID"
	rm -rf "$NB"
fi
done_testing
