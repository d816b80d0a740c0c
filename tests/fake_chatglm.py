"""A tiny ChatGLM `/chatglm` API server on 127.0.0.1 (stdlib HTTP), able to fail on request.

It speaks the seed's API: POST JSON `{prompt, history, max_length, top_p, temperature}`, reply
`{response, history, status, time}`. The answer is `ChatGLM echo: <prompt>`. A scenario is taken
from `fail_next(...)` or from a `[[chatglm:NAME]]` marker in the prompt:

- `http_500`: HTTP 500 with FastAPI's plain "Internal Server Error";
- `bad_json`: HTTP 200 with an HTML page;
- `missing_field`: JSON without `response`;
- `status_500`: HTTP 200, JSON with `"status": 500` and an empty response;
- `slow`: the normal answer after `slow_s` seconds;
- `drop`: the connection closed without any reply (a crashed server).

Any other path answers 404 as FastAPI does. For a refused connection use `refused_url()`; for
a connection that is never accepted (a firewall dropping packets), `unaccepted_url()`.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

SCENARIOS = ("ok", "http_500", "bad_json", "missing_field", "status_500", "slow", "drop")
MARKER = re.compile(r"\[\[chatglm:([a-z_0-9]+)\]\]")


def reply_text(prompt: str) -> str:
    return f"ChatGLM echo: {prompt}"


def refused_url(path: str = "/chatglm") -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@contextmanager
def unaccepted_url(path: str = "/chatglm") -> Iterator[str]:
    """A URL on 127.0.0.1 whose listener never accepts: its backlog is full, so Linux drops new
    connection requests and a client's connect times out, as behind a dropping firewall."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())  # takes the only place in the backlog
        yield f"http://127.0.0.1:{listener.getsockname()[1]}{path}"
    finally:
        filler.close()
        listener.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeChatGLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (a stopped answer) is normal here


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                   "application/json")

    def do_GET(self) -> None:
        self._json(405, {"detail": "Method Not Allowed"})

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != fake.path:
            self._json(404, {"detail": "Not Found"})
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            self._json(422, {"detail": [{"msg": "JSON decode error"}]})
            return
        fake.log(body, dict(self.headers))
        scenario = fake.scenario_for(str(body.get("prompt") or ""))
        if scenario == "slow":
            if fake.closing.wait(fake.slow_s):
                return
            fake.slow_answered.set()
        if scenario == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if scenario == "http_500":
            self._send(500, b"Internal Server Error", "text/plain; charset=utf-8")
        elif scenario == "bad_json":
            self._send(200, b"<html><body>ChatGLM web demo</body></html>", "text/html")
        elif scenario == "missing_field":
            self._json(200, {"history": [], "status": 200, "time": _now()})
        elif scenario == "status_500":
            self._json(200, {"response": "", "history": [], "status": 500, "time": _now()})
        else:
            prompt = str(body.get("prompt") or "")
            answer = reply_text(prompt)
            history = list(body.get("history") or [])
            if history and isinstance(history[0], dict):  # ChatGLM3's role messages
                history += [{"role": "user", "content": prompt},
                            {"role": "assistant", "content": answer}]
            else:
                history.append([prompt, answer])
            self._json(200, {"response": answer, "history": history, "status": 200, "time": _now()})


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


class FakeChatGLM:
    """The server, its request log and its failure queue. Use as a context manager."""

    def __init__(self, path: str = "/chatglm", slow_s: float = 2.0) -> None:
        self.path = path
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self.closing = threading.Event()  # wakes slow handlers when the server closes
        self.slow_answered = threading.Event()  # a slow request got its answer written
        self._queue: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                                        name="fake-chatglm")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, *scenarios: str) -> None:
        """The next requests get these scenarios, in order (then the normal answer again)."""
        for name in scenarios:
            if name not in SCENARIOS:
                raise ValueError(f"unknown scenario {name!r}; known: {SCENARIOS}")
        with self._lock:
            self._queue.extend(scenarios)

    def scenario_for(self, prompt: str) -> str:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        found = MARKER.search(prompt)
        return found.group(1) if found and found.group(1) in SCENARIOS else "ok"

    def log(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append({"json": body, "headers": headers})

    @property
    def last(self) -> dict[str, Any]:
        """The JSON body of the last request."""
        return self.requests[-1]["json"]
