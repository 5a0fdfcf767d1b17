#!/bin/bash
# api_bundles: one bundle over the API against a real `hound run`: its manifest
# and state (GET /v1/captures/{id}), its files (names from the manifest only;
# paths, traversal and links refused), its HTML report, all behind the token.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v curl >/dev/null || skip_all "curl is not installed"

bg sleep 600 "0.$$"
SLEEPER=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
OUT=$T/out
TOKEN=tok-$$-$RANDOM
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
cat >"$T/hound.yaml" <<YAML
interval: 200ms
history: 3
output: $OUT
api:
  listen: $API
  token_file: $T/token
targets:
  - name: sleepers
    match: {comm: sleep, cmdline: '^sleep 600 0\\.$$\$'}
    rules:
      - name: rss-huge
        metric: rss
        abs: 100GiB
        capture: [stacks]
YAML
start_hound run "$T/hound.yaml" || { fail "hound answers on $API"; cat "$T/run.log"; done_testing; exit; }
AUTH="Authorization: Bearer $TOKEN"

expect 202 "a capture is queued" POST /v1/captures -H "$AUTH" -d "{\"target\":\"sleepers\",\"pid\":$SLEEPER,\"capture\":[\"stacks\"]}"
ID=$(body_json 'j["id"]')
check "it has an ID" test -n "$ID"

# state: capturing, then complete with its manifest
done_state() { [ "$(http GET "/v1/captures/$ID" -H "$AUTH")" = 200 ] && [ "$(body_json 'j["complete"]')" = True ]; }
wait_for 60 done_state
expect 200 "GET /v1/captures/{id}" GET "/v1/captures/$ID" -H "$AUTH"
check "it says the target, the state and the manifest" test "$(body_json '(j["target"], j["state"], j["manifest"]["id"], j["manifest"]["process"]["pid"])')" = "('sleepers', 'local', '$ID', $SLEEPER)"
body_json '"\n".join(f["name"] for f in j["manifest"]["files"])' >"$T/names"
check "the manifest lists stacks.txt" grep -qx stacks.txt "$T/names"

# every listed file comes back byte for byte
while read -r name; do
	code=$(curl -s -o "$T/dl" -w '%{http_code}' -H "$AUTH" "http://$API/v1/captures/$ID/files/$name")
	check "download $name (200, same bytes)" sh -c "[ $code = 200 ] && cmp -s '$T/dl' '$OUT/bundles/sleepers/$ID/$name'"
done <"$T/names"
expect 200 "manifest.json itself" GET "/v1/captures/$ID/files/manifest.json" -H "$AUTH"
check "a file is an attachment, not sniffed" sh -c "grep -qi '^Content-Disposition: attachment; filename=\"manifest.json\"' '$T/headers' && grep -qi '^X-Content-Type-Options: nosniff' '$T/headers'"
expect 200 "HEAD of a file" HEAD "/v1/captures/$ID/files/stacks.txt" -H "$AUTH" -I

# names are names from the manifest, never paths
echo secret >"$OUT/bundles/sleepers/$ID/unlisted.txt"
ln -s /etc/passwd "$OUT/bundles/sleepers/$ID/link.txt"
expect 404 "a file the manifest does not list" GET "/v1/captures/$ID/files/unlisted.txt" -H "$AUTH"
expect 404 "a link the manifest does not list" GET "/v1/captures/$ID/files/link.txt" -H "$AUTH"
for p in "../../../../etc/passwd" "..%2f..%2f..%2fetc%2fpasswd" "%2e%2e/%2e%2e/hound.yaml" ".upload" \
	"%2fetc%2fpasswd" "stacks.txt/" "stacks.txt/x"; do
	code=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' -H "$AUTH" "http://$API/v1/captures/$ID/files/$p")
	check "traversal $p refused (4xx, $code)" sh -c "[ $code -ge 400 ] && [ $code -lt 500 ] && ! grep -q root: '$T/body'"
done
# the server decodes %00 into a NUL that ends the name: at most the listed file before it
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$AUTH" "http://$API/v1/captures/$ID/files/unlisted.txt%00stacks.txt")
check "a NUL cannot turn an unlisted name into a listed one ($code)" test "$code" = 404
for p in "..%2f..%2fbundles" "../sleepers" "$ID.tmp" ".." "%2e%2e" "%2e%2e%2f%2e%2e%2fetc"; do
	code=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' -H "$AUTH" "http://$API/v1/captures/$p")
	check "bundle ID $p refused (4xx, $code)" sh -c "[ $code -ge 400 ] && [ $code -lt 500 ]"
