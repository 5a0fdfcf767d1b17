# core_lib.sh: helpers for the core dump tests (sourced after lib.sh).

CORE_TARGET="$TOP_BUILDDIR/tests/targets/core_target"

# start_core_target ARGS...: starts core_target, waits for "ready"; sets CPID.
start_core_target() {
	bg "$CORE_TARGET" "$@" >"$T/target.out" 2>&1
	CPID=$!
	wait_for 30 grep -q ready "$T/target.out" || { echo "# core_target did not start"; return 1; }
}

# stopped_or_traced PID: true when a thread is in t/T state or has a tracer.
stopped_or_traced() {
	for s in /proc/"$1"/task/*/status; do
		grep -qE '^State:[[:space:]]+[tT]' "$s" 2>/dev/null && return 0
		grep -qE '^TracerPid:[[:space:]]+[1-9]' "$s" 2>/dev/null && return 0
	done
	return 1
}

# snapshot_children PID: live processes other than PID with PID's name and parent (snapshot children).
snapshot_children() {
	local ppid comm
	ppid=$(awk '/^PPid:/ {print $2}' /proc/"$1"/status)
	comm=$(cat /proc/"$1"/comm)
	ps -o pid=,stat=,comm= --ppid "$ppid" | awk -v me="$1" -v c="$comm" '$1 != me && $2 !~ /^Z/ && $3 == c {print $1}'
}

# unzstd_core BUNDLE_DIR OUT: the core of a bundle, decompressed.
unzstd_core() {
	if [ -f "$1/core.zst" ]; then zstd -q -d -f "$1/core.zst" -o "$2"; else cp "$1/core" "$2"; fi
}
