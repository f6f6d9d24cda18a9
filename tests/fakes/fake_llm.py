#!/usr/bin/python3
"""A fake LLM server speaking Ollama's and the OpenAI-compatible HTTP APIs, for tests.

    /usr/bin/python3 tests/fakes/fake_llm.py [--port N] [--api-key KEY] [--dim D]

Listens on 127.0.0.1 (port 0 = any free port) and prints "PORT <n>" on stdout once ready.

Model endpoints (request and response shapes as the real servers use them):
    POST /api/chat               {"model", "messages": [{"role","content"}], "stream": false}
    POST /api/embed              {"model", "input": "text" | ["text", ...]}
    POST /v1/chat/completions    {"model", "messages": [...]}      (Bearer key if --api-key)
    POST /v1/embeddings          {"model", "input": "text" | [...]}
    GET  /api/tags, GET /        Ollama's model list and liveness answer
    GET  /v1/models              the OpenAI-compatible model list
The chat answer is "fake answer from <model>: <question>" followed by every marker found in
the messages (words starting with "MARK", e.g. MARK_CPI_2024), so a test can check which
context reached the model. Token counts are the whitespace-separated words in and out.
The model "missing-model" answers 404 like a model that is not installed.

Control endpoints (always answered normally):
    GET  /_requests              the last 50 model requests: [{"path","auth","body"}]
    POST /_mode                  {"mode": "ok"|"down"|"slow"|"500"|"malformed", "seconds": s}
        down      close the connection without answering
        slow      sleep `seconds` (default 3) before answering normally
        500       HTTP 500 with an error body
        malformed HTTP 200 with a body that is not JSON
    POST /_reset                 mode ok, forget recorded requests
"""
import argparse
import hashlib
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 8 * 1024 * 1024  # largest request body the fake reads
MAX_RECORDED = 50
MARKER = re.compile(r"\bMARK\w+")


class State:
    def __init__(self, api_key, dim):
        self.lock = threading.Lock()
        self.mode = "ok"
        self.seconds = 3.0
        self.requests = []
        self.api_key = api_key
        self.dim = dim


def words(text):
    return len(text.split())


