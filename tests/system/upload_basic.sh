#!/bin/sh
# upload_basic: `hound run` drains the spool into a real S3 server (s3rver behind a
# SigV4-verifying proxy): single PUT and multipart, keys with spaces, plus signs and
# unicode, manifest.json last, .tmp bundles never, path-style and virtual-hosted.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/s3/s3env.sh"
s3_require
s3_start || { fail "S3 server and verifying proxy start"; done_testing; exit 1; }

OUT=$T/out
B1=20260101T000000Z-11-rss-spike
B2=20260101T000001Z-12-big
B3=20260101T000002Z-13-api
make_bundle "$OUT" api $B1 heap.pb.gz 3000 smaps.txt 500 stacks.txt 0
make_bundle "$OUT" api $B2 big.bin 12582913   # 12 MiB + 1 byte: three 5 MiB parts
make_bundle "$OUT" web $B3 "a b+c ü.txt" 777
mkdir -p "$OUT/bundles/api/20260101T000003Z-14-r.tmp"
echo partial >"$OUT/bundles/api/20260101T000003Z-14-r.tmp/heap.pb.gz"

P="team a+b/ü/"
S3_PREFIX=$P write_config "$T/hound.yaml" "$OUT"
bg "$HOUND" run -c "$T/hound.yaml" 2>"$T/hound.log"
HPID=$!
sleep 0.5
alive $HPID || { fail "hound run starts"; cat "$T/hound.log"; done_testing; exit 1; }

check "last manifest arrives" wait_for 60 put_ok "${P}web/$B3/manifest.json"
check "multipart manifest arrives" wait_for 30 put_ok "${P}api/$B2/manifest.json"
check "first bundle's manifest arrives" wait_for 30 put_ok "${P}api/$B1/manifest.json"

cat >"$T/want" <<KEYS
${P}api/$B1/heap.pb.gz
${P}api/$B1/manifest.json
${P}api/$B1/smaps.txt
${P}api/$B1/stacks.txt
${P}api/$B2/big.bin
${P}api/$B2/manifest.json
${P}web/$B3/a b+c ü.txt
${P}web/$B3/manifest.json
KEYS
LC_ALL=C sort -o "$T/want" "$T/want"
s3_keys >"$T/got"
check "bucket holds exactly the bundle files (no state file, no .tmp bundle)" cmp -s "$T/want" "$T/got" ||
	diff "$T/want" "$T/got" | sed 's/^/# /'

for f in heap.pb.gz smaps.txt stacks.txt manifest.json; do
	check "$f downloads with aws and matches sha256" s3_same "${P}api/$B1/$f" "$OUT/bundles/api/$B1/$f"
done
check "multipart object matches sha256" s3_same "${P}api/$B2/big.bin" "$OUT/bundles/api/$B2/big.bin"
check "key with space, plus and unicode matches sha256" \
	s3_same "${P}web/$B3/a b+c ü.txt" "$OUT/bundles/web/$B3/a b+c ü.txt"

proxy_log >"$T/log.json"
# manifest.json is the last PUT of each bundle; big.bin went as 3 parts; every request was signed right
check "manifest.json is uploaded after every other file of its bundle" $S3_PY - "$T/log.json" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
puts = [e for e in log if e["method"] in ("PUT", "POST") and e["status"] == 200]
ok = True
for b in set(e["path"].rsplit("/", 1)[0] for e in puts):
    idx = [i for i, e in enumerate(puts) if e["path"].rsplit("/", 1)[0] == b]
    man = [i for i in idx if puts[i]["path"].endswith("/manifest.json")]
    ok = ok and len(man) == 1 and man[0] == max(idx)
sys.exit(0 if ok else 1)
PY
check "big.bin went as a multipart upload of 3 parts" $S3_PY - "$T/log.json" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
big = [e for e in log if e["path"].endswith("/big.bin")]
parts = sorted(e["query"].split("&")[0] for e in big if e["method"] == "PUT")
ok = any(e["query"] == "uploads=" for e in big) and parts == ["partNumber=1", "partNumber=2", "partNumber=3"]
sys.exit(0 if ok else 1)
PY
check "the verifying proxy accepted every request" $S3_PY -c '
import json, sys
sys.exit(0 if all(json.loads(l)["status"] < 300 for l in open(sys.argv[1])) else 1)' "$T/log.json"
check "per-bundle state says complete" grep -qx complete "$OUT/bundles/api/$B2/.upload"
check ".tmp bundle left alone" test ! -e "$OUT/bundles/api/20260101T000003Z-14-r.tmp/.upload"
check "uploads logged" grep -q 'msg="bundle uploaded".*id=20260101T000001Z-12-big' "$T/hound.log"

kill -TERM $HPID
wait $HPID
check "hound exits 0 on SIGTERM" test $? -eq 0

# Virtual-hosted addressing: the bucket in the host name, hound-test.s3.localhost
# (curl resolves *.localhost to loopback; s3rver maps BUCKET.s3.localhost to BUCKET).
B4=20260101T000004Z-15-vh
make_bundle "$OUT" api $B4 heap.pb.gz 1234
S3_ENDPOINT="http://s3.localhost:$PROXY_PORT" PATH_STYLE=false S3_PREFIX=vh/ write_config "$T/vh.yaml" "$OUT"
bg "$HOUND" run -c "$T/vh.yaml" 2>"$T/hound-vh.log"
HPID=$!
check "virtual-hosted upload arrives" wait_for 60 put_ok "vh/api/$B4/manifest.json"
check "virtual-hosted object matches sha256" s3_same "vh/api/$B4/heap.pb.gz" "$OUT/bundles/api/$B4/heap.pb.gz"
s3_keys | grep -c "^vh/" >"$T/nvh"
check "already uploaded bundles are not sent again: only the new one is under vh/" \
	test "$(cat "$T/nvh")" -eq 2
kill -TERM $HPID
wait $HPID
done_testing
