#!/bin/sh
# CPU-profile benchmark: one spinning target (tests/targets/spin.c, plain -O2,
# one busy thread), its throughput with nothing attached, under `hound capture
# -k cpu` (99 Hz), `perf record -F 99 -g`, `perf record -F 99 --call-graph
# dwarf` and the flight recorder at 19 Hz; the profilers' CPU and RSS; the
# share of samples with the full chain. Each round runs every variant and two
# baselines (nothing attached), in an order rotated every round; the loss
# column is the median over rounds, next to the noise floor: the median
# difference between the two baselines of a round. Prints the section; with
# -w also writes it as "## CPU profiles" into docs/benchmarks.md.
#   sh bench/cpu.sh [-w] [BUILDDIR]    (needs root or CAP_PERFMON, perf, go)
# ROUNDS=N (default 5), SECS=N seconds per run (default 10).
set -eu
WRITE=0
if [ "${1:-}" = -w ]; then
	WRITE=1
	shift
fi

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-.}" && pwd)
HOUND=$B/hound
DOC="$SRCDIR/docs/benchmarks.md"
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-10}
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT INT TERM

cc -O2 -pthread -o "$S/spin" "$SRCDIR/tests/targets/spin.c"
cc -O2 -pthread -I"$SRCDIR/src" -I"$B" -o "$S/cpu_flightrec" "$SRCDIR/bench/cpu_flightrec.c" \
	"$B/libhound.a" $(pkg-config --libs libdw libelf libunwind-ptrace libunwind-generic zlib \
	yaml-0.1 libproc2 libcurl) -lm

start_target() {
	"$S/spin" -x $((SECS * 1000 + 500)) >"$S/t.out" &
	TP=$!
	sleep 0.3
}
finish_target() { # sets REQ: the requests the target served
	wait "$TP" || true
	REQ=$(sed -n 's/^requests //p' "$S/t.out")
}
timed() { # timed OUT CMD...: user+sys CPU seconds and max RSS (KiB) of CMD into OUT.time
	local out=$1
	shift
	/usr/bin/time -f "%U %S %M" -o "$out.time" "$@" >/dev/null 2>"$out.err" || true
}
# share_perf FILE: percent of perf samples with the whole chain
share_perf() {
	perf script -i "$1" -F ip,sym 2>/dev/null | python3 "$S/share.py" perf
}
share_pprof() {
	HOME=$S go tool pprof -sample_index=samples -traces "$1" 2>/dev/null | python3 "$S/share.py" pprof
}
cat >"$S/share.py" <<'PY'
import re, sys
mode = sys.argv[1]
want = ["handle_request", "compute_digest", "hot_checksum"]
stacks = []
if mode == "perf":
    cur = []
    for line in sys.stdin:
        p = line.split()
        if not p:
            if cur: stacks.append((1, cur))
            cur = []
            continue
        cur.append(p[1] if len(p) > 1 else "?")
    if cur: stacks.append((1, cur))
else:
    cur = None
    for line in sys.stdin:
        m = re.match(r"^ {0,10}(\d+) {3}(\S+)$", line.rstrip("\n"))
        if m:
            cur = (int(m.group(1)), [m.group(2)]); stacks.append(cur); continue
        m = re.match(r"^ {13}(\S+)$", line.rstrip("\n"))
        if m and cur: cur[1].append(m.group(1)); continue
        cur = None
tot = sum(n for n, _ in stacks); full = 0
for n, fr in stacks:
    r = [f.split("+")[0] for f in reversed(fr)]
    k = 0
    for f in r:
        if k < 3 and f == want[k]: k += 1
    if k == 3 and r and r[0] in ("_start", "__clone3", "clone3"): full += n
print("%.1f %d" % (100.0 * full / tot if tot else 0, tot))
PY

: >"$S/results"
# One function per variant; each sets its fields of the round's line.
v_base() { start_target; finish_target; base=$REQ; }
v_base2() { start_target; finish_target; base2=$REQ; }
v_hound() {
	start_target
	timed "$S/h" "$HOUND" capture -p "$TP" -k cpu -d "${SECS}s" -o "$S/h$r"
	finish_target; hreq=$REQ; set -- $(tail -1 "$S/h.time")
	hcpu=$(echo "$1 + $2" | bc); hrss=$3
	hshare=$(share_pprof "$(ls -d "$S/h$r"/*/)cpu.pb.gz")
}
v_perf_fp() {
	start_target
	timed "$S/pg" perf record -q -F 99 -g -p "$TP" -o "$S/pg.data" -- sleep "$SECS"
	finish_target; pgreq=$REQ; set -- $(tail -1 "$S/pg.time")
	pgcpu=$(echo "$1 + $2" | bc); pgrss=$3
	pgshare=$(share_perf "$S/pg.data")
}
v_perf_dwarf() {
	start_target
	timed "$S/pd" perf record -q -F 99 --call-graph dwarf -p "$TP" -o "$S/pd.data" -- sleep "$SECS"
	finish_target; pdreq=$REQ; set -- $(tail -1 "$S/pd.time")
	pdcpu=$(echo "$1 + $2" | bc); pdrss=$3
	pdshare=$(share_perf "$S/pd.data")
}
v_flightrec() {
	start_target
	mkdir -p "$S/fr"
	"$S/cpu_flightrec" "$TP" 19 30 "$SECS" "$S/fr" >"$S/fr.out"
	finish_target; frreq=$REQ
	frshare=$(share_pprof "$S/fr/cpu.before.pb.gz")
}
VARIANTS="v_base v_hound v_perf_fp v_base2 v_perf_dwarf v_flightrec"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# Rotate the order by one every round, so no variant always runs first.
	order=$(echo $VARIANTS | awk -v k=$(( (r - 1) % 6 )) '{for (i = 0; i < NF; i++) printf "%s ", $(((i + k) % NF) + 1)}')
	for v in $order; do $v; done
	echo "$base $hreq $hcpu $hrss $hshare $pgreq $pgcpu $pgrss $pgshare $pdreq $pdcpu $pdrss $pdshare $frreq $frshare $(cat "$S/fr.out") base2 $base2" >>"$S/results"
	echo "round $r ($order): $(tail -1 "$S/results")" >&2
	r=$((r + 1))
