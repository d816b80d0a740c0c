"""The legacy ChatGLM HTTP API of the seed deployment: `POST /chatglm`, one whole answer per call.

The API (ChatGLM2-6B's `api.py`, served on port 7030 in the seed) takes
`{"prompt", "history", "max_length", "top_p", "temperature"}` and answers
`{"response", "history", "status", "time"}`. It has no model field (the server runs one model),
no key, no streaming and no token counts: the answer arrives whole, and the usage ledger
estimates its tokens (core/token_estimate.py) and flags the row as estimated.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from backends.base import Backend, Connection, Endpoint, ModelInfo
from backends.chatglm_history import to_pairs, to_roles
from core.chat import ChatRequest, StreamMeta
from core.errors import ErrorKind, PlaygroundError, kind_for
from core.i18n import has
from core.parameters import ParamKind, ParamSchema, ParamSpec

URL_ENV = "PLAYGROUND_CHATGLM_URL"
# The seed's API (port 7030, path /chatglm), on this machine rather than the seed's LAN address.
DEFAULT_URL = "http://127.0.0.1:7030/chatglm"
CUSTOM_MAX_LENGTH = 32_768  # an unknown model: ChatGLM2's longest context
MAX_REPLY_BYTES = 16 * 1024 * 1024
ABORT_POLL_S = 0.05

# max_length is the whole sequence (history, prompt and answer), so the context is its limit.
CHATGLM_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("chatglm2-6b", 32_768, note="model.chatglm2_6b_seed"),
    ModelInfo("chatglm3-6b", 8_192, note="model.chatglm3_6b_http"),
    ModelInfo("chatglm2-6b-32k", 32_768, note="model.chatglm_32k"),
    ModelInfo("chatglm3-6b-32k", 32_768, note="model.chatglm_32k"),
    ModelInfo("chatglm-6b", 2_048, note="model.chatglm_6b_first"),
)

CHATGLM_ENDPOINT = Endpoint("chatglm", "endpoint.chatglm_http", DEFAULT_URL, (), CHATGLM_MODELS,
                            key_required=False, base_url_editable=True, family="generic")


class ChatGLMError(PlaygroundError):
    """A common-vocabulary error whose fix names the ChatGLM server: `params["fix_key"]` is the
    catalogue key of that fix, filled with the other params (the URL, the seconds waited)."""

    @property
    def message_key(self) -> str:
        key = self.params.get("fix_key")
        if isinstance(key, str) and has(key):
            return key
        return super().message_key


def _error(kind: ErrorKind, key: str, url: str, detail: str = "", status: int | None = None,
           **params: Any) -> ChatGLMError:
    return ChatGLMError(kind, status=status, detail=detail[:500],
                        params={"fix_key": f"chatglm_http.error.{key}", "url": url, **params})


# ---- the conversation as ChatGLM takes it --------------------------------------------------------
def uses_role_history(model_id: str) -> bool:
    """ChatGLM3 keeps history as role messages (its `build_chat_input` reads item["role"] and
    item["content"]); ChatGLM-6B and ChatGLM2-6B as [query, answer] pairs."""
    return model_id.strip().lower().startswith("chatglm3")


def to_prompt_and_history(messages: list[dict[str, Any]], role_history: bool = False
                          ) -> tuple[str, list[Any]]:
    """The conversation as the API's (prompt, history), in ChatGLM's form (backends/chatglm_history.py):
    [query, answer] pairs, as the API's JSON carries them, or for ChatGLM3 models (`role_history`)
    role messages with the system message at the start."""
    if role_history:
        return to_roles(messages)
    prompt, pairs = to_pairs(messages)
    return prompt, [list(pair) for pair in pairs]


def chatglm_schema(model: ModelInfo) -> ParamSchema:
    """The API's three parameters with api.py's defaults. Both floats start at 0.01: api.py reads
    a 0 as "not given" and would silently use its default instead."""
    limit = model.context_window or CUSTOM_MAX_LENGTH
    return ParamSchema((
        ParamSpec("temperature", ParamKind.FLOAT, 0.95, 0.01, 1.0, 0.01,
                  help_key="chatglm_http.temperature_help"),
        ParamSpec("top_p", ParamKind.FLOAT, 0.7, 0.01, 1.0, 0.01, help_key="chatglm_http.top_p_help"),
        ParamSpec("max_length", ParamKind.INT, min(2048, limit), 1, limit, 1,
                  help_key="chatglm_http.max_length_help"),
    ))


# ---- one HTTP call ------------------------------------------------------------------------------
def _target(url: str) -> SplitResult:
    """The URL split, or VALIDATION naming it when it is not an http(s) address with a host."""
    parts = urlsplit(url.strip())
    try:
        _ = parts.port  # a port that is not a number raises ValueError
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise PlaygroundError(ErrorKind.VALIDATION, detail=url,
                              params={"key": "chatglm_http.bad_url", "url": url})
    return parts


class ConnectTimeout(OSError):
    """No connection accepted in time: a wrong address or a closed port, not a slow answer."""


def _abort_on_cancel(conn: http.client.HTTPConnection, cancel: threading.Event,
                     finished: threading.Event) -> None:
    """On Stop, shut the socket so the waiting call returns now (the server may still finish
    its answer; nobody reads it)."""
    while not finished.is_set():
        if not cancel.wait(ABORT_POLL_S):
            continue
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        finished.wait(ABORT_POLL_S)  # still connecting: try again in a moment


def post_json(url: str, body: dict[str, Any], timeout_s: float,
              cancel: threading.Event) -> tuple[int, bytes]:
    """POST `body` as JSON; (HTTP status, reply bytes). Network failures raise OSError / HTTPException.

    Straight to the server, no proxy: a ChatGLM deployment sits on the team's own network.
    """
    parts = _target(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout_s,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout_s)
    finished = threading.Event()
    threading.Thread(target=_abort_on_cancel, args=(conn, cancel, finished), daemon=True,
                     name="chatglm-abort").start()
    try:
        try:
            conn.connect()
        except TimeoutError as exc:
            raise ConnectTimeout(str(exc) or "connect timed out") from exc
        conn.request("POST", path, body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                     headers={"Content-Type": "application/json; charset=utf-8",
                              "Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read(MAX_REPLY_BYTES)
    finally:
        finished.set()
        conn.close()


def network_error(exc: BaseException, url: str, timeout_s: float) -> PlaygroundError:
    """A failed call in the common vocabulary, its fix naming the server's address."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return _error(ErrorKind.UNREACHABLE, "not_running", url, detail)
    if isinstance(exc, socket.gaierror):
        return _error(ErrorKind.UNREACHABLE, "unknown_host", url, detail,
                      host=urlsplit(url).hostname or url)
    if isinstance(exc, ConnectTimeout):
        return _error(ErrorKind.UNREACHABLE, "connect_timeout", url, detail, seconds=f"{timeout_s:g}")
    if isinstance(exc, TimeoutError):
        return _error(ErrorKind.TIMEOUT, "timeout", url, detail, seconds=f"{timeout_s:g}")
    if isinstance(exc, http.client.HTTPException | ConnectionResetError | BrokenPipeError):
        return _error(ErrorKind.SERVER_ERROR, "dropped", url, detail)
    if isinstance(exc, ssl.SSLError):
        return _error(ErrorKind.UNREACHABLE, "tls", url, detail)
    return _error(ErrorKind.UNREACHABLE, "not_running", url, detail)


