#!/bin/bash
# api_http: every endpoint of the HTTP API over real HTTP (curl) against a real
# `hound run`: answers, refusals, bad inputs, rate limit, authentication on and
# off, the token kept out of logs and answers, `hound status`, SIGHUP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v curl >/dev/null || skip_all "curl is not installed"

# sleep sums its arguments: the second one makes the command line unique to this test
bg sleep 600 "0.$$"
SLEEPER=$!
bg sleep 600 "0.$$"
SLEEPER2=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
OUT=$T/out
cat >"$T/open.yaml" <<EOF
interval: 200ms
history: 3
output: $OUT
api:
  listen: $API
targets:
  - name: sleepers
    match: {comm: sleep, cmdline: '^sleep 600 0\\.$$\$'}
    rules:
      - name: rss-huge
        metric: rss
        abs: 100GiB
        cooldown: 5m
        capture: [heap]
    limits: {max_captures: 5, window: 1h}
  - name: idle
    match: {pid: 999999}
EOF

start_hound open "$T/open.yaml" --log-level=debug || { fail "hound answers on $API"; cat "$T/open.log"; done_testing; exit; }
pass "hound run serves the API on $API"

# ---- GET endpoints ----
expect 200 "GET /healthz" GET /healthz
check "healthz says ok" test "$(body_json 'j["status"]')" = ok
expect 200 "HEAD /healthz" HEAD /healthz -I
wait_for 30 sh -c "curl -s http://$API/v1/targets | grep -q '\"rss\":[0-9]'"
expect 200 "GET /v1/targets" GET /v1/targets
check "targets lists both targets" test "$(body_json '[t["name"] for t in j["targets"]]')" = "['sleepers', 'idle']"
check "targets lists both sleep processes" test "$(body_json 'sorted(p["pid"] for p in j["targets"][0]["processes"])')" = "$(python3 -c "print(sorted([$SLEEPER, $SLEEPER2]))")"
check "each process has its last rss and rule state" test "$(body_json 'all(p["metrics"]["rss"] > 0 and p["rules"][0]["rule"] == "rss-huge" and p["comm"] == "sleep" for p in j["targets"][0]["processes"])')" = True
check "rule thresholds are in the target" test "$(body_json 'j["targets"][0]["rules"][0]["abs"]')" = "107374182400"

expect 200 "GET /metrics" GET /metrics
check "metrics content type is Prometheus text" grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/headers"
cp "$T/body" "$T/metrics.txt"
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts /metrics" sh -c "promtool check metrics < '$T/metrics.txt'"
else
	skip_test "promtool check metrics" "promtool (Debian package prometheus) is not installed"
fi
check "metrics: processes per target" grep -q '^hound_target_processes{target="sleepers"} 2$' "$T/metrics.txt"
check "metrics: every counter is typed counter and named _total, every family documented in docs/api.md" python3 - "$T/metrics.txt" "$TOP_SRCDIR/docs/api.md" <<'PY'
import re, sys
text, doc = open(sys.argv[1]).read(), open(sys.argv[2]).read()
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
bad = [n for n, t in types.items() if (t == "counter") != n.endswith("_total")]
undoc = [n for n in types if not re.search(r"`" + re.escape(n) + r"[`{]", doc)]
samples = {re.match(r"[^{ ]+", l).group(0) for l in text.splitlines() if l and not l.startswith("#")}
untyped = sorted(samples - set(types))
assert not bad and not undoc and not untyped, (bad, undoc, untyped)
assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
        "process_max_fds", "process_start_time_seconds"} <= set(types), types
PY
check "metrics: no family mixes units across a metric label" sh -c "! grep -q '^hound_target_metric{' '$T/metrics.txt' && ! grep -q '^hound_rule_threshold{' '$T/metrics.txt'"
start=$(awk '$1 == "process_start_time_seconds" { print int($2) }' "$T/metrics.txt")
pstart=$(date -d "$(ps -o lstart= -p "$HOUND_PID")" +%s)
check "process_start_time_seconds is the agent's start ($start ~ $pstart)" test "$((start - pstart))" -ge -2 -a "$((start - pstart))" -le 2
check "metrics: per-target metric gauge, one name per unit" grep -q '^hound_target_metric_bytes{target="sleepers",metric="rss"} [1-9]' "$T/metrics.txt"
check "metrics: rule threshold" grep -q '^hound_rule_threshold_bytes{target="sleepers",rule="rss-huge",metric="rss",bound="abs"} 107374182400$' "$T/metrics.txt"
check "metrics: no per-pid label" sh -c "! grep -q 'pid=' '$T/metrics.txt'"
check "metrics: loop health" grep -q '^hound_sample_lag_max_seconds ' "$T/metrics.txt"
check "metrics: agent RSS" grep -q '^process_resident_memory_bytes [1-9]' "$T/metrics.txt"

