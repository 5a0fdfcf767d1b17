#!/usr/bin/env python3
"""A small real HTTP/1.1 server for the http_client unit test.

Prints its port on stdout, then serves until killed:
  GET  /bytes/N   N bytes of 'x' (with Content-Length)
  GET  /chunked/N N bytes of 'y', chunked (no Content-Length)
  GET  /slow      sleeps 30 s before answering
  GET  /status/N  an empty answer with status N
  PUT|POST /echo  answers "LEN SHA256 METHOD" of the body, ETag "\"e-LEN\""
"""
import hashlib
import http.server
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_body(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p.startswith("/bytes/"):
            self.send_body(200, b"x" * int(p[7:]))
        elif p.startswith("/chunked/"):
            n = int(p[9:])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while n > 0:
                k = min(n, 65536)
                self.wfile.write(b"%x\r\n" % k + b"y" * k + b"\r\n")
                n -= k
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/slow":
            time.sleep(30)
            self.send_body(200, b"late")
        elif p.startswith("/status/"):
            self.send_body(int(p[8:]), b"")
        else:
            self.send_body(404, b"no such path")

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        body = b"%d %s %s" % (len(data), hashlib.sha256(data).hexdigest().encode(),
                              self.command.encode())
        self.send_body(200, body, [("ETag", '"e-%d"' % len(data))])

    do_POST = do_PUT


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out or abort on purpose


srv = Server(("127.0.0.1", 0), Handler)
sys.stdout.write("%d\n" % srv.server_address[1])
sys.stdout.flush()
sys.stdout.close()  # the test reads one line, then closes its end
srv.serve_forever()
