#!/bin/sh
# core_agent: a rule that captures [core, stacks] fires three times. The
# first bundle has core.zst; limits.max_cores (default 1 per window) refuses
# the next cores with a reason in the manifest, while their stacks are still
# captured. `hound check` accepts core in a rule and prints max_cores. With a
# max_disk smaller than the process, the core is refused before anything is
# stopped, with the estimate and the budget in the manifest.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/core_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root or CAP_SYS_PTRACE"
start_core_target -m 8 -t 2 || exit 1
cat >"$T/c.yaml" <<YAML
interval: 200ms
history: 2
output: $T/out
targets:
  - name: svc
    match:
      pid: $CPID
    rules:
      - {name: always, metric: rss, abs: 1MiB, cooldown: 1s, capture: [core, stacks]}
    limits: {max_captures: 10, window: 1h}
YAML
"$HOUND" check -c "$T/c.yaml" >"$T/check.out" 2>&1
check "hound check accepts a core capture" test $? -eq 0
check "the effective config shows max_cores: 1" grep -q 'max_cores: 1' "$T/check.out"

"$HOUND" run -c "$T/c.yaml" 2>"$T/run.log" &
h=$!
TEST_PIDS="$TEST_PIDS $h"
n() { ls -d "$T"/out/bundles/svc/*/ 2>/dev/null | grep -vc '\.tmp/$'; }
wait_for 120 sh -c "test \$(ls -d '$T'/out/bundles/svc/*/ 2>/dev/null | grep -vc '\.tmp/\$') -ge 3"
check "three bundles" test "$(n)" -ge 3
kill "$h"; wait "$h" 2>/dev/null
cores=0 refused=0 stacks=0
for b in $(ls -d "$T"/out/bundles/svc/*/ | grep -v '\.tmp/$'); do
	[ -f "$b/core.zst" ] && cores=$((cores + 1))
	grep -q 'refused: limits.max_cores' "$b/manifest.json" && refused=$((refused + 1))
	[ -f "$b/stacks.txt" ] && stacks=$((stacks + 1))
done
diag "bundles: $(n); cores $cores, refused $refused, stacks $stacks"
check "one core in the window" test $cores -eq 1
check "the other bundles say the core was refused by limits.max_cores" test $refused -eq $(($(n) - 1))
check "every bundle still has its stacks" test $stacks -eq "$(n)"
if stopped_or_traced "$CPID"; then fail "the service runs on, untraced"; else pass "the service runs on, untraced"; fi

# max_disk below the core's estimate: refused up front.
kill -9 "$CPID"
start_core_target -m 24 -t 1 || exit 1
sed -e "s|pid: .*|pid: $CPID|" -e "s|^output: .*|output: $T/small|" "$T/c.yaml" >"$T/small.yaml"
printf 'max_disk: 4MiB\n' >>"$T/small.yaml"
"$HOUND" run -c "$T/small.yaml" 2>"$T/small.log" &
h=$!
TEST_PIDS="$TEST_PIDS $h"
wait_for 60 sh -c "ls '$T'/small/bundles/svc/*/manifest.json >/dev/null 2>&1"
kill "$h"; wait "$h" 2>/dev/null
sb=$(ls -d "$T"/small/bundles/svc/*/ | grep -v '\.tmp/$' | head -1)
check "max_disk: the core is refused with the estimate and the budget" \
	grep -qE '"core": "a core of pid [0-9]+ may take [0-9]+ MiB, the disk budget has [0-9]+ MiB left' "$sb/manifest.json"
check "max_disk: no core file" test -z "$(ls "$sb"/core* 2>/dev/null)"
check "max_disk: the stacks are still there" test -f "$sb/stacks.txt"
if stopped_or_traced "$CPID"; then fail "max_disk: the service runs on"; else pass "max_disk: the service runs on"; fi
done_testing
