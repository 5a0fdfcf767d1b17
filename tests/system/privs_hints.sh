#!/bin/bash
# privs_hints: refusals say what actually happened, checked, not guessed.
# As root, a zombie is a zombie (no "needs CAP_SYS_PTRACE"); without
# privilege, stacks, heap and cpu failures name the missing capability and
# the uids; a root process holding capabilities hound dropped is named so.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (to make the unprivileged cases)"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) is not installed"

# ---- a zombie, as root ----
python3 -c '
import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)
time.sleep(600)' >"$T/zombie.pid" &
TEST_PIDS="$TEST_PIDS $!"
check "the zombie exists" wait_for 30 sh -c "[ -s '$T/zombie.pid' ] && grep -q '^State:.*Z' /proc/\$(cat '$T/zombie.pid')/status"
Z=$(cat "$T/zombie.pid")
"$HOUND" stacks -p "$Z" >/dev/null 2>"$T/z_stacks.err"
check "stacks of a zombie fails" test $? = 1
diag "$(cat "$T/z_stacks.err")"
check "and says it is a zombie with its parent" grep -q "process $Z is a zombie: it has exited and its parent (PID [0-9]*) has not reaped it" "$T/z_stacks.err"
check "and does not blame a capability" sh -c "! grep -q CAP_ '$T/z_stacks.err'"
mkdir -p "$T/caps"
dir=$("$HOUND" capture -p "$Z" -k cpu -d 1s -o "$T/caps" 2>"$T/z_cap.err")
check "cpu of a zombie: the manifest says zombie" grep -q "is a zombie" "$dir/manifest.json"
check "and no capability" sh -c "! grep -q CAP_ '$dir/manifest.json'"

# ---- another user without capabilities ----
bg sleep 600 "0.$$"
S=$!
chmod 0711 "$T" # nobody may pass through to pub/, not list the rest
mkdir -m 0777 "$T/pub"
UNPRIV=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
dir=$("${UNPRIV[@]}" "$HOUND" capture -p "$S" -k stacks,heap,cpu -d 1s -o "$T/pub" 2>"$T/u_cap.err")
diag "$(grep -o 'kind=.*' "$T/u_cap.err")"
for k in stacks heap cpu; do
	check "unprivileged $k: names CAP_SYS_PTRACE and both uids" \
		test "$(json_get "$dir/manifest.json" "'hound lacks CAP_SYS_PTRACE and process $S runs as uid 0 (hound: uid 65534)' in str(j['errors'].get('$k'))")" = True
done
check "the target is not left stopped" bash -c "! grep -q '^State:.*[tT]' /proc/$S/status"

# ---- root without CAP_SYS_PTRACE, against a root process that holds it ----
setpriv --inh-caps=-all --bounding-set=-sys_ptrace "$HOUND" stacks -p "$S" >/dev/null 2>"$T/r_stacks.err"
check "root without CAP_SYS_PTRACE: refused" test $? = 1
check "the hint says the target holds capabilities hound dropped" grep -q "process $S holds capabilities hound does not .*needs CAP_SYS_PTRACE" "$T/r_stacks.err"
kill "$S"
done_testing
