#!/bin/bash
# bench/stacks.sh: `hound stacks` vs `eu-stack -p` vs gdb on 50- and 500-thread
# targets, in one run: wall time, the target's longest stall (measured inside
# the target by a heartbeat thread), hound's per-thread stop time, and name
# agreement with eu-stack. hound and eu-stack are timed the same way (whole
# process, exec to exit) in alternating runs, the order swapped every round;
# min, median and max are reported. Prints a markdown section and, with -w,
# writes it into docs/benchmarks.md under "## Stacks".
#
#   bench/stacks.sh [-w] [-r RUNS]      (HOUND=path/to/hound, default ./hound)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
HOUND=${HOUND:-./hound}
RUNS=11
WRITE=0
while getopts "wr:" o; do
	case $o in w) WRITE=1 ;; r) RUNS=$OPTARG ;; *) exit 2 ;; esac
done
[ -x "$HOUND" ] || { echo "bench/stacks.sh: $HOUND not found (set HOUND=)" >&2; exit 2; }
for tool in eu-stack gdb python3 cc; do
	command -v $tool >/dev/null || { echo "bench/stacks.sh: needs $tool" >&2; exit 2; }
done
W=$(mktemp -d)
trap 'kill -9 $TPID 2>/dev/null; rm -rf "$W"' EXIT
cc -O2 -g -pthread -o "$W/threads" "$TOP/tests/targets/threads.c" || exit 1

now_us() { echo $(( $(date +%s%N) / 1000 )); }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

# stall_of CMD...: runs CMD once; prints the heartbeat's largest gap (us) during it.
stall_of() {
	local n
	n=$(wc -l <"$W/target.out")
	kill -USR1 "$TPID"
	while [ "$(wc -l <"$W/target.out")" -le "$n" ]; do sleep 0.01; done
	n=$(wc -l <"$W/target.out")
	"$@" >/dev/null 2>&1
	kill -USR1 "$TPID"
	while [ "$(wc -l <"$W/target.out")" -le "$n" ]; do sleep 0.01; done
	tail -1 "$W/target.out" | awk '{print $2}'
}

