#!/bin/sh
# perf_chains: `hound capture -k cpu` names the hot chain for frame-pointer,
# plain -O2, -O2 + qsort-callback and -O2 with the time in the vDSO builds
# in >= 90% of samples.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/perf_lib.sh"

perf_usable || skip_all "needs root or CAP_PERFMON for perf_event_open"
command -v go >/dev/null || skip_all "go (golang-go) is needed for go tool pprof"
build_spin spin-fp -O2 -fno-omit-frame-pointer || skip_all "cannot build the target"
build_spin spin-o2 -O2 || skip_all "cannot build the target"

run_case() { # run_case LABEL BINARY MODE CHAIN...
	local label=$1 bin=$2 mode=$3; shift 3
	start_spin "$T/$bin" -m "$mode" -t 1 || { fail "$label: target did not start"; return; }
	capture_cpu "$SPID" 3s
	check "$label: hound capture exits 0" test $? -eq 0
	kill "$SPID" 2>/dev/null
	check "$label: cpu.pb.gz in the bundle" test -s "$BUNDLE/cpu.pb.gz"
	check "$label: cpu.folded in the bundle" test -s "$BUNDLE/cpu.folded"
	local share
	share=$(full_share "$BUNDLE/cpu.pb.gz" "$@")
	diag "$label: $share% of samples carry the full chain"
	check "$label: >= 90% of samples carry the full chain" test "${share:-0}" -ge 90
	check "$label: manifest lists cpu.pb.gz as pprof" python3 -c '
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
files = m.get("files", [])
ok = any(f.get("name") == "cpu.pb.gz" and f.get("format") == "pprof" for f in files)
ok = ok and any(f.get("name") == "cpu.folded" for f in files)
notes = m.get("notes", {})
ok = ok and "perf_event" in notes.get("cpu.method", "") and "dwarf=" in notes.get("cpu.unwind", "")
sys.exit(0 if ok else 1)' "$BUNDLE"
}

run_case "frame pointers" spin-fp plain handle_request compute_digest hot_checksum
run_case "plain -O2" spin-o2 plain handle_request compute_digest hot_checksum
# The vDSO has no file on disk: its unwind table and names come from hound's own copy.
run_case "-O2, time in the vDSO" spin-o2 clock handle_request compute_digest stamp_request \
	clock_gettime@@GLIBC_2.17 __vdso_clock_gettime
run_case "-O2 + qsort callback" spin-o2 qsort handle_request compute_digest qsort_r \
	compare_digest hot_checksum

# pprof details, on the last profile
traces "$BUNDLE/cpu.pb.gz" >"$T/traces.txt"
check "thread name label" grep -q "thread:  *spin-o2" "$T/traces.txt"
HOME=$T go tool pprof -raw "$BUNDLE/cpu.pb.gz" >"$T/raw.txt" 2>/dev/null
check "sample types samples/count and cpu/nanoseconds" grep -q "samples/count cpu/nanoseconds" "$T/raw.txt"
check "period set" grep -q "^Period: 10101010" "$T/raw.txt"
"$HOUND" report "$BUNDLE" >"$T/report.txt" 2>&1
top_hound=$(sed -n '/^busiest functions (cpu.pb.gz):/,/^$/p' "$T/report.txt" | awk '$1 ~ /^[0-9.]+%$/ {print $3; exit}')
top_pprof=$(HOME=$T go tool pprof -top "$BUNDLE/cpu.pb.gz" 2>/dev/null | awk '$2 ~ /%$/ && $1 != "flat" {print $6; exit}')
diag "hound report's top function: $top_hound; go tool pprof -top's: $top_pprof"
check "hound report prints the busiest functions of cpu.pb.gz" grep -q '^busiest functions (cpu.pb.gz):' "$T/report.txt"
check "its top function by own samples is hot_checksum" test "$top_hound" = hot_checksum
check "and agrees with go tool pprof -top" test "$top_hound" = "$top_pprof"
check "folded lines are 'root;...;leaf count'" \
	grep -qE "^(_start|__clone3);.*;handle_request;compute_digest;.*;hot_checksum [0-9]+$" "$BUNDLE/cpu.folded"
done_testing
