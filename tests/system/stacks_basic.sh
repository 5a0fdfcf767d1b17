#!/bin/sh
# stacks_basic: `hound stacks` on a small target: text, names, lines, pprof, exit codes.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || grep -q '^CapEff:.*[1-9a-f]' /proc/self/status || skip_all "needs root or CAP_SYS_PTRACE"
build_threads "$T/threads" -O2 -g || skip_all "cannot build the target"
start_threads "$T/threads" -n 6 || exit 1
pid=$TPID

"$HOUND" stacks -p "$pid" >"$T/out.txt" 2>"$T/err.txt"
check "hound stacks exits 0" test $? -eq 0
check "header names the process" grep -qx "PID $pid - process" "$T/out.txt"
check "one TID block per thread" test "$(grep -c '^TID ' "$T/out.txt")" -eq "$(thread_count "$pid")"
check "thread names are shown" grep -q "^TID [0-9]* (worker-4):" "$T/out.txt"
check "main thread is first" grep -q "^TID $pid (threads):" "$T/out.txt"
chain() { # chain FUNC...: the functions appear as consecutive frames in one thread
	python3 - "$T/out.txt" "$@" <<'PY'
import re, sys
want = sys.argv[2:]
threads, cur = [], None
for line in open(sys.argv[1]):
    if line.startswith("TID "):
        cur = []; threads.append(cur)
    m = re.match(r"#\d+\s+0x[0-9a-f]+ (\S+) - ", line)
    if m and cur is not None:
        cur.append(m.group(1).split("@")[0])
ok = any(t[i:i + len(want)] == want for t in threads for i in range(len(t)))
sys.exit(0 if ok else 1)
PY
}
check "alpha chain down to clone3, libc names as gdb shows them" \
	chain __futex_abstimed_wait_common pthread_cond_wait alpha_leaf alpha_mid chain_alpha worker start_thread __clone3
check "beta chain" chain __nanosleep beta_leaf beta_mid chain_beta worker start_thread
check "gamma chain" chain read gamma_leaf gamma_mid chain_gamma worker
check "main thread chain" chain sigwait main __libc_start_call_main
check "frames name their module" grep -q "alpha_leaf - $T/threads\$" "$T/out.txt"
check "no stderr output" test ! -s "$T/err.txt"
check "target not stopped, no tracer left" not_stopped "$pid"

"$HOUND" stacks -s -p "$pid" >"$T/src.txt"
check "-s adds source lines" grep -q "^    .*tests/targets/threads.c:[0-9]*\$" "$T/src.txt"
check "-s: libc lines from the debug file" grep -q "^    .*pthread_create.c:[0-9]*\$" "$T/src.txt"

"$HOUND" stacks -p "$pid" -o "$T/stacks.pb.gz" >/dev/null
check "-o writes a pprof file" test -s "$T/stacks.pb.gz"
if command -v go >/dev/null 2>&1; then
	HOME=$T go tool pprof -raw "$T/stacks.pb.gz" >"$T/raw.txt" 2>&1
	check "go tool pprof -raw reads it" grep -q "^PeriodType: threads count" "$T/raw.txt"
	check "one sample per thread" test "$(grep -c 'thread:\[' "$T/raw.txt")" -eq "$(thread_count "$pid")"
	check "tid label" grep -q "tid:\[$pid\]" "$T/raw.txt"
	check "thread name label" grep -q "thread:\[worker-5\]" "$T/raw.txt"
	check "mapping with build-id" grep -Eq "^1: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ $T/threads [0-9a-f]{40}" "$T/raw.txt"
	HOME=$T go tool pprof -top -nodefraction=0 "$T/stacks.pb.gz" >"$T/top.txt" 2>&1
	check "-top: every worker has start_thread" grep -Eq "^ +0 +0% +[0-9.]+% +6 +[0-9.]+% +start_thread" "$T/top.txt"
fi

