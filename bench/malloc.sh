#!/bin/bash
# Malloc-tracking benchmark: what the eBPF malloc tracking of `hound capture
# -k heap` costs the target per malloc/free pair and how much of a leak it
# charges to the right function, against memleak (BCC) and heaptrack in the
# same run.
#  - cost: bench/mallocloop.c calls malloc/free pairs at a fixed rate (RATE
#    pairs/s) and counts the CPU time they take; one window of SECS seconds
#    with nothing attached (twice: the noise floor), while `hound capture -k
#    heap --malloc-budget 100%` tracks it (the budget lifted so the guard
#    neither shortens nor refuses), while memleak -p tracks it, and under
#    heaptrack (preloaded). Each round runs every variant on a fresh process,
#    in an order rotated every round; the table shows min/median/max over rounds.
#  - where the cost goes: one more window each for hound and memleak with
#    kernel.bpf_stats_enabled=1: the BPF programs' own run time per call (the
#    rest of a probed call is the uprobe/uretprobe trap itself).
#  - attribution: tests/targets/leaky.c in `request` mode (-O2, no frame
#    pointers; 64 KiB per request kept by leak_request_context) under `hound
#    capture -k heap` (default sampling and budget): the live bytes
#    heap.diff.txt charges to leak_request_context against what the target
#    leaked during the tracking (its own counter, per second, times the
#    tracking time); heaptrack's "leaked ... from leak_request_context"
#    against the target's count over the whole run.
# Prints a markdown section; with -w writes it into docs/benchmarks.md.
#   bench/malloc.sh [-w] [BUILDDIR]
# Needs root (eBPF), heaptrack, bpftool, and memleak: Debian 12 ships it as
# memleak-bpfcc (apt-get install bpfcc-tools heaptrack bpftool) and BCC
# compiles it against the kernel's headers (/lib/modules/$(uname -r)/build,
# or a Debian linux-headers-*-common/-amd64 pair, which the script merges).
# ROUNDS=N (default 3), SECS=N seconds per cost window (default 5),
# RATE=pairs/s (default 20000), ASECS=N seconds of the attribution capture (10).
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
SECS=${SECS:-5}
RATE=${RATE:-20000}
ASECS=${ASECS:-10}
S=$(mktemp -d)
TP=
TOOL=
MOUNTED=
STATS_WAS=
cleanup() {
	[ -n "$TOOL" ] && kill -TERM "$TOOL" 2>/dev/null
	[ -n "$TP" ] && kill -9 "$TP" 2>/dev/null
	wait 2>/dev/null
	[ -n "$STATS_WAS" ] && sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
	[ -n "$MOUNTED" ] && umount /sys/kernel/tracing 2>/dev/null
	rm -rf "$S"
}
trap cleanup EXIT INT TERM
die() {
	echo "bench/malloc.sh: $*" >&2
	exit 2
}
[ "$(id -u)" -eq 0 ] || die "needs root (eBPF uprobes for hound and memleak)"
[ -x "$HOUND" ] || die "no hound binary in $B (give the build directory)"
command -v heaptrack >/dev/null || die "heaptrack is missing (apt-get install heaptrack)"
command -v bpftool >/dev/null || die "bpftool is missing (apt-get install bpftool)"
MEMLEAK=$(command -v memleak || command -v memleak-bpfcc || true)
[ -n "$MEMLEAK" ] || die "memleak is missing (apt-get install bpfcc-tools: memleak-bpfcc)"

# BCC compiles memleak's BPF program against kernel headers; a kernel without
# its own headers package gets Debian's (the uprobe programs read only pt_regs).
if [ ! -d "/lib/modules/$(uname -r)/build" ] && [ -z "${BCC_KERNEL_SOURCE:-}" ]; then
	common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -1)
	arch=${common%-common}-amd64
	[ -n "$common" ] && [ -d "$arch" ] ||
		die "no kernel headers for BCC's memleak (apt-get install linux-headers-amd64)"
	mkdir "$S/khdr"
	cp -as "$common/." "$S/khdr/"
	cp -asf --remove-destination "$arch/." "$S/khdr/"
	export BCC_KERNEL_SOURCE=$S/khdr
fi
if [ ! -e /sys/kernel/tracing/uprobe_events ]; then
	mount -t tracefs nodev /sys/kernel/tracing && MOUNTED=1
