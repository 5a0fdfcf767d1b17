#!/usr/bin/env bash
# `hound capture --go-url` writes every Go capture kind into one bundle, and
# hound's pprof decoder reads each profile as go tool pprof does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/go_lib.sh"

build_go_target || { fail "build the Go target"; done_testing; exit 1; }
start_go cap steady || { fail "Go target listens"; done_testing; exit 1; }

"$HOUND" capture -p "$GO_PID" --go-url "$GO_URL" \
	-k heap,goroutines,allocs,block,mutex,threadcreate,cpu,trace -d 1s -o "$T/out" >"$T/cap.out" 2>"$T/cap.err"
check "hound capture exits 0" [ $? -eq 0 ]
B=$(ls -d "$T"/out/*/*/ 2>/dev/null | head -1)
[ -n "$B" ] || B=$(ls -d "$T"/out/*/ 2>/dev/null | head -1)
diag "bundle: $B"
for f in heap.pb.gz goroutines.pb.gz goroutines.txt allocs.pb.gz block.pb.gz mutex.pb.gz \
	threadcreate.pb.gz cpu.pb.gz trace.out; do
	check "$f written" [ -s "$B/$f" ]
done
check "no errors in the manifest" \
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert not j["errors"], j["errors"]' "$B/manifest.json"
check "formats in the manifest" python3 - "$B/manifest.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
fmt = {f["name"]: f["format"] for f in j["files"]}
assert fmt["heap.pb.gz"] == "pprof" and fmt["goroutines.txt"] == "text" and fmt["trace.out"] == "trace", fmt
PY
check "goroutines.txt is a debug=2 dump" grep -q '^goroutine [0-9]* \[' "$B/goroutines.txt"
check "cpu.folded written beside cpu.pb.gz, in the manifest" python3 - "$B/manifest.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
f = {f["name"]: (f["kind"], f["format"]) for f in j["files"]}
assert f.get("cpu.folded") == ("cpu", "folded"), f
PY

# stacks runs before goroutines and fetches the same dump: its files are still
# of kind goroutines in the manifest, and are fetched once.
"$HOUND" capture -p "$GO_PID" --go-url "$GO_URL" -k goroutines,stacks -o "$T/out3" >/dev/null 2>&1
B3=$(ls -d "$T"/out3/*/ 2>/dev/null | head -1)
check "goroutine files are of kind goroutines when stacks asked too" python3 - "$B3/manifest.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
kinds = {f["name"]: f["kind"] for f in j["files"]}
names = [f["name"] for f in j["files"]]
assert kinds["goroutines.txt"] == "goroutines" and kinds["goroutines.pb.gz"] == "goroutines", kinds
assert kinds["stacks.txt"] == "stacks", kinds
assert names.count("goroutines.txt") == 1, names
PY

# Decoder vs go tool pprof: the same totals for every profile and sample type.
for spec in heap.pb.gz:inuse_space heap.pb.gz:alloc_objects allocs.pb.gz:alloc_space \
	goroutines.pb.gz:goroutine threadcreate.pb.gz:threadcreate cpu.pb.gz:samples; do
	f=${spec%%:*} st=${spec#*:}
	# go tool pprof drops samples without a stack (threadcreate has them): so do we here
	ours=$("$GO_PROBE" dump "$B/$f" "$st" | awk 'NR>1 && $2 != "(none)" {s += $1} END {print s + 0}')
	theirs=$(go tool pprof -raw "$B/$f" 2>/dev/null | python3 -c '
import sys
lines = sys.stdin.read().split("\n")
i = lines.index("Samples:")
types = lines[i + 1].split()
col = [t.split("/")[0] for t in types].index(sys.argv[1])
tot = 0
for l in lines[i + 2:]:
    if not l.strip(): continue
    if not l.strip()[0].isdigit(): 
        if l.startswith("Locations"): break
        continue
    if ":" not in l: continue
    tot += int(l.split(":")[0].split()[col])
print(tot)' "$st")
	check "$f $st: decoder total $ours = go tool pprof's $theirs" [ -n "$ours" -a "$ours" = "$theirs" ]
done
check "a non-Go kind list without --go-url is refused" bash -c "! '$HOUND' capture -p $GO_PID -k goroutines -o '$T/out2' 2>/dev/null"
# cpu.folded of a busy Go process (a GC storm burns CPU): every sample, folded
start_go busy gc || fail "busy Go target listens"
kill -USR1 "$GO_PID"
"$HOUND" capture -p "$GO_PID" --go-url "$GO_URL" -k cpu -d 2s -o "$T/out4" >"$T/cap4.out" 2>"$T/cap4.err"
B4=$(cat "$T/cap4.out")
check "cpu.folded lines are root;..;leaf COUNT" awk 'NF < 2 || $NF !~ /^[0-9]+$/ { exit 1 } END { exit NR == 0 }' "$B4/cpu.folded"
folded_total=$(awk '{ s += $NF } END { print s + 0 }' "$B4/cpu.folded")
pprof_total=$("$GO_PROBE" dump "$B4/cpu.pb.gz" samples | awk 'NR>1 && $2 != "(none)" {s += $1} END {print s + 0}')
check "cpu.folded counts every sample of cpu.pb.gz ($folded_total = $pprof_total)" test "$folded_total" -gt 0 -a "$folded_total" = "$pprof_total"
check "cpu.folded has the Go code that burns it" grep -q 'main\.gcTick' "$B4/cpu.folded"
kill "$GO_PID"
done_testing
