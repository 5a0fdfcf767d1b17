#!/usr/bin/env bash
# eBPF malloc tracking in the native heap capture: real leaking C programs
# (-O2, no frame pointers), the culprit named first by the malloc profile,
# malloc.pb.gz readable by go tool pprof, the capabilities it needs (and a
# clean refusal without them), the cost guard, and hound killed with SIGKILL
# mid-capture 20 times leaving no uprobe behind and the target running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

"$HOUND" --version | grep -qw bpf || skip_all "hound was built without eBPF (libbpf, clang, bpftool)"
[ "$(id -u)" -eq 0 ] || skip_all "loading BPF programs needs root (CAP_BPF, CAP_PERFMON)"
command -v bpftool >/dev/null || skip_all "bpftool is missing (it lists what is attached)"

cc -O2 -fomit-frame-pointer -g -pthread -o "$T/leaky" "$TOP_SRCDIR/tests/targets/leaky.c" ||
	{ fail "build leaky"; done_testing; exit 1; }

WRAP=()
start_leaky() { # BIN MODE [KIB RATE]: sets TPID
	"${WRAP[@]}" "$1" "$2" "${3:-64}" "${4:-50}" >"$T/$2.out" 2>&1 &
	TPID=$!
	TEST_PIDS="$TEST_PIDS $TPID"
	wait_for 5 grep -q READY "$T/$2.out"
}
stop_leaky() { kill "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null; }
first_data() { grep -v '^#' "$1/heap.diff.txt" | head -1; }
# The first "# by code:" section must be malloc tracking's, and its first data line the culprit.
malloc_first() { # DIR CULPRIT
	python3 - "$1/heap.diff.txt" "$2" <<'PY'
import re, sys
t = open(sys.argv[1]).read().splitlines()
heads = [i for i, l in enumerate(t) if l.startswith("# by code:")]
assert heads and "malloc tracking" in t[heads[0]], t[:8]
data = next(l for l in t if not l.startswith("#"))
assert t.index(data) < (heads[1] if len(heads) > 1 else len(t)), data
assert re.search(r"\s%s\s" % sys.argv[2], data), data
PY
}

# --- the culprit, by malloc tracking, for each way a program leaks ---
for c in "request leak_request_context" "calloc grow_table" "arena arena_carve" \
	"threads leak_request_context"; do
	set -- $c
	mode=$1 culprit=$2
	start_leaky "$T/leaky" "$mode" || { fail "$mode: target started"; continue; }
	mkdir -p "$T/c-$mode"
	dir=$("$HOUND" capture -p "$TPID" -k heap -d 3s -o "$T/c-$mode" 2>"$T/$mode.err")
	check "$mode: capture exits 0" [ $? -eq 0 ]
	diag "$mode: $(first_data "$dir")"
	check "$mode: malloc tracking names $culprit first" malloc_first "$dir" "$culprit"
	check "$mode: no errors" [ "$(json_get "$dir/manifest.json" 'j["errors"]')" = "{}" ]
	check "$mode: the manifest says what was tracked and what it cost" python3 - "$dir/manifest.json" <<'PY'
import json, re, sys
n = json.load(open(sys.argv[1]))["notes"]["heap.malloc"]
m = re.match(r"malloc tracking in libc\.so\.6 for [0-9.]+ s, sampled every 512 KiB on average; "
             r"the target called the allocator [0-9]+ times/s, at ([0-9.]+) us per call"
             # a cost probe that timed out (a loaded machine) falls back to a stated assumption
             r"( \(assumed: the cost probe failed\))?: "
             r"[0-9.e+-]+% of a core \(budget 2%\)", n)
assert m, n
# a uprobe trap costs microseconds: zero would mean the cost probe's calls were not seen
assert float(m.group(1)) >= 0.1, n
PY
	[ "$mode" = request ] && REQ=$dir
	stop_leaky
done

check "malloc.pb.gz: four sample types, the leak's stack, readable by go tool pprof" \
	bash -c "go tool pprof -raw '$REQ/malloc.pb.gz' >'$T/raw' 2>&1 &&
		grep -q 'inuse_objects/count inuse_space/bytes\[dflt\] alloc_objects/count alloc_space/bytes' '$T/raw' &&
		go tool pprof -top -sample_index=inuse_space '$REQ/malloc.pb.gz' 2>&1 | grep -q leak_request_context"
check "malloc.folded: the leak's stack from main, weighted by live bytes" \
	grep -Eq '(^|;)main;handle_request;leak_request_context;[^ ]*malloc [0-9]+$' "$REQ/malloc.folded"
check "the untouched reservation is live but ranked below the leak (resident first)" python3 - "$REQ/heap.diff.txt" <<'PY'
import sys
lines = [l for l in open(sys.argv[1]).read().split("# by code:")[1].splitlines()[1:]
         if not l.startswith("#")]
assert "leak_request_context" in lines[0], lines
assert any("reserve_untouched" in l for l in lines[1:]), lines
PY
"$HOUND" report "$REQ" >"$T/report" 2>&1
check "hound report names the culprit before any mapping" python3 - "$T/report" <<'PY'
import sys
t = open(sys.argv[1]).read()
f = t.find("leak_request_context")
assert f >= 0, t
for m in ("[heap]", "[anon]"):
    assert t.find(m) < 0 or t.find(m) > f, m
PY

# --- the production capability set (CAP_SYS_PTRACE, CAP_PERFMON): the capture still
# names the culprit (page faults) and says why malloc tracking was skipped; with
# CAP_BPF and CAP_SYS_ADMIN added (uprobe perf events need it), it tracks ---
if command -v setpriv >/dev/null; then
	WRAP=(setpriv --inh-caps=-all --bounding-set=-all)
	start_leaky "$T/leaky" request || fail "caps: target started"
	WRAP=()
	mkdir -p "$T/c-nobpf"
	dir=$(setpriv --inh-caps=-all --bounding-set=-all,+sys_ptrace,+perfmon \
		"$HOUND" capture -p "$TPID" -k heap -d 2s -o "$T/c-nobpf" 2>"$T/nobpf.err")
	check "no CAP_BPF: capture exits 0" [ $? -eq 0 ]
	check "no CAP_BPF: the leak is still named first (page faults)" \
		bash -c "grep -v '^#' '$dir/heap.diff.txt' | head -1 | grep -q ' leak_request_context '"
	check "no CAP_BPF: errors say why malloc tracking was skipped" python3 - "$dir/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
e = m["errors"]["heap.malloc"]
assert "Operation not permitted" in e or "Permission denied" in e, e
assert "CAP_BPF" in m["notes"]["heap.malloc"], m["notes"]
assert "malloc.pb.gz" not in [f["name"] for f in m["files"]]
PY
	mkdir -p "$T/c-bpf"
	dir=$(setpriv --inh-caps=-all --bounding-set=-all,+sys_ptrace,+perfmon,+bpf,+sys_admin \
		"$HOUND" capture -p "$TPID" -k heap -d 2s -o "$T/c-bpf" 2>"$T/bpf.err")
	check "+CAP_BPF+CAP_SYS_ADMIN: capture exits 0" [ $? -eq 0 ]
	check "+CAP_BPF+CAP_SYS_ADMIN: malloc tracking names the leak" \
		malloc_first "$dir" leak_request_context
	stop_leaky
else
	skip "setpriv (util-linux) is missing"
fi

# --- the cost guard: a budget the target's call rate exceeds even for 1 s ---
start_leaky "$T/leaky" request || fail "guard: target started"
API=127.0.0.1:$(free_port)
cat >"$T/guard.yaml" <<YAML
interval: 300ms
history: 4
output: $T/out
api: {listen: $API}
targets:
  - name: leaky
    match: {pid: $TPID}
    malloc: {budget: 0.001%}
    rules:
      - {name: grow, metric: rss, diff: 10%, capture: [{heap: 3s}]}
YAML
"$HOUND" run -c "$T/guard.yaml" 2>"$T/guard.log" &
HPID=$!
TEST_PIDS="$TEST_PIDS $HPID"
have_bundle() { ls -d "$T/out/bundles/leaky"/*/ 2>/dev/null | grep -qv '\.tmp/$'; }
check "guard: a bundle was written" wait_for 90 have_bundle
check "guard: counted in /metrics as over_budget" bash -c \
	"curl -s http://$API/metrics | grep -q '^hound_malloc_trackings_total{result=\"over_budget\"} 1$'"
check "guard: logged" grep -q 'msg="malloc tracking skipped"' "$T/guard.log"
kill -TERM "$HPID"; wait "$HPID" 2>/dev/null
B=$(ls -d "$T/out/bundles/leaky"/*/ 2>/dev/null | grep -v '\.tmp/$' | head -1)
check "guard: malloc tracking refused with the numbers, the fault profile kept" python3 - "$B" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
e = m["errors"]["heap.malloc"]
assert re.match(r"malloc tracking skipped: pid [0-9]+ calls the allocator [0-9]+ times/s; at "
                r"[0-9.]+ us per call that is [0-9.]+% of a core, over the 0\.001% budget", e), e
names = [f["name"] for f in m["files"]]
assert "faults.pb.gz" in names and "malloc.pb.gz" not in names, names
PY
stop_leaky

# --- hound killed mid-capture: no uprobe left attached, the target unharmed ---
start_leaky "$T/leaky" request 16 200 || fail "kill: target started"
ours_attached() { # PID: does a BPF program, link or perf event still belong to PID?
	bpftool prog show 2>/dev/null | grep -q "hound($1)" ||
		bpftool link show 2>/dev/null | grep -q "hound($1)" ||
		bpftool perf list 2>/dev/null | grep -q "^pid $1 "
}
none_attached() { ! ours_attached "$1"; }
attached_now() { bpftool perf list 2>/dev/null | grep -q "^pid $1 .*uprobe"; }
nstats() { grep -c STATS "$T/request.out"; }
requests() { # the target's request count, from a STATS line printed after now
	local n; n=$(nstats)
	kill -USR1 "$TPID"
	wait_for 10 test "$(nstats)" -gt "$n"
	grep -o 'requests=[0-9]*' "$T/request.out" | tail -1 | cut -d= -f2
}
before=$(requests)
left=0 killed=0 dirty=0
for i in $(seq 1 20); do
	mkdir -p "$T/c-kill"
	"$HOUND" capture -p "$TPID" -k heap -d 30s -o "$T/c-kill" >/dev/null 2>&1 &
	k=$!
	if wait_for 30 attached_now "$k"; then
		# spread the kills over the count phase and the tracking
		sleep "0.$(( (i * 37) % 10 ))"
		killed=$((killed + 1))
	fi
	kill -KILL "$k"; wait "$k" 2>/dev/null
	wait_for 10 none_attached "$k" || left=$((left + 1))
	# the real criterion: the target's allocator code reads as in the file again
	wait_for 10 python3 "$TOP_SRCDIR/tests/system/uprobe_clean.py" "$TPID" || dirty=$((dirty + 1))
done
check "kill: hound attached its uprobes before 20 of 20 kills ($killed)" [ "$killed" -eq 20 ]
check "kill: no BPF program, link or uprobe of a killed hound remains ($left left)" [ "$left" -eq 0 ]
check "kill: no breakpoint left in the target's allocator ($dirty kills left one)" [ "$dirty" -eq 0 ]
check "while attached, the checker does see the breakpoints (negative control)" bash -c "
	mkdir -p '$T/c-ctl'; '$HOUND' capture -p $TPID -k heap -d 8s -o '$T/c-ctl' >/dev/null 2>&1 & h=\$!
	ok=1; for i in \$(seq 100); do
		python3 '$TOP_SRCDIR/tests/system/uprobe_clean.py' $TPID >/dev/null || { ok=0; break; }
		sleep 0.1; done
	wait \$h; exit \$ok"
if [ -r /sys/kernel/tracing/uprobe_events ]; then
	check "kill: no uprobe left in tracefs either" \
		bash -c "! grep -q libbpf_ /sys/kernel/tracing/uprobe_events"
else
	diag "tracefs is not mounted: hound attaches through the uprobe PMU only"
fi
check "kill: the target is alive" kill -0 "$TPID"
after=$(requests)
sleep 1
later=$(requests)
diag "kill: requests $before -> $after -> $later"
check "kill: the target kept serving requests through the kills and after" \
	[ "${later:-0}" -gt "${after:-0}" -a "${after:-0}" -gt "${before:-0}" ]
stop_leaky

done_testing
