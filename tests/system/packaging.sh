#!/usr/bin/env bash
# Packaging: the systemd units verify and hold the hardening they promise;
# `hound run` behaves as Type=notify with ExecReload expects (READY,
# RELOADING, STOPPING, WATCHDOG; SIGHUP reload, SIGTERM drain); the
# Kubernetes manifests and the Containerfile are structurally right and the
# configs they carry pass `hound check`.
. "$(dirname "$0")/lib.sh"

SD=$TOP_SRCDIR/packaging/systemd
quiet() { "$@" >/dev/null 2>&1; }
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $*"; }
# py_checks ARGS...: runs packaging_check.py and turns its PASS/FAIL lines into TAP.
py_checks() {
	local st what
	while IFS='|' read -r st what; do
		case $st in
		PASS) pass "$what" ;;
		FAIL) fail "$what" ;;
		*) echo "$st${what:+|$what}" ;;
		esac
	done < <(/usr/bin/python3 "$TOP_SRCDIR/tests/system/packaging_check.py" "$@" 2>&1)
}

# ---- the unit files ----
for u in hound.service hound@.service; do
	f=$SD/$u
	check "$u: Type=notify" grep -qx 'Type=notify' "$f"
	check "$u: ExecReload sends SIGHUP to the main process" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$f"
	check "$u: WatchdogSec is set" grep -Eqx 'WatchdogSec=[0-9]+(s|min)?' "$f"
	for d in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes; do
		check "$u: $d" grep -qx "$d" "$f"
	done
	check "$u: ProtectHome" grep -Eqx 'ProtectHome=(yes|read-only|tmpfs)' "$f"
	check "$u: the spool is writable" grep -qx 'ReadWritePaths=/var/lib/hound' "$f"
	for d in CapabilityBoundingSet AmbientCapabilities; do
		check "$u: $d is exactly CAP_SYS_PTRACE CAP_PERFMON CAP_DAC_READ_SEARCH" \
			[ "$(sed -n "s/^$d=//p" "$f" | tr ' ' '\n' | sort | tr '\n' ' ')" = \
			"CAP_DAC_READ_SEARCH CAP_PERFMON CAP_SYS_PTRACE " ]
	done
done
check "hound@.service reads /etc/hound/%i.yaml" grep -q 'ExecStart=/usr/bin/hound run -c /etc/hound/%i.yaml' "$SD/hound@.service"

if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart exists and that the Documentation= man pages render.
	mkdir -p "$T/sd" "$T/man/man8" "$T/man/man5"
	cp "$TOP_SRCDIR/docs/man/hound.8" "$T/man/man8/"
	cp "$TOP_SRCDIR/docs/man/hound.yaml.5" "$T/man/man5/"
	sed "s#/usr/bin/hound#$HOUND#" "$SD/hound.service" >"$T/sd/hound.service"
	sed "s#/usr/bin/hound#$HOUND#" "$SD/hound@.service" >"$T/sd/hound@.service"
	cp "$T/sd/hound@.service" "$T/sd/hound@api.service"
	for u in hound.service hound@api.service; do
		MANPATH=$T/man systemd-analyze verify "$T/sd/$u" >"$T/verify.out" 2>&1
		rc=$?
		check "systemd-analyze verify $u: exit 0 and no complaint" [ "$rc.$(wc -c <"$T/verify.out")" = 0.0 ]
		[ -s "$T/verify.out" ] && sed 's/^/#   /' "$T/verify.out"
	done
else
	skip "systemd-analyze is missing"
fi

# ---- hound run under Type=notify + ExecReload semantics ----
# PID 1 is not systemd here, so play its part: a notify socket, the unit's own
# ExecReload command line with $MAINPID, and SIGTERM as `systemctl stop` sends.
build_target misbehave || fail "build misbehave"
"$T/misbehave" steady 600000 >"$T/target.out" 2>&1 &
TPID=$!
TEST_PIDS="$TEST_PIDS $TPID"
wait_for 30 grep -q READY "$T/target.out" || fail "target started"