fi
# Debian 12's python3-bpfcc calls libbcc's bpf_attach_uprobe without its last
# argument (ref_ctr_offset), which then holds garbage and the kernel refuses
# the probe; pass 0 as newer BCC does, then run memleak itself unchanged.
cat >"$S/memleak.py" <<'PY'
import ctypes as ct, runpy, sys
from bcc import libbcc
raw = libbcc.lib.bpf_attach_uprobe
if len(raw.argtypes) == 6:
    raw.argtypes = raw.argtypes + [ct.c_uint32]
    libbcc.lib.bpf_attach_uprobe = lambda *a: raw(*a, 0)
tool = sys.argv[1]
sys.argv = ["memleak"] + sys.argv[2:]
runpy.run_path(tool, run_name="__main__")
PY
if head -1 "$MEMLEAK" | grep -q python; then
	MEMLEAK_CMD="/usr/bin/python3 $S/memleak.py $MEMLEAK"
else
	MEMLEAK_CMD=$MEMLEAK
fi

cc -O2 -Wall -o "$S/mallocloop" "$SRCDIR/bench/mallocloop.c"
cc -O2 -fomit-frame-pointer -g -pthread -o "$S/leaky" "$SRCDIR/tests/targets/leaky.c"

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (30 s at most).
wait_line() {
	local i
	for i in $(seq 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# start_loop [heaptrack]: a fresh mallocloop (under heaptrack when asked); sets TP.
start_loop() {
	: >"$S/t.out"
	if [ "${1:-}" = heaptrack ]; then
		heaptrack -o "$S/ht-loop" "$S/mallocloop" "$RATE" >"$S/t.out" 2>"$S/ht.err" &
	else
		"$S/mallocloop" "$RATE" >"$S/t.out" 2>&1 &
	fi
	wait_line "$S/t.out" READY || die "mallocloop did not start"
	TP=$(pgrep -n -f "^$S/mallocloop $RATE")
}
# attached: until a uprobe has fired in the target ([uprobes] is mapped at the first hit).
attached() {
	local i
	for i in $(seq 600); do
		grep -q '\[uprobes\]' "/proc/$TP/maps" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# snap: "pairs cpu_ns" of the loop now.
snap() {
	local n i
	n=$(grep -c PAIRS "$S/t.out" || true)
	kill -USR1 "$TP"
	for i in $(seq 200); do
		[ "$(grep -c PAIRS "$S/t.out" || true)" -gt "$n" ] && break
		sleep 0.02
	done
	grep PAIRS "$S/t.out" | tail -1 | cut -d' ' -f2,3
}
stop_pid() {
	kill -"$2" "$1" 2>/dev/null || true
	while kill -0 "$1" 2>/dev/null; do sleep 0.1; done
}
# measure: one SECS window on TP; prints ns per pair.
measure() {
	local a b
	a=$(snap)
	sleep "$SECS"
	b=$(snap)
	set -- $a $b
	echo $(( ($4 - $2) / ($3 - $1) ))
}
# window VARIANT: one cost window on a fresh loop; appends ns per pair (and
# hound's own estimate) to ROW. Not in a subshell: the cleanup sees TP and TOOL.
window() {
	local v=$1 ns est=""
	case $v in
	none | none2)
		start_loop
		sleep 1
		ns=$(measure)
		;;
	hound)
		start_loop
		mkdir -p "$S/caps"
		"$HOUND" capture -p "$TP" -k heap -d "$((SECS + 3))s" --malloc-budget 100% \
			-o "$S/caps" >"$S/dir" 2>"$S/hound.err" &
		TOOL=$!
		attached || die "hound's probes never fired: $(cat "$S/hound.err")"
		sleep 0.5 # the 250 ms count before tracking
		ns=$(measure)
		wait "$TOOL" || die "hound capture failed: $(cat "$S/hound.err")"
		TOOL=
		# hound's own guard estimate, "at X us per call"
		est=$(grep -o 'at [0-9.]* us per call' "$(cat "$S/dir")/manifest.json" | awk '{print $2 * 1000}')
		;;
	memleak)
		start_loop
		$MEMLEAK_CMD -p "$TP" 60 >"$S/memleak.out" 2>&1 &
		TOOL=$!
		attached || die "memleak's probes never fired: $(tail -3 "$S/memleak.out")"
		sleep 0.5
		ns=$(measure)
		stop_pid "$TOOL" TERM # a background job ignores SIGINT
		TOOL=
		;;
	heaptrack)
		start_loop heaptrack
		sleep 1
		ns=$(measure)
		;;
	esac
	stop_pid "$TP" TERM
	wait 2>/dev/null || true
	TP=
	ROW="$ROW $v $ns${est:+ $est}"
}

