#!/bin/sh
# config_check: `hound check` on every config under tests/configs and conf/.
# Bad configs must exit 2 and print exactly NN-what.expect on stderr; good ones
# must exit 0 and print an effective config that itself checks to the same text.
. "$(dirname "$0")/lib.sh"

# The corpus expects these unset (42-credentials-not-set, 08-env-unset).
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN HOUND_TEST_UNSET_VAR \
	CLUSTER POD_NAME HOUND_CONFIG HOUND_TEST_SPOOL

BAD=$TOP_SRCDIR/tests/configs/bad
GOOD=$TOP_SRCDIR/tests/configs/good

n=0
for y in "$BAD"/*.yaml; do
	name=$(basename "$y" .yaml)
	n=$((n + 1))
	rc=0
	(cd "$BAD" && "$HOUND" check -c "$name.yaml") >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -eq 2 ] && cmp -s "$T/err" "$BAD/$name.expect" && [ ! -s "$T/out" ]; then
		pass "bad/$name: exit 2 and the expected message"
	else
		fail "bad/$name: exit $rc"
		diff "$BAD/$name.expect" "$T/err" | sed 's/^/#   /'
	fi
done
check "the bad corpus holds at least 35 configs (has $n)" [ "$n" -ge 35 ]

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG
for y in "$GOOD"/*.yaml "$TOP_SRCDIR/conf/hound.yaml"; do
	name=$(basename "$y")
	rc=0
	"$HOUND" check -c "$y" >"$T/eff.yaml" 2>"$T/err" || rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ] && [ -s "$T/eff.yaml" ]; then
		pass "good/$name: exit 0"
	else
		fail "good/$name: exit $rc"
		sed 's/^/#   /' "$T/err"
		continue
	fi
	check "good/$name: no secret in the output" \
		sh -c "! grep -q -e AKIDEXAMPLE -e wJalrXUtnFEMIK7MDENG '$T/eff.yaml'"
	# Round trip: the effective config checks, and prints the same (but its own name).
	rc=0
	"$HOUND" check -c "$T/eff.yaml" >"$T/eff2.yaml" 2>"$T/err" || rc=$?
	tail -n +2 "$T/eff.yaml" >"$T/a"
	tail -n +2 "$T/eff2.yaml" >"$T/b"
	if [ "$rc" -eq 0 ] && cmp -s "$T/a" "$T/b"; then
		pass "good/$name: the effective config loads back to the same config"
	else
		fail "good/$name: round trip (exit $rc)"
		sed 's/^/#   /' "$T/err"
		diff "$T/a" "$T/b" | sed 's/^/#   /'
	fi
done

# Defaults are printed.
"$HOUND" check -c "$GOOD/minimal.yaml" >"$T/min.yaml"
for want in "interval: 5s" "history: 10" "output: /var/lib/hound" "max_disk: 2GiB" \
	"max_captures: 6" "window: 1h" "for: 1" "cooldown: 10m"; do
	check "minimal: prints the default '$want'" grep -qF "$want" "$T/min.yaml"
done

# ${VAR} expansion happens at check time.
HOUND_TEST_SPOOL=/srv/hound "$HOUND" check -c "$GOOD/agent-only.yaml" >"$T/ag.yaml"
check "expansion: \${HOUND_TEST_SPOOL} is used" grep -qx "output: /srv/hound" "$T/ag.yaml"

# HOUND_CONFIG replaces the default path when -c is not given.
rc=0
HOUND_CONFIG="$GOOD/minimal.yaml" "$HOUND" check >"$T/hc.yaml" 2>&1 || rc=$?
check "HOUND_CONFIG is the default config path" [ "$rc" -eq 0 ]
check "HOUND_CONFIG: the file named is the one checked" grep -q "minimal.yaml" "$T/hc.yaml"

# Usage and I/O errors.
rc=0
"$HOUND" check --help >"$T/help" 2>&1 || rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help describes -c" grep -q -- "-c, --config FILE" "$T/help"
rc=0
"$HOUND" check --bogus >/dev/null 2>"$T/err" || rc=$?
check "an unknown option exits 2" [ "$rc" -eq 2 ]
check "an unknown option is named" grep -q "unknown option '--bogus'" "$T/err"
rc=0
"$HOUND" check -c "$T/missing.yaml" >/dev/null 2>"$T/err" || rc=$?
check "a missing file exits 2" [ "$rc" -eq 2 ]
check "a missing file is named with the reason" \
	grep -qx "$T/missing.yaml: cannot read: No such file or directory" "$T/err"

done_testing