python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
TEST_PIDS="$TEST_PIDS $!"
wait_for 5 test -S "$T/notify.sock" || fail "notify socket ready"

write_config() { # LABEL_VALUE
	cat >"$T/unit.yaml" <<YAML
interval: 200ms
history: 2
output: $T/spool
labels: {stage: $1}
targets:
  - name: api
    match: {pid: $TPID}
    rules:
      - {name: now, metric: threads, abs: 0, cooldown: 1h, capture: [{cpu: 5m}]}
YAML
}
write_config one
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 "$HOUND" run -c "$T/unit.yaml" 2>"$T/unit.log" &
MAINPID=$!
TEST_PIDS="$TEST_PIDS $MAINPID"
exec_reload() { eval "$(sed -n 's/^ExecReload=//p' "$SD/hound.service")"; }
count() { grep -c "$1" "$2" 2>/dev/null || true; }

if "$HOUND" version | grep -q systemd; then
	check "notify: READY=1 once sampling runs" wait_for 10 grep -q 'READY=1' "$T/notify.log"
	check "notify: WATCHDOG=1 from its own timer (WATCHDOG_USEC set)" wait_for 10 bash -c "[ \$(grep -c WATCHDOG=1 '$T/notify.log') -ge 3 ]"
else
	skip "built without libsystemd: no sd_notify"
	wait_for 10 grep -q 'hound started' "$T/unit.log"
fi

write_config two
exec_reload
check "ExecReload: the config is reloaded" wait_for 10 grep -q 'msg="config reloaded"' "$T/unit.log"
if "$HOUND" version | grep -q systemd; then
	check "notify: RELOADING=1 then READY=1 again" \
		wait_for 10 bash -c "grep -A1 RELOADING=1 '$T/notify.log' | grep -q READY=1"
fi
echo "targets: [" >"$T/unit.yaml" # an invalid file
exec_reload
check "ExecReload of an invalid file: rejected" wait_for 10 grep -q 'msg="reload rejected' "$T/unit.log"
check "ExecReload of an invalid file: the agent keeps running" kill -0 "$MAINPID"
if "$HOUND" version | grep -q systemd; then
	check "notify: READY=1 after the rejected reload" \
		wait_for 10 bash -c "[ \$(grep -c READY=1 '$T/notify.log') -ge 3 ]"
fi

# SIGTERM while a 5-minute CPU profile is in flight (so it surely is, however
# slow the machine): it ends early, its bundle is written, then hound exits 0.
check "a capture is in flight" wait_for 20 bash -c "ls -d '$T'/spool/bundles/api/*.tmp >/dev/null 2>&1"
kill -TERM "$MAINPID"
wait "$MAINPID"
rc=$?
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]
B=$(ls -d "$T"/spool/bundles/api/*/ 2>/dev/null | grep -v '\.tmp/$' | head -1)
check "SIGTERM: the in-flight capture was finished, not dropped" test -s "$B/cpu.pb.gz" -a -f "$B/manifest.json"
check "SIGTERM: no half-written bundle left" bash -c "! ls -d '$T'/spool/bundles/api/*.tmp 2>/dev/null"
check "SIGTERM: logged stopping then stopped" grep -q 'msg="hound stopped"' "$T/unit.log"
if "$HOUND" version | grep -q systemd; then
	check "notify: STOPPING=1" grep -q STOPPING=1 "$T/notify.log"
fi

# ---- Kubernetes and the container build ----
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
	py_checks k8s "$TOP_SRCDIR" "$HOUND" "$T/k8s"
	if command -v amtool >/dev/null; then
		check "node-agent: amtool check-config accepts the Alertmanager example" \
			quiet amtool check-config "$T/k8s/alertmanager.yml"
	else
		skip "amtool is missing"
	fi
	py_checks container "$TOP_SRCDIR" "$HOUND"
else
	skip "python3-yaml is missing"
fi

done_testing
