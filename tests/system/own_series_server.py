#!/usr/bin/env python3
"""A small service with its own numbers, for own_series.sh.

Serves on 127.0.0.1 (port 0: the kernel picks; written to PORTFILE):
  /metrics     jobs_done_total{queue="a"} and {queue="b"}, counting up 20 times a
               second; frozen once DIR/stop exists; {queue="b"} disappears once
               DIR/gone exists
  /debug/vars  {"memstats": {"HeapObjects": N}} (N counts up too)
usage: own_series_server.py DIR PORTFILE
"""
import http.server
import json
import os
import sys
import threading
import time

DIR, PORTFILE = sys.argv[1], sys.argv[2]
count = 0


def tick():
    global count
    while True:
        if not os.path.exists(os.path.join(DIR, "stop")):
            count += 1
        time.sleep(0.05)


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/metrics":
            lines = ["# HELP jobs_done_total Jobs finished.", "# TYPE jobs_done_total counter",
                     'jobs_done_total{queue="a"} %d' % count]
            if not os.path.exists(os.path.join(DIR, "gone")):
                lines.append('jobs_done_total{queue="b"} %d' % count)
            body = ("\n".join(lines) + "\n").encode()
            ctype = "text/plain; version=0.0.4"
        elif self.path == "/debug/vars":
            body = json.dumps({"memstats": {"HeapObjects": 1000 + count}}).encode()
            ctype = "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=tick, daemon=True).start()
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
