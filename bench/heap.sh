#!/bin/bash
# Native heap benchmark: the page-fault profile of `hound capture -k heap`
# against heaptrack (the peer) on tests/targets/leaky.c built -O2 without
# frame pointers, in the same run:
#  - attribution: the target leaks a known number of requests (SIGUSR2 starts
#    the burst) while `hound capture -k heap` runs; the bytes charged to
#    leak_request_context against the bytes the target counts as leaked; and
#    heaptrack's "leaked ... from leak_request_context" against the target's
#    count over its run;
#  - cost on the target: its CPU time per request (from /proc/PID/schedstat)
#    with nothing attached, during a hound heap capture, and under heaptrack,
#    for a steady process (malloc/memset/free, no new memory) and a leaking
#    one (every request faults in 64 KiB); rounds interleave the variants and
#    the median round is reported; a second window of the steady target with
#    nothing attached, in every round, measures the noise.
# Prints a markdown section; with -w writes it into docs/benchmarks.md.
#   bench/heap.sh [-w] [BUILDDIR]     (root or CAP_PERFMON+CAP_SYS_PTRACE; heaptrack)
# ROUNDS=N (default 3), SECS=N seconds per window (default 10), RATE=requests/s (200).
set -eu

WRITE=0
while getopts w o; do
	case $o in w) WRITE=1 ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-.}" && pwd)
HOUND=$B/hound
DOC="$SRCDIR/docs/benchmarks.md"
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
RATE=${RATE:-200}
S=$(mktemp -d)
TP=
cleanup() {
	[ -n "$TP" ] && kill -9 "$TP" 2>/dev/null
	rm -rf "$S"
}
trap cleanup EXIT INT TERM
command -v heaptrack >/dev/null || { echo "bench/heap.sh: heaptrack is missing (apt-get install heaptrack)" >&2; exit 2; }

cc -O2 -fomit-frame-pointer -g -pthread -o "$S/leaky" "$SRCDIR/tests/targets/leaky.c"

# start MODE [heaptrack]: starts the target (under heaptrack when asked); sets TP.
start() {
	local mode=$1 i
	: >"$S/t.out"
	if [ "${2:-}" = heaptrack ]; then
		heaptrack -o "$S/ht" "$S/leaky" "$mode" 64 "$RATE" >"$S/t.out" 2>"$S/ht.err" &
	else
		"$S/leaky" "$mode" 64 "$RATE" $((RATE * SECS / 4)) >"$S/t.out" 2>&1 &
	fi
	for i in $(seq 100); do
		grep -q READY "$S/t.out" 2>/dev/null && break
		sleep 0.1
	done
	TP=$(pgrep -n -f "^$S/leaky $mode")
	sleep 0.5
}
# snap: "requests leaked cpu_ns" of the target now.
snap() {
	local n i
	n=$(grep -c STATS "$S/t.out" || true)
	kill -USR1 "$TP"
	for i in $(seq 100); do
		[ "$(grep -c STATS "$S/t.out" || true)" -gt "$n" ] && break
		sleep 0.05
	done
	echo "$(grep STATS "$S/t.out" | tail -1 | sed 's/.*requests=\([0-9]*\) leaked=\([0-9]*\)/\1 \2/') $(cut -d' ' -f1 "/proc/$TP/schedstat")"
}
stop() {
	kill -TERM "$TP" 2>/dev/null || true
	while kill -0 "$TP" 2>/dev/null; do sleep 0.1; done
	wait 2>/dev/null || true
	TP=
}
# window VARIANT MODE: one measured window; prints "ns_per_request hound_cpu_s attributed truth".
window() {
	local v=$1 mode=$2 a b dir cpu=0 attr=0
	start "$mode" $([ "$v" = heaptrack ] && echo heaptrack)
	a=$(snap)
	if [ "$v" = hound ]; then
		mkdir -p "$S/caps"
		dir=$(/usr/bin/time -f "%U %S" -o "$S/hound.time" "$HOUND" capture -p "$TP" -k heap -d "${SECS}s" -o "$S/caps")
		cpu=$(awk '{print $1 + $2}' "$S/hound.time")
	else
		sleep "$SECS"
	fi
	b=$(snap)
	stop
	if [ "$v" = heaptrack ]; then # heaptrack's figure against the target's count at exit
		grep STATS "$S/t.out" | tail -1 | sed 's/.*leaked=//' >"$S/ht-$mode.truth"
		mv "$S/ht.zst" "$S/ht-$mode.data.zst" 2>/dev/null || true
	fi
	set -- $a $b
	echo "$(( ($6 - $3) / ($4 - $1) )) $cpu"
}

