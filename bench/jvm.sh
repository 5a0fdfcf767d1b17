#!/usr/bin/env bash
# bench/jvm.sh: what watching a JVM costs.
#  1. one JVM sample (heap_inuse, heap_live, gc_pause, gc_cpu from the mapped
#     PerfData) next to a native sample of the same process (cpu, rss,
#     threads; and every native metric), mean of N, in one run;
#  2. the JVM's own safepoint count (sun.rt.safepoints) over N samples at
#     1 kHz next to the same time without hound: sampling must add none;
#  3. heap allocated by N JVM samples (mallinfo2): must be 0.
# Usage: bench/jvm.sh [-w] [BENCH_BINARY]   (needs openjdk-17-jdk-headless;
# -w writes the "## JVM" section of docs/benchmarks.md)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
WRITE=0
if [ "${1:-}" = -w ]; then WRITE=1; shift; fi
BIN=${1:-./bench/jvm}
N=${N:-5000}
for tool in java javac "$BIN"; do
	command -v "$tool" >/dev/null || { echo "bench/jvm.sh: $tool not found" >&2; exit 2; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/hound-bench-jvm.XXXXXX")
JPID=""
trap '[ -n "$JPID" ] && kill "$JPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"' EXIT
javac -d "$T" "$SRC/tests/targets/jvm/JTarget.java"
(cd "$T" && exec java -Xmx64m -cp "$T" JTarget idle) >"$T/out" 2>&1 &
JPID=$!
for _ in $(seq 1200); do grep -qx ready "$T/out" && break; sleep 0.1; done
grep -qx ready "$T/out" || { echo "bench/jvm.sh: the JVM did not start" >&2; exit 1; }
"$BIN" "$JPID" "$N" >"$T/r"
v() { awk -v k="$1" '$1 == k {print $2}' "$T/r"; }
cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
jv=$(java -version 2>&1 | head -1)
cat >"$T/section.md" <<MD
## JVM

\`bench/jvm.sh\` (\`make bench-jvm\`) on $(nproc) CPUs ($cpu), $jv, $(date -u +%Y-%m-%d).
Target: tests/targets/jvm \`JTarget idle\` (-Xmx64m, G1). Mean of $N samples of the same process:

| | µs per sample |
|---|---|
| hound JVM sample (\`jvm_sampler_sample\`: heap_inuse, heap_live, gc_pause, gc_cpu, view) | $(v jvm_us) |
| hound native sample, cpu + rss + threads (\`proc_handle_sample\`) | $(v native_basic_us) |
| hound native sample, every native metric | $(v native_full_us) |

The JVM sample reads mapped memory only (no system call), so it costs a
fraction of a native sample; the goal was at most 2x.

**No safepoint, no allocation:** over $(v samples) JVM samples at 1 kHz ($(v window_s) s) the JVM's
own \`sun.rt.safepoints\` moved by $(v safepoints_sampling); over the same time without hound,
by $(v safepoints_idle). Heap allocated by those samples (mallinfo2): $(v alloc_bytes) bytes.
MD
cat "$T/section.md"
if [ "$WRITE" = 1 ]; then
	python3 - "$SRC/docs/benchmarks.md" "$T/section.md" <<'PY'
import re, sys
doc, sec = open(sys.argv[1]).read(), open(sys.argv[2]).read()
m = re.search(r'^## JVM\n.*?(?=^## |\Z)', doc, re.S | re.M)
doc = doc[:m.start()] + sec + "\n" + doc[m.end():] if m else doc.rstrip("\n") + "\n\n" + sec
open(sys.argv[1], "w").write(doc)
PY
fi
