# go_lib.sh: helpers for the Go system tests (sourced after lib.sh): build the
# Go test service in tests/targets/go with Debian's golang-go, offline, and
# start it in one of its modes.
command -v go >/dev/null 2>&1 || skip_all "go not installed (Debian package golang-go)"

# Offline, nothing outside the test's directory: the standard library comes
# precompiled with golang-go, so a cold build takes about a second.
export GOCACHE="$T/gocache" GOPATH="$T/gopath" GOTOOLCHAIN=local GOPROXY=off \
	GOFLAGS= GO111MODULE=on GOTELEMETRY=off
GO_PROBE="$TOP_BUILDDIR/tests/unit/go_probe"

build_go_target() {
	(cd "$TOP_SRCDIR/tests/targets/go" && go build -o "$T/gotarget" .) >"$T/go-build.log" 2>&1 ||
		{ cat "$T/go-build.log"; return 1; }
}

# start_go NAME MODE [ARGS...]: starts gotarget; sets GO_PID and GO_URL.
start_go() {
	local name=$1 mode=$2; shift 2
	rm -f "$T/$name.addr"
	"$T/gotarget" -mode "$mode" -addr-file "$T/$name.addr" "$@" >"$T/$name.out" 2>&1 &
	GO_PID=$!
	TEST_PIDS="$TEST_PIDS $GO_PID"
	wait_for 30 test -s "$T/$name.addr" || return 1
	GO_URL="http://$(cat "$T/$name.addr")"
}

# A port on 127.0.0.1 where nothing listens (bound and released by python).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bundles_of() { ls -d "$T/out-$1/bundles/$1"/*/ 2>/dev/null | grep -v '\.tmp/$'; }
have_bundle() { [ -n "$(bundles_of "$1")" ]; }

# run_hound NAME: starts `hound run -c $T/NAME.yaml`; sets HPID.
run_hound() {
	"$HOUND" run -c "$T/$1.yaml" 2>"$T/$1.log" &
	HPID=$!
	TEST_PIDS="$TEST_PIDS $HPID"
}

stop_hound() {
	kill -TERM "$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null
}

# first_data_line FILE: the first line of heap.diff.txt that is not a comment.
first_data_line() { grep -v '^#' "$1" | head -1; }

# largest_goroutine_group FILE: the application function most goroutines of a
# debug=2 dump are in (innermost main.* frame of each goroutine).
largest_goroutine_group() {
	awk '/^goroutine [0-9]+ /{ingr=1; f=""; next}
	     /^$/{if (ingr && f != "") n[f]++; ingr=0; next}
	     ingr && f == "" && /^main\./{f=$0; sub(/\(.*/, "", f)}
	     END{if (ingr && f != "") n[f]++; for (k in n) print n[k], k}' "$1" | sort -rn | head -1
}
