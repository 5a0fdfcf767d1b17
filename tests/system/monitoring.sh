#!/bin/bash
# monitoring: the observability kit in packaging/monitoring/. The alerting
# rules pass `promtool check rules` and their unit tests (`promtool test
# rules`), and neither check is a rubber stamp; every query of the Grafana
# dashboard runs without error and returns data in a real Prometheus scraping
# a real hound that fires rules, captures, refuses and fails to upload; the
# rules load and evaluate there too. (podmonitor.yaml is checked against the
# operator's schema by k8s_schema.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v promtool >/dev/null || skip_all "promtool (Debian package prometheus) is not installed"
command -v prometheus >/dev/null || skip_all "prometheus (Debian package prometheus) is not installed"
command -v curl >/dev/null || skip_all "curl is not installed"
K=$TOP_SRCDIR/packaging/monitoring

check "promtool check rules accepts hound-rules.yaml" promtool check rules "$K/hound-rules.yaml"
check "promtool test rules: the alerts fire when they should and only then" \
	sh -c "cd '$K' && promtool test rules hound-rules.test.yaml"
sed 's/expr: hound_healthy == 0/expr: hound_healthy === 0/' "$K/hound-rules.yaml" >"$T/bad-rules.yaml"
check "a rule with a broken expression is refused" sh -c "! promtool check rules '$T/bad-rules.yaml' >/dev/null 2>&1"
cp "$K/hound-rules.yaml" "$T/"
sed 's/values: .1 1 0x10./values: "1x12"/' "$K/hound-rules.test.yaml" >"$T/wrong.test.yaml"
check "a unit test whose expectation is wrong fails" sh -c "! (cd '$T' && promtool test rules wrong.test.yaml >/dev/null 2>&1)"

python3 - "$K/grafana-dashboard.json" >"$T/exprs" 2>"$T/dash.err" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["uid"] and d["panels"], "no panels"
for p in d["panels"]:
    assert p["datasource"]["uid"] == "${datasource}", p["title"]
    for t in p["targets"]:
        print(t["expr"])
PY
check "the dashboard is JSON whose panels all use the datasource variable" test -s "$T/exprs"
n=$(wc -l <"$T/exprs")

# A real hound: a rule that fires on every sample, captures limited to 2 (so
# later firings are refused), uploads to an endpoint where nothing listens.
bg sleep 600 "0.$$"
SLEEPER=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
DEAD=$(free_port)
cat >"$T/hound.yaml" <<EOF
interval: 200ms
history: 3
output: $T/out
max_disk: 1GiB
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
      - name: always
        metric: rss
        abs: 1B
        cooldown: 1s
        capture: [stacks]
      - name: cpu-hot
        metric: cpu
        abs: 500%
        capture: [stacks]
    limits: {max_captures: 2, window: 1h}
EOF
start_hound hound "$T/hound.yaml" || { fail "hound answers"; cat "$T/hound.log"; done_testing; exit; }
wait_for 30 sh -c "curl -s http://$API/metrics | grep -q '^hound_capture_refusals_total{target=\"api\",reason=\"limit\"} [1-9]'"
check "hound fired, captured twice, then refused" test "$(metric 'hound_capture_refusals_total{target="api",reason="limit"}')" -ge 1

PPORT=$(free_port)
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ['$K/hound-rules.yaml']
scrape_configs:
  - job_name: hound
    static_configs:
      - targets: ['$API']
EOF
bg prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn 2>"$T/prom.log"
PROM_PID=$!
wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PPORT/-/ready" || { fail "Prometheus starts"; cat "$T/prom.log"; done_testing; exit; }
pass "Prometheus is up with the rules loaded"
scrapes() { curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=count_over_time(up{job="hound"}[1m])' |
	python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'; }
wait_for 60 sh -c "[ \"\$(curl -s 'http://127.0.0.1:$PPORT/api/v1/query' --data-urlencode 'query=count_over_time(up{job=\"hound\"}[1m])' | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else 0)')\" -ge 6 ]"
check "Prometheus scraped hound at least 6 times ($(scrapes))" test "$(scrapes)" -ge 6

# query EXPR: "ok N" (N series) or "error ..."
query() {
	curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("ok %d" % len(j["data"]["result"]) if j.get("status") == "success" else "error " + j.get("error", "?"))'
}
# Each query as the dashboard sends it must be valid; its data is looked for
# over the last 30 s (a scrape that timed out on a busy machine marks every
# series stale for a second, which says nothing about the query).
while IFS= read -r e; do
	r=$(query "$e")
	d=$(query "last_over_time(($e)[30s:1s])")
	check "dashboard query is valid and has data: $e ($r; $d)" \
		sh -c "case '$r' in error*) exit 1;; esac; case '$d' in 'ok 0'|error*) exit 1;; ok*) exit 0;; *) exit 1;; esac"
done <"$T/exprs"
check "all $n dashboard queries were run" test "$n" -ge 10

curl -s "http://127.0.0.1:$PPORT/api/v1/rules" >"$T/rules.json"
check "Prometheus evaluates every hound alert without error" python3 - "$T/rules.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["data"]["groups"]
rules = [r for x in g for r in x["rules"]]
assert len(rules) == 7 and all(r["health"] == "ok" and not r.get("lastError") for r in rules), rules
PY
check "HoundCapturesRefused is pending or firing for the refused captures" python3 - "$T/rules.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["data"]["groups"]
r = [r for x in g for r in x["rules"] if r["name"] == "HoundCapturesRefused"][0]
assert any(a["labels"].get("reason") == "limit" and a["state"] in ("pending", "firing") for a in r["alerts"]), r
PY
kill "$PROM_PID" "$HOUND_PID"
done_testing
