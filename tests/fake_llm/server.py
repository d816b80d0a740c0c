"""Threaded stdlib HTTP server for the fake LLM: routes, SSE transport, control API."""

from __future__ import annotations

import itertools
import json
import select
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from . import embeddings_api, finetune_api
from .protocol import SSE_ERROR_BODY, completion_obj, dumps, error_body
from .scenarios import (
    Scenario,
    build_reply,
    last_user_text,
    parse_markers,
    stream_steps,
)

JSON = "application/json; charset=utf-8"


def _err(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class _HTTPServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client hang-ups are normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + chunked streaming
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.fake = self.server.fake
        self.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.fake._track(self.connection, add=False)
        super().finish()

    # ---- transport ------------------------------------------------------------------
    def _head(
        self, status: int, ctype: str, rid: str | None, length: int | None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is None:
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        if rid:
            self.send_header("x-request-id", rid)
        self.end_headers()
        self.wfile.flush()

    def _send(
        self, status: int, body: bytes, ctype: str, rid: str | None = None
    ) -> None:
        self._head(status, ctype, rid, len(body))
        self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, rid: str | None = None) -> None:
        self._send(status, dumps(obj), JSON, rid)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _abort(self) -> None:
        """Close the socket abruptly (no terminating chunk / short body)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _wait(self, seconds: float) -> bool:
        """Sleep in slices; False if the server is stopping or the client hung up."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.fake._stopping.wait(min(0.05, left)) or self._client_gone():
                return False
        return not self.fake._stopping.is_set()

    # ---- routes -----------------------------------------------------------------------
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            self._send(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/_fake/requests":
            self._send_json(200, self.fake.requests)
        elif finetune_api.handle(self, "GET", path, b""):
            pass
        else:
            self._send_json(404, _err("404", f"no route {path}"))

    def do_POST(self) -> None:
        path = "/" + "/".join(p for p in urlsplit(self.path).path.split("/") if p)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if finetune_api.handle(self, "POST", path, raw):  # fine-tune files and fine-tuning jobs
            return
        if embeddings_api.handle(self, "POST", path, raw):  # embeddings, retrieval-purpose files
            return
        try:
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise TypeError("body must be a JSON object")
            if path == "/_fake/queue":
                self.fake.queue(str(data["scenario"]), **(data.get("options") or {}))
                self._send_json(200, {"ok": True})
            elif path == "/_fake/reset":
                self.fake.reset()
                self._send_json(200, {"ok": True})
            elif path.endswith("/chat/completions"):
                self._chat(path, data)
            else:
                self._send_json(404, _err("404", f"no route {path}"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except (KeyError, TypeError, ValueError) as exc:  # bad control/JSON request
            self._send_json(400, _err("1210", f"{type(exc).__name__}: {exc}"))

    def _chat(self, path: str, body: dict[str, Any]) -> None:
        shape = "openai" if path.startswith("/v1/") else "zhipu"
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.fake._record(path, headers, body)
        rid = self.fake._next_id()
        try:
            messages = body.get("messages") or []
            marked, tokens, text = parse_markers(last_user_text(messages))
        except ValueError as exc:
            self._send_json(400, _err("1210", str(exc)), rid)
            return
        scenario = self.fake._pop() or marked or Scenario("ok")
        name, opts = scenario.name, scenario.options
        if scenario.is_error:
            self._send_json(*error_body(name, shape), rid)
            return
        if name == "timeout" and not self._wait(float(opts["delay"])):
            self._abort()
            return
        reply = build_reply(body, scenario, tokens, text)
        delay = float(opts.get("token_delay", self.fake.token_delay))
        model = str(body.get("model") or "fake-model")
        if body.get("stream"):
            self._head(200, "text/event-stream; charset=utf-8", rid, None)
            steps = stream_steps(shape, body, scenario, reply, rid, model, delay)
            for kind, value in steps:
                if kind == "wait" and not self._wait(value):
                    kind = "abort"
                if kind == "abort":
                    self._abort()
                    return
                if kind in ("data", "end"):
                    self._write_chunk(value or b"")
            return
        if name == "slow_first_token" and not self._wait(float(opts["delay"])):
            self._abort()
            return
        usage = reply.usage()
        obj = completion_obj(rid, model, reply.text, reply.finish_reason, usage, shape)
        payload = dumps(obj)
        if name == "sse_error":  # non-stream equivalent: an HTTP 400 with code 1301
            self._send_json(400, SSE_ERROR_BODY, rid)
        elif name == "malformed_sse":
            self._send(200, b"{not json", JSON, rid)
        elif name == "drop_mid_stream":  # promise the full length, send half, close
            self._head(200, JSON, rid, len(payload))
            self.wfile.write(payload[: len(payload) // 2])
            self._abort()
        else:
            self._send(200, payload, JSON, rid)


class FakeLLMServer:
    """Fake OpenAI/Zhipu chat-completions server on 127.0.0.1 in a daemon thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, token_delay: float = 0.0
    ) -> None:
        self.host = host
        self.port = port
        self.token_delay = token_delay
        self._lock = threading.Lock()
        self._queue: deque[Scenario] = deque()
        self._requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = self._httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-llm-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; in-flight handlers are cut off (their sockets shut down)."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeLLMServer not started yet (port unknown)")
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def zhipu_base_url(self) -> str:
        return f"{self.url}/api/paas/v4"

    def queue(self, scenario_name: str, **options: Any) -> None:
        """Make the next unserved chat request use this scenario (FIFO)."""
        scenario = Scenario(scenario_name, options)
        with self._lock:
            self._queue.append(scenario)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Received chat requests: dicts {path, headers (lower-case keys), json}."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Clear the scenario queue and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # ---- used by the handler threads ---------------------------------------------------
    def _pop(self) -> Scenario | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _record(self, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self._requests.append({"path": path, "headers": headers, "json": body})

    def _next_id(self) -> str:
        with self._lock:
            return f"fake-{next(self._ids)}"

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)
