#!/bin/sh
# upload_restart: hound is SIGKILLed twice in the middle of uploading a spool of
# bundles (one of them multipart) and restarted; every bundle arrives complete,
# each key exactly once in the bucket, and files recorded as done before a kill
# are not sent again.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/s3/s3env.sh"
s3_require
s3_start || { fail "S3 server and verifying proxy start"; done_testing; exit 1; }
OUT=$T/out

: >"$T/want"
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
	id=20260101T0000${i}Z-$i-r
	make_bundle "$OUT" api "$id" heap.pb.gz 20000 smaps.txt 3000 stacks.txt 500
	for f in heap.pb.gz smaps.txt stacks.txt manifest.json; do echo "pfx/api/$id/$f" >>"$T/want"; done
done
BIG=20260101T000007Z-99-big
make_bundle "$OUT" db $BIG big.bin 15728640 smaps.txt 100
for f in big.bin smaps.txt manifest.json; do echo "pfx/db/$BIG/$f" >>"$T/want"; done
LC_ALL=C sort -o "$T/want" "$T/want"

# every request takes 150 ms, so the kills land mid-upload
proxy_ctl "fault?count=100000&delay_ms=150&match=^(PUT|POST)" >/dev/null
write_config "$T/hound.yaml" "$OUT"
manifests() { proxy_log | grep -c 'manifest.json", "query": "", "status": 200' || true; }
at_least_manifests() { [ "$(manifests)" -ge "$1" ]; }

bg "$HOUND" run -c "$T/hound.yaml" 2>"$T/run1.log"
HPID=$!
check "first run uploads some bundles" wait_for 60 at_least_manifests 3
kill -KILL $HPID
wait $HPID 2>/dev/null
n1=$(manifests)
sleep 0.3
# bundles recorded complete on disk before the kill must not be sent again
ls "$OUT"/bundles/*/*/.upload 2>/dev/null | while read -r f; do
	grep -qx complete "$f" && dirname "$f"
done >"$T/done-before"
check "some bundles were recorded complete before the kill" test -s "$T/done-before"
check "not all bundles were done at the kill" test "$n1" -lt 13

bg "$HOUND" run -c "$T/hound.yaml" 2>"$T/run2.log"
HPID=$!
MP=$OUT/bundles/db/$BIG/.multipart.big.bin
check "second run stores a part of the multipart file (recorded on disk)" wait_for 60 grep -q '^etag ' "$MP"
kill -KILL $HPID
wait $HPID 2>/dev/null
cp "$MP" "$T/mp-at-kill"

proxy_ctl reset >/dev/null
bg "$HOUND" run -c "$T/hound.yaml" 2>"$T/run3.log"
HPID=$!
all_done() { [ "$(ls "$OUT"/bundles/*/*/.upload 2>/dev/null | xargs grep -lx complete 2>/dev/null | wc -l)" -eq 13 ]; }
check "third run finishes every bundle" wait_for 90 all_done
kill -TERM $HPID
wait $HPID

# the log was reset before the third run: bundles complete before the first kill
# must not be PUT again
resent=0
while read -r d; do
	id=$(basename "$d")
	if proxy_log | grep -E '"method": "(PUT|POST)"' | grep -q "/$id/"; then resent=$((resent + 1)); fi
done <"$T/done-before"
check "bundles completed before the first kill were not uploaded again" test "$resent" -eq 0

# the multipart file resumed: parts recorded before the kill were not sent again,
# and the rest went to the same UploadId
stored=$(sed -n 's/^etag \([0-9]*\) .*/\1/p' "$T/mp-at-kill" | sort -n | tr '\n' ' ')
upid=$(sed -n 's/^upload_id //p' "$T/mp-at-kill")
parts_of "pfx/db/$BIG/big.bin" >"$T/parts-after"
diag "parts stored before the kill: $stored; after the restart: $(cut -d' ' -f1 "$T/parts-after" | tr '\n' ' ')"
check "multipart: parts stored before the kill were not sent again" \
	bash -c "for p in $stored; do ! grep -q \"^\$p \" '$T/parts-after' || exit 1; done"
check "multipart: the restarted agent went on with the same UploadId" \
	test "$(cut -d' ' -f2 "$T/parts-after" | sort -u)" = "$upid"
check "multipart: its state file is gone once complete" test ! -e "$MP"

s3_keys >"$T/got"
check "the bucket holds each key exactly once, nothing more" cmp -s "$T/want" "$T/got" ||
	diff "$T/want" "$T/got" | head -20 | sed 's/^/# /'
mkdir -p "$T/dl"
aws_s3 cp --recursive "s3://$S3_BUCKET/pfx/" "$T/dl/" >/dev/null
(cd "$OUT/bundles" && find . -type f ! -name .upload | LC_ALL=C sort | xargs sha256sum) >"$T/local.sum"
(cd "$T/dl" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$T/remote.sum"
check "every downloaded object matches its file's sha256" cmp -s "$T/local.sum" "$T/remote.sum"
done_testing
