#!/usr/bin/env bash
# Man pages: hound(8) and hound.yaml(5) render without warnings, hound(8)
# documents every subcommand and long option the binary has, hound.yaml(5)
# every top-level key, and its example is a valid configuration.
. "$(dirname "$0")/lib.sh"

command -v man >/dev/null || skip_all "man (man-db) is missing"
command -v groff >/dev/null || skip_all "groff is missing"
command -v col >/dev/null || skip_all "col (bsdextrautils) is missing"
M=$TOP_SRCDIR/docs/man

for page in hound.8 hound.yaml.5; do
	out=$(MANWIDTH=80 man -l -Tutf8 "$M/$page" 2>&1 >/dev/null)
	check "$page: man -l renders it without a warning" [ -z "$out" ]
	[ -n "$out" ] && echo "$out" | sed 's/^/#   /'
	out=$(groff -ww -man -Tutf8 -z "$M/$page" 2>&1)
	check "$page: groff -ww finds nothing to warn about" [ -z "$out" ]
	[ -n "$out" ] && echo "$out" | sed 's/^/#   /'
done

# The rendered text, hyphenation off, so words can be searched.
render() { MANWIDTH=200 man -l -Tutf8 "$1" 2>/dev/null | col -bx | sed 's/\xe2\x80\x90/-/g'; }
render "$M/hound.8" >"$T/hound.8.txt"
render "$M/hound.yaml.5" >"$T/hound.yaml.5.txt"

cmds=$("$HOUND" --help | awk '/^commands:/{on=1; next} on && !NF {exit} on {print $1}')
check "hound --help lists commands" [ -n "$cmds" ]
for c in $cmds; do
	check "hound(8) documents 'hound $c' in SYNOPSIS and COMMANDS" \
		bash -c "grep -q '^ *hound $c' '$T/hound.8.txt' && grep -Eq '^ {3}hound $c\$' '$T/hound.8.txt'"
	for o in $("$HOUND" "$c" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		[ "$o" = --help ] && continue
		check "hound(8) mentions $c $o" grep -q -- "$o" "$T/hound.8.txt"
	done
done

# Every top-level key of an effective configuration is in hound.yaml(5).
cat >"$T/full.yaml" <<YAML
output: $T/spool
user: nobody
labels: {a: b}
api: {listen: 127.0.0.1:9155}
upload:
  s3: {bucket: b, access_key_id: k, secret_access_key: s}
targets:
  - name: t
    match: {comm: t}
    rules:
      - {name: r, metric: rss, abs: 1GiB, capture: [stacks]}
alerts:
  - {match: {alertname: A}, target: t, capture: [stacks]}
YAML
keys=$("$HOUND" check -c "$T/full.yaml" 2>/dev/null | sed -n 's/^\([a-z_]*\):.*/\1/p')
check "hound check prints the top-level keys" [ -n "$keys" ]
for k in $keys; do
	check "hound.yaml(5) documents '$k'" grep -Eq "^ {7}$k( |\$)" "$T/hound.yaml.5.txt"
done

# The example of hound.yaml(5) is a valid configuration (user hound may not exist here).
sed -n '/^EXAMPLE/,/^FILES/p' "$T/hound.yaml.5.txt" | sed '1d;$d' | sed 's/^       //' |
	sed "s#user: hound#user: nobody#; s#/var/lib/hound#$T/spool#" >"$T/example.yaml"
"$HOUND" check -c "$T/example.yaml" >/dev/null 2>"$T/example.err"
check "hound.yaml(5) EXAMPLE passes hound check" [ $? -eq 0 ]
[ -s "$T/example.err" ] && sed 's/^/#   /' "$T/example.err"

done_testing
