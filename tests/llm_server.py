"""A local OpenAI-compatible server for eval tests and benchmarks: chat completions and embeddings.

Runs on 127.0.0.1 (port 0: the OS picks one) in a background thread, or as a process of its own
(``python tests/llm_server.py --latency 0.1`` prints ``PORT <n>`` and serves until killed).

- Deterministic answers: ``answers[(model, last user text)]`` or ``answers[last user text]``,
  else ``"echo: <last user text>"``. Usage counts words; ``usage`` overrides it. An answer that is a
  dict is a message with tool calls: ``{"content": None, "tool_calls": [{"name": "f", "arguments":
  {...} or "text"}]}`` (finish_reason ``tool_calls``).
- ``latency`` seconds per request (``latency_by_model`` per model).
- Fault injection, consumed in order per last user text or per model (the text first):
  ``faults["2+2?"] = ["429", "500", ...]`` or ``faults[model] = [...]``, where a fault
  is ``"429"`` (with ``Retry-After``), ``"500"``, ``"503"``, ``"hang"`` (sleeps ``hang_s``),
  ``"badjson"`` (a 200 whose body is not JSON), ``"401"`` (echoes the Authorization header, as a
  careless server might), ``"400"``, ``"404"``, ``"context"`` (a context-window 400) or ``"cut"``
  (a 200 that promises more body than it sends, then closes the connection; streamed: two pieces, then
  the connection closes).
- ``"stream": true`` answers as server-sent events, a word at a time, ``stream_delay`` seconds apart.
  ``always[model] = fault`` repeats one fault forever (``always[text]`` too).
- Counters: ``count(path=None, model=None, text=None)``; ``requests`` keeps each request's path, model,
  last user text, body, Authorization header, arrival time and client port (``peer``: one per
  connection), so tests can assert how many calls
  were made, when, and what was sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[Any] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a client that left
            super().handle_error(request, client_address)

    def close_connections(self, wait: float = 5.0) -> None:
        """End every kept-alive connection, so that no handler thread outlives the server."""
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while self.connections and time.monotonic() < deadline:
            time.sleep(0.01)


class LLMServer:
    """The server's state and controls; ``url`` is the ``api_base`` to give litellm."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.latency_by_model: dict[str, float] = {}
        self.answers: dict[Any, str] = {}
        self.usage: dict[str, dict[str, int]] = {}  # model -> usage to report
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.always: dict[str, str] = {}
        self.retry_after = "1"
        self.hang_s = 3.0
        self.stream_delay = 0.0  # seconds between the pieces of a streamed answer
        self.keep_requests = True
        self.requests: list[dict[str, Any]] = []
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, port: int = 0) -> LLMServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = _Server(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._counts.clear()
            self.faults.clear()
            self.always.clear()
            self.answers.clear()
            self.usage.clear()
            self.latency_by_model.clear()
            self.latency = 0.0
            self.retry_after = "1"
            self.stream_delay = 0.0

    def count(self, path: str | None = None, model: str | None = None, text: str | None = None) -> int:
        with self._lock:
            if text is not None:
                return sum(1 for r in self.requests if r["text"] == text and (model is None or r["model"] == model))
            return sum(n for (p, m), n in self._counts.items() if (path is None or p == path) and (model is None or m == model))

    # -- behaviour -----------------------------------------------------------------------------

    def _next_fault(self, model: str, text: str) -> str | None:
        with self._lock:
            for key in (text, model):
                if key in self.always:
                    return self.always[key]
                queue = self.faults.get(key)
                if queue:
                    return queue.pop(0)
            return None

    def answer(self, model: str, messages: list[dict[str, Any]]) -> Any:
        last = last_user(messages)
        for key in ((model, last), last):
            if key in self.answers:
                return self.answers[key]
        return f"echo: {last}"


def last_user(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def embed(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    vec = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
        vec[h % dims] += 1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _words(text: str) -> int:
    return len(text.split())


class _Handler(BaseHTTPRequestHandler):
    owner: LLMServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        err = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
        self._send(status, json.dumps(err).encode(), headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "request body is not JSON")
            return
        path = self.path.rstrip("/")
        model = str(body.get("model", ""))
        text = last_user(body.get("messages") or [])
        with owner._lock:
            owner._counts[(path, model)] += 1
            if owner.keep_requests:
                owner.requests.append(
                    {"path": path, "model": model, "text": text, "body": body, "t": time.monotonic(),
                     "authorization": self.headers.get("Authorization"), "peer": self.client_address[1]}
                )
        delay = owner.latency_by_model.get(model, owner.latency)
        if delay:
            time.sleep(delay)
        fault = owner._next_fault(model, text)
        if fault == "hang":
            owner._stop.wait(owner.hang_s)
            fault = None
            if owner._stop.is_set():
                return
        if fault == "429":
            self._error(429, "Rate limit reached, slow down", "rate_limit_exceeded", {"Retry-After": owner.retry_after})
            return
        if fault in ("500", "503"):
            self._error(int(fault), "The server had an error while processing your request")
            return
        if fault == "401":
            self._error(401, f"Incorrect API key provided: {self.headers.get('Authorization')}", "invalid_api_key")
            return
        if fault == "400":
            self._error(400, "Invalid parameter: something is wrong with the request")
            return
        if fault == "404":
            self._error(404, f"The model `{model}` does not exist", "model_not_found")
            return
        if fault == "context":
            self._error(
                400,
                "This model's maximum context length is 128 tokens. However, your messages resulted in 9000 tokens.",
                "context_length_exceeded",
            )
            return
        stream_cut = fault == "cut" and bool(body.get("stream"))
        if fault == "cut" and not stream_cut:  # promise a body, send half of it, close the connection
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "400")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-1", "choices": [{"message": ')
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "badjson":
            self._send(200, b'{"id": "chatcmpl-1", "choices": [{"message": ')
            return
        if path.endswith("/embeddings"):
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
            data = [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)]
            tokens = sum(_words(t) for t in texts)
            out = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
            self._send(200, json.dumps(out).encode())
            return
        if path.endswith("/chat/completions"):
            messages = body.get("messages") or []
            answer = owner.answer(model, messages)
            message: dict[str, Any] = {"role": "assistant", "content": answer}
            finish = "stop"
            if isinstance(answer, dict):  # a message with tool calls
                calls = [{"id": f"call_{i}", "type": "function",
                          "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                                       else json.dumps(c["arguments"])}}
                         for i, c in enumerate(answer.get("tool_calls") or [])]
                message = {"role": "assistant", "content": answer.get("content"), "tool_calls": calls}
                finish = "tool_calls" if calls else "stop"
            content = message["content"] or ""
            usage = owner.usage.get(model) or {
                "prompt_tokens": sum(_words(str(m.get("content") or "")) for m in messages),
                "completion_tokens": _words(content),
            }
            usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
            if body.get("stream"):
                self._stream(model, message, finish, usage, body, cut=stream_cut)
                return
            out = {
                "id": "chatcmpl-" + hashlib.sha256(raw).hexdigest()[:12],
                "object": "chat.completion",
                "created": 1767225600,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
            self._send(200, json.dumps(out).encode())
            return
        self._error(404, f"no route {self.path}")

    def _stream(self, model: str, message: dict[str, Any], finish: str, usage: dict[str, int], body: dict[str, Any],
                *, cut: bool) -> None:
        """The answer as server-sent events, a word at a time (``stream_delay`` seconds apart), chunked;
        usage last when asked (``stream_options.include_usage``); ``cut``: two pieces, then the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1767225600, "model": model}

        def send(event: Any) -> None:
            data = b"data: " + (event if isinstance(event, bytes) else json.dumps(event).encode()) + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        pieces = re.findall(r"\S+\s*|\s+", message.get("content") or "")
        send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for i, piece in enumerate(pieces):
            if cut and i == 2:
                self.close_connection = True
                return
            if self.owner.stream_delay:
                time.sleep(self.owner.stream_delay)
            send({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        for i, call in enumerate(message.get("tool_calls") or []):
            fn = call["function"]
            half = len(fn["arguments"]) // 2
            send({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "id": call["id"], "type": "function", "function": {"name": fn["name"], "arguments": fn["arguments"][:half]}}]},
                "finish_reason": None}]})
            send({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"arguments": fn["arguments"][half:]}}]}, "finish_reason": None}]})
        send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({**base, "choices": [], "usage": usage})
        send(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="A local OpenAI-compatible server for promptctl's evals.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--answers", help="a JSON file: {last user text: reply}")
    args = parser.parse_args(argv)
    server = LLMServer(latency=args.latency)
    server.keep_requests = False
    if args.answers:
        with open(args.answers, encoding="utf-8") as fh:
            server.answers.update(json.load(fh))
    server.start(args.port)
    print(f"PORT {server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
