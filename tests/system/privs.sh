#!/usr/bin/env bash
# Least privilege: a running agent keeps exactly the capabilities its config
# needs (read from /proc/PID/status of every thread), still captures with
# them, and hound without a privilege refuses cleanly, naming it.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (to drop capabilities and switch users)"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) is missing"
eff=$(awk '/^CapEff/{print $2}' /proc/self/status)
# CAP_DAC_READ_SEARCH(2) CAP_SETGID(6) CAP_SETUID(7) CAP_SETPCAP(8) CAP_SYS_PTRACE(19) CAP_PERFMON(38)
for bit in 2 6 7 8 19 38; do
	(( (0x$eff >> bit) & 1 )) || skip_all "this root lacks capability $bit (CapEff $eff)"
done
NOBODY=$(id -u nobody) || skip_all "no user nobody"

build_target misbehave || { fail "build misbehave"; done_testing; exit 1; }
chmod 755 "$T" # the unprivileged target and agent run files from here

# A target that belongs to nobody: reaching it needs a capability, not uid 0.
setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups "$T/misbehave" steady 600000 \
	>"$T/target.out" 2>&1 &
TPID=$!
TEST_PIDS="$TEST_PIDS $TPID"
wait_for 30 grep -q READY "$T/target.out" || { fail "target started"; done_testing; exit 1; }

# caps_of PID FIELD: the value of FIELD (CapEff, CapPrm, ...) of every thread, sorted, unique.
caps_of() { cat /proc/"$1"/task/*/status 2>/dev/null | awk -v f="$2:" '$1 == f {print $2}' | sort -u; }
bundles_of() { ls -d "$T/out-$1/bundles/api"/*/ 2>/dev/null | grep -v '\.tmp/$'; }
have_bundle() { [ -n "$(bundles_of "$1")" ]; }

write_config() { # NAME CAPTURE [METRIC] [EXTRA_TOP_LEVEL]
	cat >"$T/$1.yaml" <<YAML
interval: 200ms
history: 2
output: $T/out-$1
${4:-}
targets:
  - name: api
    match: {pid: $TPID}
    rules:
      - {name: now, metric: ${3:-threads}, abs: 0, cooldown: 1h, capture: $2}
YAML
}

# run_agent NAME [WRAPPER...]: starts hound run on $T/NAME.yaml; sets HPID.
run_agent() {
	local name=$1; shift
	"$@" "$HOUND" run -c "$T/$name.yaml" 2>"$T/$name.log" &
	HPID=$!
	TEST_PIDS="$TEST_PIDS $HPID"
}

stop_agent() { kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }

# expect_caps NAME WANT: every thread of the agent has CapEff=CapPrm=CapBnd=WANT, no CapInh/CapAmb.
expect_caps() {
	local name=$1 want=$2 f got
	for f in CapEff CapPrm CapBnd; do
		got=$(caps_of "$HPID" $f)
		check "$name: $f of every agent thread is $want" [ "$got" = "$want" ]
		[ "$got" = "$want" ] || diag "got '$got'"
	done
	check "$name: no inheritable or ambient capabilities" \
		[ "$(caps_of "$HPID" CapInh)$(caps_of "$HPID" CapAmb)" = "00000000000000000000000000000000" ]
	check "$name: no_new_privs is set" [ "$(caps_of "$HPID" NoNewPrivs)" = 1 ]
}

manifest_errors() { json_get "$1/manifest.json" 'json.dumps(j["errors"])'; }

# 1. stacks only: CAP_SYS_PTRACE, and it is enough to unwind nobody's process.
write_config stacks '[stacks]'
run_agent stacks
if wait_for 30 have_bundle stacks; then pass "stacks: rule fired"; else fail "stacks: rule fired"; tail "$T/stacks.log"; fi
expect_caps stacks 0000000000080000
B=$(bundles_of stacks | head -1)
check "stacks: stacks.txt captured with only CAP_SYS_PTRACE" [ -s "$B/stacks.txt" ]
check "stacks: no capture errors" [ "$(manifest_errors "$B")" = "{}" -o "$(manifest_errors "$B")" = "[]" ]
check "stacks: the drop is logged" grep -q 'msg="privileges dropped".*keep=CAP_SYS_PTRACE' "$T/stacks.log"
stop_agent

