# s3env.sh: a real S3 server for system tests, sourced after tests/system/lib.sh.
#
# s3rver (npm) speaks the S3 API on 127.0.0.1; tests/s3/sigv4_proxy.py sits in
# front of it and checks every AWS Signature V4 with botocore, so hound talks
# to the proxy and a signing bug fails the test. `aws` (Debian's awscli) is the
# independent client used to read objects back.
#
# s3rver is installed once with npm into $HOUND_NPM_DIR, a folder of its own
# (default: ~/.cache/hound/npm, outside the source and build trees so both the
# normal and the sanitizer build share it and distcheck stays clean); npm's own
# cache (--prefer-offline) makes a reinstall work offline.
# Without node/npm, awscli or network on first use, the test is skipped.

S3_BUCKET=hound-test
S3_KEY=S3RVER
S3_SECRET=S3RVER
: "${HOUND_NPM_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/hound/npm}"
S3RVER_VERSION=3.7.1
S3_PY=/usr/bin/python3

# s3_require: skip the whole test unless node, npm, awscli and s3rver are usable.
s3_require() {
	command -v node >/dev/null 2>&1 || skip_all "node is not installed (apt-get install nodejs npm)"
	[ -x /usr/bin/aws ] || skip_all "awscli is not installed (apt-get install awscli)"
	$S3_PY -c 'import awscli, botocore.auth' 2>/dev/null || skip_all "botocore from awscli not importable"
	if [ ! -x "$HOUND_NPM_DIR/node_modules/.bin/s3rver" ]; then
		command -v npm >/dev/null 2>&1 || skip_all "npm is not installed (apt-get install npm)"
		mkdir -p "$HOUND_NPM_DIR"
		# tests run in parallel: one installer at a time
		( flock 9
		  [ -x "$HOUND_NPM_DIR/node_modules/.bin/s3rver" ] ||
			npm install --prefix "$HOUND_NPM_DIR" --no-audit --no-fund --prefer-offline \
				--loglevel=error "s3rver@$S3RVER_VERSION" >"$T/npm.log" 2>&1
		) 9>"$HOUND_NPM_DIR/.lock"
		[ -x "$HOUND_NPM_DIR/node_modules/.bin/s3rver" ] ||
			{ cat "$T/npm.log" 2>/dev/null; skip_all "cannot install s3rver from npm"; }
	fi
}