expect 200 "GET /v1/captures (empty)" GET /v1/captures
check "no captures yet" test "$(body_json 'len(j["captures"])')" = 0

# ---- POST /v1/captures ----
expect 202 "capture every process of a target" POST /v1/captures -d '{"target":"sleepers","capture":["stacks"],"reason":"checking a leak"}'
check "one bundle per process" test "$(body_json 'len(j["ids"])')" = 2
ID1=$(body_json 'j["id"]')
wait_for 20 sh -c "! curl -s http://$API/v1/targets | grep -q '\"capturing\":true'"
expect 202 "capture one pid" POST /v1/captures -d "{\"target\":\"sleepers\",\"pid\":$SLEEPER,\"capture\":[\"stacks\"]}"
ID3=$(body_json 'j["id"]')
check "bundle id names the pid and the api trigger ($ID3)" sh -c "echo '$ID3' | grep -Eq '^[0-9]{8}T[0-9]{6}Z-$SLEEPER-api(-[0-9]+)?\$'"
expect 400 "a command capture is refused over the API" POST /v1/captures -d "{\"target\":\"sleepers\",\"capture\":[{\"command\":[\"id\"]}]}"
wait_for 30 test -f "$OUT/bundles/sleepers/$ID3/manifest.json"
check "api bundle written" test -f "$OUT/bundles/sleepers/$ID1/manifest.json"
check "manifest trigger is api" test "$(json_get "$OUT/bundles/sleepers/$ID1/manifest.json" 'j["trigger"]["kind"]')" = api
check "manifest reason is the request's" grep -q 'checking a leak' "$OUT/bundles/sleepers/$ID1/manifest.json"
wait_for 30 sh -c "curl -s http://$API/v1/captures | grep -q '$ID3'"
expect 200 "GET /v1/captures" GET /v1/captures
check "captures lists the bundles with upload state" test "$(body_json 'sorted((c["trigger"], c["upload"], c["ok"]) for c in j["captures"])')" = "[('api', 'local', True), ('api', 'local', True), ('api', 'local', True)]"

# limits: 3 of 5 used; the next request for both processes takes 2 ...
wait_for 30 sh -c "! curl -s http://$API/v1/targets | grep -q '\"capturing\":true'"
expect 202 "capture within the limit" POST /v1/captures -d '{"target":"sleepers","capture":["stacks"]}'
wait_for 30 sh -c "! curl -s http://$API/v1/targets | grep -q '\"capturing\":true'"
# ... and the next one is over the limit.
expect 429 "capture over limits.max_captures" POST /v1/captures -d '{"target":"sleepers","capture":["stacks"]}'
check "refusal names the limit" test "$(body_json 'j["refusal"]')" = limit

# ---- bad inputs ----
expect 404 "unknown target" POST /v1/captures -d '{"target":"nope"}'
expect 409 "target without processes" POST /v1/captures -d '{"target":"idle"}'
expect 404 "pid that is not the target's" POST /v1/captures -d '{"target":"sleepers","pid":1}'
expect 400 "unknown capture kind" POST /v1/captures -d '{"target":"sleepers","capture":["bogus"]}'
check "error names the kind" grep -q "unknown capture kind 'bogus'" "$T/body"
expect 400 "Go-only kind on a native target" POST /v1/captures -d '{"target":"sleepers","capture":["goroutines"]}'
expect 400 "bad JSON" POST /v1/captures -d '{"target":'
expect 400 "not an object" POST /v1/captures -d '[1,2]'
expect 400 "unknown field" POST /v1/captures -d '{"target":"sleepers","pids":[1]}'
expect 400 "bad duration" POST /v1/captures -d '{"target":"sleepers","capture":[{"cpu":"forever"}]}'
expect 400 "empty body" POST /v1/captures
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
expect 413 "body over 1 MiB (Content-Length)" POST /v1/captures --data-binary @"$T/big"
expect 413 "body over 1 MiB (chunked)" POST /v1/captures -H 'Transfer-Encoding: chunked' --data-binary @"$T/big"
expect 400 "bad webhook" POST /v1/alerts -d '{"version":"4","alerts":"no"}'
expect 405 "DELETE /v1/captures" DELETE /v1/captures
check "405 says what is allowed" grep -qi '^Allow: GET, HEAD, POST' "$T/headers"
expect 405 "POST /metrics" POST /metrics -d x
expect 405 "GET /v1/alerts" GET /v1/alerts
expect 405 "PUT /healthz" PUT /healthz -d x
expect 404 "unknown path" GET /v2/nothing
expect 200 "the agent still answers after all that" GET /healthz

