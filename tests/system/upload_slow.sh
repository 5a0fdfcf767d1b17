#!/bin/sh
# upload_slow: uploads on slow links. A 5 MiB file sent at 64 KiB/s takes
# about 80 s, longer than any fixed deadline of "60 s + 1 s/MiB": it must
# finish in one attempt (a low-speed limit, not a total timeout). A part the
# store stops answering (a stall) is abandoned by the low-speed limit, and
# the file is sent again in smaller parts. Real `hound run`, real s3rver
# behind the SigV4-verifying proxy, which reads bodies at a set rate.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/s3/s3env.sh"
s3_require
s3_start || { fail "S3 server and verifying proxy start"; done_testing; exit 1; }
OUT=$T/out

# 1. A stall: part 1 of a 12 MiB file (10 MiB parts) gets no answer for 45 s.
S=20260101T000001Z-1-stall
make_bundle "$OUT" api $S big.bin 12582912
write_config "$T/stall.yaml" "$OUT"
sed -i 's/part_size: 5MiB/part_size: 10MiB/' "$T/stall.yaml"
proxy_ctl "fault?count=1&delay_ms=45000&match=^PUT%20.*$S/big.bin\\?partNumber=1&" >/dev/null
start_hound "$T/stall.yaml" "$T/stall.log"
check "a stalled part ends in a timeout, then the file is complete" \
	wait_for 150 put_ok "pfx/api/$S/manifest.json"
check "the stall was cut by the low-speed limit (a timeout logged)" \
	grep -q 'msg="upload timed out on a slow link: sending smaller parts" failed_bytes=10485760 part_size=5242880' "$T/stall.log"
check "the file started over with the smaller parts" grep -q 'parts made smaller after a timeout; starting the file over' "$T/stall.log"
parts_of "pfx/api/$S/big.bin" >"$T/parts"
last_upload=$(tail -1 "$T/parts" | cut -d' ' -f2)
check "the completed upload used 5 MiB parts: three of them" \
	test "$(grep -c " $last_upload\$" "$T/parts")" -eq 3
check "object intact" s3_same "pfx/api/$S/big.bin" "$OUT/bundles/api/$S/big.bin"
stop_hound

# 2. A slow link: every request for the bundle is read at 64 KiB/s.
proxy_ctl reset >/dev/null
L=20260101T000002Z-2-slow
make_bundle "$OUT" api $L heap.pb.gz 5242880     # one 5 MiB PUT: ~80 s at 64 KiB/s
write_config "$T/slow.yaml" "$OUT"
proxy_ctl "fault?count=1000&rate_bps=65536&match=/pfx/api/$L/" >/dev/null
t0=$(date +%s)
start_hound "$T/slow.yaml" "$T/slow.log"
check "a 5 MiB file on a 64 KiB/s link arrives" wait_for 400 put_ok "pfx/api/$L/manifest.json"
t1=$(date +%s)
diag "the slow bundle took $((t1 - t0)) s"
check "it really went at link speed (over 60 s for 5 MiB)" test $((t1 - t0)) -ge 60
check "in one attempt: no failure logged" sh -c "! grep -q 'upload failed' '$T/slow.log'"
check "the file was sent once" test "$(put_count "pfx/api/$L/heap.pb.gz")" -eq 1
check "object intact" s3_same "pfx/api/$L/heap.pb.gz" "$OUT/bundles/api/$L/heap.pb.gz"
stop_hound
done_testing
