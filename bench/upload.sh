#!/bin/sh
# bench/upload.sh: hound's uploader vs `aws s3 cp` to the same local s3rver, in one run.
#
#   bench/upload.sh [HOUND]        (or `make bench-upload` in the build tree)
#
# For a 50 MB and a 1 GB file: wall time of `aws s3 cp` (Debian's awscli) and of
# hound (`hound run` draining a spool that holds one bundle with that file, timed
# from the uploader's own "bundle uploaded ms=" log line), both straight to s3rver
# on 127.0.0.1. hound's RSS is sampled every 100 ms during the 1 GB upload (peak
# and the VmHWM at the end). Last, the latency from a real capture (a rule firing
# on a live process) to its manifest.json being in the bucket: mtime of the
# bundle's manifest.json vs the moment the uploader recorded the bundle complete.
# Needs node+npm (s3rver is installed into $HOUND_NPM_DIR), awscli, python3.
set -eu
HOUND=$(realpath "${1:-./hound}")
TOP=$(cd "$(dirname "$0")/.." && pwd)
: "${HOUND_NPM_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/hound/npm}"
W=$(mktemp -d "${TMPDIR:-/tmp}/hound-bench-upload.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$W"' EXIT

if [ ! -x "$HOUND_NPM_DIR/node_modules/.bin/s3rver" ]; then
	mkdir -p "$HOUND_NPM_DIR"
	npm install --prefix "$HOUND_NPM_DIR" --no-audit --no-fund --prefer-offline \
		--loglevel=error s3rver@3.7.1 >/dev/null
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/s3data"
node "$HOUND_NPM_DIR/node_modules/.bin/s3rver" -d "$W/s3data" -a 127.0.0.1 -p "$PORT" --silent \
	--configure-bucket bench >/dev/null 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$PORT" \
		2>/dev/null && break
	sleep 0.1
done

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
now_ms() { date +%s%3N; }

config() { # OUT [extra yaml for the target]
	cat <<YAML
interval: ${INTERVAL:-1s}
history: 2
output: $1
max_disk: 8GiB
targets:
  - name: ${TNAME:-idle}
    match: {comm: ${TCOMM:-nohoundmatch}}
    rules:
      - {name: r, metric: rss, abs: ${TABS:-1TiB}, cooldown: 1h, capture: [heap]}
upload:
  s3:
    endpoint: http://127.0.0.1:$PORT
    bucket: bench
    region: us-east-1
    path_style: true
    prefix: hound/
    access_key_id: S3RVER
    secret_access_key: S3RVER
YAML
}

# hound_upload SIZE_NAME FILE: prints "ms peak_rss_kib hwm_kib"
hound_upload() {
	out=$W/out-$1
	d=$out/bundles/bench/20260101T000000Z-1-$1
	mkdir -p "$d.tmp"
	ln "$2" "$d.tmp/data.bin"
	echo '{}' >"$d.tmp/manifest.json"
	mv "$d.tmp" "$d"
	config "$out" >"$W/$1.yaml"
	"$HOUND" run -c "$W/$1.yaml" 2>"$W/$1.log" &
	hp=$!
	peak=0
	while ! grep -q 'msg="bundle uploaded"' "$W/$1.log"; do
		r=$(awk '/^VmRSS/ {print $2}' /proc/$hp/status 2>/dev/null || echo 0)
		[ "${r:-0}" -gt "$peak" ] && peak=$r
		sleep 0.1
	done
	hwm=$(awk '/^VmHWM/ {print $2}' /proc/$hp/status)
	kill -TERM $hp
	wait $hp || true
	ms=$(sed -n 's/.*msg="bundle uploaded".* ms=\([0-9]*\).*/\1/p' "$W/$1.log")
	echo "$ms $peak $hwm"
}

aws_upload() { # FILE KEY -> ms
	t0=$(now_ms)
	/usr/bin/aws --endpoint-url "http://127.0.0.1:$PORT" --only-show-errors s3 cp "$1" "s3://bench/$2"
	echo $(($(now_ms) - t0))
}

mbps() { python3 -c 'import sys; print("%.0f" % (int(sys.argv[1]) / 1e6 / (int(sys.argv[2]) / 1000)))' "$1" "$2"; }

head -c 50000000 /dev/urandom >"$W/f50m"
head -c 1000000000 /dev/urandom >"$W/f1g"

echo "| file | aws s3 cp | hound | hound peak RSS (sampled / VmHWM) |"
echo "|---|---|---|---|"
for s in 50m 1g; do
	f=$W/f$s
	bytes=$(stat -c %s "$f")
	a=$(aws_upload "$f" "aws/$s")
	set -- $(hound_upload "$s" "$f")
	echo "| $s ($bytes B) | $a ms ($(mbps "$bytes" "$a") MB/s) | $1 ms ($(mbps "$bytes" "$1") MB/s) | $(($2 / 1024)) MiB / $(($3 / 1024)) MiB |"
	rm -rf "$W/out-$s" "$W/s3data/bench/aws" 2>/dev/null || true
done

# Latency from a real capture to its manifest in the bucket.
cp /bin/sleep "$W/hbsleeper"
"$W/hbsleeper" 600 &
PIDS="$PIDS $!"
out=$W/out-lat
INTERVAL=200ms TNAME=lat TCOMM=hbsleeper TABS=1KiB config "$out" >"$W/lat.yaml"
"$HOUND" run -c "$W/lat.yaml" 2>"$W/lat.log" &
hp=$!
for _ in $(seq 300); do
	grep -q 'msg="bundle uploaded"' "$W/lat.log" && break
	sleep 0.1
done
kill -TERM $hp
wait $hp || true
b=$(ls -d "$out"/bundles/lat/*/ | head -1)
lat=$(python3 -c 'import os,sys; d=sys.argv[1]; print("%.1f" % ((os.stat(d+"/.upload").st_mtime - os.stat(d+"/manifest.json").st_mtime)*1000))' "$b")
files=$(ls "$b" | wc -l)
echo
echo "capture complete -> manifest.json in the bucket: $lat ms (bundle of $files files, $(du -sk "$b" | cut -f1) KiB)"
