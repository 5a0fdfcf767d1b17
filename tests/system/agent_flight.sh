#!/usr/bin/env bash
# The flight recorder: a firing on a target with `flight_recorder` adds
# cpu.before.pb.gz, a real profile of the seconds before the rule fired.
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || skip_all "go (golang-go) is needed to read the profile"
[ "$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 9)" -le 2 ] || [ "$(id -u)" -eq 0 ] ||
	skip_all "perf_event is not allowed here"
build_target misbehave
export GOCACHE=$T/gocache GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off

"$T/misbehave" spin 3000 >"$T/spin.out" 2>&1 &
tpid=$!
TEST_PIDS="$TEST_PIDS $tpid"
check "the spinning target is ready" wait_for 30 grep -q READY "$T/spin.out"
cat >"$T/h.yaml" <<YAML
interval: 300ms
history: 3
output: $T/out
targets:
  - name: burner
    match: {pid: $tpid}
    flight_recorder: {rate: 49Hz, keep: 10s}
    rules:
      - {name: hot, metric: cpu, abs: 20%, capture: [heap]}
YAML
"$HOUND" run -c "$T/h.yaml" 2>"$T/h.log" &
hpid=$!
TEST_PIDS="$TEST_PIDS $hpid"
bundle() { ls -d "$T"/out/bundles/burner/*/ 2>/dev/null | grep -v '\.tmp/$' | head -1; }
have_bundle() { [ -n "$(bundle)" ]; }
check "the rule fired and wrote a bundle" wait_for 30 have_bundle
b=$(bundle)
kill -TERM "$hpid"; wait "$hpid"
check "cpu.before.pb.gz is in the bundle" [ -s "$b/cpu.before.pb.gz" ]
"$HOUND" report "$b" >"$T/report.txt" 2>&1
check "hound report summarises the profile before the firing" \
	grep -q '^busiest functions before the firing (cpu.before.pb.gz):' "$T/report.txt"
check "manifest lists it as a cpu pprof file" bash -c "python3 -c \"
import json,sys; j=json.load(open('$b/manifest.json'))
assert any(f['name']=='cpu.before.pb.gz' and f['kind']=='cpu' and f['format']=='pprof' for f in j['files'])\""
go tool pprof -raw "$b/cpu.before.pb.gz" >"$T/raw.txt" 2>&1
check "go tool pprof reads it" [ $? -eq 0 ]
check "it holds samples of the spinning function" grep -q burn "$T/raw.txt"
check "no capture errors" [ "$(json_get "$b/manifest.json" 'len(j["errors"])')" = 0 ]
done_testing
