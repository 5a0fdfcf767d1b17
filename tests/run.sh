#!/usr/bin/env bash
# run.sh: installs what is missing, builds hound twice (warnings as errors, then
# ASan+UBSan), runs the whole test suite under both, runs the fuzzers for a
# bounded time, and checks `make distcheck`. Prints "N passed, N failed".
#
#   tests/run.sh                 everything
#   QUICK=1 tests/run.sh         the -Werror build and its tests only
#   FUZZ_SECONDS=N               time per fuzzer (default 30)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
out=${HOUND_TEST_BUILD:-$top/.build}
fuzz_seconds=${FUZZ_SECONDS:-30}
pass=0 fail=0 skip=0
failed_suites=()

step() { printf '\n==== %s ====\n' "$*"; }

bash tests/install-deps.sh test || { echo "tests/run.sh: installing dependencies failed" >&2; exit 1; }

step "autoreconf"
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

# count_results DIR: adds the automake test-suite.log totals to the tallies.
count_results() {
	local log=$1/test-suite.log n
	[ -f "$log" ] || return 0
	n=$(awk '/^# PASS:/{print $3}' "$log"); pass=$((pass + ${n:-0}))
	n=$(awk '/^# SKIP:/{print $3}' "$log"); skip=$((skip + ${n:-0}))
	n=$(awk '/^# FAIL:/{print $3}' "$log"); fail=$((fail + ${n:-0}))
	n=$(awk '/^# ERROR:/{print $3}' "$log"); fail=$((fail + ${n:-0}))
	n=$(awk '/^# XPASS:/{print $3}' "$log"); fail=$((fail + ${n:-0}))
}

# build_and_check NAME CONFIGURE_ARGS...: configure in $out/NAME, make, make check.
build_and_check() {
	local name=$1; shift
	local dir=$out/$name
	step "build: $name"
	rm -rf "$dir" && mkdir -p "$dir"
	if ! (cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" >build.log 2>&1); then
		tail -50 "$dir/build.log" 2>/dev/null
		echo "tests/run.sh: build '$name' failed"
		fail=$((fail + 1)); failed_suites+=("$name:build")
		return 1
	fi
	step "tests: $name"
	(cd "$dir" && make -j"$jobs" check >check.log 2>&1)
	local rc=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS):' "$dir/check.log" | sed 's/^/  /'
	count_results "$dir"
	if [ $rc -ne 0 ]; then
		failed_suites+=("$name")
		for f in $(grep -lE '^(not ok|Bail out)' "$dir"/tests/*/*.log 2>/dev/null); do
			echo "---- $f"; grep -vE '^ok ' "$f" | tail -40
		done
		grep -E '^(FAIL|ERROR):' "$dir/check.log" | while read -r _ t; do
			echo "---- $t.log"; tail -40 "$dir/$t.log" 2>/dev/null
		done
	fi
	return $rc
}

build_and_check werror --enable-werror

if [ -z "${QUICK:-}" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
	build_and_check sanitize --enable-werror \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined"
	unset ASAN_OPTIONS UBSAN_OPTIONS

	step "fuzzers (${fuzz_seconds}s each)"
	fdir=$out/fuzz
	rm -rf "$fdir" && mkdir -p "$fdir"
	if (cd "$fdir" && "$top/configure" -q CC=clang --enable-fuzzers \
		CFLAGS="-O1 -g" >/dev/null && make -j"$jobs" fuzzers >build.log 2>&1); then
		for fz in "$fdir"/tests/fuzz/fuzz_*; do
			[ -x "$fz" ] || continue
			name=$(basename "$fz")
			if (cd "$fdir" && BUILDDIR=$fdir sh "$top/tests/fuzz/run.sh" "${name#fuzz_}" "$fuzz_seconds") \
				>"$fdir/$name.log" 2>&1; then
				echo "  PASS: $name"; pass=$((pass + 1))
			else
				echo "  FAIL: $name"; tail -30 "$fdir/$name.log"; fail=$((fail + 1)); failed_suites+=("$name")
			fi
		done
	else
		tail -30 "$fdir/build.log"; fail=$((fail + 1)); failed_suites+=("fuzz:build")
	fi

	step "make distcheck"
	if (cd "$out/werror" && make distcheck TESTS=tests/unit/test_core >distcheck.log 2>&1); then
		echo "  PASS: distcheck"; pass=$((pass + 1))
	else
		tail -30 "$out/werror/distcheck.log"; fail=$((fail + 1)); failed_suites+=("distcheck")
	fi
fi

echo
[ ${#failed_suites[@]} -gt 0 ] && echo "failed: ${failed_suites[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
