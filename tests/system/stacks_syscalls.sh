#!/bin/sh
# stacks_syscalls: what `hound stacks` asks of the kernel per target thread,
# counted with strace -c on a 200-thread target: no signal-mask change per
# frame (libunwind's cache lock), one register read per thread, and no more
# ptrace calls per thread than SEIZE, INTERRUPT, GETREGS and DETACH.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (ptrace under strace)"
command -v strace >/dev/null 2>&1 || skip_all "strace not installed"
build_threads "$T/threads" -O2 -g || skip_all "cannot build the target"

n=200
if ! start_threads "$T/threads" -n $n; then fail "target started"; done_testing; exit; fi
pid=$TPID
threads=$(thread_count "$pid")
# LeakSanitizer cannot run under a tracer (sanitizer builds): leaks are the
# other stacks tests' business.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -c -o "$T/strace.txt" "$HOUND" stacks -p "$pid" >"$T/h.txt" 2>"$T/h.err"
rc=$?
check "hound stacks under strace exits 0" test $rc -eq 0
frames=$(grep -c '^#' "$T/h.txt")
diag "$threads threads, $frames frames"
check "every thread was unwound" test "$(grep -c '^TID ' "$T/h.txt")" -eq "$threads"
check "several frames per thread (the count below means something)" \
	test "$frames" -ge $((threads * 4))
# calls SYSCALL: its count in strace -c's table (columns: % seconds usecs calls [errors] name)
calls() { awk -v s="$1" '$NF == s { print $4; exit }' "$T/strace.txt"; }
sigmask=$(calls rt_sigprocmask); sigmask=${sigmask:-0}
ptraces=$(calls ptrace); ptraces=${ptraces:-0}
diag "rt_sigprocmask: $sigmask, ptrace: $ptraces"
# Start-up and the capture's own thread set masks a handful of times; the
# per-frame lock used to cost two calls per frame (about 15 per thread).
check "rt_sigprocmask calls do not grow with frames ($sigmask for $frames frames)" \
	test "$sigmask" -lt 20
check "at most 4 ptrace calls per thread ($ptraces for $threads threads)" \
	test "$ptraces" -le $((threads * 4 + 4))
check "target not stopped" not_stopped "$pid"
stop_target "$pid"
done_testing
