#!/usr/bin/env bash
# own_series: rules on a target's own numbers. A real HTTP service on
# 127.0.0.1 counts jobs; a `stalled` rule on its Prometheus counter stays quiet
# while it counts and fires once it stops. A series that disappears and an
# expvar path that does not exist: a clear error in the status and the log,
# and no firing.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/system/api_lib.inc"

command -v python3 >/dev/null || skip_all "python3 missing"
mkdir -p "$T/ctl"
bg python3 "$TOP_SRCDIR/tests/system/own_series_server.py" "$T/ctl" "$T/port"
SRV=$!
wait_for 20 test -s "$T/port" || { fail "server started"; done_testing; exit 1; }
URL=http://127.0.0.1:$(cat "$T/port")
API=127.0.0.1:$(free_port)

cat >"$T/hound.yaml" <<YAML
interval: 200ms
history: 2
output: $T/out
api:
  listen: $API
targets:
  - name: svc
    match:
      pid: $SRV
    rules:
      - name: jobs-stopped
        metric: {prometheus: 'jobs_done_total{queue="a"}', url: '$URL/metrics'}
        stalled: 2s
        capture: [fds]
      - name: b-stopped
        metric: {prometheus: 'jobs_done_total{queue="b"}', url: '$URL/metrics'}
        stalled: 1s
        capture: [fds]
      - name: typo
        metric: {expvar: memstats.HeapObjectz, url: '$URL/debug/vars'}
        below: 1e12
        capture: [fds]
      - name: objects
        metric: {expvar: memstats.HeapObjects, url: '$URL/debug/vars'}
        below: 1
        capture: [fds]
YAML
"$HOUND" check -c "$T/hound.yaml" >/dev/null 2>"$T/check.err"
check "hound check accepts prometheus, expvar, below and stalled" test $? -eq 0
start_hound agent "$T/hound.yaml" || fail "agent started"

targets_json() { [ "$(http GET /v1/targets)" = 200 ]; }
samples() {
	targets_json && json_get "$T/body" 'j["targets"][0]["processes"][0]["samples"]'
}
at_least() { local n; n=$(samples) && [ "$n" -ge "$1" ]; }
# 20 samples = 4 s while the counter runs: twice what jobs-stopped needs.
check "the service is sampled while it counts" wait_for 30 at_least 20
bundles() { ls -d "$T/out/bundles/svc/"*-"$1"/ 2>/dev/null | grep -v '\.tmp/$'; }
check "a counting series never looks stalled" test -z "$(bundles jobs-stopped)"
check "an expvar value above the bound does not fire below" test -z "$(bundles objects)"
# The status shows the first problem of the latest tick; on a loaded machine a
# tick may also time out on the endpoint, so these look until a clean tick.
expvar_error() {
	targets_json && python3 - "$T/body" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["targets"][0]["processes"][0]
e, m = p.get("series_error") or "", p["metrics"]
sys.exit(0 if "expvar memstats.HeapObjectz" in e and "no key 'HeapObjectz' in memstats" in e
         and m['jobs_done_total{queue="a"}'] > 0 and m["memstats.HeapObjects"] >= 1000
         and m["memstats.HeapObjectz"] is None else 1)
PY
}
check "the missing expvar path is an error in the status; the others have values" wait_for 30 expvar_error
status_text() {
	"$HOUND" status -a "$API" >"$T/status.txt" 2>&1
	grep -q "target series error: rule typo: expvar memstats.HeapObjectz" "$T/status.txt" &&
		grep -Eq "^    jobs_done_total\{queue=\"a\"\} [0-9.]+ +jobs-stopped: stalled 2s; streak" "$T/status.txt"
}
check "hound status prints the error, and the rule under its series" wait_for 30 status_text
check "and in the log" grep -q "target series failed.*no key 'HeapObjectz' in memstats" "$T/agent.log"
check "and the rule never fires" test -z "$(bundles typo)"

# The queue="b" series disappears: an error, and its stalled rule does not fire.
touch "$T/ctl/gone"
gone_error() {
	targets_json && grep -q 'series jobs_done_total{queue=\\"b\\"} not found' "$T/body" &&
		grep -q "no key 'HeapObjectz' in memstats" "$T/body"
}
check "a series that disappears is an error in the status, beside the other one" wait_for 20 gone_error
n0=$(samples)
check "sampled on for 3 s more" wait_for 30 at_least $((n0 + 15))
check "the vanished series' stalled rule does not fire" test -z "$(bundles b-stopped)"
check "the log names the vanished series" grep -q 'not found at http://127.0.0.1:[0-9]*/metrics' "$T/agent.log"

# The counter stops: jobs-stopped fires once 2 s pass without progress.
touch "$T/ctl/stop"
check "a stopped counter fires stalled" wait_for 30 bundles jobs-stopped
b=$(bundles jobs-stopped | head -1)
check "manifest: condition stalled, rate 0, threshold 2 s" python3 - "$b/manifest.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = j["trigger"]
assert t["condition"] == "stalled", t
assert t["metric"] == "prometheus", t
assert t["value"] == 0 and t["threshold"] == 2, t
assert 'jobs_done_total{queue="a"}' in j["reason"], j["reason"]
PY
check "the bundle has fds.txt" test -s "$b/fds.txt"
kill -TERM "$HOUND_PID"; wait "$HOUND_PID"
check "hound exits 0" test $? -eq 0
done_testing