done

python3 - "$S/results" "$DOC" "$SECS" "$ROUNDS" <<'PY' >"$S/section.md"
import statistics, sys, platform, os, subprocess
rows = [l.split() for l in open(sys.argv[1])]
secs, rounds = int(sys.argv[3]), int(sys.argv[4])
# the round with the median baseline throughput
rows.sort(key=lambda r: float(r[0]))
m = rows[len(rows) // 2]
f = lambda i: float(m[i])
def loss(i): return 100.0 * (1 - f(i) / f(0))
def med_loss(i): return statistics.median(100.0 * (1 - float(r[i]) / float(r[0])) for r in rows)
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
kern = platform.release()
fr = dict(zip(m[19::2], m[20::2]))
noise = statistics.median(abs(100.0 * (1 - float(r[r.index("base2") + 1]) / float(r[0]))) for r in rows)
print("## CPU profiles\n")
print("Command: `sh bench/cpu.sh -w BUILDDIR` (ROUNDS=%d, SECS=%d). Machine: %s, %d CPUs, Linux %s, "
      "perf_event cpu-clock (no hardware counters in this VM). Target: `tests/targets/spin` built "
      "with plain `-O2` (no frame pointers), one busy thread in "
      "`handle_request -> compute_digest -> hot_checksum`; each variant profiles it for %d s; "
      "throughput loss is against a run with nothing attached in the same round; each round runs "
      "the variants and a second baseline in an order rotated every round; the loss column "
      "is the median over rounds, next to the noise floor (the median difference between the "
      "two baselines of a round: a loss below it is not measurable here); the other columns "
      "come from the median round. A full chain "
      "reaches `_start` or `__clone3` through the three functions.\n" % (rounds, secs, cpu, os.cpu_count(), kern, secs))
print("Load average when the section was written: %s (other work shared the 2 CPUs; the baseline "
      "throughput moves between rounds, so the loss column is only as good as that noise).\n"
      % open("/proc/loadavg").read().split()[0])
print("| variant | target throughput loss (noise floor) | profiler CPU s (% of a core) | profiler max RSS | samples | full chains |")
print("|---|---:|---:|---:|---:|---:|")
def row(name, li, ci, ri, si):
    share, n = m[si], m[si + 1]
    cpu_s = f(ci)
    print("| %s | %.1f%% (±%.1f%%) | %.2f (%.1f%%) | %.1f MiB | %s | %s%% |" % (name, med_loss(li), noise, cpu_s, 100 * cpu_s / secs, f(ri) / 1024, n, share))
row("hound capture -k cpu (99 Hz, FP or DWARF per sample)", 1, 2, 3, 4)
row("perf record -F 99 -g", 6, 7, 8, 9)
row("perf record -F 99 --call-graph dwarf", 11, 12, 13, 14)
cpu_s = float(fr["cpu_s"])
print("| flight recorder 19 Hz, keep 30 s | %.1f%% (±%.1f%%) | %.3f (%.2f%%) | %.1f MiB | %s | %s%% |" % (
    med_loss(16), noise, cpu_s, 100 * cpu_s / secs, float(fr["rss_kib"]) / 1024, m[18], m[17]))
print("\nFlight recorder memory (flightrec_memory: sample ring + kernel ring buffers): %d bytes "
      "for one thread; the ring itself is fixed at ceil(rate x keep) x 16 threads x 256 B "
      "(19 Hz x 30 s: 2.2 MiB), the kernel rings take 36 KiB per thread. Profiler RSS of the "
      "flight recorder is that of the whole bench driver process.\n" % int(fr["ring_bytes"]))
print("Raw rounds (baseline requests; then per variant: requests, CPU s, RSS KiB, full-chain %, samples; flight recorder: requests, full-chain %, samples, its own figures):\n")
for r in rows:
    print("    " + " ".join(r))
print()
PY

cat "$S/section.md"
[ "$WRITE" -eq 1 ] || exit 0
python3 - "$DOC" "$S/section.md" <<'PY'
import os, re, sys
doc, sec = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n\n"
pat = re.compile(r"^## CPU profiles\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda _: sec, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + sec
open(doc, "w").write(text)
PY
echo "bench/cpu.sh: wrote the CPU profiles section of $DOC" >&2