: >"$S/rows"
VARIANTS="none hound memleak none2 heaptrack"
for r in $(seq "$ROUNDS"); do
	order=$(echo $VARIANTS | awk -v k=$(((r - 1) % 5)) '{for (i = 0; i < NF; i++) printf "%s ", $(((i + k) % NF) + 1)}')
	ROW=""
	for v in $order; do
		window "$v"
	done
	echo "$ROW" >>"$S/rows"
	echo "round $r:$ROW" >&2
done

# Where the cost goes: the BPF programs' own time, for one window each.
# progtime VARIANT: sets PT to "programs bpf_ns_per_pair runs" of the programs the variant loaded.
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
progtime() {
	local v=$1 a b
	bpftool prog show -j >"$S/progs.before"
	sysctl -q -w kernel.bpf_stats_enabled=1
	start_loop
	if [ "$v" = hound ]; then
		"$HOUND" capture -p "$TP" -k heap -d "$((SECS + 3))s" --malloc-budget 100% \
			-o "$S/caps" >"$S/dir" 2>"$S/hound.err" &
	else
		$MEMLEAK_CMD -p "$TP" 60 >"$S/memleak.out" 2>&1 &
	fi
	TOOL=$!
	attached || die "$v's probes never fired"
	sleep 0.5
	a=$(snap)
	bpftool prog show -j >"$S/progs.a"
	sleep "$SECS"
	b=$(snap)
	bpftool prog show -j >"$S/progs.b"
	if [ "$v" = hound ]; then wait "$TOOL" || true; else stop_pid "$TOOL" TERM; fi
	TOOL=
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
	stop_pid "$TP" TERM
	wait 2>/dev/null || true
	TP=
	set -- $a $b
	PT=$(python3 - "$S/progs.before" "$S/progs.a" "$S/progs.b" $(($3 - $1)) <<'PY'
import json, sys
old = {p["id"] for p in json.load(open(sys.argv[1]))}
a = {p["id"]: p for p in json.load(open(sys.argv[2])) if p["id"] not in old}
b = {p["id"]: p for p in json.load(open(sys.argv[3])) if p["id"] in a}
pairs = int(sys.argv[4])
ns = sum(b[i].get("run_time_ns", 0) - a[i].get("run_time_ns", 0) for i in b)
runs = {b[i].get("name", "?"): b[i].get("run_cnt", 0) - a[i].get("run_cnt", 0) for i in b}
used = ",".join("%s:%d" % (k, v) for k, v in sorted(runs.items()) if v)
print("%d %.0f %s" % (len(b), ns / pairs if pairs else 0, used or "-"))
PY
)
}
progtime hound
PT_HOUND=$PT
progtime memleak
PT_MEMLEAK=$PT
echo "bpf time: hound $PT_HOUND; memleak $PT_MEMLEAK" >&2

# Attribution. hound: leaky in request mode, a default heap capture.
: >"$S/attr"
ARATE=200
for r in $(seq "$ROUNDS"); do
	: >"$S/t.out"
	"$S/leaky" request 64 "$ARATE" >"$S/t.out" 2>&1 &
	TP=$!
	wait_line "$S/t.out" READY || die "leaky did not start"
	n0=$(grep -c STATS "$S/t.out" || true)
	kill -USR1 "$TP"
	t0=$(date +%s.%N)
	"$HOUND" capture -p "$TP" -k heap -d "${ASECS}s" -o "$S/caps" >"$S/dir" 2>"$S/hound.err" ||
		die "hound capture failed: $(cat "$S/hound.err")"
	kill -USR1 "$TP"
	t1=$(date +%s.%N)
	for i in $(seq 100); do
		[ "$(grep -c STATS "$S/t.out" || true)" -ge $((n0 + 2)) ] && break
		sleep 0.05
	done
	stop_pid "$TP" TERM
	TP=
	python3 - "$(cat "$S/dir")/heap.diff.txt" "$S/t.out" "$t0" "$t1" <<'PY' >>"$S/attr"
