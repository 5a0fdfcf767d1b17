#!/bin/sh
# stripped_functions: a stripped -O2 binary has no symbols, yet its CPU profile
# counts per function, not per instruction: every sample in the spinning
# function carries one name, module+0xSTART, START being where nm puts the
# function in the unstripped build; `hound report` keeps the deadlocked
# threads of a stripped binary in separate groups.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/perf_lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

perf_usable || skip_all "needs root or CAP_PERFMON for perf_event_open"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (ptrace of the test targets)"
build_spin spin -O2 || skip_all "cannot build the target"
cp "$T/spin" "$T/spin-stripped" && strip "$T/spin-stripped"
start_of() { nm "$T/spin" | awk -v f="$1" '$3 == f {sub(/^0+/, "", $1); print $1}'; }
HOT=$(start_of hot_checksum)
check "the unstripped build has hot_checksum" test -n "$HOT"

start_spin "$T/spin-stripped" || fail "stripped spin started"
capture_cpu "$SPID" 3s
f=$BUNDLE/cpu.folded
check "cpu.folded written" test -s "$f"
# Leaves (last frame of each folded line) inside the stripped module.
python3 - "$f" "spin-stripped+0x$HOT" >"$T/leaves.txt" <<'PY'
import collections, sys
leaves = collections.Counter()
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    leaf = stack.split(";")[-1]
    if leaf.startswith("spin-stripped+"):
        leaves[leaf] += int(n)
total = sum(leaves.values())
print(total, leaves[sys.argv[2]], len(leaves), " ".join("%s=%d" % kv for kv in leaves.most_common(5)))
PY
set -- $(cat "$T/leaves.txt")
diag "stripped leaves: $*"
check "samples in the stripped module" test "${1:-0}" -gt 0
check "nearly all of them in one name, spin-stripped+0x$HOT (hot_checksum's start)" \
	test "${2:-0}" -ge $(( ${1:-1} * 9 / 10 ))
check "no per-instruction names: at most a few functions" test "${3:-99}" -le 5
stop_target "$SPID"

# hound report on a stripped deadlock: the two threads in two groups.
cc -O2 -pthread -o "$T/dl" "$TOP_SRCDIR/tests/targets/locks.c" && strip "$T/dl"
start_threads "$T/dl" deadlock2 || fail "stripped deadlock started"
sleep 0.2
d=$("$HOUND" capture -p "$TPID" -k stacks -o "$T/out" 2>/dev/null)
"$HOUND" report "$d" >"$T/report.txt" 2>&1
check "report: 3 threads in 3 groups" grep -q "3 threads in 3 groups (same call chain)" "$T/report.txt"
check "report: a deadlocked thread named by its stripped functions" \
	grep -Eq "dl\+0x[0-9a-f]+ -> dl\+0x[0-9a-f]+  \(in [_A-Za-z]*lll_lock_wait" "$T/report.txt"
stop_target "$TPID"
done_testing
