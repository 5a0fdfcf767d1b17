#!/bin/bash
# stacks_mainexit: a process whose main thread has exited (pthread_exit) while
# its other threads run. Its /proc/PID/maps is empty and /proc/PID/exe
# unreadable, so hound reads them through a live thread: stacks are named,
# the CPU profile samples the live threads, the manifest has the exe and
# the command line.
. "$(dirname "$0")/lib.sh"

build_target mainexit || skip_all "cannot build tests/targets/mainexit.c"
bg sh -c 'exec "$0" main-exit-arg >"$0.out"' "$T/mainexit"
pid=$!
check "the target is ready" wait_for 30 grep -q ready "$T/mainexit.out"
check "its main thread has exited (leader is a zombie)" wait_for 30 grep -q '^State:.*Z' /proc/$pid/status
check "its other threads run" test "$(ls /proc/$pid/task | wc -l)" -eq 3
diag "leader maps: $(wc -c </proc/$pid/maps) bytes"

"$HOUND" stacks -p "$pid" >"$T/stacks.txt" 2>"$T/stacks.err"
rc=$?
check "hound stacks exits 0 ($rc)" test "$rc" = 0
check "the spinning thread is named, with its module" grep -q " spin_in_worker - $T/mainexit$" "$T/stacks.txt"
check "the sleeping thread is named down to start_thread" sh -c "grep -A6 'idle_in_worker' '$T/stacks.txt' | grep -q ' start_thread - '"
check "no frame is left unnamed" sh -c "! grep -q ' - ?$' '$T/stacks.txt'"
check "the main thread's line says what happened" grep -q "TID $pid (.*): error: thread $pid, the main thread, has exited (pthread_exit)" "$T/stacks.txt"

mkdir -p "$T/caps"
dir=$("$HOUND" capture -p "$pid" -k stacks,cpu -d 2s -o "$T/caps" 2>"$T/cap.err")
rc=$?
if grep -q 'perf_event_open.*\(Permission denied\|Operation not permitted\)' "$T/cap.err" "$dir/manifest.json" 2>/dev/null; then
	skip_all "perf_event_open is not permitted here"
fi
check "hound capture -k stacks,cpu exits 0 ($rc)" test "$rc" = 0
check "no capture errors in the manifest" test "$(json_get "$dir/manifest.json" 'len(j["errors"])')" = 0
check "the manifest has the exe" test "$(json_get "$dir/manifest.json" 'j["process"]["exe"]')" = "$T/mainexit"
check "and the command line" test "$(json_get "$dir/manifest.json" 'j["process"]["cmdline"]')" = "$T/mainexit main-exit-arg"
"$HOUND" report "$dir" >"$T/report.txt" 2>&1
check "the CPU profile's busiest function is spin_in_worker" sh -c "grep -A3 'flat%' '$T/report.txt' | sed -n 2p | grep -q 'spin_in_worker'"
check "the target still runs" test -d /proc/$pid/task

# The agent samples it as a live process: memory, fds and threads read
# through a live thread, and it is not taken for an exited one.
. "$(dirname "$0")/api_lib.inc"
PORT=$(free_port)
API=127.0.0.1:$PORT
cat >"$T/hound.yaml" <<YAML
interval: 200ms
history: 3
output: $T/out
api:
  listen: $API
targets:
  - name: headless
    match: {pid: $pid}
    rules:
      - {name: rss-huge, metric: rss, abs: 100GiB, capture: [stacks]}
      - {name: fds-many, metric: fds, abs: 100000, capture: [stacks]}
      - {name: threads-many, metric: threads, abs: 100000, capture: [stacks]}
YAML
start_hound agent "$T/hound.yaml" || { fail "hound answers"; cat "$T/agent.log"; done_testing; exit; }
sampled() {
	curl -s "http://$API/v1/targets" >"$T/targets.json" &&
		[ "$(json_get "$T/targets.json" '[(p["metrics"].get("rss", 0) > 0, p["metrics"].get("fds", 0) >= 3, p["metrics"].get("threads")) for p in j["targets"][0]["processes"]]')" = "[(True, True, 3)]" ]
}
check "the agent samples rss, fds and threads of the headless process" wait_for 30 sampled
t0=$(curl -s "http://$API/metrics" | awk '$1 == "hound_ticks_total" {print $2}')
check "for 10 more ticks" wait_for 60 sh -c "[ \$(curl -s http://$API/metrics | awk '\$1 == \"hound_ticks_total\" {print \$2}') -ge $((t0 + 10)) ]"
check "and never takes it for an exited one" sh -c "! grep -q 'msg=\"process left\"' '$T/agent.log'"
check "it is still listed" sampled
kill "$HOUND_PID"
wait "$HOUND_PID"
kill "$pid"
done_testing
