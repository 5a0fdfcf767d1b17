#!/bin/bash
# api_alertmanager: a real Alertmanager, started here with a webhook receiver
# pointing at a real `hound run`, turns posted alerts into bundles with trigger
# "alert" and the alert's labels and annotations in manifest.json; resolved
# alerts capture nothing; the same alert within the cooldown captures once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

AM=$(command -v prometheus-alertmanager || command -v alertmanager) ||
	skip_all "Alertmanager (Debian package prometheus-alertmanager) is not installed"
command -v curl >/dev/null || skip_all "curl is not installed"

bg sleep 600
SLEEPER=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
OUT=$T/out
TOKEN=am-$$-$RANDOM$RANDOM
printf '%s' "$TOKEN" >"$T/token"
cat >"$T/hound.yaml" <<EOF
interval: 200ms
history: 3
output: $OUT
api:
  listen: $API
  token_file: $T/token
targets:
  - name: api
    match: {pid: $SLEEPER}
    rules:
      - name: rss-huge
        metric: rss
        abs: 100GiB
        cooldown: 2m
        capture: [heap]
alerts:
  - match: {alertname: KubePodHighMemory, severity: page}
    target: api
    capture: [heap]
  - match: {alertname: ProcessHot}
    target_label: hound_target
    capture: [{command: ["true"], timeout: 5s}]
EOF
start_hound hound "$T/hound.yaml" || { fail "hound answers"; cat "$T/hound.log"; done_testing; exit; }

AMPORT=$(free_port)
cat >"$T/am.yml" <<EOF
route:
  receiver: hound
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hound
    webhook_configs:
      - url: http://$API/v1/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: $T/token
EOF
bg "$AM" --config.file="$T/am.yml" --storage.path="$T/am-data" \
	--web.listen-address="127.0.0.1:$AMPORT" --cluster.listen-address= --log.level=info 2>"$T/am.log"
AM_PID=$!
if ! wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$AMPORT/-/ready"; then
	fail "Alertmanager starts"
	cat "$T/am.log"
	done_testing
	exit
fi
pass "Alertmanager is up on 127.0.0.1:$AMPORT"

alert_bundles() { ls -d "$OUT"/bundles/api/*-alert* 2>/dev/null | grep -v '\.tmp$'; }
post_alert() { # post_alert JSON_ARRAY: to Alertmanager's v2 API
	curl -s -o "$T/am_post" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data "$1" "http://127.0.0.1:$AMPORT/api/v2/alerts"
}

# ---- a firing alert becomes a bundle ----
code=$(post_alert '[{"labels":{"alertname":"KubePodHighMemory","severity":"page","pod":"api-7d9"},
  "annotations":{"summary":"api-7d9 uses 93% of its memory limit","runbook":"https://runbooks/mem"},
  "generatorURL":"http://prometheus.example:9090/graph?g0.expr=mem"}]')
check "Alertmanager accepts the alert ($code)" test "$code" = 200
wait_for 30 sh -c "ls '$OUT'/bundles/api/*-alert/manifest.json" >/dev/null 2>&1
B=$(alert_bundles | head -1)
check "the alert produced a bundle" test -n "$B" -a -f "$B/manifest.json"
M=$B/manifest.json
check "manifest trigger kind is alert" test "$(json_get "$M" 'j["trigger"]["kind"]')" = alert
check "manifest has the alert's labels" test "$(json_get "$M" 'j["trigger"]["labels"]["alertname"] + "/" + j["trigger"]["labels"]["pod"]')" = "KubePodHighMemory/api-7d9"
check "manifest has the alert's annotations" test "$(json_get "$M" 'j["trigger"]["annotations"]["summary"]')" = "api-7d9 uses 93% of its memory limit"
check "manifest reason names the alert" grep -q 'KubePodHighMemory is firing' "$M"
check "manifest keeps the alert's generatorURL" \
	test "$(json_get "$M" 'j["trigger"]["generator_url"]')" = "http://prometheus.example:9090/graph?g0.expr=mem"
"$HOUND" report "$B" >"$T/alert_report.txt" 2>&1
check "hound report shows the alert's labels" grep -q '^alert .* alertname=KubePodHighMemory .*pod=api-7d9' "$T/alert_report.txt"
check "hound report shows where the alert came from" \
	grep -q '^source   http://prometheus.example:9090/graph?g0.expr=mem' "$T/alert_report.txt"
check "bundle is for the target's process" test "$(json_get "$M" 'j["process"]["pid"]')" = "$SLEEPER"
check "hound logged the alert as captured" grep -q 'msg="alert received" alertname=KubePodHighMemory status=firing .*action=captured' "$T/hound.log"
check "Alertmanager delivered without error" sh -c "! grep -q 'Notify for alerts failed' '$T/am.log'"

# ---- target_label routing ----
wait_for 30 sh -c "! curl -s -H \"Authorization: Bearer $TOKEN\" http://$API/v1/targets | grep -q '\"capturing\":true'"
n_before=$(alert_bundles | wc -l)
post_alert '[{"labels":{"alertname":"ProcessHot","hound_target":"api"},"annotations":{"summary":"hot"}}]' >/dev/null
wait_for 30 sh -c "[ \$(ls -d '$OUT'/bundles/api/*-alert*/manifest.json 2>/dev/null | wc -l) -gt $n_before ]"
check "an alert naming its target in a label is routed there" test "$(alert_bundles | wc -l)" -gt "$n_before"