# ---- rate limit: the bucket holds 10 requests and refills 10 a minute ----
# Up to 40 tries: a slow machine refills the bucket during the loop, so a
# fixed 12 would pass or fail with the machine's load.
limited=0
for i in $(seq 1 40); do
	code=$(http POST /v1/captures -d '{"target":"idle"}')
	if [ "$code" = 429 ]; then limited=1; break; fi
done
check "capture requests are rate limited (429)" test "$limited" = 1
check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$T/headers"
check "rate limit answer is a JSON error" sh -c "grep -q 'rate limited' '$T/body'"

# ---- hound status ----
"$HOUND" status -a "$API" >"$T/status.txt" 2>&1
check "hound status exits 0" test $? = 0
check "hound status shows the target and its processes" grep -q "target sleepers: 2 processes" "$T/status.txt"
check "hound status shows metric against rule" grep -q "rss-huge: abs 100.0GiB; streak 0/1" "$T/status.txt"
check "hound status shows the cooldown-free idle target" grep -q "target idle: 0 processes" "$T/status.txt"
check "hound status shows recent bundles" grep -q "$ID1" "$T/status.txt"
"$HOUND" status -c "$T/open.yaml" >/dev/null 2>&1
check "hound status finds the address in the config" test $? = 0
"$HOUND" status -a 127.0.0.1:1 >/dev/null 2>&1
check "hound status on a dead address exits 1" test $? = 1

# ---- SIGHUP: the server restarts on the same port, without leaking fds ----
# The count moves while hound works (a scan's directory, a request's socket):
# a leak raises its floor, so compare the lowest of 20 looks over 2 s.
fd_floor() {
	local m=1000000 n
	for _ in $(seq 1 20); do
		n=$(ls /proc/$HOUND_PID/fd | wc -l)
		[ "$n" -lt "$m" ] && m=$n
		sleep 0.1
	done
	echo "$m"
}
fds_before=$(fd_floor)
for i in 1 2 3; do
	kill -HUP "$HOUND_PID"
	wait_for 30 sh -c "grep -c 'config reloaded' '$T/open.log' | grep -qx $i"
done
wait_for 30 curl -sf -o /dev/null "http://$API/healthz"
expect 200 "API answers after 3 reloads" GET /v1/targets
# A request or capture still finishing holds an fd for a moment: a leak is a
# count that stays above, so wait (bounded) for the count to come back.
fds_back() { [ "$(fd_floor)" -le "$fds_before" ]; }
wait_for 30 fds_back
fds_after=$(fd_floor)
check "no fd leaked by API restarts ($fds_before -> $fds_after)" test "$fds_after" -le "$fds_before"
kill "$HOUND_PID"
wait "$HOUND_PID" 2>/dev/null

# ---- authentication on ----
TOKEN="s3cr3t-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$TOKEN" >"$T/token"
PORT=$(free_port)
API=127.0.0.1:$PORT
sed -e "s|listen: .*|listen: $API\n  token_file: $T/token|" "$T/open.yaml" >"$T/auth.yaml"
chmod 644 "$T/token"
"$HOUND" check -c "$T/auth.yaml" >/dev/null 2>"$T/check644.txt"
check "hound check warns about a token file other users can read" \
	grep -q "warning: api.token_file $T/token is readable by other users (mode 0644)" "$T/check644.txt"
chmod 600 "$T/token"
"$HOUND" check -c "$T/auth.yaml" >/dev/null 2>"$T/check600.txt"
check "and says nothing once it is 0600" bash -c "! grep -q token_file '$T/check600.txt'"
: >"$T/all_bodies"
start_hound auth "$T/auth.yaml" --log-level=debug || fail "hound with a token answers"
expect 200 "GET /healthz needs no token" GET /healthz
expect 200 "GET /metrics needs no token" GET /metrics
# Command lines are secrets: every /v1/ path answers only to the token.
expect 401 "GET /v1/targets without a token" GET /v1/targets
check "the 401 carries no command line" sh -c "! grep -q 'sleep 600' '$T/body'"
expect 403 "GET /v1/targets with a wrong token" GET /v1/targets -H "Authorization: Bearer nope"
expect 401 "GET /v1/captures without a token" GET /v1/captures
expect 401 "an unknown /v1/ path without a token says nothing about it" GET /v1/nothing-here
expect 401 "DELETE /v1/targets without a token" DELETE /v1/targets
expect 200 "GET /v1/targets with the token" GET /v1/targets -H "Authorization: Bearer $TOKEN"
check "and lists the sleepers' command lines" grep -q 'sleep 600' "$T/body"
# The same spool: the bundles of the previous run are listed after a restart.
expect 200 "GET /v1/captures after a restart" GET /v1/captures -H "Authorization: Bearer $TOKEN"
check "captures after a restart lists the earlier run's bundles from the spool" \
	test "$(body_json "[c['id'] for c in j['captures'] if c['id'] in ('$ID1', '$ID3')] == sorted(['$ID1', '$ID3'], reverse=True)")" = True
