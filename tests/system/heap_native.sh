#!/usr/bin/env bash
# The native heap capture names the code that grows memory: real leaking C
# programs built -O2 without frame pointers (and stripped), captured by hand,
# by a rule, without capabilities and in their own mount namespace. The
# culprit must be the first data line of heap.diff.txt.
. "$(dirname "$0")/lib.sh"

CFLAGS_LEAKY="-O2 -fomit-frame-pointer -g -pthread"
cc $CFLAGS_LEAKY -o "$T/leaky" "$TOP_SRCDIR/tests/targets/leaky.c" ||
	{ fail "build leaky"; done_testing; exit 1; }
cp "$T/leaky" "$T/leaky-stripped" && strip -s "$T/leaky-stripped"
check "the stripped build has no symbol table" [ "$(nm "$T/leaky-stripped" 2>/dev/null | wc -l)" -eq 0 ]

# Page faults of another process need perf_event: skip loudly where it is refused.
if ! python3 -c 'import sys; v=int(open("/proc/sys/kernel/perf_event_paranoid").read()); sys.exit(v > 2)'; then
	skip_all "kernel.perf_event_paranoid > 2: perf_event_open of another process is refused"
fi

# start_leaky BIN MODE: starts the target (output in $T/MODE.out) under $WRAP; sets TPID.
WRAP=()
start_leaky() {
	"${WRAP[@]}" "$1" "$2" 64 50 >"$T/$2.out" 2>&1 &
	TPID=$!
	TEST_PIDS="$TEST_PIDS $TPID"
	wait_for 5 grep -q READY "$T/$2.out"
}
first_data() { grep -v '^#' "$1/heap.diff.txt" | head -1; }

# capture_case MODE CULPRIT [BIN]: a manual capture (no baseline) names CULPRIT first.
capture_case() {
	local mode=$1 culprit=$2 bin=${3:-$T/leaky} dir line
	start_leaky "$bin" "$mode" || { fail "$mode: target started"; return; }
	mkdir -p "$T/caps-$mode"
	dir=$("$HOUND" capture -p "$TPID" -k heap -d 3s -o "$T/caps-$mode" 2>"$T/$mode.err")
	check "$mode: capture exits 0" [ $? -eq 0 ]
	line=$(first_data "$dir")
	diag "$mode: $line"
	check "$mode: first data line of heap.diff.txt names $culprit" \
		bash -c "printf '%s\n' \"\$1\" | grep -q \" $culprit \"" _ "$line"
	check "$mode: faults.pb.gz, faults.folded, smaps_rollup.txt written" \
		test -s "$dir/faults.pb.gz" -a -s "$dir/faults.folded" -a -s "$dir/smaps_rollup.txt"
	check "$mode: no errors" [ "$(json_get "$dir/manifest.json" 'j["errors"]')" = "{}" ]
	kill "$TPID"; wait "$TPID" 2>/dev/null
	DIR=$dir
}

capture_case request leak_request_context
check "request: faults.pb.gz has sample types faults/count and resident/bytes" python3 - "$DIR/faults.pb.gz" <<'PY'
import gzip, sys
b = gzip.open(sys.argv[1]).read()
for s in (b"faults", b"count", b"resident", b"bytes", b"leak_request_context", b"main"):
    assert s in b, s
PY
check "request: faults.folded charges the leak's stack from main" \
	grep -Eq '(^|;)main;handle_request;leak_request_context;.* [0-9]+$' "$DIR/faults.folded"
check "request: the untouched reservations are not the top" \
	bash -c "! grep -v '^#' '$DIR/heap.diff.txt' | head -1 | grep -q reserve_untouched"
check "request: without a baseline the mapping section says why" \
	grep -q "no smaps baseline for this process" "$DIR/heap.diff.txt"
"$HOUND" report "$DIR" >"$T/report" 2>&1
check "report names the function before any mapping" python3 - "$T/report" <<'PY'
import sys
t = open(sys.argv[1]).read()
f = t.find("leak_request_context")
assert f >= 0, t
for m in ("[heap]", "[anon]"):
    assert t.find(m) < 0 or t.find(m) > f, m
PY
capture_case calloc grow_table
capture_case arena arena_carve
capture_case threads leak_request_context