# walls RUNS PID: hound and eu-stack alternately, RUNS rounds, the order
# swapped every round; prints "min med max" in ms for hound, then for eu-stack.
walls() {
	python3 - "$1" "$HOUND" "$2" <<'PY'
import statistics, subprocess, sys, time
runs, hound, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cmds = [[hound, "stacks", "-p", pid], ["eu-stack", "-p", pid]]
t = [[], []]
for r in range(runs):
    for i in ((0, 1) if r % 2 == 0 else (1, 0)):
        t0 = time.perf_counter()
        subprocess.run(cmds[i], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t[i].append(1000 * (time.perf_counter() - t0))
print(" ".join("%.1f %.1f %.1f" % (min(v), statistics.median(v), max(v)) for v in t))
PY
}

# wall_of RUNS CMD...: median wall time in ms over RUNS runs (timed without forks of date).
wall_of() {
	local runs=$1; shift
	python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
t = []
for _ in range(runs):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.append(time.perf_counter() - t0)
print("%.1f" % (1000 * statistics.median(t)))
PY
}

GDB_BT=(gdb -q -nx -batch -ex 'thread apply all bt' -p)
gdb_bt() { "${GDB_BT[@]}" "$1" >/dev/null 2>&1; }

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
rows=""
inners=""
for n in 50 500; do
	: >"$W/target.out"
	"$W/threads" -n "$n" -t >"$W/target.out" 2>&1 &
	TPID=$!
	while ! grep -q '^ready' "$W/target.out"; do sleep 0.05; done
	pid=$TPID
	"$HOUND" stacks -p "$pid" >/dev/null 2>&1 # warm the page cache for every tool alike
	eu-stack -p "$pid" >/dev/null 2>&1

	set -- $(walls "$RUNS" "$pid")
	h_min=$1 h_wall=$2 h_max=$3 e_min=$4 e_wall=$5 e_max=$6
	g_wall=$(wall_of 3 "${GDB_BT[@]}" "$pid")
	idle=$(for i in 1 2 3; do stall_of sleep 0.05; done | median)
	h_stall=$(for i in 1 2 3; do stall_of "$HOUND" stacks -p "$pid"; done | median)
	e_stall=$(for i in 1 2 3; do stall_of eu-stack -p "$pid"; done | median)
	g_stall=$(stall_of gdb_bt "$pid")
	"$HOUND" stacks -v -p "$pid" 2>"$W/v.txt" >/dev/null
	inner=$(sed -n 's/.*unwind_us=\([0-9]*\) symbolize_us=\([0-9]*\).*/\1 \2/p' "$W/v.txt" |
		awk '{printf "%.1f ms unwind + %.1f ms symbolize", $1 / 1000, $2 / 1000}')
	inners="$inners  - $((n + 2)) threads: $inner.
"
	stops=$(for i in $(seq "$RUNS"); do
		"$HOUND" stacks -v -p "$pid" 2>&1 >/dev/null | sed -n 's/.*median_stop_us=\([0-9.]*\).*/\1/p'
	done | median)
	maxstop=$("$HOUND" stacks -v -p "$pid" 2>&1 >/dev/null | sed -n 's/.*max_stop_us=\([0-9.]*\).*/\1/p')
	"$HOUND" stacks -p "$pid" >"$W/h.txt" 2>/dev/null
	eu-stack -p "$pid" >"$W/e.txt" 2>/dev/null
	agree=$(python3 "$TOP/tests/system/stacks_compare.py" "$W/h.txt" "$W/e.txt" | tail -1)
	ratio=$(awk -v h="$h_wall" -v e="$e_wall" 'BEGIN {printf "%.2f", h / e}')
	pct=$(echo "$agree" | awk '{printf "%.2f%% (%d/%d frames)", 100 * $6, $4, $2}')
	rows="$rows| $((n + 2)) | $h_min / $h_wall / $h_max | $e_min / $e_wall / $e_max | $g_wall | ${ratio}x | $stops | $maxstop | $idle | $h_stall | $e_stall | $g_stall | $pct |
"
	kill -9 "$TPID"; wait "$TPID" 2>/dev/null
done

section=$(cat <<MD
## Stacks

Command: \`HOUND=./hound bench/stacks.sh -w -r $RUNS\` ($RUNS alternating runs of hound and
eu-stack, order swapped every round, min / median / max; median of 3 for gdb; targets: \`tests/targets/threads.c -n N -t\`, built -O2 -g:
N workers parked in three known call chains, plus main and a heartbeat thread
that sleeps 1 ms in a loop and records its largest oversleep).
Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), $(date -u +%Y-%m-%d);
load average when written: $(cut -d' ' -f1-3 /proc/loadavg).

| threads | hound ms (min / med / max) | eu-stack ms (min / med / max) | gdb ms | hound / eu-stack (medians) | hound median stop µs | hound max stop µs | stall idle µs | stall hound µs | stall eu-stack µs | stall gdb µs | names = eu-stack |
|---|---|---|---|---|---|---|---|---|---|---|---|
${rows%
}

- *wall*: the whole command, process start to exit (\`hound stacks -p PID\`,
  \`eu-stack -p PID\`, \`gdb -batch -ex 'thread apply all bt' -p PID\`).
- *stop*: time one thread spends stopped under hound, PTRACE_INTERRUPT to
  PTRACE_DETACH (hound stops and releases threads one at a time; the
  other tools stop the whole process for the whole command).
- *stall*: the heartbeat's largest oversleep during one command, as the target
  sees it (median of 3); "idle" is the same measurement around a 50 ms sleep,
  with no tool running (timer and scheduler noise).
- Inside hound (\`hound stacks -v\`), the rest of the wall time being process
  start-up and output:
${inners%
}
- Start-up: \`hound --version\` $(wall_of 20 "$HOUND" --version) ms and
  \`eu-stack --version\` $(wall_of 20 eu-stack --version) ms (median of 20); hound links
  $(ldd "$HOUND" | wc -l) shared objects (libcurl, libcrypto, libmicrohttpd and
  libsystemd are loaded only by the commands that use them).
- Goals: wall <= 0.25x eu-stack at 52 threads and <= 0.1x at 502; median
  per-thread stop <= 100 µs; names agree with eu-stack on >= 99% of frames.
MD
)
echo "$section"
if [ "$WRITE" -eq 1 ]; then
	python3 - "$TOP/docs/benchmarks.md" "$section" <<'PY'
import os, re, sys
path, section = sys.argv[1], sys.argv[2].rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
m = re.search(r"^## Stacks\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	echo "bench/stacks.sh: wrote the Stacks section of docs/benchmarks.md" >&2
fi
