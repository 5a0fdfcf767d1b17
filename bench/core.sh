#!/bin/bash
# Core dump benchmark: a 1 GiB resident process (tests/targets/core_target -m
# 1024) with a heartbeat thread that sleeps 1 ms in a loop and records its
# largest oversleep: the longest freeze as the process itself sees it.
# Measures, in the same run, `hound capture -k core` and gdb's `gcore`: that
# freeze, the whole command's wall time, and the file each writes.
# Prints a markdown section and, with -w, writes it into docs/benchmarks.md.
#   bench/core.sh [-w] [-r RUNS] [-m MIB]  (HOUND=path/to/hound, default ./hound;
#   CORE_TARGET=path/to/core_target, default ./tests/targets/core_target)
set -eu

WRITE=0 RUNS=3 MIB=1024
while getopts "wr:m:" o; do
	case $o in
	w) WRITE=1 ;;
	r) RUNS=$OPTARG ;;
	m) MIB=$OPTARG ;;
	*) echo "usage: bench/core.sh [-w] [-r RUNS] [-m MIB]" >&2; exit 2 ;;
	esac
done
TOP=$(cd "$(dirname "$0")/.." && pwd)
HOUND=${HOUND:-./hound}
CORE_TARGET=${CORE_TARGET:-./tests/targets/core_target}
command -v gcore >/dev/null || { echo "bench/core.sh: needs gcore (Debian package gdb)" >&2; exit 2; }
[ -x "$HOUND" ] && [ -x "$CORE_TARGET" ] || { echo "bench/core.sh: build hound and tests/targets/core_target first" >&2; exit 2; }
TMP=$(mktemp -d)
TPID=
cleanup() {
	[ -n "$TPID" ] && kill "$TPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$CORE_TARGET" -m "$MIB" -t 1 -b "$TMP/gap" >"$TMP/target.out" 2>&1 &
TPID=$!
for _ in $(seq 1 600); do grep -q ready "$TMP/target.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$TMP/target.out" || { echo "bench/core.sh: the target did not start" >&2; exit 1; }
rss_mib=$(( $(awk '/^VmRSS:/ {print $2}' /proc/$TPID/status) / 1024 ))

# gap: asks the heartbeat for its largest oversleep since the last ask (µs).
gap() {
	rm -f "$TMP/gap"
	kill -USR1 "$TPID"
	for _ in $(seq 1 200); do [ -s "$TMP/gap" ] && break; sleep 0.01; done
	cat "$TMP/gap"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

gap >/dev/null
: >"$TMP/idle"; : >"$TMP/h_gap"; : >"$TMP/h_wall"; : >"$TMP/h_size"; : >"$TMP/h_freeze"
: >"$TMP/g_gap"; : >"$TMP/g_wall"; : >"$TMP/g_size"
for r in $(seq 1 "$RUNS"); do
	sleep 1; gap >>"$TMP/idle"
	gap >/dev/null
	t0=$(now_ms)
	"$HOUND" capture -p "$TPID" -k core -o "$TMP/h$r" >/dev/null 2>"$TMP/h$r.err"
	echo $(( $(now_ms) - t0 )) >>"$TMP/h_wall"
	gap >>"$TMP/h_gap"
	m=$(ls "$TMP"/h$r/*/manifest.json)
	python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["notes"]; print(n["core.freeze_ms"]); print(n["core.method"], file=sys.stderr)' "$m" >>"$TMP/h_freeze" 2>"$TMP/h_method"
	stat -c %s "$TMP"/h$r/*/core.zst >>"$TMP/h_size"
	rm -rf "$TMP/h$r"
	gap >/dev/null
	t0=$(now_ms)
	gcore -o "$TMP/g$r" "$TPID" >/dev/null 2>&1
	echo $(( $(now_ms) - t0 )) >>"$TMP/g_wall"
	gap >>"$TMP/g_gap"
	stat -c %s "$TMP/g$r.$TPID" >>"$TMP/g_size"
	rm -f "$TMP/g$r.$TPID"
done

idle=$(median <"$TMP/idle")
hg=$(median <"$TMP/h_gap"); gg=$(median <"$TMP/g_gap")
hw=$(median <"$TMP/h_wall"); gw=$(median <"$TMP/g_wall")
hf=$(median <"$TMP/h_freeze")
hs=$(( $(median <"$TMP/h_size") / 1048576 )); gs=$(( $(median <"$TMP/g_size") / 1048576 ))
ratio_freeze=$(awk -v a="$hg" -v b="$gg" 'BEGIN {printf "%.3f", a / b}')
ratio_wall=$(awk -v a="$hw" -v b="$gw" 'BEGIN {printf "%.2f", a / b}')
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
section=$(cat <<MD
## Core dumps

Command: \`HOUND=./hound bench/core.sh -w\` (median of $RUNS runs; target:
\`tests/targets/core_target -m $MIB -t 1 -b FILE\`, ${rss_mib} MiB resident, with a
heartbeat thread that sleeps 1 ms in a loop and reports its largest oversleep).
Peer: gdb's \`gcore\`, same target, same run.
Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(awk '/^MemTotal:/ {printf "%d", $2/1048576}' /proc/meminfo) GiB RAM, Linux $(uname -r), $(date -u +%Y-%m-%d).

| tool | longest freeze seen by the target ms | freeze recorded in the manifest ms | wall ms | file MiB |
|---|---|---|---|---|
| hound (\`$(cat "$TMP/h_method")\`) | $(awk -v v="$hg" 'BEGIN {printf "%.1f", v / 1000}') | $hf | $hw | $hs (core.zst) |
| gcore | $(awk -v v="$gg" 'BEGIN {printf "%.1f", v / 1000}') | - | $gw | $gs |

- hound / gcore: freeze ${ratio_freeze}x, wall ${ratio_wall}x. Heartbeat
  oversleep with no tool running: $(awk -v v="$idle" 'BEGIN {printf "%.1f", v / 1000}') ms.
- hound's freeze is the fork of the process inside itself (page tables
  copied); the memory is then written from the copy-on-write child while the
  target runs. gcore stops the process for the whole dump.
- Goals: freeze <= 0.05x gcore's; wall <= gcore's.
MD
)
echo "$section"
if [ "$WRITE" -eq 1 ]; then
	python3 - "$TOP/docs/benchmarks.md" "$section" <<'PY'
import os, re, sys
path, section = sys.argv[1], sys.argv[2].rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
m = re.search(r"^## Core dumps\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	echo "bench/core.sh: wrote the Core dumps section of docs/benchmarks.md" >&2
fi