# A stripped build: the line names the code address; it lies in the culprit.
capture_case request 'leaky-stripped+0x[0-9a-f]*' "$T/leaky-stripped"
check "stripped: the address is inside leak_request_context" python3 - "$DIR/heap.diff.txt" "$T/leaky" <<'PY'
import re, subprocess, sys
line = next(l for l in open(sys.argv[1]) if not l.startswith("#"))
off = int(re.search(r"leaky-stripped\+0x([0-9a-f]+)", line).group(1), 16)
# file offset -> virtual address through the executable's PT_LOAD segments
segs = subprocess.run(["readelf", "-lW", sys.argv[2]], capture_output=True, text=True).stdout
va = None
for m in re.finditer(r"LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", segs):
    o, v, sz = (int(x, 16) for x in m.groups())
    if o <= off < o + sz:
        va = off - o + v
assert va is not None, (off, segs)
syms = subprocess.run(["nm", "-S", sys.argv[2]], capture_output=True, text=True).stdout
for l in syms.splitlines():
    p = l.split()
    if len(p) == 4 and p[3] == "leak_request_context":
        a, s = int(p[0], 16), int(p[1], 16)
        assert a <= va < a + s, (hex(va), hex(a), hex(s))
        break
else:
    raise AssertionError("no leak_request_context in nm")
PY

# Without any capability (root's uid, empty bounding set) and with only the
# production set (CAP_SYS_PTRACE, CAP_PERFMON): still named via page faults.
# The target has no capabilities either: the kernel refuses to let a process
# read one that holds capabilities it lacks.
if command -v setpriv >/dev/null; then
	for caps in "-all" "-all,+sys_ptrace,+perfmon"; do
		WRAP=(setpriv --inh-caps=-all --bounding-set=-all)
		start_leaky "$T/leaky" request || { fail "caps $caps: target started"; continue; }
		WRAP=()
		mkdir -p "$T/caps-priv"
		dir=$(setpriv --inh-caps=-all --bounding-set="$caps" \
			"$HOUND" capture -p "$TPID" -k heap -d 3s -o "$T/caps-priv" 2>"$T/priv.err")
		check "bounding set $caps: capture exits 0" [ $? -eq 0 ]
		check "bounding set $caps: the leak is named first" \
			bash -c "grep -v '^#' '$dir/heap.diff.txt' | head -1 | grep -q ' leak_request_context '"
		kill "$TPID"; wait "$TPID" 2>/dev/null
	done
else
	skip "setpriv (util-linux) is missing"
fi

# perf_event_open refused (a seccomp profile, a locked-down kernel): the heap
# capture still succeeds with smaps, and the manifest says why there are no faults.
cc -O2 -o "$T/noperf" "$TOP_SRCDIR/tests/targets/noperf.c" || fail "build noperf"
start_leaky "$T/leaky" request || fail "noperf: target started"
mkdir -p "$T/caps-noperf"
dir=$("$T/noperf" "$HOUND" capture -p "$TPID" -k heap -d 1s -o "$T/caps-noperf" 2>"$T/noperf.err")
check "perf refused: capture exits 0" [ $? -eq 0 ]
check "perf refused: smaps.txt, no faults.pb.gz" test -s "$dir/smaps.txt" -a ! -e "$dir/faults.pb.gz"
check "perf refused: errors name perf_event_open, the pid and the reason" \
	python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"]["heap.faults"]; sys.exit(0 if e.startswith(sys.argv[2]) else 1)' \
	"$dir/manifest.json" "perf_event_open(pid $TPID): Permission denied"
check "perf refused: a note names the capability" grep -q "needs CAP_PERFMON" "$dir/manifest.json"
kill "$TPID"; wait "$TPID" 2>/dev/null

