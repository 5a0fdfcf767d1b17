#!/bin/sh
# core_cgroup: a service in a memory cgroup close to its limit. A fork
# snapshot could need as much again as the service's memory (copy-on-write),
# so hound must not fork there: the dump falls back to stop-and-copy, says so
# in the manifest, and the service is not OOM-killed.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/core_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates a memory cgroup)"
root=/sys/fs/cgroup
mine=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
if [ -n "$mine" ] && [ -f "$root/memory/memory.limit_in_bytes" ]; then
	cg="$root/memory${mine%/}/hound-core-$$"; limf=memory.limit_in_bytes; v=v1
elif [ -f "$root/cgroup.controllers" ] && grep -qw memory "$root/cgroup.controllers"; then
	cg="$root$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup | sed 's|/$||')/hound-core-$$"; limf=memory.max; v=v2
else
	skip_all "no writable memory cgroup controller"
fi
mkdir "$cg" 2>/dev/null || skip_all "cannot create $cg"
cleanup_cg() { for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p"; done; sleep 0.2; rmdir "$cg" 2>/dev/null; }
trap 'cleanup_cg; cleanup' EXIT
diag "cgroup $v: $cg"

# 96 MiB of heap under a 140 MiB limit: plenty to run, no room to copy it.
echo $((140 * 1024 * 1024)) >"$cg/$limf"
sh -c "echo \$\$ >'$cg/cgroup.procs'; exec '$CORE_TARGET' -m 96 -t 2" >"$T/target.out" 2>&1 &
pid=$!
TEST_PIDS="$TEST_PIDS $pid"
wait_for 30 grep -q ready "$T/target.out" || { fail "the target starts in the cgroup"; done_testing; exit 1; }

"$HOUND" capture -p "$pid" -k core -o "$T/out" >/dev/null 2>"$T/capture.err"
b=$(ls -d "$T"/out/*/ | head -1)
m="$b/manifest.json"
check "the dump is written" test -s "$b/core.zst"
check "it fell back to stop-and-copy" grep -q '"core.method": "stop' "$m"
check "the manifest says why: the cgroup's headroom" grep -qE '"core.fallback": "no memory headroom.*cgroup' "$m"
check "the service is alive" kill -0 "$pid"
if [ $v = v1 ]; then
	check "no OOM kill in the cgroup" sh -c "! grep -qE '^oom_kill [1-9]' '$cg/memory.oom_control'"
else
	check "no OOM kill in the cgroup" sh -c "! grep -qE '^oom_kill [1-9]' '$cg/memory.events'"
fi
"$HOUND" report "$b" >"$T/report.txt" 2>&1
check "report shows the fallback" grep -q 'fallback *no memory headroom' "$T/report.txt"
if stopped_or_traced "$pid"; then fail "the service runs on, untraced"; else pass "the service runs on, untraced"; fi

# Same service, limit lifted: the fork snapshot is used.
echo -1 >"$cg/$limf" 2>/dev/null || echo max >"$cg/$limf"
"$HOUND" capture -p "$pid" -k core -o "$T/out2" >/dev/null 2>&1
check "with headroom the fork snapshot is used" grep -q '"core.method": "fork' "$(ls -d "$T"/out2/*/ | head -1)/manifest.json"
done_testing
