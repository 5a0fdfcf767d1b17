#!/usr/bin/env bash
# The real `hound run` against real misbehaving processes: each intended rule
# fires soon after its condition begins, never during the steady phase, and
# its bundle and manifest are right.
. "$(dirname "$0")/lib.sh"

build_target misbehave || { fail "build misbehave"; done_testing; exit 1; }

# start_target MODE STEADY_MS [RATE] [LIMIT]: runs misbehave, output in $T/MODE.out; sets TPID.
start_target() {
	local mode=$1; shift
	"$T/misbehave" "$mode" "$@" >"$T/$mode.out" 2>&1 &
	TPID=$!
	TEST_PIDS="$TEST_PIDS $TPID"
	wait_for 30 grep -q READY "$T/$mode.out"
}

write_config() { # NAME PID METRIC RULE_YAML...
	cat >"$T/$1.yaml" <<YAML
interval: 300ms
history: 4
output: $T/out-$1
labels:
  suite: agent_rules
targets:
  - name: $1
    match:
      pid: $2
    rules:
$3
YAML
}

# bundles_of NAME: the finished bundle directories of target NAME.
bundles_of() { ls -d "$T/out-$1/bundles/$1"/*/ 2>/dev/null | grep -v '\.tmp/$'; }
have_bundle() { [ -n "$(bundles_of "$1")" ]; }

# run_case NAME MODE STEADY RATE LIMIT RULE_YAML: starts target and agent, waits for a bundle.
run_case() {
	local name=$1 mode=$2 steady=$3 rate=$4 limit=$5 rule=$6
	start_target "$mode" "$steady" "$rate" "$limit" || { fail "$name: target started"; return 1; }
	write_config "$name" "$TPID" "$rule"
	"$HOUND" run -c "$T/$name.yaml" 2>"$T/$name.log" &
	local hpid=$!
	TEST_PIDS="$TEST_PIDS $hpid"
	if wait_for 30 have_bundle "$name"; then pass "$name: rule fired and wrote a bundle"; else
		fail "$name: rule fired and wrote a bundle"; tail -20 "$T/$name.log"; fi
	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid"; local rc=$?
	check "$name: hound exits 0 on SIGTERM" [ "$rc" -eq 0 ]
	kill -TERM "$TPID" 2>/dev/null
	BUNDLE=$(bundles_of "$name" | head -1)
	TROUBLE=$(awk '/^TROUBLE/{print $2}' "$T/$mode.out")
}

# manifest_check NAME RULE METRIC: the manifest of $BUNDLE is complete and right.
manifest_check() {
	local name=$1 rule=$2 metric=$3 m=$BUNDLE/manifest.json
	check "$name: manifest exists" [ -f "$m" ]
	check "$name: manifest rule and trigger" \
		[ "$(json_get "$m" 'j["rule"]+"/"+j["trigger"]["kind"]+"/"+j["trigger"]["metric"]')" = "$rule/rule/$metric" ]
	check "$name: manifest has the required fields" python3 - "$m" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
need = ["id", "target", "rule", "reason", "trigger", "process", "host", "labels", "history",
        "files", "errors", "started_at", "finished_at", "hound_version"]
missing = [k for k in need if k not in j]
assert not missing, missing
for k in ["pid", "start_time", "comm", "cmdline", "exe", "cgroup"]:
    assert j["process"].get(k), k
assert "misbehave" in j["process"]["cmdline"] and j["process"]["exe"].endswith("/misbehave")
for k in ["value", "avg", "threshold"]:
    assert isinstance(j["trigger"][k], (int, float)), k
assert j["labels"].get("suite") == "agent_rules"
assert len(j["history"]) >= 1
assert j["reason"] and any(ch.isdigit() for ch in j["reason"]), j["reason"]
PY
	check "$name: bundle ID is time-pid-rule" \
		bash -c "basename '$BUNDLE' | grep -Eq '^[0-9]{8}T[0-9]{6}Z-$TPID-$rule\$'"
	check "$name: every listed file exists with its sha256" python3 - "$BUNDLE" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
j = json.load(open(os.path.join(d, "manifest.json")))
for f in j["files"]:
    data = open(os.path.join(d, f["name"]), "rb").read()
    assert hashlib.sha256(data).hexdigest() == f["sha256"], f["name"]
    assert len(data) == f["bytes"], f["name"]
PY
	# Fired from the condition, not before it: the newest sample is past the
	# moment trouble began, and the rule fired on the first sample that met
	# its condition (abs rules) or within 3 samples of trouble (diff rules).
	check "$name: fired promptly, never during the steady phase" python3 - "$BUNDLE/manifest.json" "$TROUBLE" <<'PY'
import json, sys, datetime
j = json.load(open(sys.argv[1])); trouble = int(sys.argv[2])
def ms(t): return int(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
hist, trig = j["history"], j["trigger"]
assert ms(hist[-1]["t"]) >= trouble, "fired before the trouble began"
if trig["condition"] == "abs":
    earlier = [h["value"] for h in hist[:-1] if h["value"] > trig["threshold"]]
    assert not earlier, ("an earlier sample already met the condition", earlier, trig)
else:
    after = [h for h in hist if ms(h["t"]) >= trouble]
    assert len(after) <= 3, "fired only after %d samples of trouble" % len(after)
PY
}

rules_leak='      - name: rss-growth
        metric: rss
        diff: 30%
        capture: [heap]'
run_case leak leak 2500 2048 200 "$rules_leak"
manifest_check leak rss-growth rss
check "leak: heap capture wrote smaps.txt" [ -s "$BUNDLE/smaps.txt" ]

rules_threads='      - name: thread-pileup
        metric: threads
        min: 5
        diff: 50%
        capture: [stacks]'
run_case threads threads 2500 20 200 "$rules_threads"
manifest_check threads thread-pileup threads

rules_fds='      - name: fd-leak
        metric: fds
        abs: 40
        capture: [{command: ["ls", "-l", "/proc/{pid}/fd"], timeout: 5s}]'
run_case fds fds 2500 300 300 "$rules_fds"
manifest_check fds fd-leak fds
check "fds: command output in the bundle" bash -c "grep -q /dev/null '$BUNDLE'/command-1.txt"

rules_spin='      - name: cpu-hot
        metric: cpu
        abs: 20%
        capture: [stacks]'
run_case spin spin 2500 1 1 "$rules_spin"
manifest_check spin cpu-hot cpu

# A steady target: nothing fires; a target that exits is dropped cleanly.
start_target steady 0
spid=$TPID
"$T/misbehave" exit 1500 >"$T/exit.out" 2>&1 &
epid=$!
cat >"$T/quiet.yaml" <<YAML
interval: 200ms
history: 3
output: $T/out-quiet
targets:
  - name: quiet
    match: {pid: $spid}
    rules:
      - {name: rss, metric: rss, diff: 50%, capture: [heap]}
      - {name: cpu, metric: cpu, abs: 50%, capture: [heap]}
  - name: leaver
    match: {pid: $epid}
    rules:
      - {name: rss, metric: rss, diff: 50%, capture: [heap]}
YAML
"$HOUND" run -c "$T/quiet.yaml" 2>"$T/quiet.log" &
hpid=$!
TEST_PIDS="$TEST_PIDS $hpid"
check "exiting target: its exit is logged" wait_for 20 grep -q 'msg="process left" target=leaver pid='"$epid"' reason=exited' "$T/quiet.log"
sleep 2
check "hound still running after a target exited" kill -0 "$hpid"
check "steady target: no bundle" bash -c "! ls '$T/out-quiet/bundles/quiet' 2>/dev/null | grep -q ."

# SIGHUP with a broken file keeps the old config; a good one is applied.
cp "$T/quiet.yaml" "$T/quiet.good"
printf 'interval: 5s\ntargets:\n  - name: quiet\n    bogus_key: 1\n' >"$T/quiet.yaml"
kill -HUP "$hpid"
check "broken reload is rejected" wait_for 30 grep -q 'reload rejected' "$T/quiet.log"
check "the error names file:line:column" grep -q 'quiet.yaml:4:5' "$T/quiet.log"
check "agent alive after a broken reload" kill -0 "$hpid"
n1=$(grep -c . "$T/quiet.log")
cp "$T/quiet.good" "$T/quiet.yaml"
kill -HUP "$hpid"
check "good reload is applied, unchanged target kept" wait_for 30 grep -q 'msg="config reloaded".*kept=2' "$T/quiet.log"
kill -TERM "$hpid"
wait "$hpid"
check "SIGTERM exits 0 after reloads" [ $? -eq 0 ]
check "no error lines besides the rejected reload" bash -c "! grep 'level=error' '$T/quiet.log' | grep -v 'config error\|reload rejected'"
: "$n1"
done_testing