# ---- resolved alerts capture nothing ----
wait_for 30 sh -c "! curl -s -H \"Authorization: Bearer $TOKEN\" http://$API/v1/targets | grep -q '\"capturing\":true'"
n_before=$(alert_bundles | wc -l)
past=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
post_alert "[{\"labels\":{\"alertname\":\"KubePodHighMemory\",\"severity\":\"page\",\"pod\":\"api-7d9\"},\"endsAt\":\"$past\"}]" >/dev/null
wait_for 30 grep -q 'alertname=KubePodHighMemory status=resolved .*action=ignored' "$T/hound.log"
check "the resolved notification reached hound and was ignored" grep -q 'alertname=KubePodHighMemory status=resolved .*action=ignored' "$T/hound.log"
sleep 1
check "no bundle for a resolved alert" test "$(alert_bundles | wc -l)" = "$n_before"

# ---- the same alert repeated within the cooldown captures once ----
WEBHOOK='{"version":"4","status":"firing","receiver":"hound","groupKey":"{}:{alertname=\"Dup\"}",
 "alerts":[{"status":"firing","labels":{"alertname":"KubePodHighMemory","severity":"page","pod":"dup"},
 "annotations":{},"startsAt":"2024-01-01T00:00:00Z","fingerprint":"feedbeef00112233"}]}'
code=$(http POST /v1/alerts -H "Authorization: Bearer $TOKEN" -d "$WEBHOOK")
check "a webhook posted directly is answered 200" test "$code" = 200
check "first delivery captures" test "$(body_json 'j["alerts"][0]["action"]')" = captured
wait_for 30 sh -c "! curl -s -H \"Authorization: Bearer $TOKEN\" http://$API/v1/targets | grep -q '\"capturing\":true'"
code=$(http POST /v1/alerts -H "Authorization: Bearer $TOKEN" -d "$WEBHOOK")
check "the repeat within the cooldown is refused" test "$(body_json 'j["alerts"][0]["action"] + "/" + j["alerts"][0]["refusal"]')" = refused/cooldown
expect 401 "the webhook needs the token" POST /v1/alerts -d "$WEBHOOK"
expect 400 "a webhook of another version is refused" POST /v1/alerts -H "Authorization: Bearer $TOKEN" -d '{"version":"3","alerts":[]}'

expect 401 "GET /v1/captures needs the token too" GET /v1/captures
expect 200 "GET /v1/captures" GET /v1/captures -H "Authorization: Bearer $TOKEN"
check "captures list the alert bundles" test "$(body_json 'sum(1 for c in j["captures"] if c["trigger"] == "alert")')" -ge 3
check "the token is not in hound's log" sh -c "! grep -qF '$TOKEN' '$T/hound.log'"

kill "$AM_PID" "$HOUND_PID"
done_testing
