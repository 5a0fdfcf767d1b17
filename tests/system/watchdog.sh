#!/usr/bin/env bash
# watchdog: with a long sampling interval (10 min) and WatchdogSec=2s, the
# agent still pets the systemd watchdog every second from its own timer (one
# WATCHDOG=1 per tick would starve it and systemd would restart the agent).
# systemd is played by a datagram socket in NOTIFY_SOCKET, as sd_notify(3) uses it.
. "$(dirname "$0")/lib.sh"
"$HOUND" --version | grep -q systemd || skip_all "hound was built without libsystemd"

SOCK=$T/notify.sock
python3 - "$SOCK" "$T/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        f.write("%.3f %s\n" % (time.monotonic(), msg.replace("\n", "|")))
PY
TEST_PIDS="$TEST_PIDS $!"
wait_for 10 test -S "$SOCK" || { fail "the fake notify socket is up"; done_testing; exit 1; }

cat >"$T/wd.yaml" <<YAML
interval: 10m
output: $T/out
targets:
  - name: idle
    match: {comm: nohoundmatch}
    rules:
      - {name: r, metric: rss, abs: 1TiB, capture: [heap]}
YAML
# WATCHDOG_PID must name the agent itself, as systemd sets it.
NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=2000000 \
	bg sh -c 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0" run -c "$1"' "$HOUND" "$T/wd.yaml" 2>"$T/wd.log"
HPID=$!
pets() { grep -c 'WATCHDOG=1' "$T/notify.log" 2>/dev/null || true; }
ready() { grep -q 'READY=1' "$T/notify.log" 2>/dev/null; }
check "the agent says READY=1" wait_for 30 ready
ticks_at_ready=$(grep -c 'WATCHDOG=1' "$T/notify.log" 2>/dev/null || true)
enough() { [ "$(pets)" -ge 6 ]; }
check "six WATCHDOG=1 within one 10 min interval (its own timer)" wait_for 60 enough
diag "pets: $(pets) (at READY: $ticks_at_ready)"
check "the timer period is logged: half of WATCHDOG_USEC" grep -q 'systemd watchdog enabled.*timeout_ms=2000 pet_every_ms=1000' "$T/wd.log"
# Pets are spread over time, not a burst: the last came well after the first.
spread() { awk '/WATCHDOG=1/ { if (!f) f = $1; l = $1 } END { exit !(l - f >= 2.5) }' "$T/notify.log"; }
check "the pets are spread over time" spread
kill -TERM "$HPID"; wait "$HPID"
check "hound exits 0" test $? -eq 0
check "STOPPING=1 sent" grep -q 'STOPPING=1' "$T/notify.log"

# Without WatchdogSec the timer is not started at all.
NOTIFY_SOCKET=$SOCK bg "$HOUND" run -c "$T/wd.yaml" 2>"$T/nowd.log"
HPID=$!
two_ready() { [ "$(grep -c 'READY=1' "$T/notify.log")" -ge 2 ]; }
check "the second agent says READY=1" wait_for 30 two_ready
kill -TERM "$HPID"; wait "$HPID"
check "no watchdog timer without WATCHDOG_USEC" sh -c "! grep -q 'systemd watchdog enabled' '$T/nowd.log'"
done_testing