import re, sys
u = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
lines = open(sys.argv[1]).read().splitlines()
stats = [int(m.group(1)) for m in re.finditer(r"leaked=(\d+)", open(sys.argv[2]).read())]
rate = (stats[-2] - stats[-3]) / (float(sys.argv[4]) - float(sys.argv[3]))
dur, live, first, section = 0.0, 0, "-", False
for l in lines:
    m = re.match(r"# by code: memory allocated during ([0-9.]+) s of malloc tracking", l)
    if m:
        dur, section = float(m.group(1)), True
        continue
    if section and l.startswith("# by code"):
        break
    if section and not l.startswith("#"):
        t = l.split()
        if first == "-":
            first = t[4]
        if t[4] == "leak_request_context":
            live = int(float(t[2]) * u[t[3]])
print("%d %d %.1f %s" % (live, int(rate * dur), dur, first))
PY
	echo "attribution round $r: $(tail -1 "$S/attr")" >&2
done

# heaptrack: the same program preloaded for ASECS seconds; the target counts what it leaked.
: >"$S/t.out"
heaptrack -o "$S/ht-leaky" "$S/leaky" request 64 "$ARATE" >"$S/t.out" 2>"$S/ht.err" &
wait_line "$S/t.out" READY || die "leaky did not start under heaptrack"
TP=$(pgrep -n -f "^$S/leaky request")
sleep "$ASECS"
stop_pid "$TP" TERM
wait 2>/dev/null || true
TP=
HT_TRUTH=$(grep STATS "$S/t.out" | tail -1 | sed 's/.*leaked=//')
heaptrack_print -f "$S/ht-leaky.zst" --print-leaks 1 --print-peaks 0 --print-allocators 0 \
	--print-temporary 0 >"$S/ht.txt" 2>/dev/null || true
HT=$(awk '/leaked over .* calls from$/ {v=$1; getline; if ($1 == "leak_request_context") {print v; exit}}' "$S/ht.txt")

python3 - "$S/rows" "$S/attr" "$SECS" "$ROUNDS" "$RATE" "$ASECS" "$ARATE" "${HT:-0}" "${HT_TRUTH:-0}" \
	"$PT_HOUND" "$PT_MEMLEAK" "$MEMLEAK" <<'PY' >"$S/section.md"
import os, re, statistics, subprocess, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
attr = [l.split() for l in open(sys.argv[2]) if l.strip()]
secs, rounds, rate, asecs, arate = sys.argv[3:8]
ht, ht_truth = sys.argv[8], int(sys.argv[9])
pt = {"hound": sys.argv[10].split(), "memleak": sys.argv[11].split()}
memleak = sys.argv[12]
def cmd(c):
    return subprocess.run(["sh", "-c", c], capture_output=True, text=True).stdout.strip()
vals = {}
est = []
for r in rows:
    i = 0
    while i < len(r):
        v, ns = r[i], float(r[i + 1])
        vals.setdefault(v, []).append(ns)
        i += 2
        if v == "hound":
            est.append(float(r[i]))
            i += 1
def mmm(v):
    xs = vals[v]
    return min(xs), statistics.median(xs), max(xs)
base = statistics.median(vals["none"] + vals["none2"])
noise = statistics.median(abs(a - b) for a, b in zip(vals["none"], vals["none2"]))
def num(s):
    m = {"K": 1e3, "M": 1e6, "G": 1e9}
    return float(s[:-1]) * m[s[-1]] if s and s[-1] in m else float(s or 0)
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
htv = cmd("heaptrack --version 2>/dev/null").split()
bccv = cmd("dpkg-query -W -f '${Version}' python3-bpfcc 2>/dev/null")
print("## Malloc tracking (eBPF)\n")
print("Command: `bench/malloc.sh -w BUILDDIR` (ROUNDS=%s, SECS=%s, RATE=%s, ASECS=%s). Machine: %s, %d CPUs, "
      "Linux %s, load average %.2f when written. Peers in the same run: memleak from BCC %s (`%s -p PID`: "
      "uprobe + uretprobe on malloc and the other allocation functions, uprobe on free, a stack id "
      "for every allocation; Debian 12's libbpf-tools does not ship memleak yet) and heaptrack %s "
      "(preloaded: `heaptrack -o FILE prog`).\n"
      % (rounds, secs, rate, asecs, model, os.cpu_count(), os.uname().release, os.getloadavg()[0],
         bccv or "?", os.path.basename(memleak), htv[-1] if htv else "?"))