# 2. native cpu and the fds metric: CAP_SYS_PTRACE + CAP_PERFMON + CAP_DAC_READ_SEARCH.
write_config cpu '[{cpu: 1s}]' fds
run_agent cpu
if wait_for 30 have_bundle cpu; then pass "cpu: fds rule fired (fds of nobody's process readable)"; else
	fail "cpu: fds rule fired (fds of nobody's process readable)"; tail "$T/cpu.log"; fi
expect_caps cpu 0000004000080004
B=$(bundles_of cpu | head -1)
check "cpu: cpu.pb.gz captured" [ -s "$B/cpu.pb.gz" ]
check "cpu: perf_event was used, not the ptrace fallback" \
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert not j["errors"], j["errors"]; assert "fallback" not in json.dumps(j).lower()' "$B/manifest.json"
stop_agent

# 3. a command capture keeps what a command inspecting the target needs (a
# root child gets the bounding set), and nothing for perf.
write_config none '[{command: ["true"]}]'
run_agent none
if wait_for 30 have_bundle none; then pass "none: rule fired"; else fail "none: rule fired"; tail "$T/none.log"; fi
expect_caps none 0000000000080004
stop_agent

# 3b. Root without CAP_DAC_OVERRIDE cannot write a spool it does not own: refused at start.
mkdir -p "$T/out-foreign" && chown "$NOBODY" "$T/out-foreign" && chmod 700 "$T/out-foreign"
sed "s#out-none#out-foreign#" "$T/none.yaml" >"$T/foreign.yaml"
"$HOUND" run -c "$T/foreign.yaml" 2>"$T/foreign.log"
check "foreign spool: hound run exits 1" [ $? -eq 1 ]
check "foreign spool: the error names the directory and its owner" \
	grep -q "output $T/out-foreign is not writable by uid 0 without privileges (owner uid $NOBODY)" "$T/foreign.log"

# 4. hound run as nobody, without privileges: warns at start, the capture records why.
sleep 600 &
RPID=$!
TEST_PIDS="$TEST_PIDS $RPID"
mkdir -p "$T/out-unpriv" && chown "$NOBODY" "$T/out-unpriv"
sed "s/pid: $TPID/pid: $RPID/" "$T/stacks.yaml" | sed "s#out-stacks#out-unpriv#" >"$T/unpriv.yaml"
run_agent unpriv setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups
check "unpriv: start-up warns that stacks need CAP_SYS_PTRACE" \
	wait_for 30 grep -q 'msg="missing privilege" target=api capture=stacks needs=CAP_SYS_PTRACE' "$T/unpriv.log"
if wait_for 30 have_bundle unpriv; then pass "unpriv: the bundle is still written"; else
	fail "unpriv: the bundle is still written"; tail "$T/unpriv.log"; fi
B=$(bundles_of unpriv | head -1)
check "unpriv: manifest errors name CAP_SYS_PTRACE" grep -q CAP_SYS_PTRACE "$B/manifest.json"
check "unpriv: the agent keeps running" kill -0 "$HPID"
stop_agent

# 5. hound stacks / capture without CAP_SYS_PTRACE: a clean refusal; the target is not left stopped.
NOPTRACE=(setpriv --inh-caps=-all --bounding-set=-sys_ptrace)
"${NOPTRACE[@]}" "$HOUND" stacks -p "$TPID" >"$T/stacks.out" 2>"$T/stacks.err"
rc=$?
check "stacks without CAP_SYS_PTRACE exits 1" [ "$rc" -eq 1 ]
check "stacks without CAP_SYS_PTRACE names the capability and the pid" \
	grep -q "PTRACE_SEIZE, $TPID).*CAP_SYS_PTRACE" "$T/stacks.err"
check "the target is not left stopped" \
	bash -c "! grep -q '^State:.*[tT]' /proc/$TPID/status"