check "and reads pid, trigger and upload state from their manifests" \
	test "$(body_json "[(c['pid'], c['trigger'], c['ok'], c['upload'], c['dir']) for c in j['captures'] if c['id'] == '$ID3']")" = "[($SLEEPER, 'api', True, 'local', '$OUT/bundles/sleepers/$ID3')]"
check "captures are listed newest first" test "$(body_json '[c["id"] for c in j["captures"]] == sorted((c["id"] for c in j["captures"]), reverse=True)')" = True
expect 401 "POST without a token" POST /v1/captures -d '{"target":"sleepers"}'
check "401 asks for a bearer token" grep -qi '^WWW-Authenticate: Bearer' "$T/headers"
expect 403 "POST with a wrong token" POST /v1/captures -H "Authorization: Bearer nope" -d '{"target":"sleepers"}'
expect 403 "POST with the token plus a byte" POST /v1/captures -H "Authorization: Bearer ${TOKEN}x" -d '{"target":"sleepers"}'
expect 401 "POST with another scheme" POST /v1/captures -H "Authorization: Basic $TOKEN" -d '{"target":"sleepers"}'
expect 401 "alerts without a token" POST /v1/alerts -d '{"alerts":[]}'
expect 401 "a big body without a token is refused before it is read" POST /v1/captures --data-binary @"$T/big"
expect 202 "POST with the right token" POST /v1/captures -H "Authorization: Bearer $TOKEN" -d "{\"target\":\"sleepers\",\"pid\":$SLEEPER2,\"capture\":[\"stacks\"]}"
expect 200 "alerts with the right token" POST /v1/alerts -H "Authorization: Bearer $TOKEN" -d '{"version":"4","alerts":[]}'
"$HOUND" status -a "$API" >"$T/status_nt.txt" 2>&1
check "hound status without the token: exit 1" test $? = 1
check "and says the agent wants its token" grep -q "refused: 401 (it wants its bearer token" "$T/status_nt.txt"
"$HOUND" status -a "$API" --token-file "$T/token" >"$T/status2.txt" 2>&1
check "hound status with --token-file" test $? = 0
kill "$HOUND_PID"
wait "$HOUND_PID"
rc=$?
check "hound exits 0 on SIGTERM with the API running ($rc)" test "$rc" = 0
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/auth.log' '$T/open.log'"
check "the token is not in the agent's logs" sh -c "! grep -qF '$TOKEN' '$T/auth.log' '$T/open.log'"
check "the token is not in any answer" sh -c "! grep -qF '$TOKEN' '$T/all_bodies'"
check "the token is not in hound status output" sh -c "! grep -qF '$TOKEN' '$T/status2.txt'"

# ---- libmicrohttpd is loaded only for the API: a broken one is a clean error ----
mkdir -p "$T/badlib" && : >"$T/badlib/libmicrohttpd.so.12"
LD_LIBRARY_PATH=$T/badlib "$HOUND" run -c "$T/open.yaml" >"$T/badlib.log" 2>&1
check "an unloadable libmicrohttpd: hound run exits 1" test $? = 1
check "and says which library and why" grep -q 'cannot start the API server.*dlopen(libmicrohttpd.so.12)' "$T/badlib.log"
LD_LIBRARY_PATH=$T/badlib "$HOUND" stacks -p $$ >/dev/null 2>&1
check "commands without the API do not need it (hound stacks)" test $? = 0
sed '/^api:/,/^  listen:/d' "$T/open.yaml" >"$T/noapi.yaml"
LD_LIBRARY_PATH=$T/badlib "$HOUND" run -c "$T/noapi.yaml" 2>"$T/noapi.log" &
NOAPI=$!
check "nor does an agent configured without an API: it runs" wait_for 30 grep -q 'msg="hound started"' "$T/noapi.log"
kill -TERM "$NOAPI"; wait "$NOAPI"
check "and exits 0 on SIGTERM" test $? = 0

# ---- a non-loopback listener without a token is refused ----
sed -e "s|listen: .*|listen: 0.0.0.0:$PORT|" "$T/open.yaml" >"$T/open-any.yaml"
"$HOUND" run -c "$T/open-any.yaml" >"$T/any.log" 2>&1
check "hound run refuses a non-loopback listen without token_file (exit 2)" test $? = 2
check "and says why" grep -q 'token_file' "$T/any.log"

done_testing
