#!/usr/bin/env bash
# The docs cannot drift: every YAML, JSON and shell example in README.md,
# docs/*.md and conf/ is checked by hound itself or run against a real bundle
# (tests/system/docs_examples.py says how each kind of example is checked).
. "$(dirname "$0")/lib.sh"

/usr/bin/python3 -c 'import yaml' 2>/dev/null || skip_all "python3-yaml is missing"
command -v promtool >/dev/null || skip_all "promtool is missing (apt-get install prometheus)"

# A real bundle of a real process burning a core, as `b/` in the examples.
build_target misbehave
"$T/misbehave" spin 0 >"$T/t.out" &
tpid=$!
TEST_PIDS="$TEST_PIDS $tpid"
wait_for 30 grep -q TROUBLE "$T/t.out"
mkdir -p "$T/work/caps"
dir=$("$HOUND" capture -p "$tpid" -k stacks,heap,cpu -d 1s -o "$T/work/caps" 2>"$T/cap.err")
check "a real bundle to run the examples against" test -f "$dir/manifest.json"
ln -s "$dir" "$T/work/b"
cp "$TOP_SRCDIR/conf/hound.yaml" "$T/work/hound.yaml"
kill "$tpid"; wait "$tpid" 2>/dev/null

while IFS='|' read -r st what; do
	case $st in
	PASS) pass "$what" ;;
	FAIL) fail "$what" ;;
	*) diag "$st${what:+|$what}" ;;
	esac
done < <(/usr/bin/python3 "$TOP_SRCDIR/tests/system/docs_examples.py" "$TOP_SRCDIR" "$HOUND" "$T/work" 2>&1)
done_testing
