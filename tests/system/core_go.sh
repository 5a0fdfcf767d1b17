#!/bin/sh
# core_go: `hound capture -k core` of a Go service (a Go target is a native
# process too): gdb reads the core with Go's runtime frames on every thread,
# and `dlv core` lists its goroutines where dlv is installed.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/go_lib.sh"
. "$TOP_SRCDIR/tests/system/core_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root or CAP_SYS_PTRACE"
command -v gdb >/dev/null && command -v zstd >/dev/null || skip_all "needs gdb and zstd"
build_go_target || skip_all "cannot build the Go target"
start_go steady steady || { fail "the Go service starts"; done_testing; exit 1; }
tids=$(ls /proc/$GO_PID/task | wc -l)

"$HOUND" capture -p "$GO_PID" -k core --go-url "$GO_URL" -o "$T/out" >/dev/null 2>"$T/capture.err"
check "hound capture -k core of a Go service succeeds" test $? -eq 0
b=$(ls -d "$T"/out/*/ | head -1)
unzstd_core "$b" "$T/core"
check "the service still answers" sh -c "curl -sf '$GO_URL/debug/pprof/' >/dev/null"
if stopped_or_traced "$GO_PID"; then fail "the service runs on, untraced"; else pass "the service runs on, untraced"; fi

gdb -batch -nx -ex 'info threads' -ex 'thread apply all bt' "$T/gotarget" "$T/core" >"$T/gdb.txt" 2>&1
check "gdb: one thread per task" test "$(grep -cE '^\*? +[0-9]+ +(Thread|LWP) ' "$T/gdb.txt")" -eq "$tids"
check "gdb: Go runtime frames with symbols" grep -qE 'in runtime\.(futex|usleep|epollwait|netpoll|notesleep|mPark|stopm|findRunnable|schedule)' "$T/gdb.txt"
check "gdb: no thread without a frame" sh -c "! grep -q 'Cannot access memory' '$T/gdb.txt'"
check "the manifest says how to open it with dlv" grep -q 'dlv core' "$b/manifest.json"
if command -v dlv >/dev/null; then
	echo goroutines | dlv core "$T/gotarget" "$T/core" >"$T/dlv.txt" 2>&1
	check "dlv core lists the goroutines" grep -q 'main.main' "$T/dlv.txt"
else
	diag "dlv not installed: the dlv check is skipped"
fi
done_testing
