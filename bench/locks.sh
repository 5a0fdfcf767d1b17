#!/usr/bin/env bash
# bench/locks.sh: the cost of one scan of the lock graph (metrics deadlocked and
# lock_wait) on processes of 1000 threads, against reading each thread's stat
# file (the least any per-thread look must do), measured interleaved in the
# same run. Targets: tests/targets/locks.c built -O2: `idle 1000` (1000
# threads on a condition variable: all in futex waits, none on a lock),
# `crowd 1000` (1000 threads blocked on one held mutex: every one is read
# through /proc/PID/mem and schedstat), `pool 100`, and `deadlock2`.
# Prints a Markdown section and, with -w, writes it into docs/benchmarks.md.
#
#   bench/locks.sh [-w] [BUILD_DIR]         (make bench-locks does this)
set -euo pipefail
WRITE=0
[ "${1:-}" = -w ] && { WRITE=1; shift; }
build=${1:-.}
TOP=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bench/locks
[ -x "$bin" ] || { echo "no $bin: run make bench-locks" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hound-bench-locks.XXXXXX")
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cc -O2 -pthread -o "$tmp/locks" "$TOP/tests/targets/locks.c"

rows=""
for mode in "idle 1000" "crowd 1000" "pool 100" "deadlock2"; do
	# shellcheck disable=SC2086
	"$tmp/locks" $mode >"$tmp/out" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 200); do grep -q ready "$tmp/out" && break; sleep 0.05; done
	sleep 0.5
	rows+="| \`$mode\` $("$bin" -p "${pids[-1]}" -r 7 -s 20)"$'\n'
	kill -9 "${pids[-1]}"
done
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
section=$(cat <<MD
## Lock graph

Command: \`make bench-locks\` (runs \`bench/locks.sh\`; \`-w\` writes this section).
Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), $(date -u +%Y-%m-%d).

One scan = what the agent does per sample when a rule uses \`deadlocked\` or
\`lock_wait\`: list /proc/PID/task, read every thread's \`syscall\` file, and
for each thread in a contended-mutex futex wait read the mutex (/proc/PID/mem)
and the thread's \`schedstat\`, then find the cycles. The peer reads every
thread's \`stat\` file (open, read, close) in the same loop, interleaved; best
and median of 7 rounds of 20 scans. Goal: within 2x of the peer.

| target | threads | waiting on a lock | deadlocked | scan µs (best / median) | stat files µs (best / median) | scan / stat (best / median) |
|---|---:|---:|---:|---:|---:|---:|
${rows%
}
MD
)
echo "$section"
if [ "$WRITE" -eq 1 ]; then
	python3 - "$TOP/docs/benchmarks.md" "$section" <<'PY'
import os, re, sys
path, section = sys.argv[1], sys.argv[2].rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
m = re.search(r"^## Lock graph\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	echo "bench/locks.sh: wrote the Lock graph section of docs/benchmarks.md" >&2
fi
