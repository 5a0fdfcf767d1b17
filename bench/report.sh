#!/bin/sh
# Report benchmark: the CPU time and memory `hound report --html` takes on
# synthetic CPU profiles of 5,000 and 50,000 samples (bench/report_gen), the
# size of the page, and `go tool pprof -top` on the same profile as the peer.
#   sh bench/report.sh [-w] [HOUND] [REPORT_GEN]     (make bench-report does this)
# -w replaces the "## HTML report" section of docs/benchmarks.md.
set -eu

WRITE=
[ "${1:-}" = -w ] && { WRITE=1; shift; }
HOUND=${1:-./hound}
GEN=${2:-./bench/report_gen}
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
DOC="$SRCDIR/docs/benchmarks.md"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# cpu CMD...: "user+sys seconds, max RSS MiB" of one run (GNU time)
cpu() {
	/usr/bin/time -o "$TMP/t" -f '%U %S %M' "$@" >/dev/null 2>&1 || return 1
	awk '{ printf "%.2f s, %.0f MiB", $1 + $2, $3 / 1024 }' "$TMP/t"
}

{
	echo "## HTML report"
	echo
	echo "\`sh bench/report.sh\` on $(nproc) CPUs ($(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME")), $(date -u +%Y-%m-%d)."
	echo "CPU time (user + sys) and peak RSS of one run; the machine was shared, so"
	echo "wall time is not reported."
	echo
	echo "| samples | profile | \`hound report --html\` | page | \`go tool pprof -top\` (peer) |"
	echo "|---|---|---|---|---|"
	for n in 5000 50000; do
		mkdir -p "$TMP/b$n"
		"$GEN" "$TMP/b$n/cpu.pb.gz" "$n"
		printf '{"id":"bench","files":[{"name":"cpu.pb.gz","kind":"cpu","format":"pprof"}]}\n' >"$TMP/b$n/manifest.json"
		ours=$(cpu "$HOUND" report --html "$TMP/b$n" -o "$TMP/b$n.html")
		peer=$(command -v go >/dev/null && cpu go tool pprof -top "$TMP/b$n/cpu.pb.gz" || echo "(go not installed)")
		echo "| $n | $(($(stat -c %s "$TMP/b$n/cpu.pb.gz") / 1024)) KiB | $ours | $(($(stat -c %s "$TMP/b$n.html") / 1024)) KiB | $peer |"
	done
	echo
	echo "The page keeps frames worth at least 1/2000 of a graph (at most 6000 per"
	echo "graph), so its size follows what can be seen, not the profile's size."
	echo
} >"$TMP/section"
cat "$TMP/section"
[ -n "$WRITE" ] || exit 0
[ -f "$DOC" ] || printf '# Benchmarks\n\n' >"$DOC"
awk -v sect="$TMP/section" '
	/^## / { if (skip) skip = 0; if ($0 == "## HTML report") { skip = 1; done = 1;
		 while ((getline l < sect) > 0) print l; next } }
	!skip { print }
	END { if (!done) { while ((getline l < sect) > 0) print l } }
' "$DOC" >"$TMP/doc"
cp "$TMP/doc" "$DOC"
