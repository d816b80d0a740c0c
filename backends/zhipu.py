"""Zhipu GLM through the official zhipuai SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from backends.base import Backend, Connection, Endpoint, ModelInfo
from backends.chunks import connection_error, generic_translate, relay
from backends.glm_models import GLM_MODELS, ZHIPU_BASE_URL, glm_schema
from core.chat import ChatRequest, StreamMeta
from core.errors import ErrorKind, PlaygroundError, from_http, request_id_of
from core.parameters import ParamSchema

ZHIPU_ENDPOINT = Endpoint("zhipu", "endpoint.zhipu", ZHIPU_BASE_URL, ("ZHIPUAI_API_KEY",),
                          GLM_MODELS, family="glm")


def translate_zhipu_error(exc: BaseException, started: bool) -> PlaygroundError:
    """zhipuai exceptions into the common vocabulary; the business code is in the body."""
    import zhipuai

    if isinstance(exc, zhipuai.APIStatusError):
        return from_http(exc.status_code, _body(exc.response), request_id_of(exc.response))
    if isinstance(exc, zhipuai.APIConnectionError):  # APITimeoutError is one too
        return connection_error(exc, started, isinstance(exc, zhipuai.APITimeoutError))
    if isinstance(exc, zhipuai.APIResponseError) and isinstance(exc.json_data, dict):
        # An {"error": ...} payload inside the stream.
        err = from_http(None, _json({"error": exc.json_data}))
        if err.kind is ErrorKind.UNKNOWN:
            err.kind = ErrorKind.SERVER_ERROR
        return err
    return generic_translate(exc, started)


def _body(response: Any) -> str:
    try:
        return response.text
    except Exception:
        return ""


def _json(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


@lru_cache(maxsize=8)
def _client(conn: Connection) -> Any:
    """One SDK client per connection, kept: a new one costs tens of ms (its TLS setup)."""
    from zhipuai import ZhipuAI  # imported on first call, not on every page load

    return ZhipuAI(api_key=conn.api_key, base_url=conn.base_url, timeout=conn.timeout_s,
                   max_retries=conn.max_retries)


@dataclass
class ZhipuBackend(Backend):
    id: str = "zhipu"
    label_key: str = "backend.zhipu"
    endpoints: tuple[Endpoint, ...] = field(default_factory=lambda: (ZHIPU_ENDPOINT,))

    def schema(self, endpoint: Endpoint, model: ModelInfo) -> ParamSchema:
        return glm_schema(model, sdk_clamps=True)

    def load_sdk(self) -> None:
        import zhipuai  # noqa: F401 - imported on first use, not on every page load

    def events(self, request: ChatRequest, endpoint: Endpoint, conn: Connection,
               cancel: threading.Event) -> Iterator[str | StreamMeta]:
        client = _client(conn)
        params = dict(request.params)
        if "stop" in params:
            params["stop"] = params["stop"][:1]
        if params.get("do_sample") is False:
            # Greedy: temperature and top_p have no effect, and the SDK would rewrite them.
            params.pop("temperature", None)
            params.pop("top_p", None)

        def call() -> Any:
            return client.chat.completions.create(model=request.model, messages=request.messages,
                                                  stream=request.stream, **params)

        yield from relay(call, request.stream, cancel, translate_zhipu_error)
