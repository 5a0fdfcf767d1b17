#!/bin/bash
# agent_fds: many targets under a low open-file limit. hound raises its soft
# RLIMIT_NOFILE to the hard one, keeps /proc files open only within a budget
# that leaves a reserve for the API, captures and uploads, samples the rest
# with open/read/close, and says so in /metrics and `hound status`. The
# attack: 300 target processes with a hard limit of 256 (prlimit).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v curl >/dev/null || skip_all "curl is not installed"
command -v prlimit >/dev/null || skip_all "prlimit (util-linux) is not installed"

N=300
for i in $(seq 1 $N); do bg sleep 600 "0.$$"; done
LAST=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
cat >"$T/hound.yaml" <<YAML
interval: 200ms
history: 3
output: $T/out
api:
  listen: $API
targets:
  - name: many
    match: {comm: sleep, cmdline: '^sleep 600 0\\.$$\$'}
    rules:
      - {name: rss-huge, metric: rss, abs: 100GiB, capture: [stacks]}
      - {name: fds-many, metric: fds, abs: 100000, capture: [stacks]}
YAML
metric_of() { awk -v n="$1" '$1 == n {print $2}' "$T/metrics"; }

# soft 128, hard 256: hound raises the soft limit to 256
bg prlimit --nofile=128:256 "$HOUND" run -c "$T/hound.yaml" 2>"$T/hound.log"
HOUND_PID=$!
check "hound answers under a 256-fd hard limit" wait_for 30 curl -sf -o /dev/null "http://$API/healthz"
check "all $N processes joined" wait_for 120 sh -c "curl -s http://$API/metrics | grep -qx 'hound_target_processes{target=\"many\"} $N'"
# wait until every process has been sampled at least twice (rss and fds valid)
all_sampled() {
	curl -s "http://$API/v1/targets" >"$T/targets.json" &&
		[ "$(json_get "$T/targets.json" 'sum(1 for p in j["targets"][0]["processes"] if p["metrics"].get("rss", 0) > 0 and p["metrics"].get("fds", -1) >= 0)')" = "$N" ]
}
check "every process is sampled, kept fds or not (rss and fds)" wait_for 120 all_sampled
curl -s "http://$API/metrics" >"$T/metrics"
check "the soft limit was raised to the hard limit ($(metric_of hound_open_files_limit))" test "$(metric_of hound_open_files_limit)" = 256
kept=$(metric_of hound_open_files_kept) max=$(metric_of hound_open_files_kept_max) deg=$(metric_of hound_processes_degraded)
diag "kept $kept of $max, $deg processes degraded"
check "kept fds stay within the budget ($kept <= $max < 256)" test "$kept" -le "$max" -a "$max" -lt 256
check "the degradation is reported in /metrics ($deg processes)" test "$deg" -gt 0
open_now=$(ls /proc/"$HOUND_PID"/fd 2>/dev/null | wc -l)
# HOUND_PID is prlimit's pid, which exec'd hound
check "hound's real fd count leaves room under the limit ($open_now < 256)" test "$open_now" -lt 256
"$HOUND" status -a "$API" >"$T/status.txt" 2>&1
check "hound status reports the degradation" grep -q "DEGRADED: [0-9]* processes sampled without kept files (open file limit 256" "$T/status.txt"
# 300 processes sampled with open/read/close on a busy machine may make a
# tick late (503): the API must answer, and the loop must be healthy again.
check "/healthz answers and the loop is healthy" wait_for 30 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://$API/healthz)\" = 200 ]"
# The reserve serves captures: one on a degraded process works.
code=$(curl -s -o "$T/cap.json" -w '%{http_code}' -X POST -d "{\"target\":\"many\",\"pid\":$LAST,\"capture\":[\"stacks\"]}" "http://$API/v1/captures")
check "a capture is accepted under the fd pressure ($code)" test "$code" = 202
check "and its bundle completes" wait_for 60 sh -c "ls '$T'/out/bundles/many/*-$LAST-api/manifest.json"
check "with stacks.txt" sh -c "ls '$T'/out/bundles/many/*-$LAST-api/stacks.txt"
# Processes leave: the budget is given back and sampling stays right.
for p in $(echo $TEST_PIDS | tr ' ' '\n' | head -100); do kill "$p" 2>/dev/null; done
check "100 processes left" wait_for 60 sh -c "curl -s http://$API/metrics | grep -qx 'hound_target_processes{target=\"many\"} $((N - 100))'"
curl -s "http://$API/metrics" >"$T/metrics"
check "sample errors stay 0 ($(metric_of hound_sample_errors_total))" test "$(metric_of hound_sample_errors_total)" = 0
check "no sanitizer report, no EMFILE in the log" sh -c "! grep -q 'Sanitizer\|runtime error\|Too many open files' '$T/hound.log'"
kill "$HOUND_PID"
wait "$HOUND_PID"
check "hound exits 0" test $? = 0
done_testing
