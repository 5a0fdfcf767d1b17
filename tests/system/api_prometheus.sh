#!/bin/bash
# api_prometheus: a real Prometheus scrapes hound's /metrics for a few seconds;
# the scrape target must be "up" with no error, and the series queryable. The
# agent uploads to an endpoint where nothing listens, so the upload-queue
# series (pending bundles and bytes, errors) carry real values.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v prometheus >/dev/null || skip_all "prometheus (Debian package prometheus) is not installed"
command -v curl >/dev/null || skip_all "curl is not installed"

bg sleep 600
SLEEPER=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
DEAD=$(free_port) # nothing listens there: uploads fail and stay pending
cat >"$T/hound.yaml" <<EOF
interval: 200ms
history: 3
output: $T/out
api:
  listen: $API
upload:
  s3:
    endpoint: http://127.0.0.1:$DEAD
    bucket: bundles
    region: us-east-1
    path_style: true
    access_key_id: test
    secret_access_key: test
targets:
  - name: api
    match: {pid: $SLEEPER}
    rules:
      - name: rss-huge
        metric: rss
        min: 1MiB
        diff: 400%
        abs: 100GiB
        capture: [heap]
      - name: many-threads
        metric: threads
        abs: 1000
        capture: [heap]
EOF
start_hound hound "$T/hound.yaml" || { fail "hound answers"; cat "$T/hound.log"; done_testing; exit; }

# A bundle that cannot be uploaded: the upload series must show it.
expect 202 "capture for the upload queue" POST /v1/captures -d '{"target":"api","capture":["heap"]}'
wait_for 20 sh -c "curl -s http://$API/metrics | grep -q '^hound_upload_errors_total{kind=\"other\"} [1-9]'"
check "metrics: failed upload attempts counted" test "$(metric 'hound_upload_errors_total{kind="other"}')" -ge 1
check "metrics: the bundle is pending upload" test "$(metric hound_upload_pending_bundles)" = 1
check "metrics: pending bytes" test "$(metric hound_upload_pending_bytes)" -gt 0
expect 200 "GET /v1/captures" GET /v1/captures
check "captures show the upload state pending" test "$(body_json 'j["captures"][0]["upload"]')" = pending

PPORT=$(free_port)
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hound
    static_configs:
      - targets: ['$API']
EOF
bg prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn 2>"$T/prom.log"
PROM_PID=$!
if ! wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PPORT/-/ready"; then
	fail "Prometheus starts"
	cat "$T/prom.log"
	done_testing
	exit
fi
pass "Prometheus is up on 127.0.0.1:$PPORT"

q() { # q PROMQL: the first value of an instant query, or nothing
	curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
# Wait for at least 4 scrapes of hound.
wait_for 30 sh -c "[ \"\$(curl -s 'http://127.0.0.1:$PPORT/api/v1/query' --data-urlencode 'query=count_over_time(up{job=\"hound\"}[1m])' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else 0)')\" -ge 4 ]"
check "Prometheus scraped hound at least 4 times" test "$(q 'count_over_time(up{job="hound"}[1m])')" -ge 4

curl -s "http://127.0.0.1:$PPORT/api/v1/targets" >"$T/targets.json"
check "the scrape target is up" test "$(json_get "$T/targets.json" 'j["data"]["activeTargets"][0]["health"]')" = up
check "the scrape has no error" test -z "$(json_get "$T/targets.json" 'j["data"]["activeTargets"][0]["lastError"]')"
check "every scrape succeeded" test "$(q 'min_over_time(up{job="hound"}[1m])')" = 1
check "hound_ticks_total is queryable and rising" test "$(q 'increase(hound_ticks_total[30s]) > 0')" != ""
check "per-target metric gauge is queryable" test -n "$(q 'hound_target_metric_bytes{target="api",metric="rss"}')"
check "rule thresholds are queryable" test "$(q 'hound_rule_threshold_bytes{target="api",rule="rss-huge",bound="min"}')" = 1048576
check "upload series are queryable" test "$(q 'hound_upload_pending_bundles')" = 1
check "no series carries a pid label" test "$(q 'count({job="hound",pid!=""})')" = ""
check "Prometheus logged no scrape warnings for hound" sh -c "! grep -qi 'hound.*\\(error\\|invalid\\)' '$T/prom.log'"
expect 200 "hound is healthy after being scraped" GET /healthz

kill "$PROM_PID" "$HOUND_PID"
done_testing
