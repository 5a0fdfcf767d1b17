#!/usr/bin/env bash
# layout_check.sh: the source tree's dependencies point one way.
#   cli -> report, api -> agent -> capture -> bundle -> lib; config beside them.
# Checks every #include "DIR/x.h" against the folder ranks below, and, when an
# object archive is given, that no object file calls (transitively) back into
# one that calls it: a file-level call cycle. TAP output.
#   tests/layout_check.sh [libhound.a]
set -u
top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
lib=${1:-${TOP_BUILDDIR:+$TOP_BUILDDIR/libhound.a}}
[ -n "$lib" ] && lib=$(realpath "$lib" 2>/dev/null || echo "$lib")
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $*"; }

# rank FILE: a file may include only files of a lower rank, or of its own
# folder. capture/kind.h, the contract every capture kind implements, sits
# under the kinds (capture/native, capture/go ...) and the dispatcher above them;
# so does capture/native/bpf, what the BPF programs and hound share.
rank() {
	case $1 in
	capture/kind.h) echo 5; return ;;
	capture/native/bpf/*) echo 5; return ;; # the BPF side: UAPI headers only
	esac
	case $(dirname "$1") in
	lib) echo 0 ;;
	config) echo 2 ;;
	bundle) echo 4 ;;
	capture/*) echo 6 ;;
	capture) echo 8 ;;
	agent) echo 10 ;;
	api | report) echo 12 ;;
	cli) echo 14 ;;
	.) echo 16 ;;
	*) echo -1 ;;
	esac
}

cd "$top/src" || exit 1
loose=$(find . -maxdepth 1 -name '*.[ch]' ! -name main.c | sort)
[ -z "$loose" ] && ok "no loose source besides main.c" || notok "loose files in src/: $loose"

viol=""
while IFS= read -r f; do
	f=${f#./}
	from=$(dirname "$f")
	rf=$(rank "$f")
	[ "$rf" -ge 0 ] || { viol+="$f: folder '$from' has no rank in tests/layout_check.sh"$'\n'; continue; }
	while IFS= read -r inc; do
		to=$(dirname "$inc")
		[ "$to" = "$from" ] && continue
		rt=$(rank "$inc")
		if [ "$rt" -lt 0 ] || [ "$rt" -ge "$rf" ]; then
			viol+="$f includes $inc"$'\n'
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done < <(find . -name '*.[ch]' | sort)
if [ -z "$viol" ]; then ok "every include points down the layers"; else
	notok "includes that point up or sideways:"; printf '%s' "$viol" | sed 's/^/# /'; fi

if [ -n "$lib" ] && [ -f "$lib" ]; then
	# Edges object -> object from undefined to defined symbols, then tsort.
	edges=$(nm -A "$lib" 2>/dev/null | awk '
		{ split($1, a, ":"); obj = a[2]; n = NF; sym = $n; type = $(n-1) }
		type == "U" { use[obj, sym] = 1; objs[obj] = 1; next }
		type ~ /^[TDBRC]$/ { def[sym] = obj }
		END { for (k in use) { split(k, p, SUBSEP); d = def[p[2]];
			if (d != "" && d != p[1]) print p[1], d } }' | sort -u)
	cyc=$( { echo "$edges"; } | tsort 2>&1 >/dev/null | grep -v '^tsort: -: input contains a loop:' | sed 's/^tsort: //' | sort -u)
	if [ -z "$cyc" ]; then ok "no file-level call cycle in $(basename "$lib")"; else
		notok "file-level call cycles (objects on a loop):"; printf '%s\n' "$cyc" | sed 's/^/# /'; fi
else
	echo "# no libhound.a given: call cycles not checked"
fi
echo "1..$n"
[ "$bad" -eq 0 ]
