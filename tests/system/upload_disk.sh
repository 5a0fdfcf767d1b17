#!/bin/sh
# upload_disk: max_disk with the real agent. While the store is down, a spool over
# quota holds only pending bundles: captures are refused (logged with reason=disk)
# and sampling goes on. When the store is back, the pending bundle is uploaded,
# then evicted to make room, and captures resume and are uploaded too.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/s3/s3env.sh"
s3_require
s3_start || { fail "S3 server and verifying proxy start"; done_testing; exit 1; }
proxy_kill
OUT=$T/out

cp /bin/sleep "$T/hsleeper"
bg "$T/hsleeper" 1000
SPID=$!

OLD=20260101T000000Z-1-old
make_bundle "$OUT" hs $OLD heap.pb.gz 1200000   # alone over the 1 MiB quota
write_config "$T/hound.yaml" "$OUT"
# a target whose rule fires at every sample after warm-up
sed -i -e 's/^interval: 1s/interval: 200ms\nhistory: 2\nmax_disk: 1MiB/' \
	-e 's/name: idle/name: hs/' -e 's/comm: nohoundmatch/comm: hsleeper/' \
	-e 's/{name: r, metric: rss, abs: 1TiB, capture: \[heap\]}/{name: r, metric: rss, abs: 1KiB, cooldown: 1s, capture: [heap]}/' \
	"$T/hound.yaml"
sed -i 's/^    rules:/    limits: {max_captures: 1000, window: 1h}\n    rules:/' "$T/hound.yaml"
config_ok() { "$HOUND" check -c "$T/hound.yaml" >/dev/null; }
check "the config is valid" config_ok

bg "$HOUND" run -c "$T/hound.yaml" 2>"$T/hound.log"
HPID=$!
refusals() { grep -c 'msg="capture refused".*reason=disk' "$T/hound.log" || true; }
at_least_refusals() { [ "$(refusals)" -ge "$1" ]; }
check "over quota with only pending bundles: captures refused, reason=disk" wait_for 30 at_least_refusals 2
check "and refused again later: sampling goes on" wait_for 30 at_least_refusals 4
check "no new bundle was written while refused" test "$(ls "$OUT/bundles/hs" | wc -l)" -eq 1
check "the pending bundle is never evicted" test -s "$OUT/bundles/hs/$OLD/heap.pb.gz"

proxy_start
check "store back: the pending bundle is uploaded" wait_for 60 put_ok "pfx/hs/$OLD/manifest.json"
check "then evicted to make room" wait_for 30 test ! -e "$OUT/bundles/hs/$OLD"
check "its objects are in the bucket" s3_has "pfx/hs/$OLD/heap.pb.gz"
new_uploaded() { proxy_log | grep -v "$OLD" | grep -q '/pfx/hs/.*/manifest.json", "query": "", "status": 200'; }
check "captures resume and their bundles are uploaded" wait_for 60 new_uploaded
check "eviction logged" grep -q 'msg="removed uploaded bundle".*reason=max_disk' "$T/hound.log"
kill -TERM $HPID
wait $HPID
check "hound exits 0" test $? -eq 0
done_testing
