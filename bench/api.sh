#!/bin/bash
# API benchmark: a real `hound run` watching 100 targets (one sleeping process
# each, two rules each, interval 1s). Measures, in one run, requests/s of
# GET /metrics and GET /v1/targets under wrk (2 threads, 50 connections), and
# the sampling loop's lag (how late each tick starts) with no load and under
# each load. Writes the "## API" section of docs/benchmarks.md.
#   bash bench/api.sh [PATH_TO_HOUND]        (make bench-api does this)
# DURATION=S sets the length of each phase (default 10).
set -eu

HOUND=${1:-./hound}
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
DOC="$SRCDIR/docs/benchmarks.md"
DURATION=${DURATION:-10}
N=100
command -v wrk >/dev/null || { echo "bench/api.sh: needs wrk (Debian package wrk)" >&2; exit 2; }
TMP=$(mktemp -d)
HPID=
cleanup() {
	[ -n "$HPID" ] && kill "$HPID" 2>/dev/null
	kill $(cat "$TMP/pids" 2>/dev/null) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

: >"$TMP/pids"
for i in $(seq 1 $N); do
	sleep 3600 &
	echo $! >>"$TMP/pids"
done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
API=127.0.0.1:$PORT
{
	echo "interval: 1s"
	echo "history: 10"
	echo "output: $TMP/out"
	echo "api: {listen: '$API'}"
	echo "targets:"
	i=0
	while read -r pid; do
		i=$((i + 1))
		echo "  - name: svc$i"
		echo "    match: {pid: $pid}"
		echo "    rules:"
		echo "      - {name: rss-spike, metric: rss, min: 256MiB, diff: 25%, abs: 2GiB, capture: [heap]}"
		echo "      - {name: cpu-hot, metric: cpu, min: 50%, abs: 180%, capture: [heap]}"
	done <"$TMP/pids"
} >"$TMP/hound.yaml"

"$HOUND" run -c "$TMP/hound.yaml" 2>"$TMP/hound.log" &
HPID=$!
for _ in $(seq 1 100); do
	curl -s "http://$API/metrics" 2>/dev/null | grep -q "^hound_target_processes{target=\"svc$N\"} 1" && break
	sleep 0.1
done
sleep 3 # a few ticks with every process known

# poll PHASE: records the lag and loop time of every tick for DURATION seconds
# (4 polls per 1s interval, so no tick is missed); prints "max_lag max_loop ticks".
poll() {
	local end=$(($(date +%s%N) / 1000000 + DURATION * 1000))
	local t0 t1
	t0=$(curl -s "http://$API/metrics" | awk '$1 == "hound_ticks_total" {print $2}')
	: >"$TMP/poll"
	while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do
		curl -s --max-time 5 "http://$API/metrics" |
			awk '$1 == "hound_sample_lag_seconds" || $1 == "hound_sample_loop_duration_seconds" {printf "%s ", $2} END {print ""}' >>"$TMP/poll"
		sleep 0.25
	done
	t1=$(curl -s "http://$API/metrics" | awk '$1 == "hound_ticks_total" {print $2}')
	awk -v t=$((t1 - t0)) 'NF == 2 { if ($2 > l) l = $2; if ($1 > d) d = $1 } END { printf "%.0f %.0f %d\n", l * 1000, d * 1000, t }' "$TMP/poll"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$HPID/stat"; }

phase() { # phase NAME [PATH]: one measurement; with PATH, under wrk load on it
	local name=$1 path=${2:-} c0 c1 rps="-" p99="-"
	c0=$(cpu_ticks)
	if [ -n "$path" ]; then
		wrk -t2 -c50 -d${DURATION}s --latency "http://$API$path" >"$TMP/wrk.out" 2>&1 &
		local w=$!
	fi
	read -r lag loop ticks < <(poll)
	if [ -n "$path" ]; then
		wait "$w"
		rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$TMP/wrk.out")
		p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.out")
	fi
	c1=$(cpu_ticks)
	local cpu
	cpu=$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v s="$DURATION" 'BEGIN {printf "%.0f", d / hz / s * 100}')
	echo "| $name | $rps | $p99 | $lag | $loop | $ticks | $cpu% |" >>"$TMP/table"
}

: >"$TMP/table"
phase "no load"
phase "GET /metrics" /metrics
phase "GET /v1/targets" /v1/targets
phase "no load (after)"
MBYTES=$(curl -s "http://$API/metrics" | wc -c)
TBYTES=$(curl -s "http://$API/v1/targets" | wc -c)
RSS=$(curl -s "http://$API/metrics" | awk '$1 == "process_resident_memory_bytes" {printf "%.1f", $2 / 1048576}')

CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
{
	echo "## API"
	echo
	echo "Command: \`make bench-api\` (runs \`bench/api.sh ./hound\`), $(date -u +%Y-%m-%d)."
	echo "Machine: $(nproc) CPUs, $CPU, Linux $(uname -r); wrk and hound share it."
	echo
	echo "A real \`hound run\` with $N targets (one sleeping process each, rules on rss and"
	echo "cpu, interval 1s). Each phase lasts ${DURATION}s; under load, \`wrk -t2 -c50\` requests"
	echo "one endpoint as fast as it can. *lag* is how late a sampling tick started against its"
	echo "schedule and *loop* how long the tick took, the worst of every tick in the phase"
	echo "(read from /metrics 4 times per interval); *hound CPU* is the agent's whole CPU use"
	echo "(sampling plus serving). Bodies: /metrics $MBYTES bytes, /v1/targets $TBYTES bytes;"
	echo "agent RSS after the run: ${RSS} MiB."
	echo
	echo "| phase | requests/s | p99 latency | worst lag ms | worst loop ms | ticks | hound CPU |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	cat "$TMP/table"
	echo
} >"$TMP/section"

mkdir -p "$(dirname "$DOC")"
[ -f "$DOC" ] || printf '# Benchmarks\n\n' >"$DOC"
awk -v sect="$TMP/section" '
	/^## / { if (skip) skip = 0; if ($0 == "## API") { skip = 1; done = 1;
		 while ((getline l < sect) > 0) print l; next } }
	!skip { print }
	END { if (!done) { while ((getline l < sect) > 0) print l } }
' "$DOC" >"$TMP/doc"
cp "$TMP/doc" "$DOC"
cat "$TMP/section"
