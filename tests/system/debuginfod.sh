#!/usr/bin/env bash
# debuginfod: a stripped binary whose debug file is nowhere on the machine gets
# its function names from a debuginfod server (Debian's `debuginfod -F DIR` on
# 127.0.0.1) when DEBUGINFOD_URLS is set, looked up by build-id, as elfutils
# does; without DEBUGINFOD_URLS nothing is asked and the frames carry their
# .eh_frame function starts instead.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/system/api_lib.inc"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (ptrace of the test target)"
command -v debuginfod >/dev/null || skip_all "debuginfod (Debian package debuginfod) not installed"
mkdir -p "$T/srv" "$T/cache"
cc -O2 -g -pthread -o "$T/dl-full" "$TOP_SRCDIR/tests/targets/locks.c" || skip_all "cannot build"
objcopy --only-keep-debug "$T/dl-full" "$T/srv/dl.debug"
cp "$T/dl-full" "$T/dl" && strip --strip-all "$T/dl" && rm "$T/dl-full"
BID=$(readelf -n "$T/dl" | awk '/Build ID/{print $3}')
check "the stripped binary has a build-id" test -n "$BID"

PORT=$(free_port)
bg debuginfod -F "$T/srv" -p "$PORT" -d "$T/db.sqlite" -v >"$T/debuginfod.log" 2>&1
served() { curl -sf -o /dev/null "http://127.0.0.1:$PORT/buildid/$BID/debuginfo"; }
check "debuginfod indexed the debug file" wait_for 60 served

start_threads "$T/dl" deadlock2 || fail "target started"
env -u DEBUGINFOD_URLS "$HOUND" stacks -p "$TPID" >"$T/plain.txt" 2>&1
check "without DEBUGINFOD_URLS: no name for take_two" sh -c "! grep -q ' take_two - ' '$T/plain.txt'"
check "without DEBUGINFOD_URLS: frames named by their function start" grep -q ", in dl+0x" "$T/plain.txt"
n0=$(grep -c "GET /buildid/$BID/debuginfo" "$T/debuginfod.log")

DEBUGINFOD_URLS=http://127.0.0.1:$PORT DEBUGINFOD_CACHE_PATH=$T/cache DEBUGINFOD_TIMEOUT=10 \
	"$HOUND" stacks -p "$TPID" >"$T/named.txt" 2>&1
check "with DEBUGINFOD_URLS: take_two and worker_ab named" \
	sh -c "grep -q ' take_two - $T/dl\$' '$T/named.txt' && grep -q ' worker_ab - $T/dl\$' '$T/named.txt'"
check "the server was asked for this build-id" \
	test "$(grep -c "GET /buildid/$BID/debuginfo" "$T/debuginfod.log")" -gt "$n0"
check "the file was cached" test -n "$(find "$T/cache" -name debuginfo -size +0)"

# A server that is down: names are missing, the capture still succeeds.
DEBUGINFOD_URLS=http://127.0.0.1:1 DEBUGINFOD_CACHE_PATH=$T/cache2 DEBUGINFOD_TIMEOUT=5 \
	"$HOUND" stacks -p "$TPID" >"$T/down.txt" 2>&1
check "server down: hound stacks still exits 0" test $? -eq 0
check "server down: frames still named by their function start" grep -q ", in dl+0x" "$T/down.txt"
stop_target "$TPID"
done_testing
