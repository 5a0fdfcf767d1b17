#!/bin/sh
# perf_cases: CPU profiles of a target that spawns threads during the profile,
# one that exits during it, an idle one, and the forced ptrace fallback.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/perf_lib.sh"

perf_usable || skip_all "needs root or CAP_PERFMON for perf_event_open"
command -v go >/dev/null || skip_all "go (golang-go) is needed for go tool pprof"
build_spin spin -O2 || skip_all "cannot build the target"

note() { # note BUNDLE KEY: prints manifest notes[KEY]
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1] + "/manifest.json")).get("notes", {}).get(sys.argv[2], ""))' "$1" "$2"
}
samples() { # samples FILE.pb.gz: total sample count per go tool pprof
	traces "$1" | sed -n 's/.*Total samples = \([0-9]*\).*/\1/p'
}

# 1. threads born during the profile: worker-2 starts ~1.4 s into a 3 s profile
start_spin "$T/spin" -t 2 -s 700 || exit 1
capture_cpu "$SPID" 3s
check "spawning target: capture exits 0" test $? -eq 0
traces "$BUNDLE/cpu.pb.gz" >"$T/spawn.txt"
check "spawning target: the last-born thread was sampled" grep -q "thread:  *worker-2" "$T/spawn.txt"
check "spawning target: its chain is whole" test "$(full_share "$BUNDLE/cpu.pb.gz" handle_request compute_digest hot_checksum)" -ge 90
diag "spawn: $(note "$BUNDLE" cpu.samples)"
kill "$SPID"

# 2. a target that exits during the profile: it is ended once hound has its
# perf_event fds open and the target has burnt 0.5 s of CPU since
start_spin "$T/spin" -t 1 || exit 1
"$HOUND" capture -p "$SPID" -k cpu -d 20s -o "$T/out" >"$T/exit.out" 2>"$T/exit.err" &
HP=$!
perf_fds_open() { ls -l "/proc/$HP/fd" 2>/dev/null | grep -q perf_event; }
cpu_ticks() { sed 's/.*) //' "/proc/$SPID/stat" | awk '{ print $12 + $13 }'; }
wait_for 20 perf_fds_open
t0=$(cpu_ticks)
burnt() { [ $(( $(cpu_ticks) - t0 )) -ge 50 ]; }
wait_for 60 burnt
kill -TERM "$SPID"
wait "$HP"
rc=$?
BUNDLE=$(cat "$T/exit.out")
check "exiting target: capture exits 0" test "$rc" -eq 0
check "exiting target: profile has samples" test "$(samples "$BUNDLE/cpu.pb.gz")" -gt 0
check "exiting target: names resolved although the process is gone" \
	test "$(full_share "$BUNDLE/cpu.pb.gz" handle_request compute_digest hot_checksum)" -ge 90
check "exiting target: the manifest says it exited" sh -c "echo '$(note "$BUNDLE" cpu.target)' | grep -q 'process exited'"

# 3. an idle target: an empty but valid profile
start_spin "$T/spin" -m idle || exit 1
capture_cpu "$SPID" 2s
check "idle target: capture exits 0" test $? -eq 0
HOME=$T go tool pprof -raw "$BUNDLE/cpu.pb.gz" >"$T/idle.txt" 2>&1
check "idle target: go tool pprof reads the profile" grep -q "samples/count cpu/nanoseconds" "$T/idle.txt"
check "idle target: no samples" test "$(sed -n '/^samples\/count/,/^Locations/p' "$T/idle.txt" | wc -l)" -eq 2
check "idle target: cpu.folded exists (empty)" test -f "$BUNDLE/cpu.folded" -a ! -s "$BUNDLE/cpu.folded"
kill "$SPID"

# 4. the ptrace fallback, forced
start_spin "$T/spin" -t 1 || exit 1
BUNDLE=$(HOUND_PERF_FORCE_FALLBACK=1 "$HOUND" capture -p "$SPID" -k cpu -d 2s -o "$T/out" 2>"$T/fb.err")
check "fallback: capture exits 0" test $? -eq 0
check "fallback: the manifest says so" sh -c "echo '$(note "$BUNDLE" cpu.method)' | grep -q '^ptrace-fallback (forced'"
check "fallback: profile has samples" test "$(samples "$BUNDLE/cpu.pb.gz")" -gt 0
check "fallback: the hot chain dominates" \
	test "$(full_share "$BUNDLE/cpu.pb.gz" handle_request compute_digest hot_checksum)" -ge 90
check "fallback: target left running, no tracer" sh -c \
	"grep -q '^TracerPid:[[:space:]]*0$' /proc/$SPID/status && ! grep -q '^State:[[:space:]]*[tT]' /proc/$SPID/status"
kill "$SPID"
done_testing