print("**Cost per malloc/free pair.** `bench/mallocloop.c` calls malloc(16..1039 bytes) and free "
      "%s times a second (a fixed rate, so every tracker sees the same call rate) and counts the "
      "thread CPU time the pairs take, trap and BPF programs included; each window is %s s on a "
      "fresh process, each round runs every variant in an order rotated every round. hound runs "
      "`hound capture -k heap --malloc-budget 100%%` (default 512 KiB sampling; the budget lifted so "
      "the cost guard neither shortens nor refuses at this rate). Noise floor: the median difference "
      "between the two windows with nothing attached in a round.\n" % (rate, secs))
print("| variant | ns per pair: min / median / max | over nothing attached |")
print("|---|---:|---:|")
for v, name in (("none", "nothing attached"), ("none2", "nothing attached (again)"),
                ("hound", "hound capture -k heap"), ("memleak", "memleak -p"), ("heaptrack", "heaptrack (preloaded)")):
    lo, md, hi = mmm(v)
    print("| %s | %.0f / %.0f / %.0f | %s |" % (name, lo, md, hi,
          "-" if v.startswith("none") else "+%.0f ns (x%.1f)" % (md - base, md / base)))
h, m = mmm("hound")[1] - base, mmm("memleak")[1] - base
print("\nNoise floor %.0f ns per pair. Added cost per pair, hound / memleak: %.2f (%.0f ns against %.0f ns; "
      "goal: at most 1). hound's cost guard measured %.0f ns per pair for itself in the same runs "
      "(median; the figure the manifest's `heap.malloc` note multiplies by the call rate).\n"
      % (noise, h / m if m > 0 else 0, h, m, statistics.median(est) if est else 0))
def ptline(v):
    p = pt[v]
    return "%s: %s programs ran %s ns per pair (run counts per program over the window: %s)" % (
        v, p[0], p[1], p[2].replace(",", ", ")) if len(p) >= 3 else v + ": not measured"
print("Where the cost goes (one more window each with `kernel.bpf_stats_enabled=1`): %s; %s. "
      "The rest of the added cost is the uprobe and uretprobe traps themselves (an int3, the "
      "kernel's uprobe handling and, for the return probe, the return trampoline), which any "
      "uprobe-based tracker pays per call whatever its program does.\n" % (ptline("hound"), ptline("memleak")))
shares = [int(a[0]) / int(a[1]) * 100 for a in attr if int(a[1]) > 0]
firsts = [a[3] for a in attr]
print("**Attribution.** `tests/targets/leaky.c` in `request` mode (`-O2 -fomit-frame-pointer`; %s "
      "requests/s, each keeps 64 KiB in `leak_request_context`, plus a 256 KiB block it never touches in "
      "`reserve_untouched` and 64 KiB of scratch it frees). hound: `hound capture -k heap -d %ss` with the "
      "default sampling and budget; the live bytes `heap.diff.txt` charges to `leak_request_context` "
      "against what the target leaked during the tracking (its own counter per second times the "
      "tracking time hound reports). heaptrack: the same program preloaded for %s s; its "
      "\"leaked ... from leak_request_context\" against the target's count at exit.\n" % (arate, asecs, asecs))
print("| tool | charged to leak_request_context / leaked | first line of the by-code section |")
print("|---|---:|---|")
if shares:
    print("| hound (malloc.pb.gz, heap.diff.txt) | %.1f%% median (%s) | %s |" % (
        statistics.median(shares), ", ".join("%.1f%%" % s for s in shares), ", ".join(sorted(set(firsts)))))
print("| heaptrack | %.1f%% (%s of %d bytes) | - |" % (num(ht) / ht_truth * 100 if ht_truth else 0, ht, ht_truth))
print("\nhound samples by bytes (one 64 KiB block in about 8.5 is sampled and weighted up), so its "
      "figure moves by several percent around the truth from round to round; heaptrack sees every call. "
      "Goal: at least 90%.\n")
print("Raw rounds (cost: variant and ns per pair in run order, hound followed by its guard's estimate; "
      "attribution: bytes hound charged, bytes leaked while it tracked, tracking seconds, first function):\n")
for l in open(sys.argv[1]):
    print("    " + " ".join(l.split()))
for l in open(sys.argv[2]):
    print("    " + " ".join(l.split()))
print()
PY

if [ "$WRITE" -eq 1 ]; then
	python3 - "$DOC" "$S/section.md" <<'PY'
import os, re, sys
doc, sec = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n\n"
pat = re.compile(r"^## Malloc tracking \(eBPF\)\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda _: sec, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + sec
open(doc, "w").write(text)
PY
	echo "bench/malloc.sh: wrote the malloc tracking section of $DOC" >&2
fi
cat "$S/section.md"
