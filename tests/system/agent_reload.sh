#!/bin/bash
# agent_reload: a reload never stalls sampling. The config is swapped for a
# FIFO nobody writes to, so the reload's read blocks for as long as the test
# wants (a slow file system, a hostile file): sampling goes on and /healthz
# stays 200 meanwhile; once the FIFO delivers a config, it is applied. A
# deeply nested file is refused at once with file:line:col. A reload still
# blocked at SIGTERM does not keep hound from exiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"

command -v curl >/dev/null || skip_all "curl is not installed"

bg sleep 600 "0.$$"
SLEEPER=$!
PORT=$(free_port)
API=127.0.0.1:$PORT
conf() { # conf TARGET_NAME: a config watching the sleeper under that name
	# 500ms: /healthz allows 3 intervals, so only a stalled loop (not a busy
	# machine) turns it 503 during the blocked reload
	cat <<YAML
interval: 500ms
history: 3
output: $T/out
api:
  listen: $API
targets:
  - name: $1
    match: {pid: $SLEEPER}
YAML
}
conf first >"$T/good.yaml"
cp "$T/good.yaml" "$T/hound.yaml"
start_hound hound "$T/hound.yaml" || { fail "hound answers"; cat "$T/hound.log"; done_testing; exit; }
pass "hound runs"

ticks() { curl -s "http://$API/metrics" | awk '$1 == "hound_ticks_total" {print $2}'; }
# ticks_pass N: the sampling loop runs N more ticks (bounded wait).
ticks_pass() {
	local t0
	t0=$(ticks)
	wait_for 60 bash -c "[ \"\$(curl -s http://$API/metrics | awk '\$1 == \"hound_ticks_total\" {print \$2}')\" -ge $((t0 + $1)) ]"
}

# ---- a reload whose read blocks ----
rm "$T/hound.yaml"
mkfifo "$T/hound.yaml"
kill -HUP "$HOUND_PID"
check "SIGHUP is taken" wait_for 30 grep -q 'msg="SIGHUP: reloading config"' "$T/hound.log"
check "sampling goes on while the reload is blocked (10 more ticks)" ticks_pass 10
hz=0
for i in 1 2 3 4 5; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$API/healthz")" = 200 ] && hz=$((hz + 1))
	sleep 0.5
done
check "/healthz stays 200 while the reload is blocked ($hz of 5)" test "$hz" = 5
check "nothing was applied yet" sh -c "! grep -q 'msg=\"config reloaded\"' '$T/hound.log'"
conf second >"$T/hound.yaml" # the FIFO delivers the new config now
check "the config is applied once it could be read" wait_for 30 grep -q 'msg="config reloaded"' "$T/hound.log"
check "the new target is watched" wait_for 30 sh -c "curl -s http://$API/metrics | grep -q 'hound_target_processes{target=\"second\"} 1'"

# ---- a deeply nested file is refused at once, the old config keeps running ----
rm "$T/hound.yaml"
python3 -c 'import sys; sys.stdout.write("interval: 1s\nlabels: " + "[" * 100000 + "]" * 100000 + "\n")' >"$T/hound.yaml"
kill -HUP "$HOUND_PID"
check "a 100000-level file is rejected" wait_for 60 grep -q 'msg="reload rejected' "$T/hound.log"
check "naming file:line:col and the limit" grep -qF "$T/hound.yaml:2:72: nesting deeper than 64 levels" "$T/hound.log"
check "sampling goes on after the rejected reload" ticks_pass 3
check "the running config is kept" sh -c "curl -s http://$API/metrics | grep -q 'hound_target_processes{target=\"second\"} 1'"

# ---- a reload still blocked at SIGTERM ----
rm "$T/hound.yaml"
mkfifo "$T/hound.yaml"
kill -HUP "$HOUND_PID"
check "the second blocked reload is taken" wait_for 30 sh -c "[ \$(grep -c 'msg=\"SIGHUP: reloading config\"' '$T/hound.log') -ge 3 ]"
kill "$HOUND_PID"
check "hound exits on SIGTERM with a reload blocked" wait_for 60 sh -c "! kill -0 $HOUND_PID 2>/dev/null"
wait "$HOUND_PID"
rc=$?
check "with status 0 ($rc)" test "$rc" = 0
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/hound.log'"
rm -f "$T/hound.yaml"
done_testing
