#!/usr/bin/env bash
# quickstart.sh: installs what is missing, builds hound, and runs it against a
# demo process that starts leaking memory, then shows the bundle it captured.
# Everything it writes stays under ./demo/.
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)

echo "==> checking build dependencies"
bash tests/install-deps.sh build

echo "==> building hound (in .build/quickstart)"
[ -x configure ] || autoreconf -fi >/dev/null
build=$top/.build/quickstart
mkdir -p "$build"
(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } && make -j"$(nproc)" hound >/dev/null)
hound=$build/hound
"$hound" --version

demo=$top/demo
rm -rf "$demo" && mkdir -p "$demo"
cc -O1 -g -pthread -o "$demo/leaky" tests/targets/misbehave.c

echo "==> starting a demo service that runs steadily for 4 s, then leaks 10 MiB/s"
"$demo/leaky" leak 4000 1024 300 >"$demo/leaky.out" 2>&1 &
target=$!
cleanup() { kill "$target" "${agent:-}" 2>/dev/null || true; }
trap cleanup EXIT
sleep 0.2

cat >"$demo/hound.yaml" <<YAML
interval: 500ms          # sample every half second (default 5s)
history: 5               # moving-average window (Holmes default is 10)
output: $demo/spool      # bundles land in spool/bundles/TARGET/ID/
labels:
  env: quickstart
targets:
  - name: leaky
    match:
      pid: $target
    rules:
      - name: rss-growth
        metric: rss
        diff: 25%            # fire when rss >= 1.25 x its moving average
        cooldown: 10m
        capture: [heap, stacks]
YAML
echo "==> hound check"
"$hound" check -c "$demo/hound.yaml" >/dev/null && echo "config OK: $demo/hound.yaml"

echo "==> hound run (logs in demo/hound.log)"
"$hound" run -c "$demo/hound.yaml" 2>"$demo/hound.log" &
agent=$!
bundle=
for _ in $(seq 1 120); do
	bundle=$(ls -d "$demo"/spool/bundles/leaky/*/ 2>/dev/null | grep -v '\.tmp/$' | head -1 || true)
	[ -n "$bundle" ] && break
	sleep 0.25
done
kill -TERM "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
agent=
echo
grep -E 'rule fired|bundle written' "$demo/hound.log" || true
if [ -z "$bundle" ]; then
	echo "no bundle was written; see $demo/hound.log" >&2
	exit 1
fi
echo
echo "==> hound report $bundle"
"$hound" report "$bundle"
echo
echo "The bundle is a plain directory: ls $bundle"
echo "Next: tests/run.sh runs the whole test suite; docs/ explains configuration and bundles."
