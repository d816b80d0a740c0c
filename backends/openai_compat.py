"""Any OpenAI-compatible endpoint through the official openai SDK: OpenAI, Zhipu, DashScope, vLLM."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from backends.base import Backend, Connection, Endpoint, ModelInfo
from backends.chunks import connection_error, generic_translate, relay
from backends.glm_models import glm_schema
from backends.openai_models import ENDPOINTS, openai_schema
from core.chat import ChatRequest, StreamMeta
from core.errors import ErrorKind, PlaygroundError, from_http, kind_for, request_id_of
from core.parameters import ParamSchema

# Parameters the openai SDK has no argument for: sent in the body as they are.
EXTRA_BODY_PARAMS = ("do_sample",)


def translate_openai_error(exc: BaseException, started: bool) -> PlaygroundError:
    """openai exceptions into the common vocabulary; Zhipu's code arrives as `err.code`."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return from_http(exc.status_code, _body(exc), request_id_of(getattr(exc, "response", None)))
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one too
        return connection_error(exc, started, isinstance(exc, openai.APITimeoutError))
    if isinstance(exc, openai.APIError):
        # An error event inside the stream: status unknown, the body names the code.
        code = str(exc.code) if getattr(exc, "code", None) else None
        kind = kind_for(None, code)
        return PlaygroundError(ErrorKind.SERVER_ERROR if kind is ErrorKind.UNKNOWN else kind,
                               code=code, detail=getattr(exc, "message", str(exc)))
    return generic_translate(exc, started)


def _body(exc: Any) -> str:
    response = getattr(exc, "response", None)
    try:
        return response.text if response is not None else ""
    except Exception:
        return ""


@lru_cache(maxsize=8)
def _client(conn: Connection) -> Any:
    """One SDK client per connection, kept: a new one costs tens of ms (its TLS setup)."""
    from openai import OpenAI  # imported on first call, not on every page load

    return OpenAI(api_key=conn.api_key or "EMPTY", base_url=conn.base_url,
                  timeout=conn.timeout_s, max_retries=conn.max_retries)


@dataclass
class OpenAICompatBackend(Backend):
    id: str = "openai"
    label_key: str = "backend.openai"
    endpoints: tuple[Endpoint, ...] = field(default_factory=lambda: ENDPOINTS)

    def schema(self, endpoint: Endpoint, model: ModelInfo) -> ParamSchema:
        if endpoint.family == "glm":
            return glm_schema(model, sdk_clamps=False)  # the openai SDK sends values unchanged
        return openai_schema(model, endpoint.family)

    def load_sdk(self) -> None:
        import openai  # noqa: F401 - imported on first use, not on every page load

    def events(self, request: ChatRequest, endpoint: Endpoint, conn: Connection,
               cancel: threading.Event) -> Iterator[str | StreamMeta]:
        client = _client(conn)
        params = dict(request.params)
        extra = {name: params.pop(name) for name in EXTRA_BODY_PARAMS if name in params}
        if extra.get("do_sample") is False:
            params.pop("temperature", None)
            params.pop("top_p", None)
        model = self.model_info(endpoint, request.model)
        # DashScope serves some models only as a stream: stream, and collect for the caller.
        stream = request.stream or model.stream_only
        kwargs: dict[str, Any] = {"model": request.model, "messages": request.messages,
                                  "stream": stream, **params}
        if extra:
            kwargs["extra_body"] = extra
        if stream:
            if endpoint.family != "glm":  # GLM reports usage in its last chunk unasked
                kwargs["stream_options"] = {"include_usage": True}

        yield from relay(lambda: client.chat.completions.create(**kwargs), stream, cancel,
                         translate_openai_error)