"$HOUND" stacks --help >"$T/help.txt"
check "--help exits 0" test $? -eq 0
check "--help shows usage" grep -q "usage: hound stacks -p PID" "$T/help.txt"
"$HOUND" stacks >/dev/null 2>&1
check "no -p: usage error (2)" test $? -eq 2
"$HOUND" stacks -p abc >/dev/null 2>&1
check "bad PID: usage error (2)" test $? -eq 2
"$HOUND" stacks -p 1073741800 >/dev/null 2>"$T/err2.txt"
check "missing process: runtime error (1)" test $? -eq 1
check "message names the PID" grep -q "1073741800" "$T/err2.txt"
check "message is one line" test "$(wc -l <"$T/err2.txt")" -eq 1

# The capture kind through `hound capture` (bundle files and manifest).
"$HOUND" capture -p "$pid" -k stacks -o "$T/bundles" >"$T/cap.txt" 2>&1
check "hound capture -k stacks exits 0" test $? -eq 0
dir=$(find "$T/bundles" -name manifest.json -exec dirname {} \; 2>/dev/null | head -1)
check "bundle has stacks.txt" test -s "$dir/stacks.txt"
check "bundle has stacks.pb.gz" test -s "$dir/stacks.pb.gz"
"$HOUND" report "$dir" >"$T/report.txt" 2>&1
check "hound report groups the threads: 7 threads, 4 chains" \
	grep -q '^  7 threads in 4 groups (same call chain)$' "$T/report.txt"
check "each group is named by its code and where it waits" \
	grep -Eq '^ +2 +28\.6%  alpha_leaf  \(in __futex_abstimed_wait_common\)$' "$T/report.txt"
check "stacks.txt has source lines" grep -q "threads.c:[0-9]" "$dir/stacks.txt"
check "manifest lists both files" sh -c "grep -q '\"stacks.txt\"' '$dir/manifest.json' && grep -q '\"stacks.pb.gz\"' '$dir/manifest.json'"
check "target not stopped after the captures" not_stopped "$pid"
stop_target "$pid"

# A thread inside the vDSO (clock_gettime in a loop, -O2 without frame
# pointers): the frame is named, and the unwinder goes on through it to
# _start, as eu-stack and gdb do, instead of guessing a frame-pointer frame.
cc -O2 -pthread -o "$T/spin-clock" "$TOP_SRCDIR/tests/targets/spin.c"
bg sh -c 'exec "$0" -m clock >"$0.out"' "$T/spin-clock"
cpid=$!
check "the clock loop target is ready" wait_for 30 grep -q ready "$T/spin-clock.out"
# Where a snapshot lands is chance (a slow, e.g. sanitizer, build of hound
# lands in the loop's own code more often): take snapshots until five landed
# in the vDSO, with a generous bound, instead of a fixed number of tries.
in_vdso=0 whole=0 named=0 tries=0 failed=0
end=$(( $(date +%s) + 180 ))
while [ "$in_vdso" -lt 5 ] && [ "$tries" -lt 1000 ] && [ "$(date +%s)" -lt "$end" ]; do
	tries=$((tries + 1))
	"$HOUND" stacks -p "$cpid" >"$T/clock.txt" 2>"$T/clock.err" || { failed=$((failed + 1)); continue; }
	frames=$(awk '/^#/{print $3}' "$T/clock.txt" | tr '\n' ' ')
	case "$frames" in
	"__vdso_clock_gettime "*)
		in_vdso=$((in_vdso + 1))
		grep -q "__vdso_clock_gettime - \[vdso\]" "$T/clock.txt" && named=$((named + 1))
		case "$frames" in
		*"clock_gettime@@GLIBC_2.17 stamp_request compute_digest handle_request "*"main "*"_start ") whole=$((whole + 1)) ;;
		*) diag "chain from the vDSO: $frames" ;;
		esac ;;
	esac
done
diag "vDSO snapshots: $in_vdso in $tries tries ($failed failed)"
[ "$failed" -gt 0 ] && diag "last failure: $(head -c 300 "$T/clock.err")"
check "hound stacks never failed on the clock loop ($failed of $tries)" test "$failed" -eq 0
check "the clock loop was caught inside the vDSO ($in_vdso in $tries tries)" test "$in_vdso" -ge 5
check "every chain from the vDSO is whole, down to _start ($whole of $in_vdso)" test "$whole" -eq "$in_vdso"
check "the vDSO frame names its module [vdso] ($named of $in_vdso)" test "$named" -eq "$in_vdso"
kill "$cpid"
done_testing
