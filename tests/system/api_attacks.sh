#!/bin/bash
# api_attacks: the API under hostile clients, against a real `hound run`:
# an alert label crafted to inject log fields stays one quoted value (logfmt
# and JSON); 300 slowloris connections from 127.0.0.1 leave /healthz and
# authenticated requests answered; a body trickled a byte at a time is cut off.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v curl >/dev/null || skip_all "curl is not installed"
# 300 attacking sockets plus hound's own: make sure this shell may open them
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 700 ] || skip_all "RLIMIT_NOFILE $(ulimit -n) is too low for 300 connections"

bg sleep 600 "0.$$"
SLEEPER=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
TOKEN=at-$$-$RANDOM$RANDOM
printf '%s' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
cat >"$T/hound.yaml" <<YAML
interval: 200ms
history: 3
output: $T/out
api:
  listen: $API
  token_file: $T/token
targets:
  - name: api
    match: {pid: $SLEEPER}
alerts:
  - match: {alertname: Never}
    target: api
    capture: [stacks]
YAML
AUTH=(-H "Authorization: Bearer $TOKEN")
EVIL='x level=error msg=injected'
alert_body() { printf '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"%s"},"annotations":{},"fingerprint":"f1"}]}' "$EVIL"; }

# logfmt_fields LINE: the keys of one logfmt line as a logfmt reader sees them.
logfmt_keys() {
	python3 -c '
import shlex, sys
print(" ".join(t.split("=", 1)[0] for t in shlex.split(sys.argv[1], posix=True)))' "$1"
}

# ---- log-field injection, logfmt ----
start_hound logfmt "$T/hound.yaml" || { fail "hound answers"; cat "$T/logfmt.log"; done_testing; exit; }
expect 200 "an alert whose name carries fields is taken" POST /v1/alerts "${AUTH[@]}" -d "$(alert_body)"
wait_for 30 grep -q 'msg="alert received"' "$T/logfmt.log"
LINE=$(grep 'msg="alert received"' "$T/logfmt.log" | head -1)
diag "logfmt: $LINE"
check "logfmt: the label is one quoted value" grep -qF 'alertname="x level=error msg=injected"' <<<"$LINE"
KEYS=$(logfmt_keys "$LINE")
check "logfmt: one level and one msg field ($KEYS)" test "$(tr ' ' '\n' <<<"$KEYS" | grep -c '^level$\|^msg$')" = 2
check "logfmt: and the level is info" grep -q '^ts=[^ ]* level=info ' <<<"$LINE"
kill "$HOUND_PID"; wait "$HOUND_PID" 2>/dev/null

# ---- log-field injection, JSON ----
start_hound json "$T/hound.yaml" --log-format=json || { fail "hound answers (json)"; cat "$T/json.log"; done_testing; exit; }
expect 200 "json: the same alert is taken" POST /v1/alerts "${AUTH[@]}" -d "$(alert_body)"
wait_for 30 grep -q '"msg":"alert received"' "$T/json.log"
grep '"msg":"alert received"' "$T/json.log" | head -1 >"$T/json_line"
diag "json: $(cat "$T/json_line")"
check "json: no duplicate key, the label is one string, the level is info" python3 -c '
import json, sys
pairs = json.loads(open(sys.argv[1]).read(), object_pairs_hook=lambda p: p)
keys = [k for k, _ in pairs]
d = dict(pairs)
sys.exit(0 if len(keys) == len(set(keys)) and d["alertname"] == sys.argv[2] and d["level"] == "info" else 1)' "$T/json_line" "$EVIL"
kill "$HOUND_PID"; wait "$HOUND_PID" 2>/dev/null

# ---- slowloris: 300 half-open connections ----
start_hound slow "$T/hound.yaml" || { fail "hound answers (slowloris)"; cat "$T/slow.log"; done_testing; exit; }
bg python3 "$TOP_SRCDIR/tests/system/slowloris.py" 127.0.0.1 "$PORT" 300 "$T/held"
LORIS=$!
check "the attacker opened its 300 connections" wait_for 60 sh -c "[ \"\$(cat '$T/held' 2>/dev/null)\" = 300 ]"
# The attack lasts: each connection sends a header byte every second, and the
# attacker reopens whatever the server drops.
# /healthz must answer; whether it says healthy (200) or that the loop is
# late (503, a busy machine) is the agent's own verdict, reported here.
ok_hz=0 codes=""
for i in $(seq 1 10); do
	code=$(curl -s -o "$T/hz" -w '%{http_code}' --max-time 10 "http://$API/healthz")
	codes="$codes $code"
	case "$code" in 200 | 503) grep -q '"status":' "$T/hz" && ok_hz=$((ok_hz + 1)) ;; esac
	sleep 1
done
check "/healthz answered 10 of 10 times during the attack (codes:$codes)" test "$ok_hz" = 10
check "and the agent is healthy during the attack" wait_for 30 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://$API/healthz)\" = 200 ]"
check "the attacker still holds connections" kill -0 "$LORIS"
expect 200 "an authenticated GET /v1/targets is answered during the attack" GET /v1/targets "${AUTH[@]}" --max-time 30
expect 200 "GET /metrics is answered during the attack" GET /metrics --max-time 30
# A body trickled one byte a second is cut off; the server does not wait for it.
python3 - "$PORT" "$TOKEN" >"$T/trickle" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v1/captures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" % sys.argv[2]).encode())
for i in range(120):
    try:
        s.sendall(b" ")
        s.settimeout(1)
        if s.recv(1) == b"":
            print("closed after %d bytes" % i)
            break
    except socket.timeout:
        continue
    except OSError:
        print("closed after %d bytes" % i)
        break
else:
    print("still open")
PY
check "a trickled body is cut off ($(cat "$T/trickle"))" grep -q '^closed' "$T/trickle"
kill "$LORIS"
expect 200 "the API answers after the attack" GET /v1/targets "${AUTH[@]}"
kill "$HOUND_PID"
wait "$HOUND_PID"
rc=$?
check "hound exits 0 on SIGTERM after the attack ($rc)" test "$rc" = 0
check "no sanitizer report in the agent's logs" sh -c "! grep -q 'Sanitizer\|runtime error' '$T'/*.log"
done_testing
