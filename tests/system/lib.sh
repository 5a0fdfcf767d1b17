# lib.sh: shared helpers for system tests (TAP output, temp dirs, waiting).
# Each system test sources this file, calls plan-free ok/not ok through the
# helpers below, and ends with `done_testing`. Tests start the real hound
# binary ($HOUND) against real processes.

: "${HOUND:=$TOP_BUILDDIR/hound}"
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR}"
TAP_N=0
TAP_FAILED=0
TEST_PIDS=""

T=$(mktemp -d "${TMPDIR:-/tmp}/hound-test.XXXXXX")

cleanup() {
	for p in $TEST_PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$TAP_FAILED" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
trap cleanup EXIT

# ok COND_STATUS DESCRIPTION: pass when the previous command's status was 0.
pass() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
fail() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
check() { # check "description" cmd args...
	local d=$1; shift
	if "$@"; then pass "$d"; else fail "$d"; echo "#   command: $*"; fi
}
skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$T"; exit 0; }
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
diag() { echo "# $*"; }

# bg CMD...: start a background process, remember it for cleanup; sets $!
bg() { "$@" & TEST_PIDS="$TEST_PIDS $!"; }

# wait_for SECONDS CMD...: poll CMD every 0.1s until it succeeds or time runs out.
wait_for() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		if "$@" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

# json_get FILE EXPR: evaluate a Python expression on the parsed JSON `j`.
json_get() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# build_target NAME [CFLAGS...]: compile tests/targets/NAME.c into $T/NAME.
build_target() {
	local name=$1; shift
	cc -O1 -g -pthread "$@" -o "$T/$name" "$TOP_SRCDIR/tests/targets/$name.c" -lm
}

# need_npm NAME@VERSION...: installs npm packages once into $HOUND_NPM_DIR
# (shared by the tests, one installer at a time), or skips the test; then
# NODE_PATH=$HOUND_NPM_DIR/node_modules finds them.
: "${HOUND_NPM_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/hound/npm}"
need_npm() {
	local m have=1
	command -v node >/dev/null 2>&1 || skip_all "node is not installed (apt-get install nodejs npm)"
	npm_have() { for m in "$@"; do [ -f "$HOUND_NPM_DIR/node_modules/${m%@*}/package.json" ] || return 1; done; }
	npm_have "$@" && return 0
	command -v npm >/dev/null 2>&1 || skip_all "npm is not installed (apt-get install npm)"
	mkdir -p "$HOUND_NPM_DIR"
	( flock 9
	  npm_have "$@" || npm install --prefix "$HOUND_NPM_DIR" --no-audit --no-fund --prefer-offline \
		--loglevel=error "$@" >"$T/npm.log" 2>&1
	) 9>"$HOUND_NPM_DIR/.lock"
	npm_have "$@" || { cat "$T/npm.log" 2>/dev/null; skip_all "cannot install $* from npm"; }
}
