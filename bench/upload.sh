#!/bin/sh
# bench/upload.sh: hound's uploader vs `aws s3 cp` to the same local s3rver, in one run.
#
#   bench/upload.sh [-w] [-r ROUNDS] [HOUND]     (or `make bench-upload` in the build tree)
#
# For a 50 MB and a 1 GB file, ROUNDS rounds (default 3), each running
# `aws s3 cp` (Debian's awscli) and hound one after the other, the order
# swapped every round, both straight to s3rver on 127.0.0.1. Both are timed
# the same way, from outside, as whole processes: aws from exec to exit;
# hound (`hound run` draining a spool that holds one bundle with that file)
# from exec to its "bundle uploaded" log line (start-up, config and spool
# scan included; a daemon does not exit after an upload). Reported: min,
# median and max over the rounds, and the noise floor: the spread between
# the two fastest of aws's own rounds. hound's RSS is sampled every 100 ms
# during the 1 GB upload (peak and the VmHWM at the end). Last, the latency
# from a real capture (a rule firing on a live process) to its manifest.json
# in the bucket. Prints a markdown section; -w also writes it into
# docs/benchmarks.md under "## Upload".
# Needs node+npm (s3rver is installed into $HOUND_NPM_DIR), awscli, python3.
set -eu
WRITE=0
ROUNDS=3
while getopts "wr:" o; do
	case $o in w) WRITE=1 ;; r) ROUNDS=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
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

# hound_upload SIZE_NAME FILE ROUND: prints "ms peak_rss_kib hwm_kib inside_ms",
# ms from exec to the "bundle uploaded" log line, polled every 2 ms.
hound_upload() {
	out=$W/out-$1-$3
	d=$out/bundles/bench/20260101T000000Z-1-$1
	mkdir -p "$d.tmp"
	ln "$2" "$d.tmp/data.bin"
	echo '{}' >"$d.tmp/manifest.json"
	mv "$d.tmp" "$d"
	config "$out" >"$W/$1.yaml"
	python3 - "$HOUND" "$W/$1.yaml" "$W/$1-$3.log" <<'PY'
import re, subprocess, sys, time
hound, conf, log = sys.argv[1:4]
t0 = time.perf_counter()
p = subprocess.Popen([hound, "run", "-c", conf], stderr=open(log, "w"))
peak, last, hwm = 0, 0.0, 0
while True:
    text = open(log).read()
    if 'msg="bundle uploaded"' in text:
        t1 = time.perf_counter()
        break
    if p.poll() is not None:
        sys.exit("hound exited before uploading: " + text[-500:])
    now = time.perf_counter()
    if now - last >= 0.1:
        last = now
        for l in open("/proc/%d/status" % p.pid):
            if l.startswith("VmRSS:"):
                peak = max(peak, int(l.split()[1]))
    time.sleep(0.002)
for l in open("/proc/%d/status" % p.pid):
    if l.startswith("VmHWM:"):
        hwm = int(l.split()[1])
p.terminate()
p.wait()
m = re.search(r'msg="bundle uploaded".* ms=(\d+)', open(log).read())
print(round((t1 - t0) * 1000), peak, hwm, m.group(1) if m else "-")
PY
	rm -rf "$out"
}

aws_upload() { # FILE KEY -> ms from exec to exit
	python3 - "$1" "s3://bench/$2" "http://127.0.0.1:$PORT" <<'PY'
import subprocess, sys, time
f, url, ep = sys.argv[1:4]
t0 = time.perf_counter()
subprocess.run(["/usr/bin/aws", "--endpoint-url", ep, "--only-show-errors", "s3", "cp", f, url],
               check=True)
print(round((time.perf_counter() - t0) * 1000))
PY
}

head -c 50000000 /dev/urandom >"$W/f50m"
head -c 1000000000 /dev/urandom >"$W/f1g"
# Warm the page cache for both tools alike.
cat "$W/f50m" "$W/f1g" >/dev/null