: >"$S/rows"
for r in $(seq "$ROUNDS"); do
	row=""
	for mode in steady request; do
		for v in none hound heaptrack; do
			row="$row $(window "$v" "$mode")"
		done
	done
	# attribution: a burst of known size inside the capture
	start burst
	mkdir -p "$S/caps"
	"$HOUND" capture -p "$TP" -k heap -d "${SECS}s" -o "$S/caps" >"$S/dir" &
	sleep 1
	kill -USR2 "$TP"
	wait $!
	inside=$(grep -c "BURST DONE" "$S/t.out" || true)
	truth=$(grep -A1 "BURST DONE" "$S/t.out" | grep STATS | tail -1 | sed 's/.*leaked=//')
	attr=$(awk '!/^#/ && / leak_request_context / {print $1, $2; exit}' "$(cat "$S/dir")/heap.diff.txt" |
		python3 -c 'import sys
t = sys.stdin.read().split()
u = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
print(int(float(t[0]) * u[t[1]]) if t else 0)')
	stop
	# nothing attached again: how far two windows of the same steady target differ (the noise)
	row="$row $attr ${truth:-0} $inside $(window none steady | cut -d' ' -f1)"
	echo "$row" | tee -a "$S/rows" >&2
done

# heaptrack's own attribution, from its last leaking run (the target counts what it leaked).
truth=$(cat "$S/ht-request.truth")
heaptrack_print -f "$S/ht-request.data.zst" --print-leaks 1 >"$S/ht.txt" 2>/dev/null || true
ht=$(awk '/leaked over .* calls from$/ {v=$1; getline; if ($1 == "leak_request_context") {print v; exit}}' "$S/ht.txt")

python3 - "$S/rows" "$SECS" "$ROUNDS" "$RATE" "${ht:-0}" "${truth:-0}" <<'PY' >"$S/section.md"
import os, statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
secs, rounds, rate, ht, truth = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
def num(s):
    u = {"K": 1e3, "M": 1e6, "G": 1e9}
    return float(s[:-1]) * u[s[-1]] if s[-1] in u else float(s)
# six windows of (ns/req, hound cpu s), then attributed bytes, leaked bytes, burst done inside
def col(i, k): return [r[i * 2 + k] for r in rows]
med = lambda xs: statistics.median(xs)
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
print("## Native heap (page-fault profile)\n")
print("Command: `bench/heap.sh -w BUILDDIR` (ROUNDS=%s, SECS=%s, RATE=%s). Machine: %s, %d CPUs, Linux %s, load average %.2f when written. "
      "Target: `tests/targets/leaky.c` built `-O2 -fomit-frame-pointer`; `steady` allocates, touches and frees 64 KiB per request "
      "(no new memory), `request` also keeps 64 KiB per request in `leak_request_context` and 256 KiB it never touches. "
      "Peer: heaptrack %s, run in the same rounds. CPU per request is the target's own on-CPU time (schedstat) over the window "
      "divided by the requests it served; the median round is shown.\n"
      % (rounds, secs, rate, model, os.cpu_count(), os.uname().release, os.getloadavg()[0],
         os.popen("heaptrack --version 2>/dev/null").read().split()[-1] if os.popen("heaptrack --version 2>/dev/null").read() else "?"))
print("| target | nothing attached | during `hound capture -k heap` | under heaptrack |")
print("|---|---:|---:|---:|")
for m, name in ((0, "steady (CPU per request)"), (1, "leaking (CPU per request)")):
    base = med(col(m * 3, 0))
    h = med(col(m * 3 + 1, 0))
    t = med(col(m * 3 + 2, 0))
    print("| %s | %.1f us | %.1f us (%+.0f%%) | %.1f us (%+.0f%%) |" % (
        name, base / 1e3, h / 1e3, (h / base - 1) * 100, t / 1e3, (t / base - 1) * 100))
hcpu = med(col(4, 1))
shares = [r[12] / r[13] for r in rows if r[13] > 0 and r[14] > 0]
aa = [abs(r[15] / r[0] - 1) * 100 for r in rows if len(r) > 15 and r[0] > 0]
if aa:
    print("\nNoise: a second window of the steady target with nothing attached, in the same round, differs from the first by "
          "%.0f%% (median; rounds: %s)." % (med(aa), ", ".join("%.0f%%" % a for a in aa)))
print("\nhound's own CPU for a %s s capture of the leaking target: %.2f s (median). "
      "Leaked bytes charged to `leak_request_context` when the target leaks %s requests of 64 KiB inside a capture: hound %.1f%% of what the target counts "
      "(median over rounds: %s); heaptrack %s of %d bytes leaked over its run (%.1f%%). "
      "heaptrack also lists the 256 KiB blocks that are never touched, which take no RSS; the fault profile does not.\n"
      % (secs, hcpu, int(rate) * int(secs) // 4, med(shares) * 100 if shares else 0, ", ".join("%.1f%%" % (s * 100) for s in shares), ht, truth,
         num(ht) / truth * 100 if truth and ht != "0" else 0))
print("Raw rounds (per window: ns per request, hound CPU s; windows: steady none/hound/heaptrack, leaking none/hound/heaptrack; "
      "then bytes hound charged to the culprit, bytes the burst leaked, 1 when the burst ended inside the capture, "
      "ns per request of the second steady window with nothing attached):\n")
for l in open(sys.argv[1]):
    print("    " + " ".join(l.split()))
print()
PY

if [ "$WRITE" -eq 1 ]; then
	python3 - "$DOC" "$S/section.md" <<'PY'
import os, re, sys
doc, sec = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n\n"
pat = re.compile(r"^## Native heap \(page-fault profile\)\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda _: sec, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + sec
open(doc, "w").write(text)
PY
fi
cat "$S/section.md"
