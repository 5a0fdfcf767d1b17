#!/usr/bin/env bash
# bench/agent.sh: the whole agent (`hound run`) watching N real processes:
# its RSS over time, its CPU per process-sample, and its loop duration, with
# discovery, sampling and rule evaluation all included.
#
#   bench/agent.sh [BUILD_DIR] [N] [SECONDS]     (defaults: . 1000 60)
#   NOAPI=1 bench/agent.sh ...   the same agent without `api:` (RSS only: the
#                                 per-sample figures come from /metrics)
#
# Prints a Markdown table row per checkpoint; nothing is written elsewhere.
set -euo pipefail
build=${1:-.}
n=${2:-1000}
secs=${3:-60}
hound=$build/hound
[ -x "$hound" ] || { echo "no hound binary at $hound" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hound-bench-agent.XXXXXX")
pids=()
cleanup() {
	[ -n "${hpid:-}" ] && kill -TERM "$hpid" 2>/dev/null
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# N sleeping processes with a recognisable command line.
for _ in $(seq 1 "$n"); do
	sleep 86399.5 &
	pids+=($!)
done
ulimit -n 65536 2>/dev/null || true
port=$((20000 + RANDOM % 20000))
cat >"$tmp/hound.yaml" <<YAML
interval: 1s
history: 10
output: $tmp/out
$([ -n "${NOAPI:-}" ] || echo "api: {listen: \"127.0.0.1:$port\"}")
targets:
  - name: sleepers
    match: {cmdline: '^sleep 86399\.5$'}
    rules:
      - {name: rss, metric: rss, diff: 200%, capture: [heap]}
      - {name: threads, metric: threads, abs: 1000, capture: [stacks]}
      - {name: cpu, metric: cpu, abs: 90%, capture: [stacks]}
      - {name: fds, metric: fds, abs: 1000, capture: [stacks]}
YAML
"$hound" run -c "$tmp/hound.yaml" 2>"$tmp/hound.log" &
hpid=$!
hz=$(getconf CLK_TCK)
metric() {
	[ -n "${NOAPI:-}" ] && return 0
	curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1==m {print $2}'
}
echo "| t (s) | processes | agent RSS (KiB) | agent CPU per process-sample (µs) | last loop (ms) |"
echo "|---:|---:|---:|---:|---:|"
start=$(date +%s)
prev_cpu=0 prev_samples=0
for t in $(seq 10 10 "$secs"); do
	sleep $((start + t - $(date +%s)))
	rss=$(awk '/^VmRSS/{print $2}' "/proc/$hpid/status")
	cpu=$(awk '{print $14 + $15}' "/proc/$hpid/stat")
	samples=$(metric hound_samples_total)
	loop=$(metric hound_sample_loop_duration_seconds)
	procs=$(metric 'hound_target_processes{target="sleepers"}')
	per=$(python3 -c "print('%.1f' % (($cpu - $prev_cpu) / $hz * 1e6 / max(1, ${samples:-0} - $prev_samples)))")
	loop_ms=$(python3 -c "print('%.1f' % (float('${loop:-0}') * 1000))")
	[ -n "${NOAPI:-}" ] && per=- loop_ms=- procs=$(pgrep -fxc 'sleep 86399\.5')
	printf '| %d | %s | %s | %s | %s |\n' "$t" "${procs:-?}" "$rss" "$per" "$loop_ms"
	prev_cpu=$cpu prev_samples=${samples:-0}
done
