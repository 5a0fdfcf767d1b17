#!/bin/sh
# run.sh NAME SECONDS: run the already built libFuzzer target tests/fuzz/NAME
# over its committed corpus for a bounded time. Builds nothing: configure a
# clang build with --enable-fuzzers and run `make fuzzers` first.
# New inputs go to a scratch directory, so the committed corpus stays as is.
# Environment: BUILDDIR (default: the current directory), SRCDIR (default:
# the source tree this script lives in).
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 NAME SECONDS" >&2
	exit 2
fi
name=$1
secs=$2
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${BUILDDIR:-$(pwd)}
bin=$builddir/tests/fuzz/fuzz_$name
corpus=$srcdir/tests/fuzz/corpus/$name
if [ ! -x "$bin" ]; then
	echo "$0: $bin is not built (configure CC=clang --enable-fuzzers; make fuzzers)" >&2
	exit 2
fi
if [ ! -d "$corpus" ]; then
	echo "$0: no corpus at $corpus" >&2
	exit 2
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# Crash reproducers are written to the current directory as crash-*; keep them.
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=8192 \
	-print_final_stats=1 "$scratch" "$corpus"
