#!/usr/bin/python3
"""A verifying S3 proxy for hound's tests.

s3rver speaks the S3 API but does not check signatures. This proxy sits in
front of it, recomputes every request's AWS Signature V4 with botocore (from
Debian's awscli) the way S3 does (path decoded and re-encoded per RFC 3986,
query re-encoded and sorted, every x-amz-* header signed, the body's sha256
checked against x-amz-content-sha256) and answers 403 SignatureDoesNotMatch
on any difference, so a signing bug fails the suite. It forwards good
requests unchanged.

Test hooks under /__proxy/ (not signed):
  POST /__proxy/fault?count=N&match=RE[&status=S][&delay_ms=D][&drop=1][&after=1][&rate_bps=B]
       the next N requests whose "METHOD PATH?QUERY" matches RE are delayed
       by D ms, then answered with status S (no forward), dropped (connection
       closed without an answer), or forwarded when neither is given. With
       after=1 the request is forwarded first and its answer replaced by S
       (the store did the work, the client sees a failure). With rate_bps
       the request body is read at B bytes per second (a slow link).
  GET  /__proxy/log    one JSON object per line: method, path, query, status
                       (status 0: a delayed request, logged when it arrives)
  POST /__proxy/reset  clears faults and the log

Usage: sigv4_proxy.py --upstream HOST:PORT [--port N] [--port-file F]
                      [--cred AKID:SECRET ...] [--region R]
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import re
import socketserver
import sys
import threading
import time
import urllib.parse

import awscli  # noqa: F401  (Debian's awscli vendors botocore; importing it first makes it importable)
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ARGS = None
LOCK = threading.Lock()
FAULTS = []   # dicts: count, match (compiled), status, delay_ms, drop
LOG = []
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


def s3_error(code, message, status):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '</Error>' % (code, message)).encode()
    return status, body


def canonical_query(query):
    pairs = []
    for item in query.split("&") if query else []:
        k, _, v = item.partition("=")
        pairs.append((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~")))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def verify(method, raw_path, headers, body):
    """Returns None when the request is signed right, else (status, xml)."""
    auth = headers.get("Authorization", "")
    m = AUTH_RE.match(auth)
    if not m:
        return s3_error("AccessDenied", "missing or malformed SigV4 Authorization", 403)
    akid, day, region, signed, signature = m.groups()
    if akid not in ARGS.creds:
        return s3_error("InvalidAccessKeyId", "unknown access key " + akid, 403)
    if region != ARGS.region:
        return s3_error("AuthorizationHeaderMalformed", "region " + region, 400)
    names = signed.split(";")
    if names != sorted(names):
        return s3_error("AccessDenied", "SignedHeaders not sorted", 403)
    lower = {}
    for k, v in headers.items():
        lower.setdefault(k.lower(), []).append(v)
    for need in ("host", "x-amz-date", "x-amz-content-sha256"):
        if need not in names:
            return s3_error("AccessDenied", need + " is not signed", 403)
    for k in lower:
        if k.startswith("x-amz-") and k not in names:
            return s3_error("AccessDenied", k + " is present but not signed", 403)
    for k in names:
        if k not in lower:
            return s3_error("AccessDenied", "signed header %s is missing" % k, 403)
    amz_date = lower["x-amz-date"][0]
    if amz_date[:8] != day:
        return s3_error("AccessDenied", "credential date differs from x-amz-date", 403)
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc)
    if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
        return s3_error("RequestTimeTooSkewed", "x-amz-date too far from now", 403)
    payload = lower["x-amz-content-sha256"][0]
    if payload != "UNSIGNED-PAYLOAD":
        if not re.fullmatch(r"[0-9a-f]{64}", payload):
            return s3_error("InvalidArgument", "bad x-amz-content-sha256 " + payload, 400)
        if hashlib.sha256(body).hexdigest() != payload:
            return s3_error("XAmzContentSHA256Mismatch", "body does not match its sha256", 400)
    path, _, query = raw_path.partition("?")
    canon_path = urllib.parse.quote(urllib.parse.unquote(path), safe="/~")
    url = "http://" + lower["host"][0] + canon_path
    cq = canonical_query(query)
    if cq:
        url += "?" + cq
    req = AWSRequest(method=method, url=url,
                     headers={k: ",".join(lower[k]) for k in names}, data=body)
    req.context["timestamp"] = amz_date
    signer = S3SigV4Auth(Credentials(akid, ARGS.creds[akid]), "s3", region)
    canonical = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, canonical), req)
    if not hmac.compare_digest(want, signature):
        sys.stderr.write("sigv4_proxy: signature mismatch for %s %s\n--- canonical request "
                         "S3 expects ---\n%s\n---\n" % (method, raw_path, canonical))
        return s3_error("SignatureDoesNotMatch", "the signature does not match", 403)
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def read_slowly(self, n, rate):
        """n bytes at rate bytes/s, in tenth-of-a-second slices (a slow uplink)."""
        out = b""
        start = time.monotonic()
        while len(out) < n:
            chunk = self.rfile.read(min(n - len(out), max(1, rate // 10)))
            if not chunk:
                break
            out += chunk
            ahead = len(out) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        return out

    def read_body(self, rate=0):
        if rate and self.headers.get("Content-Length"):
            return self.read_slowly(int(self.headers["Content-Length"]), rate)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def answer(self, status, body, ctype="application/xml", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self, body):
        path, _, query = self.path.partition("?")
        q = dict(urllib.parse.parse_qsl(query))
        with LOCK:
            if path == "/__proxy/fault":
                FAULTS.append({"count": int(q.get("count", "1")),
                               "match": re.compile(q.get("match", "")),
                               "status": int(q.get("status", "0")),
                               "delay_ms": int(q.get("delay_ms", "0")),
                               "drop": q.get("drop") == "1",
                               "after": q.get("after") == "1",
                               "rate_bps": int(q.get("rate_bps", "0"))})
                out = b"ok\n"
            elif path == "/__proxy/log":
                out = "".join(json.dumps(e) + "\n" for e in LOG).encode()
            elif path == "/__proxy/reset":
                FAULTS.clear()
                LOG.clear()
                out = b"ok\n"
            else:
                return self.answer(404, b"unknown control path\n", "text/plain")
        self.answer(200, out, "text/plain")

    def take_fault(self):
        line = "%s %s" % (self.command, self.path)
        with LOCK:
            for f in FAULTS:
                if f["count"] > 0 and f["match"].search(line):
                    f["count"] -= 1
                    return f
        return None

    def record(self, status):
        path, _, query = self.path.partition("?")
        with LOCK:
            LOG.append({"method": self.command, "path": urllib.parse.unquote(path),
                        "query": query, "status": status, "time": time.time()})

    def upstream(self):
        conn = getattr(self.server.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(ARGS.upstream, timeout=120)
            self.server.local.conn = conn
        return conn

    def forward(self, body, replace=0):
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        hdrs["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a kept-alive upstream connection may have died
            conn = self.upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=hdrs)
                resp = conn.getresponse()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self.server.local.conn = None
                if attempt == 2:
                    self.record(502)
                    return self.answer(*s3_error("BadGateway", "upstream down", 502))
        if replace:
            resp.read()
            self.record(replace)
            return self.answer(*s3_error("InternalError", "injected after the store answered %d"
                                         % resp.status, replace))
        try:
            self.relay(resp)
        finally:
            # logged even when the client is gone: the store did the work
            self.record(resp.status)

    def relay(self, resp):
        self.send_response(resp.status)
        length = resp.getheader("Content-Length")
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if length is None and self.command != "HEAD":
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def handle_any(self):
        if self.path.startswith("/__proxy/"):
            return self.control(self.read_body())
        fault = self.take_fault()
        body = self.read_body(fault["rate_bps"] if fault else 0)
        if fault and fault["delay_ms"]:
            self.record(0)  # "held": the test may act while the request waits
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault and fault["drop"]:
            self.record(-1)
            self.close_connection = True
            return
        if fault and fault["status"] and not fault["after"]:
            self.record(fault["status"])
            return self.answer(*s3_error("InternalError", "injected by the test", fault["status"]))
        bad = verify(self.command, self.path, self.headers, body)
        if bad:
            self.record(bad[0])
            return self.answer(*bad)
        self.forward(body, fault["status"] if fault and fault["after"] else 0)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # A small receive buffer (inherited by accepted sockets), so a body
        # read at rate_bps holds the client back as a slow link would, instead
        # of vanishing into megabytes of loopback buffers.
        import socket
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        super().server_bind()

    def __init__(self, *a):
        super().__init__(*a)
        self.local = threading.local()

    def handle_error(self, request, client_address):
        pass  # clients killed mid-request are part of the tests


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--cred", action="append", default=[])
    p.add_argument("--region", default="us-east-1")
    ARGS = p.parse_args()
    ARGS.creds = dict(c.split(":", 1) for c in (ARGS.cred or ["S3RVER:S3RVER"]))
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    port = srv.server_address[1]
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
