#!/usr/bin/python3
"""A fake webhook receiver for econq's tests (stdlib only; run with /usr/bin/python3).

Listens on 127.0.0.1 or --host (e.g. ::1) (port from --port, 0 = any free port) and prints "PORT <n>" on stdout
once it accepts connections. Every POST is recorded: path, the three Standard Webhooks headers,
body, whether the signature verified against --secret (repeatable, for rotation) and the status
answered. With at least one --secret, a delivery that does not verify is answered 401.

What it answers is chosen by the request path:
  /status/<code>      answer <code> (e.g. /status/500, /status/410)
  /hang[/<seconds>]   sleep (default 60 s) before answering 200
  /close              close the connection without any answer
  /flaky/<n>          answer 500 to the first <n> attempts of each webhook-id, then 200
  /redirect           answer 302 with Location: /hook (a sender must not follow it)
  /big/<n>            answer 200 with a body of <n> bytes
  anything else       the default mode (200, unless changed by POST /control)
Control endpoints:
  GET  /deliveries    JSON array of the records so far
  POST /control       {"mode": "ok"|"status"|"hang"|"close"|"flaky"|"redirect", "code": 500,
                       "seconds": 60, "n": 2} sets the default mode
  POST /reset         forgets the records and attempt counts
With --log FILE every record is also appended to FILE as one JSON line. With --tls-cert and
--tls-key it speaks https (the handshake runs in the connection's thread).
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import socket
import ssl
import sys
import threading
import time

# Largest request body read (anything larger is refused with 413): econq sends at most 1 MiB.
MAX_BODY_BYTES = 2 * 1024 * 1024


def verify(secrets, msg_id, timestamp, signature, body, tolerance, now=None):
    """Standard Webhooks verification; returns (ok, reason)."""
    if not msg_id or not timestamp or not signature:
        return False, "missing headers"
    try:
        ts = int(timestamp)
    except ValueError:
        return False, "bad timestamp"
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        return False, "timestamp out of tolerance"
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    for secret in secrets:
        key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for part in signature.split(" "):
            version, _, sig = part.partition(",")
            if version == "v1" and hmac.compare_digest(sig, expected):
                return True, "verified"
    return False, "no matching signature"


class State:
    def __init__(self, secrets, tolerance, log_path):
        self.lock = threading.Lock()
        self.records = []
        self.attempts = {}
        self.secrets = secrets
        self.tolerance = tolerance
        self.log_path = log_path
        self.mode = {"mode": "ok"}

    def record(self, rec):
        with self.lock:
            self.records.append(rec)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")

    def attempt(self, msg_id):
        with self.lock:
            self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
            return self.attempts[msg_id]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-webhook-receiver/1"

    def log_message(self, format, *args):  # quiet: the tests read the records instead
        pass

    def _answer(self, code, payload, headers=()):
        data = json.dumps(payload).encode()
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer_big(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while n > 0:
                self.wfile.write(chunk[:n])
                n -= min(n, len(chunk))
        except OSError:
            self.close_connection = True  # the sender stopped reading, as it should

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length)

    def do_GET(self):
        if self.path == "/deliveries":
            with self.server.state.lock:
                records = list(self.server.state.records)
            self._answer(200, records)
        else:
            self._answer(404, {"error": "not found"})

    def _behaviour(self):
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        try:
            if parts[:1] == ["status"] and len(parts) == 2:
                return {"mode": "status", "code": int(parts[1])}
            if parts[:1] == ["hang"]:
                return {"mode": "hang", "seconds": float(parts[1]) if len(parts) > 1 else 60}
            if parts == ["close"]:
                return {"mode": "close"}
            if parts == ["redirect"]:
                return {"mode": "redirect"}
            if parts[:1] == ["big"] and len(parts) == 2:
                return {"mode": "big", "n": int(parts[1])}
            if parts[:1] == ["flaky"] and len(parts) == 2:
                return {"mode": "flaky", "n": int(parts[1])}
        except ValueError:
            pass
        with self.server.state.lock:
            return dict(self.server.state.mode)

    def do_POST(self):
        state = self.server.state
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._answer(413, {"error": "body too large"})
            return
        if self.path == "/control":
            with state.lock:
                state.mode = json.loads(body or b"{}")
            self._answer(200, {"ok": True})
            return
        if self.path == "/reset":
            with state.lock:
                state.records.clear()
                state.attempts.clear()
            self._answer(200, {"ok": True})
            return
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        if state.secrets:
            ok, reason = verify(state.secrets, msg_id, timestamp, signature, body, state.tolerance)
        else:
            ok, reason = None, "no secret configured"
        attempt = state.attempt(msg_id)
        b = self._behaviour()
        if state.secrets and not ok:
            status = 401
        elif b["mode"] == "status":
            status = int(b.get("code", 500))
        elif b["mode"] == "close":
            status = 0
        elif b["mode"] == "redirect":
            status = 302
        elif b["mode"] == "flaky":
            status = 500 if attempt <= int(b.get("n", 1)) else 200
        else:
            status = 200
        state.record({
            "path": self.path, "id": msg_id, "timestamp": timestamp, "signature": signature,
            "body": body.decode("utf-8", "replace"), "verified": ok, "reason": reason,
            "attempt": attempt, "status": status, "received_at": time.time(),
            "user_agent": self.headers.get("user-agent", ""),
            "content_type": self.headers.get("content-type", ""),
        })
        if b["mode"] == "hang" and status == 200:
            time.sleep(float(b.get("seconds", 60)))
        if status == 0:
            # Abrupt close: no status line at all.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if b["mode"] == "big" and status == 200:
            self._answer_big(int(b["n"]))
            return
        headers = [("Location", "/hook")] if status == 302 else []
        self._answer(status, {"received": msg_id, "status": status}, headers)

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # tests open hundreds of connections at once

    def handle_error(self, request, client_address):
        pass  # a client that disconnects mid-request is expected in these tests


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret", action="append", default=[])
    ap.add_argument("--tolerance", type=int, default=300)
    ap.add_argument("--log")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    if ":" in args.host:
        Server.address_family = socket.AF_INET6
    server = Server((args.host, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    server.state = State(args.secret, args.tolerance, args.log)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
