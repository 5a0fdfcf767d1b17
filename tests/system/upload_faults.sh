#!/bin/sh
# upload_faults: nothing is lost when the store misbehaves. Wrong credentials (403:
# loud error, data kept), store down at start then up, injected 500s and slow answers,
# and the store killed in the middle of a multipart upload. Real `hound run`, real
# s3rver behind the SigV4-verifying proxy, objects read back with `aws`.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/s3/s3env.sh"
s3_require
s3_start || { fail "S3 server and verifying proxy start"; done_testing; exit 1; }
OUT=$T/out

count_in() { grep -c "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count_in "$1" "$2")" -ge "$3" ]; }

# 1. Wrong credentials: 403 from the verifying proxy; loud, counted, data kept.
W=20260101T000000Z-1-wrong
make_bundle "$OUT" api $W heap.pb.gz 4000
SECRET=not-the-secret write_config "$T/bad.yaml" "$OUT"
start_hound "$T/bad.yaml" "$T/bad.log"
check "wrong secret: refusal logged at level error, twice (retried)" \
	wait_for 30 at_least "$T/bad.log" 'level=error msg="object store refused the credentials' 2
check "the log names the S3 error code" grep -q 'code=SignatureDoesNotMatch' "$T/bad.log"
stop_hound
check "nothing of the bundle reached the bucket" test "$(put_count "pfx/api/$W/heap.pb.gz")" -eq 0
check "the bundle is still on disk, untouched" test -s "$OUT/bundles/api/$W/heap.pb.gz"
check "and not marked uploaded" test ! -e "$OUT/bundles/api/$W/.upload"

# 2. Store down at start, then up: the right credentials now, proxy not listening.
proxy_kill
D=20260101T000001Z-2-down
make_bundle "$OUT" api $D heap.pb.gz 5000 stacks.txt 100
write_config "$T/good.yaml" "$OUT"
start_hound "$T/good.yaml" "$T/down.log"
check "store down: failures logged and retried" \
	wait_for 30 at_least "$T/down.log" 'msg="upload failed, will retry"' 2
check "connection refused named in the log" grep -q 'connect' "$T/down.log"
proxy_start
check "store up: the bundle from the 403 phase arrives" wait_for 60 put_ok "pfx/api/$W/manifest.json"
check "store up: the bundle queued while down arrives" wait_for 60 put_ok "pfx/api/$D/manifest.json"
check "403-phase object intact" s3_same "pfx/api/$W/heap.pb.gz" "$OUT/bundles/api/$W/heap.pb.gz"
check "down-phase object intact" s3_same "pfx/api/$D/stacks.txt" "$OUT/bundles/api/$D/stacks.txt"
stop_hound

# 3. 500s and slow answers: three 500s on PUTs, two 1.5 s stalls on the manifest.
F=20260101T000002Z-3-flaky
make_bundle "$OUT" api $F heap.pb.gz 3000 smaps.txt 3000
proxy_ctl "fault?count=3&status=500&match=^PUT%20.*$F" >/dev/null
proxy_ctl "fault?count=2&delay_ms=1500&match=^PUT%20.*$F/manifest" >/dev/null
start_hound "$T/good.yaml" "$T/flaky.log"
check "500s and stalls: the bundle arrives" wait_for 60 put_ok "pfx/api/$F/manifest.json"
proxy_log >"$T/log3.json"
check "the proxy really answered 500 three times" test "$(grep -c '"status": 500' "$T/log3.json")" -eq 3
check "each 500 was logged as a retry" at_least "$T/flaky.log" 'status=500' 3
for f in heap.pb.gz smaps.txt manifest.json; do
	check "after 500s: $f intact" s3_same "pfx/api/$F/$f" "$OUT/bundles/api/$F/$f"
done
stop_hound

# 4. The store dies in the middle of a multipart upload (part 2 stalls, s3rver is
#    killed meanwhile) and comes back on the same port with the same data.
M=20260101T000003Z-4-multi
make_bundle "$OUT" api $M big.bin 15728641   # 15 MiB + 1: four 5 MiB parts
proxy_ctl "fault?count=1&delay_ms=2000&match=partNumber=2" >/dev/null
start_hound "$T/good.yaml" "$T/multi.log"
part1() { proxy_log | grep -q "$M/big.bin\", \"query\": \"partNumber=1&.*\"status\": 200"; }
check "part 1 stored" wait_for 30 part1
s3rver_kill
sleep 2.5
s3rver_start
check "the multipart upload completes after the store returns" wait_for 90 put_ok "pfx/api/$M/manifest.json"
check "multipart object intact after the crash" s3_same "pfx/api/$M/big.bin" "$OUT/bundles/api/$M/big.bin"
check "the failure was logged" at_least "$T/multi.log" 'failed' 1
stop_hound

# 5. A part that fails every retry: the attempt gives up but keeps the upload;
#    the next attempt sends only the missing parts to the same UploadId.
A=20260101T000004Z-5-resume
make_bundle "$OUT" api $A big.bin 10485761   # three parts
proxy_ctl "fault?count=4&status=500&match=$A/big.bin.*partNumber=2" >/dev/null
start_hound "$T/good.yaml" "$T/resume.log"
check "after a given-up part the file completes" wait_for 90 put_ok "pfx/api/$A/manifest.json"
parts_of "pfx/api/$A/big.bin" >"$T/parts5"
check "the retry resumed: part 1 was stored once" test "$(grep -c '^1 ' "$T/parts5")" -eq 1
check "every part went to one UploadId" test "$(cut -d' ' -f2 "$T/parts5" | sort -u | wc -l)" -eq 1
check "each of the three parts is stored" test "$(cut -d' ' -f1 "$T/parts5" | sort -u | tr '\n' ' ')" = "1 2 3 "
check "the resume was logged" grep -q 'msg="resuming multipart upload".*parts_stored=1 parts=3' "$T/resume.log"
check "object intact after the resumed upload" s3_same "pfx/api/$A/big.bin" "$OUT/bundles/api/$A/big.bin"
check "no multipart state left once complete" bash -c "! ls '$OUT/bundles/api/$A'/.multipart.* 2>/dev/null"
stop_hound

# 6. The file changed since its upload began (a state for another version of
#    it): that upload is aborted and the file starts over.
C=20260101T000005Z-6-changed
make_bundle "$OUT" api $C big.bin 10485761
printf 'hound-multipart 1\nupload_id stale-upload\nsize 10485761\npart_size 5242880\nmtime_ns 1\netag 1 "x"\n' \
	>"$OUT/bundles/api/$C/.multipart.big.bin"
start_hound "$T/good.yaml" "$T/changed.log"
check "a file changed since its upload began is sent whole" wait_for 90 put_ok "pfx/api/$C/manifest.json"
# (s3rver 3.7 answers AbortMultipartUpload with 405; the proxy still checked its signature)
aborted() { proxy_log | grep -Eq "\"DELETE\", \"path\": \"/$S3_BUCKET/pfx/api/$C/big.bin\", \"query\": \"uploadId=stale-upload\".*\"status\": (204|405)"; }
check "and the stale upload was aborted (signed DELETE ?uploadId=)" aborted
check "object intact" s3_same "pfx/api/$C/big.bin" "$OUT/bundles/api/$C/big.bin"
stop_hound

for b in $W $D $F $M $A $C; do
	check "bundle $b marked complete on disk" grep -qx complete "$OUT/bundles/api/$b/.upload"
done
done_testing