# A target in its own mount namespace: its binary exists only there.
mkdir -p "$T/ns"
if unshare -m true 2>/dev/null; then
	unshare -m --propagation private bash -c \
		"mount -t tmpfs tmpfs '$T/ns' && cp '$T/leaky' '$T/ns/leaky-ns' && exec '$T/ns/leaky-ns' request 64 50" \
		>"$T/ns.out" 2>&1 &
	TPID=$!
	TEST_PIDS="$TEST_PIDS $TPID"
	wait_for 5 grep -q READY "$T/ns.out"
	check "mount namespace: the binary is not visible from here" [ ! -e "$T/ns/leaky-ns" ]
	mkdir -p "$T/caps-ns"
	dir=$("$HOUND" capture -p "$TPID" -k heap -d 3s -o "$T/caps-ns" 2>"$T/ns.err")
	check "mount namespace: capture exits 0" [ $? -eq 0 ]
	diag "ns: $(first_data "$dir")"
	check "mount namespace: the leak is named first" \
		bash -c "grep -v '^#' '$dir/heap.diff.txt' | head -1 | grep -q ' leak_request_context '"
	kill "$TPID"; wait "$TPID" 2>/dev/null
else
	skip "unshare -m is not allowed here"
fi

# A rule fires: the bundle has the baseline, code first, the mapping table after.
start_leaky "$T/leaky" request || fail "rule: target started"
cat >"$T/rule.yaml" <<YAML
interval: 300ms
history: 4
output: $T/out
targets:
  - name: leaky
    match:
      pid: $TPID
    rules:
      - {name: grow, metric: rss, diff: 10%, capture: [{heap: 2s}]}
YAML
"$HOUND" run -c "$T/rule.yaml" 2>"$T/run.log" &
HPID=$!
TEST_PIDS="$TEST_PIDS $HPID"
have_bundle() { ls -d "$T/out/bundles/leaky"/*/ 2>/dev/null | grep -qv '\.tmp/$'; }
if wait_for 60 have_bundle; then pass "rule: a bundle was written"; else
	fail "rule: a bundle was written"; tail -20 "$T/run.log"; fi
kill -TERM "$HPID"; wait "$HPID" 2>/dev/null
B=$(ls -d "$T/out/bundles/leaky"/*/ 2>/dev/null | grep -v '\.tmp/$' | head -1)
diag "rule: $(first_data "$B")"
check "rule: the leak is the first data line" \
	bash -c "grep -v '^#' '$B/heap.diff.txt' | head -1 | grep -q ' leak_request_context '"
check "rule: the mapping table follows, with the baseline" python3 - "$B/heap.diff.txt" <<'PY'
import sys
t = open(sys.argv[1]).read()
code, maps = t.find("# by code:"), t.find("# by mapping")
assert 0 <= code < maps, t
assert "[heap]" in t[maps:] or "[anon]" in t[maps:], t[maps:]
assert "\ntotal: rss" in t[maps:], t[maps:]
PY
check "rule: smaps.base.txt and smaps_rollup.txt in the bundle" \
	test -s "$B/smaps.base.txt" -a -s "$B/smaps_rollup.txt"

# RSS that is freed memory (MADV_FREE) is explained, not blamed.
kill "$TPID"; wait "$TPID" 2>/dev/null
start_leaky "$T/leaky" lazyfree && wait_for 5 grep -q FREED "$T/lazyfree.out"
mkdir -p "$T/caps-lazy"
dir=$("$HOUND" capture -p "$TPID" -k heap -d 1s -o "$T/caps-lazy" 2>"$T/lazy.err")
check "lazyfree: capture exits 0" [ $? -eq 0 ]
"$HOUND" report "$dir" >"$T/lazy.report" 2>&1
check "lazyfree: the report says how much of RSS is LazyFree" \
	grep -Eq "RSS [0-9]+ MiB, (6[0-4]) MiB of it LazyFree: freed pages the kernel reclaims under pressure, not live data" "$T/lazy.report"
kill "$TPID"; wait "$TPID" 2>/dev/null
start_leaky "$T/leaky" request || fail "kill: target started"

# SIGKILL of hound in the middle of a fault profile leaves the target running.
mkdir -p "$T/caps-kill"
"$HOUND" capture -p "$TPID" -k heap -d 30s -o "$T/caps-kill" >/dev/null 2>&1 &
KPID=$!
sleep 1
kill -KILL "$KPID"; wait "$KPID" 2>/dev/null
sleep 0.3
check "SIGKILL of hound during the profile: the target still runs" kill -0 "$TPID"
check "and its page faults are no longer sampled (no perf fd of hound left)" \
	bash -c "! ls -l /proc/$KPID/fd 2>/dev/null | grep -q perf_event"
kill "$TPID"; wait "$TPID" 2>/dev/null
done_testing