free_port() {
	$S3_PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { $S3_PY -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$1"; }

# s3rver_start: starts s3rver on $S3RVER_PORT (picked once) with data in $T/s3data.
s3rver_start() {
	: "${S3RVER_PORT:=$(free_port)}"
	mkdir -p "$T/s3data"
	node "$HOUND_NPM_DIR/node_modules/.bin/s3rver" -d "$T/s3data" -a 127.0.0.1 -p "$S3RVER_PORT" \
		--silent --service-endpoint localhost --configure-bucket "$S3_BUCKET" \
		>>"$T/s3rver.log" 2>&1 &
	S3RVER_PID=$!
	TEST_PIDS="$TEST_PIDS $S3RVER_PID"
	wait_for 20 port_open "$S3RVER_PORT" || { cat "$T/s3rver.log"; return 1; }
}

s3rver_kill() { kill -9 "$S3RVER_PID" 2>/dev/null; wait "$S3RVER_PID" 2>/dev/null; }

# proxy_start: starts the verifying proxy on $PROXY_PORT (picked once).
proxy_start() {
	: "${PROXY_PORT:=$(free_port)}"
	$S3_PY "$TOP_SRCDIR/tests/s3/sigv4_proxy.py" --upstream "127.0.0.1:$S3RVER_PORT" \
		--port "$PROXY_PORT" --cred "$S3_KEY:$S3_SECRET" >/dev/null 2>>"$T/proxy.log" &
	PROXY_PID=$!
	TEST_PIDS="$TEST_PIDS $PROXY_PID"
	wait_for 20 port_open "$PROXY_PORT" || { cat "$T/proxy.log"; return 1; }
}

proxy_kill() { kill -9 "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }

# s3_start: s3rver plus the proxy; S3_ENDPOINT is what hound should use.
s3_start() {
	s3rver_start && proxy_start || return 1
	S3_ENDPOINT="http://127.0.0.1:$PROXY_PORT"
}

# proxy_ctl PATH?QUERY: talk to the proxy's test hooks (fault, log, reset).
proxy_ctl() { curl -sf -X "${2:-POST}" "http://127.0.0.1:$PROXY_PORT/__proxy/$1"; }
proxy_log() { curl -sf "http://127.0.0.1:$PROXY_PORT/__proxy/log"; }

# start_hound CONFIG LOG: `hound run -c CONFIG` in the background, its log in LOG; sets HPID.
start_hound() {
	bg "$HOUND" run -c "$1" 2>"$2"
	HPID=$!
}
stop_hound() { kill -TERM $HPID 2>/dev/null; wait $HPID 2>/dev/null; }

# aws_s3 ARGS...: Debian's aws CLI against the proxy with the test credentials.
aws_s3() {
	AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
		/usr/bin/aws --endpoint-url "http://127.0.0.1:$PROXY_PORT" --only-show-errors s3 "$@"
}

# s3_keys: every key in the bucket, one per line, sorted.
s3_keys() {
	AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
		/usr/bin/aws --endpoint-url "http://127.0.0.1:$PROXY_PORT" s3api list-objects-v2 \
		--bucket "$S3_BUCKET" --query 'Contents[].Key' --output text |
		tr '\t' '\n' | grep -v '^None$' | LC_ALL=C sort
}

# s3_has KEY: the object exists (asks the store with aws; slow, for final checks).
s3_has() { s3_keys | grep -qxF -- "$1"; }

# put_ok KEY: the proxy saw a successful PUT or multipart completion of KEY (fast, for polling).
put_ok() {
	proxy_log | $S3_PY -c '
import json, sys
want = ("/" + sys.argv[1] + "/" + sys.argv[2], "/" + sys.argv[2])  # path-style, vhost
sys.exit(0 if any(e["path"] in want and e["status"] == 200 and
                  (e["method"] == "PUT" and "partNumber" not in e["query"] or
                   e["method"] == "POST" and e["query"].startswith("uploadId="))
                  for e in map(json.loads, sys.stdin)) else 1)' "$S3_BUCKET" "$1"
}

# put_count KEY: how many times KEY was stored.
put_count() {
	proxy_log | $S3_PY -c '
import json, sys
want = ("/" + sys.argv[1] + "/" + sys.argv[2], "/" + sys.argv[2])  # path-style, vhost
print(sum(1 for e in map(json.loads, sys.stdin) if e["path"] in want and e["status"] == 200 and
          (e["method"] == "PUT" and "partNumber" not in e["query"] or
           e["method"] == "POST" and e["query"].startswith("uploadId="))))' "$S3_BUCKET" "$1"
}

# parts_of KEY: one line per UploadPart of KEY the store accepted: "PART UPLOADID".
parts_of() {
	proxy_log | $S3_PY -c '
import json, sys, urllib.parse
want = ("/" + sys.argv[1] + "/" + sys.argv[2], "/" + sys.argv[2])  # path-style, vhost
for e in map(json.loads, sys.stdin):
    if e["path"] in want and e["method"] == "PUT" and e["status"] == 200 and "partNumber" in e["query"]:
        q = urllib.parse.parse_qs(e["query"])
        print(q["partNumber"][0], q["uploadId"][0])' "$S3_BUCKET" "$1"
}

# alive PID: the process still runs.
alive() { kill -0 "$1" 2>/dev/null; }

# s3_same KEY FILE: download KEY with aws and compare its sha256 with FILE's.
s3_same() {
	rm -f "$T/download"
	aws_s3 cp "s3://$S3_BUCKET/$1" "$T/download" >/dev/null || return 1
	[ "$(sha256sum <"$T/download")" = "$(sha256sum <"$2")" ]
}

# make_bundle OUT TARGET ID [FILE SIZE]...: a complete bundle in the spool, as
# bundle_finish leaves it (files first, manifest.json, then the rename).
make_bundle() {
	local out=$1 target=$2 id=$3; shift 3
	local d="$out/bundles/$target/$id.tmp"
	mkdir -p "$d"
	while [ $# -ge 2 ]; do
		head -c "$2" /dev/urandom >"$d/$1"
		shift 2
	done
	printf '{"id":"%s","target":"%s"}\n' "$id" "$target" >"$d/manifest.json"
	mv "$d" "$out/bundles/$target/$id"
}

# write_config FILE OUT [EXTRA_S3_YAML...]: an agent config that uploads OUT's spool.
write_config() {
	local f=$1 out=$2; shift 2
	{
		echo "interval: 1s"
		echo "output: $out"
		echo "targets:"
		echo "  - name: idle"
		echo "    match: {comm: nohoundmatch}"
		echo "    rules:"
		echo "      - {name: r, metric: rss, abs: 1TiB, capture: [heap]}"
		echo "upload:"
		echo "  keep_local: ${KEEP_LOCAL:-24h}"
		echo "  s3:"
		echo "    endpoint: $S3_ENDPOINT"
		echo "    bucket: $S3_BUCKET"
		echo "    region: us-east-1"
		echo "    path_style: ${PATH_STYLE:-true}"
		echo "    prefix: ${S3_PREFIX-pfx/}"
		echo "    access_key_id: $S3_KEY"
		echo "    secret_access_key: ${SECRET:-$S3_SECRET}"
		echo "    multipart_threshold: 5MiB"
		echo "    part_size: 5MiB"
		for l in "$@"; do echo "    $l"; done
	} >"$f"
}
