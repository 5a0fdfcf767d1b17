#!/bin/sh
# upload_queue: one bundle the store keeps failing does not hold back the
# others (per-bundle backoff, oldest first among the ready ones), and a
# multipart completion that the store performed but answered with an error
# (the agent SIGKILLed during the completion; s3rver then answers the
# repeated CompleteMultipartUpload with 500) is recognised from the stored
# object instead of being retried forever. Real `hound run`, real s3rver
# behind the SigV4-verifying proxy.
. "$TOP_SRCDIR/tests/system/lib.sh"
. "$TOP_SRCDIR/tests/s3/s3env.sh"
s3_require
s3_start || { fail "S3 server and verifying proxy start"; done_testing; exit 1; }
OUT=$T/out

count_in() { grep -c "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count_in "$1" "$2")" -ge "$3" ]; }
status_count() { # KEY_RE STATUS: requests for keys matching KEY_RE answered STATUS
	proxy_log | grep -E "\"path\": \"[^\"]*$1" | grep -c "\"status\": $2," || true
}

# 1. Five spooled bundles; every request for the second oldest gets a 500.
write_config "$T/q.yaml" "$OUT"
B1=20260101T000001Z-1-a
BAD=20260101T000002Z-2-bad
B3=20260101T000003Z-3-c
B4=20260101T000004Z-4-d
B5=20260101T000005Z-5-e
for b in $B1 $BAD $B3 $B4 $B5; do make_bundle "$OUT" api $b heap.pb.gz 3000 stacks.txt 200; done
proxy_ctl "fault?count=1000000&status=500&match=/pfx/api/$BAD/" >/dev/null
start_hound "$T/q.yaml" "$T/q.log"
all_good() { for b in $B1 $B3 $B4 $B5; do put_ok "pfx/api/$b/manifest.json" || return 1; done; }
check "the four healthy bundles upload while one keeps failing" wait_for 90 all_good
check "the failing bundle was tried more than once (its own backoff)" \
	wait_for 30 at_least "$T/q.log" "upload failed, will retry.*id=$BAD" 2
check "the failing bundle is not marked uploaded" test ! -e "$OUT/bundles/api/$BAD/.upload"
order() { # the manifests of the healthy bundles were stored oldest first
	proxy_log | grep '"status": 200' | grep -o "pfx/api/[^/]*/manifest.json" | uniq | cut -d/ -f3 | tr '\n' ' '
}
check "the healthy bundles went oldest first" test "$(order)" = "$B1 $B3 $B4 $B5 "
diag "order: $(order)"
# A bundle written while the bad one is backing off goes at once, not after it.
B6=20260101T000006Z-6-f
make_bundle "$OUT" api $B6 heap.pb.gz 100
check "a newer bundle is uploaded while the failing one waits" wait_for 60 put_ok "pfx/api/$B6/manifest.json"
proxy_ctl "reset" >/dev/null
check "once the store accepts it, the failing bundle arrives too" \
	wait_for 90 put_ok "pfx/api/$BAD/manifest.json"
check "its objects are intact" s3_same "pfx/api/$BAD/heap.pb.gz" "$OUT/bundles/api/$BAD/heap.pb.gz"
stop_hound
for b in $B1 $BAD $B3 $B4 $B5 $B6; do
	check "bundle $b marked complete" grep -qx complete "$OUT/bundles/api/$b/.upload"
done

# 2. SIGKILL during CompleteMultipartUpload: the proxy holds the completion,
#    the agent is killed meanwhile, then the completion reaches the store.
#    The restarted agent's completion of the same upload fails (the store
#    already finished it): the stored object must be recognised.
proxy_ctl "reset" >/dev/null
M=20260101T000010Z-10-multi
make_bundle "$OUT" api $M big.bin 7340033   # 7 MiB + 1: two 5 MiB parts
proxy_ctl "fault?count=1&delay_ms=4000&match=^POST%20.*$M/big.bin\\?uploadId=" >/dev/null
start_hound "$T/q.yaml" "$T/kill.log"
held() { proxy_log | grep "$M/big.bin" | grep '"query": "uploadId=' | grep -q '"status": 0,'; }
check "the completion reached the store and is held there" wait_for 60 held
kill -KILL $HPID; wait $HPID 2>/dev/null
completed() { proxy_log | grep "$M/big.bin" | grep '"query": "uploadId=' | grep -q '"status": 200,'; }
check "the held completion went through after the agent died" wait_for 30 completed
check "the agent left its multipart state (it never saw the answer)" test -s "$OUT/bundles/api/$M/.multipart.big.bin"
start_hound "$T/q.yaml" "$T/restart.log"
check "after the restart the bundle is complete" wait_for 90 put_ok "pfx/api/$M/manifest.json"
repeated() { proxy_log | grep "$M/big.bin" | grep '"query": "uploadId=' | grep -Evq '"status": (0|200),'; }
check "the store refused the repeated completion (the attack)" repeated
check "the agent recognised the stored object" \
	grep -q 'msg="multipart completion failed but the object is stored whole; done".*'"$M/big.bin" "$T/restart.log"
creates() { proxy_log | grep "$M/big.bin" | grep -c '"query": "uploads=' || true; }
check "the file was not uploaded a second time" test "$(creates)" -eq 1
check "object intact" s3_same "pfx/api/$M/big.bin" "$OUT/bundles/api/$M/big.bin"
check "no multipart state left" test ! -e "$OUT/bundles/api/$M/.multipart.big.bin"
stop_hound

# 3. The same with the answer lost on the wire (store done, client sees 500).
N=20260101T000011Z-11-lost
make_bundle "$OUT" api $N big.bin 7340033
proxy_ctl "fault?count=1&after=1&status=500&match=^POST%20.*$N/big.bin\\?uploadId=" >/dev/null
start_hound "$T/q.yaml" "$T/lost.log"
check "a completion answered 500 after the store did it is recognised" \
	wait_for 90 put_ok "pfx/api/$N/manifest.json"
check "the 500 really was answered" test "$(status_count "$N/big.bin" 500)" -ge 1
check "and the recognition logged" grep -q 'stored whole.*'"$N/big.bin" "$T/lost.log"
check "object intact" s3_same "pfx/api/$N/big.bin" "$OUT/bundles/api/$N/big.bin"
stop_hound
check "no sanitizer report in the agent's logs" sh -c "! cat '$T'/*.log | grep -q 'Sanitizer\|runtime error'"
done_testing
