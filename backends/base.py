"""The one small protocol every backend implements, and the data it declares."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.chat import ChatRecord, ChatRequest, ChatStream, StreamMeta
from core.errors import ErrorKind, PlaygroundError
from core.messages import check_sendable
from core.parameters import ParamSchema

CUSTOM_MODEL = "__custom__"  # the model list's "type your own model id" entry


@dataclass(frozen=True)
class ModelInfo:
    """A model a backend knows by name, with the limits that shape its parameters."""

    id: str
    context_window: int | None = None
    max_output: int | None = None
    stream_only: bool = False
    note: str = ""  # catalogue key of a short description; the model id itself is not translated


@dataclass(frozen=True)
class Endpoint:
    """Where a backend sends requests: a base URL, which key it takes, which models it serves."""

    id: str
    label_key: str
    base_url: str
    key_envs: tuple[str, ...] = ()
    models: tuple[ModelInfo, ...] = ()
    key_required: bool = True
    base_url_editable: bool = False
    family: str = "openai"  # which parameter rules apply: openai | glm | dashscope | generic


@dataclass(frozen=True)
class Connection:
    """How to reach an endpoint for one call. The key lives only in memory."""

    base_url: str
    api_key: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 0  # the SDKs retry a balance-exhausted 429 otherwise

    def __repr__(self) -> str:  # never print a key
        return f"Connection(base_url={self.base_url!r}, api_key={'***' if self.api_key else None})"


@dataclass
class Backend(ABC):
    """A backend: its endpoints and models as data, a schema per model, and one streaming call."""

    id: str
    label_key: str
    endpoints: tuple[Endpoint, ...] = field(default_factory=tuple)

    def endpoint(self, endpoint_id: str | None) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.id == endpoint_id:
                return endpoint
        return self.endpoints[0]

    def model_info(self, endpoint: Endpoint, model_id: str) -> ModelInfo:
        """The declared model, or a plain entry for a custom model id."""
        for model in endpoint.models:
            if model.id == model_id:
                return model
        return ModelInfo(id=model_id)

    @abstractmethod
    def schema(self, endpoint: Endpoint, model: ModelInfo) -> ParamSchema:
        """The parameters this model takes on this endpoint, with their ranges and defaults."""

    @abstractmethod
    def events(self, request: ChatRequest, endpoint: Endpoint, conn: Connection,
               cancel: threading.Event) -> Iterator[str | StreamMeta]:
        """Yield text deltas and StreamMeta; raise PlaygroundError on failure."""

    def prepare(self, endpoint: Endpoint, model_id: str, messages: list[dict[str, str]],
                values: dict[str, Any], stream: bool = True) -> ChatRequest:
        """Check the messages and parameters before anything leaves; raise VALIDATION."""
        model_id = (model_id or "").strip()
        if not model_id:
            raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.no_model"})
        check_sendable(messages)
        schema = self.schema(endpoint, self.model_info(endpoint, model_id))
        return ChatRequest(model=model_id, messages=messages, params=schema.to_request(values),
                           stream=stream)

    def load_sdk(self) -> None:  # noqa: B027 - optional hook, most backends have nothing to load
        """Import the SDK ahead of the call, so its one-off import is not timed as latency."""

    def open_stream(self, request: ChatRequest, endpoint: Endpoint, conn: Connection,
                    on_finish: Callable[[ChatRecord], None] | None = None) -> ChatStream:
        """Start the call in the background; iterate the returned stream for text.

        `on_finish` gets the final record once (ok, stopped or error), e.g. to record usage.
        """
        if endpoint.key_required and not conn.api_key:
            raise PlaygroundError(ErrorKind.MISSING_KEY, params={"envs": ", ".join(endpoint.key_envs)})
        self.load_sdk()
        return ChatStream(lambda cancel: self.events(request, endpoint, conn, cancel),
                          model=request.model, streamed=request.stream, on_finish=on_finish).start()
