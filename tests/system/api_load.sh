#!/bin/bash
# api_load: a bounded load on the API (50 concurrent clients for 4 seconds on
# /metrics and /v1/targets, plus 20 clients that send half a request and stall)
# while the agent samples every 200ms. The agent must stay healthy, keep
# ticking and still take a capture. The worst sampling lag is reported, not
# asserted: machines are noisy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v curl >/dev/null || skip_all "curl is not installed"

for i in 1 2 3 4 5; do bg sleep 600 "0.$$"; done
PORT=$(free_port)
API=127.0.0.1:$PORT
cat >"$T/hound.yaml" <<EOF
interval: 200ms
history: 3
output: $T/out
api:
  listen: $API
targets:
  - name: load
    match: {comm: sleep, cmdline: '^sleep 600 0\\.$$\$'}
    rules:
      - name: rss-huge
        metric: rss
        abs: 100GiB
        capture: [heap]
      - name: fds
        metric: fds
        abs: 100000
        capture: [heap]
EOF
start_hound hound "$T/hound.yaml" || { fail "hound answers"; cat "$T/hound.log"; done_testing; exit; }
wait_for 30 sh -c "curl -s http://$API/metrics | grep -q '^hound_target_processes{target=\"load\"} 5'"
lag_before=$(metric hound_sample_lag_max_seconds)
ticks_before=$(metric hound_ticks_total)

# Clients that open a POST, send part of it and then say nothing.
python3 - "$PORT" 20 6 <<'EOF' &
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/captures HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"target\":")
    socks.append(s)
time.sleep(hold)
EOF
STALL_PID=$!
TEST_PIDS="$TEST_PIDS $STALL_PID"

DURATION=4
if command -v wrk >/dev/null; then
	TOOL=wrk
	wrk -t1 -c25 -d${DURATION}s "http://$API/metrics" >"$T/load_metrics.txt" 2>&1 &
	L1=$!
	wrk -t1 -c25 -d${DURATION}s "http://$API/v1/targets" >"$T/load_targets.txt" 2>&1 &
	L2=$!
elif command -v ab >/dev/null; then
	TOOL=ab
	ab -q -c25 -t$DURATION -n 1000000 "http://$API/metrics" >"$T/load_metrics.txt" 2>&1 &
	L1=$!
	ab -q -c25 -t$DURATION -n 1000000 "http://$API/v1/targets" >"$T/load_targets.txt" 2>&1 &
	L2=$!
else
	TOOL=curl
	end=$(($(date +%s) + DURATION))
	for c in $(seq 1 50); do
		(while [ "$(date +%s)" -lt $end ]; do curl -s -o /dev/null "http://$API/metrics"; done) &
	done
	L1=$!
	L2=$!
fi
TEST_PIDS="$TEST_PIDS $L1 $L2"

# While the load runs: health, and a capture request, must still be answered.
# Both from other loopback addresses: the load's 50 connections and the 20
# stalled ones all come from 127.0.0.1, and the API caps connections per
# client address (a client over its cap is closed, as it should be); a
# kubelet or Prometheus probes from its own address.
healthy=1
for i in 1 2 3 4 5 6; do
	sleep 0.5
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 127.0.0.3 "http://$API/healthz")
	[ "$code" = 200 ] || { healthy=0; diag "healthz during load: $code"; }
done
check "healthz answered 200 throughout the load" test "$healthy" = 1
code=$(http POST /v1/captures -d '{"target":"load","capture":["heap"]}' --max-time 10 --interface 127.0.0.2)
check "a capture request is taken during the load and the stalled clients ($code)" test "$code" = 202
wait "$L1" "$L2" 2>/dev/null

ticks_after=$(metric hound_ticks_total)
lag_after=$(metric hound_sample_lag_max_seconds)
check "the sampling loop kept ticking under load ($ticks_before -> $ticks_after)" test "$ticks_after" -gt $((ticks_before + 5))
expect 200 "hound is healthy after the load" GET /healthz
wait_for 30 sh -c "curl -s http://$API/v1/captures | grep -q '\"trigger\":\"api\"'"
# a native heap profiles page faults for 10 s: wait for it, bounded
check "the capture taken under load completed" wait_for 60 sh -c "curl -s http://$API/v1/captures | grep -q '\"ok\":true'"
if [ "$TOOL" = wrk ]; then
	diag "load: $TOOL 2x25 connections ${DURATION}s: /metrics $(awk '/Requests\/sec/ {print $2}' "$T/load_metrics.txt") req/s, /v1/targets $(awk '/Requests\/sec/ {print $2}' "$T/load_targets.txt") req/s"
fi
diag "worst sampling lag: ${lag_before}s before the load, ${lag_after}s after it (interval 0.2s)"
kill "$STALL_PID" 2>/dev/null
kill "$HOUND_PID"
done_testing