def fake_vector(text, dim):
    """A deterministic unit vector for a text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dim)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [round(x / norm, 6) for x in raw]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    @property
    def state(self):
        return self.server.state

    def send_json(self, status, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_raw(status, data)

    def send_raw(self, status, data, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("body too large")
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw.decode("utf-8")) if raw else None

    # ---- control ----

    def do_GET(self):
        if self.path == "/_requests":
            with self.state.lock:
                self.send_json(200, list(self.state.requests))
        elif self.path == "/api/tags":
            self.send_json(200, {"models": [{"name": "fake:latest", "model": "fake:latest"}]})
        elif self.path == "/":
            self.send_raw(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": "fake:latest", "object": "model", "owned_by": "fake"}]})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        try:
            body = self.read_body()
        except (ValueError, UnicodeDecodeError):
            self.send_json(400, {"error": "invalid JSON body"})
            return
        if self.path == "/_mode":
            mode = (body or {}).get("mode")
            if mode not in ("ok", "down", "slow", "500", "malformed"):
                self.send_json(400, {"error": "unknown mode"})
                return
            with self.state.lock:
                self.state.mode = mode
                self.state.seconds = float((body or {}).get("seconds", 3))
            self.send_json(200, {"mode": mode})
            return
        if self.path == "/_reset":
            with self.state.lock:
                self.state.mode, self.state.seconds = "ok", 3.0
                self.state.requests.clear()
            self.send_json(200, {"mode": "ok"})
            return
        routes = {
            "/api/chat": self.ollama_chat,
            "/v1/chat/completions": self.openai_chat,
            "/api/embed": self.ollama_embed,
            "/v1/embeddings": self.openai_embed,
        }
        route = routes.get(self.path)
        if route is None:
            self.send_json(404, {"error": "not found"})
            return
        with self.state.lock:
            self.state.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            del self.state.requests[:-MAX_RECORDED]
            mode, seconds = self.state.mode, self.state.seconds
        if mode == "down":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if mode == "slow":
            time.sleep(seconds)
        if mode == "500":
            self.send_json(500, {"error": "model runner crashed"})
            return
        if mode == "malformed":
            self.send_raw(200, b'{"message": {"content": "cut off in the mid')
            return
        try:
            route(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ---- models ----

    def check_chat(self, body, openai):
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return "model is required"
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "messages must be a non-empty array"
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                    or not isinstance(m.get("content"), str):
                return "each message needs a role and a string content"
        if body.get("stream", not openai) is not False:
            return "the fake only answers stream=false"
        return None

    def answer(self, body):
        msgs = body["messages"]
        question = next((m["content"] for m in reversed(msgs) if m["role"] == "user"), "")
        question = question.split("Question:")[-1].strip()
        markers = []
        for m in msgs:
            markers += [x for x in MARKER.findall(m["content"]) if x not in markers]
        text = "fake answer from %s: %s" % (body["model"], question)
        if markers:
            text += " [context: %s]" % " ".join(markers)
        prompt_tokens = sum(words(m["content"]) for m in msgs)
        return text, prompt_tokens, words(text)

    def missing_model(self, body, openai):
        if body.get("model") != "missing-model":
            return False
        msg = "model 'missing-model' not found"
        self.send_json(404, {"error": {"message": msg, "type": "invalid_request_error"}}
                       if openai else {"error": msg})
        return True

    def ollama_chat(self, body):
        problem = self.check_chat(body, openai=False)
        if problem:
            self.send_json(400, {"error": problem})
            return
        if self.missing_model(body, openai=False):
            return
        text, pin, pout = self.answer(body)
        self.send_json(200, {
            "model": body["model"],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "message": {"role": "assistant", "content": text},
            "done_reason": "stop",
            "done": True,
            "total_duration": 1000000,
            "load_duration": 1000,
            "prompt_eval_count": pin,
            "prompt_eval_duration": 1000,
            "eval_count": pout,
            "eval_duration": 1000,
        })

    def openai_auth_ok(self):
        key = self.state.api_key
        if key and self.headers.get("Authorization") != "Bearer " + key:
            self.send_json(401, {"error": {"message": "Incorrect API key provided",
                                           "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
            return False
        return True

    def openai_chat(self, body):
        if not self.openai_auth_ok():
            return
        problem = self.check_chat(body, openai=True)
        if problem:
            self.send_json(400, {"error": {"message": problem, "type": "invalid_request_error"}})
            return
        if self.missing_model(body, openai=True):
            return
        text, pin, pout = self.answer(body)
        self.send_json(200, {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0,
                         "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": pin, "completion_tokens": pout,
                      "total_tokens": pin + pout},
        })

    def embed_inputs(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return None
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or \
                not all(isinstance(x, str) for x in inputs):
            return None
        return inputs

    def ollama_embed(self, body):
        inputs = self.embed_inputs(body)
        if inputs is None:
            self.send_json(400, {"error": "model and input are required"})
            return
        if self.missing_model(body, openai=False):
            return
        self.send_json(200, {
            "model": body["model"],
            "embeddings": [fake_vector(x, self.state.dim) for x in inputs],
            "total_duration": 1000,
            "prompt_eval_count": sum(words(x) for x in inputs),
        })

    def openai_embed(self, body):
        if not self.openai_auth_ok():
            return
        inputs = self.embed_inputs(body)
        if inputs is None:
            self.send_json(400, {"error": {"message": "model and input are required"}})
            return
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(x, self.state.dim)}
                for i, x in enumerate(inputs)]
        data.reverse()  # real servers may answer out of order; "index" says where rows go
        self.send_json(200, {"object": "list", "data": data, "model": body["model"],
                             "usage": {"prompt_tokens": sum(words(x) for x in inputs),
                                       "total_tokens": sum(words(x) for x in inputs)}})


def main():
    ap = argparse.ArgumentParser(description="fake Ollama/OpenAI server for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--dim", type=int, default=8)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.api_key, args.dim)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
