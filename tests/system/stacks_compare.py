#!/usr/bin/env python3
"""stacks_compare: agreement of function names between `hound stacks` and `eu-stack`.

usage: stacks_compare.py HOUND_TXT EU_STACK_TXT
Prints "frames N agree M ratio R threads K" and exits 0. Threads are matched by
TID and frames by position; a thread whose program counters differ between the
two captures (it moved) is left out. A name is compared without its symbol
version (pthread_cond_wait@@GLIBC_2.3.2 -> pthread_cond_wait); a frame without
a name on both sides agrees (stripped code neither tool can name).
"""
import re
import sys

FRAME = re.compile(r"^#(\d+)\s+0x([0-9a-f]+)(?: (\S+))?(?: - .*)?$")


def parse(path):
    threads, cur = {}, None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^TID (\d+)", line)
        if m:
            cur = threads.setdefault(int(m.group(1)), [])
            continue
        m = FRAME.match(line)
        if m and cur is not None:
            name = m.group(3) or ""
            if name == "-":
                name = ""
            cur.append((int(m.group(2), 16), name.split("@")[0]))
    return threads


def main():
    ours, theirs = parse(sys.argv[1]), parse(sys.argv[2])
    frames = agree = nthreads = 0
    for tid, ref in theirs.items():
        got = ours.get(tid)
        if not got or [pc for pc, _ in got] != [pc for pc, _ in ref]:
            continue
        nthreads += 1
        for (_, a), (_, b) in zip(got, ref):
            frames += 1
            agree += a == b
            if a != b:
                print("# tid %d: hound %r, eu-stack %r" % (tid, a, b))
    ratio = agree / frames if frames else 0.0
    print("frames %d agree %d ratio %.4f threads %d" % (frames, agree, ratio, nthreads))


main()
