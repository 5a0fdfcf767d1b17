#!/bin/sh
# Sampling benchmark: forks sleeping target processes, runs bench/sample with
# 1, 10, 100 and 1000 of them, then discovery (one scan of every process on
# the system) against its floor, then a soak. Prints the "## Sampling"
# section; with -w also writes it into docs/benchmarks.md.
#   sh bench/sample.sh [-w] [PATH_TO_BENCH_BINARY]   (make bench-sample does this)
# SOAK=N overrides the number of soak process-samples (default 1000000).
set -eu

WRITE=0
if [ "${1:-}" = -w ]; then
	WRITE=1
	shift
fi
BIN=${1:-./bench/sample}
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
DOC="$SRCDIR/docs/benchmarks.md"
SOAK=${SOAK:-1000000}
MAX=1000
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/pids") 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM

: >"$TMP/pids"
i=0
while [ $i -lt $MAX ]; do
	sleep 3600 &
	echo $! >>"$TMP/pids"
	i=$((i + 1))
done
# let every child exec before we look at it
sleep 1

{
	echo "| targets | metrics | hound µs/sample (best / median) | floor µs/sample (best / median) | hound / floor (best / median) | procps_pids_reap µs/process | procps_pids_select µs/process |"
	echo "|---:|---|---:|---:|---:|---:|---:|"
	for n in 1 10 100 1000; do
		"$BIN" -f "$TMP/pids" -n $n | grep '^|' 
	done
} >"$TMP/table"
{
	echo "| processes on the system | hound scan µs/process (best / median) | floor µs/process (best / median) | hound / floor (best / median) | hound first scan µs/process (median) | libproc2, as discovery used it, µs/process (median) |"
	echo "|---:|---:|---:|---:|---:|---:|"
	"$BIN" -d
} >"$TMP/discovery"
"$BIN" -f "$TMP/pids" -n $MAX -s "$SOAK" >"$TMP/soak"

CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
{
	echo "## Sampling"
	echo
	echo "Command: \`sh bench/sample.sh -w ./bench/sample\` (after \`make bench/sample\`), $(date -u +%Y-%m-%d)."
	echo "Machine: $(nproc) CPUs, $CPU, Linux $(uname -r); load average when written: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "Cost of one process-sample, best and median of 7 interleaved runs (the machine"
	echo "is shared, so the best run is the less disturbed one), all columns measured in"
	echo "the same run against the same sleeping \`sleep\` processes. *hound* is"
	echo "\`proc_handle_sample\` (pread of kept fds, parsing, deltas, cgroup/host PSI);"
	echo "*floor* is a loop that only preads the same files through kept-open fds (and"
	echo "getdents64 of /proc/PID/fd); *procps_pids_reap* is libproc2 reading every"
	echo "process of the system with the equivalent items (no fd count: libproc2 has"
	echo "none), per process; *procps_pids_select* is libproc2 on just the targets."
	echo "*full* = all ten native metrics (stat, statm, status, schedstat, fd/);"
	echo "*basic* = cpu, rss, threads (stat, statm). Goal: hound <= 1.5x floor."
	echo
	cat "$TMP/table"
	echo
	grep '^rss:' "$TMP/soak" | sed 's/^rss: /Memory: /'
	echo
	echo "Discovery, measured apart from sampling: one \`procs_scan_run\` over every"
	echo "process on the system ($MAX sleepers among them), the agent's rescan at each"
	echo "tick, median of 7 interleaved runs of 20 scans. The scan remembers each"
	echo "process: in steady state it lists /proc and reads each process's stat"
	echo "(the *floor* does exactly that and nothing else), and reads status and"
	echo "cmdline only for new, exec'd or re-credentialed processes (*first scan*:"
	echo "every process new). *libproc2* is what discovery cost before: a reap of"
	echo "pid, start time, euid, comm, flags, state and cmdline of every process."
	echo "Costs are per process listed in /proc, kernel threads included."
	echo
	cat "$TMP/discovery"
	echo
	echo "Each soak reports the bench process's VmRSS and glibc's bytes in use"
	echo "(mallinfo2): first sampling and handle churn alone, then the same with"
	echo "libproc2 rescans (whose buffers follow the system's process count)."
	echo
	sed -n '/^soak:/,$p' "$TMP/soak" | sed 's/^soak: /Soak: /'
	echo
} >"$TMP/section"

cat "$TMP/section"
[ "$WRITE" -eq 1 ] || exit 0
# Replace our section in docs/benchmarks.md, keep the others.
mkdir -p "$(dirname "$DOC")"
[ -f "$DOC" ] || printf '# Benchmarks\n\n' >"$DOC"
awk -v sect="$TMP/section" '
	/^## / { if (skip) skip = 0; if ($0 == "## Sampling") { skip = 1; done = 1;
		 while ((getline l < sect) > 0) print l; next } }
	!skip { print }
	END { if (!done) { while ((getline l < sect) > 0) print l } }
' "$DOC" >"$TMP/doc"
cp "$TMP/doc" "$DOC"
echo "bench/sample.sh: wrote the Sampling section of $DOC" >&2
