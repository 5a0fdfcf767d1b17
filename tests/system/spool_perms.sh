#!/usr/bin/env bash
# spool_perms: bundles and heap baselines carry other processes' memory maps,
# stacks and heap data: under umask 000 (a node agent run as root with no
# UMask), an agent and `hound capture` still create directories 0750/0700 at
# most and files 0640 at most, and a spool left world-open is closed on start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api_lib.inc"
command -v curl >/dev/null || skip_all "curl is not installed"
umask 000

build_target misbehave
"$T/misbehave" steady 0 >"$T/t.out" &
TPID=$!
TEST_PIDS="$TEST_PIDS $TPID"
wait_for 5 grep -q READY "$T/t.out" || fail "target started"

# A spool an older version (or a hand) left open to everybody.
OUT=$T/spool
mkdir -m 0777 "$OUT"
check "the test starts from a world-writable spool" test "$(stat -c %a "$OUT")" = 777

PORT=$(free_port)
API=127.0.0.1:$PORT
cat >"$T/perms.yaml" <<YAML
interval: 200ms
output: $OUT
api: {listen: "$API"}
targets:
  - name: perms
    match: {pid: $TPID}
    rules:
      - {name: always, metric: threads, abs: 0, cooldown: 1h, capture: [stacks, heap]}
    limits: {max_captures: 1, window: 1h}
YAML
start_hound perms "$T/perms.yaml" || { fail "hound starts"; cat "$T/perms.log"; done_testing; exit 1; }
pass "hound starts under umask 000"
bundle() { ls -d "$OUT"/bundles/perms/*/ 2>/dev/null | grep -v '\.tmp/$' | head -1; }
has_bundle() { [ -n "$(bundle)" ] && [ -f "$(bundle)/manifest.json" ]; }
check "a bundle is written" wait_for 30 has_bundle
has_baseline() { [ -n "$(find "$OUT/baselines" -type f 2>/dev/null | head -1)" ]; }
check "a heap baseline is written" wait_for 30 has_baseline
kill -TERM "$HOUND_PID"; wait "$HOUND_PID"

check "the spool is closed to other users" test "$(( $(stat -c '0%a' "$OUT") & 027 ))" -eq 0
open_to_others() { find "$1" -mindepth 1 \( -perm /007 -o -perm /020 \) -printf '%m %p\n'; }
open_to_others "$OUT" >"$T/open"
check "no file or directory under the spool is open to others or group-writable" test ! -s "$T/open"
head -5 "$T/open" | while read -r l; do diag "$l"; done
bad_file() { find "$OUT" -type f -perm /137 -printf '%m %p\n'; }
check "bundle files are 0640 at most" test -z "$(bad_file)"
check "bundle directories are 0750 at most" test -z "$(find "$OUT/bundles" -type d -perm /027)"
check "baseline directories are 0700" test -z "$(find "$OUT/baselines" -mindepth 2 -type d -perm /077)"
check "files were really written (the checks saw something)" \
	test "$(find "$OUT/bundles" -type f | wc -l)" -ge 3
check "the agent said it restricted the spool" grep -q 'output directory was open to other users: restricted' "$T/perms.log"

# hound capture under umask 000, into a directory of its own making.
"$HOUND" capture -p "$TPID" -k stacks,heap -o "$T/cap/out" >"$T/cap.out" 2>"$T/cap.err"
check "hound capture wrote a bundle" test -n "$(find "$T/cap/out" -name manifest.json)"
open_to_others "$T/cap" >"$T/cap.open"
check "nothing hound capture created is open to others" test ! -s "$T/cap.open"
head -5 "$T/cap.open" | while read -r l; do diag "$l"; done
done_testing