: >"$W/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for s in 50m 1g; do
		f=$W/f$s
		if [ $((r % 2)) -eq 1 ]; then
			a=$(aws_upload "$f" "aws/$s-$r")
			h=$(hound_upload "$s" "$f" "$r")
		else
			h=$(hound_upload "$s" "$f" "$r")
			a=$(aws_upload "$f" "aws/$s-$r")
		fi
		echo "$s $r $a $h" >>"$W/results"
		echo "round $r $s: aws $a ms, hound $h" >&2
		rm -rf "$W/s3data/bench/aws" "$W/s3data/bench/hound" 2>/dev/null || true
	done
	r=$((r + 1))
done
table=$(python3 - "$W/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size = {"50m": 50e6, "1g": 1e9}
print("| file | rounds | aws s3 cp ms (min / median / max) | hound ms (min / median / max) | hound / aws (median) | noise floor (aws vs aws) | hound MB/s (median) | hound's own log ms (median) | hound peak RSS (sampled / VmHWM) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in ("50m", "1g"):
    rr = [r for r in rows if r[0] == s]
    a = sorted(int(r[2]) for r in rr)
    h = sorted(int(r[3]) for r in rr)
    inside = [int(r[6]) for r in rr if r[6] != "-"]
    am, hm = statistics.median(a), statistics.median(h)
    noise = (a[1] - a[0]) / a[0] if len(a) > 1 else float("nan")
    print("| %s | %d | %d / %d / %d | %d / %d / %d | %.2fx | %.0f%% | %.0f | %s | %d MiB / %d MiB |" % (
        s, len(rr), a[0], am, a[-1], h[0], hm, h[-1], hm / am, 100 * noise,
        size[s] / 1e6 / (hm / 1000), "%d" % statistics.median(inside) if inside else "-",
        max(int(r[4]) for r in rr) // 1024, max(int(r[5]) for r in rr) // 1024))
PY
)
echo "$table"

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
latline="capture complete -> manifest.json in the bucket: $lat ms (bundle of $files files, $(du -sk "$b" | cut -f1) KiB)"
echo
echo "$latline"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
section=$(cat <<MD
## Upload

Command: \`bench/upload.sh -w -r $ROUNDS ./hound\` (or \`make bench-upload\`), $(date -u +%Y-%m-%d).
Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); s3rver 3.7.1 (node
$(node --version 2>/dev/null)) on 127.0.0.1 with its data on the same disk; $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1) (Debian).
Load average when written: $(cut -d' ' -f1-3 /proc/loadavg).

Both clients talk plain HTTP straight to s3rver and are timed the same way,
from outside, as whole processes: \`aws s3 cp\` from exec to exit, hound
(\`hound run\` draining a spool with one bundle holding the file) from exec
to its "bundle uploaded" log line, start-up, config and spool scan
included. $ROUNDS rounds, the order of the two swapped every round; the file is
in the page cache for both. *noise floor*: how far aws's second-fastest
round is from its fastest, i.e. what the machine alone moves a result by.
hound uses its defaults: single PUT up to 64 MiB, 16 MiB parts above, one
part at a time; \`aws s3 cp\` uses 8 MiB parts and 10 concurrent
connections. Over plain HTTP both sign the payload's SHA-256, which must be
in the signed headers before the first byte of the body, so each part is
hashed (libcrypto, ~1.4 GB/s here) before it is sent; over HTTPS hound
sends \`UNSIGNED-PAYLOAD\`, as botocore does, and does not hash at all.

$table

- $latline; measured as the time between the bundle's \`manifest.json\`
  mtime and its \`.upload\` state file recording the bundle complete.
- Goal: 1 GB in no more time than \`aws s3 cp\` (hound / aws <= 1.00x), memory
  flat (< 16 MiB).
MD
)
if [ "$WRITE" -eq 1 ]; then
	python3 - "$TOP/docs/benchmarks.md" "$section" <<'PY'
import os, re, sys
path, section = sys.argv[1], sys.argv[2].rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
m = re.search(r"^## Upload\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	echo "bench/upload.sh: wrote the Upload section of docs/benchmarks.md" >&2
fi