"${NOPTRACE[@]}" "$HOUND" capture -p "$TPID" -k stacks -o "$T/cap" >"$T/cap.out" 2>"$T/cap.err"
B=$(ls -d "$T"/cap/*/ 2>/dev/null | head -1)
check "capture without CAP_SYS_PTRACE still writes a bundle" [ -f "$B/manifest.json" ]
check "capture without CAP_SYS_PTRACE: manifest errors name it" \
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert "CAP_SYS_PTRACE" in json.dumps(j["errors"])' "$B/manifest.json"

# 6. hound check reports what is missing per target and kind.
write_config check '[stacks, {cpu: 5s}]'
"${NOPTRACE[@]}" "$HOUND" check -c "$T/check.yaml" >/dev/null 2>"$T/check.err"
check "check without CAP_SYS_PTRACE still exits 0" [ $? -eq 0 ]
check "check names stacks for target api needs CAP_SYS_PTRACE" \
	grep -q "stacks for target api needs CAP_SYS_PTRACE" "$T/check.err"
check "check names cpu for target api needs CAP_SYS_PTRACE" \
	grep -q "cpu for target api needs CAP_SYS_PTRACE" "$T/check.err"
setpriv --inh-caps=-all --bounding-set=-perfmon,-sys_admin "$HOUND" check -c "$T/check.yaml" \
	>/dev/null 2>"$T/check2.err"
check "check without CAP_PERFMON names it with perf_event_paranoid" \
	grep -Eq "cpu for target api needs CAP_PERFMON \(perf_event_paranoid=-?[0-9]+\)" "$T/check2.err"
"$HOUND" check -c "$T/check.yaml" >/dev/null 2>"$T/check3.err"
check "check with every capability reports nothing missing" bash -c "! grep -q needs '$T/check3.err'"

# 7. user: the agent becomes nobody, keeps CAP_SYS_PTRACE, and still reaches root's process.
write_config user '[stacks]' threads "user: nobody"
sed -i "s/pid: $TPID/pid: $RPID/" "$T/user.yaml"
chmod 644 "$T/user.yaml"
run_agent user
if wait_for 30 have_bundle user; then pass "user: rule fired"; else fail "user: rule fired"; tail "$T/user.log"; fi
check "user: the agent runs as nobody (real, effective, saved, fs uid)" \
	[ "$(awk '/^Uid:/{print $2,$3,$4,$5}' /proc/"$HPID"/status)" = "$NOBODY $NOBODY $NOBODY $NOBODY" ]
expect_caps user 0000000000080000
B=$(bundles_of user | head -1)
check "user: stacks of a root process captured as nobody with CAP_SYS_PTRACE" [ -s "$B/stacks.txt" ]
check "user: the spool belongs to nobody" [ "$(stat -c %u "$T/out-user")" = "$NOBODY" ]
kill -HUP "$HPID"
check "user: SIGHUP reload still works after the switch" \
	wait_for 30 grep -q 'msg="config reloaded"' "$T/user.log"
stop_agent

# 8. As hound.service starts it: User= plus AmbientCapabilities= and CapabilityBoundingSet= of
# the three. Without CAP_SETPCAP the bounding set stays as systemd set it; the rest is dropped.
THREE=+sys_ptrace,+perfmon,+dac_read_search
mkdir -p "$T/out-unit" && chown "$NOBODY" "$T/out-unit"
sed "s#out-user#out-unit#; /^user:/d" "$T/user.yaml" >"$T/unit.yaml"
run_agent unit setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups --inh-caps=$THREE \
	--ambient-caps=$THREE --bounding-set=-all,$THREE
if wait_for 30 have_bundle unit; then pass "unit: rule fired"; else fail "unit: rule fired"; tail "$T/unit.log"; fi
check "unit: CapEff and CapPrm of every thread are CAP_SYS_PTRACE" \
	[ "$(caps_of "$HPID" CapEff) $(caps_of "$HPID" CapPrm)" = "0000000000080000 0000000000080000" ]
check "unit: no ambient or inheritable capabilities left" \
	[ "$(caps_of "$HPID" CapAmb) $(caps_of "$HPID" CapInh)" = "0000000000000000 0000000000000000" ]
check "unit: the bounding set stays systemd's three" [ "$(caps_of "$HPID" CapBnd)" = 0000004000080004 ]
B=$(bundles_of unit | head -1)
check "unit: stacks of a root process captured" [ -s "$B/stacks.txt" ]
stop_agent

done_testing