def read_reply(status: int, raw: bytes, url: str) -> str:
    """The answer text of a reply, or the reply's fault in the common vocabulary."""
    text = raw.decode("utf-8", errors="replace")
    if status in (404, 405):  # reached a web server, but no ChatGLM API at this path
        raise _error(ErrorKind.INVALID_REQUEST, "wrong_path", url, text, status=status)
    if status >= 500:
        raise _error(ErrorKind.SERVER_ERROR, "server_failed", url, text, status=status)
    if status >= 400:
        raise _error(kind_for(status, None), "refused", url, text, status=status)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _error(ErrorKind.SERVER_ERROR, "not_json", url, text) from None
    if not isinstance(data, dict):
        raise _error(ErrorKind.SERVER_ERROR, "not_json", url, text)
    body_status = data.get("status")
    if body_status is not None:  # api.py always sends 200; a wrapper may say otherwise here
        try:
            code: int | None = int(body_status)
        except (TypeError, ValueError):
            code = None
        if code != 200:
            kind = kind_for(code, None) if code is not None and code >= 400 else ErrorKind.SERVER_ERROR
            raise _error(kind, "body_status", url, text, status=code, body_status=body_status)
    answer = data.get("response")
    if not isinstance(answer, str):
        raise _error(ErrorKind.SERVER_ERROR, "no_response", url, text)
    return answer


@dataclass
class ChatGLMHTTPBackend(Backend):
    id: str = "chatglm_http"
    label_key: str = "backend.chatglm_http"
    endpoints: tuple[Endpoint, ...] = field(default_factory=lambda: (CHATGLM_ENDPOINT,))

    def schema(self, endpoint: Endpoint, model: ModelInfo) -> ParamSchema:
        return chatglm_schema(model)

    def prepare(self, endpoint: Endpoint, model_id: str, messages: list[dict[str, str]],
                values: dict[str, Any], stream: bool = True) -> ChatRequest:
        """As any backend, but never streamed: the API answers in one piece."""
        return super().prepare(endpoint, model_id, messages, values, stream=False)

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON the API receives for this request."""
        prompt, history = to_prompt_and_history(request.messages, uses_role_history(request.model))
        return {"prompt": prompt, "history": history, **request.params}

    def events(self, request: ChatRequest, endpoint: Endpoint, conn: Connection,
               cancel: threading.Event) -> Iterator[str | StreamMeta]:
        url = (conn.base_url or endpoint.base_url).strip()
        body = self.body(request)
        try:
            status, raw = post_json(url, body, conn.timeout_s, cancel)
        except PlaygroundError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if cancel.is_set():
                return  # stopped: the shut socket is why the call failed
            raise network_error(exc, url, conn.timeout_s) from exc
        if cancel.is_set():
            return  # stopped while the server answered: the answer is not wanted
        answer = read_reply(status, raw, url)
        if answer:
            yield answer