done
# a bundle being written (ID.tmp): its state, no manifest, no files yet
mkdir "$OUT/bundles/sleepers/20990101T000000Z-1-api.tmp"
expect 200 "a bundle being captured is found" GET "/v1/captures/20990101T000000Z-1-api" -H "$AUTH"
check "... as capturing, without a manifest" test "$(body_json '(j["state"], j["complete"], j["manifest"])')" = "('capturing', False, None)"
expect 409 "... its files are not served yet" GET "/v1/captures/20990101T000000Z-1-api/files/stacks.txt" -H "$AUTH"
check "... with Retry-After" grep -qi '^Retry-After: ' "$T/headers"
rmdir "$OUT/bundles/sleepers/20990101T000000Z-1-api.tmp"
expect 404 "an unknown bundle" GET "/v1/captures/20200101T000000Z-1-nope" -H "$AUTH"
expect 404 "an unknown sub-resource" GET "/v1/captures/$ID/nope" -H "$AUTH"
expect 405 "POST on a bundle" POST "/v1/captures/$ID" -H "$AUTH" -d '{}'

# the report page
expect 200 "GET /v1/captures/{id}/report.html" GET "/v1/captures/$ID/report.html" -H "$AUTH"
check "it is HTML" grep -qi '^Content-Type: text/html' "$T/headers"
check "it is the bundle's page" sh -c "grep -q 'id=\"flamegraphs\"' '$T/body' && grep -q '$ID' '$T/body'"

# behind the token
expect 401 "no token: manifest refused" GET "/v1/captures/$ID"
expect 401 "no token: file refused" GET "/v1/captures/$ID/files/stacks.txt"
expect 403 "wrong token: report refused" GET "/v1/captures/$ID/report.html" -H "Authorization: Bearer nope"
check "the agent is still healthy" test "$(http GET /healthz)" = 200
check "the requests are counted under one bounded path label" sh -c "curl -s http://$API/metrics | grep -q 'hound_api_requests_total{path=\"/v1/captures/{id}\",code=\"200\"}'"

# hound capture --agent: the agent captures, the CLI fetches the bundle
mkdir -p "$T/remote"
"$HOUND" capture --agent "$API" -p "$SLEEPER" -k stacks --token-file "$T/token" -o "$T/remote" >"$T/rc.out" 2>"$T/rc.err"
check "capture --agent exits 0" test $? -eq 0
RD=$(cat "$T/rc.out")
RID=$(basename "$RD")
check "it prints the bundle directory under -o" test -f "$RD/manifest.json" -a "$(dirname "$RD")" = "$T/remote"
check "the agent wrote the same bundle" test -d "$OUT/bundles/sleepers/$RID"
check "the files are the agent's, byte for byte" sh -c "for f in \$(ls '$OUT/bundles/sleepers/$RID'); do case \$f in .*) continue;; esac; cmp -s '$OUT/bundles/sleepers/$RID/'\$f '$RD/'\$f || exit 1; done"
check "the target was found from the pid" test "$(json_get "$RD/manifest.json" 'j["target"], j["trigger"]["kind"]')" = "('sleepers', 'api')"
check "no partial directory is left" test -z "$(ls -d "$T/remote"/*.tmp 2>/dev/null)"
"$HOUND" capture --agent "$API" -p "$SLEEPER" -k stacks -o "$T/remote" >/dev/null 2>"$T/rc2.err"
check "without the token: exit 1" test $? -eq 1
check "... saying the agent refused" grep -q "refused: 401" "$T/rc2.err"
"$HOUND" capture --agent "$API" -p 999999 --token-file "$T/token" -o "$T/remote" >/dev/null 2>"$T/rc3.err"
check "a pid no target watches: exit 1" test $? -eq 1
check "... saying so" grep -q "no target of the agent at $API watches pid 999999" "$T/rc3.err"
"$HOUND" capture --agent "$API" -p "$SLEEPER" -k stakcs --token-file "$T/token" -o "$T/remote" >/dev/null 2>"$T/rc4.err"
check "an unknown kind is the agent's 400: exit 2" test $? -eq 2
"$HOUND" capture --agent 127.0.0.1:1 -p "$SLEEPER" -o "$T/remote" >/dev/null 2>"$T/rc5.err"
check "no agent: exit 1, saying so" sh -c "[ $? -eq 1 ] && grep -q 'no agent answers at 127.0.0.1:1' '$T/rc5.err'"
"$HOUND" capture -t sleepers -p "$SLEEPER" >/dev/null 2>&1
check "-t without --agent is a usage error" test $? -eq 2
done_testing
