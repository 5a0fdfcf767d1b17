#!/usr/bin/env bash
# disk_full: the spool's filesystem is really full (a small tmpfs, no quota
# involved). The free space is checked before a capture begins, so the
# target is never stopped for a bundle that cannot be written: captures are
# refused (logged once, counted in /metrics, the check backing off), no
# capture job runs, no ID.tmp is left behind; sampling and the API go on.
# Once space is freed, captures succeed again with nothing lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"
command -v curl >/dev/null || skip_all "curl is not installed"

SPOOL=$T/spool
mkdir -p "$SPOOL"
mount -t tmpfs -o size=16m tmpfs "$SPOOL" 2>/dev/null || skip_all "cannot mount a tmpfs (needs CAP_SYS_ADMIN)"
trap 'for p in $TEST_PIDS; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; umount -l "$SPOOL"; cleanup' EXIT

build_target misbehave
"$T/misbehave" steady 0 >"$T/t.out" &
TPID=$!
TEST_PIDS="$TEST_PIDS $TPID"
wait_for 30 grep -q READY "$T/t.out" || fail "target started"

# Fill the filesystem to the last block.
dd if=/dev/zero of="$SPOOL/filler" bs=4k 2>/dev/null
check "the spool's filesystem is full" bash -c "! echo x >'$SPOOL/probe' 2>/dev/null"
rm -f "$SPOOL/probe"

PORT=$(free_port)
API=127.0.0.1:$PORT
cat >"$T/full.yaml" <<YAML
interval: 200ms
history: 2
output: $SPOOL/out
api: {listen: "$API"}
targets:
  - name: full
    match: {pid: $TPID}
    rules:
      - {name: always, metric: threads, abs: 0, cooldown: 1s, capture: [stacks, heap]}
    limits: {max_captures: 1000, window: 1h}
YAML
start_hound full "$T/full.yaml" || { fail "hound starts on a full spool"; cat "$T/full.log"; done_testing; exit 1; }
pass "hound starts on a full spool"
check "the full filesystem is logged, once, as an error" \
	wait_for 20 grep -q 'level=error msg="spool filesystem full: captures refused until space is freed"' "$T/full.log"
refused() { [ "$(metric 'hound_capture_refusals_total{target="full",reason="disk"}')" -ge "$1" ] 2>/dev/null; }
check "refused captures are counted in /metrics (reason=disk)" wait_for 30 refused 3
check "/metrics says the spool is full" test "$(metric hound_spool_full)" = 1
check "and how much space is left" test -n "$(metric hound_spool_available_bytes)"
check "the refusals are logged with reason=disk" grep -q 'msg="capture refused".*reason=disk' "$T/full.log"
no_jobs() { [ "$(metric 'hound_capture_jobs_total{result="failed"}')" = 0 ] &&
	[ "$(metric 'hound_capture_jobs_total{result="ok"}')" = 0 ]; }
check "no capture job ran: the target was never stopped" no_jobs
check "no bundle directory was even started" bash -c "! ls -d '$SPOOL'/out/bundles/full/* 2>/dev/null"
check "the full state was logged once, not per firing" \
	test "$(grep -c 'msg="spool filesystem full' "$T/full.log")" -eq 1
expect 200 "the API still answers: /healthz" GET /healthz
ticks() { metric hound_samples_total; }
s1=$(ticks)
wait_for 30 bash -c "[ \"\$(curl -s http://$API/metrics | awk '\$1==\"hound_samples_total\"{print \$2}')\" -gt '$s1' ]"
check "sampling goes on while the disk is full" test "$(ticks)" -gt "$s1"

rm -f "$SPOOL/filler"
complete() { for m in "$SPOOL"/out/bundles/full/*/manifest.json; do
	[ -f "$m" ] && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(1 if j["errors"] else 0)' "$m" && return 0
done; return 1; }
check "space freed: a complete bundle with no errors is written" wait_for 30 complete
check "the recovery is logged" grep -q 'msg="spool has room again: captures resume"' "$T/full.log"
check "/metrics says the spool is no longer full" test "$(metric hound_spool_full)" = 0
kill -TERM "$HOUND_PID"; wait "$HOUND_PID"
check "hound exits 0" test $? -eq 0
check "no half-written ID.tmp directory is left" bash -c "! ls -d '$SPOOL'/out/bundles/full/*.tmp 2>/dev/null"
check "no sanitizer report in the agent's log" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/full.log'"
done_testing
