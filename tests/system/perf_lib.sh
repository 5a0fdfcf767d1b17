# perf_lib.sh: helpers for the CPU-profile tests (sourced after lib.sh).

# perf_usable: root or CAP_PERFMON/CAP_SYS_ADMIN, and perf_event_paranoid allows it.
perf_usable() {
	[ -r /proc/sys/kernel/perf_event_paranoid ] || return 1
	[ "$(id -u)" -eq 0 ] || grep -q '^CapEff:.*[1-9a-f]' /proc/self/status
}

# build_spin NAME CFLAGS...: tests/targets/spin.c built exactly with CFLAGS.
build_spin() {
	local name=$1; shift
	cc -pthread "$@" -o "$T/$name" "$TOP_SRCDIR/tests/targets/spin.c"
}

# start_spin BINARY ARGS...: starts it, waits for "ready"; sets SPID.
start_spin() {
	local bin=$1; shift
	bg sh -c 'exec "$0" "$@" >"$0.out"' "$bin" "$@"
	SPID=$!
	wait_for 30 grep -q ready "$bin.out"
}

# capture_cpu PID DURATION: runs hound capture -k cpu; sets BUNDLE (the bundle dir).
capture_cpu() {
	BUNDLE=$("$HOUND" capture -p "$1" -k cpu -d "$2" -o "$T/out" 2>"$T/capture.err")
}

# traces FILE.pb.gz: `go tool pprof -traces` with sample counts.
traces() {
	HOME=$T GOFLAGS= go tool pprof -sample_index=samples -traces "$1" 2>/dev/null
}

# full_share FILE.pb.gz FUNC...: percent of samples whose chain holds FUNC...
# (root first, in order, other frames allowed between) and ends in _start or clone3.
full_share() {
	local f=$1; shift
	traces "$f" | python3 -c '
import re, sys
want = sys.argv[1:]
blocks, cur = [], None
for line in sys.stdin:
    m = re.match(r"^ {0,10}(\d+) {3}(\S+)$", line.rstrip("\n"))
    if m:
        cur = [int(m.group(1)), [m.group(2)]]; blocks.append(cur); continue
    m = re.match(r"^ {13}(\S+)$", line.rstrip("\n"))
    if m and cur is not None:
        cur[1].append(m.group(1)); continue
    cur = None
total = sum(b[0] for b in blocks)
full = 0
for n, frames in blocks:
    root_first = list(reversed(frames))
    k = 0
    for fr in root_first:
        if k < len(want) and fr == want[k]:
            k += 1
    if k == len(want) and root_first[0] in ("_start", "__clone3", "clone3", "__clone", "clone"):
        full += n
print(int(100 * full / total) if total else -1)
' "$@"
}
