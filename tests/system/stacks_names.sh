#!/bin/sh
# stacks_names: on 1, 50 and 500 threads, built with -g, with -O2 only and
# stripped, hound's function names agree with eu-stack's on >= 99% of frames.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/system/stacks_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (ptrace of the test targets by two tools)"
command -v eu-stack >/dev/null 2>&1 || skip_all "eu-stack (elfutils) not installed"
build_threads "$T/threads-g" -O2 -g || skip_all "cannot build the target"
build_threads "$T/threads-O2" -O2
cp "$T/threads-O2" "$T/threads-stripped" && strip "$T/threads-stripped"

for variant in g O2 stripped; do
	for n in 1 50 500; do
		start_threads "$T/threads-$variant" -n "$n" || { fail "start $variant/$n"; continue; }
		pid=$TPID
		"$HOUND" stacks -p "$pid" >"$T/h.txt" 2>"$T/h.err"
		rc=$?
		eu-stack -p "$pid" >"$T/e.txt" 2>/dev/null
		check "$variant, $n threads: hound exits 0" test $rc -eq 0
		python3 "$TOP_SRCDIR/tests/system/stacks_compare.py" "$T/h.txt" "$T/e.txt" >"$T/cmp.txt"
		grep '^#' "$T/cmp.txt" | head -5
		set -- $(tail -1 "$T/cmp.txt")
		diag "$variant, $n threads: $*"
		# A thread caught between two stops (e.g. still being born when
		# eu-stack looked) cannot be compared; nearly all must be.
		check "$variant, $n threads: compared (nearly) every thread" \
			test "$8" -ge $(( (n + 1) * 98 / 100 ))
		check "$variant, $n threads: >= 99% of frames agree with eu-stack" \
			python3 -c "import sys; sys.exit(0 if float('$6') >= 0.99 else 1)"
		if [ "$variant" != stripped ]; then
			check "$variant, $n threads: our own chain is named" grep -q " chain_alpha - " "$T/h.txt"
		else
			check "stripped, $n threads: frames carry offset and build-id" \
				grep -Eq " - $T/threads-stripped \(offset 0x[0-9a-f]+, build-id [0-9a-f]{40}(, in threads-stripped\+0x[0-9a-f]+)?\)" "$T/h.txt"
			# Each stripped function named by its start, as nm names it in the unstripped build.
			check "stripped, $n threads: chain_alpha named by its start" \
				grep -q ", in threads-stripped+0x$(nm "$T/threads-O2" | awk '$3 == "chain_alpha" {sub(/^0+/, "", $1); print $1}'))" "$T/h.txt"
		fi
		check "$variant, $n threads: target not stopped" not_stopped "$pid"
		stop_target "$pid"
	done
done
done_testing
