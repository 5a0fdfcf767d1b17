#!/usr/bin/env bash
# fds_capture: `hound capture -k fds` on a real process holding 212 x /dev/null,
# a TCP listener with 5 connections to it, a pipe, a unix socket pair and an
# eventfd: fds.txt groups them by what they point to, largest group first,
# sockets with protocol, state and peer, with the fd limit; without access to
# the process, a clear error.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (reads another process's fd table)"
command -v python3 >/dev/null || skip_all "python3 missing"
cat >"$T/holder.py" <<'PY'
import os, socket, sys, time
os.closerange(3, 65536)  # only what this program opens, not what the test harness passed down
nulls = [open("/dev/null") for _ in range(212)]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
port = srv.getsockname()[1]
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
accepted = [srv.accept()[0] for _ in range(5)]
r, w = os.pipe()
a, b = socket.socketpair()
ev = os.eventfd(0) if hasattr(os, "eventfd") else None
print("ready", port, flush=True)
time.sleep(3600)
PY
python3 "$T/holder.py" <"$T/holder.py" >"$T/holder.out" 2>&1 &
HPID=$!
TEST_PIDS="$TEST_PIDS $HPID"
wait_for 20 grep -q '^ready' "$T/holder.out" || { fail "holder started"; cat "$T/holder.out"; done_testing; exit 1; }
PORT=$(awk '/^ready/{print $2}' "$T/holder.out")

d=$("$HOUND" capture -p "$HPID" -k fds -o "$T/out" 2>"$T/capture.err")
check "hound capture exits 0" test $? -eq 0
f=$d/fds.txt
check "fds.txt written" test -s "$f"
check "header: fd count and the soft limit" \
	grep -Eq "^# hound fds: PID $HPID, [0-9]+ open fds in [0-9]+ groups; limit [0-9]+ \([0-9.]+% used\), hard limit [0-9]+" "$f"
check "largest group first: 212 x /dev/null" \
	python3 -c "import sys; l=[x for x in open('$f') if not x.startswith('#')]; sys.exit(0 if l[0].split()[:3]==['212','x','/dev/null'] else 1)"
check "the 5 client ends grouped by their peer" grep -Eq "^ +5 x tcp ESTABLISHED peer 127\.0\.0\.1:$PORT  \(fd " "$f"
check "the listener with its address" grep -Eq "^ +1 x tcp LISTEN 127\.0\.0\.1:$PORT " "$f"
check "the accepted ends are established too" test "$(grep -c 'tcp ESTABLISHED peer 127.0.0.1:' "$f")" -ge 6
check "the pipe's two ends: 2 x pipe" grep -Eq "^ +2 x pipe " "$f"
check "the socket pair: unix stream sockets" grep -Eq "^ +2 x unix STREAM CONNECTED \(unnamed\)" "$f"
python3 -c 'import os,sys; sys.exit(0 if hasattr(os,"eventfd") else 1)' &&
	check "the eventfd as an anonymous inode" grep -q "anon_inode:\[eventfd\]" "$f"
check "fd numbers listed, cut after 12" grep -Eq "^ +212 x /dev/null  \(fd [0-9]+(,[0-9]+){11},\.\.\.\)" "$f"
check "the manifest lists fds.txt" \
	python3 -c "import json,sys; j=json.load(open('$d/manifest.json')); sys.exit(0 if any(x['name']=='fds.txt' for x in j['files']) else 1)"

if command -v setpriv >/dev/null; then
	NB=$(mktemp -d /tmp/hound-fds-nobody.XXXXXX) && chmod 777 "$NB"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"$HOUND" capture -p "$HPID" -k fds -o "$NB" >"$T/nobody.out" 2>"$T/nobody.err"
	check "no access: exit 1" test $? -eq 1
	check "no access: the error names the fd directory" grep -q "opendir /proc/$HPID/fd: Permission denied" "$T/nobody.err"
	rm -rf "$NB"
fi
done_testing
